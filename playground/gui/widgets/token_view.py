"""Text shown as coloured token boxes, one box per token, with readable labels.

Painted by hand (not one widget per token) so that thousands of tokens stay fast: the layout
is a list of rectangles recomputed on resize, and only the visible rows are painted. Hovering
a box shows its position, id and text. ``ids`` is the exact list of ids shown (tests use it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QHBoxLayout,
    QLayout,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from playground.core.tokenizers import readable
from playground.errors import TokenizerError
from playground.gui.ui import error_text

# Pastel fills that stay readable with black text; neighbours always differ.
PALETTE = [
    "#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad",
]
UNKNOWN_FILL = "#ff8a8a"
HIGHLIGHT_PEN = "#d62728"
MAX_TOKENS = 20_000  # beyond this the view shows the first ones and says so via `truncated`


def token_text(tokenizer: Any, token_id: int) -> str:
    """The raw text of one token for tooltips (bytes that are not valid UTF-8 stay bytes)."""
    if token_id < 0:  # a character the tokenizer does not know (see tokens_for_view)
        return ""
    if hasattr(tokenizer, "token_bytes"):
        raw = tokenizer.token_bytes(token_id)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return repr(raw)
    return tokenizer.decode([token_id])


def tokens_for_view(tokenizer: Any, text: str) -> tuple[list[int], list[str], set[int], str | None]:
    """(ids, labels, unknown indexes, error) for showing ``text``.

    Characters a character tokenizer has never seen get a red box with id -1 (encode would
    refuse the whole text); the word tokenizer's <unk> tokens are marked red.
    """
    if tokenizer.kind == "char" and tokenizer.unknown_spans(text):
        error = None
        try:
            tokenizer.encode(text)
        except TokenizerError as exc:
            error = error_text(exc, " ")
        ids, labels, unknown = [], [], set()
        for i, ch in enumerate(text):
            token_id = tokenizer.id_of(ch)
            if token_id is not None:
                ids.append(token_id)
                labels.append(tokenizer.token_label(token_id))
            else:
                ids.append(-1)
                labels.append(readable(ch))
                unknown.add(i)
        return ids, labels, unknown, error
    ids = tokenizer.encode(text)
    labels = [tokenizer.token_label(i) for i in ids]
    unknown: set[int] = set()
    if tokenizer.kind == "word":
        unknown = {i for i, t in enumerate(ids) if t == tokenizer.UNK_ID}
    return ids, labels, unknown, None


def beside_tokens(source: Sequence[QWidget | QLayout], view: TokenView,
                  above: Sequence[QWidget | QLayout] = (), below: Sequence[QWidget | QLayout] = (),
                  stretch: tuple[int, int] = (1, 2)) -> QHBoxLayout:
    """What is tokenized on the left, the tokens on the right (between ``above`` and ``below``):
    the Tokenizer tab's sample text and its merges player. ``source``'s last item and the view
    take the spare height; ``stretch`` shares the width."""
    row = QHBoxLayout()
    for items, main, share in ((source, source[-1], stretch[0]),
                               ([*above, view, *below], view, stretch[1])):
        column = QVBoxLayout()
        for item in items:
            add = column.addLayout if isinstance(item, QLayout) else column.addWidget
            add(item, 1 if item is main else 0)
        row.addLayout(column, share)
    return row


class TokenView(QAbstractScrollArea):
    """Shows a sequence of tokens as boxes that wrap like text."""

    hovered = Signal(int)  # index of the token under the mouse, -1 when none

    PAD_X = 4
    PAD_Y = 2
    GAP = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ids: list[int] = []
        self._labels: list[str] = []
        self._texts: list[str] | None = None
        self._highlight: set[int] = set()
        self._unknown: set[int] = set()
        self._rects: list[QRect] = []
        self._content_height = 0
        self._laid_out_width = -1
        self.truncated = False
        self.total_tokens = 0
        self.placeholder = ""
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 10.5))
        self.setFont(font)
        self.viewport().setMouseTracking(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMinimumHeight(60)
        self.viewport().setBackgroundRole(self.viewport().backgroundRole())

    # -- data --------------------------------------------------------------------------------
    @property
    def ids(self) -> list[int]:
        """The token ids shown, in order (all of them unless ``truncated``)."""
        return list(self._ids)

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    def set_tokens(
        self,
        ids: Sequence[int],
        labels: Sequence[str],
        texts: Sequence[str] | None = None,
        *,
        highlight_ids: set[int] | None = None,
        unknown_indexes: set[int] | None = None,
    ) -> None:
        """Show ``ids`` with their ``labels``; ``texts`` (raw token text) go into tooltips.

        Tokens whose id is in ``highlight_ids`` get a red frame (e.g. the newest BPE merge);
        tokens at ``unknown_indexes`` are filled red (the tokenizer could not represent them).
        """
        if len(ids) != len(labels):
            raise ValueError("ids and labels differ in length")
        self.total_tokens = len(ids)
        self.truncated = len(ids) > MAX_TOKENS
        self._ids = [int(i) for i in ids[:MAX_TOKENS]]
        self._labels = [str(lab) for lab in labels[:MAX_TOKENS]]
        self._texts = list(texts[:MAX_TOKENS]) if texts is not None else None
        self._highlight = set(highlight_ids or ())
        self._unknown = set(unknown_indexes or ())
        self._laid_out_width = -1
        self._relayout()
        self.viewport().update()

    def clear(self) -> None:
        self.set_tokens([], [])

    # -- layout ------------------------------------------------------------------------------
    def _box_height(self) -> int:
        return QFontMetrics(self.font()).height() + 2 * self.PAD_Y

    def _relayout(self) -> None:
        width = max(self.viewport().width() - 2 * self.GAP, 40)
        if width == self._laid_out_width:
            return
        self._laid_out_width = width
        fm = QFontMetrics(self.font())
        h = self._box_height()
        x = y = self.GAP
        rects: list[QRect] = []
        for label in self._labels:
            w = fm.horizontalAdvance(label) + 2 * self.PAD_X
            w = min(max(w, 14), width)
            if x + w > width + self.GAP and x > self.GAP:
                x = self.GAP
                y += h + self.GAP
            rects.append(QRect(x, y, w, h))
            x += w + self.GAP
            if label.endswith("↵"):  # a newline token ends the visual line, as in the text
                x = self.GAP
                y += h + self.GAP
        self._rects = rects
        self._content_height = (rects[-1].bottom() + self.GAP + 1) if rects else 0
        bar = self.verticalScrollBar()
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(h + self.GAP)
        bar.setRange(0, max(0, self._content_height - self.viewport().height()))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._laid_out_width = -1
        self._relayout()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(400, 120)

    def content_height(self) -> int:
        return self._content_height

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setFont(self.font())
        offset = self.verticalScrollBar().value()
        if not self._rects and self.placeholder:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8),
                             Qt.AlignLeft | Qt.TextWordWrap, self.placeholder)
            return
        self._paint_boxes(painter, event.rect().translated(0, offset), offset)

    def _visible_boxes(self, visible: QRect, offset: int) -> Iterator[tuple[int, QRect]]:
        """(index, viewport rect) of the boxes that meet ``visible`` (content coordinates)."""
        for i, rect in enumerate(self._rects):
            if rect.bottom() < visible.top():
                continue
            if rect.top() > visible.bottom():
                break  # rows are in order: nothing further down is visible
            yield i, rect.translated(0, -offset)

    def _paint_boxes(self, painter: QPainter, visible: QRect, offset: int) -> None:
        """Paint the boxes in ``visible``; subclasses override this to fill them their own way."""
        text_pen = QPen(QColor("#111111"))
        frame_pen = QPen(QColor(0, 0, 0, 60))
        highlight_pen = QPen(QColor(HIGHLIGHT_PEN), 2)
        for i, r in self._visible_boxes(visible, offset):
            if i in self._unknown:
                fill = QColor(UNKNOWN_FILL)
            else:
                fill = QColor(PALETTE[i % len(PALETTE)])
            painter.setBrush(fill)
            painter.setPen(highlight_pen if self._ids[i] in self._highlight else frame_pen)
            painter.drawRoundedRect(r, 4, 4)
            painter.setPen(text_pen)
            painter.drawText(r, Qt.AlignCenter, self._labels[i])

    # -- hover -------------------------------------------------------------------------------
    def index_at(self, pos: QPoint) -> int:
        """Index of the token box under a viewport position, or -1."""
        p = QPoint(pos.x(), pos.y() + self.verticalScrollBar().value())
        for i, rect in enumerate(self._rects):
            if rect.contains(p):
                return i
            if rect.top() > p.y():
                break
        return -1

    def tooltip_for(self, index: int) -> str:
        token_id = self._ids[index]
        lines = [f"Token {index + 1} of {self.total_tokens}", f"id {token_id}",
                 f"shown as: {self._labels[index]}"]
        if self._texts is not None:
            lines.append(f"text: {self._texts[index]!r}")
        if index in self._unknown:
            lines.append("The tokenizer does not know this text: it becomes 'unknown'.")
        return "\n".join(lines)

    def viewportEvent(self, event) -> bool:  # noqa: N802
        if event.type() == event.Type.ToolTip:
            index = self.index_at(event.pos())
            if index >= 0:
                QToolTip.showText(event.globalPos(), self.tooltip_for(index), self.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        if event.type() == event.Type.MouseMove:
            self.hovered.emit(self.index_at(event.position().toPoint()))
        return super().viewportEvent(event)
