"""Help → Lessons: the missions in a side panel (a dock) beside the tabs.

The panel lists the missions (a ✓ for those passed) and shows the one open: its goal, its steps
with a "Show me" button that rings the control to use (``gui.highlight``) and the setup buttons
(``lesson_hooks.SetupRunner``), the question "what do you notice?" with a box for the answer,
and what the automatic check found or still misses. The check (``core.missions``) runs in a
worker whenever something it reads may have changed: an action recorded (``core.activity``), a
run trained, opened or deleted; each step turns green as the student does it. Progress and
answers live in the settings (``mission_progress``, ``mission_answers``).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from playground import settings
from playground.core import activity as act
from playground.core import missions as ms
from playground.gui import ui, workers
from playground.gui.highlight import highlighter_of
from playground.gui.lesson_hooks import SetupRunner, find_target, tab_of

CHECK_DELAY_MS = 300  # several changes at once (a training's end) make one check
SAVE_DELAY_MS = 600  # the answer is saved this long after the last key press
DONE = "✓"
TODO = "○"
READ = "•"
DONE_STYLE = "QFrame#step { background: #e6f4ea; border: 1px solid #8fd19e; border-radius: 4px; }"
TODO_STYLE = "QFrame#step { background: #f6f6f6; border: 1px solid #ddd; border-radius: 4px; }"


def progress() -> dict[str, dict[str, Any]]:
    return dict(settings.get("mission_progress"))


def _label(text: str, style: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.PlainText)
    if style:
        label.setStyleSheet(style)
    return label


class _StepRow(QFrame):
    """One step: its state (○ / ✓), its words, its setup buttons and "Show me"."""

    def __init__(self, number: int, step: ms.Step, dock: LessonsDock) -> None:
        super().__init__()
        self.setObjectName("step")
        self.step = step
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        self.mark = QLabel(TODO if step.check is not None else READ)
        self.mark.setStyleSheet("font-size: 14pt;")
        self.mark.setAlignment(Qt.AlignTop)
        row.addWidget(self.mark)
        column = QVBoxLayout()
        column.addWidget(_label(f"{number}. {step.text}"))
        self.found = _label("", "color: #555;")
        self.found.hide()
        column.addWidget(self.found)
        buttons = QHBoxLayout()
        self.setup_buttons: list[QPushButton] = []
        self.use_buttons: list[QPushButton] = []
        self.found_runs: list[ms.RunFacts | None] = [None] * len(step.setups)  # each setup's run, if trained
        for i, setup in enumerate(step.setups):
            button = QPushButton(f"Set up: {setup.label}")
            button.setToolTip("Load the text, choose the tokenizer, the model and the training settings "
                              "for this step; then press Start on the Train tab.")
            button.clicked.connect(lambda _=False, s=setup: dock.apply_setup(s, step))
            self.setup_buttons.append(button)
            use = QPushButton()
            use.setToolTip("You trained this already: open that run instead of training again")
            use.clicked.connect(lambda _=False, i=i: dock.use_run(self.found_runs[i]))
            use.hide()
            self.use_buttons.append(use)
            column.addWidget(button)
            column.addWidget(use)
        if step.target:
            show = QPushButton("Show me")
            show.setToolTip("Ring the control to use")
            show.clicked.connect(lambda: dock.show_target(step.target))
            buttons.addWidget(show)
        buttons.addStretch(1)
        column.addLayout(buttons)
        row.addLayout(column, 1)
        self.set_state(None if step.check is None else False, "")

    def set_state(self, done: bool | None, words: str) -> None:
        self.done = done
        self.mark.setText(READ if done is None else DONE if done else TODO)
        self.mark.setStyleSheet(f"font-size: 14pt; color: {'#1a7f37' if done else '#888'};")
        self.setStyleSheet(DONE_STYLE if done else TODO_STYLE)
        self.found.setText(words)
        self.found.setVisible(bool(words))


class LessonsDock(QDockWidget):
    """The Lessons side panel. ``open_mission(id)``, ``show_list()``; ``checked`` after each check."""

    checked = Signal(object)  # the open mission's core.missions.Result
    setupDone = Signal(object)  # the Setup applied (tests wait on it)

    def __init__(self, window) -> None:
        super().__init__("Lessons", window)
        self.setObjectName("lessonsDock")
        self.setAllowedAreas(Qt.LeftDockWidgetArea | Qt.RightDockWidgetArea)
        self.window_ = window
        self.state = window.state
        self.mission: ms.Mission | None = None
        self.result: ms.Result | None = None
        self.facts: ms.Facts | None = None
        self.rows: list[_StepRow] = []
        self._handle: workers.WorkerHandle | None = None
        self._again = False
        self._closed = False
        self.runner = SetupRunner(window)
        self.runner.progress.connect(self._setup_progress)
        self.runner.finished.connect(self._setup_finished)
        self.runner.failed.connect(self._setup_failed)
        self._setup_step: ms.Step | None = None

        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_list())
        self.page = QScrollArea()
        self.page.setWidgetResizable(True)
        self.page.setFrameShape(QFrame.NoFrame)
        self.stack.addWidget(self.page)
        self.setWidget(self.stack)
        self.setMinimumWidth(320)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self.check_now)
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_answer)
        act.add_listener(self._recorded)
        self.state.runChanged.connect(self.request_check)
        self.state.checkpointSaved.connect(self.request_check)
        tab_of(window, "Train").runs_list.runsChanged.connect(self.request_check)

    # ================================================================== the list
    def _build_list(self) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        col.addWidget(_label("Missions: each one sets up a small experiment, points at the controls to "
                             "use, and checks your own results.", "color: #333;"))
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.itemActivated.connect(self._item_activated)
        col.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open mission")
        self.open_button.clicked.connect(self._open_selected)
        row.addWidget(self.open_button)
        self.tour_button = QPushButton("Take the tour")
        self.tour_button.setToolTip("A short walk through the six tabs")
        self.tour_button.clicked.connect(lambda: self.window_.start_tour())
        row.addWidget(self.tour_button)
        col.addLayout(row)
        self.fill_list()
        return page

    def fill_list(self) -> None:
        done = progress()
        current = self.list.currentRow()
        self.list.clear()
        for m in ms.MISSIONS:
            passed = (done.get(m.id) or {}).get("passed")
            item = QListWidgetItem(f"{DONE if passed else TODO}  {m.number} · {m.title}\n{m.goal}")
            item.setData(Qt.UserRole, m.id)
            item.setToolTip(m.goal)
            self.list.addItem(item)
        self.list.setCurrentRow(max(0, current))

    def show_list(self) -> None:
        self.save_answer()
        self.mission = None
        self.fill_list()
        self.stack.setCurrentIndex(0)
        highlighter_of(self.window_).clear()

    @Slot(QListWidgetItem)
    def _item_activated(self, item: QListWidgetItem) -> None:
        self.open_mission(item.data(Qt.UserRole))

    @Slot()
    def _open_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.open_mission(item.data(Qt.UserRole))

    # ================================================================== one mission
    def open_mission(self, mission_id: str) -> ms.Mission:
        self.save_answer()
        mission = ms.BY_ID[mission_id]
        self.mission, self.result = mission, None
        done = progress()
        if not (done.get(mission.id) or {}).get("started"):
            done[mission.id] = {**(done.get(mission.id) or {}), "started": round(time.time(), 3)}
            settings.update(mission_progress=done)
        self.page.setWidget(self._build_mission(mission))
        self.stack.setCurrentIndex(1)
        self.show()
        self.raise_()
        self.request_check()
        return mission

    def _build_mission(self, m: ms.Mission) -> QWidget:
        page = QWidget()
        col = QVBoxLayout(page)
        back = QPushButton("← All missions")
        back.clicked.connect(self.show_list)
        col.addWidget(back, 0, Qt.AlignLeft)
        title = _label(f"Mission {m.number} · {m.title}", "font-size: 13pt; font-weight: bold;")
        col.addWidget(title)
        col.addWidget(_label(m.goal))
        self.rows = [_StepRow(i + 1, step, self) for i, step in enumerate(m.steps)]
        for row in self.rows:
            col.addWidget(row)
        self.status = ui.MessageLabel()
        col.addWidget(self.status)
        self.verdict = _label("")
        col.addWidget(self.verdict)
        self.check_button = QPushButton("Check again")
        self.check_button.setToolTip("Look at your runs and what you did once more")
        self.check_button.clicked.connect(self.check_now)
        col.addWidget(self.check_button, 0, Qt.AlignLeft)
        col.addWidget(_label("What do you notice?", "font-weight: bold; margin-top: 6px;"))
        col.addWidget(_label(m.question))
        self.answer = QPlainTextEdit()
        self.answer.setPlaceholderText("Your answer, in your own words (saved as you type; it goes into "
                                       "the lab report).")
        self.answer.setPlainText(settings.get("mission_answers").get(m.id, ""))
        self.answer.setMinimumHeight(90)
        self.answer.textChanged.connect(self._save_timer.start)
        col.addWidget(self.answer)
        col.addStretch(1)
        return page

    @Slot()
    def save_answer(self) -> None:
        self._save_timer.stop()
        if self.mission is None:
            return
        text = self.answer.toPlainText()
        answers = dict(settings.get("mission_answers"))
        if answers.get(self.mission.id, "") != text:
            answers[self.mission.id] = text
            settings.update(mission_answers=answers)

    def show_target(self, name: str) -> QWidget | None:
        widget = find_target(self.window_, name)
        if widget is not None:
            highlighter_of(self.window_).show(widget)
        return widget

    # ================================================================== setups
    def apply_setup(self, setup: ms.Setup, step: ms.Step | None = None) -> None:
        if tab_of(self.window_, "Train").busy:
            self.status.show_text("A training is running: wait for it to finish (or stop it) before the "
                                  "next setup.", ui.WARNING)
            return
        self._setup_step = step
        self.status.show_text(f"Setting up: {setup.label}…", ui.NOTE)
        self.runner.start(setup)

    @Slot(str)
    def _setup_progress(self, text: str) -> None:
        if self.mission is not None:
            self.status.show_text(text, ui.NOTE)

    @Slot(object)
    def _setup_finished(self, setup: ms.Setup) -> None:
        if self.mission is not None:
            if setup.preset is None:
                self.status.show_text(f"Ready: {setup.label}.", ui.OK)
            else:
                iters = setup.train_values(self.state.tokenizer.vocab_size).get("iters")
                self.status.show_text(f"Ready: {setup.label}. Press Start on the Train tab ({iters:,} steps).",
                                      ui.OK)
            target = "train.start" if setup.preset is not None else (self._setup_step.target if self._setup_step
                                                                       else None)
            if target:
                self.show_target(target)
        self.setupDone.emit(setup)

    @Slot(str)
    def _setup_failed(self, text: str) -> None:
        if self.mission is not None:
            self.status.show_text(text, ui.ERROR)

    def use_run(self, found: ms.RunFacts | None) -> None:
        from playground.core.checkpoint import Run

        if found is None:
            return
        self.state.set_run(Run(found.path))
        self.status.show_text(f"Using your run '{found.name}': the Attention and Generate tabs show it.", ui.OK)

    # ================================================================== checking
    def _recorded(self, _entry: dict) -> None:
        try:
            self.request_check()
        except RuntimeError:  # this panel's window is gone: stop listening
            act.remove_listener(self._recorded)

    @Slot()
    @Slot(object)
    @Slot(str, int)
    def request_check(self, *_args) -> None:
        if self.mission is not None and not self._closed:
            self._check_timer.start()

    @property
    def busy(self) -> bool:
        return self._check_timer.isActive() or (self._handle is not None and self._handle.running) \
            or self.runner.busy

    @Slot()
    def check_now(self) -> None:
        """Gather the facts in a worker (reads the runs; mission 4 loads a model) and show the check."""
        if self.mission is None or self._closed:
            return
        if self._handle is not None and self._handle.running:
            self._again = True
            return
        heads = self.mission.needs_heads
        self._handle = workers.start(lambda progress, cancel: ms.gather(heads=heads), parent=self,
                                     name="mission-check", on_done=self._gathered, on_error=self._check_failed)

    def _gathered(self, facts: ms.Facts) -> None:
        self._handle = None
        if self._again:
            self._again = False
            self.check_now()
            return
        self.facts = facts
        if self.mission is not None:
            self.show_result(self.mission.check(facts), facts)

    def _check_failed(self, exc: BaseException) -> None:
        self._handle = None
        ui.report_unexpected(exc)

    def show_result(self, result: ms.Result, facts: ms.Facts) -> None:
        mission = self.mission
        self.result = result
        evidence, missing = iter(result.evidence), iter(result.missing)
        for row, state in zip(self.rows, result.steps):
            text = "" if state is None else next(evidence if state else missing)
            row.set_state(state, text)
            for i, (setup, use) in enumerate(zip(row.step.setups, row.use_buttons)):
                found = row.found_runs[i] = setup.find(facts)
                use.setVisible(found is not None)
                if found is not None:
                    use.setText(f"Use your run '{found.name}'")
        if result.passed:
            self.verdict.setText(f"{DONE} Mission complete. Answer the question below, then try the next one.")
            self.verdict.setStyleSheet(ui.OK_TEXT)
            done = progress()
            if not (done.get(mission.id) or {}).get("passed"):
                done[mission.id] = {**(done.get(mission.id) or {}), "passed": True}
                settings.update(mission_progress=done)
        else:
            self.verdict.setText(f"Still to do: {len(result.missing)} step(s).")
            self.verdict.setStyleSheet("")
        self.checked.emit(result)

    def shutdown(self) -> None:
        self._closed = True
        self.save_answer()
        self.runner.cancel()
        act.remove_listener(self._recorded)
        if self._handle is not None:
            self._handle.cancel()
