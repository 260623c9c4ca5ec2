"""A lazy table model of a tokenizer's vocabulary: id, token label, frequency in the corpus.

cl100k has 100,277 tokens, so nothing here is per-row work up front: labels are computed on
demand (or in a worker, see ``vocab_table``), and search and sort are numpy operations on an
index array instead of a QSortFilterProxyModel, whose Python callbacks would run 100k times
per keystroke.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

COLUMNS = ["id", "token", "frequency in corpus"]


def vocab_table(tokenizer: Any, text: str, cancel=None) -> tuple[list[str], list[int]]:
    """Worker-side: every token's label and its count in ``text``."""
    from playground.core.tokenizers import token_counts

    labels = []
    for i in range(tokenizer.vocab_size):
        if cancel is not None and i % 4096 == 0 and cancel.is_set():
            from playground.errors import Cancelled

            raise Cancelled()
        labels.append(tokenizer.token_label(i))
    counts = token_counts(tokenizer, text)
    return labels, list(counts)


class VocabModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.tokenizer: Any = None
        self._labels: list[str] | None = None
        self._label_cache: dict[int, str] = {}
        self._counts: np.ndarray | None = None
        self._order = np.zeros(0, dtype=np.int64)  # row -> token id (after filter and sort)
        self._filter = ""
        self._sort: tuple[int, Qt.SortOrder] = (0, Qt.AscendingOrder)

    # -- data in -----------------------------------------------------------------------------
    def set_tokenizer(self, tokenizer: Any) -> None:
        self.beginResetModel()
        self.tokenizer = tokenizer
        self._labels = None
        self._label_cache = {}
        self._counts = None
        self._filter = ""
        self._sort = (0, Qt.AscendingOrder)
        n = tokenizer.vocab_size if tokenizer is not None else 0
        self._order = np.arange(n, dtype=np.int64)
        self.endResetModel()

    def set_table(self, labels: Sequence[str], counts: Sequence[int]) -> None:
        """The worker's result: all labels and the corpus frequencies."""
        if self.tokenizer is None or len(labels) != self.tokenizer.vocab_size:
            return
        self._labels = list(labels)
        self._counts = np.asarray(counts, dtype=np.int64)
        self._reorder()

    @property
    def has_counts(self) -> bool:
        return self._counts is not None

    def count_of(self, token_id: int) -> int | None:
        return None if self._counts is None else int(self._counts[token_id])

    def label(self, token_id: int) -> str:
        if self._labels is not None:
            return self._labels[token_id]
        label = self._label_cache.get(token_id)
        if label is None:
            label = self.tokenizer.token_label(token_id)
            self._label_cache[token_id] = label
        return label

    def all_labels(self) -> list[str]:
        if self._labels is None:
            self._labels = [self.label(i) for i in range(self.tokenizer.vocab_size)]
        return self._labels

    def token_id(self, row: int) -> int:
        return int(self._order[row])

    # -- search and sort -----------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        self._filter = text
        self._reorder()

    def sort(self, column: int, order: Qt.SortOrder = Qt.AscendingOrder) -> None:  # noqa: A003
        self._sort = (column, order)
        self._reorder()

    def _reorder(self) -> None:
        if self.tokenizer is None:
            return
        n = self.tokenizer.vocab_size
        ids = np.arange(n, dtype=np.int64)
        needle = self._filter.strip()
        if needle:
            labels = self.all_labels()
            low = needle.lower()
            # The search matches the readable label ("·the" for " the") or the raw text typed
            # with real spaces, and an exact id when the search is a number.
            alt = low.replace(" ", "·")
            mask = np.fromiter(((low in s or alt in s) for s in (lab.lower() for lab in labels)),
                               dtype=bool, count=n)
            if needle.isdigit() and int(needle) < n:
                mask[int(needle)] = True
            ids = ids[mask]
        column, order = self._sort
        if column == 1:
            labels = self.all_labels()
            keys = np.array([labels[i].lower() for i in ids], dtype=object)
            ids = ids[np.argsort(keys, kind="stable")]
        elif column == 2 and self._counts is not None:
            ids = ids[np.argsort(self._counts[ids], kind="stable")]
        if order == Qt.DescendingOrder:
            ids = ids[::-1].copy()
        self.layoutAboutToBeChanged.emit()
        self._order = ids
        self.layoutChanged.emit()

    # -- Qt model API --------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802,B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal:
            if role == Qt.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ToolTipRole:
                return [
                    "The token's number: what the model actually sees",
                    "The token's text (· is a space, ↵ a line break, <0xE2> a raw byte)",
                    "How often this token occurs when the corpus is tokenized",
                ][section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        token_id = int(self._order[index.row()])
        column = index.column()
        if role == Qt.DisplayRole:
            if column == 0:
                return str(token_id)
            if column == 1:
                return self.label(token_id)
            if self._counts is None:
                return "…"
            return f"{int(self._counts[token_id]):,}"
        if role == Qt.TextAlignmentRole and column in (0, 2):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ToolTipRole:
            count = "still counting…" if self._counts is None else f"{int(self._counts[token_id]):,} times"
            return f"Token id {token_id}: {self.label(token_id)}\nIn the corpus: {count}"
        return None
