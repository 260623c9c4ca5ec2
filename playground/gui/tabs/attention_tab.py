"""Step 5, the Attention tab: look inside the model you trained.

Pick a run, a checkpoint (a slider over the run's saved snapshots, with the loss there) and a
text (typed, or a random excerpt of the validation text), then look at:

- **Grid**: one heatmap per (layer, head), labelled with the pattern the core's scorer finds.
- **Head**: one head large, tokens on both axes; hover a cell for its weight.
- **Lines**: the same weights as lines between two columns of tokens (as BertViz draws them).
- **The math**: the token's embedding, then q, k, scores, √d_head, mask, softmax, values, W_O for
  one head and one token, then the rest of its block (residual add, LayerNorm, MLP) and the output
  (final LayerNorm, logits, softmax, the token's loss).
- **Head labels**: every head's pattern scores in a sortable table.
- **Embeddings**: the token embeddings as a 2-D map (PCA) and the position embeddings.
- **Logit lens**: what each layer would predict for the chosen token.
- More views can be added with ``add_view`` (see there).

Every number comes from ``core.attention_views`` (the model's forward pass with
``capture=True`` and ``core.analysis``), computed in a worker from a run folder and a step; the
models come from the app's one cache (``core.model_cache.MODELS``) and the captures are kept
per (run, checkpoint, text), so moving the slider back is instant. This tab only lays them out.
New checkpoints arrive through ``AppState.checkpointSaved``, not by watching the disk.

The widgets that draw (pyqtgraph) are built the first time the tab is shown: importing
pyqtgraph costs half a second the window's start-up should not pay.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core import analysis
from playground.core import attention_views as av
from playground.core import checkpoint as ckpt
from playground.errors import PlaygroundError, TokenizerError
from playground.gui import ui, workers
from playground.gui.tabs import attention_jobs as jobs
from playground.gui.widgets.run_picker import CheckpointSlider, RunPicker

MAX_TEXT_CHARS = 20_000  # typed text beyond this is not even tokenized (it would be cropped)
TYPING_DELAY_MS = 350
SLIDER_DELAY_MS = 30
VIEWS = ["Grid", "Head", "Lines", "The math", "Head labels", "Embeddings", "Logit lens"]


def _scrolled(view: QWidget) -> QScrollArea:
    """``view`` in a scroll area: the tall views (the lens table, Switch off, embeddings) must
    not make the window taller than a laptop's 800-pixel screen."""
    area = QScrollArea()
    area.setWidget(view)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    return area


