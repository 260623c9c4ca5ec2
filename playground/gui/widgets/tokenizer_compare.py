"""The same text cut by every tokenizer (the Tokenizer tab's first page): a table of vocabulary
size, token count and characters per token, with two bar charts that show the trade-off."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.errors import PlaygroundError
from playground.gui.ui import NOTE
from playground.gui.widgets.token_view import tokens_for_view

COLUMNS = [
    ("Tokenizer", "Which tokenizer"),
    ("Vocabulary size", "How many different tokens it knows: each one needs its own row of "
                        "numbers (an embedding) in the model"),
    ("Tokens for your text", "How many tokens your text becomes: the length of the sequence "
                             "the model reads"),
    ("Characters per token", "Average characters per token: higher means shorter sequences"),
    ("How it starts", "The first tokens of your text, separated by |"),
]
COUNT_COLUMN = 2


def summary_table(columns: Sequence[tuple[str, str]], stretch: int, row_height: int,
                  rows: int = 0) -> QTableWidget:
    """A small read-only table of figures: (title, tooltip) per column, the ``stretch`` column
    takes the spare width, no selection and no scrolling (:func:`fit_height` sizes it)."""
    table = QTableWidget(rows, len(columns))
    table.setHorizontalHeaderLabels([title for title, _tip in columns])
    for col, (_title, tip) in enumerate(columns):
        table.horizontalHeaderItem(col).setToolTip(tip)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(row_height)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.NoSelection)
    table.setFocusPolicy(Qt.NoFocus)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    header = table.horizontalHeader()
    for col in range(len(columns)):
        header.setSectionResizeMode(col, QHeaderView.Stretch if col == stretch else QHeaderView.ResizeToContents)
    return table


def fit_height(table: QTableWidget) -> None:
    """As tall as its rows: what is below the table gets the rest of the page."""
    table.setFixedHeight(table.horizontalHeader().sizeHint().height() + 2 * table.frameWidth()
                         + sum(table.rowHeight(r) for r in range(table.rowCount())))


class TokenizerComparison(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kinds: list[str] = []  # the kind of each table row
        layout = QVBoxLayout(self)
        self.table = summary_table(COLUMNS, stretch=len(COLUMNS) - 1, row_height=26)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.ElideRight)
        layout.addWidget(self.table)
        self.chart: Any = None  # pyqtgraph: created on first use, after start-up
        self._layout = layout
        note = QLabel(
            "A bigger vocabulary cuts the same text into fewer, longer tokens: the model reads "
            "shorter sequences, but must learn an embedding for every token in its vocabulary.")
        note.setWordWrap(True)
        note.setStyleSheet(NOTE)
        layout.addWidget(note)

    def show_rows(self, rows: list[tuple[str, str, str, Any]], text: str, current: str) -> None:
        """One row per (kind, title, tip, tokenizer or None); the ``current`` kind in bold."""
        table = self.table
        table.setRowCount(len(rows))
        self._kinds = [kind for kind, *_rest in rows]
        bars = []
        for r, (kind, title, tip, tok) in enumerate(rows):
            cells = [title + ("  ← in use" if kind == current else "")]
            if tok is None:
                why = "train it above" if kind == "bpe" else "loading…"
                cells += ["–", "–", "–", f"not available yet ({why})"]
            else:
                try:
                    ids, labels, _unknown, _error = tokens_for_view(tok, text)
                except PlaygroundError as exc:
                    cells += [f"{tok.vocab_size:,}", "–", "–", exc.message]
                else:
                    n = len(ids)
                    bars.append((kind, title, n, tok.vocab_size))
                    cells += [f"{tok.vocab_size:,}", f"{n:,}",
                              f"{len(text) / n:.2f}" if n else "–", " | ".join(labels[:40])]
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if c in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if kind == current:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                item.setToolTip(tip if c == 0 else value)
                table.setItem(r, c, item)
        if self.chart is None and bars:
            from playground.gui.widgets.compare_chart import CompareChart

            self.chart = CompareChart()
            self._layout.insertWidget(1, self.chart, 1)
        if self.chart is not None:
            self.chart.set_data(bars)
        fit_height(table)

    def counts(self) -> dict[str, int]:
        """The token counts shown, by kind (rows without a count are left out)."""
        out = {}
        for r, kind in enumerate(self._kinds):
            text = self.table.item(r, COUNT_COLUMN).text().replace(",", "")
            if text.isdigit():
                out[kind] = int(text)
        return out
