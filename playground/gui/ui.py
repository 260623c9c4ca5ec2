"""What every tab repeats, in one place: the message line, error text, sizes, the side panel.

    msg = MessageLabel()                 # hidden until there is something to say
    msg.show_error(exc)                  # PlaygroundError: its message and hint; others: the bug dialog
    msg.show_text("Saved.", INFO)        # one of ERROR, WARNING, INFO, NOTE, OK
    format_bytes(1_500_000)              # "1.5 MB" (Qt's locale-aware formatting, base 1000)
    side_panel(widget, 300, 380)         # a scrolling column that never scrolls sideways
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QWidget

from playground.errors import PlaygroundError

# One look per kind of message, shared by every tab (boxed, so a message reads as one unit).
ERROR = "color: #b00020; background: #fdecee; border: 1px solid #f3b8c0; padding: 6px;"
WARNING = "color: #7a4d00; background: #fff4dc; border: 1px solid #f0d49a; padding: 6px;"
INFO = "color: #1d3f66; background: #e8f1fb; border: 1px solid #b9d3ef; padding: 6px;"
OK = "color: #1b5e20; background: #e9f5ea; border: 1px solid #b7dcb9; padding: 6px;"
NOTE = "color: #555; padding: 2px;"
# Inline text (no box) for short status words next to a control.
ERROR_TEXT = "color: #b00020;"
WARNING_TEXT = "color: #8a5300;"
OK_TEXT = "color: #1b5e20;"


def error_text(exc: PlaygroundError, sep: str = "\n") -> str:
    """A PlaygroundError as the student reads it: the message, then what to do."""
    return exc.message + (f"{sep}{exc.hint}" if exc.hint else "")


def report_unexpected(exc: BaseException) -> None:
    """A bug, not the student's doing: the app's error dialog (copy details, log file)."""
    from playground.gui.error_dialog import excepthook

    excepthook(type(exc), exc, exc.__traceback__)


def format_bytes(n: int | float) -> str:
    """A byte count in the units a person reads ("1.5 MB"), the same in every tab."""
    return QLocale().formattedDataSize(int(n), 1, QLocale.DataSizeSIFormat)


class MessageLabel(QLabel):
    """A word-wrapped line for errors, warnings and notes; hidden while it has nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.hide()

    def show_text(self, text: str, style: str = ERROR) -> None:
        self.setStyleSheet(style)
        self.setText(text)
        self.setVisible(bool(text))

    def show_error(self, exc: BaseException, style: str = ERROR) -> None:
        """A PlaygroundError inline; anything else goes to the bug dialog (never a traceback here)."""
        if isinstance(exc, PlaygroundError):
            self.show_text(error_text(exc), style)
        else:
            report_unexpected(exc)

    def clear_message(self) -> None:
        self.clear()
        self.hide()


def side_panel(content: QWidget, min_width: int = 300, max_width: int = 380) -> QScrollArea:
    """``content`` in a frameless vertical scroller: the settings column at a tab's left."""
    scroll = QScrollArea()
    scroll.setWidget(content)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.NoFrame)
    scroll.setMinimumWidth(min_width)
    scroll.setMaximumWidth(max_width)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    return scroll
