"""``playground --smoke``: a start-up check that does what a student does first, and fails loudly.

It passes (exit 0) only if, with no exception, no error dialog and no error message on any tab:

1. **A normal start** in the PLAYGROUND_HOME in use: the window opens, the first corpus and
   tokenizer load, and the device probe (a child process that imports torch) answers. This
   leaves exactly what a normal start leaves (settings checked, window.ini), nothing more.
2. **A first lesson** in a scratch PLAYGROUND_HOME (a temporary folder, deleted afterwards): every
   built-in corpus builds its text, every tab is shown, the Tiny model is trained a few steps in
   the training child process (in a frozen bundle this is the check that multiprocessing works
   there), the Attention tab draws it and the Generate tab writes with it. A scratch home
   because this part trains a run, which must not appear among the student's runs, must not be
   slowed down by their big corpus or last model size, and must leave nothing behind when the
   check is killed half-way.

Each step prints one line on stderr; a failure prints what went wrong and the exit code is 1.
The whole check takes about 20 CPU-seconds (30-60 s on two busy cores) (limit: ``DEADLINE_S``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from playground.gui import error_dialog, ui

DEADLINE_S = 240.0  # the bound is 300 s for a bundle's first start
TRAIN = {"iters": 6, "batch_size": 4, "warmup": 1, "eval_interval": 3}  # two checkpoints
GENERATE_TOKENS = 12
EXIT_FAILED = 1


class SmokeFailed(Exception):
    """A step did not happen (time ran out) or something reported an error."""


class Smoke:
    """Records every error the app reports while the check runs."""

    def __init__(self, app: QApplication) -> None:
        self.app = app
        self.errors: list[str] = []
        self.start = time.monotonic()
        self._app_hook = sys.excepthook
        # An uncaught exception (sys.excepthook) and report_unexpected() (which calls
        # error_dialog.excepthook): recorded, then handed to the app's own hook as usual.
        sys.excepthook = self._excepthook
        self._dialog_hook = error_dialog.excepthook
        error_dialog.excepthook = self._excepthook
        # Dialogs: the app's error dialog may run its own event loop (exec), which would hold the
        # check forever; a timer notes and closes every error dialog that appears.
        self._watch = QTimer()
        self._watch.setInterval(100)
        self._watch.timeout.connect(self._close_error_dialogs)
        self._watch.start()

    def restore(self) -> None:
        self._watch.stop()
        sys.excepthook = self._app_hook
        error_dialog.excepthook = self._dialog_hook

    # ------------------------------------------------------------------ what counts as a failure
    def _excepthook(self, exc_type, exc, tb) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        self.errors.append(f"exception: {exc_type.__name__}: {exc}")
        sys.stderr.write(text)
        self._dialog_hook(exc_type, exc, tb)

    def _close_error_dialogs(self) -> None:
        for widget in self.app.topLevelWidgets():
            if not widget.isVisible():
                continue
            if isinstance(widget, error_dialog.ErrorDialog):
                self.errors.append(f"error dialog: {widget.message} {widget.hint or ''}".strip())
            elif isinstance(widget, QMessageBox) and widget.icon() == QMessageBox.Critical:
                self.errors.append(f"error box: {widget.text()}")
            else:
                continue
            widget.close()

    def error_messages(self, window) -> list[str]:
        """The error lines the tabs show (ui.MessageLabel with the ERROR style)."""
        return [label.text() for label in window.findChildren(ui.MessageLabel)
                if label.isVisible() and label.styleSheet() == ui.ERROR]

    # ------------------------------------------------------------------ running
    def wait(self, what: str, condition: Callable[[], bool], timeout: float = 90.0) -> None:
        """Run the event loop until ``condition()`` holds; fail on a reported error or time out."""
        deadline = min(time.monotonic() + timeout, self.start + DEADLINE_S)
        while True:
            if self.errors:
                raise SmokeFailed(f"while waiting for {what}: {self.errors[0]}")
            if condition():
                break
            if time.monotonic() > deadline:
                raise SmokeFailed(f"timed out waiting for {what}")
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        self.say(what)

    def check(self, window, where: str) -> None:
        shown = self.error_messages(window)
        if shown:
            raise SmokeFailed(f"{where}: an error is shown: {shown[0]}")

    def say(self, text: str) -> None:
        sys.stderr.write(f"smoke {time.monotonic() - self.start:5.1f}s  {text}\n")
        sys.stderr.flush()


def _tab(window, title: str):
    window.show_tab(title)
    tab = window.tabs.currentWidget()
    if getattr(tab, "TITLE", None) != title:
        raise SmokeFailed(f"the {title} tab could not be shown")
    return tab


def _loaded(window) -> bool:
    return (window.state.corpus is not None and window.state.tokenizer is not None
            and not window.corpus_tab.busy and not window.tokenizer_tab.busy)


def normal_start(smoke: Smoke, window) -> None:
    """Step 1: the window the user would get, in their PLAYGROUND_HOME."""
    smoke.wait("window shown, corpus and tokenizer loaded", lambda: window.isVisible() and _loaded(window))
    smoke.wait("device probe answered (torch imports in a child process)",
               lambda: window.device_handle is not None and not window.device_handle.running)
    if "could not load" in window.device_label.text():
        raise SmokeFailed(f"{window.device_label.text()}: {window.device_label.toolTip()}")
    smoke.check(window, "first start")


def builtin_corpora(smoke: Smoke) -> None:
    """Every built-in corpus builds its text (a bundle must carry what they are made from)."""
    from playground.core import builtin_corpora as builtins
    from playground.core import corpus

    for name in builtins.BUILTINS:
        try:
            text = corpus.load(f"builtin:{name}").text
        except Exception as exc:  # noqa: BLE001 - any failure here is what the check reports
            raise SmokeFailed(f"built-in corpus {name}: {type(exc).__name__}: {exc}") from exc
        if not text:
            raise SmokeFailed(f"built-in corpus {name} is empty")
    smoke.say(f"{len(builtins.BUILTINS)} built-in corpora build their texts")


def first_lesson(smoke: Smoke, window) -> None:
    """Step 2: every tab, a short training in the child process, Attention and Generate on it."""
    from playground.core import checkpoint

    smoke.wait("scratch window: corpus and tokenizer loaded", lambda: _loaded(window))
    builtin_corpora(smoke)
    for i in range(window.tabs.count()):
        window.tabs.setCurrentIndex(i)
        smoke.wait(f"{window.tabs.tabText(i)} tab shown", lambda i=i: window.tabs.currentWidget().isVisible())
        smoke.check(window, f"{window.tabs.tabText(i)} tab")

    model_tab = _tab(window, "Model")
    smoke.wait("Model tab knows the device", lambda: model_tab.ready and not model_tab.busy)
    model_tab.select_preset("tiny")

    train_tab = _tab(window, "Train")
    train_tab.set_train_values(**TRAIN)
    run = train_tab.start_training()
    if run is None:
        raise SmokeFailed(f"training did not start: {train_tab.message_label.text()}")
    smoke.wait(f"Tiny model trained {TRAIN['iters']} steps in the child process",
               lambda: train_tab.job is None and train_tab.phase == "idle", timeout=150)
    finished = train_tab.finished_event
    if finished is None or finished.reason != "done":
        raise SmokeFailed(f"training did not finish: {train_tab.message_label.text() or finished}")
    if checkpoint.Run(run.path).step != TRAIN["iters"]:
        raise SmokeFailed(f"the run saved step {checkpoint.Run(run.path).step}, not {TRAIN['iters']}")
    smoke.check(window, "Train tab")

    attention = _tab(window, "Attention")
    smoke.wait("Attention tab drew the trained model",
               lambda: attention.run is not None and attention.run.path == run.path and not attention.busy
               and attention.current_key() is not None and attention.shown_key == attention.current_key())
    smoke.check(window, "Attention tab")

    generate = _tab(window, "Generate")
    smoke.wait("Generate tab picked the run", lambda: generate.run is not None and generate.run.path == run.path)
    generate.prompt.setPlainText("The ")
    generate.max_tokens.setValue(GENERATE_TOKENS)
    generate.generate()
    session = generate.write_page.session  # its list of steps is replaced when writing starts
    smoke.wait(f"Generate tab wrote {GENERATE_TOKENS} tokens",
               lambda: not generate.busy and len(session.steps) == GENERATE_TOKENS)
    smoke.check(window, "Generate tab")


def run(app: QApplication, window) -> int:
    """Run both steps (``window``: the app's window, already shown); return the exit code."""
    from playground.gui.app import MainWindow

    smoke = Smoke(app)
    home = os.environ.get("PLAYGROUND_HOME")
    try:
        try:
            normal_start(smoke, window)
        finally:
            window.close()  # waits for its workers: a thread left running would abort the exit
        with tempfile.TemporaryDirectory(prefix="playground-smoke-", ignore_cleanup_errors=True) as scratch:
            os.environ["PLAYGROUND_HOME"] = scratch  # paths.py reads it on every call
            lesson = MainWindow(probe_device=False)
            try:
                lesson.resize(1200, 800)
                lesson.show()
                first_lesson(smoke, lesson)
            finally:
                lesson.close()
                app.processEvents()
    except SmokeFailed as exc:
        smoke.say(f"FAILED: {exc}")
        return EXIT_FAILED
    finally:
        smoke.restore()
        if home is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = home
    if smoke.errors:  # reported while the windows closed
        smoke.say(f"FAILED: {smoke.errors[0]}")
        return EXIT_FAILED
    smoke.say("passed")
    return 0
