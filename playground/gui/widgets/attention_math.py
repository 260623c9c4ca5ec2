"""The math of one head for one query token, step by step, with this model's real numbers.

Everything shown comes from ``core.analysis.attention_math`` (one forward pass through the
model's capture path): q, k, v, the dot products q·k, their scaling by √d_head, the weights
the model used, the head's output, all heads side by side and W_O. Each step is a small chart
or table with one plain sentence. The rest of the forward pass (step 0 before, steps 9-17 after:
residual stream, LayerNorm, MLP, logits, loss) is ``forward_math.ForwardMath``, shown in the same
scroll area and driven by the same query token.

Imported lazily (pyqtgraph).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsRectItem,
    QGroupBox,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.gui.widgets.plots import pyqtgraph
from playground.gui.widgets.token_view import TokenView

pg = pyqtgraph()

DIVERGING = "CET-D1"  # blue - white - red: sign matters in q, k, v (colour-blind safe)
BAR = "#3b6fb6"
BAR_FUTURE = "#c9c9c9"
BAR_PICK = "#e8822f"
SELECT_PEN = "#e8322f"


class QueryTokenView(TokenView):
    """Token boxes where a click picks the query token; the picked one gets a thick frame."""

    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.selected: int | None = None
        self.setMaximumHeight(90)
        self.setToolTip("Click a token to explain how it decides where to look (it is the query).")

    def set_selected(self, index: int | None) -> None:
        self.selected = index
        self.viewport().update()

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.selected is None or not 0 <= self.selected < len(self._rects):
            return
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(QColor(SELECT_PEN), 3))
        painter.setBrush(Qt.NoBrush)
        r: QRect = self._rects[self.selected].translated(0, -self.verticalScrollBar().value())
        painter.drawRoundedRect(r.adjusted(-1, -1, 1, 1), 4, 4)

    def viewportEvent(self, event) -> bool:  # noqa: N802
        if event.type() == event.Type.MouseButtonPress:
            index = self.index_at(event.position().toPoint())
            if index >= 0:
                self.set_selected(index)
                self.clicked.emit(index)
                return True
        return super().viewportEvent(event)


def _fmt(x: float) -> str:
    return f"{x:.3f}"


class _Chart(pg.GraphicsLayoutWidget):
    """A plot with fixed-width margins left and right (the right one holds the colour bar of
    a heatmap, or nothing), so bar charts and heatmaps over the same keys line up exactly."""

    LEFT_W = 52
    RIGHT_W = 64

    def __init__(self, height: int, colorbar: bool = False) -> None:
        super().__init__()
        self.setFixedHeight(height)
        self.plot = self.addPlot(row=0, col=0)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(y=not colorbar, alpha=0.2)
        self.plot.getAxis("left").setWidth(self.LEFT_W)
        self.bar = None
        if colorbar:
            self.bar = pg.ColorBarItem(colorMap=pg.colormap.get(DIVERGING), interactive=False, width=10)
            self.ci.addItem(self.bar, row=0, col=1)
        else:
            self.ci.addItem(pg.LabelItem(""), row=0, col=1)
        self.ci.layout.setColumnFixedWidth(1, self.RIGHT_W)
        # The plot's API, as PlotWidget offers it (GraphicsLayoutWidget set some to its layout's).
        self.addItem = self.plot.addItem
        self.clear = self.plot.clear
        self.setXRange = self.plot.setXRange  # GraphicsView has its own of these
        self.setYRange = self.plot.setYRange
        self.setRange = self.plot.setRange

    def __getattr__(self, name: str):
        if name == "plot":
            raise AttributeError(name)
        return getattr(self.plot, name)


def _plot(height: int) -> _Chart:
    return _Chart(height)


def _key_ticks(labels: Sequence[str]) -> list:
    return [[(i, lab) for i, lab in enumerate(labels)]]


class _Step(QGroupBox):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        self.sentence.setTextFormat(Qt.RichText)
        self.sentence.setStyleSheet("color: #222; font-size: 10.5pt;")
        self.box = QVBoxLayout(self)
        self.box.addWidget(self.sentence)


class AttentionMathView(QScrollArea):
    """Step 0, steps 1-8 of attention for the chosen head, steps 9-17 for its block and the
    output, all for the chosen query token."""

    querySelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        inner = QWidget()
        self.column = QVBoxLayout(inner)
        self.setWidget(inner)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setStyleSheet("font-size: 12pt;")
        self.column.addWidget(self.heading)
        self.tokens = QueryTokenView()
        self.tokens.clicked.connect(self.querySelected)
        self.column.addWidget(self.tokens)
        hint = QLabel("Click a token above to make it the query. Below: how this head decides where "
                      "that token looks, and what it passes on.")
        hint.setStyleSheet("color: #555;")
        hint.setWordWrap(True)
        self.column.addWidget(hint)
        from playground.gui.widgets.forward_math import ForwardMath  # it imports this module's pieces

        self.forward = ForwardMath()
        self.column.addWidget(self.forward.before)

        self.step_q = _Step("1 · The query q")
        self.q_plot = _plot(140)
        self.q_plot.setLabel("bottom", "dimension of the query vector")
        self.step_q.box.addWidget(self.q_plot)

        self.step_k = _Step("2 · The keys k")
        self.k_plot, self.k_image = self._heatmap(170)
        self.k_plot.setLabel("left", "dimension")
        self.step_k.box.addWidget(self.k_plot)

        self.step_scores = _Step("3 · Scores: q · k")
        self.scores_plot = _plot(150)
        self.step_scores.box.addWidget(self.scores_plot)

        self.step_scale = _Step("4 · Divide by √d_head")
        self.scale_plot = _plot(150)
        self.step_scale.box.addWidget(self.scale_plot)

        self.step_mask = _Step("5 · The causal mask")
        self.mask_plot = _plot(150)
        self.step_mask.box.addWidget(self.mask_plot)

        self.step_softmax = _Step("6 · Softmax: scores become weights that add up to 1")
        self.weights_plot = _plot(150)
        self.weights_plot.setYRange(0, 1)
        self.step_softmax.box.addWidget(self.weights_plot)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["position", "key token", "q · k", "÷ √d_head",
                                              "after mask", "weight"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setMinimumHeight(220)
        self.table.setToolTip("The numbers of steps 3 to 6, one row per key token.")
        self.step_softmax.box.addWidget(self.table)

        self.step_values = _Step("7 · Weighted sum of the values v")
        self.v_plot, self.v_image = self._heatmap(170)
        self.v_plot.setLabel("left", "dimension")
        self.step_values.box.addWidget(self.v_plot)
        self.out_plot = _plot(140)
        self.out_plot.setLabel("bottom", "dimension of this head's output")
        self.step_values.box.addWidget(self.out_plot)

        self.step_wo = _Step("8 · All heads side by side, times W_O")
        self.concat_plot, self.concat_image = self._heatmap(90)
        self.concat_plot.setLabel("bottom", "the heads' outputs side by side (this head framed)")
        self.concat_frame = QGraphicsRectItem(0, 0, 1, 1)
        self.concat_frame.setPen(pg.mkPen(SELECT_PEN, width=2, cosmetic=True))
        self.concat_plot.addItem(self.concat_frame)
        self.wo_plot, self.wo_image = self._heatmap(200)
        self.wo_plot.setLabel("left", "input dimension")
        self.wo_plot.setLabel("bottom", "output dimension")
        self.wo_plot.setTitle("W_O", size="10pt")
        self.result_plot, self.result_image = self._heatmap(90)
        self.result_plot.setLabel("bottom", "the attention block's output for this token")
        for w in (self.concat_plot, self.wo_plot, self.result_plot):
            self.step_wo.box.addWidget(w)

        for step in (self.step_q, self.step_k, self.step_scores, self.step_scale, self.step_mask,
                     self.step_softmax, self.step_values, self.step_wo):
            step.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)
            self.column.addWidget(step)
        self.column.addWidget(self.forward.after)
        self.column.addStretch(1)

        self.math: dict | None = None
        self.labels: list[str] = []
        self.query = 0
        # What is shown now (tests compare these with the core's numbers).
        self.scores = np.zeros(0)
        self.scaled = np.zeros(0)
        self.weights = np.zeros(0)
        self.d_head = 0

    def _heatmap(self, height: int):
        w = _Chart(height, colorbar=True)
        w.getViewBox().invertY(True)
        w.getViewBox().setDefaultPadding(0.0)
        image = pg.ImageItem(axisOrder="row-major")
        image.setColorMap(pg.colormap.get(DIVERGING))
        w.addItem(image)
        w.bar.setImageItem(image)
        image._bar = w.bar
        return w, image

    @staticmethod
    def _show_matrix(plot, image, matrix: np.ndarray, key_labels: Sequence[str] | None = None) -> None:
        """A signed matrix on a blue-white-red scale. With ``key_labels`` its columns are keys,
        placed under the bars of the charts (column j centred on x = j)."""
        m = np.asarray(matrix, dtype=np.float32)
        if m.ndim == 1:
            m = m[None, :]
        lim = float(np.abs(m).max()) or 1.0
        image.setImage(m, autoLevels=False, levels=(-lim, lim))
        image._bar.setLevels((-lim, lim))
        plot.getAxis("left").setTicks([[]])
        if key_labels is not None:
            image.setRect(QRectF(-0.5, 0, m.shape[1], m.shape[0]))
            plot.getAxis("bottom").setTicks(_key_ticks(key_labels))
            plot.getViewBox().setRange(xRange=(-0.6, len(key_labels) - 0.4), yRange=(0, m.shape[0]), padding=0)
        else:
            image.setRect(QRectF(0, 0, m.shape[1], m.shape[0]))
            plot.getViewBox().setRange(xRange=(0, m.shape[1]), yRange=(0, m.shape[0]), padding=0)

    @staticmethod
    def _bars(plot, values: np.ndarray, labels: Sequence[str] | None, colours: Sequence[str],
              y_range: tuple[float, float] | None = None) -> None:
        plot.clear()
        x = np.arange(len(values))
        finite = np.where(np.isfinite(values), values, 0.0)
        plot.addItem(pg.BarGraphItem(x=x, height=finite, width=0.8,
                                     brushes=[pg.mkBrush(c) for c in colours], pen=None))
        axis = plot.getAxis("bottom")
        if labels is not None:
            axis.setTicks(_key_ticks(labels))
        else:
            axis.setTicks(None)
        plot.setXRange(-0.6, len(values) - 0.4, padding=0)
        if y_range is not None:
            plot.setYRange(*y_range, padding=0.05)
        else:
            lo, hi = float(min(finite.min(initial=0), 0)), float(max(finite.max(initial=0), 0))
            plot.setYRange(lo, hi if hi > lo else lo + 1, padding=0.08)

    # -- data --------------------------------------------------------------------------------
    def set_math(self, math_data: dict, labels: Sequence[str], ids: Sequence[int], query: int | None = None) -> None:
        """Show ``core.analysis.attention_math`` output; ``query`` defaults to the last token."""
        self.math = math_data
        self.labels = list(labels)
        T = len(self.labels)
        if query is None or not 0 <= query < T:
            query = T - 1
        self.tokens.set_tokens(list(ids), self.labels)
        self.forward.data = None  # another text or head: its steps come with set_forward
        self.set_query(query)

    def set_forward(self, steps, token_label) -> None:
        """Show ``core.forward_steps.ForwardSteps`` (after ``set_math``, same text) at the query token;
        ``token_label(id)`` names the tokens of the logits."""
        self.forward.set_steps(steps, self.labels, token_label, self.query)

    def set_query(self, query: int) -> None:
        m = self.math
        if m is None:
            return
        T = len(self.labels)
        i = max(0, min(query, T - 1))
        self.query = i
        if self.forward.data is not None:
            self.forward.set_position(i)
        self.tokens.set_selected(i)
        labels = self.labels
        L, H, D = m["layer"], m["head"], m["d_head"]
        C = m["concat"].shape[1]
        tok = labels[i]
        sqrt_d = math.sqrt(D)
        self.d_head = D
        self.scores = np.asarray(m["scores"][i], dtype=np.float64)  # (T,)
        self.scaled = np.asarray(m["scaled"][i], dtype=np.float64)  # (T,)
        self.weights = np.asarray(m["weights"][i], dtype=np.float64)  # (T,)
        allowed = np.asarray(m["allowed"][i])
        self.heading.setText(f"Layer {L + 1}, head {H + 1} · query token <b>`{tok}`</b> "
                             f"(position {i + 1} of {T})")

        q = m["q"][i]
        self._bars(self.q_plot, q, None, [BAR] * D)
        self.step_q.sentence.setText(
            f"`{tok}` asks a question: its query vector q, {D} numbers made from the token "
            f"(and its position) by the learned matrix W_Q. Bars above 0 and below 0 both matter.")

        self._show_matrix(self.k_plot, self.k_image, m["k"][: i + 1].T, labels)
        self.step_k.sentence.setText(
            f"Every token up to here offers a key k ({D} numbers each, made by W_K): what it has to "
            f"offer. One column per key token, one row per number; blue is negative, red positive.")

        colours = [BAR if allowed[j] else BAR_FUTURE for j in range(T)]
        self._bars(self.scores_plot, self.scores, labels, colours)
        best = int(np.argmax(np.where(allowed, self.scores, -np.inf)))
        self.step_scores.sentence.setText(
            f"How well does each key match the query? The dot product q · k: multiply the {D} pairs "
            f"of numbers and add them up. The best match is `{labels[best]}` (position {best + 1}) "
            f"with {_fmt(self.scores[best])}. Grey bars are later tokens.")

        self._bars(self.scale_plot, self.scaled, labels, colours)
        self.step_scale.sentence.setText(
            f"Each score is divided by √d_head = √{D} = {sqrt_d:.2f}, so the scores do not grow "
            f"with the vector size and softmax stays gentle: {_fmt(self.scores[best])} ÷ {sqrt_d:.2f} "
            f"= {_fmt(self.scaled[best])}.")

        masked = np.where(allowed, self.scaled, np.nan)
        self._bars(self.mask_plot, masked, labels, colours)
        n_future = T - (i + 1)
        self.step_mask.sentence.setText(
            (f"The {n_future} token{'s' if n_future != 1 else ''} after `{tok}` are in the future: "
             "their scores become −∞ so they get no attention (no bar). A model that writes text "
             "one token at a time cannot peek ahead.") if n_future else
            f"`{tok}` is the last token: every key is in its past, so the mask hides nothing here.")

        picked = [BAR_PICK if j == best else (BAR if allowed[j] else BAR_FUTURE) for j in range(T)]
        self._bars(self.weights_plot, self.weights, labels, picked, y_range=(0, 1))
        total = float(self.weights[: i + 1].sum())
        wbest = int(np.argmax(self.weights))
        self.step_softmax.sentence.setText(
            f"softmax makes every score positive (e<sup>score</sup>) and divides by their sum: weights "
            f"between 0 and 1 that add up to {total:.3f}. `{tok}` gives the most weight, "
            f"<b>{self.weights[wbest]:.2f}</b>, to `{labels[wbest]}` (position {wbest + 1}). "
            "This row is the same as in the heatmap.")
        self._fill_table(allowed)

        v = m["v"][: i + 1]
        self._show_matrix(self.v_plot, self.v_image, v.T, labels)
        out = m["head_out"][i]
        self._bars(self.out_plot, out, None, [BAR] * D)
        top = np.argsort(self.weights[: i + 1])[::-1][:3]
        terms = " + ".join(f"{self.weights[j]:.2f} × v(`{labels[j]}`)" for j in top)
        self.step_values.sentence.setText(
            f"Every token also carries a value vector v (made by W_V): what it passes on when looked "
            f"at. The head's output for `{tok}` is the weighted sum of the values: {terms}"
            f"{' + …' if i + 1 > 3 else ''} — {D} numbers.")

        self._show_matrix(self.concat_plot, self.concat_image, m["concat"][i])
        self.concat_frame.setRect(H * D, 0, D, 1)
        self._show_matrix(self.wo_plot, self.wo_image, m["w_o"])
        self.wo_plot.setFixedHeight(min(240, max(120, C)))
        self._show_matrix(self.result_plot, self.result_image, m["out"][i])
        n_head = m["n_head"]
        self.step_wo.sentence.setText(
            f"All {n_head} heads of layer {L + 1} run side by side. Their outputs are put next to "
            f"each other ({n_head} × {D} = {C} numbers; this head's part is framed) and multiplied by "
            f"W_O, a learned {C} × {C} matrix: (1 × {C}) × ({C} × {C}) → 1 × {C}. The result is added "
            f"to `{tok}`'s running representation, which the next block reads.")

    def _fill_table(self, allowed: np.ndarray) -> None:
        T = len(self.labels)
        self.table.setRowCount(T)
        grey = QColor("#999")
        bold = QFont()
        bold.setBold(True)
        wbest = int(np.argmax(self.weights))
        for j in range(T):
            future = not allowed[j]
            cells = [str(j + 1), f"`{self.labels[j]}`", _fmt(self.scores[j]), _fmt(self.scaled[j]),
                     "−∞ (future)" if future else _fmt(self.scaled[j]), _fmt(self.weights[j])]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 2:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if future:
                    item.setForeground(grey)
                if j == wbest:
                    item.setFont(bold)
                self.table.setItem(j, c, item)
        # Most rows carry ~0 weight: show the one that matters most.
        self.table.scrollToItem(self.table.item(wbest, 0), QAbstractItemView.PositionAtCenter)
