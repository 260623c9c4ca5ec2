"""The runs list of the Train tab: every training is a run folder on disk.

One row per run (name, corpus, tokenizer, size, date, best validation loss, progress, disk use).
Ticking runs overlays their curves on the loss plot. Buttons open (make it the app's current
run), resume (or start again a run cut off before its first checkpoint), rename, delete (to the
trash, with Undo), export curves as PNG / CSV, and export / import a whole run as one .zip. Zip
work runs in a worker: a run can hold hundreds of MB.

Whether another process trains a run (the command line, another window) is its lock's word
(core.run_lock.owner_of), never a guess from file times: such a run is not resumed, renamed or
deleted here.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from playground.core import checkpoint, run_lock
from playground.errors import PlaygroundError
from playground.gui import ui, workers

UNDO_MS = 15_000  # how long the Undo bar stays after a delete
COLUMNS = ["Run", "Corpus", "Tokenizer", "Size", "Created", "Best val. loss", "Progress", "Disk"]
COLUMN_TIPS = [
    "The run's name. Tick runs to draw their curves on the loss plot and compare them.",
    "The text the model was trained on",
    "How the text was cut into tokens, and how many different tokens there are",
    "The model's shape: layers × embedding width",
    "When the run was started",
    "The lowest validation loss reached (loss on text the model never trained on): lower is better",
    "Steps done of the planned iterations, and whether the run finished, was stopped or failed",
    "Space used on disk by the run (checkpoints are thinned out to keep this bounded)",
]


def size_label(model: dict) -> str:
    if model.get("arch") == "bigram":
        return "bigram"
    return f"{model.get('n_layer', '?')} layers × {model.get('d_model', '?')}"


def trained_elsewhere(run: checkpoint.Run) -> bool:
    """True while a process (the CLI, a training child) holds the run's lock."""
    return run_lock.owner_of(run.path) is not None


def cut_off(run: checkpoint.Run) -> bool:
    """The run's training ended before it finished and nobody stopped it on purpose: the window
    closed while it trained ("interrupted"), or the app or computer was killed (its status still
    says it trains, or that it was about to, but no process holds its lock)."""
    if run.status in ("training", "created"):
        return not trained_elsewhere(run)
    return run.status == "stopped" and bool(run.info.get("interrupted"))


def can_resume(run: checkpoint.Run) -> bool:
    return run.status in ("stopped", "training") and run.has_latest() and not trained_elsewhere(run)


def can_start_again(run: checkpoint.Run) -> bool:
    """A run that never saved a checkpoint (killed, or a disk error, before it) can only start over."""
    return run.status in ("created", "training", "stopped") and not run.has_latest() \
        and not trained_elsewhere(run)


def progress_label(run: checkpoint.Run) -> str:
    iters = run.info.get("train", {}).get("iters")
    done = f"{run.step:,}/{iters:,}" if isinstance(iters, int) else f"{run.step:,}"
    words = {"created": "not started", "training": "interrupted", "stopped": "stopped",
             "finished": "finished", "failed": "failed"}
    if run.status in ("created", "training") and trained_elsewhere(run):
        return f"{done} · training in another process"
    return f"{done} · {words.get(run.status, run.status)}"


def _date(info: dict) -> str:
    try:
        return datetime.fromisoformat(str(info.get("created"))).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "?"


