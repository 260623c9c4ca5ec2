"""An encoder–decoder's attention drawn: every head, one head large, lines, and one row's math.

Unlike a GPT's, these maps need not be square: the encoder's self-attention is (source × source)
with no mask (every cell may be lit, above the diagonal too), the decoder's self-attention is
(target × target) with the future greyed as in a GPT, and cross-attention is (target × source): a
rectangle whose row i says where the decoder read in the source while writing target token i + 1.
Rows are the tokens that look (queries), columns the tokens looked at (keys), one viridis scale 0–1.

Imported lazily (pyqtgraph).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsRectItem,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.gui.widgets.attention_grid import SELECT_PEN, _grey_backdrop, colormap
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

LINE_COLOUR = QColor("#1f5fbf")
MIN_WEIGHT = 0.02


def masked(weights: np.ndarray, causal: bool) -> np.ndarray:
    """(R, K) weights as drawn: NaN (grey) right of the diagonal when ``causal``."""
    w = np.array(weights, dtype=np.float32)  # (R, K)
    if causal:
        R, K = w.shape
        w[np.arange(K)[None, :] > np.arange(R)[:, None]] = np.nan
    return w


def hover_sentence(rows: Sequence[str], cols: Sequence[str], r: int, c: int, weight: float) -> str:
    if np.isnan(weight):
        return (f"`{rows[r]}` (position {r + 1}) cannot look at `{cols[c]}` (position {c + 1}): it comes "
                "later (the decoder's causal mask hides the future).")
    return f"`{rows[r]}` (position {r + 1}) attends to `{cols[c]}` (position {c + 1}) with weight {weight:.2f}"


def _heatmap_plot(plot) -> None:
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()
    vb = plot.getViewBox()
    vb.invertY(True)
    vb.setAspectLocked(True)
    vb.setDefaultPadding(0.0)


class PairGrid(pg.GraphicsLayoutWidget):
    """One heatmap per (layer, head) of one kind of attention; click one to open it large."""

    headClicked = Signal(int, int)
    hoverText = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.shape: tuple | None = None
        self.plots: dict[tuple[int, int], object] = {}
        self.images: dict[tuple[int, int], pg.ImageItem] = {}
        self.frames: dict[tuple[int, int], QGraphicsRectItem] = {}
        self.data: np.ndarray | None = None  # (L, H, R, K) as drawn (NaN = masked)
        self.rows: list[str] = []
        self.cols: list[str] = []
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)

    def _build(self, L: int, H: int, R: int, K: int) -> None:
        self.clear()
        self.plots.clear()
        self.images.clear()
        self.frames.clear()
        cmap = colormap()
        for h in range(H):
            self.addLabel(f"<b>head {h + 1}</b>", row=0, col=h + 1, size="10pt")
        for layer in range(L):
            self.addLabel(f"<b>layer {layer + 1}</b>", row=layer + 1, col=0, angle=-90, size="10pt")
            for h in range(H):
                plot = self.addPlot(row=layer + 1, col=h + 1)
                for side in ("left", "bottom"):
                    plot.hideAxis(side)
                _heatmap_plot(plot)
                plot.addItem(_grey_backdrop((R, K)))
                image = pg.ImageItem(axisOrder="row-major")
                image.setColorMap(cmap)
                plot.addItem(image)
                frame = QGraphicsRectItem(QRectF(0, 0, K, R))
                frame.setPen(pg.mkPen(SELECT_PEN, width=3, cosmetic=True))
                frame.setZValue(10)
                frame.setVisible(False)
                plot.addItem(frame)
                plot.setRange(xRange=(0, K), yRange=(0, R), padding=0)
                self.plots[(layer, h)], self.images[(layer, h)], self.frames[(layer, h)] = plot, image, frame
        bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, width=14, label="attention weight")
        bar.setImageItem(list(self.images.values()))
        self.addItem(bar, row=1, col=H + 1, rowspan=L)
        self.shape = (L, H, R, K)

    def set_data(self, attention: np.ndarray, rows: Sequence[str], cols: Sequence[str], causal: bool) -> None:
        """(L, H, R, K) weights; ``causal`` greys the future (the decoder's self-attention)."""
        att = np.asarray(attention, dtype=np.float32)
        L, H, R, K = att.shape
        if self.shape != (L, H, R, K):
            self._build(L, H, R, K)
        self.rows, self.cols = list(rows), list(cols)
        self.data = np.stack([np.stack([masked(att[la, h], causal) for h in range(H)]) for la in range(L)])
        for (layer, h), image in self.images.items():
            image.setImage(self.data[layer, h], autoLevels=False, levels=(0.0, 1.0))

    def image_data(self, layer: int, head: int) -> np.ndarray:
        return self.images[(layer, head)].image

    def set_selected(self, selected: tuple[int, int] | None) -> None:
        for key, frame in self.frames.items():
            frame.setVisible(key == selected)

    def _head_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        return next((key for key, plot in self.plots.items()
                     if plot.getViewBox().sceneBoundingRect().contains(scene_pos)), None)

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        key = self._head_at(scene_pos)
        if key is None or self.data is None:
            return
        p = self.plots[key].getViewBox().mapSceneToView(scene_pos)
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        if 0 <= r < len(self.rows) and 0 <= c < len(self.cols):
            self.hoverText.emit(f"Layer {key[0] + 1}, head {key[1] + 1}: "
                                + hover_sentence(self.rows, self.cols, r, c, float(self.data[key][r, c])))

    def _mouse_clicked(self, event) -> None:
        key = self._head_at(event.scenePos())
        if key is not None:
            event.accept()
            self.headClicked.emit(*key)


class PairHead(QWidget):
    """One head large: row labels down the left, column labels along the top; click a row for its math."""

    querySelected = Signal(int)
    MIN_CELL = 10  # a 40-token sentence still fits an 800-pixel window without scrolling

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMenuEnabled(False)
        self.plot_widget.hideButtons()
        self.plot = self.plot_widget.getPlotItem()
        _heatmap_plot(self.plot)  # square cells: a rectangle of weights shows as one
        self.plot.showAxis("top")
        self.plot.hideAxis("bottom")
        self.tick_font = QFont("DejaVu Sans Mono")
        self.tick_font.setStyleHint(QFont.Monospace)
        self.tick_font.setPointSizeF(9)
        for side in ("left", "top"):
            axis = self.plot.getAxis(side)
            axis.setTickFont(self.tick_font)
            axis.setStyle(tickLength=0, autoExpandTextSpace=True, hideOverlappingLabels=False)
        self.backdrop = _grey_backdrop((1, 1))
        self.plot.addItem(self.backdrop)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(colormap())
        self.plot.addItem(self.image)
        self.row_frame = QGraphicsRectItem(QRectF(0, 0, 1, 1))
        self.row_frame.setPen(pg.mkPen(SELECT_PEN, width=2, cosmetic=True))
        self.row_frame.setZValue(10)
        self.row_frame.setVisible(False)
        self.plot.addItem(self.row_frame)
        bar = pg.ColorBarItem(values=(0, 1), colorMap=colormap(), interactive=False, width=14,
                              label="attention weight")
        bar.setImageItem(self.image, insert_in=self.plot)
        self.plot_widget.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot_widget.scene().sigMouseClicked.connect(self._mouse_clicked)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(self.plot_widget)
        self.hover_label = QLabel("Hover a cell to read its weight; click a row to explain it in The math.")
        self.hover_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.hover_label)
        self.data: np.ndarray | None = None
        self.rows: list[str] = []
        self.cols: list[str] = []
        self.query: int | None = None

    def set_data(self, weights: np.ndarray, rows: Sequence[str], cols: Sequence[str], causal: bool,
                 row_title: str, col_title: str) -> None:
        self.data = masked(weights, causal)
        R, K = self.data.shape
        self.rows, self.cols = list(rows), list(cols)
        self.image.setImage(self.data, autoLevels=False, levels=(0.0, 1.0))
        self.backdrop.setRect(QRectF(0, 0, K, R))
        self.plot.getAxis("left").setTicks([[(i + 0.5, lab) for i, lab in enumerate(self.rows)]])
        self.plot.getAxis("top").setTicks([[(i + 0.5, lab) for i, lab in enumerate(self.cols)]])
        self.plot.setLabel("left", f"{row_title}  ↓")
        self.plot.setLabel("top", f"{col_title}  →")
        fm = QFontMetrics(self.tick_font)
        label_w = max((fm.horizontalAdvance(lab) for lab in self.rows), default=10)
        self.plot_widget.setMinimumSize(K * self.MIN_CELL + label_w + 120, R * self.MIN_CELL + 80)
        vb = self.plot.getViewBox()
        vb.setRange(xRange=(0, K), yRange=(0, R), padding=0)
        if self.query is not None and self.query >= R:
            self.query = None
        self.set_query(self.query)

    def axis_labels(self, side: str) -> list[str]:
        ticks = self.plot.getAxis(side)._tickLevels or [[]]
        return [text for _pos, text in ticks[0]]

    def set_query(self, query: int | None) -> None:
        self.query = query
        self.row_frame.setVisible(query is not None and self.data is not None)
        if query is not None and self.data is not None:
            self.row_frame.setRect(QRectF(0, query, self.data.shape[1], 1))

    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        vb = self.plot.getViewBox()
        if self.data is None or not vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = vb.mapSceneToView(scene_pos)
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        return (r, c) if 0 <= r < self.data.shape[0] and 0 <= c < self.data.shape[1] else None

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        if cell is not None:
            self.hover_label.setText(hover_sentence(self.rows, self.cols, *cell, float(self.data[cell])))

    def _mouse_clicked(self, event) -> None:
        cell = self._cell_at(event.scenePos())
        if cell is not None:
            event.accept()
            self.set_query(cell[0])
            self.querySelected.emit(cell[0])


