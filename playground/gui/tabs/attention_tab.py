"""Step 5, the Attention tab: look inside the model you trained.

Pick a run, a checkpoint (a slider over the run's saved snapshots, with the loss there) and a
text (typed, or a random excerpt of the validation text), then look at:

- **Grid**: one heatmap per (layer, head), labelled with the pattern the core's scorer finds.
- **Head**: one head large, tokens on both axes; hover a cell for its weight.
- **Lines**: the same weights as lines between two columns of tokens (as BertViz draws them).
- **The math**: q, k, scores, √d_head, mask, softmax, values, W_O for one head and one token.
- **Head labels**: every head's pattern scores in a sortable table.
- **Embeddings**: the token embeddings as a 2-D map (PCA) and the position embeddings.

Loading a checkpoint and running the capture happen in a worker; results are cached per
(run, checkpoint, text), so moving the slider back is instant. Every number comes from the
core (model forward with ``capture=True``, ``core.analysis``); this tab only lays them out.

The widgets that draw (pyqtgraph) are built the first time the tab is shown: importing
pyqtgraph costs half a second the window's start-up should not pay.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from playground.core import analysis
from playground.core import checkpoint as ckpt
from playground.errors import PlaygroundError
from playground.gui import workers
from playground.gui.widgets.run_picker import RunPicker

ERROR_STYLE = "color: #b00020; background: #fdecee; border: 1px solid #f3b8c0; padding: 6px;"
NOTE_STYLE = "color: #555; padding: 2px;"
EXCERPT_TOKENS = 40  # a random excerpt's length: every token label stays readable in a heatmap
MAX_TEXT_CHARS = 20_000  # typed text beyond this is not even tokenized (it would be cropped)
FREQ_CHARS = 300_000  # token frequencies (for labelling a big vocabulary) from this much text
MODEL_CACHE = 6
CAPTURE_CACHE = 48
CAPTURE_BYTES = 256 * 2**20  # a Medium model's 256-token captures are ~9 MB each
TYPING_DELAY_MS = 350
SLIDER_DELAY_MS = 30
POLL_MS = 3000
VIEWS = ["Grid", "Head", "Lines", "The math", "Head labels", "Embeddings"]
PATTERN_COLUMNS = ["previous-token", "first-token", "self", "induction", "uniform"]
PATTERN_TITLES = {"previous-token": "previous token", "first-token": "first token", "self": "self",
                  "induction": "induction", "uniform": "broad (uniform)", "mixed": "mixed"}


# =============================================================================== work (no Qt)


class _ModelCache:
    """The last few checkpoints' models, loaded once (workers run one at a time, but a lock
    keeps the dict sane should two ever overlap)."""

    def __init__(self, size: int = MODEL_CACHE) -> None:
        self.size = size
        self._models: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(run: ckpt.Run, step: int | None) -> tuple:
        path = run.latest_path if step is None else run.snapshot_path(step)
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            mtime = 0
        return str(run.path), step, mtime

    def get(self, run: ckpt.Run, step: int | None):
        key = self._key(run, step)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = run.load_model(step)
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model

    def clear(self) -> None:
        with self._lock:
            self._models.clear()


MODELS = _ModelCache()


@dataclass
class Want:
    """What one worker job should compute for (run, step, ids)."""

    attention: bool = True
    math_head: tuple[int, int] | None = None
    embed: bool = False
    frequency: bool = False  # token frequency order (a vocabulary too big to label fully)


def compute(run: ckpt.Run, step: int | None, ids: list[int], want: Want, corpus_text: str | None = None) -> dict:
    """Load the checkpoint (cached) and compute what ``want`` asks for. Runs in a worker."""
    import torch

    model = MODELS.get(run, step)
    cfg = model.config
    out: dict[str, Any] = {"arch": cfg.arch}
    if want.attention and cfg.arch == "gpt" and ids:
        x = torch.tensor([ids], dtype=torch.long, device=next(model.parameters()).device)  # (1, T)
        with torch.no_grad():
            result = model(x, capture=True)
        att = result.attention.float().cpu().numpy()  # (L, H, T, T)
        scores = analysis.all_head_scores(att, ids)
        out["attention"] = att
        out["scores"] = scores
        out["head_labels"] = [[analysis.label_head(s) for s in layer] for layer in scores]
    if want.math_head is not None and cfg.arch == "gpt" and ids:
        out["math"] = analysis.attention_math(model, ids, *want.math_head)
    if want.embed:
        table = model.wte.weight if cfg.arch == "gpt" else model.table.weight  # (V, C)
        coords, explained = analysis.pca_2d(table)
        out["coords"], out["explained"] = coords, explained
        positions = None
        if cfg.arch == "gpt":
            positions = model.wpe.weight if cfg.positional == "learned" else model.pos_table  # (T, C)
        if positions is not None:
            out["positions"] = positions.detach().float().cpu().numpy()
            out["similarity"] = analysis.cosine_similarity(positions)
        out["positional"] = cfg.positional if cfg.arch == "gpt" else "none"
    if want.frequency:
        tokenizer = run.tokenizer
        counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)
        if corpus_text:
            ids_all = np.asarray(tokenizer.encode(corpus_text[:FREQ_CHARS]), dtype=np.int64)
            counts = np.bincount(ids_all, minlength=tokenizer.vocab_size)[: tokenizer.vocab_size]
        # Ties (and no corpus) fall back to id order: BPE and word ids are roughly by frequency.
        out["frequency_order"] = [int(i) for i in np.lexsort((np.arange(len(counts)), -counts))]
    return out


def validation_text(run: ckpt.Run) -> str:
    """The run's validation text (the end of its corpus). CorpusError when it is gone."""
    from playground.core import corpus as corpus_mod

    record = run.corpus_record
    corpus = corpus_mod.verify_record(record)
    fraction = record.get("split") or run.train_config.split
    return corpus.split(fraction)[1]


