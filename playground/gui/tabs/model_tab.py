"""Step 3, the Model tab: choose the size and shape of the GPT before training it.

A preset (Bigram, Tiny, Small, Medium, GPT-2 124M) or a custom config; every change shows at
once the parameter count per part (table + bar chart), the memory training needs at a batch
size, and a diagram of the model whose boxes explain themselves on hover. "Measure" times a
few real training steps.

Every number comes from ``playground.core.model`` (param_breakdown, memory_estimate,
check_fits). That module imports torch, which takes seconds, so it is loaded in a worker the
first time the tab is needed (a tokenizer appears or the tab is shown); until then the form
waits. A config is published to ``AppState`` only when it is valid and fits the machine; the
state keeps the last good one otherwise.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.errors import Cancelled, PlaygroundError
from playground.gui import workers
from playground.gui.error_dialog import excepthook
from playground.gui.widgets.arch_diagram import ArchDiagram

PRESETS = [("bigram", "Bigram"), ("tiny", "Tiny"), ("small", "Small"), ("medium", "Medium"),
           ("gpt2-124m", "GPT-2 124M")]
CUSTOM = "custom"
DEFAULT_PRESET = "tiny"
DEFAULT_BATCH = 12  # the Train tab's default too (TrainConfig.batch_size)
MEASURE_STEPS = 5
# Above this many parameter × token products per step (~1 TFLOP of work), a CPU needs many
# seconds per step: say so next to the numbers.
SLOW_ON_CPU = 2e11
ERROR_STYLE = "color: #b00020;"
OK_STYLE = "color: #1b5e20;"
WARN_STYLE = "color: #8a5300;"
NOTE_STYLE = "color: #555;"

PRESET_NOTES = {
    "bigram": "No attention, no layers: the next token is read from a table row of the current "
              "token. The baseline every real model should beat.",
    "tiny": "The quickest real GPT: good for a first try.",
    "small": "Writes noticeably better text, for several times Tiny's work per step.",
    "medium": "nanoGPT's Shakespeare model: meant for a GPU, slow on a CPU.",
    "gpt2-124m": "The size of the smallest GPT-2 (124 million parameters with GPT-2's own "
                 "vocabulary). Here to compare sizes: far too slow to train on a CPU.",
    CUSTOM: "Your own shape: change any setting below.",
}

PARTS = ["embeddings", "positions", "attention", "mlp", "norms", "unembedding"]
PART_TITLES = {
    "embeddings": "Token embeddings", "positions": "Positions", "attention": "Attention",
    "mlp": "MLP", "norms": "Layer norms", "unembedding": "Unembedding",
}
PART_SHORT = {
    "embeddings": "embed", "positions": "pos", "attention": "attn", "mlp": "MLP",
    "norms": "norms", "unembedding": "unembed",
}


def human_bytes(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e3:.0f} KB"


def human_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:.1f} days"


def part_tip(part: str, cfg: Any) -> str:
    """What each row of the parameter table counts, in words (the numbers come from the core)."""
    if cfg is not None and cfg.arch == "bigram":
        return ("The whole bigram model: a vocab × vocab table of scores."
                if part == "embeddings" else "A bigram model has no such part.")
    tips = {
        "embeddings": "One learned vector of d_model numbers for every token of the vocabulary "
                      "(vocab × d_model).",
        "positions": "One learned vector of d_model numbers per position of the context "
                     "(context × d_model). Sinusoidal positions are a fixed pattern: nothing to "
                     "learn.",
        "attention": "Per block: the query, key, value and output projections (4 × d_model² "
                     "weights, plus biases), times the number of layers.",
        "mlp": "Per block: widen each vector to 4 × d_model and narrow it back (8 × d_model² "
               "weights, plus biases), times the number of layers.",
        "norms": "Two LayerNorms per block plus the final one, each with a scale (and, with "
                 "bias, a shift) of d_model numbers.",
        "unembedding": "Turns the final vector into one score per vocabulary token "
                       "(d_model × vocab). With tied embedding it reuses the token embedding "
                       "table: 0 extra.",
    }
    return tips[part]


class ModelTab(QWidget):
    TITLE = "Model"
    AVAILABLE = True

    requestTab = Signal(str)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.mm: Any = None  # playground.core.model, once loaded (imports torch)
        self.device: Any = None
        self.device_text = ""
        self.preset_name = DEFAULT_PRESET
        self.cfg: Any = None  # the config the form describes, when valid
        self.breakdown: dict[str, int] = {}
        self.problem: str | None = None  # why the current config is not published
        self.timings: dict[tuple[Any, int], dict] = {}  # (cfg, batch) → measured result
        self.chart: Any = None  # pyqtgraph bar chart, created after torch/pyqtgraph load
        self._loader: workers.WorkerHandle | None = None
        self._measure: workers.WorkerHandle | None = None
        self._applying = False
        self._closed = False
        self._build()
        self._set_form_enabled(False)
        self.state.tokenizerChanged.connect(self._tokenizer_changed)
        if self.state.tokenizer is not None:
            self._ensure_core()

    # ================================================================== UI
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        split = QSplitter(Qt.Horizontal)
        # The form scrolls on short screens instead of raising the window's minimum height.
        left = QScrollArea()
        left.setWidget(self._build_left())
        left.setWidgetResizable(True)
        left.setFrameShape(QFrame.NoFrame)
        left.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        left.setMinimumWidth(300)
        split.addWidget(left)
        split.addWidget(self._build_middle())
        split.addWidget(self._build_right())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 2)
        split.setSizes([350, 370, 540])
        outer.addWidget(split)

    def _build_left(self) -> QWidget:
        w = QWidget()
        col = QVBoxLayout(w)
        col.setContentsMargins(0, 0, 4, 0)

        size = QGroupBox("Size and shape")
        form = QFormLayout(size)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.preset_combo = QComboBox()
        for name, title in PRESETS:
            self.preset_combo.addItem(title, name)
        self.preset_combo.addItem("Custom", CUSTOM)
        self.preset_combo.setToolTip(
            "Ready-made sizes, from a table lookup (Bigram) to the smallest GPT-2. Change any "
            "setting below to make your own (Custom).")
        self.preset_combo.setCurrentIndex(self._preset_index(DEFAULT_PRESET))
        self.preset_combo.currentIndexChanged.connect(self._preset_chosen)
        form.addRow("Preset:", self.preset_combo)
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.preset_note.setStyleSheet(NOTE_STYLE)
        form.addRow(self.preset_note)

        def spin(low: int, high: int, tip: str, step: int = 1) -> QSpinBox:
            box = QSpinBox()
            box.setRange(low, high)
            box.setSingleStep(step)
            box.setKeyboardTracking(False)  # typing "128" must not try 1 and 12 on the way
            box.setToolTip(tip)
            box.valueChanged.connect(self._form_edited)
            return box

        self.layers_spin = spin(1, 96, "Layers (blocks): how many attention + MLP blocks are "
                                       "stacked. More layers can learn more steps of reasoning, "
                                       "but cost time and memory.")
        form.addRow("Layers:", self.layers_spin)
        self.heads_spin = spin(1, 64, "Attention heads per layer: each head has its own "
                                      "attention pattern, so different heads can watch for "
                                      "different things. The embedding size is split evenly "
                                      "among them.")
        form.addRow("Heads:", self.heads_spin)
        self.dmodel_spin = spin(1, 8192, "Embedding size (d_model): how many numbers describe "
                                         "each token inside the model. It must divide evenly "
                                         "among the heads; the arrows step by the number of heads.")
        form.addRow("Embedding size:", self.dmodel_spin)
        fix_row = QHBoxLayout()
        self.dmodel_error = QLabel()
        self.dmodel_error.setWordWrap(True)
        self.dmodel_error.setStyleSheet(ERROR_STYLE)
        fix_row.addWidget(self.dmodel_error, 1)
        self.fix_button = QPushButton("Fix")
        self.fix_button.setToolTip("Set the embedding size to the nearest multiple of the "
                                   "number of heads")
        self.fix_button.clicked.connect(self.fix_width)
        fix_row.addWidget(self.fix_button, 0, Qt.AlignTop)
        self.dmodel_error_row = QWidget()
        self.dmodel_error_row.setLayout(fix_row)
        fix_row.setContentsMargins(0, 0, 0, 0)
        self.dmodel_error_row.hide()
        form.addRow(self.dmodel_error_row)
        self.context_spin = spin(1, 16384, "Context length (T): how many tokens the model can "
                                           "look back at. Attention's cost grows with its "
                                           "square.", step=16)
        form.addRow("Context length:", self.context_spin)
        self.dropout_spin = QDoubleSpinBox()
        self.dropout_spin.setRange(0.0, 0.9)
        self.dropout_spin.setSingleStep(0.05)
        self.dropout_spin.setDecimals(2)
        self.dropout_spin.setKeyboardTracking(False)
        self.dropout_spin.setToolTip("Dropout: during training, randomly zero this fraction of "
                                     "the numbers so the model cannot rely on any single one. "
                                     "Fights overfitting on small texts; 0 = off.")
        self.dropout_spin.valueChanged.connect(self._form_edited)
        form.addRow("Dropout:", self.dropout_spin)
        self.positional_combo = QComboBox()
        self.positional_combo.addItem("Learned", "learned")
        self.positional_combo.addItem("Sinusoidal (fixed)", "sinusoidal")
        self.positional_combo.setToolTip("How the model knows the order of tokens: a learned "
                                         "vector per position, or a fixed pattern of sine waves "
                                         "(no parameters).")
        self.positional_combo.currentIndexChanged.connect(self._form_edited)
        form.addRow("Positions:", self.positional_combo)
        self.activation_combo = QComboBox()
        self.activation_combo.addItem("GELU", "gelu")
        self.activation_combo.addItem("ReLU", "relu")
        self.activation_combo.setToolTip("The MLP's activation function (its bend): ReLU cuts "
                                         "negative numbers to 0; GELU is a smooth version that "
                                         "GPT models use.")
        self.activation_combo.currentIndexChanged.connect(self._form_edited)
        form.addRow("Activation:", self.activation_combo)
        self.tied_check = QCheckBox("Tied embedding")
        self.tied_check.setToolTip("Tied embedding: use the token embedding table also as the "
                                   "unembedding (read backwards), saving vocab × d_model "
                                   "parameters. GPT-2 does this.")
        self.tied_check.toggled.connect(self._form_edited)
        self.bias_check = QCheckBox("Bias")
        self.bias_check.setToolTip("Bias: give every linear layer and LayerNorm an extra "
                                   "learned offset. Modern models often leave it out.")
        self.bias_check.toggled.connect(self._form_edited)
        checks = QHBoxLayout()
        checks.addWidget(self.tied_check)
        checks.addWidget(self.bias_check)
        checks.addStretch(1)
        form.addRow(checks)
        self.form_error = QLabel()
        self.form_error.setWordWrap(True)
        self.form_error.setStyleSheet(ERROR_STYLE)
        self.form_error.hide()
        form.addRow(self.form_error)
        col.addWidget(size)

        vocab_row = QHBoxLayout()
        self.vocab_label = QLabel()
        self.vocab_label.setWordWrap(True)
        self.vocab_label.setToolTip("The vocabulary size comes from the tokenizer: the model "
                                    "needs one embedding row and one output score per token.")
        vocab_row.addWidget(self.vocab_label, 1)
        self.tokenizer_button = QPushButton("Go to Tokenizer")
        self.tokenizer_button.setToolTip("Open the Tokenizer tab to choose how text is cut into "
                                         "tokens")
        self.tokenizer_button.clicked.connect(lambda: self.requestTab.emit("Tokenizer"))
        vocab_row.addWidget(self.tokenizer_button)
        col.addLayout(vocab_row)

        cost = QGroupBox("Training cost")
        cl = QVBoxLayout(cost)
        batch_row = QHBoxLayout()
        batch_row.addWidget(QLabel("Batch size:"))
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setValue(DEFAULT_BATCH)
        self.batch_spin.setKeyboardTracking(False)
        self.batch_spin.setToolTip("Batch size: how many sequences are trained on at once. "
                                   "Only for the estimates here; the Train tab has its own.")
        self.batch_spin.valueChanged.connect(self._batch_changed)
        batch_row.addWidget(self.batch_spin)
        batch_row.addStretch(1)
        cl.addLayout(batch_row)
        self.memory_label = QLabel()
        self.memory_label.setWordWrap(True)
        self.memory_label.setTextFormat(Qt.RichText)
        self.memory_label.setToolTip(
            "Training keeps four numbers per parameter (the weight, its gradient and AdamW's two "
            "running averages) plus the activations saved for the backward pass, which grow "
            "with batch × context.")
        cl.addWidget(self.memory_label)
        self.slow_label = QLabel()
        self.slow_label.setWordWrap(True)
        self.slow_label.setStyleSheet(WARN_STYLE)
        self.slow_label.hide()
        cl.addWidget(self.slow_label)
        measure_row = QHBoxLayout()
        self.measure_button = QPushButton("&Measure")
        self.measure_button.setToolTip(
            f"Time {MEASURE_STEPS} real training steps (forward, backward, AdamW) of this model "
            "on random tokens, on this computer's device (Alt+M)")
        self.measure_button.clicked.connect(self.measure)
        measure_row.addWidget(self.measure_button)
        self.measure_progress = QProgressBar()
        self.measure_progress.setToolTip("Training steps timed so far (the first one warms up "
                                         "and is not counted)")
        self.measure_progress.hide()
        measure_row.addWidget(self.measure_progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop measuring (Esc)")
        self.cancel_button.setShortcut("Esc")
        self.cancel_button.clicked.connect(self.cancel_measure)
        self.cancel_button.hide()
        measure_row.addWidget(self.cancel_button)
        measure_row.addStretch(0)
        cl.addLayout(measure_row)
        self.measure_label = QLabel("Time per step: press Measure.")
        self.measure_label.setWordWrap(True)
        self.measure_label.setToolTip("The median time of the measured training steps, and how "
                                      "many tokens per second that means")
        cl.addWidget(self.measure_label)
        col.addWidget(cost)

        self.status_label = QLabel("Loading the model code (PyTorch)…")
        self.status_label.setWordWrap(True)
        self.status_label.setToolTip("Whether the Train tab will use this model")
        col.addWidget(self.status_label)
        col.addStretch(1)
        return w

    def _build_middle(self) -> QWidget:
        self.params_box = QGroupBox("Parameters")
        self.params_box.setToolTip("Parameters are the learned numbers of the model; training "
                                   "adjusts every one of them.")
        layout = QVBoxLayout(self.params_box)
        self.param_table = QTableWidget(len(PARTS) + 1, 3)
        self.param_table.setHorizontalHeaderLabels(["Part", "Parameters", "Share"])
        self.param_table.verticalHeader().hide()
        self.param_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.param_table.setSelectionMode(QAbstractItemView.NoSelection)
        self.param_table.setFocusPolicy(Qt.NoFocus)
        self.param_table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.param_table.verticalHeader().setDefaultSectionSize(24)
        header = self.param_table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeToContents)
        self.param_table.setFixedHeight(24 * (len(PARTS) + 1) + header.sizeHint().height() + 4)
        bold = QFont(self.font())
        bold.setBold(True)
        for row, part in enumerate(PARTS + ["total"]):
            title = PART_TITLES.get(part, "Total")
            cells = [QTableWidgetItem(title), QTableWidgetItem(""), QTableWidgetItem("")]
            for col, item in enumerate(cells):
                if col:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if part == "total":
                    item.setFont(bold)
                self.param_table.setItem(row, col, item)
        layout.addWidget(self.param_table)
        self.chart_layout = layout
        self.chart_placeholder = QLabel("")
        layout.addWidget(self.chart_placeholder, 1)
        return self.params_box

    def _build_right(self) -> QWidget:
        box = QGroupBox("Architecture — hover a box for what it does and its tensor shape")
        layout = QVBoxLayout(box)
        self.diagram = ArchDiagram()
        self.diagram.set_config(None, "Loading…")
        layout.addWidget(self.diagram)
        return box

    # ================================================================== loading the core
    def _ensure_core(self) -> None:
        if self.mm is not None or self._loader is not None or self._closed:
            return

        def load(progress, cancel):
            from playground.core import model as mm

            device = mm.pick_device()
            return mm, device, mm.device_description(device)

        self._loader = workers.start(load, parent=self, name="model-core",
                                     on_done=self._core_loaded, on_error=self._core_failed)

    def _core_loaded(self, result) -> None:
        self._loader = None
        self.mm, self.device, self.device_text = result
        self._apply_preset(self.preset_name)

    def _core_failed(self, exc: BaseException) -> None:
        self._loader = None
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(f"The model code could not load: {exc}")

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._ensure_core()

    @property
    def ready(self) -> bool:
        """True once the core is loaded and the numbers are shown."""
        return self.mm is not None

    @property
    def busy(self) -> bool:
        return self._loader is not None or (self._measure is not None and self._measure.running)

    def shutdown(self) -> None:
        self._closed = True
        if self._measure is not None:
            self._measure.cancel()

    # ================================================================== presets and form
    @staticmethod
    def _preset_index(name: str) -> int:
        names = [n for n, _ in PRESETS] + [CUSTOM]
        return names.index(name)

    def select_preset(self, name: str) -> None:
        """Show a preset ("tiny", ...) or "custom" (keeps the form's values)."""
        self.preset_combo.setCurrentIndex(self._preset_index(name))

    @Slot(int)
    def _preset_chosen(self, index: int) -> None:
        if self._applying:
            return
        self._apply_preset(self.preset_combo.itemData(index))

    def _apply_preset(self, name: str) -> None:
        """Fill the form from a preset (not for Custom) and recompute everything."""
        self.preset_name = name
        note = PRESET_NOTES[name]
        if self.mm is not None and name != CUSTOM:
            base = self.mm.PRESETS[name]
            if base.arch == "gpt":
                note = (f"{base.n_layer} layers, {base.n_head} heads, embedding size "
                        f"{base.d_model}, context {base.context_length}. " + note)
                self._applying = True
                try:
                    self.layers_spin.setValue(base.n_layer)
                    self.heads_spin.setValue(base.n_head)
                    self.dmodel_spin.setSingleStep(base.n_head)
                    self.dmodel_spin.setValue(base.d_model)
                    self.context_spin.setValue(base.context_length)
                    self.dropout_spin.setValue(base.dropout)
                    self.positional_combo.setCurrentIndex(
                        self.positional_combo.findData(base.positional))
                    self.activation_combo.setCurrentIndex(
                        self.activation_combo.findData(base.activation))
                    self.tied_check.setChecked(base.tie_weights)
                    self.bias_check.setChecked(base.bias)
                finally:
                    self._applying = False
        self.preset_note.setText(note)
        self.refresh()

    @Slot()
    def _form_edited(self, *_args) -> None:
        if self._applying:
            return
        self.dmodel_spin.setSingleStep(max(1, self.heads_spin.value()))
        if self.preset_name != CUSTOM:
            self._applying = True
            self.preset_combo.setCurrentIndex(self._preset_index(CUSTOM))
            self._applying = False
            self.preset_name = CUSTOM
            self.preset_note.setText(PRESET_NOTES[CUSTOM])
        self.refresh()

    @Slot(int)
    def _batch_changed(self, _value: int) -> None:
        self.refresh()

    @Slot()
    def fix_width(self) -> None:
        """Round the embedding size to the nearest multiple of the number of heads."""
        heads, width = self.heads_spin.value(), self.dmodel_spin.value()
        self.dmodel_spin.setValue(heads * max(1, round(width / heads)))

    def _set_form_enabled(self, enabled: bool, gpt: bool = True) -> None:
        self.preset_combo.setEnabled(enabled)
        for widget in (self.layers_spin, self.heads_spin, self.dmodel_spin, self.context_spin,
                       self.dropout_spin, self.positional_combo, self.activation_combo,
                       self.tied_check, self.bias_check):
            widget.setEnabled(enabled and gpt)
        self.batch_spin.setEnabled(enabled)

    def form_config(self, vocab_size: int) -> Any:
        """The ModelConfig the form describes (not validated)."""
        mm = self.mm
        if self.preset_name not in (CUSTOM,) and self.mm.PRESETS[self.preset_name].arch == "bigram":
            return mm.preset("bigram", vocab_size)
        return mm.ModelConfig(
            vocab_size=vocab_size,
            context_length=self.context_spin.value(),
            n_layer=self.layers_spin.value(),
            n_head=self.heads_spin.value(),
            d_model=self.dmodel_spin.value(),
            dropout=round(self.dropout_spin.value(), 4),
            positional=self.positional_combo.currentData(),
            activation=self.activation_combo.currentData(),
            tie_weights=self.tied_check.isChecked(),
            bias=self.bias_check.isChecked(),
        )

    def set_config(self, cfg: Any) -> None:
        """Show an existing config (e.g. a run's) as Custom, or as its preset when it is one."""
        if self.mm is None:
            return
        for name, _title in PRESETS:
            if self.mm.preset(name, cfg.vocab_size) == cfg:
                self.select_preset(name)
                return
        self._applying = True
        try:
            self.preset_combo.setCurrentIndex(self._preset_index(CUSTOM))
            self.layers_spin.setValue(cfg.n_layer)
            self.heads_spin.setValue(cfg.n_head)
            self.dmodel_spin.setValue(cfg.d_model)
            self.context_spin.setValue(cfg.context_length)
            self.dropout_spin.setValue(cfg.dropout)
            self.positional_combo.setCurrentIndex(self.positional_combo.findData(cfg.positional))
            self.activation_combo.setCurrentIndex(self.activation_combo.findData(cfg.activation))
            self.tied_check.setChecked(cfg.tie_weights)
            self.bias_check.setChecked(cfg.bias)
        finally:
            self._applying = False
        self._apply_preset(CUSTOM)

    # ================================================================== live numbers
    @Slot(object)
    def _tokenizer_changed(self, _tokenizer: Any) -> None:
        if self.mm is None:
            self._ensure_core()
        else:
            self.refresh()

    def _show_vocab(self, tok: Any) -> None:
        if tok is None:
            self.vocab_label.setStyleSheet(ERROR_STYLE)
            self.vocab_label.setText("Pick a tokenizer first: its vocabulary size sets the "
                                     "model's first and last layer.")
            self.tokenizer_button.show()
        else:
            self.vocab_label.setStyleSheet(NOTE_STYLE)
            kind = tok.describe().split(" · ")[0]
            self.vocab_label.setText(f"Vocabulary: {tok.vocab_size:,} tokens, set by the "
                                     f"tokenizer ({kind}).")
            self.tokenizer_button.hide()

    def _refuse(self, why: str) -> None:
        self.problem = why
        last = self.state.model_config
        keep = (f" The Train tab keeps the last valid model ({self.describe(last)})."
                if last is not None else "")
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(f"✗ Not used: {why}{keep}")

    def describe(self, cfg: Any) -> str:
        if cfg is None:
            return "none"
        count = f"{self.mm.param_count(cfg):,} parameters" if self.mm is not None else ""
        if cfg.arch == "bigram":
            return f"Bigram · {count}"
        return (f"{cfg.n_layer} layers × {cfg.n_head} heads, width {cfg.d_model}, "
                f"context {cfg.context_length} · {count}")

    @Slot()
    def refresh(self) -> None:
        """Recompute everything from the form; publish the config when it is valid and fits."""
        if self.mm is None or self._closed:
            return
        mm = self.mm
        tok = self.state.tokenizer
        self._show_vocab(tok)
        bigram = self.preset_name != CUSTOM and mm.PRESETS[self.preset_name].arch == "bigram"
        self._set_form_enabled(tok is not None, gpt=not bigram)
        self.dmodel_error_row.hide()
        self.form_error.hide()
        self.cfg = None
        if tok is None:
            self._clear_numbers("Pick a tokenizer first: the diagram needs the vocabulary size.")
            self._refuse("no tokenizer yet.")
            self._update_measure()
            return
        cfg = self.form_config(tok.vocab_size)
        try:
            cfg.validate()
        except PlaygroundError as exc:
            text = exc.message + (f" {exc.hint}" if exc.hint else "")
            if cfg.n_head and cfg.d_model % cfg.n_head:
                self.dmodel_error.setText(text)
                self.dmodel_error_row.show()
            else:
                self.form_error.setText(text)
                self.form_error.show()
            self._clear_numbers(f"The diagram comes back once the settings are valid:\n"
                                f"{exc.message}")
            self._refuse(exc.message)
            self._update_measure()
            return
        self.cfg = cfg
        self.breakdown = mm.param_breakdown(cfg)
        self._show_breakdown(cfg)
        self.diagram.set_config(cfg)
        fits = self._show_memory(cfg)
        if fits:
            self.problem = None
            self.state.set_model_config(cfg)
            self.status_label.setStyleSheet(OK_STYLE)
            self.status_label.setText(f"✓ The Train tab will train this model: {self.describe(cfg)}.")
        self._update_measure()

    def _clear_numbers(self, message: str) -> None:
        self.breakdown = {}
        for row in range(len(PARTS) + 1):
            self.param_table.item(row, 1).setText("—")
            self.param_table.item(row, 2).setText("")
        self.params_box.setTitle("Parameters")
        self.memory_label.setText("")
        self.slow_label.hide()
        if self.chart is not None:
            self.chart.set_breakdown([], [])
        self.diagram.set_config(None, message)

    def _show_breakdown(self, cfg: Any) -> None:
        total = sum(self.breakdown.values())
        for row, part in enumerate(PARTS):
            n = self.breakdown[part]
            self.param_table.item(row, 1).setText(f"{n:,}")
            self.param_table.item(row, 2).setText(f"{100 * n / max(total, 1):.1f}%")
            tip = part_tip(part, cfg)
            for col in range(3):
                self.param_table.item(row, col).setToolTip(tip)
        last = len(PARTS)
        self.param_table.item(last, 1).setText(f"{total:,}")
        self.param_table.item(last, 2).setText("100%")
        self.params_box.setTitle(f"Parameters: {total:,}")
        self._ensure_chart()
        self.chart.set_breakdown([PART_SHORT[p] for p in PARTS], [self.breakdown[p] for p in PARTS])

    def _ensure_chart(self) -> None:
        if self.chart is None:
            from playground.gui.widgets.param_chart import ParamChart  # imports pyqtgraph

            self.chart = ParamChart()
            self.chart.setMinimumHeight(160)
            self.chart_layout.replaceWidget(self.chart_placeholder, self.chart)
            self.chart_placeholder.deleteLater()

    def _show_memory(self, cfg: Any) -> bool:
        """Memory line; False (and the reason shown in red) when the config does not fit."""
        mm = self.mm
        batch = self.batch_spin.value()
        needed = mm.memory_estimate(cfg, batch)
        free = mm.available_memory(self.device)
        where = "GPU memory" if self.device.type == "cuda" else "memory"
        free_text = f" · {human_bytes(free)} of {where} free" if free is not None else ""
        try:
            mm.check_fits(cfg, batch, self.device)
        except PlaygroundError as exc:
            self.memory_label.setText(
                f"<span style='{ERROR_STYLE}'><b>Too big for this computer.</b> "
                f"{exc.message} {exc.hint or ''}</span>")
            self.slow_label.hide()
            self._refuse(f"too big for this computer (needs about {human_bytes(needed)}, "
                         f"{human_bytes(free or 0)} free).")
            return False
        self.memory_label.setText(
            f"Training needs about <b>{human_bytes(needed)}</b> at batch {batch}{free_text} "
            f"({self.device_text}).")
        slow = self.device.type == "cpu" and mm.param_count(cfg) * batch * cfg.context_length >= SLOW_ON_CPU
        if slow:
            self.slow_label.setText("It fits, but it will be very slow on this CPU: every step "
                                    "does over a trillion multiplications. Press Measure to see "
                                    "the time per step, or pick a smaller size.")
        self.slow_label.setVisible(slow)
        return True

    # ================================================================== measuring
    def _update_measure(self) -> None:
        measuring = self._measure is not None and self._measure.running
        self.measure_button.setEnabled(self.cfg is not None and self.problem is None
                                       and not measuring)
        self.measure_progress.setVisible(measuring)
        self.cancel_button.setVisible(measuring)
        if measuring:
            return
        result = self.timings.get((self.cfg, self.batch_spin.value())) if self.cfg else None
        if result is not None:
            self.measure_label.setStyleSheet("")
            self.measure_label.setText(self._timing_text(result))
        elif self.cfg is not None and self.problem is None:
            self.measure_label.setStyleSheet("")
            self.measure_label.setText(
                "Time per step: press Measure to time a few real training steps.")
        else:
            self.measure_label.setStyleSheet(NOTE_STYLE)
            self.measure_label.setText("Time per step: needs a valid model that fits.")

    def _timing_text(self, r: dict) -> str:
        from playground.core.train import TrainConfig

        iters = TrainConfig().iters
        ms = r["ms_median"]
        return (f"<b>{ms:,.0f} ms per step</b> · {r['tokens_per_s']:,.0f} tokens/s "
                f"(median of {r['steps']} steps at batch {r['batch_size']}, "
                f"{r['device_description']}). {iters:,} steps would take about "
                f"{human_seconds(ms / 1000 * iters)}.")

    @Slot()
    def measure(self) -> None:
        """Time MEASURE_STEPS training steps of the current config (worker + helper process)."""
        if self.cfg is None or self.problem is not None or self._closed or \
                (self._measure is not None and self._measure.running):
            return
        cfg, batch = self.cfg, self.batch_spin.value()

        def work(progress, cancel):
            # The steps run in a child process: torch in a secondary thread ran at ~0.6× speed
            # here (OpenMP), and training runs in a child process too, so this is the honest
            # number. The child costs a second or two to start (it imports torch).
            from playground.core.step_timer import measure_training_step
            from playground.gui import child_jobs

            return child_jobs.run_in_child(measure_training_step, cfg, batch, MEASURE_STEPS,
                                           progress=progress, cancel=cancel)

        def done(result: dict) -> None:
            self._measure = None
            self.timings[(cfg, batch)] = result
            self._update_measure()

        def failed(exc: BaseException) -> None:
            self._measure = None
            self._update_measure()
            if isinstance(exc, Cancelled):
                self.measure_label.setStyleSheet(NOTE_STYLE)
                self.measure_label.setText("Measuring cancelled.")
            elif isinstance(exc, PlaygroundError):
                self.measure_label.setStyleSheet(ERROR_STYLE)
                self.measure_label.setText(exc.message + (f" {exc.hint}" if exc.hint else ""))
            else:
                excepthook(type(exc), exc, exc.__traceback__)

        self.measure_progress.setRange(0, 0)  # busy until the helper reports its first step
        self.measure_progress.setFormat("step %v of %m")
        self.measure_label.setStyleSheet(NOTE_STYLE)
        self.measure_label.setText(f"Measuring: starting a helper process, then "
                                   f"{MEASURE_STEPS + 1} training steps (the first warms up)…")
        self._measure = workers.start(work, parent=self, name="model-measure", on_done=done,
                                      on_error=failed, on_progress=self._measure_progress)
        self._update_measure()

    def _measure_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.measure_progress.setRange(0, total)
            self.measure_progress.setValue(done)

    @Slot()
    def cancel_measure(self) -> None:
        if self._measure is not None:
            self._measure.cancel()