class PairLines(QWidget):
    """Rows' tokens on the left, columns' tokens on the right, a line per weight (thicker = more);
    with a query picked, only its lines."""

    ROW_H, COL_W, GAP, TOP = 18, 130, 220, 26

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.Monospace)
        font.setPointSizeF(10)
        self.setFont(font)
        self.rows: list[str] = []
        self.cols: list[str] = []
        self.titles = ("", "")
        self.weights: np.ndarray | None = None
        self.query: int | None = None
        self.setToolTip("Left: the tokens that look (queries). Right: the tokens they look at (keys). "
                        "Thicker, darker line = more attention. Click a cell in Head to keep one row's lines.")

    def set_data(self, weights: np.ndarray, rows: Sequence[str], cols: Sequence[str], titles: tuple[str, str],
                 query: int | None) -> None:
        self.weights = np.nan_to_num(np.asarray(weights, dtype=np.float64))
        self.rows, self.cols, self.titles, self.query = list(rows), list(cols), titles, query
        self.updateGeometry()
        self.resize(self.sizeHint())
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        n = max(len(self.rows), len(self.cols), 1)
        return QSize(2 * self.COL_W + self.GAP + 20, self.TOP + self.ROW_H * n + 10)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def visible_lines(self) -> list[tuple[int, int, float]]:
        if self.weights is None:
            return []
        rows = [self.query] if self.query is not None else range(self.weights.shape[0])
        return [(r, c, float(self.weights[r, c])) for r in rows for c in range(self.weights.shape[1])
                if self.weights[r, c] >= MIN_WEIGHT]

    def paintEvent(self, event) -> None:  # noqa: N802
        if self.weights is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        fm = QFontMetrics(self.font())
        left_x, right_x = self.COL_W, self.COL_W + self.GAP
        p.setPen(QColor("#444"))
        p.drawText(QRectF(0, 2, self.COL_W, self.ROW_H), Qt.AlignRight, self.titles[0])
        p.drawText(QRectF(right_x + 8, 2, self.COL_W, self.ROW_H), Qt.AlignLeft, self.titles[1])
        for r, c, w in self.visible_lines():
            colour = QColor(LINE_COLOUR)
            colour.setAlphaF(min(1.0, 0.15 + 0.85 * w))
            p.setPen(QPen(colour, 0.5 + 5.0 * w))
            p.drawLine(QPointF(left_x + 4, self.TOP + (r + 0.5) * self.ROW_H),
                       QPointF(right_x - 4, self.TOP + (c + 0.5) * self.ROW_H))
        for i, label in enumerate(self.rows):
            p.setPen(QColor("#d62728") if i == self.query else QColor("#222"))
            text = fm.elidedText(label, Qt.ElideRight, self.COL_W - 8)
            p.drawText(QRectF(0, self.TOP + i * self.ROW_H, self.COL_W - 4, self.ROW_H),
                       Qt.AlignRight | Qt.AlignVCenter, text)
        p.setPen(QColor("#222"))
        for i, label in enumerate(self.cols):
            text = fm.elidedText(label, Qt.ElideRight, self.COL_W - 8)
            p.drawText(QRectF(right_x + 4, self.TOP + i * self.ROW_H, self.COL_W, self.ROW_H),
                       Qt.AlignLeft | Qt.AlignVCenter, text)


