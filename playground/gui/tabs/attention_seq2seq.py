"""The Attention tab for an encoder–decoder run: three kinds of attention instead of one.

The tab's run picker and checkpoint slider stay; below them this panel takes the place of the GPT
views (``AttentionTab`` swaps the two with ``stack``/``take``). The text box takes a SOURCE
sentence; the target is the model's own greedy translation, or the student's after a tab
(``source<TAB>target``). A chooser picks encoder self-attention (full squares: no mask), decoder
self-attention (lower triangles, the future grey) or cross-attention (target tokens × source
tokens, rectangles), shown per head in the Grid, Head, Lines and The math views. The GPT-only views
(head labels, embeddings, logit lens, Switch off) say in words that they are for GPT runs.

The numbers come from ``core.seq2seq_views.pair_views`` in a worker (the model from the app's one
cache), kept per (run, checkpoint, source, target).
"""

from __future__ import annotations

import html
import random
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.errors import PlaygroundError
from playground.gui import ui, workers

TYPING_DELAY_MS = 350
CACHE = 16
VIEWS = ["Grid", "Head", "Lines", "The math"]
GPT_ONLY = {
    "Head labels": "The head labels (previous token, induction, …) score patterns of a GPT reading one text: "
                   "they are for GPT runs.",
    "Embeddings": "The embedding map, nearest tokens and the bigram table are for GPT runs.",
    "Logit lens": "The logit lens (what each layer would predict next) is for GPT runs.",
    "Switch off": "Switching heads, MLPs or positions off is for GPT runs.",
}
KIND_CHOICES = [
    ("Encoder self-attention (source × source, no mask)", "encoder"),
    ("Decoder self-attention (target × target, masked)", "decoder"),
    ("Cross-attention (target × source)", "cross"),
]
AXIS_TITLES = {  # (rows, columns)
    "encoder": ("source token that looks", "source token looked at"),
    "decoder": ("target token that looks", "earlier target token looked at"),
    "cross": ("decoder input (writes the next target token)", "source token read"),
}


def split_text(text: str) -> tuple[str, str | None]:
    """``source`` or ``source<TAB>target`` (the target typed, not translated)."""
    source, tab, target = text.partition("\t")
    return source.strip("\n"), (target.strip("\n") if tab else None)


