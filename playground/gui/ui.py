"""What every tab repeats, in one place: the message line, error text, sizes, the side panel.

    msg = MessageLabel()                 # hidden until there is something to say
    msg.show_error(exc)                  # PlaygroundError: its message and hint; others: the bug dialog
    msg.show_text("Saved.", INFO)        # one of ERROR, WARNING, INFO, NOTE, OK
    format_bytes(1_500_000)              # "1.5 MB" (Qt's locale-aware formatting, base 1000)
    side_panel(widget, 300, 380)         # a scrolling column that never scrolls sideways
    empty_page("Train a model first", "…", [button])   # the centred "nothing here yet" page
    SpinBox("Max new tokens"), DoubleSpinBox("Temperature")   # say their range when it is passed
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QLocale, QPoint, Qt
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

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


def empty_page(heading: str, text: str, buttons: Sequence[QPushButton]) -> QWidget:
    """A tab's page for "nothing here yet": a heading, a paragraph and a row of buttons, centred."""
    page = QWidget()
    column = QWidget()
    column.setMaximumWidth(600)
    inner = QVBoxLayout(column)
    title = QLabel(heading)
    title.setAlignment(Qt.AlignCenter)
    title.setStyleSheet("font-size: 16pt; font-weight: bold; color: #333;")
    body = QLabel(text)
    body.setWordWrap(True)
    body.setAlignment(Qt.AlignCenter)
    body.setStyleSheet("font-size: 11pt; color: #333;")
    inner.addWidget(title)
    inner.addWidget(body)
    row = QHBoxLayout()
    row.addStretch(1)
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    inner.addLayout(row)
    centred = QHBoxLayout()
    centred.addStretch(1)
    centred.addWidget(column, 4)
    centred.addStretch(1)
    box = QVBoxLayout(page)
    box.addStretch(1)
    box.addLayout(centred)
    box.addStretch(2)
    return page


class _SaysItsRange:
    """A spin box that says its range instead of silently refusing a number past it.

    Qt's own box drops the keystroke that leaves the range (typing 999999999 where 5000 is the
    most stops at 999) or reverts the field (temperature 9 becomes 1.00 again). Here the number
    is let through while typing, ``on_range`` receives the range in words, and leaving the
    field (or ``commit()``) sets the nearest end of the range. ``on_range("")`` takes the
    message back once the value is in range. By default the message is a tooltip at the field.
    """

    def _setup(self, what: str, on_range: Callable[[str], None] | None) -> None:
        self.what = what
        self.on_range = on_range or self._tooltip
        self._said = ""  # what the message on show is about: "typing", "set" (a number was replaced) or ""
        self.lineEdit().textEdited.connect(self._edited)

    def _number(self, text: str) -> float | None:
        text = text.strip()
        for cut in (self.prefix(), self.suffix()):
            text = text.replace(cut.strip(), "") if cut.strip() else text
        value, ok = self.locale().toDouble(text.strip())
        return value if ok else None

    @staticmethod
    def _typed(value: float) -> str:
        """The number the student typed, without the field's prefix or suffix (e.g. " tokens")."""
        return f"{int(value)}" if float(value).is_integer() else f"{value:g}"

    def _end_text(self, value: float) -> str:
        special = self.specialValueText()
        return special if special and value == self.minimum() else self.textFromValue(value)

    def range_text(self) -> str:
        return f"{self.what} goes from {self._end_text(self.minimum())} to {self._end_text(self.maximum())}"

    def _say(self, message: str, about: str = "") -> None:
        self._said = about if message else ""
        self.on_range(message)

    def _edited(self, _text: str) -> None:
        if self._said == "set":  # typing again: "was set to" is old news
            self._say("")

    def _tooltip(self, message: str) -> None:
        if message:
            QToolTip.showText(self.mapToGlobal(QPoint(0, self.height())), message, self)
        else:
            QToolTip.hideText()

    def validate(self, text: str, pos: int):  # Qt API: (state, text, pos)
        state, text_out, pos_out = super().validate(text, pos)
        value = self._number(text)
        if state == QValidator.Invalid and value is None and text.strip() == "-" and self.minimum() >= 0:
            self._say(f"{self.range_text()}: it cannot be negative.", "typing")
            return QValidator.Intermediate, text, pos
        if state == QValidator.Invalid and value is not None and not self.minimum() <= value <= self.maximum():
            end = self.maximum() if value > self.maximum() else self.minimum()
            self._say(f"{self.range_text()}: {self._typed(value)} is too {'high' if value > end else 'low'}; "
                      f"leaving the field sets {self._end_text(end)}.", "typing")
            return QValidator.Intermediate, text, pos
        if state == QValidator.Acceptable and self._said == "typing":
            self._say("")
        return state, text_out, pos_out

    def fixup(self, text: str) -> str:  # Qt API: the text that replaces an unfinished one
        value = self._number(text)
        if value is None or self.minimum() <= value <= self.maximum():
            return super().fixup(text)
        end = min(max(value, self.minimum()), self.maximum())
        self._say(f"{self.range_text()}: {self._typed(value)} was set to {self._end_text(end)}.", "set")
        return self.textFromValue(end)

    def commit(self) -> None:
        """Take a number still being typed (a shortcut pressed before leaving the field)."""
        text = self.lineEdit().text()
        if self.validate(text, len(text))[0] != QValidator.Acceptable:
            value = self._number(text)
            if value is not None:
                self.lineEdit().setText(self.fixup(text))
        self.interpretText()


class SpinBox(_SaysItsRange, QSpinBox):
    def __init__(self, what: str, on_range: Callable[[str], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._setup(what, on_range)


class DoubleSpinBox(_SaysItsRange, QDoubleSpinBox):
    def __init__(self, what: str, on_range: Callable[[str], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._setup(what, on_range)
