"""File → Export lab report: the current run's report as one HTML page or a PDF, and the
Attention tab's "Pin this head to the lab report".

The numbers, samples and missions come from ``core.lab_report`` (in a worker: sampling loads
checkpoints); the attention of the report's text and of each pinned head is computed in the same
worker. The pictures are then drawn on the GUI thread by the app's own widgets (the loss curves'
exporter, the attention grid, the one-head view), off screen, and embedded as PNG. A PDF is the
same page printed by Qt (``QTextDocument`` on a ``QPdfWriter``: no browser needed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QObject, Qt, Signal, Slot
from PySide6.QtGui import QPageLayout, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import QApplication, QFileDialog, QProgressDialog, QWidget

from playground.core import atomic
from playground.core import lab_report as lr
from playground.core.checkpoint import Run
from playground.errors import PlaygroundError
from playground.gui import workers
from playground.gui.tabs.generate.jobs import OneThread
from playground.gui.ui import report_unexpected

HTML_FILTER = "Web page (*.html)"
PDF_FILTER = "PDF (*.pdf)"
PROGRESS_AFTER_MS = 400  # a quick export shows no dialog at all
GRID_CELL = 190  # pixels per head in the grid picture
PDF_DPI = 96  # the page's pixels are the HTML's pixels: images keep the size they have on screen
NO_RUN = ("There is no run to report on yet. Train a model on the Train tab (or open one with "
          "File → Open run…), then export its lab report.")


def not_trained(run: Run) -> str | None:
    """Why ``run`` has nothing to report yet (None: it has)."""
    if not run.snapshots() and not run.has_latest():
        return (f"Run '{run.name}' has not been trained yet: it has no saved weights. Train it for at "
                "least one evaluation interval, then export its lab report.")
    return None


def png_bytes(widget: QWidget, width: int, height: int) -> bytes:
    """Draw ``widget`` off screen at ``width`` × ``height`` and return it as PNG bytes."""
    widget.setAttribute(Qt.WA_DontShowOnScreen, True)
    widget.resize(width, height)
    widget.show()
    QApplication.processEvents()  # the plots lay out their axes on the first resize and paint
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    widget.grab().save(buffer, "PNG")
    buffer.close()
    widget.close()
    widget.deleteLater()
    return bytes(data)


def loss_figure(run: Run) -> lr.Figure:
    from playground.gui.widgets.loss_plot import export_curves_png

    vocab = run.info.get("tokenizer", {}).get("vocab_size")
    with tempfile.TemporaryDirectory() as folder:
        path = export_curves_png(run.name, run.metrics(), Path(folder) / "loss.png", vocab, width=1000)
        png = path.read_bytes()
    return lr.Figure("Loss curves", png, "Training loss (each batch) and validation loss (text the model "
                     "never trained on); the dashed line is uniform guessing, ln(vocabulary size).")


def grid_figure(capture, labels: list[str], step: int | None, text: str) -> lr.Figure:
    from playground.gui.widgets.attention_grid import AttentionGrid

    n_layer, n_head = capture.attention.shape[:2]  # (L, H, T, T)
    grid = AttentionGrid()
    grid.set_data(capture.attention, labels, capture.head_labels, capture.scores)
    png = png_bytes(grid, 200 + n_head * GRID_CELL, 40 + n_layer * (GRID_CELL + 20))
    at = "the newest weights" if step is None else f"step {step:,}"
    return lr.Figure(f"Every attention head at {at}", png,
                     f"Rows: the tokens that look; columns: the tokens looked at; grey: the future. Text: {text!r}")


def head_figure(pin: lr.Pin, capture, labels: list[str]) -> lr.Figure:
    from playground.gui.widgets.attention_grid import HeadView

    view = HeadView()
    view.set_data(capture.attention[pin.layer, pin.head], labels)
    size = view.plot_widget.minimumSize()
    png = png_bytes(view.plot_widget, max(size.width(), 520), max(size.height(), 420))
    view.deleteLater()
    return lr.Figure(f"Pinned: {pin.title}", png, f"{pin.label} · text: {pin.text!r}" if pin.label else
                     f"Text: {pin.text!r}")


def write_pdf(page: str, path: str | Path) -> Path:
    """Print the HTML page to a PDF file through Qt (atomically, like every file the app writes)."""
    path = Path(path)
    doc = QTextDocument()
    doc.setHtml(page)
    with atomic.atomic_path(path) as tmp:
        writer = QPdfWriter(str(tmp))
        writer.setResolution(PDF_DPI)
        writer.setPageSize(QPageSize(QPageSize.A4))
        writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Millimeter)
        doc.print_(writer)
        del writer  # the file is complete once the writer is gone
    return path


class LabReport(QObject):
    """The window's lab report exporter (File menu); ``written(path)`` when a file is saved."""

    written = Signal(str)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.handle: workers.WorkerHandle | None = None
        self.progress: QProgressDialog | None = None

    @property
    def busy(self) -> bool:
        return self.handle is not None and self.handle.running

    def _refuse(self, text: str) -> None:
        self.window.show_notice("Lab report", text)

    def check(self) -> Run | None:
        """The run to report on, or None after saying why there is none."""
        if self.busy:
            self.window.statusBar().showMessage("A lab report is being written already.", 5_000)
            return None
        run = self.window.state.run
        if run is None:
            self._refuse(NO_RUN)
            return None
        why = not_trained(run)
        if why is not None:
            self._refuse(why)
            return None
        return run

    @Slot()
    def export_dialog(self) -> None:
        self._dialog(HTML_FILTER)

    @Slot()
    def export_pdf_dialog(self) -> None:
        self._dialog(PDF_FILTER)

    def _dialog(self, preferred: str) -> None:
        if (run := self.check()) is None:
            return
        suffix = ".pdf" if preferred == PDF_FILTER else ".html"
        other = HTML_FILTER if preferred == PDF_FILTER else PDF_FILTER
        path, chosen = QFileDialog.getSaveFileName(
            self.window, "Export the lab report", str(Path.home() / f"{run.name}-lab-report{suffix}"),
            f"{preferred};;{other}")
        if path:
            if not Path(path).suffix:
                path += ".pdf" if chosen == PDF_FILTER else ".html"
            self.export(path)

    def _attention_choice(self, run: Run) -> tuple[int | None, str | None]:
        """The checkpoint and text the Attention tab shows for this run (what the student chose),
        else the newest snapshot and None (a validation excerpt is picked in the worker)."""
        tab = next((t for t in self.window.tab_widgets if getattr(t, "TITLE", "") == "Attention"), None)
        if tab is not None and tab.run == run and tab.ids and tab.steps:
            return tab.step, tab.tokenizer.decode(tab.ids)
        snaps = run.snapshots()
        return (snaps[-1][0] if snaps else None), None

    def export(self, path: str | Path) -> workers.WorkerHandle | None:
        """Write the current run's report to ``path`` (.pdf: a PDF, else HTML), in the background."""
        if (run := self.check()) is None:
            return None
        path = Path(path)
        step, text = self._attention_choice(run)

        def job(progress, cancel):
            own = Run(run.path)  # the GUI thread's Run object is not shared with this thread
            # Sampling is one token at a time: tiny products that a second OpenMP thread only
            # slows down on a busy machine (measured in the Generate tab: 10x).
            with OneThread(SimpleNamespace(config=own.model_config)):
                return work(own, cancel)

        def work(own: Run, cancel):
            from playground.core import attention_views as av

            report = lr.gather(own, cancel=cancel)
            grid_text = text if text is not None else lr.report_text(
                own, report.samples[-1].text if report.samples else "")
            tokenizer, context = own.tokenizer, own.model_config.context_length
            views: dict = {}
            for key in [(step, grid_text), *((p.step, p.text) for p in report.pins)]:
                if cancel.is_set():
                    raise lr.Cancelled
                if key in views or not key[1]:
                    continue
                try:
                    ids = tokenizer.encode(key[1])[:context]
                    capture = av.compute(own.path, key[0], ids, av.Want()).capture
                except PlaygroundError as exc:  # a pinned checkpoint pruned or reset since
                    ids, capture = [], exc
                views[key] = (capture, [tokenizer.token_label(i) for i in ids])
            return report, (step, grid_text), views

        self.progress = QProgressDialog("Writing the lab report: sampling text at a few checkpoints…",
                                        "Cancel", 0, 0, self.window)
        self.progress.setWindowTitle("Lab report")
        self.progress.setMinimumDuration(PROGRESS_AFTER_MS)
        self.progress.setValue(0)
        self.window.statusBar().showMessage("Writing the lab report…")
        self.handle = workers.start(job, parent=self, name="lab-report",
                                    on_done=lambda result: self._gathered(run, path, result),
                                    on_error=self._job_failed)
        self.progress.canceled.connect(self._cancel)
        return self.handle

    @Slot()
    def _cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def _close_progress(self) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect(self._cancel)
            self.progress.reset()
            self.progress.deleteLater()
            self.progress = None

    def _gathered(self, run: Run, path: Path, result) -> None:
        report, (step, grid_text), views = result
        try:
            report.figures = self.figures(run, report, step, grid_text, views)
            page = lr.to_html(report)
            if path.suffix.lower() == ".pdf":
                write_pdf(page, path)
            else:
                atomic.write_text(path, page)
        except OSError as exc:
            self._say_failed(f"Could not write {path}: {exc.strerror or exc}. Pick a folder you can write to.")
            return
        finally:
            self._close_progress()
        self.window.statusBar().showMessage(f"Lab report written: {path}", 15_000)
        self.written.emit(str(path))

    def figures(self, run: Run, report: lr.Report, step, grid_text: str, views: dict) -> list[lr.Figure]:
        """The pictures, drawn by the app's own widgets: loss curves, the grid, each pinned head."""
        figures = [loss_figure(run)]
        capture, labels = views.get((step, grid_text), (None, []))
        if capture is not None and not isinstance(capture, PlaygroundError):  # None: a bigram has no heads
            figures.append(grid_figure(capture, labels, step, grid_text))
        for pin in report.pins:
            capture, labels = views[(pin.step, pin.text)]
            if isinstance(capture, PlaygroundError) or capture is None:
                continue  # its checkpoint is gone; the other pictures still go in
            if pin.layer < capture.attention.shape[0] and pin.head < capture.attention.shape[1]:
                figures.append(head_figure(pin, capture, labels))
        return figures

    def _job_failed(self, exc: BaseException) -> None:
        self._close_progress()
        if isinstance(exc, lr.Cancelled):
            self.window.statusBar().showMessage("Lab report cancelled.", 5_000)
            return
        if isinstance(exc, PlaygroundError):
            self._say_failed(f"The lab report could not be written: {exc.message}"
                             + (f" {exc.hint}" if exc.hint else ""))
        elif isinstance(exc, OSError):
            self._say_failed(f"The lab report could not be written: {exc.strerror or exc}.")
        else:
            self.window.statusBar().clearMessage()
            report_unexpected(exc)

    def _say_failed(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 15_000)
        self._refuse(text)


