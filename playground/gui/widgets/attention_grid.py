"""Attention heatmaps: the grid of every (layer, head) and one head shown large.

Both draw the weights the core captured, row = query (the token that looks), column = key
(the token looked at), on one shared viridis scale from 0 to 1. Cells right of the diagonal
are future tokens the causal mask hides: they are NaN in the image, which pyqtgraph draws
transparent, so a grey rectangle behind the image shows through there — grey is "not
allowed", never "weight 0" (that is dark purple).

Imported lazily (pyqtgraph takes half a second to import; see widgets/plots.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsRectItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.analysis import LABEL_DESCRIPTIONS
from playground.core.attention_views import PATTERN_COLUMNS, PATTERN_TITLES
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

MASKED_GREY = "#c9c9c9"
SELECT_PEN = "#e8322f"
COLORMAP = "viridis"
LABEL_TITLES = {
    "previous-token": "previous token",
    "first-token": "first token",
    "self": "self",
    "induction": "induction",
    "uniform": "broad",
    "mixed": "mixed",
}


def masked_image(weights: np.ndarray) -> np.ndarray:
    """The (T, S) weights with the causally hidden cells (key after query) set to NaN."""
    w = np.array(weights, dtype=np.float32)  # (T, S)
    T, S = w.shape
    past = S - T  # keys already cached before the first query (0 for a plain forward)
    hidden = np.arange(S)[None, :] > (np.arange(T)[:, None] + past)  # (T, S)
    w[hidden] = np.nan
    return w


def colormap():
    return pg.colormap.get(COLORMAP)


def closest_pattern(scores: dict | None) -> str | None:
    """The positional pattern a "mixed" head comes closest to (None without scores)."""
    if not scores:
        return None
    from playground.core.analysis import PATTERNS

    known = [(p, scores[p]) for p in PATTERNS if scores.get(p) is not None]
    return max(known, key=lambda kv: kv[1])[0] if known else None


def head_title(label: str, score: float, scores: dict | None = None) -> str:
    """"previous token 0.87", or for a mixed head the pattern it comes closest to."""
    closest = closest_pattern(scores) if label == "mixed" else None
    if closest is not None:
        return f"mixed · {LABEL_TITLES.get(closest, closest)} {score:.2f}"
    return f"{LABEL_TITLES.get(label, label)} {score:.2f}"


def _grey_backdrop(size: tuple[int, int]) -> QGraphicsRectItem:
    rect = QGraphicsRectItem(QRectF(0, 0, size[1], size[0]))
    rect.setBrush(QBrush(QColor(MASKED_GREY)))
    rect.setPen(QPen(Qt.NoPen))
    rect.setZValue(-10)
    return rect


def hover_sentence(labels: Sequence[str], query: int, key: int, weight: float) -> str:
    q, k = labels[query], labels[key]
    if np.isnan(weight):
        return (f"Query `{q}` (position {query + 1}) cannot look at key `{k}` (position {key + 1}): "
                "it comes later (the causal mask hides the future).")
    return (f"Query `{q}` (position {query + 1}) attends to key `{k}` (position {key + 1}) "
            f"with weight {weight:.2f}")


class AttentionGrid(pg.GraphicsLayoutWidget):
    """One heatmap per (layer, head): layers as rows, heads as columns, one colour bar."""

    headClicked = Signal(int, int)  # layer, head (0-based)
    hoverText = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.shape: tuple[int, int, int] | None = None  # (n_layer, n_head, T)
        self.plots: dict[tuple[int, int], pg.PlotItem] = {}
        self.images: dict[tuple[int, int], pg.ImageItem] = {}
        self.backdrops: dict[tuple[int, int], QGraphicsRectItem] = {}
        self.frames: dict[tuple[int, int], QGraphicsRectItem] = {}
        self.data: np.ndarray | None = None  # (L, H, T, T) with NaN where masked
        self.labels: list[str] = []
        self.head_labels: list[list[tuple[str, float]]] = []
        self.selected: tuple[int, int] | None = None
        self.colorbar = None
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.setToolTip("Every attention head of the model. Each square: rows are the tokens that "
                        "look (queries), columns the tokens they look at (keys); bright = much "
                        "attention. Grey = the future, which a token may not see. Click one to "
                        "open it large.")

    # -- building ------------------------------------------------------------------------------
    def _build(self, n_layer: int, n_head: int, T: int) -> None:
        self.clear()
        self.plots.clear()
        self.images.clear()
        self.backdrops.clear()
        self.frames.clear()
        self.ci.layout.setSpacing(2)
        cmap = colormap()
        small = QFont()
        small.setPointSizeF(9)
        for h in range(n_head):
            self.addLabel(f"<b>head {h + 1}</b>", row=0, col=h + 1, size="10pt")
        for layer in range(n_layer):
            self.addLabel(f"<b>layer {layer + 1}</b>", row=layer + 1, col=0, angle=-90, size="10pt")
            for h in range(n_head):
                plot = self.addPlot(row=layer + 1, col=h + 1)
                plot.setTitle(" ", size="9pt")
                for side in ("left", "bottom"):
                    plot.hideAxis(side)
                plot.setMouseEnabled(x=False, y=False)
                plot.setMenuEnabled(False)
                plot.hideButtons()
                vb = plot.getViewBox()
                vb.invertY(True)
                vb.setAspectLocked(True)
                vb.setDefaultPadding(0.0)
                backdrop = _grey_backdrop((T, T))
                plot.addItem(backdrop)
                image = pg.ImageItem(axisOrder="row-major")
                image.setColorMap(cmap)
                plot.addItem(image)
                frame = QGraphicsRectItem(QRectF(0, 0, T, T))
                frame.setPen(pg.mkPen(SELECT_PEN, width=3, cosmetic=True))
                frame.setBrush(QBrush(Qt.NoBrush))
                frame.setZValue(10)
                frame.setVisible(False)
                plot.addItem(frame)
                plot.setRange(xRange=(0, T), yRange=(0, T), padding=0)
                self.plots[(layer, h)] = plot
                self.images[(layer, h)] = image
                self.backdrops[(layer, h)] = backdrop
                self.frames[(layer, h)] = frame
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, width=14,
                                        label="attention weight")
        self.colorbar.setImageItem(list(self.images.values()))
        self.addItem(self.colorbar, row=1, col=n_head + 1, rowspan=n_layer)
        self.shape = (n_layer, n_head, T)

    # -- data ------------------------------------------------------------------------------------
    def set_data(self, attention: np.ndarray, labels: Sequence[str],
                 head_labels: list[list[tuple[str, float]]] | None = None,
                 scores: list[list[dict]] | None = None) -> None:
        """Show (n_layer, n_head, T, T) weights; ``labels`` name the T tokens (for hovering);
        ``head_labels`` and ``scores`` are the core's pattern labels and scores per head."""
        att = np.asarray(attention, dtype=np.float32)
        L, H, T, _S = att.shape
        if self.shape != (L, H, T):
            self._build(L, H, T)
        self.labels = list(labels)
        self.head_labels = head_labels or []
        hidden = np.triu(np.ones((T, T), dtype=bool), k=1)  # (T, T) keys after the query
        data = att.copy()
        data[:, :, hidden] = np.nan
        self.data = data
        for (layer, h), image in self.images.items():
            image.setImage(data[layer, h], autoLevels=False, levels=(0.0, 1.0))
            if self.head_labels:
                name, score = self.head_labels[layer][h]
                text = head_title(name, score, scores[layer][h] if scores else None)
                title = f"<b>{text}</b>" if name not in ("mixed",) else text
            else:
                title = " "
            self.plots[(layer, h)].titleLabel.setText(title, size="9pt")
        self.set_selected(self.selected)

    def image_data(self, layer: int, head: int) -> np.ndarray:
        """The (T, T) array drawn for this head (NaN where masked)."""
        return self.images[(layer, head)].image

    def set_selected(self, selected: tuple[int, int] | None) -> None:
        self.selected = selected
        for key, frame in self.frames.items():
            frame.setVisible(key == selected)

    # -- mouse -----------------------------------------------------------------------------------
    def _head_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        for key, plot in self.plots.items():
            if plot.getViewBox().sceneBoundingRect().contains(scene_pos):
                return key
        return None

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        key = self._head_at(scene_pos)
        if key is None or self.data is None:
            return
        point = self.plots[key].getViewBox().mapSceneToView(scene_pos)
        T = self.data.shape[2]
        col, row = int(np.floor(point.x())), int(np.floor(point.y()))
        if 0 <= row < T and 0 <= col < T:
            w = float(self.data[key][row, col])
            self.hoverText.emit(f"Layer {key[0] + 1}, head {key[1] + 1}: "
                                + hover_sentence(self.labels, row, col, w))

    def _mouse_clicked(self, event) -> None:
        key = self._head_at(event.scenePos())
        if key is not None:
            event.accept()
            self.headClicked.emit(*key)


