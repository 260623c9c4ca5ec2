"""Generated (or scored) text as token boxes shaded on a colour-blind-safe scale.

A :class:`ShadedTokenView` is a :class:`TokenView` whose boxes are filled by a number per token
in [0, 1] (probability of the chosen token, relative attention, or how little the model was
surprised) on the viridis scale, so the shading reads the same for colour-blind students and
in grey print. Tokens without a number (the prompt) stay light grey. The exact number is one
hover away: the tab supplies the tooltip text through ``tip_provider``.

:class:`ScaleLegend` is the matching colour bar with its two end labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from playground.gui.widgets.token_view import MAX_TOKENS, TokenView

# viridis (matplotlib's, sampled at 0, 1/8, ..., 1): perceptually uniform and colour-blind safe.
VIRIDIS = [
    (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
]
NEUTRAL_FILL = "#e6e6e6"  # tokens without a number (the prompt)
OUTSIDE_FILL = "#f7f7f7"  # tokens the model could not see (outside the attention window)
FOCUS_PEN = "#d55e00"  # Okabe-Ito vermillion: the selected token
RESET_PEN = "#0072b2"  # the context window was cut after this token


def viridis(t: float) -> QColor:
    """The viridis colour for ``t`` in [0, 1] (clamped; NaN counts as 0)."""
    if not t == t:  # NaN
        t = 0.0
    t = min(max(float(t), 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    a, b = VIRIDIS[i], VIRIDIS[i + 1]
    return QColor(*(round(a[k] + (b[k] - a[k]) * f) for k in range(3)))


def text_color_on(fill: QColor) -> QColor:
    """Black on light fills, white on dark ones (relative luminance)."""
    lum = 0.2126 * fill.redF() + 0.7152 * fill.greenF() + 0.0722 * fill.blueF()
    return QColor("#111111") if lum > 0.45 else QColor("#ffffff")


class ShadedTokenView(TokenView):
    """Token boxes shaded by a value per token; click a box to select it."""

    tokenClicked = Signal(int)  # index of the clicked token

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: list[float | None] = []
        self._fills: list[QColor] = []  # computed once per value, not per paint
        self._outside: set[int] = set()
        self._resets: set[int] = set()
        self.focus_index = -1  # len(ids) selects the pending box
        self.pending_label: str | None = None  # a dashed box after the text: the token to come
        self._marked: set[int] = set()  # underlined (e.g. tokens the student chose)
        self.tip_provider: Callable[[int], str] | None = None
        self.follow_end = True  # keep the newest token in sight while streaming

    # -- data --------------------------------------------------------------------------------
    @contextmanager
    def _keep_end(self) -> Iterator[None]:
        """Scroll to the end after the change when the view was at the end before it."""
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        yield
        if self.follow_end and at_end:
            bar.setValue(bar.maximum())  # scrolls the painted pixels (scrollContentsBy)

    def set_shaded(self, ids: Sequence[int], labels: Sequence[str], values: Sequence[float | None],
                   *, resets: set[int] | None = None) -> None:
        """Show the tokens; ``values[i]`` in [0, 1] shades box i (None: neutral grey).

        Past ``MAX_TOKENS`` the view shows the first ones (``truncated``), values included.
        """
        if len(values) != len(ids):
            raise ValueError("one value per token is needed")
        with self._keep_end():
            self._values = list(values[:MAX_TOKENS])
            self._resets = set(resets or ())
            self._outside = set()
            self._fills = [self._fill_of(i) for i in range(len(self._values))]
            self.set_tokens(ids, labels)

    def append_shaded(self, ids: Sequence[int], labels: Sequence[str], values: Sequence[float | None],
                      *, resets: set[int] | None = None) -> None:
        """Add tokens at the end; only the new boxes are laid out and painted (streaming)."""
        if not (len(ids) == len(labels) == len(values)):
            raise ValueError("ids, labels and values differ in length")
        if not ids:
            return
        if not self._rects or self._laid_out_width < 0 or len(self._ids) + len(ids) > MAX_TOKENS:
            self.set_shaded(self._ids + list(ids), self._labels + list(labels), self._values + list(values),
                            resets=self._resets | set(resets or ()))
            return
        start = len(self._ids)
        with self._keep_end():
            self._ids += [int(i) for i in ids]
            self._labels += [str(lab) for lab in labels]
            self._values += list(values)
            self._fills += [self._fill_of(i) for i in range(start, len(self._values))]
            self._resets |= set(resets or ())
            self.total_tokens = len(self._ids)
            self._layout_tail(start)
        dirty = self._rects[start].united(self._rects[-1])
        dirty.setLeft(0)
        dirty.setRight(self.viewport().width())
        offset = self.verticalScrollBar().value()
        self.viewport().update(dirty.adjusted(-4, -4, 4, 4).translated(0, -offset))

    def _layout_tail(self, start: int) -> None:
        """Place boxes ``start:`` after the existing ones (the same rules as TokenView's layout)."""
        fm = QFontMetrics(self.font())
        width = self._laid_out_width
        h = self._box_height()
        if start == 0:
            x = y = self.GAP
        else:
            prev = self._rects[start - 1]
            x, y = prev.x() + prev.width() + self.GAP, prev.y()
            if self._labels[start - 1].endswith("↵"):
                x, y = self.GAP, y + h + self.GAP
        for label in self._labels[start:]:
            w = min(max(fm.horizontalAdvance(label) + 2 * self.PAD_X, 14), width)
            if x + w > width + self.GAP and x > self.GAP:
                x = self.GAP
                y += h + self.GAP
            self._rects.append(QRect(x, y, w, h))
            x += w + self.GAP
            if label.endswith("↵"):
                x = self.GAP
                y += h + self.GAP
        self._content_height = self._rects[-1].bottom() + self.GAP + 1
        bar = self.verticalScrollBar()
        bar.setRange(0, max(0, self._content_height - self.viewport().height()))

    def set_values(self, values: Sequence[float | None], outside: set[int] | None = None) -> None:
        """New shading for the same tokens (e.g. attention instead of probability): one value
        per token of the whole text, shown or not (``total_tokens``)."""
        if len(values) != self.total_tokens:
            raise ValueError("one value per token is needed")
        self._values = list(values[:MAX_TOKENS])
        self._outside = set(outside or ())
        self._fills = [self._fill_of(i) for i in range(len(self._values))]
        self.viewport().update()

    @property
    def values(self) -> list[float | None]:
        return list(self._values)

    def fill_for(self, index: int) -> QColor:
        """The fill of box ``index`` (tests check that every scored token is shaded)."""
        return self._fills[index] if index < len(self._fills) else QColor(NEUTRAL_FILL)

    def _fill_of(self, index: int) -> QColor:
        if index in self._outside:
            return QColor(OUTSIDE_FILL)
        value = self._values[index] if index < len(self._values) else None
        return QColor(NEUTRAL_FILL) if value is None else viridis(value)

    def set_pending(self, label: str | None) -> None:
        """Show (or with None hide) a dashed box after the last token: what comes next."""
        if label != self.pending_label:
            self.pending_label = label
            self._fit_pending()
            self.viewport().update()

    def _fit_pending(self) -> None:
        pending = self.pending_rect()
        if pending is not None and pending.bottom() + self.GAP + 1 > self._content_height:
            with self._keep_end():
                bar = self.verticalScrollBar()
                bar.setRange(0, max(0, pending.bottom() + self.GAP + 1 - self.viewport().height()))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._fit_pending()

    def set_marked(self, indexes: set[int]) -> None:
        """Underline these boxes (the tab marks the tokens the student chose by hand)."""
        self._marked = set(indexes)
        self.viewport().update()

    def pending_rect(self) -> QRect | None:
        """Where the pending box goes (content coordinates), or None when there is none."""
        if self.pending_label is None:
            return None
        fm = QFontMetrics(self.font())
        h = self._box_height()
        w = fm.horizontalAdvance(self.pending_label) + 2 * self.PAD_X + 4
        if not self._rects:
            return QRect(self.GAP, self.GAP, w, h)
        prev = self._rects[-1]
        x, y = prev.x() + prev.width() + self.GAP, prev.y()
        if self._labels[-1].endswith("↵") or x + w > self._laid_out_width + self.GAP:
            x, y = self.GAP, y + h + self.GAP
        return QRect(x, y, w, h)

    def set_focus_index(self, index: int) -> None:
        self.focus_index = index
        self.viewport().update()

    def scroll_to(self, index: int) -> None:
        if 0 <= index < len(self._rects):
            rect = self._rects[index]
            bar = self.verticalScrollBar()
            if rect.top() < bar.value() or rect.bottom() > bar.value() + self.viewport().height():
                bar.setValue(max(0, rect.center().y() - self.viewport().height() // 2))

    # -- painting ----------------------------------------------------------------------------
    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt API
        # Move the pixels already painted and repaint only the strip that appears (streaming
        # scrolls a little with every batch of tokens).
        self.viewport().scroll(dx, dy)

    def _paint_boxes(self, painter: QPainter, visible: QRect, offset: int) -> None:
        frame_pen = QPen(QColor(0, 0, 0, 50))
        focus_pen = QPen(QColor(FOCUS_PEN), 3)
        reset_pen = QPen(QColor(RESET_PEN), 2, Qt.DashLine)
        outside_text = QColor("#9a9a9a")
        text_pens: dict[int, QColor] = {}
        for i, r in self._visible_boxes(visible, offset):
            fill = self._fills[i] if i < len(self._fills) else QColor(NEUTRAL_FILL)
            painter.setBrush(fill)
            painter.setPen(focus_pen if i == self.focus_index else frame_pen)
            painter.drawRoundedRect(r.adjusted(1, 1, -1, -1) if i == self.focus_index else r, 4, 4)
            if i in self._outside:
                painter.setPen(outside_text)
            else:
                rgb = fill.rgb()
                text = text_pens.get(rgb)
                if text is None:
                    text = text_pens[rgb] = text_color_on(fill)
                painter.setPen(text)
            painter.drawText(r, Qt.AlignCenter, self._labels[i])
            if i in self._marked:
                painter.fillRect(r.left() + 3, r.bottom() - 2, r.width() - 6, 3, QColor(FOCUS_PEN))
            if i in self._resets:  # a dashed bar after the token: the model forgot what is before
                painter.setPen(reset_pen)
                x = r.right() + self.GAP // 2 + 1
                painter.drawLine(x, r.top() - 1, x, r.bottom() + 1)

        pending = self.pending_rect()
        if pending is not None and pending.intersects(visible):
            r = pending.translated(0, -offset)
            painter.setBrush(Qt.NoBrush)
            focused = self.focus_index == len(self._ids)
            painter.setPen(QPen(QColor(FOCUS_PEN if focused else "#777777"), 2 if focused else 1, Qt.DashLine))
            painter.drawRoundedRect(r, 4, 4)
            painter.setPen(QColor("#555555"))
            painter.drawText(r, Qt.AlignCenter, self.pending_label)

    # -- hover and click ---------------------------------------------------------------------
    def viewportEvent(self, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == event.Type.ToolTip and self.index_at(event.pos()) < 0 and self._on_pending(event.pos()):
            QToolTip.showText(event.globalPos(), self.tooltip_for(len(self._ids)), self.viewport())
            return True
        return super().viewportEvent(event)

    def _on_pending(self, pos) -> bool:
        """Is the viewport position ``pos`` on the pending box?"""
        pending = self.pending_rect()
        return pending is not None and pending.contains(pos.x(), pos.y() + self.verticalScrollBar().value())

    def tooltip_for(self, index: int) -> str:
        if index == len(self._ids):
            return "The next token: the chart shows the model's choices for it."
        if self.tip_provider is not None:
            return self.tip_provider(index)
        return super().tooltip_for(index)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.LeftButton:
            pos = event.position().toPoint()
            index = self.index_at(pos)
            if index < 0 and self._on_pending(pos):
                index = len(self._ids)  # the pending box
            if index >= 0:
                self.tokenClicked.emit(index)
        super().mousePressEvent(event)


class ScaleLegend(QWidget):
    """A small horizontal viridis colour bar: ``low`` label, gradient, ``high`` label."""

    def __init__(self, low: str = "0", high: str = "1", title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high, self.title = low, high, title
        self.setMinimumHeight(22)

    def set_labels(self, low: str, high: str, title: str = "") -> None:
        self.low, self.high, self.title = low, high, title
        self.updateGeometry()
        self.update()

    def _text_width(self, text: str) -> int:
        return self.fontMetrics().horizontalAdvance(text)

    def sizeHint(self) -> QSize:  # noqa: N802
        fm = self.fontMetrics()
        return QSize(self._text_width(self.title) + self._text_width(self.low) + self._text_width(self.high) + 150,
                     fm.height() + 8)

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        h = self.height()
        x = 0
        painter.setPen(self.palette().windowText().color())
        for text, gap in ((self.title, 8), (self.low, 4)):
            if text:
                painter.drawText(QRect(x, 0, self._text_width(text) + 2, h), Qt.AlignVCenter, text)
                x += self._text_width(text) + gap
        bar_w = max(40, self.width() - x - self._text_width(self.high) - 8)
        bar = QRect(x, (h - 12) // 2, bar_w, 12)
        grad = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for k in range(len(VIRIDIS)):
            grad.setColorAt(k / (len(VIRIDIS) - 1), QColor(*VIRIDIS[k]))
        painter.fillRect(bar, grad)
        painter.setPen(QColor(0, 0, 0, 80))
        painter.drawRect(bar)
        painter.setPen(self.palette().windowText().color())
        painter.drawText(QRect(bar.right() + 4, 0, self._text_width(self.high) + 4, h),
                         Qt.AlignVCenter, self.high)

    def event(self, event) -> bool:  # the numbers behind the colours, in words
        if event.type() == event.Type.ToolTip and self.toolTip() == "":
            QToolTip.showText(event.globalPos(), f"{self.title} {self.low} … {self.high}".strip(), self)
            return True
        return super().event(event)
