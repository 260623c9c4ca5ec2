"""What the Generate tab's pages share: number words, unknown-character marking, model loading,
the base of the two pages that write (Write and Compare)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QColor, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QTextEdit, QVBoxLayout, QWidget

from playground.core.generation_session import Transcript
from playground.core.model_cache import MODELS, LoadedModel
from playground.gui import ui, workers
from playground.gui.tabs.generate import jobs

UNKNOWN_BG = "#ffd6d6"
UNKNOWN_LINE = "#d62728"
ALT_TIP_ROWS = 10  # alternatives listed in a token's tooltip
MARK_DELAY_MS = 150  # unknown-character marking waits for a pause in typing


def pct(p: float) -> str:
    return f"{p:.1%}" if p >= 0.001 or p == 0 else f"{p:.2%}"


def quoted(label: str) -> str:
    return f"‘{label}’"


def utf16_offset(text: str, index: int) -> int:
    """Qt counts positions in UTF-16 code units; Python in code points."""
    return len(text[:index].encode("utf-16-le")) // 2


def mark_spans(edit: QPlainTextEdit, spans: list[tuple[int, int]]) -> None:
    """Red background and wavy red underline on ``spans`` (Python indexes) of the editor's text."""
    text = edit.toPlainText()
    selections = []
    fmt = QTextCharFormat()
    fmt.setBackground(QColor(UNKNOWN_BG))
    fmt.setUnderlineStyle(QTextCharFormat.WaveUnderline)
    fmt.setUnderlineColor(QColor(UNKNOWN_LINE))
    for start, end in spans:
        sel = QTextEdit.ExtraSelection()
        cursor = QTextCursor(edit.document())
        cursor.setPosition(utf16_offset(text, start))
        cursor.setPosition(utf16_offset(text, end), QTextCursor.KeepAnchor)
        sel.cursor = cursor
        sel.format = fmt
        selections.append(sel)
    edit.setExtraSelections(selections)


def push_button(text: str, tip: str, slot: Callable) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.clicked.connect(slot)
    return button


def edit_row(edit: QPlainTextEdit, lines: int, buttons: list[QWidget]) -> QHBoxLayout:
    """A text box ``lines`` high with a column of buttons at its right."""
    edit.setFixedHeight(edit.fontMetrics().height() * lines + 12)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    column = QVBoxLayout()
    for button in buttons:
        column.addWidget(button)
    column.addStretch(1)
    row.addLayout(column)
    return row


def after_typing(edit: QPlainTextEdit, slot: Callable) -> None:
    """Call ``slot`` once typing in ``edit`` pauses (marking unknown characters per key is too slow)."""
    timer = QTimer(edit)
    timer.setSingleShot(True)
    timer.setInterval(MARK_DELAY_MS)
    timer.timeout.connect(slot)
    edit.textChanged.connect(timer.start)


def blocks_reading(tokenizer: Any) -> bool:
    """Unknown text stops this tokenizer (characters), or is read as <unk> (words)."""
    return getattr(tokenizer, "kind", "") != "word"


def unknown_note(tokenizer: Any, text: str, spans: list[tuple[int, int]]) -> str:
    """The explanation for the unknown spans of ``text``."""
    pieces = sorted({text[a:b] for a, b in spans})
    shown = ", ".join(quoted(p.replace("\n", "↵")) for p in pieces[:8]) + (" …" if len(pieces) > 8 else "")
    if not blocks_reading(tokenizer):
        return (f"Marked in red: {shown} — not in this model's vocabulary. The model reads each "
                "of them as <unk> (unknown word), so it cannot tell them apart.")
    return (f"Marked in red: {shown} — this model never saw these characters in its training text, "
            "so it has no token for them and cannot read them. Remove or replace them to continue.")


def mark_unknown(edit: QPlainTextEdit, note: ui.MessageLabel, tokenizer: Any) -> bool:
    """Mark what ``tokenizer`` cannot read in ``edit`` and explain it in ``note``.

    True when the text has something that blocks generation (unknown characters).
    """
    text = edit.toPlainText()
    spans = tokenizer.unknown_spans(text) if tokenizer is not None and text else []
    mark_spans(edit, spans)
    if not spans:
        note.clear_message()
        return False
    note.show_text(unknown_note(tokenizer, text, spans), ui.WARNING)
    return blocks_reading(tokenizer)


class ModelLoader(QObject):
    """The pages' models, from the app's one cache (``core.model_cache.MODELS``).

    ``with_model(path, step, then, on_fail)`` calls ``then(LoadedModel)`` at once when the
    weights are cached and current, else after a worker loaded them; asking again while they
    load waits for the same load.
    """

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._loading: dict[tuple[str, int | None], tuple[workers.WorkerHandle, list]] = {}

    @staticmethod
    def cached(run_path: str | Path, step: int | None = None) -> LoadedModel | None:
        return MODELS.peek(run_path, step)

    @property
    def busy(self) -> bool:
        return any(handle.running for handle, _ in self._loading.values())

    def with_model(self, run_path: str | Path, step: int | None,
                   then: Callable[[LoadedModel], None], on_fail: Callable[[BaseException], None]) -> None:
        loaded = MODELS.peek(run_path, step)
        if loaded is not None:
            then(loaded)
            return
        key = (str(Path(run_path).resolve()), step)
        if key in self._loading:
            self._loading[key][1].append((then, on_fail))
            return
        waiting = [(then, on_fail)]

        def done(result: LoadedModel) -> None:
            self._loading.pop(key, None)
            for ok, _ in waiting:
                ok(result)

        def failed(exc: BaseException) -> None:
            self._loading.pop(key, None)
            for _, bad in waiting:
                bad(exc)

        handle = workers.start(jobs.load_job(key[0], step), parent=self, on_done=done, on_error=failed,
                               name="load-model")
        self._loading[key] = (handle, waiting)


class WritingPage(QWidget):
    """A page that writes with the tab's sampling form (Write, Compare): the form, the model
    loader and the transcript it adds to, and the prompt box's first text.

    The tab offers each run's suggested prompt (``core.generation_session.suggest_prompt``:
    text that run can read); ``offer_prompt`` puts it in the prompt box unless the student
    has typed there since the last offer.
    """

    def __init__(self, form, loader: ModelLoader, transcript: Transcript, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form = form
        self.loader = loader
        self.transcript = transcript
        self.suggestion = ""  # the current run's suggested prompt ("" until it is known)
        self._offered = ""  # what offer_prompt last put in the prompt box

    def prompt_box(self) -> QPlainTextEdit:
        raise NotImplementedError

    def offer_prompt(self, text: str) -> None:
        self.suggestion = text
        box = self.prompt_box()
        if box.toPlainText() == self._offered and text:
            box.setPlainText(text)
            self._offered = text
