"""A combo box of the saved runs that follows the app's current run.

Shared by the Attention and Generate tabs (and anything else that needs "which model?").
Picking a run here makes it the current run for every tab, through ``AppState``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

from playground.core import checkpoint


def run_title(run: checkpoint.Run) -> str:
    info = run.info
    val = info.get("best_val_loss")
    loss = f" · val {val:.3f}" if isinstance(val, (int, float)) else ""
    return f"{run.name}  (step {run.step}{loss})"


class RunPicker(QWidget):
    """Emits ``runPicked(Run)`` when the student chooses a run; mirrors ``state.run``."""

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
        if run is not None:
            self.state.set_run(run)
            self.runPicked.emit(run)

    @Slot(object)
    def _on_state_run(self, run) -> None:
        self.select(run)
        if run is not None:
            self.runPicked.emit(run)
