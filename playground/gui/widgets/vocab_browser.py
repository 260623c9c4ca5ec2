"""Every token of a vocabulary with its id and its count in the corpus (the Tokenizer tab's
third page): a search box over a sortable table (``VocabModel``), counted in a worker."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from playground.errors import Cancelled, PlaygroundError
from playground.gui import workers
from playground.gui.ui import ERROR_TEXT, NOTE, error_text, report_unexpected
from playground.gui.widgets.vocab_model import VocabModel, vocab_table

FREQ_CHARS = 5_000_000  # vocabulary frequencies are counted on (at most) this much text


class VocabBrowser(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._handle: workers.WorkerHandle | None = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Search:"))
        self.search = QLineEdit()
        self.search.setPlaceholderText("a piece of text (e.g. 'the') or a token id")
        self.search.setToolTip(
            "Find tokens containing this text (a space can be typed as a space or ·), or the "
            "token with this id")
        self.search.setClearButtonEnabled(True)
        row.addWidget(self.search, 1)
        self.info = QLabel()
        self.info.setStyleSheet(NOTE)
        row.addWidget(self.info)
        layout.addLayout(row)
        self.model = VocabModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.AscendingOrder)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Fixed)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.Fixed)
        header.resizeSection(0, 90)
        header.resizeSection(2, 190)
        self.view.setToolTip("Every token of the vocabulary. Click a column title to sort.")
        layout.addWidget(self.view, 1)
        # A 100k-token filter takes a moment: search once typing pauses.
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(self._search_edited)

    @property
    def busy(self) -> bool:
        return self._handle is not None and self._handle.running

    def show_tokenizer(self, tok: Any, corpus_text: str | None) -> None:
        """List ``tok``'s vocabulary; count each token in ``corpus_text`` (its start) in a worker."""
        if tok is self.model.tokenizer:
            return
        self.model.set_tokenizer(tok)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.view.horizontalHeader().setSortIndicator(0, Qt.AscendingOrder)
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.info.setStyleSheet(NOTE)
        if tok is None:
            self.info.setText("")
            return
        if corpus_text is None:
            return
        sample = corpus_text[:FREQ_CHARS]
        where = (f"the first {FREQ_CHARS:,} characters of the corpus"
                 if len(corpus_text) > FREQ_CHARS else "the corpus")
        self.info.setText(f"{tok.vocab_size:,} tokens · counting them in {where}…")
        handle: workers.WorkerHandle | None = None

        def done(result: tuple[list[str], list[int]]) -> None:
            if self._handle is handle:
                self._handle = None
            if self.model.tokenizer is tok:
                labels, counts = result
                self.model.set_table(labels, counts)
                used = sum(1 for c in counts if c)
                self.info.setText(f"{tok.vocab_size:,} tokens · {used:,} of them occur in {where}")

        def failed(exc: BaseException) -> None:
            if self._handle is handle:
                self._handle = None
            if isinstance(exc, Cancelled):
                return
            if not isinstance(exc, PlaygroundError):
                report_unexpected(exc)
                return
            self.info.setStyleSheet(ERROR_TEXT)
            self.info.setText(error_text(exc, " "))

        handle = workers.start(lambda progress, cancel: vocab_table(tok, sample, cancel),
                               parent=self, name="tokenizer-vocab", on_done=done, on_error=failed)
        self._handle = handle

    def shutdown(self) -> None:
        self._search_timer.stop()
        if self._handle is not None:
            self._handle.cancel()

    @Slot(str)
    def _search_edited(self, _text: str) -> None:
        self._search_timer.start()

    @Slot()
    def _apply_search(self) -> None:
        self.model.set_filter(self.search.text())
