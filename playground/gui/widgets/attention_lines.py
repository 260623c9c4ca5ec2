"""The lines view (as BertViz draws it): tokens in two columns, a line from each token on
the left (the query, looking) to each token on the right it attends to (the key), thicker
and darker the more weight. Hovering a token keeps only its lines.

Painted by hand with QPainter: a 64-token text has up to ~2,000 lines, which one paint
call draws at once, where one graphics item per line would be slow to build.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

LINE_COLOUR = QColor("#1f5fbf")
HOVER_FILL = QColor("#ffe08a")
MIN_WEIGHT = 0.02  # lines lighter than this would only be noise


class AttentionLines(QWidget):
    """Two columns of tokens joined by lines whose thickness is the attention weight."""

    hovered = Signal(int, str)  # token index (-1: none), side "query"/"key"

    ROW_H = 18
    COL_W = 140
    GAP = 220  # horizontal room for the lines
    TOP = 26

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.labels: list[str] = []
        self.weights: np.ndarray | None = None  # (T, T) the weights drawn
        self.hover: tuple[int, str] | None = None
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.Monospace)
        font.setPointSizeF(10)
        self.setFont(font)
        self.setToolTip("Left: each token as it looks (query). Right: the tokens it can look at "
                        "(keys). Thicker line = more attention. Hover a token to see only its lines.")

    def set_data(self, weights: np.ndarray, labels: Sequence[str]) -> None:
        """Draw one head's (or an average's) (T, T) weights."""
        self.weights = np.nan_to_num(np.asarray(weights, dtype=np.float64))
        self.labels = list(labels)
        if self.hover is not None and self.hover[0] >= len(self.labels):
            self.hover = None
        self.updateGeometry()
        self.resize(self.sizeHint())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        width = max(2 * self.COL_W + self.GAP + 20, 480)
        return QSize(width, self.TOP + self.ROW_H * max(len(self.labels), 1) + 10)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    # -- geometry ----------------------------------------------------------------------------
    def _left_x(self) -> float:
        return max(10.0, (self.width() - (2 * self.COL_W + self.GAP)) / 2)

    def _row_rect(self, i: int, side: str) -> QRectF:
        x = self._left_x() if side == "query" else self._left_x() + self.COL_W + self.GAP
        return QRectF(x, self.TOP + i * self.ROW_H, self.COL_W, self.ROW_H)

    def token_at(self, pos: QPointF) -> tuple[int, str] | None:
        for side in ("query", "key"):
            for i in range(len(self.labels)):
                if self._row_rect(i, side).contains(pos):
                    return i, side
        return None

    def visible_lines(self) -> list[tuple[int, int, float]]:
        """(query, key, weight) of every line drawn now (all, or the hovered token's)."""
        if self.weights is None:
            return []
        w = self.weights
        T, S = w.shape
        out = []
        for i in range(T):
            for j in range(min(i + 1, S)):
                if w[i, j] < MIN_WEIGHT:
                    continue
                if self.hover is not None:
                    k, side = self.hover
                    if (side == "query" and i != k) or (side == "key" and j != k):
                        continue
                out.append((i, j, float(w[i, j])))
        return out

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setFont(self.font())
        fm = QFontMetrics(self.font())
        painter.setPen(QColor("#444"))
        header = QFont(self.font())
        header.setBold(True)
        painter.setFont(header)
        painter.drawText(QRectF(self._left_x(), 2, self.COL_W, self.TOP - 6),
                         Qt.AlignRight | Qt.AlignVCenter, "query (looks)")
        painter.drawText(QRectF(self._left_x() + self.COL_W + self.GAP, 2, self.COL_W, self.TOP - 6),
                         Qt.AlignLeft | Qt.AlignVCenter, "key (looked at)")
        painter.setFont(self.font())
        for i, j, w in self.visible_lines():
            a = self._row_rect(i, "query")
            b = self._row_rect(j, "key")
            colour = QColor(LINE_COLOUR)
            colour.setAlphaF(min(1.0, 0.15 + 0.85 * w))
            pen = QPen(colour, 0.5 + 5.0 * w)
            pen.setCapStyle(Qt.RoundCap)
            painter.setPen(pen)
            painter.drawLine(QPointF(a.right() + 4, a.center().y()), QPointF(b.left() - 4, b.center().y()))
        involved: set[tuple[int, str]] = set()
        if self.hover is not None:
            k, side = self.hover
            involved.add(self.hover)
            for i, j, _w in self.visible_lines():
                involved.add((j, "key") if side == "query" else (i, "query"))
        for side, align in (("query", Qt.AlignRight), ("key", Qt.AlignLeft)):
            for i, label in enumerate(self.labels):
                rect = self._row_rect(i, side)
                if (i, side) in involved:
                    painter.fillRect(rect, HOVER_FILL)
                painter.setPen(QColor("#111") if self.hover is None or (i, side) in involved else QColor("#aaa"))
                text = fm.elidedText(label, Qt.ElideRight, int(self.COL_W - 8))
                painter.drawText(rect.adjusted(4, 0, -4, 0), align | Qt.AlignVCenter, text)

    # -- hover -------------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        hit = self.token_at(event.position())
        if hit != self.hover:
            self.hover = hit
            self.hovered.emit(-1 if hit is None else hit[0], "" if hit is None else hit[1])
            self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        if self.hover is not None:
            self.hover = None
            self.hovered.emit(-1, "")
            self.update()


class LinesPage(QWidget):
    """The lines view with its controls: "average of all heads" and a sentence about the hover."""

    averageToggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.average_box = QCheckBox("Average of all heads in the layer")
        self.average_box.setToolTip("Draw the mean of the layer's heads instead of the chosen head")
        self.average_box.toggled.connect(self.averageToggled)
        row.addWidget(self.average_box)
        self.hover_label = QLabel()
        self.hover_label.setStyleSheet("color: #333;")
        row.addWidget(self.hover_label, 1)
        box.addLayout(row)
        self.lines = AttentionLines()
        self.lines.hovered.connect(self._hovered)
        scroll = QScrollArea()
        scroll.setWidget(self.lines)
        scroll.setWidgetResizable(True)
        scroll.setStyleSheet("background: white;")
        box.addWidget(scroll, 1)
        self._hovered(-1, "")

    @Slot(int, str)
    def _hovered(self, index: int, side: str) -> None:
        labels = self.lines.labels
        if index < 0:
            self.hover_label.setText("Hover a token to see only its lines.")
        elif side == "query":
            self.hover_label.setText(f"Where `{labels[index]}` (position {index + 1}) looks.")
        else:
            self.hover_label.setText(f"Which tokens look at `{labels[index]}` (position {index + 1}).")
