"""Point at a control: an orange ring drawn over the window around it (the tour, the missions).

The ring is a child of the top-level window that lets every mouse event through, so the student
clicks the control it frames. It follows the control when the window or a splitter moves it, and
hides with it (another tab shown). ``reveal`` first brings the control on screen: every tab page
that holds it is made current and a scroll area around it scrolls to it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMargins, QObject, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QScrollArea, QStackedWidget, QTabWidget, QWidget

RING = QColor("#ff8c00")
RING_WIDTH = 3
PAD = 4


def reveal(widget: QWidget) -> None:
    """Make ``widget`` visible: the tab pages around it current (outermost first), then scrolled to."""
    chain = []
    w: QWidget | None = widget
    while w is not None:
        chain.append(w)
        w = w.parentWidget()
    for child, parent in reversed(list(zip(chain, chain[1:]))):
        grand = parent.parentWidget()
        if isinstance(parent, QStackedWidget) and isinstance(grand, QTabWidget):
            grand.setCurrentWidget(child)
    for w in chain[1:]:
        if isinstance(w, QScrollArea) and w.widget() is not None and w.widget().isAncestorOf(widget):
            w.ensureWidgetVisible(widget, 40, 40)


class _Ring(QWidget):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.NoFocus)
        self.hide()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(RING, RING_WIDTH))
        painter.drawRoundedRect(self.rect().adjusted(2, 2, -2, -2), 6, 6)


class Highlighter(QObject):
    """One ring per window: ``show(widget)`` moves it there, ``clear()`` hides it."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.ring = _Ring(window)
        self.target: QWidget | None = None
        self.rect: QRect | None = None  # a part of the target (a tab of a tab bar); None: all of it
        self._watched: list[QWidget] = []

    def show(self, widget: QWidget, rect: QRect | None = None) -> None:
        """Ring ``widget`` (or ``rect`` in its coordinates) after bringing it on screen."""
        self.clear()
        reveal(widget)
        self.target, self.rect = widget, rect
        w: QWidget | None = widget
        while w is not None and w is not self.window:  # a splitter or tab moving any of them moves it
            w.installEventFilter(self)
            self._watched.append(w)
            w = w.parentWidget()
        self.window.installEventFilter(self)
        self._watched.append(self.window)
        self.update()

    def clear(self) -> None:
        for w in self._watched:
            try:
                w.removeEventFilter(self)
            except RuntimeError:  # already deleted
                pass
        self._watched = []
        self.target = self.rect = None
        self.ring.hide()

    @property
    def shown(self) -> bool:
        return self.ring.isVisible()

    def update(self) -> None:
        target = self.target
        if target is None:
            return
        try:
            visible = target.isVisible() and target.window() is self.window
        except RuntimeError:  # the control was deleted
            self.clear()
            return
        if not visible:
            self.ring.hide()
            return
        area = self.rect if self.rect is not None else target.rect()
        top_left = target.mapTo(self.window, area.topLeft())
        self.ring.setGeometry(QRect(top_left, area.size()).marginsAdded(QMargins(PAD, PAD, PAD, PAD)))
        self.ring.show()
        self.ring.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in (QEvent.Move, QEvent.Resize, QEvent.Show, QEvent.Hide):
            self.update()
        return False


def highlighter_of(window: QWidget) -> Highlighter:
    """The window's one ring (the tour and the lessons share it: one thing pointed at at a time)."""
    found = window.findChild(Highlighter, "highlighter")
    if found is None:
        found = Highlighter(window)
        found.setObjectName("highlighter")
    return found
