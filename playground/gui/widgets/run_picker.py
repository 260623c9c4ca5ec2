"""Which model: a combo box of the saved runs that follows the app's current run, and a slider
over one run's checkpoints.

``RunPicker`` is shared by the Attention and Generate tabs (and anything else that needs "which
model?"). Picking a run here makes it the current run for every tab, through ``AppState``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QToolButton, QWidget

from playground.core import checkpoint
from playground.core.attention_views import loss_text


def run_title(run: checkpoint.Run) -> str:
    info = run.info
    val = info.get("best_val_loss")
    loss = f" · val {val:.3f}" if isinstance(val, (int, float)) else ""
    return f"{run.name}  (step {run.step}{loss})"


class RunPicker(QWidget):
    """Emits ``runPicked(Run)`` once per choice (here, or of the app's run by another tab);
    mirrors ``state.run``."""

    runPicked = Signal(object)

    def __init__(self, state, parent: QWidget | None = None, label: str = "Run:") -> None:
        super().__init__(parent)
        self.state = state
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(28)
        self.combo.setToolTip("The trained model to look at. Each training you start becomes a run.")
        refresh = QToolButton()
        refresh.setText("↻")
        refresh.setToolTip("Look for new runs on disk")
        refresh.clicked.connect(self.refresh)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(label))
        layout.addWidget(self.combo, 1)
        layout.addWidget(refresh)
        self.combo.activated.connect(self._activated)
        state.runChanged.connect(self._on_state_run)
        self.refresh()

    def runs(self) -> list[checkpoint.Run]:
        return [self.combo.itemData(i) for i in range(self.combo.count())]

    def current(self) -> checkpoint.Run | None:
        return self.combo.currentData()

    @Slot()
    def refresh(self) -> None:
        """Re-read the runs folder, keeping the selection (or the app's current run)."""
        keep = self.current() or self.state.run
        self.combo.blockSignals(True)
        self.combo.clear()
        for run in checkpoint.list_runs():
            self.combo.addItem(run_title(run), run)
        self.combo.blockSignals(False)
        if self.combo.count() == 0:
            self.combo.setPlaceholderText("No runs yet: train a model on the Train tab")
        self.select(keep)

    def select(self, run: checkpoint.Run | None) -> None:
        if run is None:
            return
        for i in range(self.combo.count()):
            if self.combo.itemData(i) == run:
                self.combo.setCurrentIndex(i)
                return
        self.combo.insertItem(0, run_title(run), run)  # a run made after the last refresh
        self.combo.setCurrentIndex(0)

    @Slot(int)
    def _activated(self, index: int) -> None:
        run = self.combo.itemData(index)
        if run is None:
            return
        if run != self.state.run:
            self.state.set_run(run)  # comes back through _on_state_run, which announces the pick
        else:
            self.runPicked.emit(run)  # the current run picked again: the state has no news to send

    @Slot(object)
    def _on_state_run(self, run) -> None:
        self.select(run)
        if run is not None:
            self.runPicked.emit(run)


class CheckpointSlider(QWidget):
    """A slider over a run's saved checkpoints, the loss at the one picked, and a small
    validation-loss curve with a marker there. ``valueChanged`` is the slider's own signal.

    Builds a pyqtgraph plot: construct it only once pyqtgraph may be imported (see plots.py).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        from playground.gui.widgets.plots import pyqtgraph

        super().__init__(parent)
        pg = pyqtgraph()
        self.steps: list[int | None] = []  # None: the newest weights (a run without snapshots)
        self.evals: dict[int, tuple[float, float]] = {}  # step -> (train loss, validation loss)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setMinimumWidth(200)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setToolTip("The weights saved during training, from step 0 (random) to the last. "
                               "Slide to watch the attention patterns form. (Alt+← / Alt+→)")
        self.valueChanged = self.slider.valueChanged
        self.slider.valueChanged.connect(self._update_label)
        self.step_label = QLabel()
        self.step_label.setMinimumWidth(330)
        self.step_label.setToolTip("The loss on the validation text when this checkpoint was saved: "
                                   "lower means the model predicts the next token better.")
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
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Checkpoint:"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.step_label)
        layout.addWidget(self.loss_plot)

    @property
    def step(self) -> int | None:
        if not self.steps:
            return None
        return self.steps[max(0, min(self.slider.value(), len(self.steps) - 1))]

    def set_steps(self, steps: list[int | None], evals: dict[int, tuple[float, float]],
                  keep_position: bool) -> None:
        """Offer ``steps``. With ``keep_position`` the checkpoint picked stays picked, unless it was
        the newest: then the newest is picked again (a view follows a run that is training)."""
        at_end = self.slider.value() >= self.slider.maximum()
        old = self.step
        self.steps, self.evals = list(steps), dict(evals)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(steps) - 1))
        self.slider.setValue(steps.index(old) if keep_position and old in steps and not at_end else len(steps) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(steps) > 1)
        points = sorted((it, va) for it, (_tr, va) in self.evals.items())
        self.loss_curve.setData([p[0] for p in points], [p[1] for p in points])
        self._update_label()

    @Slot()
    def _update_label(self) -> None:
        if not self.steps:
            self.step_label.setText("no checkpoints")
            return
        step = self.step
        self.step_label.setText(f"{self.slider.value() + 1}/{len(self.steps)} · {loss_text(self.evals, step)}")
        self.loss_marker.setVisible(step is not None)
        if step is not None:
            self.loss_marker.setValue(step)
