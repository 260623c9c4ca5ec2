"""The Train tab's settings form: iterations, batch, learning rate, warmup, evaluation, seed.

    form = TrainSettings()
    form.apply_defaults(model_cfg)      # config.training_defaults: the same rule as the CLI's
    tcfg = form.train_config(split)     # TrainingError (message + hint) for a bad value
    form.mark("lr")                     # point at the setting a failed run says to change

A number typed outside a field's range is not silently clamped: ``range_note`` says the range
(ui.SpinBox), and leaving the field sets the nearest end of it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
)

from playground.core import config
from playground.errors import TrainingError
from playground.gui import ui

LR_CHOICES = ["1e-2", "3e-3", "1e-3", "6e-4", "3e-4", "1e-4"]


def _spin(what: str, lo: int, hi: int, value: int, tip: str, step: int = 1) -> ui.SpinBox:
    """A whole-number field that says its range when a typed number leaves it (ui.SpinBox)."""
    box = ui.SpinBox(what)
    box.setRange(lo, hi)
    box.setValue(value)
    box.setSingleStep(step)
    box.setGroupSeparatorShown(True)
    box.setToolTip(f"{tip} ({lo:,} to {hi:,})")
    return box


class TrainSettings(QGroupBox):
    """The hyperparameters of a new run. ``defaults_button`` is wired by the tab (it knows the model)."""

    def __init__(self, parent=None) -> None:
        super().__init__("Training settings", parent)
        form = QFormLayout(self)
        self.iters_box = _spin(
            "The number of iterations", 1, 10_000_000, 2000, "Iterations: how many update steps to take. "
            "Each step shows the model one batch, measures its loss and nudges every weight to lower it. "
            "More steps = more learning (and more time).", 100)
        self.batch_box = _spin(
            "The batch size", 1, 4096, config.TrainConfig.batch_size, "Batch size: how many text windows the model "
            "sees per step. Bigger batches give a steadier loss but need more memory and time per step. The "
            "same setting as the Model tab's batch size, which its memory check and Measure use.")
        self.lr_box = QComboBox()
        self.lr_box.setEditable(True)
        self.lr_box.addItems(LR_CHOICES)
        self.lr_box.setCurrentText("1e-3")
        self.lr_box.setToolTip("Learning rate: how big each update step is. Too small learns slowly; "
                               "too big makes the loss jump around or explode (NaN). 1e-3 = 0.001.")
        self.warmup_box = _spin(
            "Warmup", 0, 1_000_000, 100, "Warmup: for this many first steps the learning rate grows "
            "from almost 0 to its full value, so the random starting weights are not shaken too hard.", 10)
        self.eval_box = _spin(
            "The evaluation interval", 1, 1_000_000, 250, "Evaluation interval: every this many steps, measure "
            "the loss on training and on validation text (text the model never trains on), save a "
            "checkpoint and write a sample.", 10)
        self.seed_box = _spin(
            "The seed", 0, 2_000_000_000, 1337, "Seed: the starting point of the random numbers (initial "
            "weights, batches). Same seed and settings = the same training.")
        self.compile_box = QCheckBox("Compile the model (faster steps)")
        self.compile_box.setToolTip("Let PyTorch compile the model into fused code (torch.compile): each "
                                    "step then runs about 10% faster on a CPU and more on a GPU, but "
                                    "training starts 5-60 s later while it compiles. Worth it for long "
                                    "runs; if compiling is not possible here, training goes on without it.")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("automatic (corpus-size-date)")
        self.name_edit.setToolTip("A name for this run, so you can find it in the runs list later")
        form.addRow("Iterations:", self.iters_box)
        form.addRow("Batch size:", self.batch_box)
        form.addRow("Learning rate:", self.lr_box)
        form.addRow("Warmup steps:", self.warmup_box)
        form.addRow("Evaluate every:", self.eval_box)
        form.addRow("Seed:", self.seed_box)
        form.addRow("Run name:", self.name_edit)
        form.addRow(self.compile_box)
        self.defaults_button = QPushButton("Sensible defaults for this size")
        self.defaults_button.setToolTip("Fill in settings that suit the chosen model's size "
                                        "(learning rate, batch, warmup, steps)")
        form.addRow(self.defaults_button)
        # Wired by the tab too (gui/scale_dialog.py): the torchrun command for these settings.
        self.scale_button = QPushButton("Run this at scale…")
        self.scale_button.setToolTip("The command that trains this run on a machine with GPUs "
                                     "(torchrun, several processes or machines), to copy")
        form.addRow(self.scale_button)
        # A number field's range, while a number past it is typed or after it was replaced.
        self.range_note = QLabel()
        self.range_note.setWordWrap(True)
        self.range_note.setStyleSheet(ui.WARNING_TEXT)
        self.range_note.hide()
        form.addRow(self.range_note)
        self.defaults_note = QLabel()
        self.defaults_note.setWordWrap(True)
        self.defaults_note.setStyleSheet(ui.NOTE)
        self.defaults_note.hide()
        form.addRow(self.defaults_note)
        # The boxes a value of TrainConfig comes from; Finished.suggest names one of these keys.
        self.boxes = {"iters": self.iters_box, "batch_size": self.batch_box, "lr": self.lr_box,
                      "warmup": self.warmup_box, "eval_interval": self.eval_box, "seed": self.seed_box}
        self.marked: str | None = None
        # What apply_defaults last filled in: while the fields still show exactly this, the student
        # has not changed anything, and a new model size brings its own defaults.
        self.auto_values: dict[str, Any] | None = None
        self.spins = [box for box in self.boxes.values() if isinstance(box, ui.SpinBox)]
        for box in self.spins:
            box.on_range = self._say_range

    def _say_range(self, text: str) -> None:
        """A field's range in words while a number past it is typed or was replaced ("": none)."""
        self.range_note.setText(text)
        self.range_note.setVisible(bool(text))

    @property
    def run_name(self) -> str | None:
        return self.name_edit.text().strip() or None

    def train_config(self, split: float) -> config.TrainConfig:
        """The TrainConfig from the form; TrainingError (message + hint) when a value is bad."""
        for box in self.spins:  # a number still being typed (Ctrl+Enter from inside a field)
            box.commit()
        text = self.lr_box.currentText().strip()
        try:
            lr = float(text)
        except ValueError:
            raise TrainingError(f"The learning rate '{text}' is not a number.",
                                "Write it like 1e-3 (= 0.001) or 0.0003.") from None
        min_lr = lr * config.MIN_LR_FRACTION
        cfg = config.TrainConfig(iters=self.iters_box.value(), batch_size=self.batch_box.value(), lr=lr,
                                 min_lr=min_lr, warmup=self.warmup_box.value(),
                                 eval_interval=self.eval_box.value(), seed=self.seed_box.value(),
                                 split=split, compile=self.compile_box.isChecked())
        cfg.validate()
        return cfg

    def shown_values(self) -> dict[str, Any]:
        """What the fields show now, keyed as TrainConfig (the learning rate as typed)."""
        shown: dict[str, Any] = {k: box.value() for k, box in self.boxes.items() if k != "lr"}
        shown["lr"] = self.lr_box.currentText().strip()
        return shown

    def set_values(self, **values: Any) -> None:
        for key, value in values.items():
            if key == "lr":
                self.lr_box.setCurrentText(f"{value:g}")
            else:
                self.boxes[key].setValue(int(value))

    def apply_defaults(self, model_cfg: config.ModelConfig) -> None:
        """Fill in config.training_defaults for this model (the CLI's rule too) and say why."""
        values, why = config.training_defaults(model_cfg)
        self.set_values(**values)
        self.defaults_note.setText(why)
        self.defaults_note.show()
        self.auto_values = self.shown_values()

    def set_editable(self, editable: bool) -> None:
        for w in (*self.boxes.values(), self.name_edit, self.compile_box, self.defaults_button):
            w.setEnabled(editable)

    def mark(self, key: str | None) -> None:
        """Outline the setting a failed run says to change (None: no outline)."""
        if self.marked in self.boxes:
            self.boxes[self.marked].setStyleSheet("")
        self.marked = key if key in self.boxes else None
        if self.marked is not None:
            self.boxes[self.marked].setStyleSheet("border: 2px solid #d08a00;")
