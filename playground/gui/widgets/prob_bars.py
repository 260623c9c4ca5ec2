"""The next-token distribution as a horizontal bar chart (pyqtgraph).

One row per candidate token (the 15 most likely, most likely at the top), two bars per row:
the model's own probability (temperature 1) and the probability after temperature / top-k /
top-p, which is what the token is actually drawn from. Tokens the filters cut off get a grey
bar and a grey label, so the student sees temperature flatten or sharpen the distribution and
top-k / top-p cut its tail. Hovering a row gives the exact numbers; clicking a row (when
``clickable``) emits ``tokenClicked(id)``.

The values drawn are read back from the bar items by :meth:`bar_values` (tests compare them
with the core's ``TokenStep.alternatives``).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import QLabel, QToolTip, QVBoxLayout, QWidget

from playground.gui.widgets.plots import pyqtgraph

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
RAW_COLOR = "#56b4e9"  # sky blue: the model's probability
SAMPLED_COLOR = "#e69f00"  # orange: after temperature / top-k / top-p
CUT_COLOR = "#cfcfcf"  # grey: cut off, can never be drawn
CHOSEN_PEN = "#d55e00"  # vermillion frame: the token that was chosen
GREY_TEXT = "#a0a0a0"
BAR_H = 0.38
SCALES = (0.25, 0.5, 1.0)  # the x axis ends at one of these
NUMBER_GAP = 0.01  # the number at a bar's end sits this share of the scale after it
NUMBER_PAD_PX = 12  # room after the widest number ("100%") for the text item's own margins


def legend_html() -> str:
    """The legend: a coloured square and the words for each kind of bar."""
    def entry(colour: str, words: str) -> str:
        return f"<span style='color:{colour}'>&#9632;</span>&nbsp;{words}"

    return " &nbsp; ".join([entry(RAW_COLOR, "the model's probability"),
                            entry(SAMPLED_COLOR, "after temperature / top-k / top-p"),
                            entry(CUT_COLOR, "cut off: never drawn")])


def tick_label(label: str) -> str:
    """Token labels for the axis: spell out the invisible ones."""
    names = {"·": "· (space)", "↵": "↵ (newline)", "→": "→ (tab)"}
    return names.get(label, label)


def _axis_class():
    pg = pyqtgraph()

    class TokenAxis(pg.AxisItem):
        """A left axis whose tick labels can be greyed one by one (cut-off tokens)."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.grey: set[str] = set()
            self.bold: set[str] = set()

        def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):  # noqa: N802 - pyqtgraph API
            super().drawPicture(p, axisSpec, tickSpecs, [])
            font = QFont(self.style["tickFont"]) if self.style["tickFont"] is not None else QFont(p.font())
            bold = QFont(font)
            bold.setBold(True)
            normal_pen = self.textPen()
            grey_pen = QPen(QColor(GREY_TEXT))
            for rect, flags, text in textSpecs:
                p.setFont(bold if text in self.bold else font)
                p.setPen(grey_pen if text in self.grey else normal_pen)
                p.drawText(rect, int(flags), text)

    return TokenAxis