class HeadPinner(QObject):
    """The Head view's "Pin this head to the lab report": stores the head the Attention tab
    shows (layer, head, checkpoint, text) in the run folder, and says so in the tab."""

    def __init__(self, tab) -> None:
        super().__init__(tab)
        self.tab = tab

    @Slot()
    def pin(self) -> None:
        tab = self.tab
        if tab.run is None or not tab.ids:
            return
        key = tab.current_key()
        capture = tab.captures.get(key) if key is not None else None
        label = ""
        if capture is not None:
            from playground.gui.widgets.attention_grid import head_title

            name, score = capture.head_labels[tab.layer][tab.head]
            label = head_title(name, score, capture.scores[tab.layer][tab.head])
        pin = lr.Pin(tab.layer, tab.head, tab.step, tab.tokenizer.decode(tab.ids), label)
        try:
            now = lr.add_pin(tab.run.path, pin)
        except OSError as exc:
            tab.error_label.show_error(PlaygroundError(
                f"Could not pin the head: the run folder cannot be written ({exc.strerror or exc}).",
                "Check the disk; the lab report will show the loss curves and the grid without it."))
            return
        tab.status_label.setText(f"Pinned layer {pin.layer + 1}, head {pin.head + 1} to the lab report "
                                 f"({len(now)} pinned; File → Export lab report).")
