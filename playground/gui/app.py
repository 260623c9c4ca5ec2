"""The main window: six tabs in workflow order, menus, status bar, error hook, settings.

Start-up speed matters (a visible window in < 2.5 s): torch is never imported here. The
status bar's device label is filled in by a short child process (``device_probe``: asking
torch about a GPU here would tie a CUDA context to the window), and the first corpus loads
in a worker, so the window shows at once.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QTimer, Slot, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from playground import __version__, paths, settings
from playground.core import checkpoint
from playground.desktop import resource_path
from playground.errors import PlaygroundError
from playground.gui import device_probe, workers
from playground.gui.device_probe import DeviceInfo
from playground.gui.error_dialog import ErrorDialog, install_excepthook
from playground.gui.state import AppState
from playground.gui.tabs import TAB_TITLES, tab_classes
from playground.gui.ui import report_unexpected

APP_TITLE = "LLM Playground"
MAX_RECENT = 8
START_DELAY_MS = 50
DEVICE_CHECKING = "Device: checking…"
TORCH_MISSING = "not installed"
NO_RUN = "Run: none yet"
RUN_FILTER = "Runs (*.zip run.json);;Exported runs (*.zip);;Run folders (run.json)"


# ------------------------------------------------------------------------------ resources


def app_icon() -> QIcon:
    icon = QIcon()
    for name in ("icon.svg", "icon.png"):
        path = resource_path(name)
        if path is not None:
            icon.addFile(str(path))
    return icon


def window_settings() -> QSettings:
    """Window geometry and layout: an ini file under the config folder (not the registry)."""
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.IniFormat)


def corpus_spec_label(spec: str) -> str:
    """A short menu label for a corpus spec ("builtin:NAME" or a path)."""
    if spec.startswith("builtin:"):
        try:
            from playground.core.builtin_corpora import BUILTINS

            return f"{BUILTINS[spec[8:]].title} (built-in)"
        except (ImportError, KeyError):
            return spec
    return f"{Path(spec).name} — {Path(spec).parent}"


# ------------------------------------------------------------------------------ main window


class MainWindow(QMainWindow):
    def __init__(self, *, probe_device: bool = True, load_initial: bool = True,
                 first_start_tour: bool = False) -> None:
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.state = AppState(self)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tab_widgets: list[QWidget] = []
        for cls in tab_classes():
            tab = cls(self.state, self)
            self.tabs.addTab(tab, cls.TITLE)
            self.tab_widgets.append(tab)
            if hasattr(tab, "requestTab"):
                tab.requestTab.connect(self.show_tab)
        assert [self.tabs.tabText(i) for i in range(self.tabs.count())] == TAB_TITLES
        self.setCentralWidget(self.tabs)
        self.corpus_tab = self.tab_widgets[0]
        self.tokenizer_tab = self.tab_widgets[1]
        self._set_tab_tooltips()
        from playground.gui.lesson_hooks import ActivityWatcher  # what the missions check, from the start

        self.activity_watcher = ActivityWatcher(self)
        self.lessons = None  # the Lessons dock (gui/lessons.py), made on first use

        self._build_status_bar()
        self._build_menus()

        self.state.corpusChanged.connect(self._corpus_changed)
        self.state.tokenizerChanged.connect(self._tokenizer_changed)
        self.state.runChanged.connect(self._run_changed)

        self._restore_window()
        self.device_handle = None
        self.notice_box: QMessageBox | None = None
        self.open_run_error: ErrorDialog | None = None
        self._closed = False
        # Background work starts once the window is on screen: worker threads compete for the
        # GIL, and starting the probe's child process would otherwise delay the first paint.
        if load_initial:
            QTimer.singleShot(START_DELAY_MS, self._load_initial)
        if probe_device:
            QTimer.singleShot(START_DELAY_MS + 400, self._start_device_probe)
        self.tour_timer: QTimer | None = None  # the first-start tour, after the first paint
        if first_start_tour and not settings.get("tour_seen"):
            self.tour_timer = QTimer(self)
            self.tour_timer.setSingleShot(True)
            self.tour_timer.timeout.connect(self.start_tour)
            self.tour_timer.start(START_DELAY_MS + 600)

    @Slot()
    def _load_initial(self) -> None:
        """The first corpus, the newest run (the one the Attention and Generate tabs' pickers
        show), and what went wrong with the settings file, said once and without a dialog that
        waits for an answer (a settings problem must never hold up the start)."""
        if self._closed:
            return
        self.corpus_tab.load_initial(settings.get("last_corpus"))
        self.select_latest_run()
        notices = settings.take_notices()
        if notices:
            self.show_notice("Settings reset", "\n\n".join(notices))

    def select_latest_run(self) -> None:
        if self.state.run is not None:
            return
        try:
            runs = checkpoint.list_runs()
        except OSError:  # an unreadable runs folder: the Train tab says so when it is opened
            return
        if runs:
            self.state.set_run(runs[0])

    def show_notice(self, title: str, text: str) -> QMessageBox:
        """A message that does not wait for an answer: the window keeps working behind it."""
        box = QMessageBox(QMessageBox.Information, title, text, QMessageBox.Ok, self)
        box.setWindowModality(Qt.NonModal)
        box.show()
        self.notice_box = box
        return box

    @Slot()
    def _start_device_probe(self) -> None:
        if not self._closed:
            self.device_handle = workers.start(
                device_probe.probe, parent=self, on_done=self._device_ready,
                on_error=self._device_failed, name="device-probe",
            )

    # -- building ----------------------------------------------------------------------------
    def _set_tab_tooltips(self) -> None:
        tips = {
            "Corpus": "Step 1: the text your model will learn from",
            "Tokenizer": "Step 2: how the text is cut into tokens (the pieces the model reads)",
        }
        for i in range(self.tabs.count()):
            tip = tips.get(self.tabs.tabText(i))
            if tip:
                self.tabs.setTabToolTip(i, tip)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.device_label = QLabel(DEVICE_CHECKING)
        self.device_label.setToolTip("Where the model's arithmetic runs: the CPU, or a GPU when "
                                     "one is available (filled in once a helper process has "
                                     "asked PyTorch)")
        self.corpus_label = QLabel("Corpus: loading…")
        self.corpus_label.setToolTip("The text the model learns from (Corpus tab)")
        self.tokenizer_label = QLabel("Tokenizer: none yet")
        self.tokenizer_label.setToolTip("How the text is cut into tokens (Tokenizer tab)")
        self.run_label = QLabel(NO_RUN)
        self.run_label.setToolTip("The trained model the Attention and Generate tabs look at")
        for label in (self.device_label, self.corpus_label, self.tokenizer_label, self.run_label):
            label.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(label)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_corpus_action = QAction("&Open corpus…", self)
        self.open_corpus_action.setShortcut(QKeySequence.Open)
        self.open_corpus_action.setToolTip("Load a text file to train on")
        self.open_corpus_action.triggered.connect(self._open_corpus)
        file_menu.addAction(self.open_corpus_action)
        self.open_folder_action = QAction("Open corpus &folder…", self)
        self.open_folder_action.triggered.connect(self._open_folder)
        file_menu.addAction(self.open_folder_action)
        self.open_run_action = QAction("Open &run…", self)
        self.open_run_action.setToolTip("Open a trained model: an exported .zip, or the run.json "
                                        "inside a run folder")
        self.open_run_action.triggered.connect(self.open_run_dialog)
        file_menu.addAction(self.open_run_action)
        self.recent_menu = QMenu("Recent corpora", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        # The lab report (gui/lab_report.py, made on first use: it imports numpy).
        self._lab_report = None
        self.lab_report_action = QAction("Export &lab report…", self)
        self.lab_report_action.setToolTip("The current run's settings, loss curves, samples, attention "
                                          "grid, pinned heads and missions in one web page to hand in")
        self.lab_report_action.triggered.connect(self.export_lab_report)
        file_menu.addAction(self.lab_report_action)
        self.lab_report_pdf_action = QAction("Export lab report as &PDF…", self)
        self.lab_report_pdf_action.setToolTip("The same lab report, printed to a PDF file")
        self.lab_report_pdf_action.triggered.connect(self.export_lab_report_pdf)
        file_menu.addAction(self.lab_report_pdf_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        help_menu = self.help_menu = self.menuBar().addMenu("&Help")
        glossary = QAction("&Glossary", self)
        glossary.setShortcut(QKeySequence.HelpContents)
        glossary.triggered.connect(self.show_glossary)
        help_menu.addAction(glossary)
        self.lessons_action = QAction("&Lessons…", self)
        self.lessons_action.setToolTip("Missions that set up an experiment and check your own results")
        self.lessons_action.triggered.connect(lambda: self.show_lessons())
        help_menu.addAction(self.lessons_action)
        self.tour_action = QAction("Take the &tour", self)
        self.tour_action.triggered.connect(self.start_tour)
        help_menu.addAction(self.tour_action)
        about = QAction("&About LLM Playground", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)
        self._glossary = None

    # -- tabs --------------------------------------------------------------------------------
    @Slot(str)
    def show_tab(self, title: str) -> None:
        for i in range(self.tabs.count()):
            if self.tabs.tabText(i).lower() == title.lower():
                self.tabs.setCurrentIndex(i)
                return

    # -- menus -------------------------------------------------------------------------------
    @Slot()
    def _open_corpus(self) -> None:
        self.show_tab("Corpus")
        self.corpus_tab.open_file_dialog()

    @Slot()
    def _open_folder(self) -> None:
        self.show_tab("Corpus")
        self.corpus_tab.open_folder_dialog()

    @Slot()
    def open_run_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a run: an exported .zip, or the run.json in a run folder",
            str(paths.runs_dir()), RUN_FILTER)
        if path:
            self.open_run(path)

    def open_run(self, path: str | os.PathLike) -> None:
        """Make a run the current one: a run folder (or its run.json) is opened where it is, an
        exported .zip is imported into the runs folder first (in a worker: it may be large).
        What cannot be opened is said in words, never as a traceback."""
        path = Path(path)
        if path.name == checkpoint.Run.RUN_JSON:
            path = path.parent
        if path.is_dir():
            try:
                run = checkpoint.Run(path)
            except PlaygroundError as exc:
                self._open_run_failed(exc)
                return
            self._run_opened(run)
            return
        self.statusBar().showMessage(f"Importing {path.name}…")
        workers.start(
            lambda progress, cancel: checkpoint.import_zip(path), parent=self, name="import-run",
            on_done=self._run_opened, on_error=self._open_run_failed)

    def _run_opened(self, run: checkpoint.Run) -> None:
        self.state.set_run(run)
        self.statusBar().showMessage(
            f"Opened run {run.name}: the Attention and Generate tabs show it now.", 10_000)

    def _open_run_failed(self, exc: BaseException) -> None:
        self.statusBar().clearMessage()
        if not isinstance(exc, PlaygroundError):
            if not isinstance(exc, OSError):
                report_unexpected(exc)  # a bug: the error dialog with its details
                return
            exc = PlaygroundError(f"The run could not be read: {exc.strerror or exc}.",
                                  "Check that the file exists and that you may read it.")
        dialog = ErrorDialog(exc.message, exc.hint, parent=self, title="Open run")
        dialog.open()  # window-modal, but nothing waits on it
        self.open_run_error = dialog

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = settings.get("recent_corpora") or []
        if not recent:
            empty = self.recent_menu.addAction("No recent corpora")
            empty.setEnabled(False)
            return
        for spec in recent:
            action = self.recent_menu.addAction(corpus_spec_label(spec))
            action.setData(spec)
            action.triggered.connect(self._open_recent)

    @Slot()
    def _open_recent(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.show_tab("Corpus")
            self.corpus_tab.load_spec(str(action.data()))

    def lab_report(self):
        if self._lab_report is None:
            from playground.gui.lab_report import LabReport

            self._lab_report = LabReport(self)
        return self._lab_report

    @Slot()
    def export_lab_report(self) -> None:
        self.lab_report().export_dialog()

    @Slot()
    def export_lab_report_pdf(self) -> None:
        self.lab_report().export_pdf_dialog()

    @Slot()
    def show_glossary(self) -> None:
        from playground.gui.glossary import GlossaryDialog, term_here

        term = term_here()  # F1 over a tooltip that uses a glossary word: open at its entry
        if self._glossary is None:
            self._glossary = GlossaryDialog(self)
            self._glossary.showTab.connect(self.show_tab)
        if term is not None:
            self._glossary.select(term)
        self._glossary.show()
        self._glossary.raise_()
        self._glossary.activateWindow()
        return self._glossary

    @Slot()
    def show_lessons(self, mission_id: str | None = None):
        """The Lessons side panel: the list of missions, or ``mission_id`` open."""
        from playground.gui.lessons import LessonsDock

        if self.lessons is None:
            self.lessons = LessonsDock(self)
            self.addDockWidget(Qt.RightDockWidgetArea, self.lessons)
        if mission_id:
            self.lessons.open_mission(mission_id)
        self.lessons.show()
        self.lessons.raise_()
        return self.lessons

    @Slot()
    def start_tour(self):
        from playground.gui.tour import start_tour

        return start_tour(self)

    def about_text(self) -> str:
        from importlib import metadata

        import PySide6

        if "torch" in sys.modules:  # never import torch just to print its version
            torch_version = sys.modules["torch"].__version__
        else:
            try:
                torch_version = metadata.version("torch")
            except metadata.PackageNotFoundError:
                torch_version = TORCH_MISSING
        return (
            f"<h3>LLM Playground {__version__}</h3>"
            "<p>Train a small GPT on your own text and look inside it.</p>"
            f"<p>Python {platform.python_version()}<br>"
            f"Qt {qVersion()} (PySide6 {PySide6.__version__})<br>"
            f"torch {torch_version}</p>"
            f"<p>Settings: {paths.config_dir()}<br>Data: {paths.data_dir()}<br>"
            f"Logs: {paths.log_dir()}</p>"
        )

    @Slot()
    def show_about(self) -> None:
        QMessageBox.about(self, "About LLM Playground", self.about_text())

    # -- state → status bar + settings -----------------------------------------------------------
    @Slot(object)
    def _corpus_changed(self, corpus: Any) -> None:
        if corpus is None:
            self.corpus_label.setText("Corpus: none")
            return
        self.corpus_label.setText(f"Corpus: {corpus.name} · {corpus.chars:,} characters")
        spec = corpus.source
        if spec and spec != "pasted":
            recent = [s for s in (settings.get("recent_corpora") or []) if s != spec]
            settings.update(last_corpus=spec, recent_corpora=[spec, *recent][:MAX_RECENT])

    @Slot(object)
    def _tokenizer_changed(self, tokenizer: Any) -> None:
        text = tokenizer.describe() if tokenizer is not None else "none yet"
        self.tokenizer_label.setText(f"Tokenizer: {text}")

    @Slot(object)
    def _run_changed(self, run: Any) -> None:
        self.run_label.setText(f"Run: {run.name}" if run is not None else NO_RUN)

    def _device_ready(self, info: DeviceInfo) -> None:
        self.device_label.setText(f"Device: {info.description}")

    def _device_failed(self, exc: BaseException) -> None:
        self.device_label.setText("Device: torch could not load")
        self.device_label.setToolTip(f"Importing torch failed: {exc}")

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if not files:
            return
        event.acceptProposedAction()
        path = Path(files[0])
        if path.suffix.lower() == ".zip" or (path / checkpoint.Run.RUN_JSON).is_file():
            self.open_run(path)  # a trained model, not a text to learn from
            return
        self.show_tab("Corpus")
        self.corpus_tab.load_path(files[0])

    # -- window settings ---------------------------------------------------------------------
    def _restore_window(self) -> None:
        ini = window_settings()
        geometry = ini.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1200, 800)
        state = ini.value("window/state")
        if state is not None:
            self.restoreState(state)
        index = ini.value("window/tab", 0)
        try:
            index = int(index)
        except (TypeError, ValueError):
            index = 0
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def save_window(self) -> None:
        ini = window_settings()
        ini.setValue("window/geometry", self.saveGeometry())
        ini.setValue("window/state", self.saveState())
        ini.setValue("window/tab", self.tabs.currentIndex())
        ini.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        # A tab may veto closing: the Train tab asks before it stops a running training.
        for tab in self.tab_widgets:
            if hasattr(tab, "confirm_close") and not tab.confirm_close():
                event.ignore()
                return
        self._closed = True
        self.save_window()
        for tab in self.tab_widgets:
            if hasattr(tab, "shutdown"):
                tab.shutdown()
        if self.lessons is not None:
            self.lessons.shutdown()
        workers.shutdown(self)
        if self._glossary is not None:
            self._glossary.close()
        super().closeEvent(event)


# ------------------------------------------------------------------------------ entry point


def check_display() -> None:
    """On Linux without X11/Wayland and no QT_QPA_PLATFORM, Qt would abort: say so instead."""
    if not sys.platform.startswith("linux"):
        return
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise PlaygroundError(
        "No display found: the window cannot open here.",
        hint="run under a desktop session or set QT_QPA_PLATFORM=offscreen",
    )


def run_app(argv: list[str] | None = None, smoke: bool = False) -> int:
    """Create the QApplication and the main window, run the event loop, return the exit code.

    With ``smoke`` the start-up check of gui/smoke.py runs instead of the event loop (exit 0 when
    every tab worked, 1 otherwise). With the
    environment variable ``PLAYGROUND_STARTUP_PROBE`` set, the app prints ``window-shown <time>``
    once the window has been shown and painted, then quits (``playground bench startup``).
    """
    check_display()
    app = QApplication.instance() or QApplication(list(argv or ["playground"]))
    app.setApplicationName(APP_TITLE)
    app.setApplicationDisplayName(APP_TITLE)
    app.setDesktopFileName("llm-playground")
    app.setWindowIcon(app_icon())
    install_excepthook()
    # The first-start tour, never under --smoke or the start-up benchmark (nothing may wait on it).
    window = MainWindow(first_start_tour=not smoke and not os.environ.get("PLAYGROUND_STARTUP_PROBE"))
    window.show()
    if os.environ.get("PLAYGROUND_STARTUP_PROBE"):
        def visible() -> None:
            print(f"window-shown {time.time():.6f}", flush=True)
            app.quit()

        QTimer.singleShot(0, visible)  # runs after the first show/paint events were processed
    elif smoke:
        from playground.gui import smoke as smoke_check

        return smoke_check.run(app, window)
    code = app.exec()
    window.close()
    return code