class ProbBars(QWidget):
    """Bar chart of one generation step's top tokens; see the module docstring."""

    tokenClicked = Signal(int)  # token id of the clicked row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg = pyqtgraph()
        self.clickable = False
        self._alts: list[tuple[int, str, float, float]] = []
        self._chosen: int | None = None
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.RichText)
        self.axis = _axis_class()(orientation="left")
        self.plot = pg.PlotWidget(axisItems={"left": self.axis})
        item = self.plot.getPlotItem()
        item.invertY(True)  # the most likely token on top
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.showGrid(x=True, y=False, alpha=0.25)
        item.setLabel("bottom", "probability")
        item.getAxis("bottom").enableAutoSIPrefix(False)  # the ticks are percentages already
        tick_font = QFont(self.font())
        tick_font.setPointSizeF(max(tick_font.pointSizeF(), 10))
        self.axis.setStyle(tickFont=tick_font)
        self.axis.setWidth(96)
        self.raw_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR_H, brush=RAW_COLOR)
        self.sampled_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR_H, brush=SAMPLED_COLOR)
        item.addItem(self.raw_bars)
        item.addItem(self.sampled_bars)
        # The legend is a line under the plot, not an item in it: inside, it covered the bars of
        # a narrow chart. Word-wrapped, so it never makes the window wider.
        self.legend = QLabel(legend_html())
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.RichText)
        self._texts: list = []
        self._number_font = QFont(self.font().family(), 8)
        self._scale = 0.0
        self._set_scale(1.0)
        item.vb.sigResized.connect(self._fit_x_range)
        self.axis.setTicks([[(0, "")], []])
        item.setYRange(-0.6, 14.6, padding=0)
        self.plot.setMinimumHeight(260)
        self.plot.setToolTip("")
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.empty_text = "Generate some text: this chart shows the choices behind each token."
        self.title.setText(self.empty_text)
        self.title.setMinimumHeight(self.fontMetrics().height() * 3)  # a steady plot size
        self.title.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.legend)
        self.setToolTip(
            "The next-token distribution: for each candidate token, the model's probability "
            "(blue) and the probability after temperature, top-k and top-p (orange), which is "
            "what the token is drawn from. Grey tokens were cut off and can never be drawn.")

    # -- data --------------------------------------------------------------------------------
    def show_step(self, alternatives: Sequence[tuple[int, str, float, float]], chosen: int | None = None,
                  title: str = "") -> None:
        """Draw one step's alternatives ``(id, label, p_raw, p_sampled)`` (most likely first)."""
        pg = pyqtgraph()
        alts = [(int(i), str(lab), float(pr), float(ps)) for i, lab, pr, ps in alternatives]
        self._alts = alts
        self._chosen = chosen
        self.title.setText(title if alts or title else self.empty_text)
        n = len(alts)
        rows = list(range(n))
        cut = [ps <= 0.0 for _, _, _, ps in alts]
        if n == 0:  # pyqtgraph cannot take empty pen lists
            for bars in (self.raw_bars, self.sampled_bars):
                bars.setOpts(x0=[], y=[], width=[], height=BAR_H)
            self.axis.setTicks([[(0, "")], []])  # an empty list would mean "automatic numbers"
            self._set_numbers(alts, cut)
            return
        self.raw_bars.setOpts(
            x0=[0.0] * n, y=[r - BAR_H / 2 for r in rows], width=[pr for _, _, pr, _ in alts], height=BAR_H,
            brushes=[pg.mkBrush(CUT_COLOR if c else RAW_COLOR) for c in cut],
            pens=[pg.mkPen(CHOSEN_PEN, width=2) if a[0] == chosen else pg.mkPen(None) for a in alts],
        )
        self.sampled_bars.setOpts(
            x0=[0.0] * n, y=[r + BAR_H / 2 for r in rows], width=[ps for _, _, _, ps in alts], height=BAR_H,
            brushes=[pg.mkBrush(SAMPLED_COLOR)] * n,
            pens=[pg.mkPen(CHOSEN_PEN, width=2) if a[0] == chosen else pg.mkPen(None) for a in alts],
        )
        labels = []
        seen: dict[str, int] = {}
        for token_id, label, _, _ in alts:
            text = tick_label(label)
            if text in seen:  # two tokens with one label (rare): keep the ticks apart
                text = f"{text} #{token_id}"
            seen[text] = token_id
            labels.append(text)
        self.axis.setTicks([[(r, labels[r]) for r in rows], []])
        self.axis.grey = {labels[r] for r in rows if cut[r]}
        self.axis.bold = {labels[r] for r in rows if alts[r][0] == chosen}
        self.axis.picture = None  # pyqtgraph caches the drawn axis: redraw with the new colours
        self.axis.update()
        self._set_numbers(alts, cut)
        self._set_scale(max(max(pr, ps) for _, _, pr, ps in alts))

    def _set_scale(self, top: float) -> None:
        """0–25%, 0–50% or 0–100%: small probabilities stay readable, and the scale only
        changes in big steps (a chart that rescales at every token is hard to read)."""
        full = next(v for v in SCALES if top * 1.12 <= v or v == SCALES[-1])
        if full != self._scale:
            self._scale = full
            item = self.plot.getPlotItem()
            step = {0.25: 0.05, 0.5: 0.1, 1.0: 0.2}[full]
            ticks = [round(k * step, 2) for k in range(int(round(full / step)) + 1)]
            item.getAxis("bottom").setTicks([[(v, f"{v:.0%}") for v in ticks]])
            self._fit_x_range()

    def _fit_x_range(self, *_args) -> None:
        """End the x axis far enough after the scale for the widest number ("100%") to fit.

        The numbers are text of a fixed size in pixels, so the room they need in probability
        units depends on the plot's width: recomputed when the plot is resized.
        """
        width = self.plot.getPlotItem().vb.width()
        number = QFontMetrics(self._number_font).horizontalAdvance("100%") + NUMBER_PAD_PX
        room = number + NUMBER_GAP * width
        span = self._scale * width / (width - room) if width > 2 * room else self._scale * 2
        self.plot.getPlotItem().setXRange(0, span, padding=0)

    def _set_numbers(self, alts, cut) -> None:
        pg = pyqtgraph()
        item = self.plot.getPlotItem()
        while len(self._texts) < len(alts):
            text = pg.TextItem(anchor=(0, 0.5), color="#333333")
            text.setFont(self._number_font)
            item.addItem(text)
            self._texts.append(text)
        for r, text in enumerate(self._texts):
            if r >= len(alts):
                text.setText("")
                continue
            _, _, pr, ps = alts[r]
            text.setText("cut" if cut[r] else (f"{ps:.0%}" if ps >= 0.005 else "<1%"))
            text.setColor(GREY_TEXT if cut[r] else "#7a4f00")
            text.setPos(max(pr, ps) + NUMBER_GAP * self._scale, r)

    def clear(self) -> None:
        self.show_step([], None, "")

    def bar_values(self) -> list[tuple[int, str, float, float]]:
        """What is drawn, read back from the bar items: (id, label, p_raw, p_sampled) per row."""
        raw = list(self.raw_bars.opts.get("width") or [])
        sampled = list(self.sampled_bars.opts.get("width") or [])
        return [(a[0], a[1], float(raw[r]), float(sampled[r])) for r, a in enumerate(self._alts)]

    @property
    def chosen(self) -> int | None:
        return self._chosen

    # -- mouse -------------------------------------------------------------------------------
    def row_at_scene(self, scene_pos: QPointF) -> int:
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return -1
        point = vb.mapSceneToView(scene_pos)
        row = int(round(point.y()))
        return row if 0 <= row < len(self._alts) and abs(point.y() - row) <= 0.5 else -1

    def scene_pos_of_row(self, row: int) -> QPointF:
        """Where row ``row``'s bars are, in scene coordinates (tests click there)."""
        vb = self.plot.getPlotItem().vb
        _, _, pr, ps = self._alts[row]
        return vb.mapViewToScene(QPointF(max(min(max(pr, ps) / 2, 0.5), 0.02), float(row)))

    def row_tooltip(self, row: int) -> str:
        token_id, label, pr, ps = self._alts[row]
        lines = [f"<b>{tick_label(label)}</b> (token id {token_id})",
                 f"the model's probability: {pr:.2%}",
                 f"after temperature / top-k / top-p: {ps:.2%}"]
        if ps <= 0:
            lines.append("<i>cut off by top-k or top-p: it can never be drawn</i>")
        if token_id == self._chosen:
            lines.append("<b>chosen</b>")
        if self.clickable:
            lines.append("Click to write this token here instead.")
        return "<br>".join(lines)

    def _mouse_moved(self, scene_pos) -> None:
        row = self.row_at_scene(scene_pos)
        if row >= 0:
            QToolTip.showText(QCursor.pos(), self.row_tooltip(row), self.plot)
            self.plot.setCursor(Qt.PointingHandCursor if self.clickable else Qt.ArrowCursor)
        else:
            QToolTip.hideText()
            self.plot.setCursor(Qt.ArrowCursor)

    def _mouse_clicked(self, event) -> None:
        if not self.clickable or event.button() != Qt.LeftButton:
            return
        row = self.row_at_scene(event.scenePos())
        if row >= 0:
            self.tokenClicked.emit(self._alts[row][0])