class HeadView(QWidget):
    """One head, large, with every token's label on both axes and a sentence on hover.

    Cells are at least ``MIN_CELL`` pixels so labels stay readable: a long text scrolls
    rather than squeezing them. Top labels wider than a cell are thinned (every n-th), the
    hover sentence always names both tokens.
    """

    querySelected = Signal(int)
    hoverText = Signal(str)
    pinRequested = Signal()  # "Pin this head to the lab report" (the tab knows which head it is)

    MIN_CELL = 11

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMenuEnabled(False)
        self.plot_widget.hideButtons()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.vb = self.plot.getViewBox()
        self.vb.invertY(True)
        self.vb.setDefaultPadding(0.0)
        self.plot.showAxis("top")
        self.plot.hideAxis("bottom")
        self.tick_font = QFont("DejaVu Sans Mono")
        self.tick_font.setStyleHint(QFont.Monospace)
        self.tick_font.setPointSizeF(9)
        for side in ("left", "top"):
            axis = self.plot.getAxis(side)
            axis.setTickFont(self.tick_font)
            axis.setStyle(tickLength=0, autoExpandTextSpace=True, hideOverlappingLabels=False)
        self.plot.setLabel("left", "query: the token that looks  ↓")
        self.plot.setLabel("top", "key: the token looked at  →")
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
        self.colorbar = pg.ColorBarItem(values=(0, 1), colorMap=colormap(), interactive=False, width=14,
                                        label="attention weight")
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self.plot_widget.scene().sigMouseMoved.connect(self._mouse_moved)
        self.plot_widget.scene().sigMouseClicked.connect(self._mouse_clicked)
        self.plot_widget.setToolTip("Rows: the tokens that look (queries). Columns: the tokens they "
                                    "look at (keys). Each row adds up to 1. Hover a cell for its "
                                    "weight; click a row to explain it step by step (The math).")
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.NoFrame)
        self.scroll.setWidget(self.plot_widget)
        self.hover_label = QLabel("Hover a cell to read its weight; click a row to explain it in The math.")
        self.hover_label.setStyleSheet("color: #222; padding: 2px;")
        self.hover_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll, 1)
        self.pin_button = QPushButton("Pin this head to the lab report")
        self.pin_button.setToolTip("File → Export lab report then shows this head, on this text and "
                                   "checkpoint, as a picture of its own")
        self.pin_button.clicked.connect(self.pinRequested)
        bottom = QHBoxLayout()
        bottom.addWidget(self.hover_label, 1)
        bottom.addWidget(self.pin_button, 0, Qt.AlignTop)
        layout.addLayout(bottom)
        self.data: np.ndarray | None = None
        self.labels: list[str] = []
        self.query: int | None = None

    def set_data(self, weights: np.ndarray, labels: Sequence[str]) -> None:
        """Show one head's (T, T) weights with the T token labels on both axes."""
        self.data = masked_image(weights)
        T = self.data.shape[0]
        self.labels = list(labels)
        self.image.setImage(self.data, autoLevels=False, levels=(0.0, 1.0))
        self.backdrop.setRect(QRectF(0, 0, T, T))
        self.plot.getAxis("left").setTicks([[(i + 0.5, lab) for i, lab in enumerate(self.labels)]])
        fm = QFontMetrics(self.tick_font)
        label_w = max((fm.horizontalAdvance(lab) for lab in self.labels), default=10)
        self.plot_widget.setMinimumSize(T * self.MIN_CELL + label_w + 110, T * self.MIN_CELL + 70)
        self.vb.setRange(xRange=(0, T), yRange=(0, T), padding=0)
        self.vb.setLimits(xMin=0, xMax=T, yMin=0, yMax=T)
        self._thin_top_ticks()
        if self.query is not None and self.query >= T:
            self.query = None
        self.set_query(self.query)

    def _thin_top_ticks(self) -> None:
        """Label every n-th key on the top axis when labels are wider than a cell."""
        if not self.labels:
            return
        T = len(self.labels)
        fm = QFontMetrics(self.tick_font)
        widest = max(fm.horizontalAdvance(lab) for lab in self.labels) + 4
        cell = max(self.vb.width(), self.plot_widget.width() - 160, 1) / T
        every = max(1, int(np.ceil(widest / cell)))
        self.plot.getAxis("top").setTicks(
            [[(i + 0.5, lab) for i, lab in enumerate(self.labels) if i % every == 0]])

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._thin_top_ticks()

    def axis_labels(self, side: str) -> list[str]:
        """The token labels on an axis, in order (tests read them)."""
        ticks = self.plot.getAxis(side)._tickLevels or [[]]
        return [text for _pos, text in ticks[0]]

    def set_query(self, query: int | None) -> None:
        self.query = query
        if query is None or self.data is None:
            self.row_frame.setVisible(False)
            return
        self.row_frame.setRect(QRectF(0, query, self.data.shape[1], 1))
        self.row_frame.setVisible(True)

    def _cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        if self.data is None or not self.vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.vb.mapSceneToView(scene_pos)
        row, col = int(np.floor(p.y())), int(np.floor(p.x()))
        T, S = self.data.shape
        if 0 <= row < T and 0 <= col < S:
            return row, col
        return None

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        cell = self._cell_at(scene_pos)
        if cell is not None:
            text = hover_sentence(self.labels, cell[0], cell[1], float(self.data[cell]))
            self.hover_label.setText(text)
            self.hoverText.emit(text)

    def _mouse_clicked(self, event) -> None:
        cell = self._cell_at(event.scenePos())
        if cell is not None:
            event.accept()
            self.set_query(cell[0])
            self.querySelected.emit(cell[0])