class Seq2SeqPanel(QWidget):
    shown = Signal()  # the views show the current (run, step, text) (tests wait on it)

    def __init__(self, tab, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tab = tab
        self.run = None
        self.tokenizer = None
        self.layer = self.head = 0
        self.query: int | None = None
        self.views_cache: OrderedDict[tuple, object] = OrderedDict()
        self.sources: dict[str, list[str]] = {}  # run path -> its validation sources
        self.error: PlaygroundError | None = None
        self.jobs_started = 0
        self._handle: workers.WorkerHandle | None = None
        self._sources_handle: workers.WorkerHandle | None = None
        self._pending = False
        self._rng = random.Random()
        self._timer = QTimer(self, singleShot=True, interval=TYPING_DELAY_MS)
        self._timer.timeout.connect(self.request)
        self._build()
        tab.checkpoints.valueChanged.connect(self._timer.start)
        tab.state.checkpointSaved.connect(self._checkpoint_saved)

    # ================================================================== the tab's hooks
    def stack(self, gpt_parts: list) -> QStackedWidget:
        """The GPT views (layouts and widgets, the last one stretching) and this panel, one shown at a time."""
        gpt = QWidget()
        box = QVBoxLayout(gpt)
        box.setContentsMargins(0, 0, 0, 0)
        for i, part in enumerate(gpt_parts):
            if isinstance(part, QLayout):
                box.addLayout(part)
            else:
                box.addWidget(part, 1 if i == len(gpt_parts) - 1 else 0)
        self.pages = QStackedWidget()
        self.pages.addWidget(gpt)
        self.pages.addWidget(self)
        return self.pages

    def take(self, run, cfg, tokenizer) -> bool:
        """Show ``run`` here when it is an encoder–decoder (True); else hand the tab back its views."""
        self.pages.setCurrentIndex(1 if cfg.is_encoder_decoder else 0)
        if not cfg.is_encoder_decoder:
            self.run = None
            return False
        self.tab.ids, self.tab.labels = [], []  # the GPT views compute nothing for this run
        same = self.run is not None and run == self.run
        self.run, self.tokenizer = run, tokenizer
        for combo, n, word in ((self.layer_combo, cfg.n_layer, "layer"), (self.head_combo, cfg.n_head, "head")):
            combo.blockSignals(True)
            combo.clear()
            for i in range(n):
                combo.addItem(f"{word} {i + 1}", i)
            combo.blockSignals(False)
        self.layer, self.head = min(self.layer, cfg.n_layer - 1), min(self.head, cfg.n_head - 1)
        self.layer_combo.setCurrentIndex(self.layer)
        self.head_combo.setCurrentIndex(self.head)
        if not same and not self.text_edit.toPlainText().strip():
            self.random_source()
        else:
            self.request()
        return True

    # ================================================================== building
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Source:"), 0, Qt.AlignTop)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setTabChangesFocus(False)  # a tab starts the target
        self.text_edit.setFixedHeight(46)
        self.text_edit.setPlaceholderText("Type a source sentence; the model translates it. To look at a target "
                                          "of your own, type it after a tab.")
        self.text_edit.setToolTip("The source sentence the encoder reads. The decoder reads the model's own "
                                  "translation of it, or the target you type after a tab.")
        self.text_edit.textChanged.connect(self._timer.start)
        row.addWidget(self.text_edit, 1)
        self.random_button = QPushButton("Random validation pair")
        self.random_button.setToolTip("The source of a random validation pair (the model never trained on it)")
        self.random_button.clicked.connect(self.random_source)
        row.addWidget(self.random_button, 0, Qt.AlignTop)
        layout.addLayout(row)
        self.message = ui.MessageLabel()
        layout.addWidget(self.message)
        chooser = QHBoxLayout()
        self.kind_combo = QComboBox()
        for title, kind in KIND_CHOICES:
            self.kind_combo.addItem(title, kind)
        self.kind_combo.setCurrentIndex(2)  # cross-attention: what this model adds to a GPT
        self.kind_combo.setToolTip("Which attention to show: the encoder reading the source, the decoder "
                                   "reading what it wrote, or the decoder reading the source (cross-attention)")
        self.kind_combo.currentIndexChanged.connect(self._show)
        chooser.addWidget(self.kind_combo)
        self.layer_combo, self.head_combo = QComboBox(), QComboBox()
        for combo in (self.layer_combo, self.head_combo):
            combo.activated.connect(self._combo_head)
            chooser.addWidget(combo)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.RichText)
        chooser.addWidget(self.note, 1)
        self.status = QLabel()
        self.status.setStyleSheet("color: #555;")
        chooser.addWidget(self.status)
        layout.addLayout(chooser)
        layout.addWidget(self._views(), 1)

    def _views(self) -> QTabWidget:
        from playground.gui.widgets.pair_attention import PairGrid, PairHead, PairLines, PairMath

        self.views = QTabWidget()
        self.grid = PairGrid()
        grid_page = QWidget()
        gbox = QVBoxLayout(grid_page)
        gbox.setContentsMargins(0, 0, 0, 0)
        gbox.addWidget(self.grid, 1)
        self.grid_hover = QLabel("Rows: the tokens that look; columns: the tokens they look at. Grey: the future, "
                                 "hidden by the decoder's mask. Hover a square for its weight; click a head to "
                                 "open it large.")
        self.grid_hover.setWordWrap(True)
        gbox.addWidget(self.grid_hover)
        self.grid.hoverText.connect(self.grid_hover.setText)
        self.grid.headClicked.connect(self._open_head)
        self.head_view = PairHead()
        self.head_view.querySelected.connect(self._query_picked)
        self.lines = PairLines()
        lines_area = QScrollArea()
        lines_area.setWidget(self.lines)
        self.math = PairMath()
        for page, title in ((grid_page, "Grid"), (self.head_view, "Head"), (lines_area, "Lines"),
                            (self.math, "The math")):
            self.views.addTab(page, title)
        self.gpt_only: dict[str, QLabel] = {}
        for title, words in GPT_ONLY.items():
            label = QLabel(words)
            label.setWordWrap(True)
            label.setAlignment(Qt.AlignCenter)
            label.setStyleSheet("color: #444; font-size: 12pt; padding: 20px;")
            self.gpt_only[title] = label
            self.views.addTab(label, title)
        self.views.currentChanged.connect(self._show)
        return self.views

    # ================================================================== input
    @property
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def set_kind(self, kind: str) -> None:
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))

    def set_text(self, text: str) -> None:
        """Put ``text`` (a source, or source<TAB>target) in the box and compute at once."""
        self.text_edit.blockSignals(True)
        self.text_edit.setPlainText(text)
        self.text_edit.blockSignals(False)
        self._timer.stop()
        self.request()

    def current_key(self) -> tuple | None:
        text = self.text_edit.toPlainText()
        source, target = split_text(text)
        if self.run is None or not self.tab.steps or not source.strip():
            return None
        return str(self.run.path), self.tab.step, source, target

    @Slot()
    def random_source(self) -> None:
        if self.run is None:
            return
        run_path = str(self.run.path)
        if run_path in self.sources:
            self.set_text(self._rng.choice(self.sources[run_path]))
            return
        if self._sources_handle is not None and self._sources_handle.running:
            return

        def job(progress, cancel):
            from playground.core.seq2seq_views import validation_sources

            return run_path, validation_sources(run_path)

        def done(result) -> None:
            path, sources = result
            self.sources[path] = sources
            if self.run is not None and str(self.run.path) == path:
                self.random_source()

        self._sources_handle = workers.start(job, parent=self, on_done=done, on_error=self._failed,
                                             name="seq2seq-sources")

    # ================================================================== work
    @Slot()
    def request(self) -> None:
        """Show what is cached; compute what is missing in one worker (the newest request wins)."""
        key = self.current_key()
        if self.run is not None and not self.tab.steps:
            self.message.show_error(PlaygroundError(
                f"Run '{self.run.name}' has no saved weights yet.",
                "Train it for at least one evaluation interval; the first checkpoint will appear here by itself."))
            return
        if key is None:
            return
        if key in self.views_cache:
            self._show()
            return
        if self._handle is not None and self._handle.running:
            self._pending = True
            return
        self._pending = False
        run_path, step, source, target = key
        tokenizer = self.tokenizer

        def job(progress, cancel):
            from playground.core.model_cache import MODELS
            from playground.core.seq2seq_views import pair_views

            loaded = MODELS.get(run_path, step)
            return key, pair_views(loaded.model, tokenizer, source, target)

        self.jobs_started += 1
        self.status.setText("Translating and reading the attention…")
        self._handle = workers.start(job, parent=self, on_done=self._done, on_error=self._failed,
                                     name="seq2seq-attention")

    def _done(self, result) -> None:
        key, views = result
        self.status.setText("")
        self.message.clear_message()
        self.views_cache[key] = views
        while len(self.views_cache) > CACHE:
            self.views_cache.popitem(last=False)
        if self._pending:
            self.request()
        else:
            self._show()

    def _failed(self, exc: BaseException) -> None:
        self.status.setText("")
        self._pending = False
        if not isinstance(exc, PlaygroundError):
            exc = PlaygroundError(f"Could not look inside this checkpoint: {exc}",
                                  "The checkpoint file may be damaged; pick another one.")
        self.error = exc
        self.message.show_error(exc)

    @Slot(str, int)
    def _checkpoint_saved(self, run_path: str, _step: int) -> None:
        if self.run is not None and Path(run_path).resolve() == self.run.path.resolve():
            for key in [k for k in self.views_cache if k[0] == str(self.run.path) and k[1] is None]:
                del self.views_cache[key]  # the newest weights were just overwritten
            if self.isVisible():
                self._timer.start()  # after the tab has re-read the run's checkpoints

    @property
    def busy(self) -> bool:
        return self._timer.isActive() or self._pending or bool(self._handle and self._handle.running)

    # ================================================================== heads and rows
    @Slot()
    def _combo_head(self) -> None:
        self.select_head(max(self.layer_combo.currentIndex(), 0), max(self.head_combo.currentIndex(), 0))

    def select_head(self, layer: int, head: int) -> None:
        self.layer, self.head = layer, head
        self.layer_combo.setCurrentIndex(layer)
        self.head_combo.setCurrentIndex(head)
        self._show()

    @Slot(int, int)
    def _open_head(self, layer: int, head: int) -> None:
        self.select_head(layer, head)
        self.views.setCurrentIndex(VIEWS.index("Head"))

    @Slot(int)
    def _query_picked(self, query: int) -> None:
        self.query = query
        self._show()

    # ================================================================== showing
    def current(self):
        key = self.current_key()
        return None if key is None else self.views_cache.get(key)

    @Slot()
    def _show(self, *_args) -> None:
        views = self.current()
        if views is None:
            return
        from playground.core.seq2seq_views import KIND_TITLES, head_row

        kind = self.kind
        att = views.attention[kind].numpy()  # (L, H, R, K)
        rows, cols = views.labels(kind)
        causal = kind == "decoder"
        said = "the target you typed" if views.typed_target else "its own translation"
        self.note.setText(f"The model reads <b>{html.escape(views.source)}</b> and writes <b>"
                          f"{html.escape(views.target) or '(nothing)'}</b> ({said}). {KIND_TITLES[kind]}: "
                          f"{len(rows)} × {len(cols)} tokens.")
        if self.query is not None and self.query >= len(rows):
            self.query = None
        titles = AXIS_TITLES[kind]
        self.grid.set_data(att, rows, cols, causal)
        self.grid.set_selected((self.layer, self.head))
        w = att[self.layer, self.head]  # (R, K)
        self.head_view.set_data(w, rows, cols, causal, *titles)
        self.head_view.set_query(self.query)
        self.lines.set_data(w, rows, cols, ("looks ↓", "looked at ↓"), self.query)
        query = self.query if self.query is not None else len(rows) - 1
        self.math.set_row(head_row(views, kind, self.layer, self.head, query), KIND_TITLES[kind],
                          rows[query], cols, causal)
        self.shown.emit()
