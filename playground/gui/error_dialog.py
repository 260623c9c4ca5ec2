"""The global exception hook: a dialog with the message and "Copy details", a log file, and the
app keeps running.

A :class:`PlaygroundError` is something the student can fix: it is shown as message + hint,
never as a traceback. Anything else is a bug: the dialog says so, the traceback goes to a log
file under the logs folder, and "Copy details" puts it on the clipboard for a bug report.
"""

from __future__ import annotations

import datetime as _dt
import platform
import sys
import traceback
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from playground import __version__, paths
from playground.errors import Cancelled, PlaygroundError

LOG_NAME = "playground.log"
_showing = False  # one dialog at a time: an error inside the dialog's own loop is only logged


def log_path() -> Path:
    return paths.log_dir() / LOG_NAME


def write_log(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> Path:
    """Append the exception with a timestamp and versions to the log file; return its path."""
    path = log_path()
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    stamp = _dt.datetime.now().isoformat(timespec="seconds")
    header = (
        f"=== {stamp} · LLM Playground {__version__} · Python {platform.python_version()} "
        f"· {platform.platform()}\n"
    )
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(header + text + "\n")
    except OSError:  # a full or read-only disk must not turn one error into two
        pass
    return path


class ErrorDialog(QDialog):
    """Message, hint, optional details (traceback) with a "Copy details" button."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        details: str = "",
        log_file: Path | None = None,
        parent: QWidget | None = None,
        title: str = "LLM Playground",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.message = message
        self.hint = hint
        self.details = details or (message + (f"\nHint: {hint}" if hint else ""))
        layout = QVBoxLayout(self)

        top = QHBoxLayout()
        icon = QLabel()
        kind = QStyle.SP_MessageBoxWarning if details else QStyle.SP_MessageBoxInformation
        icon.setPixmap(self.style().standardIcon(kind).pixmap(40, 40))
        icon.setAlignment(Qt.AlignTop)
        top.addWidget(icon)
        texts = QVBoxLayout()
        self.message_label = QLabel(f"<b>{_escape(message)}</b>")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        texts.addWidget(self.message_label)
        self.hint_label = QLabel(_escape(hint) if hint else "")
        self.hint_label.setWordWrap(True)
        self.hint_label.setVisible(bool(hint))
        texts.addWidget(self.hint_label)
        top.addLayout(texts, 1)
        layout.addLayout(top)

        self.details_box = QPlainTextEdit(details)
        self.details_box.setReadOnly(True)
        self.details_box.setVisible(bool(details))
        self.details_box.setMinimumHeight(160)
        layout.addWidget(self.details_box)
        if log_file is not None:
            saved = QLabel(f"The details were also saved to {log_file}")
            saved.setWordWrap(True)
            saved.setTextInteractionFlags(Qt.TextSelectableByMouse)
            layout.addWidget(saved)

        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setToolTip("Put the message and technical details on the clipboard")
        buttons.addButton(self.copy_button, QDialogButtonBox.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 360 if details else 160)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details)


def _escape(text: str | None) -> str:
    import html

    return html.escape(text or "")


def show_error(exc: BaseException, parent: QWidget | None = None) -> None:
    """Show a PlaygroundError as message + hint (no traceback)."""
    if isinstance(exc, PlaygroundError):
        ErrorDialog(exc.message, exc.hint, parent=parent).exec()
    else:
        excepthook(type(exc), exc, exc.__traceback__)


def excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """sys.excepthook for the GUI: log, show, keep running."""
    global _showing
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    if isinstance(exc, Cancelled):
        return
    log_file = write_log(exc_type, exc, tb)
    if QApplication.instance() is None or _showing:
        sys.__excepthook__(exc_type, exc, tb)
        return
    parent = QApplication.activeWindow()
    if isinstance(exc, PlaygroundError):
        dialog = ErrorDialog(exc.message, exc.hint, parent=parent)
    else:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        dialog = ErrorDialog(
            f"Something went wrong inside the app: {exc_type.__name__}: {exc}",
            "This is a bug, not something you did. The app keeps running; if it happens "
            "again, press 'Copy details' and send the text to the authors.",
            details=details,
            log_file=log_file,
            parent=parent,
        )
    _showing = True
    try:
        dialog.exec()
    finally:
        _showing = False


def install_excepthook() -> None:
    sys.excepthook = excepthook
