"""Step 6, the Generate tab: type a prompt and watch the model write, token by token.

Three pages share one run picker and one row of sampling controls:

* **Write**: Generate streams tokens from a worker thread (``core.generate.stream_tokens``, KV
  cache) into token boxes shaded by the probability of each choice; a bar chart shows the
  next-token distribution before and after temperature / top-k / top-p. *Next token* writes
  one token at a time and shows the choices for the following one; clicking a bar writes
  that token instead and generation continues from there. The boxes can instead show the
  attention of the selected token in one layer and head.
* **Score a text**: each token shaded by the model's surprise (``core.generate.score_text``),
  with average loss and perplexity; one click scores an excerpt of the training split next to
  one of the validation split.
* **Compare**: the same prompt and seed on two runs (or two checkpoints of one run).

Models load in a worker and stay cached per run and checkpoint. torch is only imported inside
functions: this module is imported when the window starts.
"""

from __future__ import annotations

import html
import math
import os
import random
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from playground.core import atomic, checkpoint
from playground.errors import PlaygroundError
from playground.gui import workers
from playground.gui.widgets.generated_text import ScaleLegend, ShadedTokenView
from playground.gui.widgets.run_picker import RunPicker, run_title

ERROR_STYLE = "color: #b00020;"
NOTE_STYLE = "color: #8a5a00;"
UNKNOWN_BG = "#ffd6d6"
UNKNOWN_LINE = "#d62728"
MODEL_CACHE_SIZE = 4  # loaded models kept in memory (a Small model is a few MB)
ALT_TIP_ROWS = 10  # alternatives listed in a token's tooltip
EXCERPT_CHARS = 800  # train-vs-validation excerpts
MARK_DELAY_MS = 150  # unknown-character marking waits for a pause in typing
DEFAULT_PROMPT = "The "
CHART_INTERVAL_S = 0.1  # while streaming, the chart follows at most ~10 times a second


# ------------------------------------------------------------------------------ helpers