class HeadLabelsTable(QWidget):
    """Every head's pattern scores in a sortable table, under a sentence saying what each means."""

    headClicked = Signal(int, int)  # layer, head (0-based): a row was clicked
    headOpened = Signal(int, int)  # a row was double-clicked: open that head large

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table = QTableWidget(0, 3 + len(PATTERN_COLUMNS))
        table.setHorizontalHeaderLabels(["layer", "head", "label"] + [PATTERN_TITLES[p] for p in PATTERN_COLUMNS])
        for c, p in enumerate(PATTERN_COLUMNS):
            table.horizontalHeaderItem(3 + c).setToolTip(LABEL_DESCRIPTIONS[p])
        table.horizontalHeaderItem(2).setToolTip("The pattern this head fits best (score ≥ 0.4), "
                                                 "'broad' when it spreads evenly, else 'mixed'")
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.SingleSelection)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        table.setToolTip("Each head scored against simple patterns (0 = not at all, 1 = exactly), "
                         "on the text above. Click a column header to sort; double-click a row to "
                         "open the head.")
        table.cellClicked.connect(self._clicked)
        table.cellDoubleClicked.connect(self._double_clicked)
        explain = QLabel("Each score measures one pattern on the text above: <b>previous token</b> "
                         "(looks at the token just before), <b>first token</b> (parks on the first "
                         "token), <b>self</b>, <b>induction</b> (in 'A B … A' the second A looks at B, "
                         "what followed its earlier copy — how models copy), <b>broad</b> (spreads "
                         "evenly). Induction needs a text with repeats.")
        explain.setWordWrap(True)
        explain.setStyleSheet("color: #333; padding: 2px;")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(explain)
        box.addWidget(table, 1)

    def _head_of(self, row: int) -> tuple[int, int]:
        # The table may be sorted: the (layer, head) a row shows is stored on its first cells.
        return int(self.table.item(row, 0).data(Qt.UserRole)), int(self.table.item(row, 1).data(Qt.UserRole))

    @Slot(int, int)
    def _clicked(self, row: int, _col: int) -> None:
        self.headClicked.emit(*self._head_of(row))

    @Slot(int, int)
    def _double_clicked(self, row: int, _col: int) -> None:
        self.headOpened.emit(*self._head_of(row))

    def set_scores(self, scores: list, head_labels: list) -> None:
        """One row per head: scores[layer][head][pattern], head_labels[layer][head] = (label, score)."""
        table = self.table
        table.setSortingEnabled(False)
        rows = [(l, h) for l in range(len(scores)) for h in range(len(scores[l]))]
        table.setRowCount(len(rows))
        for r, (l, h) in enumerate(rows):
            name, _score = head_labels[l][h]
            values = [l + 1, h + 1, PATTERN_TITLES.get(name, name)] + [scores[l][h][p] for p in PATTERN_COLUMNS]
            for c, value in enumerate(values):
                item = QTableWidgetItem()
                if value is None:
                    item.setData(Qt.DisplayRole, "—")
                    item.setToolTip("No repeated tokens in this text: induction cannot be measured.")
                elif isinstance(value, float):
                    item.setData(Qt.DisplayRole, round(value, 3))
                else:
                    item.setData(Qt.DisplayRole, value)
                if c < 2:
                    item.setData(Qt.UserRole, (l, h)[c])
                elif c == 2:
                    item.setToolTip(LABEL_DESCRIPTIONS.get(name, ""))
                item.setTextAlignment(Qt.AlignCenter)
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