class _SortKeyItem(QTableWidgetItem):
    """Sorts by a number stored in UserRole+1 instead of the text (losses, bytes)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(Qt.UserRole + 1), other.data(Qt.UserRole + 1)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return super().__lt__(other)


class RunsList(QWidget):
    """Signals: ``overlayChanged(list[Run])`` (ticked runs), ``runOpened(Run)``,
    ``resumeRequested(Run)``, ``runsChanged()`` (renamed, deleted, restored, imported)."""

    overlayChanged = Signal(list)
    runOpened = Signal(object)
    resumeRequested = Signal(object)
    runsChanged = Signal()

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.busy_path: Path | None = None  # the run being trained: not renamed/deleted meanwhile
        self.last_deleted: str | None = None  # trash path of the last deleted run (for Undo)
        self._zip_handle = None
        self._refreshing = False

        title = QLabel("<b>Runs</b> — every training is saved as a run")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setToolTip("Your runs. Tick several to compare their curves; double-click one "
                              "to open it in the Attention and Generate tabs.")
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self._open_clicked())
        self.empty_label = QLabel("No runs yet. Press Start to train your first model.")
        self.empty_label.setStyleSheet("color: #555;")

        def button(text: str, tip: str, slot) -> QPushButton:
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            return b

        self.open_button = button("Open", "Make this run the current model for the Attention and "
                                  "Generate tabs, and show its curves", self._open_clicked)
        self.resume_button = button("Resume", "Continue a stopped or interrupted run from its last "
                                    "checkpoint", self._resume_clicked)
        self.rename_button = button("Rename…", "Give the run a name you will recognise (F2)", self._rename_clicked)
        self.delete_button = button("Delete", "Move the run to the trash (you can undo right after)",
                                    self._delete_clicked)
        self.png_button = button("Curves PNG…", "Save a picture of this run's loss curves", self._png_clicked)
        self.csv_button = button("Curves CSV…", "Save this run's losses, learning rates and speeds "
                                 "as a table (one row per step and per evaluation)", self._csv_clicked)
        self.export_button = button("Export .zip…", "Pack the whole run (model, tokenizer, curves) into "
                                    "one file to share with a classmate", self._export_clicked)
        self.import_button = button("Import .zip…", "Add a run someone exported with LLM Playground",
                                    self._import_clicked)
        refresh = QToolButton()
        refresh.setText("↻")
        refresh.setToolTip("Look for new runs on disk")
        refresh.clicked.connect(self.refresh)
        self.row_buttons = [self.open_button, self.resume_button, self.rename_button, self.delete_button,
                            self.png_button, self.csv_button, self.export_button]
        buttons = QHBoxLayout()
        for b in self.row_buttons + [self.import_button]:
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(refresh)

        self.message = ui.MessageLabel()

        # The Undo bar ("snackbar") after a delete.
        self.undo_bar = QFrame()
        self.undo_bar.setStyleSheet("QFrame { background: #333; border-radius: 4px; } "
                                    "QLabel { color: white; } QPushButton { color: #8fd0ff; }")
        self.undo_label = QLabel()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Bring the deleted run back from the trash (Ctrl+Z)")
        self.undo_button.setFlat(True)
        self.undo_button.clicked.connect(self.undo_delete)
        bar = QHBoxLayout(self.undo_bar)
        bar.setContentsMargins(8, 2, 8, 2)
        bar.addWidget(self.undo_label, 1)
        bar.addWidget(self.undo_button)
        self.undo_bar.hide()
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.setInterval(UNDO_MS)
        self._undo_timer.timeout.connect(self.undo_bar.hide)
        local = Qt.WidgetWithChildrenShortcut  # never steal Ctrl+Z / Delete from other tabs
        QShortcut(QKeySequence.Undo, self, activated=self._undo_shortcut, context=local)
        QShortcut(QKeySequence(Qt.Key_F2), self.table, activated=self._rename_clicked, context=local)
        QShortcut(QKeySequence.Delete, self.table, activated=self._delete_clicked, context=local)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(self.undo_bar)
        self.refresh()

    # -- rows ------------------------------------------------------------------------------
    def runs(self) -> list[checkpoint.Run]:
        return [self.table.item(i, 0).data(Qt.UserRole) for i in range(self.table.rowCount())]

    def row_of(self, run: checkpoint.Run | str | None) -> int:
        if run is None:
            return -1
        name = run if isinstance(run, str) else run.name
        for i, r in enumerate(self.runs()):
            if r.name == name:
                return i
        return -1

    def checked_runs(self) -> list[checkpoint.Run]:
        return [self.table.item(i, 0).data(Qt.UserRole) for i in range(self.table.rowCount())
                if self.table.item(i, 0).checkState() == Qt.Checked]

    def selected_run(self) -> checkpoint.Run | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.table.item(rows.pop(), 0).data(Qt.UserRole) if rows else None

    def select(self, run: checkpoint.Run | str | None) -> None:
        row = self.row_of(run)
        if row >= 0:
            self.table.selectRow(row)

    def set_checked(self, run: checkpoint.Run | str, checked: bool = True) -> None:
        row = self.row_of(run)
        if row >= 0:
            self.table.item(row, 0).setCheckState(Qt.Checked if checked else Qt.Unchecked)

    @Slot()
    def refresh(self) -> None:
        """Re-read the runs folder, keeping ticks and the selection."""
        checked = {r.name for r in self.checked_runs()}
        selected = self.selected_run()
        self._refreshing = True
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        runs = checkpoint.list_runs()
        for run in runs:
            self._add_row(run, run.name in checked)
        self.table.setSortingEnabled(True)
        self._refreshing = False
        self.empty_label.setVisible(not runs)
        self.table.setVisible(bool(runs))
        if selected is not None:
            self.select(selected.name)
        self._update_buttons()
        gone = checked - {r.name for r in runs}
        if gone:
            self.overlayChanged.emit(self.checked_runs())

    def update_run(self, run: checkpoint.Run) -> None:
        """Refresh one run's row (its step, loss and size change while it trains)."""
        row = self.row_of(run)
        if row < 0:
            self.refresh()
            return
        checked = self.table.item(row, 0).checkState() == Qt.Checked
        self._refreshing = True
        self._fill_row(row, run, checked)
        self._refreshing = False

    def _add_row(self, run: checkpoint.Run, checked: bool) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self._fill_row(row, run, checked)

    def _fill_row(self, row: int, run: checkpoint.Run, checked: bool) -> None:
        info = run.info
        tok = info.get("tokenizer", {})
        best = info.get("best_val_loss")
        try:
            disk = run.disk_size()
        except OSError:
            disk = 0
        snaps = len(run.snapshots())
        name_item = QTableWidgetItem(run.name)
        name_item.setData(Qt.UserRole, run)
        name_item.setFlags(name_item.flags() | Qt.ItemIsUserCheckable)
        name_item.setCheckState(Qt.Checked if checked else Qt.Unchecked)
        name_item.setToolTip(f"{run.path}\nTick to draw this run's curves on the loss plot.")
        model = info.get("model", {})
        cells = [
            name_item,
            QTableWidgetItem(str(info.get("corpus", {}).get("name", "?"))),
            QTableWidgetItem(f"{tok.get('kind', '?')} · {tok.get('vocab_size', '?')}"),
            QTableWidgetItem(size_label(model)),
            QTableWidgetItem(_date(info)),
            _SortKeyItem(f"{best:.4f}" if isinstance(best, (int, float)) else "—"),
            QTableWidgetItem(progress_label(run) if not self._is_busy(run) else
                             f"{run.step:,}/{info.get('train', {}).get('iters', '?'):,} · training now"),
            _SortKeyItem(ui.format_bytes(disk)),
        ]
        cells[3].setToolTip(", ".join(f"{k}={v}" for k, v in model.items()))
        cells[5].setData(Qt.UserRole + 1, best if isinstance(best, (int, float)) else float("inf"))
        cells[7].setData(Qt.UserRole + 1, disk)
        cells[7].setToolTip(f"{snaps} checkpoint(s) kept for the history slider, plus latest.pt to resume")
        if run.status == "failed" and info.get("message"):
            cells[6].setToolTip(str(info["message"]))
        for col, item in enumerate(cells):
            self.table.setItem(row, col, item)

    # -- state -----------------------------------------------------------------------------
    def set_busy_run(self, run: checkpoint.Run | None) -> None:
        self.busy_path = run.path if run is not None else None
        self._update_buttons()
        if run is not None:
            self.update_run(checkpoint.Run(run.path))

    def _is_busy(self, run: checkpoint.Run | None) -> bool:
        return run is not None and self.busy_path is not None and run.path == self.busy_path

    @property
    def busy(self) -> bool:
        """True while a zip export or import runs."""
        return self._zip_handle is not None and self._zip_handle.running

    @Slot()
    def _update_buttons(self) -> None:
        run = self.selected_run()
        for b in self.row_buttons:
            b.setEnabled(run is not None and not self.busy)
        if run is None:
            return
        training = self._is_busy(run) or trained_elsewhere(run)
        for b in (self.rename_button, self.delete_button, self.resume_button):
            b.setEnabled(not training and not self.busy)
        again = can_start_again(run)
        self.resume_button.setText("Start again" if again else "Resume")
        self.resume_button.setEnabled((again or can_resume(run)) and not training and self.busy_path is None)
        if training:
            tip = "This run is training now"
        elif again:
            tip = "This run stopped before its first checkpoint: train it again from step 0, with its settings"
        elif run.status in ("stopped", "training"):
            tip = "Continue this run from its last checkpoint"
        else:
            tip = f"Only a stopped or interrupted run can be resumed (this one is {run.status})"
        self.resume_button.setToolTip(tip)
        self.import_button.setEnabled(not self.busy)

    @Slot(QTableWidgetItem)
    def _item_changed(self, item: QTableWidgetItem) -> None:
        if not self._refreshing and item.column() == 0:
            self.overlayChanged.emit(self.checked_runs())

    # -- actions (callable from tests without dialogs) ---------------------------------------
    def open_run(self, run: checkpoint.Run) -> None:
        self.state.set_run(run)
        self.runOpened.emit(run)
        self.message.show_text(f"Opened {run.name}: the Attention and Generate tabs now use it.", ui.OK_TEXT)

    def rename_run(self, run: checkpoint.Run, new_name: str) -> checkpoint.Run | None:
        if self._is_busy(run) or trained_elsewhere(run):
            self.message.show_text("This run is training. Stop it first, then rename it.", ui.ERROR_TEXT)
            return None
        current = self.state.run
        was_current = current is not None and current.path == run.path
        try:
            renamed = checkpoint.Run(run.path).rename(new_name)
        except (PlaygroundError, OSError) as exc:
            self.message.show_error(exc if isinstance(exc, PlaygroundError) else
                                    PlaygroundError(f"Could not rename the run: {exc}", None), ui.ERROR_TEXT)
            return None
        if was_current:
            self.state.set_run(renamed)
        self.refresh()
        self.select(renamed)
        self.message.show_text(f"Renamed to {renamed.name}.", ui.OK_TEXT)
        self.runsChanged.emit()
        return renamed

    def delete_run(self, run: checkpoint.Run) -> str | None:
        if self._is_busy(run) or trained_elsewhere(run):
            self.message.show_text("This run is training. Stop it first, then delete it.", ui.ERROR_TEXT)
            return None
        current = self.state.run
        try:
            trash = checkpoint.Run(run.path).delete()
        except (PlaygroundError, OSError) as exc:
            self.message.show_error(exc if isinstance(exc, PlaygroundError) else
                                    PlaygroundError(f"Could not delete the run: {exc}", None), ui.ERROR_TEXT)
            return None
        if current is not None and current.path == run.path:
            self.state.set_run(None)
        self.last_deleted = str(trash)
        self.undo_label.setText(f"Deleted run {run.name} (moved to the trash).")
        self.undo_bar.show()
        self._undo_timer.start()
        self.message.clear_message()
        self.refresh()
        self.runsChanged.emit()
        return self.last_deleted

    @Slot()
    def undo_delete(self) -> checkpoint.Run | None:
        if not self.last_deleted:
            return None
        try:
            run = checkpoint.restore(self.last_deleted)
        except (PlaygroundError, OSError) as exc:
            self.message.show_error(exc if isinstance(exc, PlaygroundError) else
                                    PlaygroundError(f"Could not restore the run: {exc}", None), ui.ERROR_TEXT)
            return None
        self.last_deleted = None
        self.undo_bar.hide()
        self._undo_timer.stop()
        self.refresh()
        self.select(run)
        self.message.show_text(f"Restored {run.name}.", ui.OK_TEXT)
        self.runsChanged.emit()
        return run

    def export_zip(self, run: checkpoint.Run, path: str | Path) -> None:
        def work(progress, cancel):
            return checkpoint.export_zip(checkpoint.Run(run.path), path)

        self._start_zip(work, lambda p: self.message.show_text(f"Exported {run.name} to {p}.", ui.OK_TEXT))

    def import_zip(self, path: str | Path) -> None:
        def done(run):
            self.refresh()
            self.select(run)
            self.message.show_text(f"Imported {run.name}.", ui.OK_TEXT)
            self.runsChanged.emit()

        self._start_zip(lambda progress, cancel: checkpoint.import_zip(path), done)

    def _start_zip(self, work, done) -> None:
        self.message.show_text("Working…", ui.NOTE)
        self._zip_handle = workers.start(work, parent=self, on_done=self._zip_done(done),
                                         on_error=self._zip_failed, name="run-zip")
        self._update_buttons()

    def _zip_done(self, then):
        def finish(result: Any) -> None:
            self._update_buttons()
            then(result)
        return finish

    def _zip_failed(self, exc: BaseException) -> None:
        self._update_buttons()
        self.message.show_error(exc if isinstance(exc, PlaygroundError) else
                                PlaygroundError(f"{type(exc).__name__}: {exc}", None), ui.ERROR_TEXT)

    def export_png(self, run: checkpoint.Run, path: str | Path) -> Path:
        from playground.gui.widgets.loss_plot import export_curves_png

        vocab = run.info.get("tokenizer", {}).get("vocab_size")
        out = export_curves_png(run.name, run.metrics(), path, vocab_size=vocab)
        self.message.show_text(f"Saved the curves of {run.name} to {out}.", ui.OK_TEXT)
        return out

    def export_csv(self, run: checkpoint.Run, path: str | Path) -> Path:
        from playground.gui.widgets.loss_plot import export_curves_csv

        out = export_curves_csv(run.metrics(), path)
        self.message.show_text(f"Saved the curves of {run.name} to {out}.", ui.OK_TEXT)
        return out

    # -- button handlers (dialogs) -----------------------------------------------------------
    @Slot()
    def _open_clicked(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.open_run(run)

    @Slot()
    def _resume_clicked(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.resumeRequested.emit(run)

    @Slot()
    def _rename_clicked(self) -> None:
        run = self.selected_run()
        if run is None or self._is_busy(run):
            return
        name, ok = QInputDialog.getText(self, "Rename run", "New name (letters, digits, - _ .):", text=run.name)
        if ok and name.strip():
            self.rename_run(run, name)

    @Slot()
    def _delete_clicked(self) -> None:
        run = self.selected_run()
        if run is not None:
            self.delete_run(run)

    @Slot()
    def _undo_shortcut(self) -> None:
        if self.undo_bar.isVisible():
            self.undo_delete()

    def _save_path(self, title: str, name: str, filt: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / name), filt)
        return path

    @Slot()
    def _png_clicked(self) -> None:
        run = self.selected_run()
        path = run and self._save_path("Save the loss curves", f"{run.name}.png", "PNG image (*.png)")
        if path:
            try:
                self.export_png(run, path)
            except OSError as exc:
                self.message.show_text(f"Could not save the picture: {exc}", ui.ERROR_TEXT)

    @Slot()
    def _csv_clicked(self) -> None:
        run = self.selected_run()
        path = run and self._save_path("Save the curves as a table", f"{run.name}.csv", "CSV table (*.csv)")
        if path:
            try:
                self.export_csv(run, path)
            except OSError as exc:
                self.message.show_text(f"Could not save the table: {exc}", ui.ERROR_TEXT)

    @Slot()
    def _export_clicked(self) -> None:
        run = self.selected_run()
        path = run and self._save_path("Export the run", f"{run.name}.zip", "Zip archive (*.zip)")
        if path:
            self.export_zip(run, path)

    @Slot()
    def _import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a run", str(Path.home()), "Zip archive (*.zip)")
        if path:
            self.import_zip(path)

    def shutdown(self) -> None:
        workers.shutdown(self)