class PairMath(QWidget):
    """One row of one head, in numbers: q·k for every key, ÷√d_head, the mask, softmax, and the
    weighted sum of the values (``core.seq2seq_views.head_row``)."""

    COLUMNS = ["key token", "q·k", "÷ √d", "mask", "weight (softmax)"]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.intro = QLabel("Click a row in Head (a token that looks) to see how its weights are computed.")
        self.intro.setWordWrap(True)
        self.intro.setTextFormat(Qt.RichText)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.out_label = QLabel()
        self.out_label.setWordWrap(True)
        self.out_label.setTextFormat(Qt.RichText)
        self.gpt_note = QLabel("The rest of the forward pass (residual adds, LayerNorm, MLP, logits and the "
                               "loss, steps 0 and 9–17) is shown for GPT runs.")
        self.gpt_note.setWordWrap(True)
        self.gpt_note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.out_label)
        layout.addWidget(self.gpt_note)
        self.row = None

    def set_row(self, row, kind_title: str, query_label: str, key_labels: Sequence[str], causal: bool) -> None:
        """``row``: a ``HeadRow``."""
        self.row = row
        d = row.q.shape[0]
        self.intro.setText(
            f"<b>{kind_title}</b>, query <b>{query_label}</b>: its query vector q ({d} numbers) is "
            f"multiplied with every key k, divided by √{d} = {row.scale:.2f}, "
            + ("keys after it are masked (−∞), " if causal else "no key is masked, ")
            + "then softmax turns the scores into weights that add up to 1.")
        self.table.setRowCount(len(key_labels))
        for i, label in enumerate(key_labels):
            ok = bool(row.allowed[i])
            cells = [label, f"{float(row.dots[i]):+.3f}", f"{float(row.scaled[i]):+.3f}",
                     "" if ok else "−∞ (future)", f"{float(row.weights[i]):.3f}" if ok else "0"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if not ok:
                    item.setForeground(QColor("#999"))
                self.table.setItem(i, col, item)
        top = int(row.weights.argmax())
        out = ", ".join(f"{float(x):+.2f}" for x in row.out[:8]) + (" …" if d > 8 else "")
        self.out_label.setText(f"Largest weight: <b>{key_labels[top]}</b> ({float(row.weights[top]):.2f}). "
                               f"The head's output for this token is the weighted sum of the values: "
                               f"({out}).")
