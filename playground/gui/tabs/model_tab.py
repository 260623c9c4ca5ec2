"""Step 3, the Model tab: choose the size and shape of the GPT before training it.

A preset (Bigram, Tiny, Small, Medium, GPT-2 124M) or a custom config; every change shows at
once the parameter count per part (table + bar chart), the memory training needs at the batch
size (one setting with the Train tab's, ``AppState.batch_size``), and a diagram of the model
whose boxes explain themselves on hover. "Measure" times a few real training steps in a training
process started and set up as a training's is (``training_process.measure_in_child``).

Every number comes from the torch-free ``playground.core.config`` (presets, param_breakdown,
memory_estimate). Which device training would use, and its free memory, comes from a short
child process (``gui.device_probe``) the first time the tab is needed: asking torch in this
process would create a CUDA context for the window's whole life. A config is published to
``AppState`` only when it is valid and fits that device; the state keeps the last good one
otherwise.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core import config, step_timer
from playground.core.config import ModelConfig
from playground.errors import Cancelled, PlaygroundError
from playground.gui import device_probe, training_process, ui, workers
from playground.gui.device_probe import DeviceInfo
from playground.gui.ui import (
    ERROR_TEXT,
    NOTE,
    OK_TEXT,
    WARNING_TEXT,
    error_text,
    format_bytes,
    report_unexpected,
    side_panel,
)
from playground.gui.widgets import arch_choice
from playground.gui.widgets.arch_diagram import ArchDiagram
from playground.gui.widgets.param_breakdown import ParamBreakdown

PRESETS = [("bigram", "Bigram"), ("tiny", "Tiny"), ("small", "Small"), ("medium", "Medium"),
           ("gpt2-124m", "GPT-2 124M")]
CUSTOM = "custom"
DEFAULT_PRESET = "tiny"
MEASURE_STEPS = 5  # at least this many steps are timed...
MEASURE_SECONDS = 2.0  # ...and more until they took this long: a burst of other work then weighs little
# Other programs using at least this share of the processor while measuring: the figure is said
# to be taken on a busy machine (on 2 cores, one busy program is 0.5).
BUSY_SHARE = 0.2
# Above this many parameter × token products per step (~1 TFLOP of work), a CPU needs many
# seconds per step: say so next to the numbers.
SLOW_ON_CPU = 2e11

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

def human_seconds(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} hours"
    return f"{s / 86400:.1f} days"


class ModelTab(QWidget):
    TITLE = "Model"

    requestTab = Signal(str)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.device: DeviceInfo | None = device_probe.cached()  # None until the probe answers
        self.preset_name = DEFAULT_PRESET
        self.cfg: ModelConfig | None = None  # the config the form describes, when valid
        self.breakdown: dict[str, int] = {}
        self.problem: str | None = None  # why the current config is not published
        self.timings: dict[tuple[ModelConfig, int], dict] = {}  # (cfg, batch) → measured result
        self._prober: workers.WorkerHandle | None = None
        self._measure: workers.WorkerHandle | None = None
        self.positions_dialog = None  # the "Why positions matter" window, made when first asked for
        self._applying = False
        self._closed = False
        self._build()
        self.state.tokenizerChanged.connect(self._tokenizer_changed)
        self.state.batchSizeChanged.connect(self._batch_changed)
        self.state.corpusChanged.connect(self._corpus_changed)
        self._apply_preset(self.preset_name)
        if self.state.tokenizer is not None:
            self._ensure_device()

    # ================================================================== UI
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        split = QSplitter(Qt.Horizontal)
        # The form scrolls on short screens instead of raising the window's minimum height.
        split.addWidget(side_panel(self._build_left(), 300, 480))
        self.params = ParamBreakdown()
        split.addWidget(self.params)
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
        self.arch_combo = arch_choice.combo()  # GPT / Encoder–decoder: the sizes below serve both
        self.arch_combo.currentIndexChanged.connect(self.refresh)
        form.addRow("Model:", self.arch_combo)
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
        self.preset_note.setStyleSheet(NOTE)
        form.addRow(self.preset_note)

        def spin(low: int, high: int, tip: str, step: int = 1) -> QSpinBox:
            box = QSpinBox()
            box.setRange(low, high)
            box.setSingleStep(step)
            box.setKeyboardTracking(False)  # typing "128" must not try 1 and 12 on the way
            box.setToolTip(tip)
            box.valueChanged.connect(self._form_edited)
            return box

        def combo(items: list[tuple[str, str]], tip: str) -> QComboBox:
            box = QComboBox()
            for title, value in items:
                box.addItem(title, value)
            box.setToolTip(tip)
            box.currentIndexChanged.connect(self._form_edited)
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
        self.dmodel_error.setStyleSheet(ERROR_TEXT)
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
        self.positional_combo = combo([("Learned", "learned"), ("Sinusoidal (fixed)", "sinusoidal"),
                                       ("None (order-blind)", "none")],
                                      "How the model knows the order of tokens: a learned vector per "
                                      "position, a fixed pattern of sine waves (no parameters), or "
                                      "nothing at all. Without positions attention adds up what came "
                                      "before as a bag: a one-layer model cannot tell 'dog bites man' "
                                      "from 'man bites dog' ('Compare positions…' below shows it on your text).")
        form.addRow("Positions:", self.positional_combo)
        self.positions_button = QPushButton("Compare positions…")
        self.positions_button.setToolTip(
            "Why positions matter: train three small one-layer models (learned, sinusoidal and no "
            "positions) on your text for half a minute, overlay their validation losses, and see "
            "the order-blind one give a shuffled sentence exactly the same prediction")
        self.positions_button.clicked.connect(self.open_positions)
        form.addRow("", self.positions_button)
        self.activation_combo = combo([("GELU", "gelu"), ("ReLU", "relu")],
                                      "The MLP's activation function (its bend): ReLU cuts negative "
                                      "numbers to 0; GELU is a smooth version that GPT models use.")
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
        self.form_error.setStyleSheet(ERROR_TEXT)
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
        self.batch_spin = ui.SpinBox("The batch size")
        self.batch_spin.setRange(1, 4096)
        self.batch_spin.setValue(self.state.batch_size)
        self.batch_spin.setKeyboardTracking(False)
        self.batch_spin.setToolTip("Batch size: how many sequences are trained on at once. The "
                                   "same setting as the Train tab's batch size: change it here or "
                                   "there, the memory check, Measure and training all use it.")
        self.batch_spin.valueChanged.connect(self.state.set_batch_size)
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
        self.slow_label.setStyleSheet(WARNING_TEXT)
        self.slow_label.hide()
        cl.addWidget(self.slow_label)
        measure_row = QHBoxLayout()
        self.measure_button = QPushButton("&Measure")
        self.measure_button.setToolTip(
            f"Time at least {MEASURE_STEPS} real training steps (forward, backward, AdamW) of this model "
            "on random tokens, plus an evaluation and a sample, in a training process with the "
            "Train tab's batch size, on this computer's device (Alt+M)")
        self.measure_button.clicked.connect(self.measure)
        measure_row.addWidget(self.measure_button)
        self.measure_progress = QProgressBar()
        self.measure_progress.setToolTip("Pieces timed so far: the training steps (the first one "
                                         "warms up and is not counted), an evaluation, a sample")
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

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setToolTip("Whether the Train tab will use this model")
        col.addWidget(self.status_label)
        col.addStretch(1)
        return w

    def _build_right(self) -> QWidget:
        box = QGroupBox("Architecture — hover a box for what it does and its tensor shape")
        layout = QVBoxLayout(box)
        self.diagram = ArchDiagram()
        layout.addWidget(self.diagram)
        return box

    # ================================================================== the device
    def _ensure_device(self) -> None:
        """Ask (once) which device training would use; the fit check waits for the answer."""
        if self.device is not None or self._prober is not None or self._closed:
            return
        self._prober = workers.start(device_probe.probe, parent=self, name="model-device",
                                     on_done=self._device_known, on_error=self._device_failed)

    def _device_known(self, info: DeviceInfo) -> None:
        self._prober = None
        self.device = info
        self.refresh()

    def _device_failed(self, exc: BaseException) -> None:
        self._prober = None
        if isinstance(exc, Cancelled):
            return
        self.status_label.setStyleSheet(ERROR_TEXT)
        # A child's crash arrives with its whole traceback: its first line says enough here.
        text = error_text(exc, " ") if isinstance(exc, PlaygroundError) else str(exc).splitlines()[0]
        self.status_label.setText(f"Could not find out which device would train the model "
                                  f"(PyTorch may be missing or broken): {text}")

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._ensure_device()

    @property
    def ready(self) -> bool:
        """True once the device is known, so the memory check (and publishing) can happen."""
        return self.device is not None

    @property
    def busy(self) -> bool:
        return self._prober is not None or (self._measure is not None and self._measure.running)

    def shutdown(self) -> None:
        self._closed = True
        for handle in (self._prober, self._measure):
            if handle is not None:
                handle.cancel()

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
        if name != CUSTOM:
            base = config.PRESETS[name]
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
    def _batch_changed(self, value: int) -> None:
        """The shared batch size changed (here or on the Train tab)."""
        self.batch_spin.setValue(value)  # no echo: the state ignores an equal value
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
        self.arch_combo.setEnabled(enabled and gpt)

    def _bigram(self) -> bool:
        return self.preset_name != CUSTOM and config.PRESETS[self.preset_name].arch == "bigram"

    def form_config(self, vocab_size: int) -> ModelConfig:
        """The ModelConfig the form describes (not validated)."""
        if self._bigram():  # no form to read: the table's size follows the vocabulary
            return config.PRESETS[self.preset_name].for_vocab(vocab_size)
        return ModelConfig(
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
            arch=self.arch_combo.currentData(),
        )

    def set_config(self, cfg: ModelConfig) -> None:
        """Show an existing config (e.g. a run's) as Custom, or as its preset when it is one."""
        self.arch_combo.setCurrentIndex(self.arch_combo.findData(
            cfg.arch if cfg.is_encoder_decoder else arch_choice.GPT))
        name = config.preset_name_of(replace(cfg, arch="gpt") if cfg.is_encoder_decoder else cfg)
        if name is not None:
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
    def _corpus_changed(self, corpus: Any) -> None:
        """Sentence pairs want an encoder–decoder, an ordinary text a GPT: switch to the kind that fits."""
        self.arch_combo.setCurrentIndex(self.arch_combo.findData(arch_choice.fitting_arch(corpus)))
        self.refresh()  # the same kind, but the corpus decides what may be trained

    @Slot(object)
    def _tokenizer_changed(self, _tokenizer: Any) -> None:
        self._ensure_device()
        self.refresh()

    def _show_vocab(self, tok: Any) -> None:
        if tok is None:
            self.vocab_label.setStyleSheet(ERROR_TEXT)
            self.vocab_label.setText("Pick a tokenizer first: its vocabulary size sets the "
                                     "model's first and last layer.")
            self.tokenizer_button.show()
        else:
            self.vocab_label.setStyleSheet(NOTE)
            self.vocab_label.setText(f"Vocabulary: {tok.vocab_size:,} tokens, set by the "
                                     f"tokenizer ({tok.kind_title}).")
            self.tokenizer_button.hide()

    def _refuse(self, why: str) -> None:
        self.problem = why
        last = self.state.model_config
        keep = (f" The Train tab keeps the last valid model ({self.describe(last)})."
                if last is not None else "")
        self.status_label.setStyleSheet(ERROR_TEXT)
        self.status_label.setText(f"✗ Not used: {why}{keep}")

    def describe(self, cfg: ModelConfig | None) -> str:
        if cfg is None:
            return "none"
        count = f"{config.param_count(cfg):,} parameters"
        if cfg.arch == "bigram":
            return f"Bigram · {count}"
        if cfg.is_encoder_decoder:
            return (f"Encoder–decoder, {cfg.n_layer} + {cfg.n_layer} layers × {cfg.n_head} heads, width "
                    f"{cfg.d_model}, context {cfg.context_length} · {count}")
        return (f"{cfg.n_layer} layers × {cfg.n_head} heads, width {cfg.d_model}, "
                f"context {cfg.context_length} · {count}")

    @Slot()
    def refresh(self) -> None:
        """Recompute everything from the form; publish the config when it is valid and fits."""
        if self._closed:
            return
        tok = self.state.tokenizer
        self._show_vocab(tok)
        self._set_form_enabled(tok is not None, gpt=not self._bigram())
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
            text = error_text(exc, " ")
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
        self.breakdown = config.param_breakdown(cfg)
        self.params.show_breakdown(cfg, self.breakdown)
        self.diagram.set_config(cfg)
        fits = self._show_memory(cfg)
        wrong_kind = arch_choice.mismatch(cfg, self.state.corpus)
        if wrong_kind is not None and fits:  # a GPT on sentence pairs, or the reverse
            self._refuse(wrong_kind)
        elif fits:
            self.problem = None
            self.state.set_model_config(cfg)
            self.status_label.setStyleSheet(OK_TEXT)
            self.status_label.setText(f"✓ The Train tab will train this model: {self.describe(cfg)}.")
        self._update_measure()

    def _clear_numbers(self, message: str) -> None:
        self.breakdown = {}
        self.params.clear()
        self.memory_label.setText("")
        self.slow_label.hide()
        self.diagram.set_config(None, message)

    def _show_memory(self, cfg: ModelConfig) -> bool:
        """Memory line; False (and the reason shown in red) when the config does not fit.

        The same comparison as core.devices.check_fits, which the training child repeats
        before it allocates anything; here with the device's numbers from the probe.
        """
        batch = self.state.batch_size
        needed = config.memory_estimate(cfg, batch)
        if self.device is None:  # the probe has not answered yet: publish nothing unchecked
            self.memory_label.setText(f"Training needs about <b>{format_bytes(needed)}</b> at batch "
                                      f"{batch} · checking this computer's device…")
            self.slow_label.hide()
            self.problem = "the device is not known yet."
            self.status_label.setStyleSheet(NOTE)
            self.status_label.setText("Checking which device will train this model and how much "
                                      "memory it has…")
            return False
        free = device_probe.free_memory(self.device)
        where = self.device.memory_name
        problem = config.memory_problem(cfg, batch, free, where)
        if problem is not None:
            self.memory_label.setText(f"<span style='{ERROR_TEXT}'><b>Too big for this computer.</b> "
                                      f"{html.escape(error_text(problem, ' '))}</span>")
            self.slow_label.hide()
            self._refuse(f"too big for this computer (needs about {format_bytes(needed)}, "
                         f"{format_bytes(free)} free).")
            return False
        free_text = f" · {format_bytes(free)} of {where} free" if free is not None else ""
        self.memory_label.setText(
            f"Training needs about <b>{format_bytes(needed)}</b> at batch {batch}{free_text} "
            f"({self.device.description}).")
        work = config.param_count(cfg) * batch * cfg.context_length
        slow = self.device.kind == "cpu" and work >= SLOW_ON_CPU
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
        result = self.timings.get((self.cfg, self.state.batch_size)) if self.cfg else None
        if result is not None:
            self.measure_label.setStyleSheet("")
            self.measure_label.setText(self._timing_text(result))
        elif self.cfg is not None and self.problem is None:
            self.measure_label.setStyleSheet("")
            self.measure_label.setText(
                "Time per step: press Measure to time a few real training steps.")
        else:
            self.measure_label.setStyleSheet(NOTE)
            self.measure_label.setText("Time per step: needs a valid model that fits.")

    def _timing_text(self, r: dict) -> str:
        plan = config.TrainConfig(batch_size=r["batch_size"])  # the Train tab's default plan
        ms = r["ms_median"]
        text = (f"<b>{ms:,.0f} ms per step</b> · {r['tokens_per_s']:,.0f} tokens/s "
                f"(median of {r['steps']} steps at batch {r['batch_size']}, "
                f"{r['device_description']}). {plan.iters:,} steps would take about "
                f"{human_seconds(step_timer.predict_seconds(r, plan))}, with "
                f"{step_timer.evaluations(plan)} evaluations and samples.")
        if r.get("others_cpu", 0.0) >= BUSY_SHARE:
            text += (f"<br><span style='{WARNING_TEXT}'>The computer was busy while measuring: "
                     f"other programs used {r['others_cpu']:.0%} of its processor. Training will "
                     "be faster once they finish, and slower while they run.</span>")
        return text

    @Slot()
    def measure(self) -> None:
        """Time training steps of the current config (worker + training process)."""
        if self.cfg is None or self.problem is not None or self._closed or \
                (self._measure is not None and self._measure.running):
            return
        cfg, batch = self.cfg, self.state.batch_size

        def work(progress, cancel):
            # The steps run in a training child with the training's own settings (threads,
            # OpenMP's waits) and the Train tab's batch: the figure is the speed training then
            # has, and this process creates no CUDA context. The child costs a second or two
            # to start (it imports torch).
            return training_process.measure_in_child(cfg, batch, MEASURE_STEPS, MEASURE_SECONDS,
                                                     progress=progress, cancel=cancel)

        def done(result: dict) -> None:
            self._measure = None
            self.timings[(cfg, batch)] = result
            self._update_measure()

        def failed(exc: BaseException) -> None:
            self._measure = None
            self._update_measure()
            if isinstance(exc, Cancelled):
                self.measure_label.setStyleSheet(NOTE)
                self.measure_label.setText("Measuring cancelled.")
            elif isinstance(exc, PlaygroundError):
                self.measure_label.setStyleSheet(ERROR_TEXT)
                self.measure_label.setText(error_text(exc, " "))
            else:
                report_unexpected(exc)

        self.measure_progress.setRange(0, 0)  # busy until the helper reports its first step
        self.measure_progress.setFormat("%v of %m")
        self.measure_label.setStyleSheet(NOTE)
        self.measure_label.setText(f"Measuring: starting a training process, then at least "
                                   f"{MEASURE_STEPS + 1} training steps (the first warms up), "
                                   "an evaluation and a sample…")
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

    @Slot()
    def open_positions(self) -> None:
        """The built-in positions experiment, in its own window (gui.positions_dialog)."""
        from playground.gui.positions_dialog import PositionsDialog  # loads pyqtgraph: on first use

        if self.positions_dialog is None:
            self.positions_dialog = PositionsDialog(self.state, self)
        self.positions_dialog.open_and_run()