def pick_excerpt(val_text: str, tokenizer, n_tokens: int, rng: random.Random) -> str:
    """A random piece of ``val_text`` about ``n_tokens`` tokens long, starting at a line start
    when one is near, and cut at a token boundary when the tokenizer decodes back exactly."""
    if not val_text.strip():
        from playground.errors import CorpusError

        raise CorpusError("The validation text of this run is empty.", "Type a text instead.")
    span = n_tokens * 12  # characters: enough for n tokens of any tokenizer we have
    start = rng.randrange(max(1, len(val_text) - span // 2))
    newline = val_text.find("\n", start, start + 160)
    if newline != -1 and newline + 1 < len(val_text) - 8:
        start = newline + 1
    chunk = val_text[start:start + span]
    if tokenizer.unknown_spans(chunk) and tokenizer.kind == "char":
        chunk = "".join(ch for ch in chunk if not tokenizer.unknown_spans(ch))
    ids = tokenizer.encode(chunk)[:n_tokens]
    text = tokenizer.decode(ids)
    return text if chunk.startswith(text) else chunk


# =============================================================================== results


@dataclass
class Capture:
    attention: np.ndarray | None  # (L, H, T, T)
    scores: list | None
    head_labels: list | None
    math: dict[tuple[int, int], dict] = field(default_factory=dict)


@dataclass
class Embed:
    coords: np.ndarray
    explained: np.ndarray
    positions: np.ndarray | None
    similarity: np.ndarray | None
    positional: str


def _loss_text(evals: dict[int, tuple[float, float]], step: int | None) -> str:
    if step is None:
        return "the newest weights"
    row = evals.get(step)
    if row is None:
        return f"step {step:,} · no evaluation saved at this step"
    train, val = row
    return f"step {step:,} · validation loss <b>{val:.3f}</b> (training {train:.3f})"


# =============================================================================== the tab


class AttentionTab(QWidget):
    TITLE = "Attention"
    AVAILABLE = True

    requestTab = Signal(str)
    shown = Signal()  # the views now show the current (run, step, text) (tests wait on it)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.run: ckpt.Run | None = None
        self.steps: list[int | None] = []
        self.evals: dict[int, tuple[float, float]] = {}
        self.ids: list[int] = []
        self.labels: list[str] = []
        self.layer = 0
        self.head = 0
        self.query: int | None = None
        self.arch = "gpt"
        self.captures: OrderedDict[tuple, Capture] = OrderedDict()
        self.embeds: OrderedDict[tuple, Embed] = OrderedDict()
        self.vocab_labels: dict[str, list[str]] = {}
        self.frequency: dict[str, list[int]] = {}
        self.val_texts: dict[str, str | None] = {}
        self.shown_key: tuple | None = None
        self._handle: workers.WorkerHandle | None = None
        self._excerpt_handle: workers.WorkerHandle | None = None
        self._pending = False
        self._built = False
        self._closed = False
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
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._poll_run)
        self._update_page(build=False)

    # ================================================================== building
    def _empty_page(self) -> QWidget:
        page = QWidget()
        column = QWidget()
        column.setMaximumWidth(600)
        inner = QVBoxLayout(column)
        heading = QLabel("Train a model first")
        heading.setAlignment(Qt.AlignCenter)
        heading.setStyleSheet("font-size: 16pt; font-weight: bold; color: #333;")
        text = QLabel("This tab looks inside a model you trained: which tokens each attention "
                      "head looks at, the math of one head step by step, and the embeddings. "
                      "There are no trained models (runs) yet.")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignCenter)
        text.setStyleSheet("font-size: 11pt; color: #333;")
        self.to_train = QPushButton("Go to the Train tab")
        self.to_train.setToolTip("Train a model; come back here to look inside it")
        self.to_train.clicked.connect(lambda: self.requestTab.emit("Train"))
        inner.addWidget(heading)
        inner.addWidget(text)
        inner.addWidget(self.to_train, 0, Qt.AlignCenter)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 4)
        row.addStretch(1)
        box = QVBoxLayout(page)
        box.addStretch(1)
        box.addLayout(row)
        box.addStretch(2)
        return page

    def _update_page(self, build: bool = True) -> None:
        """The "train first" page when there are no runs, else the views (built on first show)."""
        has_runs = self.state.run is not None or bool(ckpt.list_runs())
        if has_runs and build:
            self._ensure_built()
        self.pages.setCurrentIndex(1 if has_runs else 0)

    def _ensure_built(self) -> None:
        if self._built:
            return
        self._built = True
        from playground.gui.widgets.attention_grid import AttentionGrid, HeadView
        from playground.gui.widgets.attention_lines import AttentionLines
        from playground.gui.widgets.attention_math import AttentionMathView
        from playground.gui.widgets.embedding_view import EmbeddingView
        from playground.gui.widgets.plots import pyqtgraph

        pg = pyqtgraph()
        outer = QVBoxLayout(self.main_page)
        outer.setContentsMargins(6, 4, 6, 4)
        outer.setSpacing(4)

        # -- run + checkpoint
        top = QHBoxLayout()
        self.picker = RunPicker(self.state)
        self.picker.runPicked.connect(self._run_picked)
        top.addWidget(self.picker, 3)
        top.addSpacing(12)
        top.addWidget(QLabel("Checkpoint:"))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setMinimumWidth(200)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setToolTip("The weights saved during training, from step 0 (random) to the last. "
                               "Slide to watch the attention patterns form. (Alt+← / Alt+→)")
        self.slider.valueChanged.connect(self._slider_moved)
        top.addWidget(self.slider, 3)
        self.step_label = QLabel()
        self.step_label.setMinimumWidth(330)
        self.step_label.setToolTip("The loss on the validation text when this checkpoint was saved: "
                                   "lower means the model predicts the next token better.")
        top.addWidget(self.step_label)
        self.loss_plot = pg.PlotWidget()
        self.loss_plot.setFixedSize(170, 40)
        self.loss_plot.hideAxis("bottom")
        self.loss_plot.hideAxis("left")
        self.loss_plot.setMenuEnabled(False)
        self.loss_plot.setMouseEnabled(x=False, y=False)
        self.loss_plot.hideButtons()
        self.loss_plot.setToolTip("Validation loss over training; the red line is this checkpoint.")
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#3b6fb6", width=2))
        self.loss_marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#e8322f", width=2))
        self.loss_plot.addItem(self.loss_marker)
        top.addWidget(self.loss_plot)
        outer.addLayout(top)

        # -- text
        text_row = QHBoxLayout()
        text_row.addWidget(QLabel("Text:"), 0, Qt.AlignTop)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setFixedHeight(46)
        self.text_edit.setPlaceholderText("Type a text for the model to read, or take a random excerpt")
        self.text_edit.setToolTip("The text the model reads. Its attention is shown for exactly these "
                                  "tokens (at most the model's context length).")
        self.text_edit.textChanged.connect(self._text_typed)
        text_row.addWidget(self.text_edit, 1)
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
        text_row.addLayout(buttons)
        outer.addLayout(text_row)
        self.note_label = QLabel()
        self.note_label.setStyleSheet(NOTE_STYLE)
        self.note_label.setWordWrap(True)
        self.note_label.setToolTip("How many tokens the model reads from the text")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.hide()
        outer.addWidget(self.error_label)

        # -- head chooser (for Head, Lines, The math)
        chooser = QHBoxLayout()
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
        chooser.addWidget(self.head_info, 1)
        self.status_label = QLabel()
        self.status_label.setStyleSheet("color: #555;")
        chooser.addWidget(self.status_label)
        outer.addLayout(chooser)

        # -- the views
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
        self.grid.headClicked.connect(self._grid_clicked)
        self.views.addTab(grid_page, "Grid")
        self.views.setTabToolTip(0, "Every head of every layer at once")

        self.head_view = HeadView()
        self.head_view.querySelected.connect(self._query_picked)
        self.views.addTab(self.head_view, "Head")
        self.views.setTabToolTip(1, "One head, large, with every token on both axes")

        lines_page = QWidget()
        lbox = QVBoxLayout(lines_page)
        lbox.setContentsMargins(0, 0, 0, 0)
        lrow = QHBoxLayout()
        self.average_box = QCheckBox("Average of all heads in the layer")
        self.average_box.setToolTip("Draw the mean of the layer's heads instead of the chosen head")
        self.average_box.toggled.connect(lambda _on: self._mark_and_show({"Lines"}))
        lrow.addWidget(self.average_box)
        self.lines_hover = QLabel("Hover a token to see only its lines.")
        self.lines_hover.setStyleSheet("color: #333;")
        lrow.addWidget(self.lines_hover, 1)
        lbox.addLayout(lrow)
        self.lines = AttentionLines()
        self.lines.hovered.connect(self._lines_hovered)
        scroll = QScrollArea()
        scroll.setWidget(self.lines)
        scroll.setWidgetResizable(True)
        scroll.setStyleSheet("background: white;")
        lbox.addWidget(scroll, 1)
        self.views.addTab(lines_page, "Lines")
        self.views.setTabToolTip(2, "Lines from each token to the tokens it attends to; thicker = more")

        self.math_view = AttentionMathView()
        self.math_view.querySelected.connect(self._query_picked)
        self.views.addTab(self.math_view, "The math")
        self.views.setTabToolTip(3, "How one head computes its weights for one token, with the real numbers")

        self.table = QTableWidget(0, 3 + len(PATTERN_COLUMNS))
        self.table.setHorizontalHeaderLabels(["layer", "head", "label"]
                                             + [PATTERN_TITLES[p] for p in PATTERN_COLUMNS])
        for c, p in enumerate(PATTERN_COLUMNS):
            self.table.horizontalHeaderItem(3 + c).setToolTip(analysis.LABEL_DESCRIPTIONS[p])
        self.table.horizontalHeaderItem(2).setToolTip("The pattern this head fits best (score ≥ 0.4), "
                                                      "'broad' when it spreads evenly, else 'mixed'")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setToolTip("Each head scored against simple patterns (0 = not at all, 1 = exactly), "
                              "on the text above. Click a column header to sort; double-click a row to "
                              "open the head.")
        self.table.cellClicked.connect(self._table_clicked)
        self.table.cellDoubleClicked.connect(self._table_double_clicked)
        table_page = QWidget()
        tbox = QVBoxLayout(table_page)
        tbox.setContentsMargins(0, 0, 0, 0)
        explain = QLabel("Each score measures one pattern on the text above: <b>previous token</b> "
                         "(looks at the token just before), <b>first token</b> (parks on the first "
                         "token), <b>self</b>, <b>induction</b> (in 'A B … A' the second A looks at B, "
                         "what followed its earlier copy — how models copy), <b>broad</b> (spreads "
                         "evenly). Induction needs a text with repeats.")
        explain.setWordWrap(True)
        explain.setStyleSheet("color: #333; padding: 2px;")
        tbox.addWidget(explain)
        tbox.addWidget(self.table, 1)
        self.views.addTab(table_page, "Head labels")
        self.views.setTabToolTip(4, "What the pattern scorer says about each head, sortable")

        self.embed_view = EmbeddingView()
        self.views.addTab(self.embed_view, "Embeddings")
        self.views.setTabToolTip(5, "The token embeddings as a map, and the position embeddings")
        self.views.currentChanged.connect(self._view_changed)
        outer.addWidget(self.views, 1)

        for key, slot in (("Alt+Left", lambda: self.step_by(-1)), ("Alt+Right", lambda: self.step_by(1)),
                          ("Ctrl+R", self.random_excerpt), ("Ctrl+E", self._export_dialog)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._run_picked(self.picker.current())

    # ================================================================== properties
    @property
    def busy(self) -> bool:
        running = self._handle is not None and self._handle.running
        excerpt = self._excerpt_handle is not None and self._excerpt_handle.running
        return running or excerpt or self._pending or self._slider_timer.isActive() or self._text_timer.isActive()

    @property
    def step(self) -> int | None:
        if not self.steps:
            return None
        return self.steps[max(0, min(self.slider.value(), len(self.steps) - 1))]

    def current_key(self) -> tuple | None:
        if self.run is None or not self.steps or not self.ids:
            return None
        return str(self.run.path), self.step, tuple(self.ids)

    def current_view(self) -> str:
        return VIEWS[self.views.currentIndex()]

    # ================================================================== run and checkpoint
    @Slot(object)
    def _run_picked(self, run) -> None:
        if not self._built:
            return
        if run is None:
            return
        same = self.run is not None and run == self.run
        self.run = run
        self._clear_error()
        self._load_steps(keep_position=same)
        try:
            cfg = run.model_config
            tokenizer = run.tokenizer
        except PlaygroundError as exc:
            self._show_error(exc)
            return
        self.arch = cfg.arch
        self.context = cfg.context_length
        self.tokenizer = tokenizer
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
        run = self.run
        at_end = self.slider.value() >= self.slider.maximum()
        old = self.step if self.steps else None
        run.reload()
        steps: list[int | None] = [s for s, _ in run.snapshots()]
        if not steps and run.has_latest():
            steps = [None]
        self.steps = steps
        self.evals = {it: (tr, va) for it, tr, va in run.evals() if va is not None}
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(steps) - 1))
        if keep_position and old in steps and not at_end:
            self.slider.setValue(steps.index(old))
        else:
            self.slider.setValue(len(steps) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(steps) > 1)
        points = [(it, va) for it, (_tr, va) in sorted(self.evals.items())]
        if points:
            self.loss_curve.setData([p[0] for p in points], [p[1] for p in points])
        else:
            self.loss_curve.setData([], [])
        self._show_no_weights()
        self._update_step_label()

    def _show_no_weights(self) -> None:
        if self.run is not None and not self.steps:
            self._show_error(PlaygroundError(f"Run '{self.run.name}' has no saved weights yet.",
                                             "Train it for at least one evaluation interval; the "
                                             "first checkpoint will appear here by itself."))

    def _update_step_label(self) -> None:
        if not self.steps:
            self.step_label.setText("no checkpoints")
            return
        step = self.step
        index = self.slider.value() + 1
        self.step_label.setText(f"{index}/{len(self.steps)} · {_loss_text(self.evals, step)}")
        self.loss_marker.setVisible(step is not None)
        if step is not None:
            self.loss_marker.setValue(step)

    @Slot(int)
    def _slider_moved(self, _value: int) -> None:
        self._update_step_label()
        self._slider_timer.start()

    def step_by(self, delta: int) -> None:
        self.slider.setValue(self.slider.value() + delta)

    def set_step(self, step: int | None) -> None:
        """Move the checkpoint slider to ``step`` (tests and scripts)."""
        self.slider.setValue(self.steps.index(step))

    @Slot()
    def _poll_run(self) -> None:
        """While the run is training, new checkpoints appear: extend the slider."""
        if self.run is None or not self._built:
            return
        try:
            steps = [s for s, _ in self.run.snapshots()]
        except OSError:
            return
        if steps != [s for s in self.steps if s is not None]:
            had_none = not self.steps
            self._load_steps(keep_position=True)
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
        for i in range(len(VIEWS) - 1):
            self.views.setTabEnabled(i, not bigram)
        self.layer_combo.setEnabled(not bigram)
        self.head_combo.setEnabled(not bigram)
        if bigram:
            self.views.setCurrentIndex(VIEWS.index("Embeddings"))
            self.head_info.setText("A bigram model has no attention: it predicts the next token from the "
                                   "current one alone. Its table rows are shown as embeddings.")

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
        if not text:
            self.ids, self.labels = [], []
            self.note_label.setText("Type a text, or take a random excerpt of the validation text.")
            return
        from playground.errors import TokenizerError

        try:
            ids = self.tokenizer.encode(text)
        except TokenizerError as exc:
            self.ids, self.labels = [], []  # nothing stale may be shown or computed
            self._show_error(exc)
            return
        if not ids:
            self.ids, self.labels = [], []
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
        self._dirty = set(VIEWS) - {"Embeddings"}
        self._request()

    @Slot()
    def random_excerpt(self) -> None:
        """Replace the text with a random validation excerpt (the corpus is read in a worker)."""
        if self.run is None or not self._built:
            return
        run = self.run
        key = str(run.path)
        if key in self.val_texts:
            self._excerpt_ready((run, self.val_texts[key], None))
            return
        if self._excerpt_handle is not None and self._excerpt_handle.running:
            return

        def job(progress, cancel):
            try:
                run.reload()  # the record may have changed on disk (a moved corpus, a rename)
                return run, validation_text(run), None
            except PlaygroundError as exc:
                return run, None, exc

        self.status_label.setText("Reading the validation text…")
        self._excerpt_handle = workers.start(job, parent=self, on_done=self._excerpt_ready,
                                             on_error=self._job_failed, name="attention-excerpt")

    def _excerpt_ready(self, result) -> None:
        run, val_text, error = result
        self.val_texts[str(run.path)] = val_text
        if self._closed:
            return
        if run != self.run:  # the student picked another run meanwhile: an excerpt of that one
            if self.run is not None and (self._text_is_excerpt or not self.ids):
                self.random_excerpt()
            return
        self.status_label.setText("")
        if val_text is None:
            hint = "Your typed text stays; type another to look at."
            self._show_error(PlaygroundError(f"No random excerpt: {error.message}",
                                             f"{error.hint + ' ' if error.hint else ''}{hint}"))
            if not self.ids:  # nothing shown yet: show what is typed
                self._text_settled()
                self._show_error(PlaygroundError(f"No random excerpt: {error.message}",
                                                 f"{error.hint + ' ' if error.hint else ''}{hint}"))
            return
        try:
            text = pick_excerpt(val_text, self.tokenizer, min(self.context, EXCERPT_TOKENS), self._rng)
        except PlaygroundError as exc:
            self._show_error(exc)
            return
        self.set_text(text, excerpt=True)

    # ================================================================== heads and queries
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
    def _grid_clicked(self, layer: int, head: int) -> None:
        self.select_head(layer, head)
        self.views.setCurrentIndex(VIEWS.index("Head"))

    @Slot(int)
    def _query_picked(self, query: int) -> None:
        self.query = query
        self.head_view.set_query(query)
        if self.math_view.math is not None:
            self.math_view.set_query(query)

    @Slot(int, int)
    def _table_clicked(self, row: int, _col: int) -> None:
        layer = int(self.table.item(row, 0).data(Qt.UserRole))
        head = int(self.table.item(row, 1).data(Qt.UserRole))
        self.select_head(layer, head)

    @Slot(int, int)
    def _table_double_clicked(self, row: int, col: int) -> None:
        self._table_clicked(row, col)
        self.views.setCurrentIndex(VIEWS.index("Head"))

    def _lines_hovered(self, index: int, side: str) -> None:
        if index < 0:
            self.lines_hover.setText("Hover a token to see only its lines.")
        elif side == "query":
            self.lines_hover.setText(f"Where `{self.labels[index]}` (position {index + 1}) looks.")
        else:
            self.lines_hover.setText(f"Which tokens look at `{self.labels[index]}` (position {index + 1}).")

    @Slot(int)
    def _view_changed(self, _index: int) -> None:
        self._request()

    def _mark_and_show(self, views: set[str]) -> None:
        self._dirty |= views
        self._show_current()

    # ================================================================== work
    def _needs(self) -> Want | None:
        """What the current view lacks for the current (run, step, text); None: nothing."""
        key = self.current_key()
        if key is None:
            return None
        view = self.current_view()
        want = Want(attention=False)
        cap = self.captures.get(key)
        if self.arch == "gpt" and cap is None:
            want.attention = True
        if self.arch == "gpt" and view == "The math" and (cap is None or (self.layer, self.head) not in cap.math):
            want.math_head = (self.layer, self.head)
        if view == "Embeddings" and key[:2] not in self.embeds:
            want.embed = True
            vocab = self.run.info.get("tokenizer", {}).get("vocab_size") or 0
            from playground.gui.widgets.embedding_view import LABEL_ALL_UP_TO

            if vocab > LABEL_ALL_UP_TO and key[0] not in self.frequency:
                want.frequency = True
        if want.attention or want.math_head or want.embed or want.frequency:
            return want
        return None

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
        run, step, ids = self.run, self.step, list(self.ids)
        key = self.current_key()
        corpus_text = self.val_texts.get(str(run.path)) if want.frequency else None

        def job(progress, cancel):
            return key, want, compute(run, step, ids, want, corpus_text)

        self.status_label.setText(f"Loading {'step ' + format(step, ',') if step is not None else 'the weights'}…")
        self._handle = workers.start(job, parent=self, on_done=self._job_done, on_error=self._job_failed,
                                     name="attention-capture")

    def _job_done(self, result) -> None:
        if self._closed:
            return
        key, want, out = result
        self.status_label.setText("")
        run_key = key[0]
        if "attention" in out:
            self.captures[key] = Capture(out["attention"], out["scores"], out["head_labels"])
            while len(self.captures) > 1 and (
                    len(self.captures) > CAPTURE_CACHE
                    or sum(c.attention.nbytes for c in self.captures.values()) > CAPTURE_BYTES):
                self.captures.popitem(last=False)
        if "math" in out:
            cap = self.captures.get(key)
            if cap is not None:
                cap.math[want.math_head] = out["math"]
        if "coords" in out:
            self.embeds[key[:2]] = Embed(out["coords"], out["explained"], out.get("positions"),
                                         out.get("similarity"), out["positional"])
            while len(self.embeds) > CAPTURE_CACHE:
                self.embeds.popitem(last=False)
        if "frequency_order" in out:
            self.frequency[run_key] = out["frequency_order"]
        if key != self.shown_key:
            self._dirty = set(VIEWS)
        self._request()

    def _job_failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        self.status_label.setText("")
        self._pending = False
        if isinstance(exc, PlaygroundError):
            self._show_error(exc)
        else:
            self._show_error(PlaygroundError(f"Could not look inside this checkpoint: {exc}",
                                             "The checkpoint file may be damaged; pick another one."))

    # ================================================================== showing
    def _show_current(self) -> None:
        key = self.current_key()
        if key is None:
            return
        if key != self.shown_key:
            self._dirty = set(VIEWS)
        cap = self.captures.get(key)
        view = self.current_view()
        shown_all = True
        if self.arch == "gpt" and cap is not None:
            att = cap.attention
            name, score = cap.head_labels[self.layer][self.head]
            from playground.gui.widgets.attention_grid import closest_pattern

            closest = closest_pattern(cap.scores[self.layer][self.head]) if name == "mixed" else None
            near = f" Closest simple pattern: {PATTERN_TITLES[closest]}." if closest else ""
            self.head_info.setText(f"Layer {self.layer + 1}, head {self.head + 1}: "
                                   f"<b>{PATTERN_TITLES.get(name, name)}</b> ({score:.2f}) — "
                                   f"{analysis.LABEL_DESCRIPTIONS[name]}{near}")
            if "Grid" in self._dirty and view == "Grid":
                self.grid.set_data(att, self.labels, cap.head_labels, cap.scores)
                self.grid.set_selected((self.layer, self.head))
                self._dirty.discard("Grid")
            if "Head" in self._dirty and view == "Head":
                self.head_view.set_data(att[self.layer, self.head], self.labels)
                if self.query is not None:
                    self.head_view.set_query(self.query)
                self._dirty.discard("Head")
            if "Lines" in self._dirty and view == "Lines":
                w = att[self.layer].mean(axis=0) if self.average_box.isChecked() else att[self.layer, self.head]
                self.lines.set_data(w, self.labels)
                self._dirty.discard("Lines")
            if "Head labels" in self._dirty and view == "Head labels":
                self._fill_table(cap)
                self._dirty.discard("Head labels")
            if view == "The math":
                math = cap.math.get((self.layer, self.head))
                if math is None:
                    shown_all = False
                elif "The math" in self._dirty:
                    self.math_view.set_math(math, self.labels, self.ids, self.query)
                    self._dirty.discard("The math")
        elif self.arch == "gpt":
            shown_all = False
        if view == "Embeddings":
            emb = self.embeds.get(key[:2])
            if emb is None:
                shown_all = False
            elif "Embeddings" in self._dirty:
                labels = self._vocab_labels()
                order = self.frequency.get(key[0])
                self.embed_view.set_tokens(emb.coords, emb.explained, labels, order, step=key[1])
                self.embed_view.set_positions(emb.positions, emb.similarity, emb.positional)
                self._dirty.discard("Embeddings")
        if shown_all:
            self.shown_key = key
            self.shown.emit()

    def _vocab_labels(self) -> list[str]:
        key = str(self.run.path)
        if key not in self.vocab_labels:
            tok = self.tokenizer
            self.vocab_labels[key] = [tok.token_label(i) for i in range(tok.vocab_size)]
        return self.vocab_labels[key]

    def _fill_table(self, cap: Capture) -> None:
        table = self.table
        table.setSortingEnabled(False)
        rows = [(l, h) for l in range(len(cap.scores)) for h in range(len(cap.scores[l]))]
        table.setRowCount(len(rows))
        for r, (l, h) in enumerate(rows):
            name, _score = cap.head_labels[l][h]
            values: list[Any] = [l + 1, h + 1, PATTERN_TITLES.get(name, name)]
            values += [cap.scores[l][h][p] for p in PATTERN_COLUMNS]
            for c, value in enumerate(values):
                item = QTableWidgetItem()
                if value is None:
                    item.setData(Qt.DisplayRole, "—")
                    item.setToolTip("No repeated tokens in this text: induction cannot be measured.")
                elif isinstance(value, float):
                    item.setData(Qt.DisplayRole, round(value, 3))
                else:
                    item.setData(Qt.DisplayRole, value)
                if c == 0:
                    item.setData(Qt.UserRole, l)
                elif c == 1:
                    item.setData(Qt.UserRole, h)
                elif c == 2:
                    item.setToolTip(analysis.LABEL_DESCRIPTIONS.get(name, ""))
                item.setTextAlignment(Qt.AlignCenter)
                table.setItem(r, c, item)
        table.setSortingEnabled(True)

    # ================================================================== errors, export, life
    def _show_error(self, exc: PlaygroundError) -> None:
        hint = f"<br><i>{exc.hint}</i>" if getattr(exc, "hint", None) else ""
        self.error_label.setText(f"{exc.message}{hint}")
        self.error_label.show()

    def _clear_error(self) -> None:
        if self._built:
            self.error_label.hide()

    def export_png(self, path: str | Path) -> Path:
        """Save the current view as a PNG file."""
        path = Path(path)
        widget = self.views.currentWidget()
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
        step = self.step
        name = f"{self.run.name}-{'latest' if step is None else f'step{step}'}-{self.current_view().lower().replace(' ', '-')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export the view as PNG", str(Path.home() / name),
                                              "PNG image (*.png)")
        if path:
            try:
                self.export_png(path)
                self.status_label.setText(f"Saved {Path(path).name}")
            except PlaygroundError as exc:
                self._show_error(exc)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._update_page()
        if self._built:
            self.picker.refresh()
            if self.run is None and self.picker.current() is not None:
                self._run_picked(self.picker.current())
            elif self.run is not None:
                self._poll_run()
            self._poll.start()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self._poll.stop()

    def shutdown(self) -> None:
        self._closed = True
        self._poll.stop()
        workers.shutdown(self)