def pct(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 or p == 0 else f"{p:.2%}"


def quoted(label: str) -> str:
    return f"‘{label}’"


def utf16_offset(text: str, index: int) -> int:
    """Qt counts positions in UTF-16 code units; Python in code points."""
    return len(text[:index].encode("utf-16-le")) // 2


def mark_spans(edit: QPlainTextEdit, spans: list[tuple[int, int]]) -> None:
    """Red background and wavy red underline on ``spans`` (Python indexes) of the editor's text."""
    text = edit.toPlainText()
    selections = []
    fmt = QTextCharFormat()
    fmt.setBackground(QColor(UNKNOWN_BG))
    fmt.setUnderlineStyle(QTextCharFormat.WaveUnderline)
    fmt.setUnderlineColor(QColor(UNKNOWN_LINE))
    for start, end in spans:
        sel = QTextEdit.ExtraSelection()
        cursor = QTextCursor(edit.document())
        cursor.setPosition(utf16_offset(text, start))
        cursor.setPosition(utf16_offset(text, end), QTextCursor.KeepAnchor)
        sel.cursor = cursor
        sel.format = fmt
        selections.append(sel)
    edit.setExtraSelections(selections)


def unknown_note(tokenizer: Any, text: str, spans: list[tuple[int, int]]) -> tuple[str, bool]:
    """(explanation, blocks generation) for the unknown spans of ``text``."""
    pieces = sorted({text[a:b] for a, b in spans})
    shown = ", ".join(quoted(p.replace("\n", "↵")) for p in pieces[:8]) + (" …" if len(pieces) > 8 else "")
    if getattr(tokenizer, "kind", "") == "word":
        return (f"Marked in red: {shown} — not in this model's vocabulary. The model reads each "
                "of them as <unk> (unknown word), so it cannot tell them apart.", False)
    return (f"Marked in red: {shown} — this model never saw these characters in its training text, "
            "so it has no token for them and cannot read them. Remove or replace them to continue.", True)


def message_of(exc: BaseException) -> str:
    if isinstance(exc, PlaygroundError):
        return f"{exc.message} {exc.hint or ''}".strip()
    return f"{type(exc).__name__}: {exc}"


def sampling_summary(cfg: Any) -> str:
    if cfg.greedy or cfg.temperature == 0:
        return f"greedy (always the most likely token) · seed {cfg.seed}"
    parts = [f"temperature {cfg.temperature:g}",
             f"top-k {cfg.top_k}" if cfg.top_k else "top-k off",
             f"top-p {cfg.top_p:g}" if cfg.top_p is not None and cfg.top_p < 1 else "top-p off",
             f"seed {cfg.seed}"]
    return " · ".join(parts)


def excerpt_at(text: str, start: int, n: int = EXCERPT_CHARS) -> str:
    """About ``n`` characters of ``text`` from the line start at or after ``start``."""
    if start > 0:
        nl = text.find("\n", start)
        start = nl + 1 if 0 <= nl < start + n else start
    piece = text[start:start + n]
    cut = piece.rfind("\n", n // 2)
    return piece[: cut + 1] if cut > 0 else piece


def _weights_key(run: checkpoint.Run, step: int | None) -> tuple:
    """Cache key of a run's weights: reloaded when the file changed (the run trained further)."""
    if step is None:
        path = run.latest_path
        if not path.exists():
            snaps = run.snapshots()
            path = snaps[-1][1] if snaps else path
    else:
        path = run.snapshot_path(step)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return (str(run.path.resolve()), step, str(path), stamp)


# ------------------------------------------------------------------------------ worker jobs


def _load_job(run: checkpoint.Run, step: int | None) -> Callable:
    def job(progress, cancel):
        model = run.load_model(step=step, device="cpu")
        return model, run.tokenizer

    return job


class _OneThread:
    """Run a small model's token-by-token work on one CPU thread (within a ``with`` block).

    One new token is a few tiny matrix products: splitting them over OpenMP threads gains
    nothing, and on a busy machine every split waits for a descheduled helper thread.
    Measured here (2 shared cores, load ~8): the Small model wrote 8-12 tokens/s with two
    threads in one thread of the app and ~150 with one. OpenMP's thread count is per calling
    thread, so the GUI thread keeps its own (MKL's, which torch sets too, is process-wide for
    the moment); the old value is restored at the end.
    """

    MAX_WIDTH = 384  # up to the Medium preset; wider models keep every thread

    def __init__(self, model) -> None:
        self.active = getattr(getattr(model, "config", None), "d_model", 0) <= self.MAX_WIDTH

    def __enter__(self):
        if self.active:
            import torch

            self.before = torch.get_num_threads()
            torch.set_num_threads(1)
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            import torch

            torch.set_num_threads(self.before)


def _stream_job(model, tokenizer, ids: list[int], cfg, capture: bool, forced: dict | None = None) -> Callable:
    """Stream every TokenStep through ``progress.item``; the GUI receives them in batches."""

    def job(progress, cancel):
        from playground.core.generate import stream_tokens

        started = time.perf_counter()
        n = 0
        with _OneThread(model):
            for step in stream_tokens(model, tokenizer, ids, cfg, forced=forced, stop=cancel,
                                      capture_attention=capture):
                if step.attention is not None:
                    step.attention = step.attention.half()  # half the memory for long texts
                progress.item(step)
                n += 1
        return {"tokens": n, "seconds": time.perf_counter() - started}

    return job


def _steps_job(model, tokenizer, ids: list[int], cfg, capture: bool, forced: dict | None) -> Callable:
    """A few steps at once (step mode): returns the list of TokenSteps."""

    def job(progress, cancel):
        from playground.core.generate import stream_tokens

        out = []
        with _OneThread(model):
            for step in stream_tokens(model, tokenizer, ids, cfg, forced=forced, stop=cancel,
                                      capture_attention=capture):
                if step.attention is not None:
                    step.attention = step.attention.half()
                out.append(step)
        return out

    return job


def _score_job(model, tokenizer, texts: list[str], record: dict | None, split: float) -> Callable:
    """Score ``texts``; with a corpus ``record``, score a training and a validation excerpt."""

    def job(progress, cancel):
        from playground.core.generate import score_text

        if record is not None:
            from playground.core.corpus import verify_record

            corpus = verify_record(record)
            train_text, val_text = corpus.split(split)
            # Both from the start of a line: the middle of the training text, the validation
            # text's first full line.
            texts[:] = [excerpt_at(train_text, len(train_text) // 2), excerpt_at(val_text, 1)]
        return [(text, score_text(model, tokenizer, text)) for text in texts]

    return job


def _compare_job(sides: dict[str, tuple], cfg, capture: bool) -> Callable:
    """Generate on both sides in turns, so both texts grow together."""

    def job(progress, cancel):
        from playground.core.generate import stream_tokens

        gens = {name: stream_tokens(model, tok, ids, cfg, stop=cancel, capture_attention=capture)
                for name, (model, tok, ids) in sides.items()}
        with _OneThread(sides["a"][0]), _OneThread(sides["b"][0]):
            while gens:
                for name in list(gens):
                    try:
                        step = next(gens[name])
                    except StopIteration:
                        del gens[name]
                        continue
                    step.attention = None  # the Compare page does not show attention
                    progress.item((name, step))
        return True

    return job


# ------------------------------------------------------------------------------ the tab


class GenerateTab(QWidget):
    TITLE = "Generate"
    AVAILABLE = True

    requestTab = Signal(str)
    tokensShown = Signal(int)  # generated tokens now in the view (benchmark and tests)
    modelReady = Signal(object)  # a model finished loading (the Run)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._models: OrderedDict[tuple, tuple] = OrderedDict()  # key -> (model, tokenizer)
        self._loading: dict[tuple, tuple[workers.WorkerHandle, list]] = {}
        self.run: checkpoint.Run | None = None
        # The Write page's text: prompt tokens, then one TokenStep per written token.
        self.prompt_text = ""
        self.prompt_ids: list[int] = []
        self.prompt_labels: list[str] = []
        self.steps: list = []
        self.proposal = None  # step mode: the choices for the next token (not written yet)
        self.focus: int | None = None  # index into steps; None: the newest (or the proposal)
        self.window_start = 0  # index of the first token the model still sees
        self.session_run: checkpoint.Run | None = None
        self.session_tokenizer: Any = None
        self.session_ctx = 0
        self.gen_handle: workers.WorkerHandle | None = None
        self.score_handle: workers.WorkerHandle | None = None
        self.compare_handle: workers.WorkerHandle | None = None
        self._stopping = False
        self._pending_start = False  # Generate pressed, the model still loading
        self._cancel_start = False  # ... and Stop pressed meanwhile
        self._gen_started = 0.0
        self.last_stats: dict = {}
        self.entries: list[dict] = []  # the session's prompts and outputs (Markdown export)
        self._entry: dict | None = None
        self.last_scores: list = []  # [(text, TextScore)] of the Score page
        self.compare_steps: dict[str, list] = {"a": [], "b": []}
        self._compare_prompt: dict[str, tuple] = {}
        self._compare_entries: list[dict] = []
        self._attention_row: tuple[int, list[float]] | None = None
        self._has_attention = False
        self._first_shown: float | None = None
        self._chart_shown = 0.0
        self._closed = False
        self._build()
        self.picker.runPicked.connect(self._run_picked)
        self.picker.combo.currentIndexChanged.connect(self._picker_index_changed)
        self.state.runChanged.connect(self._state_run_changed)
        self._update_empty_state()
        self._picker_index_changed()

    # ================================================================== UI
    def _build(self) -> None:
        self._mark_timer = QTimer(self)
        self._mark_timer.setSingleShot(True)
        self._mark_timer.setInterval(MARK_DELAY_MS)
        self._mark_timer.timeout.connect(self._mark_unknown)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_empty_page())
        main = QWidget()
        self.stack.addWidget(main)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self.stack)

        layout = QVBoxLayout(main)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.picker = RunPicker(self.state, label="Model (run):")
        self.picker.combo.setToolTip(
            "The trained model that writes. Each training on the Train tab becomes a run; the "
            "newest weights of the run are used.")
        top.addWidget(self.picker, 3)
        self.model_label = QLabel("")
        self.model_label.setStyleSheet("color: #444;")
        self.model_label.setToolTip("Size of the chosen model and how it reads text")
        top.addWidget(self.model_label, 4)
        layout.addLayout(top)
        layout.addWidget(self._build_sampling())

        self.pages = QTabWidget()
        self.pages.addTab(self._build_write_page(), "Write")
        self.pages.addTab(self._build_score_page(), "Score a text")
        self.pages.addTab(self._build_compare_page(), "Compare two models")
        self.pages.setTabToolTip(0, "Type a prompt and watch the model continue it, token by token")
        self.pages.setTabToolTip(1, "How surprised is the model by a text? Low surprise = it predicts it well")
        self.pages.setTabToolTip(2, "The same prompt and seed on two runs or two checkpoints, side by side")
        layout.addWidget(self.pages, 1)

        for keys, slot in ((("Ctrl+Return", "Ctrl+Enter"), self._shortcut_generate),
                           (("Escape",), self.stop),
                           (("Ctrl+Shift+Return", "Ctrl+Shift+Enter"), self._shortcut_next)):
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.WidgetWithChildrenShortcut)
                shortcut.activated.connect(slot)

    def _build_empty_page(self) -> QWidget:
        page = QWidget()
        column = QVBoxLayout()
        heading = QLabel("No trained model yet")
        heading.setAlignment(Qt.AlignCenter)
        heading.setStyleSheet("font-size: 16pt; font-weight: bold; color: #333;")
        text = QLabel("The Generate tab writes with a model you trained. Train one on the Train "
                      "tab (a Tiny model trains in a minute), then come back here.")
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignCenter)
        text.setStyleSheet("font-size: 11pt; color: #333;")
        self.train_first_button = QPushButton("Train a model first")
        self.train_first_button.setToolTip("Go to the Train tab")
        self.train_first_button.clicked.connect(lambda: self.requestTab.emit("Train"))
        refresh = QPushButton("Look again for runs")
        refresh.setToolTip("Re-read the runs folder (e.g. after training from the command line)")
        refresh.clicked.connect(self.refresh_runs)
        column.addWidget(heading)
        column.addWidget(text)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.train_first_button)
        buttons.addWidget(refresh)
        buttons.addStretch(1)
        column.addLayout(buttons)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addLayout(column, 3)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    def _build_sampling(self) -> QWidget:
        box = QGroupBox("How each next token is chosen")
        row = QHBoxLayout(box)
        row.setContentsMargins(8, 4, 8, 4)

        def add(label: str, widget: QWidget, tip: str) -> None:
            lab = QLabel(label)
            lab.setToolTip(tip)
            widget.setToolTip(tip)
            lab.setBuddy(widget)
            row.addWidget(lab)
            row.addWidget(widget)
            row.addSpacing(8)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(1.0)
        add("&Temperature", self.temperature,
            "Temperature divides the model's scores (logits) before they become probabilities: "
            "below 1 sharpens the distribution (safe, repetitive), above 1 flattens it "
            "(adventurous, more mistakes). 0 = always the most likely token.")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100_000)
        self.top_k.setSpecialValueText("off")
        add("Top-&k", self.top_k,
            "Top-k keeps only the k most likely tokens and cuts off all others before drawing. "
            "'off' keeps every token.")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setDecimals(2)
        self.top_p.setValue(1.0)
        add("Top-&p", self.top_p,
            "Top-p (nucleus sampling) keeps the most likely tokens that together make up this "
            "share of the probability, and cuts off the unlikely tail. 1.00 = off (keep all).")
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 5000)
        self.max_tokens.setValue(200)
        add("&Max new tokens", self.max_tokens, "How many tokens the model writes after the prompt.")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(1234)
        add("S&eed", self.seed,
            "The random seed for drawing tokens: the same prompt, settings and seed always give "
            "the same text, so results can be repeated and compared.")
        self.fixed_seed = QCheckBox("same seed each time")
        self.fixed_seed.setChecked(True)
        self.fixed_seed.setToolTip(
            "Checked: every Generate uses the seed shown (repeatable). Unchecked: a new random "
            "seed each time; it is shown in the seed box so you can repeat a text you liked.")
        row.addWidget(self.fixed_seed)
        row.addSpacing(8)
        self.greedy = QCheckBox("&Greedy")
        self.greedy.setToolTip(
            "Greedy decoding: always take the single most likely token (no randomness). Often "
            "gets stuck repeating itself.")
        self.greedy.toggled.connect(self._greedy_toggled)
        row.addWidget(self.greedy)
        row.addStretch(1)
        return box

    def _build_write_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        prompt_row = QHBoxLayout()
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Type the beginning of a text; the model continues it.")
        self.prompt.setToolTip("The prompt: the text the model continues. Ctrl+Enter generates.")
        self.prompt.setPlainText(DEFAULT_PROMPT)
        self.prompt.setFixedHeight(self.fontMetrics().height() * 4 + 12)
        self.prompt.textChanged.connect(self._mark_timer.start)
        prompt_row.addWidget(self.prompt, 1)
        buttons = QGridLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Write up to 'max new tokens' tokens after the prompt (Ctrl+Enter)")
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop writing now (Esc)")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.next_button = QPushButton("Next token ▸")
        self.next_button.setToolTip(
            "Step mode: write one token, then see the choices for the next one in the chart; "
            "press again to take the model's pick, or click a bar to choose another token "
            "(Ctrl+Shift+Enter)")
        self.next_button.clicked.connect(self.next_token)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty the output (the prompt stays)")
        self.clear_button.clicked.connect(self.clear_output)
        buttons.addWidget(self.generate_button, 0, 0)
        buttons.addWidget(self.stop_button, 0, 1)
        buttons.addWidget(self.next_button, 1, 0)
        buttons.addWidget(self.clear_button, 1, 1)
        prompt_row.addLayout(buttons)
        layout.addLayout(prompt_row)
        self.prompt_note = QLabel("")
        self.prompt_note.setWordWrap(True)
        self.prompt_note.setStyleSheet(NOTE_STYLE)
        self.prompt_note.hide()
        self.remove_unknown_button = QPushButton("Remove them")
        self.remove_unknown_button.setToolTip("Delete the characters the model cannot read from the prompt")
        self.remove_unknown_button.clicked.connect(self.remove_unknown)
        self.remove_unknown_button.hide()
        note_row = QHBoxLayout()
        note_row.addWidget(self.prompt_note, 1)
        note_row.addWidget(self.remove_unknown_button)
        layout.addLayout(note_row)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.hide()
        layout.addWidget(self.error_label)

        split = QSplitter(Qt.Horizontal)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.view = ShadedTokenView()
        self.view.placeholder = ("The prompt and the model's text appear here as token boxes. "
                                 "Press Generate (Ctrl+Enter), or Next token to go step by step.")
        self.view.tip_provider = self._view_tip
        self.view.tokenClicked.connect(self._token_clicked)
        self.view.setToolTip("")
        lv.addWidget(self.view, 1)
        colour_row = QHBoxLayout()
        self.colour_by = QComboBox()
        self.colour_by.addItems(["probability of each chosen token", "attention of the selected token"])
        self.colour_by.setToolTip(
            "Colour the boxes by the probability the model gave each token it wrote (dark = "
            "unlikely, a surprising choice), or by how much the selected token's position "
            "attends to each earlier token in one attention head (click a token to select it).")
        self.colour_by.currentIndexChanged.connect(self._colour_mode_changed)
        colour_row.addWidget(QLabel("Colour:"))
        colour_row.addWidget(self.colour_by)
        self.layer_spin = QSpinBox()
        self.layer_spin.setPrefix("layer ")
        self.layer_spin.setRange(1, 1)
        self.layer_spin.setToolTip("Which transformer block's attention to show")
        self.head_spin = QSpinBox()
        self.head_spin.setPrefix("head ")
        self.head_spin.setRange(1, 1)
        self.head_spin.setToolTip("Which attention head of that block (each head learns its own pattern)")
        for spin in (self.layer_spin, self.head_spin):
            spin.valueChanged.connect(self._refresh_values)
            spin.setEnabled(False)
            colour_row.addWidget(spin)
        self.legend = ScaleLegend("0%", "100%", "")
        colour_row.addWidget(self.legend, 1)
        lv.addLayout(colour_row)
        self.window_note = QLabel("")
        self.window_note.setWordWrap(True)
        self.window_note.setStyleSheet(NOTE_STYLE)
        self.window_note.hide()
        lv.addWidget(self.window_note)
        status_row = QHBoxLayout()
        self.status = QLabel("")
        self.status.setStyleSheet("color: #444;")
        status_row.addWidget(self.status, 1)
        self.copy_button = QPushButton("Copy text")
        self.copy_button.setToolTip("Copy the prompt and the written text to the clipboard")
        self.copy_button.clicked.connect(self.copy_output)
        self.export_button = QPushButton("Export session…")
        self.export_button.setToolTip("Save every prompt and output of this session as a Markdown file")
        self.export_button.clicked.connect(self.export_dialog)
        status_row.addWidget(self.copy_button)
        status_row.addWidget(self.export_button)
        lv.addLayout(status_row)
        split.addWidget(left)

        # The chart (pyqtgraph, ~0.5 s to import) is made when the tab is first shown, not at
        # window start-up.
        self.chart_holder = QWidget()
        self.chart_holder.setMinimumWidth(330)
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        self._chart = None
        split.addWidget(self.chart_holder)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 440])
        layout.addWidget(split, 1)
        self._update_legend()
        return page

    def _build_score_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.score_edit = QPlainTextEdit()
        self.score_edit.setPlaceholderText(
            "Paste or type a text: every token gets shaded by how surprised the model is.")
        self.score_edit.setToolTip("The text to score. The model predicts each token from the ones before it.")
        self.score_edit.setFixedHeight(self.fontMetrics().height() * 5 + 12)
        self.score_edit.textChanged.connect(self._mark_timer.start)
        row.addWidget(self.score_edit, 1)
        col = QVBoxLayout()
        self.score_button = QPushButton("Score")
        self.score_button.setToolTip("Shade each token by the model's surprise (its loss) and compute the perplexity")
        self.score_button.clicked.connect(self.score)
        self.trainval_button = QPushButton("Train vs validation")
        self.trainval_button.setToolTip(
            "Score an excerpt of the training text and one of the validation text (never used "
            "for training) side by side. Much lower loss on training text = memorising (overfitting).")
        self.trainval_button.clicked.connect(self.score_train_vs_val)
        col.addWidget(self.score_button)
        col.addWidget(self.trainval_button)
        col.addStretch(1)
        row.addLayout(col)
        layout.addLayout(row)
        self.score_note = QLabel("")
        self.score_note.setWordWrap(True)
        self.score_note.setStyleSheet(NOTE_STYLE)
        self.score_note.hide()
        layout.addWidget(self.score_note)
        self.score_error = QLabel("")
        self.score_error.setWordWrap(True)
        self.score_error.setStyleSheet(ERROR_STYLE)
        self.score_error.hide()
        layout.addWidget(self.score_error)
        self.score_legend = ScaleLegend("", "", "Surprise (loss):")
        self.score_legend.setToolTip(
            "Loss = −ln(probability the model gave the real next token). 0: the model was sure; "
            "ln(vocabulary size): no better than guessing uniformly among all tokens.")
        layout.addWidget(self.score_legend)
        columns = QHBoxLayout()
        self.score_views: list[ShadedTokenView] = []
        self.score_heads: list[QLabel] = []
        self.score_summaries: list[QLabel] = []
        self.score_columns: list[QWidget] = []
        for i in range(2):
            column = QWidget()
            cv = QVBoxLayout(column)
            cv.setContentsMargins(0, 0, 0, 0)
            head = QLabel("")
            head.setStyleSheet("font-weight: bold;")
            view = ShadedTokenView()
            view.follow_end = False
            view.tip_provider = (lambda index, i=i: self._score_tip(i, index))
            summary = QLabel("")
            summary.setWordWrap(True)
            summary.setToolTip(
                "Average loss: the mean surprise per token. Perplexity = e^(average loss): the model "
                "is as unsure as if it chose uniformly among that many tokens.")
            cv.addWidget(head)
            cv.addWidget(view, 1)
            cv.addWidget(summary)
            columns.addWidget(column, 1)
            self.score_views.append(view)
            self.score_heads.append(head)
            self.score_summaries.append(summary)
            self.score_columns.append(column)
        self.score_views[0].placeholder = "Press Score to see the text's tokens shaded by surprise."
        self.score_columns[1].hide()
        layout.addLayout(columns, 1)
        self.score_verdict = QLabel("")
        self.score_verdict.setWordWrap(True)
        layout.addWidget(self.score_verdict)
        return page

    def _build_compare_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        self.compare_prompt = QPlainTextEdit()
        self.compare_prompt.setPlaceholderText("The prompt both models continue")
        self.compare_prompt.setToolTip("Both models continue this prompt with the same settings and seed")
        self.compare_prompt.setFixedHeight(self.fontMetrics().height() * 3 + 12)
        self.compare_prompt.setPlainText(DEFAULT_PROMPT)
        row.addWidget(self.compare_prompt, 1)
        col = QVBoxLayout()
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Generate with both models: same prompt, same settings, same seed")
        self.compare_button.clicked.connect(self.compare)
        self.compare_stop = QPushButton("Stop")
        self.compare_stop.setEnabled(False)
        self.compare_stop.setToolTip("Stop both")
        self.compare_stop.clicked.connect(self.stop_compare)
        col.addWidget(self.compare_button)
        col.addWidget(self.compare_stop)
        col.addStretch(1)
        row.addLayout(col)
        layout.addLayout(row)
        self.compare_error = QLabel("")
        self.compare_error.setWordWrap(True)
        self.compare_error.setStyleSheet(ERROR_STYLE)
        self.compare_error.hide()
        layout.addWidget(self.compare_error)
        columns = QHBoxLayout()
        self.compare_runs: dict[str, QComboBox] = {}
        self.compare_ckpts: dict[str, QComboBox] = {}
        self.compare_views: dict[str, ShadedTokenView] = {}
        self.compare_stats: dict[str, QLabel] = {}
        for name, title in (("a", "Model A"), ("b", "Model B")):
            box = QGroupBox(title)
            bv = QVBoxLayout(box)
            pick = QHBoxLayout()
            runs = QComboBox()
            runs.setMinimumContentsLength(20)
            runs.setToolTip("The run (trained model) on this side")
            runs.currentIndexChanged.connect(lambda _i, n=name: self._fill_checkpoints(n))
            ckpt = QComboBox()
            ckpt.setToolTip("Which saved weights of the run: the newest, or an earlier checkpoint "
                            "(compare the model before and after more training)")
            pick.addWidget(runs, 3)
            pick.addWidget(ckpt, 2)
            bv.addLayout(pick)
            view = ShadedTokenView()
            view.tip_provider = (lambda index, n=name: self._compare_tip(n, index))
            bv.addWidget(view, 1)
            stats = QLabel("")
            stats.setWordWrap(True)
            bv.addWidget(stats)
            columns.addWidget(box, 1)
            self.compare_runs[name] = runs
            self.compare_ckpts[name] = ckpt
            self.compare_views[name] = view
            self.compare_stats[name] = stats
        self.compare_views["a"].placeholder = "Pick two runs (or two checkpoints of one run) and press Compare."
        layout.addLayout(columns, 1)
        legend = ScaleLegend("0%", "100%", "Probability of each chosen token:")
        layout.addWidget(legend)
        return page

    @property
    def chart(self):
        """The bar chart of the next-token distribution (created on first use)."""
        if self._chart is None:
            from playground.gui.widgets.prob_bars import ProbBars

            self._chart = ProbBars()
            self._chart.tokenClicked.connect(self._bar_clicked)
            self._chart.clickable = not self._gen_running()
            self.chart_holder.layout().addWidget(self._chart)
        return self._chart

    # ================================================================== runs and models
    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.refresh_runs()
        self.chart  # noqa: B018 - build it now that the tab is on screen
        self._preload()

    @Slot()
    def refresh_runs(self) -> None:
        self.picker.refresh()
        self._fill_compare_runs()
        self._update_empty_state()

    def _update_empty_state(self) -> None:
        has_runs = self.picker.combo.count() > 0
        self.stack.setCurrentIndex(1 if has_runs else 0)

    @Slot(object)
    def _state_run_changed(self, run) -> None:
        self._update_empty_state()

    @Slot(object)
    def _run_picked(self, run) -> None:
        self._set_run(run)

    @Slot()
    def _picker_index_changed(self, *_args) -> None:
        self._set_run(self.picker.current())

    def _set_run(self, run: checkpoint.Run | None) -> None:
        self._update_empty_state()
        if run is None or run == self.run:
            return
        self.run = run
        cfg = run.model_config
        self.model_label.setText(
            f"{run.info.get('model', {}).get('arch', 'gpt')} · {cfg.n_layer} layers × {cfg.n_head} heads × "
            f"{cfg.d_model} wide · context {cfg.context_length} tokens · "
            f"{run.info.get('tokenizer', {}).get('kind', '?')} tokenizer, {cfg.vocab_size} tokens")
        self.top_k.setMaximum(max(1, cfg.vocab_size))
        self._fill_compare_runs()
        self._preload()

    def _preload(self) -> None:
        """Load the current run's model in the background, so Generate starts at once. Only
        while the tab is on screen: at window start-up torch must not compete with painting."""
        if self.run is not None and self.isVisible() and self.cached_model(self.run) is None:
            self.with_model(self.run, None, lambda *_: self._mark_unknown(), self._preload_failed)

    def with_model(self, run: checkpoint.Run, step: int | None, then: Callable, on_fail: Callable) -> None:
        """Call ``then(model, tokenizer)`` with the run's weights, loading them in a worker if needed."""
        key = _weights_key(run, step)
        if key in self._models:
            self._models.move_to_end(key)
            then(*self._models[key])
            return
        if key in self._loading:
            self._loading[key][1].append((then, on_fail))
            return
        waiting = [(then, on_fail)]

        def done(result) -> None:
            self._loading.pop(key, None)
            self._models[key] = result
            while len(self._models) > MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
            self.modelReady.emit(run)
            for ok, _ in waiting:
                ok(*result)

        def failed(exc: BaseException) -> None:
            self._loading.pop(key, None)
            for _, bad in waiting:
                bad(exc)

        handle = workers.start(_load_job(run, step), parent=self, on_done=done, on_error=failed, name="load-model")
        self._loading[key] = (handle, waiting)

    def cached_model(self, run: checkpoint.Run, step: int | None = None) -> tuple | None:
        return self._models.get(_weights_key(run, step))

    def _preload_failed(self, exc: BaseException) -> None:
        self._show_error(message_of(exc))

    @property
    def busy(self) -> bool:
        handles = [self.gen_handle, self.score_handle, self.compare_handle]
        handles += [h for h, _ in self._loading.values()]
        return self._pending_start or any(h is not None and h.running for h in handles)

    # ================================================================== sampling
    @Slot(bool)
    def _greedy_toggled(self, on: bool) -> None:
        for widget in (self.temperature, self.top_k, self.top_p):
            widget.setEnabled(not on)

    def sampling_config(self, max_new_tokens: int, seed_offset: int = 0):
        from playground.core.generate import SamplingConfig

        if not self.fixed_seed.isChecked() and seed_offset == 0:
            self.seed.setValue(random.randrange(2**31 - 1))
        top_k = self.top_k.value() or None
        top_p = round(self.top_p.value(), 4)
        cfg = SamplingConfig(
            temperature=round(self.temperature.value(), 4), top_k=top_k,
            top_p=None if top_p >= 1 else top_p, greedy=self.greedy.isChecked(),
            seed=(self.seed.value() + seed_offset) % (2**31 - 1), max_new_tokens=int(max_new_tokens),
        )
        cfg.validate()
        return cfg

    # ================================================================== unknown characters
    @Slot()
    def _mark_unknown(self) -> None:
        """Mark characters (or words) the current run's tokenizer cannot represent, in place."""
        tokenizer = self._current_tokenizer()
        for edit, note, button in ((self.prompt, self.prompt_note, self.remove_unknown_button),
                                   (self.score_edit, self.score_note, None)):
            text = edit.toPlainText()
            spans = tokenizer.unknown_spans(text) if tokenizer is not None and text else []
            mark_spans(edit, spans)
            if spans:
                message, blocks = unknown_note(tokenizer, text, spans)
                note.setText(message)
                note.show()
                if button is not None:
                    button.setVisible(blocks)
            else:
                note.hide()
                if button is not None:
                    button.hide()

    def _current_tokenizer(self) -> Any:
        if self.run is None:
            return None
        entry = self.cached_model(self.run)
        return entry[1] if entry is not None else None

    @Slot()
    def remove_unknown(self) -> None:
        tokenizer = self._current_tokenizer()
        if tokenizer is None:
            return
        text = self.prompt.toPlainText()
        spans = tokenizer.unknown_spans(text)
        for start, end in reversed(spans):
            text = text[:start] + text[end:]
        self.prompt.setPlainText(text)
        self._mark_unknown()

    # ================================================================== Write: generate
    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    @Slot()
    def _shortcut_generate(self) -> None:
        page = self.pages.currentIndex()
        if page == 0:
            self.generate()
        elif page == 1:
            self.score()
        else:
            self.compare()

    @Slot()
    def _shortcut_next(self) -> None:
        if self.pages.currentIndex() == 0:
            self.next_token()

    def _gen_running(self) -> bool:
        return self._pending_start or (self.gen_handle is not None and self.gen_handle.running)

    def _new_session(self, tokenizer) -> bool:
        """Start a new text from the prompt box; False (with an inline message) if it cannot."""
        from playground.errors import TokenizerError

        text = self.prompt.toPlainText()
        if not text:
            self._show_error("The prompt is empty: type a few characters for the model to continue "
                             f"(for example {quoted(DEFAULT_PROMPT)}).")
            return False
        spans = tokenizer.unknown_spans(text)
        if spans and getattr(tokenizer, "kind", "") != "word":
            mark_spans(self.prompt, spans)
            message, _ = unknown_note(tokenizer, text, spans)
            self.prompt_note.setText(message)
            self.prompt_note.show()
            self.remove_unknown_button.show()
            self._show_error("The prompt has characters this model cannot read (marked in red above).")
            return False
        try:
            ids = list(tokenizer.encode(text))
        except TokenizerError as exc:
            self._show_error(message_of(exc))
            return False
        ctx = self.run.model_config.context_length
        self.prompt_text = text
        self.prompt_ids = ids
        self.prompt_labels = [tokenizer.token_label(i) for i in ids]
        self.steps = []
        self.proposal = None
        self.focus = None
        self.window_start = max(0, len(ids) - ctx)
        self.session_run = self.run
        self.session_tokenizer = tokenizer
        self.session_ctx = ctx
        self._entry = None
        cfg = self.run.model_config
        self.layer_spin.setRange(1, max(1, cfg.n_layer))
        self.head_spin.setRange(1, max(1, cfg.n_head))
        self._has_attention = cfg.arch == "gpt" and cfg.n_layer > 0
        self.colour_by.model().item(1).setEnabled(self._has_attention)
        if not self._has_attention and self.colour_by.currentIndex() == 1:
            self.colour_by.setCurrentIndex(0)
        self._refresh_view()
        return True

    @Slot()
    def generate(self) -> None:
        """Write up to 'max new tokens' tokens after the prompt, streaming them into the view."""
        if self.run is None or self._gen_running():
            return
        self._show_error("")
        try:
            cfg = self.sampling_config(self.max_tokens.value())
        except PlaygroundError as exc:
            self._show_error(message_of(exc))
            return
        self._pending_start = True
        self._press_time = time.perf_counter()
        self._set_running(True)
        self.status.setText("Loading the model…" if self.cached_model(self.run) is None else "")
        self.with_model(self.run, None, lambda m, t: self._start_stream(m, t, cfg), self._start_failed)

    def _start_failed(self, exc: BaseException) -> None:
        self._pending_start = False
        self._set_running(False)
        self.status.setText("")
        self._show_error(message_of(exc))

    def _start_stream(self, model, tokenizer, cfg) -> None:
        self._pending_start = False
        if self._closed or self._cancel_start or not self._new_session(tokenizer):
            self._cancel_start = False
            self._set_running(False)
            self.status.setText("")
            return
        self._stopping = False
        self._current_cfg = cfg
        self._start_entry(cfg)
        self.status.setText("Writing…")
        self._gen_started = time.perf_counter()
        self._first_shown = None
        self.gen_handle = workers.start(
            _stream_job(model, tokenizer, list(self.prompt_ids[self.window_start:]), cfg, self._has_attention),
            parent=self, on_items=self._on_steps, on_done=self._stream_done, on_error=self._gen_failed,
            name="generate",
        )

    def _set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.next_button.setEnabled(not running)
        self.clear_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.chart.clickable = not running

    def _on_steps(self, batch: list) -> None:
        if self._stopping:  # Stop means stop: what was written before the press is what stays
            return
        start = len(self.steps)
        for step in batch:
            self._append_step(step)
        n0 = len(self.prompt_ids) + start
        if self.colour_by.currentIndex() == 0 and self.focus is None and len(self.view.ids) == n0:
            new = self.steps[start:]  # only the new boxes are laid out and painted
            self.view.append_shaded([s.id for s in new], [s.label for s in new], [s.prob for s in new],
                                    resets={n0 + k for k, s in enumerate(new) if s.window_reset})
            self._update_window_note()
            now = time.perf_counter()
            if now - self._chart_shown >= CHART_INTERVAL_S:  # the chart costs more to paint
                self._chart_shown = now
                self._show_chart()
        else:
            self._refresh_view()
        if self._first_shown is None:
            self._first_shown = time.perf_counter()
        self.tokensShown.emit(len(self.steps))

    def _append_step(self, step) -> None:
        self.steps.append(step)
        if step.window_reset:  # the core kept the last half of the window, this token included
            keep = max(1, self.session_ctx // 2)
            self.window_start = len(self.prompt_ids) + len(self.steps) - keep

    def _stream_done(self, result: dict) -> None:
        self._set_running(False)
        n = len(self.steps)
        seconds = result.get("seconds", 0.0) if isinstance(result, dict) else 0.0
        rate = (result.get("tokens", n) / seconds) if seconds > 0 else 0.0
        first = (self._first_shown - self._gen_started) * 1000 if self._first_shown else float("nan")
        self.last_stats = {"tokens": n, "seconds": seconds, "tokens_per_s": rate, "first_token_ms": first}
        what = "Stopped after" if self._stopping else "Wrote"
        timing = f" · {rate:,.0f} tokens/s · first token after {first:.0f} ms" if n else ""
        self.status.setText(f"{what} {n} tokens{timing}")
        self._stopping = False
        self._update_entry()
        self._refresh_view()

    def _gen_failed(self, exc: BaseException) -> None:
        self._set_running(False)
        self._stopping = False
        self.status.setText("")
        self._show_error(message_of(exc))

    @Slot()
    def stop(self) -> None:
        if self._pending_start:  # still loading the model: do not start writing afterwards
            self._cancel_start = True
        if self.gen_handle is not None and self.gen_handle.running:
            self._stopping = True
            self.gen_handle.cancel()
        if self.compare_handle is not None and self.compare_handle.running:
            self.stop_compare()

    # ================================================================== Write: step mode
    @Slot()
    def next_token(self) -> None:
        """Step mode: write one token (the proposal shown in the chart), then show the next choices."""
        if self.run is None or self._gen_running():
            return
        self._show_error("")
        continuing = (self.session_run == self.run and self.prompt_text == self.prompt.toPlainText()
                      and self.prompt_ids)
        if continuing and self.proposal is not None:
            self._append_step(self.proposal)
            self.proposal = None
            self._refresh_view()
            self._run_steps(None, 1)
        else:
            self._run_steps(None, 2, fresh=not continuing)

    def _run_steps(self, forced_id: int | None, n: int, fresh: bool = False) -> None:
        """Run ``n`` steps from the text so far (the first forced to ``forced_id``); the last one
        becomes the proposal (the choices for the next token), the others are written."""
        try:
            cfg = self.sampling_config(n, seed_offset=len(self.steps) + 1 if self.fixed_seed.isChecked() else 0)
        except PlaygroundError as exc:
            self._show_error(message_of(exc))
            return
        self._pending_start = True
        self._set_running(True)

        def start(model, tokenizer) -> None:
            self._pending_start = False
            if self._closed or self._cancel_start:
                self._cancel_start = False
                self._set_running(False)
                return
            if fresh:
                if not self._new_session(tokenizer):
                    self._set_running(False)
                    return
                self._start_entry(cfg)
            ids = self.all_ids()[self.window_start:]
            forced = {0: forced_id} if forced_id is not None else None
            self.gen_handle = workers.start(
                _steps_job(model, tokenizer, ids, cfg, self._has_attention, forced), parent=self,
                on_done=self._steps_done, on_error=self._gen_failed, name="next-token")

        self.with_model(self.run if fresh else self.session_run, None, start, self._start_failed)

    def _steps_done(self, steps: list) -> None:
        self._set_running(False)
        if not steps:
            return
        for step in steps[:-1]:
            self._append_step(step)
        self.proposal = steps[-1]
        self.focus = None
        chosen = sum(1 for s in self.steps if s.forced)
        by_you = f" ({chosen} chosen by you, underlined)" if chosen else ""
        self.status.setText(f"Step mode: {len(self.steps)} tokens written{by_you}. The chart shows the "
                            "choices for the next one.")
        self._update_entry()
        self._refresh_view()
        self.tokensShown.emit(len(self.steps))

    @Slot(int)
    def _bar_clicked(self, token_id: int) -> None:
        """Write ``token_id`` at the position the chart shows; drop what came after; continue."""
        if self._gen_running() or not self.prompt_ids:
            return
        position = len(self.steps) if self.focus is None else self.focus
        if position < len(self.steps):
            self._truncate(position)
        self.proposal = None
        self._run_steps(token_id, 2)

    def _truncate(self, n: int) -> None:
        """Keep the first ``n`` written tokens; recompute where the model's window starts."""
        self.steps = self.steps[:n]
        self.window_start = max(0, len(self.prompt_ids) - self.session_ctx)
        keep = max(1, self.session_ctx // 2)
        for k, step in enumerate(self.steps):
            if step.window_reset:
                self.window_start = len(self.prompt_ids) + k + 1 - keep

    def all_ids(self) -> list[int]:
        return self.prompt_ids + [s.id for s in self.steps]

    @property
    def generated_ids(self) -> list[int]:
        return [s.id for s in self.steps]

    def generated_text(self) -> str:
        return "".join(s.text for s in self.steps)

    @Slot()
    def clear_output(self) -> None:
        if self._gen_running():
            return
        self.prompt_ids, self.prompt_labels, self.steps = [], [], []
        self.proposal = None
        self.focus = None
        self.prompt_text = ""
        self._entry = None
        self.status.setText("")
        self._refresh_view()

    # ================================================================== Write: display
    def _focused_step(self) -> tuple[Any, int]:
        """(TokenStep shown in the chart, its position in the text) or (None, -1)."""
        if self.focus is not None and 0 <= self.focus < len(self.steps):
            return self.steps[self.focus], len(self.prompt_ids) + self.focus
        if self.proposal is not None and not self._gen_running():
            return self.proposal, len(self.prompt_ids) + len(self.steps)
        if self.steps:
            return self.steps[-1], len(self.prompt_ids) + len(self.steps) - 1
        return None, -1

    def _refresh_view(self) -> None:
        ids = self.all_ids()
        labels = self.prompt_labels + [s.label for s in self.steps]
        n_prompt = len(self.prompt_ids)
        resets = {n_prompt + k for k, s in enumerate(self.steps) if s.window_reset}
        self.view.set_shaded(ids, labels, [None] * len(ids), resets=resets)
        self.view.set_marked({n_prompt + k for k, s in enumerate(self.steps) if s.forced})
        self.view.set_pending("?" if self.proposal is not None and not self._gen_running() else None)
        self._refresh_values()
        self._update_window_note()
        self._show_chart()

    def _update_window_note(self) -> None:
        if any(s.window_reset for s in self.steps):
            keep = max(1, self.session_ctx // 2)
            self.window_note.setText(
                f"The text is now longer than the model's context window ({self.session_ctx} tokens). "
                f"At each dashed line it was cut: the model now sees only the last {keep} tokens "
                "(half the window) and forgets everything before.")
            self.window_note.show()
        else:
            self.window_note.hide()

    @Slot()
    def _refresh_values(self, *_args) -> None:
        """Shade the boxes: by probability, or by the selected token's attention."""
        n_prompt = len(self.prompt_ids)
        step, pos = self._focused_step()
        n = n_prompt + len(self.steps)
        selected = self.focus is not None or self.colour_by.currentIndex() == 1 or self.proposal is step
        self.view.set_focus_index(pos if step is not None and selected else -1)
        if self.colour_by.currentIndex() == 1 and step is not None and step.attention is not None:
            layer = min(self.layer_spin.value(), step.attention.shape[0]) - 1
            head = min(self.head_spin.value(), step.attention.shape[1]) - 1
            row = step.attention[layer, head].float().tolist()  # (S,) over the S tokens before pos
            start = pos - len(row)
            top = max(row) or 1.0
            values: list[float | None] = [None] * n
            for j, w in enumerate(row):
                if 0 <= start + j < n:
                    values[start + j] = w / top
            outside = {i for i in range(n) if i < start or i >= pos}
            self._attention_row = (start, row)
            self.view.set_values(values, outside)
            self.legend.set_labels("0", f"{pct(top)} (most)", "Attention weight:")
        else:
            self._attention_row = None
            self.view.set_values([None] * n_prompt + [s.prob for s in self.steps])
            self._update_legend()

    def _update_legend(self) -> None:
        self.legend.set_labels("0%", "100%", "Probability of the chosen token:")

    @Slot(int)
    def _colour_mode_changed(self, index: int) -> None:
        for spin in (self.layer_spin, self.head_spin):
            spin.setEnabled(index == 1)
        self._refresh_values()

    def _show_chart(self) -> None:
        step, pos = self._focused_step()
        if step is None:
            self.chart.clear()
            return
        label = quoted(step.label)
        number = pos - len(self.prompt_ids) + 1
        if self.proposal is step and not self._gen_running():
            title = (f"<b>Next token (#{number})</b>: the model would write {label} "
                     f"({pct(step.prob)}). Press <i>Next token</i> to take it, or click a bar to write "
                     "that token instead.")
        else:
            forced = " — chosen by you" if step.forced else ""
            title = (f"<b>Token #{number}</b>: {label} with probability {pct(step.prob)}{forced}. "
                     + ("Click a bar to write another token here and continue from it."
                        if not self._gen_running() else "Writing…"))
        self.chart.show_step(step.alternatives, step.id, title)

    @Slot(int)
    def _token_clicked(self, index: int) -> None:
        k = index - len(self.prompt_ids)
        if 0 <= k < len(self.steps) and k != self.focus:
            self.focus = None if (k == len(self.steps) - 1 and self.proposal is None) else k
        else:  # a prompt token, or the selected one again: back to the newest
            self.focus = None
        self._refresh_values()
        self._show_chart()

    def _view_tip(self, index: int) -> str:
        n_prompt = len(self.prompt_ids)
        extra = ""
        if self._attention_row is not None:
            start, row = self._attention_row
            if 0 <= index - start < len(row):
                extra = f"<br>attention from the selected token: <b>{pct(row[index - start])}</b>"
            else:
                extra = "<br><i>not seen by the selected token</i>"
        if index < n_prompt:
            token_id = self.prompt_ids[index]
            return (f"<b>{html.escape(quoted(self.prompt_labels[index]))}</b> — prompt token {index + 1} "
                    f"(id {token_id})<br>You wrote it; the model reads it.{extra}")
        k = index - n_prompt
        step = self.steps[k]
        raw = {i: pr for i, _, pr, _ in step.alternatives}
        own = pct(raw[step.id]) if step.id in raw else "below the top 15"
        lines = [f"<b>{html.escape(quoted(step.label))}</b> — token {k + 1} written by the model (id {step.id})",
                 f"drawn with probability <b>{pct(step.prob)}</b> (the model's own: {own})"]
        if step.forced:
            lines.append("<i>chosen by you (clicked in the chart)</i>")
        if step.window_reset:
            lines.append("<i>after this token the context window was cut to its last half</i>")
        rows = "".join(
            f"<tr><td>{html.escape(quoted(lab))}</td><td align='right'>{pct(pr)}</td>"
            f"<td align='right'>{'cut' if ps <= 0 else pct(ps)}</td></tr>"
            for _, lab, pr, ps in step.alternatives[:ALT_TIP_ROWS])
        lines.append(f"Top {ALT_TIP_ROWS} alternatives:<table cellspacing='4'><tr><th>token</th>"
                     f"<th>model</th><th>after filters</th></tr>{rows}</table>")
        return "<br>".join(lines) + extra

    # ================================================================== session export
    def _start_entry(self, cfg) -> None:
        self._entry = {
            "kind": "Write", "run": self.run.name, "checkpoint": f"step {self.run.step}",
            "settings": sampling_summary(cfg), "prompt": self.prompt.toPlainText(), "output": "",
        }
        self.entries.append(self._entry)

    def _update_entry(self) -> None:
        if self._entry is not None:
            self._entry["output"] = self.generated_text()

    def session_markdown(self) -> str:
        lines = ["# LLM Playground — generation session", "",
                 f"Exported {datetime.now().strftime('%Y-%m-%d %H:%M')}.", ""]
        for n, entry in enumerate(self.entries, 1):
            lines += [f"## {n}. {entry['kind']}: {entry['run']} ({entry['checkpoint']})", "",
                      f"Settings: {entry['settings']}", "", "**Prompt**", "", "```text",
                      entry["prompt"], "```", "", "**Output**", "", "```text", entry["output"], "```", ""]
        if not self.entries:
            lines.append("(Nothing generated yet.)")
        return "\n".join(lines)

    def export_markdown(self, path: str) -> None:
        atomic.write_text(path, self.session_markdown())

    @Slot()
    def export_dialog(self) -> None:
        if not self.entries:
            self.status.setText("Nothing to export yet: generate some text first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export the session as Markdown",
                                              os.path.expanduser("~/generation-session.md"),
                                              "Markdown (*.md);;All files (*)")
        if not path:
            return
        try:
            self.export_markdown(path)
        except OSError as exc:
            self._show_error(f"Could not write {path}: {exc.strerror or exc}. Choose another folder.")
            return
        self.status.setText(f"Session saved to {path}")

    @Slot()
    def copy_output(self) -> None:
        text = self.prompt_text + self.generated_text()
        QApplication.clipboard().setText(text)
        self.status.setText(f"Copied {len(text):,} characters.")

    # ================================================================== Score a text
    def _score_error(self, text: str) -> None:
        self.score_error.setText(text)
        self.score_error.setVisible(bool(text))

    def _score_running(self) -> bool:
        return self.score_handle is not None and self.score_handle.running

    @Slot()
    def score(self) -> None:
        text = self.score_edit.toPlainText()
        if not text.strip():
            self._score_error("Paste or type a text to score first.")
            return
        self._start_score([text], None)

    @Slot()
    def score_train_vs_val(self) -> None:
        if self.run is None:
            return
        try:
            self.run.reload()  # the run's record may have changed on disk since it was listed
        except PlaygroundError as exc:
            self._score_error(message_of(exc))
            return
        split = self.run.corpus_record.get("split") or self.run.train_config.split
        self._start_score([], dict(self.run.corpus_record), float(split))

    def _start_score(self, texts: list[str], record: dict | None, split: float = 0.9) -> None:
        if self.run is None or self._score_running():
            return
        self._score_error("")
        run = self.run
        tokenizer = self._current_tokenizer()
        if tokenizer is not None and texts:
            spans = tokenizer.unknown_spans(texts[0])
            if spans and getattr(tokenizer, "kind", "") != "word":
                self._mark_unknown()
                self._score_error("The text has characters this model cannot read (marked in red above).")
                return
        self.score_button.setEnabled(False)
        self.trainval_button.setEnabled(False)

        def start(model, tok) -> None:
            self.score_handle = workers.start(
                _score_job(model, tok, list(texts), record, split), parent=self,
                on_done=lambda result: self._scored(result, record is not None, model.config.vocab_size),
                on_error=self._score_failed, name="score")

        self.with_model(run, None, start, self._score_failed)

    def _score_failed(self, exc: BaseException) -> None:
        self.score_button.setEnabled(True)
        self.trainval_button.setEnabled(True)
        from playground.errors import CorpusError

        if isinstance(exc, CorpusError):
            self._score_error(f"Cannot score the training text: {message_of(exc)}")
        else:
            self._score_error(message_of(exc))

    def _scored(self, results: list, train_vs_val: bool, vocab: int) -> None:
        self.score_button.setEnabled(True)
        self.trainval_button.setEnabled(True)
        self.last_scores = results
        guess = math.log(max(vocab, 2))
        self.score_legend.set_labels(f"{guess:.2f} = ln {vocab} (guessing)", "0 (sure)", "Surprise (loss):")
        heads = (["Training text (the model learned from it)", "Validation text (never seen in training)"]
                 if train_vs_val else ["Your text"])
        for i, view in enumerate(self.score_views):
            if i >= len(results):
                self.score_columns[i].setVisible(False)
                continue
            text, sc = results[i]
            self.score_columns[i].setVisible(True)
            values = [None if math.isnan(v) else 1.0 - min(v / guess, 1.0) for v in sc.losses]
            view.set_shaded(sc.ids, sc.labels, values)
            view.verticalScrollBar().setValue(0)
            self.score_heads[i].setText(heads[i])
            self.score_summaries[i].setText(
                f"{len(sc.ids)} tokens · average loss <b>{sc.mean_loss:.3f}</b> · perplexity "
                f"<b>{sc.perplexity:.2f}</b> (as unsure as choosing among {sc.perplexity:.1f} tokens)")
        if train_vs_val and len(results) == 2:
            train, val = results[0][1].mean_loss, results[1][1].mean_loss
            gap = val - train
            if gap > 0.1 * max(train, 0.05):
                verdict = (f"Validation loss is {gap:.3f} higher: the model predicts text it trained on "
                           "better than new text. A large gap means it memorises instead of learning "
                           "general rules (overfitting).")
            else:
                verdict = ("Training and validation loss are close: the model does as well on text it "
                           "never saw, so it has learned general patterns rather than memorised the text.")
            self.score_verdict.setText(verdict)
        else:
            self.score_verdict.setText("")

    def _score_tip(self, column: int, index: int) -> str:
        if column >= len(self.last_scores):
            return ""
        _, sc = self.last_scores[column]
        label = html.escape(quoted(sc.labels[index]))
        loss = sc.losses[index]
        if math.isnan(loss):
            return f"<b>{label}</b> (id {sc.ids[index]})<br>The first token has no prediction: nothing comes before it."
        return (f"<b>{label}</b> (id {sc.ids[index]})<br>surprise (loss) <b>{loss:.3f}</b> = −ln p, "
                f"so the model gave it p = {pct(math.exp(-loss))}")

    # ================================================================== Compare
    def _fill_compare_runs(self) -> None:
        runs = self.picker.runs()
        for name, combo in self.compare_runs.items():
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for run in runs:
                combo.addItem(run_title(run), run)
            combo.blockSignals(False)
            want = keep or self.run
            for i in range(combo.count()):
                if combo.itemData(i) == want:
                    combo.setCurrentIndex(i)
            self._fill_checkpoints(name)

    def _fill_checkpoints(self, name: str) -> None:
        combo = self.compare_ckpts[name]
        run = self.compare_runs[name].currentData()
        keep = combo.currentData()
        combo.clear()
        if run is None:
            return
        combo.addItem(f"newest weights (step {run.step})", None)
        for step, _ in reversed(run.snapshots()):
            combo.addItem(f"checkpoint at step {step}", step)
        if name == "b" and keep is None and combo.count() > 2:
            combo.setCurrentIndex(combo.count() - 1)  # by default B is the earliest checkpoint
        else:
            for i in range(combo.count()):
                if combo.itemData(i) == keep:
                    combo.setCurrentIndex(i)

    def _compare_error(self, text: str) -> None:
        self.compare_error.setText(text)
        self.compare_error.setVisible(bool(text))

    @Slot()
    def compare(self) -> None:
        if self.compare_handle is not None and self.compare_handle.running:
            return
        self._compare_error("")
        prompt = self.compare_prompt.toPlainText()
        if not prompt:
            self._compare_error("Type a prompt for both models first.")
            return
        sides = {n: (self.compare_runs[n].currentData(), self.compare_ckpts[n].currentData()) for n in ("a", "b")}
        if any(run is None for run, _ in sides.values()):
            self._compare_error("Pick a run on both sides.")
            return
        try:
            cfg = self.sampling_config(self.max_tokens.value())
        except PlaygroundError as exc:
            self._compare_error(message_of(exc))
            return
        self.compare_button.setEnabled(False)
        self.compare_stop.setEnabled(True)
        loaded: dict[str, tuple] = {}

        def got(name: str, model, tokenizer) -> None:
            loaded[name] = (model, tokenizer)
            if len(loaded) == 2:
                self._start_compare(prompt, sides, loaded, cfg)

        def failed(exc: BaseException) -> None:
            self.compare_button.setEnabled(True)
            self.compare_stop.setEnabled(False)
            self._compare_error(message_of(exc))

        for name, (run, step) in sides.items():
            self.with_model(run, step, lambda m, t, n=name: got(n, m, t), failed)

    def _start_compare(self, prompt: str, sides: dict, loaded: dict, cfg) -> None:
        jobs = {}
        self.compare_steps = {"a": [], "b": []}
        self._compare_prompt = {}
        for name, (model, tokenizer) in loaded.items():
            spans = tokenizer.unknown_spans(prompt)
            if spans and getattr(tokenizer, "kind", "") != "word":
                message, _ = unknown_note(tokenizer, prompt, spans)
                self.compare_button.setEnabled(True)
                self.compare_stop.setEnabled(False)
                self._compare_error(f"Model {name.upper()} cannot read the prompt. {message}")
                return
            ids = list(tokenizer.encode(prompt))
            ctx = model.config.context_length
            self._compare_prompt[name] = (ids, [tokenizer.token_label(i) for i in ids])
            jobs[name] = (model, tokenizer, ids[-ctx:])
        for name, (run, step) in sides.items():
            self.entries.append({"kind": f"Compare, model {name.upper()}", "run": run.name,
                                 "checkpoint": "newest weights" if step is None else f"step {step}",
                                 "settings": sampling_summary(cfg), "prompt": prompt, "output": ""})
        self._compare_entries = self.entries[-2:]
        self._refresh_compare()
        self.compare_handle = workers.start(
            _compare_job(jobs, cfg, False), parent=self, on_items=self._compare_items,
            on_done=self._compare_done, on_error=self._compare_failed, name="compare")

    def _compare_items(self, batch: list) -> None:
        for name, step in batch:
            self.compare_steps[name].append(step)
        self._refresh_compare()

    def _refresh_compare(self) -> None:
        for name, view in self.compare_views.items():
            ids, labels = self._compare_prompt.get(name, ([], []))
            steps = self.compare_steps[name]
            view.set_shaded(ids + [s.id for s in steps], labels + [s.label for s in steps],
                            [None] * len(ids) + [s.prob for s in steps],
                            resets={len(ids) + k for k, s in enumerate(steps) if s.window_reset})
            if steps:
                mean_p = sum(s.prob for s in steps) / len(steps)
                self.compare_stats[name].setText(
                    f"{len(steps)} tokens · average probability of the chosen tokens {pct(mean_p)}")
            else:
                self.compare_stats[name].setText("")

    def _compare_done(self, _result) -> None:
        self.compare_button.setEnabled(True)
        self.compare_stop.setEnabled(False)
        for entry, name in zip(self._compare_entries, ("a", "b")):
            entry["output"] = "".join(s.text for s in self.compare_steps[name])

    def _compare_failed(self, exc: BaseException) -> None:
        self._compare_done(None)
        self._compare_error(message_of(exc))

    def _compare_tip(self, name: str, index: int) -> str:
        ids, labels = self._compare_prompt.get(name, ([], []))
        if index < len(ids):
            return f"<b>{html.escape(quoted(labels[index]))}</b> — prompt token (id {ids[index]})"
        step = self.compare_steps[name][index - len(ids)]
        rows = "".join(f"<tr><td>{html.escape(quoted(lab))}</td><td align='right'>{pct(pr)}</td></tr>"
                       for _, lab, pr, _ in step.alternatives[:ALT_TIP_ROWS])
        return (f"<b>{html.escape(quoted(step.label))}</b> (id {step.id}) drawn with probability "
                f"<b>{pct(step.prob)}</b><br>Top alternatives (the model's probability):<table>{rows}</table>")

    @Slot()
    def stop_compare(self) -> None:
        if self.compare_handle is not None and self.compare_handle.running:
            self.compare_handle.cancel()

    # ================================================================== shutdown
    def shutdown(self) -> None:
        self._closed = True
        workers.shutdown(self)