class AttentionTab(QWidget):
    TITLE = "Attention"

    requestTab = Signal(str)
    shown = Signal()  # the views now show the current (run, step, text) (tests wait on it)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.run: ckpt.Run | None = None
        self.ids: list[int] = []
        self.labels: list[str] = []
        self.layer = 0
        self.head = 0
        self.query: int | None = None
        self.arch = "gpt"
        self.captures = av.CaptureCache()  # (run path, step, ids) -> Capture
        self.embeds: OrderedDict[tuple, av.Embed] = OrderedDict()  # (run path, step) -> Embed
        self.vocab_labels: dict[str, list[str]] = {}
        self.frequency: dict[str, list[int]] = {}
        self.val_texts: dict[str, str] = {}  # run path -> its validation text (read once)
        self.shown_key: tuple | None = None
        self.run_loads = 0  # runs (re)read for the views: one per pick (tests count it)
        self.jobs_started = 0  # compute jobs (tests count them)
        self._handle: workers.WorkerHandle | None = None
        self._excerpt_handle: workers.WorkerHandle | None = None
        self._pending = False
        self._built = False
        self._closed = False
        self.view_names = list(VIEWS)  # + those added with add_view
        self._extra_views: list[tuple[str, QWidget, str]] = []
        self._extra_context: dict[str, jobs.ViewContext] = {}  # what each added view was last told
        self._dirty: set[str] = set(VIEWS)
        self._setting_text = False
        self._text_is_excerpt = False  # the text came from "Random validation excerpt"
        self._rng = random.Random()

        self.pages = QStackedWidget()
        self.pages.addWidget(self._empty_page())
        self.main_page = QWidget()
        self.pages.addWidget(self.main_page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)

        self._text_timer = QTimer(self, singleShot=True, interval=TYPING_DELAY_MS)
        self._text_timer.timeout.connect(self._text_settled)
        self._slider_timer = QTimer(self, singleShot=True, interval=SLIDER_DELAY_MS)
        self._slider_timer.timeout.connect(self._request)
        state.checkpointSaved.connect(self._checkpoint_saved)
        self._update_page(build=False)

    # ================================================================== building
    def _empty_page(self) -> QWidget:
        self.to_train = QPushButton("Go to the Train tab")
        self.to_train.setToolTip("Train a model; come back here to look inside it")
        self.to_train.clicked.connect(self._go_train)
        return ui.empty_page(
            "Train a model first",
            "This tab looks inside a model you trained: which tokens each attention head looks at, "
            "the math of one head step by step, and the embeddings. There are no trained models "
            "(runs) yet.",
            [self.to_train])

    @Slot()
    def _go_train(self) -> None:
        self.requestTab.emit("Train")

    def _update_page(self, build: bool = True) -> None:
        """The "train first" page when there are no runs, else the views (built on first show)."""
        has_runs = self.state.run is not None or bool(ckpt.list_runs())
        if has_runs and build:
            self._ensure_built()
        self.pages.setCurrentIndex(1 if has_runs else 0)

    def _ensure_built(self) -> None:
        if self._built:
            return
        from playground.gui.widgets.ablation_view import AblationView  # pyqtgraph: once the tab is shown

        self.ablation_view = AblationView()
        self.add_view("Switch off", self.ablation_view,
                      "Switch heads, MLPs or the positions off and see the prediction and the loss change")
        self._built = True
        outer = QVBoxLayout(self.main_page)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.setSpacing(4)
        outer.addLayout(self._checkpoint_row())
        from playground.gui.tabs.attention_seq2seq import Seq2SeqPanel

        self.error_label = ui.MessageLabel()
        self.seq2seq = Seq2SeqPanel(self)  # an encoder–decoder run's views, in the place of the GPT's
        outer.addWidget(self.seq2seq.stack([self._text_row(), self.error_label, self._head_row(), self._views()]), 1)
        for key, slot in (("Alt+Left", self._step_back), ("Alt+Right", self._step_forward),
                          ("Ctrl+R", self.random_excerpt), ("Ctrl+E", self._export_dialog)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._run_picked(self.picker.current())

    def _checkpoint_row(self) -> QHBoxLayout:
        top = QHBoxLayout()
        self.picker = RunPicker(self.state)
        self.picker.runPicked.connect(self._run_picked)
        top.addWidget(self.picker, 3)
        top.addSpacing(12)
        self.checkpoints = CheckpointSlider()
        self.slider, self.step_label = self.checkpoints.slider, self.checkpoints.step_label
        self.checkpoints.valueChanged.connect(self._slider_moved)
        top.addWidget(self.checkpoints, 4)
        return top

    def _text_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Text:"), 0, Qt.AlignTop)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setFixedHeight(46)
        self.text_edit.setPlaceholderText("Type a text for the model to read, or take a random excerpt")
        self.text_edit.setToolTip("The text the model reads. Its attention is shown for exactly these "
                                  "tokens (at most the model's context length).")
        self.text_edit.textChanged.connect(self._text_typed)
        row.addWidget(self.text_edit, 1)
        buttons = QVBoxLayout()
        self.excerpt_button = QPushButton("Random validation excerpt")
        self.excerpt_button.setToolTip("A random piece of the validation text (the part of the corpus "
                                       "the model never trained on). (Ctrl+R)")
        self.excerpt_button.clicked.connect(self.random_excerpt)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save the view you are looking at as a picture. (Ctrl+E)")
        self.export_button.clicked.connect(self._export_dialog)
        buttons.addWidget(self.excerpt_button)
        buttons.addWidget(self.export_button)
        row.addLayout(buttons)
        return row

    def _head_row(self) -> QHBoxLayout:
        """The token count note, the head chooser (for Head, Lines, The math), the head's label."""
        chooser = QHBoxLayout()
        self.note_label = QLabel()
        self.note_label.setStyleSheet(ui.NOTE)
        self.note_label.setWordWrap(True)
        self.note_label.setToolTip("How many tokens the model reads from the text")
        chooser.addWidget(self.note_label)
        chooser.addSpacing(16)
        chooser.addWidget(QLabel("Head:"))
        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("A layer (block) of the model: layer 1 reads the token embeddings, "
                                    "each next one reads the previous layer's output.")
        self.head_combo = QComboBox()
        self.head_combo.setToolTip("An attention head: one of the parallel 'looks' inside a layer, each "
                                   "with its own W_Q, W_K, W_V, free to learn its own pattern.")
        self.layer_combo.activated.connect(self._combo_head)
        self.head_combo.activated.connect(self._combo_head)
        chooser.addWidget(self.layer_combo)
        chooser.addWidget(self.head_combo)
        self.head_info = QLabel()
        self.head_info.setStyleSheet("color: #333;")
        self.head_info.setWordWrap(True)  # a long line must wrap, not widen the window
        chooser.addWidget(self.head_info, 1)
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: #555;")
        chooser.addWidget(self.status_label)
        return chooser

    def _views(self) -> QTabWidget:
        from playground.gui.lab_report import HeadPinner
        from playground.gui.widgets.attention_grid import AttentionGrid, HeadLabelsTable, HeadView
        from playground.gui.widgets.attention_lines import LinesPage
        from playground.gui.widgets.attention_math import AttentionMathView
        from playground.gui.widgets.embedding_view import EmbeddingView
        from playground.gui.widgets.logit_lens_view import LogitLensView

        self.views = QTabWidget()
        self.grid = AttentionGrid()
        grid_page = QWidget()
        gbox = QVBoxLayout(grid_page)
        gbox.setContentsMargins(0, 0, 0, 0)
        gbox.addWidget(self.grid, 1)
        self.grid_hover = QLabel("Grey squares are the future: a token may not look at tokens after it. "
                                 "Dark purple is weight 0. Hover a square for its weight; click a head "
                                 "to open it large.")
        self.grid_hover.setWordWrap(True)
        self.grid_hover.setStyleSheet("color: #222; padding: 2px;")
        gbox.addWidget(self.grid_hover)
        self.grid.hoverText.connect(self.grid_hover.setText)
        self.grid.headClicked.connect(self._open_head)
        self.head_view = HeadView()
        self.head_view.querySelected.connect(self._query_picked)
        self.pinner = HeadPinner(self)  # "Pin this head to the lab report"
        self.head_view.pinRequested.connect(self.pinner.pin)
        self.lines_page = LinesPage()
        self.lines, self.average_box = self.lines_page.lines, self.lines_page.average_box
        self.lines_page.averageToggled.connect(self._average_toggled)
        self.math_view = AttentionMathView()
        self.math_view.querySelected.connect(self._query_picked)
        self.labels_page = HeadLabelsTable()
        self.table = self.labels_page.table
        self.labels_page.headClicked.connect(self.select_head)
        self.labels_page.headOpened.connect(self._open_head)
        self.embed_view = EmbeddingView()
        self.lens_view = LogitLensView()
        self.lens_view.positionSelected.connect(self._query_picked)
        for page, title, tip in (
                (grid_page, "Grid", "Every head of every layer at once"),
                (self.head_view, "Head", "One head, large, with every token on both axes"),
                (self.lines_page, "Lines", "Lines from each token to the tokens it attends to; thicker = more"),
                (self.math_view, "The math", "How one head computes its weights for one token, with the real numbers"),
                (self.labels_page, "Head labels", "What the pattern scorer says about each head, sortable"),
                (_scrolled(self.embed_view), "Embeddings", "The token embeddings as a map, nearest tokens, positions"),
                (_scrolled(self.lens_view), "Logit lens", "What each layer would predict next, for a clicked token"),
                *((_scrolled(widget), name, tip) for name, widget, tip in self._extra_views)):
            self.views.setTabToolTip(self.views.addTab(page, title), tip)
        self.views.currentChanged.connect(self._view_changed)
        return self.views

    # ================================================================== properties
    @property
    def busy(self) -> bool:
        running = self._handle is not None and self._handle.running
        excerpt = self._excerpt_handle is not None and self._excerpt_handle.running
        return running or excerpt or self._pending or self._slider_timer.isActive() or self._text_timer.isActive()

    @property
    def steps(self) -> list[int | None]:
        return self.checkpoints.steps if self._built else []

    @property
    def step(self) -> int | None:
        return self.checkpoints.step if self._built else None

    def current_key(self) -> tuple | None:
        if self.run is None or not self.steps or not self.ids:
            return None
        return str(self.run.path), self.step, tuple(self.ids)

    def current_view(self) -> str:
        return self.view_names[self.views.currentIndex()]

    # ================================================================== more views
    def add_view(self, name: str, widget: QWidget, tip: str = "") -> None:
        """THE PLACE FOR ONE MORE VIEW: ``widget`` gets its own tab ``name`` after the built-in ones
        (the ablation view, "Switch off", is added so when the tab is first built).

        The widget does its own work (in its own worker). While its tab is on screen it is told
        what the student is looking at: if it has a method ``show_context(ctx)``, that is called
        with a ``attention_jobs.ViewContext`` (run folder, step, ids, labels, arch, layer, head,
        query, head labels) when its tab is opened and whenever one of those changes. For the
        ablation view: ``show_context = lambda c: view.set_context(c.run_path, c.step, list(c.ids),
        list(c.labels), c.query, c.head_labels and [list(layer) for layer in c.head_labels])``. Like the head views it
        is disabled for a bigram run. May be called before or after the tab is first shown."""
        self.view_names.append(name)
        self._extra_views.append((name, widget, tip))
        self._dirty.add(name)
        if self._built:
            self.views.setTabToolTip(self.views.addTab(_scrolled(widget), name), tip)
            self.views.setTabEnabled(self.views.count() - 1, self.arch == "gpt")

    def _show_extra(self) -> None:
        """Tell an added view on screen what is shown, when that changed."""
        view, key = self.current_view(), self.current_key()
        widget = next((w for n, w, _t in self._extra_views if n == view), None)
        if widget is None or key is None or not hasattr(widget, "show_context"):
            return
        cap = self.captures.get(key)
        head_labels = None if cap is None else tuple(tuple(layer) for layer in cap.head_labels)
        ctx = jobs.ViewContext(key[0], key[1], key[2], tuple(self.labels), self.arch, self.layer, self.head,
                               self.query, head_labels)
        if self._extra_context.get(view) != ctx:
            self._extra_context[view] = ctx
            widget.show_context(ctx)

    # ================================================================== run and checkpoint
    @Slot(object)
    def _run_picked(self, run) -> None:
        if not self._built or run is None:
            return
        self.run_loads += 1
        same = self.run is not None and run == self.run
        self.run = run
        self._clear_error()
        self._load_steps(keep_position=same)
        try:
            cfg = run.model_config
            tokenizer = run.tokenizer
        except PlaygroundError as exc:
            self.error_label.show_error(exc)
            return
        self.arch = cfg.arch
        self.context = cfg.context_length
        self.tokenizer = tokenizer
        if self.seq2seq.take(run, cfg, tokenizer):  # an encoder–decoder: the panel shows it
            return
        self._fill_head_combos(cfg)
        self._set_bigram(cfg.arch != "gpt")
        if not same:
            self.ids, self.labels = [], []  # the old run's ids mean nothing to this one
            if self.text_edit.toPlainText().strip() and not self._text_is_excerpt:
                self._text_settled()  # the student's own text: keep it
            else:
                self.random_excerpt()  # an excerpt of the old run's corpus: take a new one
        else:
            self._request()

    def _load_steps(self, keep_position: bool) -> None:
        self.run.reload()
        self.checkpoints.set_steps(av.checkpoint_steps(self.run), av.eval_losses(self.run), keep_position)
        self._show_no_weights()

    def _show_no_weights(self) -> None:
        if self.run is not None and not self.steps:
            self.error_label.show_error(PlaygroundError(
                f"Run '{self.run.name}' has no saved weights yet.",
                "Train it for at least one evaluation interval; the first checkpoint will appear here by itself."))

    @Slot(int)
    def _slider_moved(self, _value: int) -> None:
        self._slider_timer.start()

    def step_by(self, delta: int) -> None:
        self.slider.setValue(self.slider.value() + delta)

    @Slot()
    def _step_back(self) -> None:
        self.step_by(-1)

    @Slot()
    def _step_forward(self) -> None:
        self.step_by(1)

    def set_step(self, step: int | None) -> None:
        """Move the checkpoint slider to ``step`` (tests and scripts)."""
        self.slider.setValue(self.steps.index(step))

    @Slot(str, int)
    def _checkpoint_saved(self, run_path: str, _step: int) -> None:
        """A run saved a checkpoint. Only this run's matter, and only while the tab is on screen:
        a hidden tab re-reads its run when it is shown again."""
        if not (self._built and self.run is not None and self.isVisible()
                and Path(run_path).resolve() == self.run.path.resolve()):
            return
        if self.steps == [None]:  # no snapshots, only the newest weights: they were just overwritten
            for key in [k for k in self.captures if k[1] is None]:
                del self.captures[key]
            self.embeds.pop((str(self.run.path), None), None)
            self.shown_key = None  # same key, new numbers: every view draws again
        self._refresh_steps()

    def _refresh_steps(self) -> None:
        """Take the run's checkpoints from disk again: extend the slider when there are new ones."""
        try:
            if av.checkpoint_steps(self.run) == self.steps:
                self._request()  # nothing new (or the newest weights, forgotten above)
                return
            had_none = not self.steps
            self._load_steps(keep_position=True)
        except OSError:
            return
        except PlaygroundError as exc:  # the run's folder went away meanwhile
            self.error_label.show_error(exc)
            return
        if had_none and self.steps:
            self._text_settled()  # clears the "no weights yet" message and shows the text
        else:
            self._request()

    def _fill_head_combos(self, cfg) -> None:
        for combo, n, word in ((self.layer_combo, cfg.n_layer, "layer"), (self.head_combo, cfg.n_head, "head")):
            combo.blockSignals(True)
            combo.clear()
            for i in range(n if cfg.arch == "gpt" else 0):
                combo.addItem(f"{word} {i + 1}", i)
            combo.blockSignals(False)
        self.layer = min(self.layer, max(cfg.n_layer - 1, 0))
        self.head = min(self.head, max(cfg.n_head - 1, 0))
        self.layer_combo.setCurrentIndex(self.layer)
        self.head_combo.setCurrentIndex(self.head)

    def _set_bigram(self, bigram: bool) -> None:
        for i, name in enumerate(self.view_names):
            self.views.setTabEnabled(i, name == "Embeddings" or not bigram)
        self.layer_combo.setEnabled(not bigram)
        self.head_combo.setEnabled(not bigram)
        if bigram:
            self.views.setCurrentIndex(self.view_names.index("Embeddings"))
            self.head_info.setText("A bigram model has no attention and no blocks: it predicts the next token "
                                   "from the current one alone, so there are no heads, no math of a block and no "
                                   "layers for the logit lens. Its table rows are shown as embeddings.")

    # ================================================================== text
    @Slot()
    def _text_typed(self) -> None:
        if not self._setting_text:
            self._text_is_excerpt = False
            self._text_timer.start()

    def set_text(self, text: str, excerpt: bool = False) -> None:
        """Put ``text`` in the box and show it at once (no typing delay)."""
        self._setting_text = True
        self.text_edit.setPlainText(text)
        self._setting_text = False
        self._text_is_excerpt = excerpt
        self._text_timer.stop()
        self._text_settled()

    @Slot()
    def _text_settled(self) -> None:
        if self.run is None or not hasattr(self, "tokenizer"):
            return
        text = self.text_edit.toPlainText()[:MAX_TEXT_CHARS]
        self._clear_error()
        self._show_no_weights()
        self.ids, self.labels = [], []  # nothing stale may be shown or computed
        if not text:
            self.note_label.setText("Type a text, or take a random excerpt of the validation text.")
            return
        try:
            ids = self.tokenizer.encode(text)
        except TokenizerError as exc:
            self.error_label.show_error(exc)
            return
        if not ids:
            self.note_label.setText("This text has no tokens.")
            return
        n = len(ids)
        ids = ids[: self.context]
        note = f"{len(ids)} tokens."
        if n > len(ids):
            note = (f"The model reads at most {self.context} tokens (its context length): showing the "
                    f"first {len(ids)} of {n}.")
        self.note_label.setText(note)
        self.ids = ids
        self.labels = [self.tokenizer.token_label(i) for i in ids]
        if self.query is not None and self.query >= len(ids):
            self.query = None
        self._dirty = set(self.view_names) - {"Embeddings"}
        self._request()

    @Slot()
    def random_excerpt(self) -> None:
        """Replace the text with a random validation excerpt (the corpus is read in a worker)."""
        if self.run is None or not self._built:
            return
        run_path = str(self.run.path)
        if run_path in self.val_texts:
            self._excerpt_ready((run_path, self.val_texts[run_path], None))
            return
        if self._excerpt_handle is not None and self._excerpt_handle.running:
            return

        def job(progress, cancel):
            try:
                return run_path, av.validation_text(run_path), None
            except PlaygroundError as exc:
                return run_path, None, exc

        self.status_label.setText("Reading the validation text…")
        self._excerpt_handle = workers.start(job, parent=self, on_done=self._excerpt_ready,
                                             on_error=self._job_failed, name="attention-excerpt")

    def _excerpt_ready(self, result) -> None:
        run_path, val_text, error = result
        if val_text is not None:
            self.val_texts[run_path] = val_text
        if self._closed:
            return
        if self.run is None or run_path != str(self.run.path):
            # The student picked another run meanwhile: an excerpt of that one.
            if self.run is not None and (self._text_is_excerpt or not self.ids):
                self.random_excerpt()
            return
        self.status_label.setText("")
        if val_text is None:
            no_excerpt = PlaygroundError(f"No random excerpt: {error.message}", " ".join(
                filter(None, [error.hint, "Your typed text stays; type another to look at."])))
            if not self.ids:  # nothing shown yet: show what is typed
                self._text_settled()
            self.error_label.show_error(no_excerpt)
            return
        try:
            text = av.pick_excerpt(val_text, self.tokenizer, min(self.context, av.EXCERPT_TOKENS), self._rng)
        except PlaygroundError as exc:
            self.error_label.show_error(exc)
            return
        self.set_text(text, excerpt=True)

    # ================================================================== heads and queries
    @Slot(int, int)
    def select_head(self, layer: int, head: int) -> None:
        self.layer, self.head = layer, head
        self.layer_combo.setCurrentIndex(layer)
        self.head_combo.setCurrentIndex(head)
        self.grid.set_selected((layer, head))
        self._dirty |= {"Head", "Lines", "The math"}
        self._request()

    @Slot()
    def _combo_head(self) -> None:
        self.select_head(max(self.layer_combo.currentIndex(), 0), max(self.head_combo.currentIndex(), 0))

    @Slot(int, int)
    def _open_head(self, layer: int, head: int) -> None:
        self.select_head(layer, head)
        self.views.setCurrentIndex(VIEWS.index("Head"))

    @Slot(int)
    def _query_picked(self, query: int) -> None:
        """A token clicked in Head, The math or Logit lens: every view shows that token."""
        self.query = query
        self.head_view.set_query(query)
        if self.math_view.math is not None:
            self.math_view.set_query(query)
        self.lens_view.set_position(query)
        self._show_extra()

    @Slot(int)
    def _view_changed(self, _index: int) -> None:
        self._request()

    @Slot(bool)
    def _average_toggled(self, _on: bool) -> None:
        self._dirty.add("Lines")
        self._show_current()

    # ================================================================== work
    def _needs(self) -> av.Want | None:
        """What the current view lacks for the current (run, step, text); None: nothing."""
        key = self.current_key()
        if key is None:
            return None
        from playground.gui.widgets.embedding_view import LABEL_ALL_UP_TO

        big_vocab = self.tokenizer.vocab_size > LABEL_ALL_UP_TO
        return jobs.needs(self.current_view(), key, self.captures.get(key), self.arch, self.layer, self.head,
                          embed_missing=key[:2] not in self.embeds,
                          frequency_missing=big_vocab and key[0] not in self.frequency)

    @Slot()
    def _request(self) -> None:
        """Show what is cached; start one worker for what is missing (the newest request wins)."""
        if not self._built or self._closed:
            return
        self._show_current()
        want = self._needs()
        if want is None:
            self._pending = False
            return
        if self._handle is not None and self._handle.running:
            self._pending = True
            return
        self._pending = False
        key = self.current_key()
        run_path, step, ids = key
        corpus_text = self.val_texts.get(run_path) if want.frequency else None

        def job(progress, cancel):
            return key, want, av.compute(run_path, step, ids, want, corpus_text)

        self.jobs_started += 1
        self.status_label.setText(f"Loading {'step ' + format(step, ',') if step is not None else 'the weights'}…")
        self._handle = workers.start(job, parent=self, on_done=self._job_done, on_error=self._job_failed,
                                     name="attention-capture")

    def _job_done(self, result) -> None:
        if self._closed:
            return
        key, want, views = result
        self.status_label.setText("")
        jobs.store(self.captures, key, want, views)
        if views.embed is not None:
            self.embeds[key[:2]] = views.embed
            while len(self.embeds) > av.CAPTURE_CACHE:
                self.embeds.popitem(last=False)
        if views.frequency_order is not None:
            self.frequency[key[0]] = views.frequency_order
        if key != self.shown_key:
            self._dirty = set(self.view_names)
        self._request()

    def _job_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self.status_label.setText("")
        self._pending = False
        if not isinstance(exc, PlaygroundError):
            exc = PlaygroundError(f"Could not look inside this checkpoint: {exc}",
                                  "The checkpoint file may be damaged; pick another one.")
        self.error_label.show_error(exc)

    # ================================================================== showing
    def _show_current(self) -> None:
        key = self.current_key()
        if key is None:
            return
        if key != self.shown_key:
            self._dirty = set(self.view_names)
        cap = self.captures.get(key)
        view = self.current_view()
        shown_all = True
        if self.arch == "gpt" and cap is not None:
            self._show_capture(cap, view)
            if view == "The math":
                if not jobs.math_ready(cap, self.layer, self.head):
                    shown_all = False
                elif "The math" in self._dirty:
                    self.math_view.set_math(cap.math[(self.layer, self.head)], self.labels, self.ids, self.query)
                    self.math_view.set_forward(cap.forward[self.layer], self.tokenizer.token_label)
                    self._dirty.discard("The math")
            elif view == "Logit lens":
                if cap.lens is None:
                    shown_all = False
                elif "Logit lens" in self._dirty:
                    self.lens_view.set_lens(cap.lens, self.labels, self.ids, self.tokenizer.token_label, self.query)
                    self._dirty.discard("Logit lens")
        elif self.arch == "gpt":
            shown_all = False
        if view == "Embeddings":
            emb = self.embeds.get(key[:2])
            if emb is None:
                shown_all = False
            elif "Embeddings" in self._dirty:
                order = self.frequency.get(key[0])
                self.embed_view.set_tokens(emb.coords, emb.explained, self._vocab_labels(), order, step=key[1])
                self.embed_view.set_positions(emb.positions, emb.similarity, emb.positional)
                self.embed_view.set_source(key[0], key[1])  # nearest tokens / bigram table (its own worker)
                self._dirty.discard("Embeddings")
        self._show_extra()
        if shown_all:
            self.shown_key = key
            self.shown.emit()

    def _show_capture(self, cap: av.Capture, view: str) -> None:
        """The head's label line, and the capture in the view on screen when it is out of date."""
        from playground.gui.widgets.attention_grid import closest_pattern

        att = cap.attention  # (L, H, T, T)
        name, score = cap.head_labels[self.layer][self.head]
        closest = closest_pattern(cap.scores[self.layer][self.head]) if name == "mixed" else None
        near = f" Closest simple pattern: {av.PATTERN_TITLES[closest]}." if closest else ""
        self.head_info.setText(f"Layer {self.layer + 1}, head {self.head + 1}: "
                               f"<b>{av.PATTERN_TITLES.get(name, name)}</b> ({score:.2f}) — "
                               f"{analysis.LABEL_DESCRIPTIONS[name]}{near}")
        if view not in self._dirty:
            return
        if view == "Grid":
            self.grid.set_data(att, self.labels, cap.head_labels, cap.scores)
            self.grid.set_selected((self.layer, self.head))
        elif view == "Head":
            self.head_view.set_data(att[self.layer, self.head], self.labels)
            if self.query is not None:
                self.head_view.set_query(self.query)
        elif view == "Lines":
            w = att[self.layer].mean(axis=0) if self.average_box.isChecked() else att[self.layer, self.head]
            self.lines.set_data(w, self.labels)
        elif view == "Head labels":
            self.labels_page.set_scores(cap.scores, cap.head_labels)
        else:
            return  # The math and Embeddings have their own data
        self._dirty.discard(view)

    def _vocab_labels(self) -> list[str]:
        key = str(self.run.path)
        if key not in self.vocab_labels:
            tok = self.tokenizer
            self.vocab_labels[key] = [tok.token_label(i) for i in range(tok.vocab_size)]
        return self.vocab_labels[key]

    # ================================================================== errors, export, life
    def _clear_error(self) -> None:
        if self._built:
            self.error_label.clear_message()

    def export_png(self, path: str | Path) -> Path:
        """Save the current view as a PNG file."""
        path = Path(path)
        widget = (self.seq2seq.views if self.seq2seq.run is not None else self.views).currentWidget()
        if isinstance(widget, QScrollArea) and widget is not self.math_view:
            widget = widget.widget()  # the view itself, not its scrolled window
        if widget is self.math_view:
            widget = self.math_view.widget()  # the whole column, not only the visible part
            widget.grab()  # plots scrolled out of sight size their axes on their first paint
            QApplication.processEvents()
        if not widget.grab().save(str(path), "PNG"):
            raise PlaygroundError(f"Could not write {path}.", "Pick a folder you can write to.")
        return path

    @Slot()
    def _export_dialog(self) -> None:
        if self.run is None:
            return
        step = "latest" if self.step is None else f"step{self.step}"
        name = f"{self.run.name}-{step}-{self.current_view().lower().replace(' ', '-')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", str(Path.home() / name),
                                              "PNG image (*.png)")
        if path:
            try:
                self.export_png(path)
                self.status_label.setText(f"Saved {Path(path).name}")
            except PlaygroundError as exc:
                self.error_label.show_error(exc)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._update_page()
        if self._built:
            self.picker.refresh()
            if self.run is None and self.picker.current() is not None:
                self._run_picked(self.picker.current())
            elif self.run is not None:
                self._refresh_steps()  # checkpoints saved while the tab was hidden (or by the CLI)

    def shutdown(self) -> None:
        self._closed = True
        workers.shutdown(self)
