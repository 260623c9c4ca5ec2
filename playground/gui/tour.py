"""The first-start tour: one sentence per tab, the control to press ringed, never in the way.

A small card floats in the window's lower right corner (a child widget, not a dialog: the
window stays fully usable behind it). Next/Back walk the tabs, "Skip tour" ends it; either end
records ``tour_seen`` in the settings, so it shows once. Help → Take the tour shows it again.
The window starts it only when asked (``MainWindow(first_start_tour=True)``, which ``run_app``
passes except under ``--smoke`` and the start-up benchmark); tests never see it unless they ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Signal, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from playground import settings
from playground.gui.highlight import highlighter_of
from playground.gui.lesson_hooks import find_target, tab_rect

MARGIN = 16
CARD_WIDTH = 360


@dataclass(frozen=True)
class TourStep:
    tab: str | None  # the tab shown (None: the tab stays)
    target: str | None  # lesson_hooks.TARGETS name of the control ringed; None: the tab itself
    text: str


STEPS = [
    TourStep("Corpus", "corpus.builtin",
             "Start here: choose the text your model will learn from: a built-in one, or your own file."),
    TourStep("Tokenizer", "tokenizer.kind",
             "The text is cut into tokens: single characters, whole words, or BPE pieces learned from it."),
    TourStep("Model", "model.preset",
             "Choose the model's size: the diagram and the number of parameters follow your choice."),
    TourStep("Train", "train.start", "Press Start and watch the loss fall while your model learns."),
    TourStep("Attention", None,
             "Open every attention head of your own model, and the math behind one prediction."),
    TourStep("Generate", None,
             "Type a prompt: your model writes token by token and shows the odds behind each choice."),
    TourStep(None, "help",
             "Help → Lessons: eight missions that check your own results. F1 explains the word under the mouse."),
]


class Tour(QFrame):
    """The tour card. ``start()``, ``next()``, ``back()``, ``skip()``; ``ended`` when it closes."""

    ended = Signal()

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window_ = window
        self.setObjectName("tourCard")
        self.setFrameShape(QFrame.StyledPanel)
        self.setStyleSheet("QFrame#tourCard { background: #fffbe6; border: 2px solid #ff8c00; "
                           "border-radius: 8px; }")
        self.setFixedWidth(CARD_WIDTH)
        self.index = 0
        col = QVBoxLayout(self)
        self.counter = QLabel()
        self.counter.setStyleSheet("color: #8a5a00; font-weight: bold;")
        col.addWidget(self.counter)
        self.text = QLabel()
        self.text.setWordWrap(True)
        col.addWidget(self.text)
        row = QHBoxLayout()
        self.skip_button = QPushButton("Skip tour")
        self.skip_button.setToolTip("Close the tour (Help → Take the tour shows it again)")
        self.skip_button.clicked.connect(self.skip)
        row.addWidget(self.skip_button)
        row.addStretch(1)
        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(self.back)
        row.addWidget(self.back_button)
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.next_button.clicked.connect(self.next)
        row.addWidget(self.next_button)
        col.addLayout(row)
        self.hide()
        window.installEventFilter(self)

    @property
    def step(self) -> TourStep:
        return STEPS[self.index]

    def start(self) -> None:
        self.index = 0
        self.show()
        self._show_step()

    @Slot()
    def next(self) -> None:
        if self.index + 1 >= len(STEPS):
            self.finish()
            return
        self.index += 1
        self._show_step()

    @Slot()
    def back(self) -> None:
        self.index = max(0, self.index - 1)
        self._show_step()

    @Slot()
    def skip(self) -> None:
        self.finish()

    def finish(self) -> None:
        settings.update(tour_seen=True)
        highlighter_of(self.window_).clear()
        self.hide()
        self.ended.emit()

    def _show_step(self) -> None:
        step = self.step
        window = self.window_
        self.counter.setText(f"Tour · {self.index + 1} of {len(STEPS)}")
        self.text.setText(step.text)
        self.back_button.setEnabled(self.index > 0)
        self.next_button.setText("Done" if self.index + 1 == len(STEPS) else "Next")
        if step.tab is not None:
            window.show_tab(step.tab)
        ring = highlighter_of(window)
        if step.target == "help":
            bar = window.menuBar()
            ring.show(bar, bar.actionGeometry(window.help_menu.menuAction()))
        elif step.target is not None:
            widget = find_target(window, step.target)
            if widget is not None:
                ring.show(widget)
        else:
            bar, rect = tab_rect(window, step.tab)
            ring.show(bar, rect)
        self._place()

    def _place(self) -> None:
        """The lower right corner of the window, above the status bar."""
        self.adjustSize()
        area = self.window_.rect()
        bottom = area.bottom() - self.window_.statusBar().height() - MARGIN
        self.move(area.right() - self.width() - MARGIN, bottom - self.height())
        self.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is self.window_ and event.type() == QEvent.Resize and self.isVisible():
            self._place()
        return False


def start_tour(window) -> Tour:
    """Show the tour (made on first use), from its first step."""
    tour = window.findChild(Tour)
    if tour is None:
        tour = Tour(window)
    tour.start()
    return tour
