"""A bigram model's whole next-token table as a heatmap, beside the same table counted from its text.

The numbers come from ``core.bigram_table`` (softmax of the model's table; counts of the
training tokens); this widget only draws them, with the tokens on both axes and the two
probabilities under the mouse. Imported lazily (pyqtgraph).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from playground.core.bigram_table import BigramTables
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

SEQUENTIAL = "viridis"
TICK_LABELS_UP_TO = 100  # more tokens than this: the axes keep every n-th label


def _table_plot(title: str) -> tuple[pg.PlotWidget, pg.ImageItem]:
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.hideButtons()
    w.setMouseEnabled(x=False, y=False)
    w.setTitle(title, size="10pt")
    w.setLabel("left", "current token")
    w.setLabel("bottom", "next token")
    vb = w.getViewBox()
    vb.invertY(True)
    vb.setDefaultPadding(0.0)
    image = pg.ImageItem(axisOrder="row-major")
    image.setColorMap(pg.colormap.get(SEQUENTIAL))
    w.addItem(image)
    # A label per token on both axes makes the plot ask for ~800 px; the window must not grow
    # (a tab widget keeps the widest page's width for every tab).
    w.setMinimumSize(160, 160)
    w.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Expanding)
    return w, image


class BigramTableView(QWidget):
    """Left: p(next | current) from the model. Right: the same counted from the training text."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_plot, self.model_image = _table_plot("The model: p(next | current)")
        self.count_plot, self.count_image = _table_plot("Counted from the text")
        bar = pg.ColorBarItem(colorMap=pg.colormap.get(SEQUENTIAL), values=(0.0, 1.0), interactive=False,
                              width=10)
        bar.setImageItem([self.model_image, self.count_image], insert_in=self.count_plot.getPlotItem())
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        self.hover = QLabel(" ")
        self.hover.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # long hover texts never widen the window
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.model_plot, 1)
        row.addWidget(self.count_plot, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row, 1)
        layout.addWidget(self.hover)
        layout.addWidget(self.sentence)
        self.tables: BigramTables | None = None
        self.labels: list[str] = []
        self.model_data = np.zeros((0, 0))  # (n, n) what the left heatmap shows
        self.count_data: np.ndarray | None = None  # (n, n) what the right one shows
        for plot in (self.model_plot, self.count_plot):
            plot.scene().sigMouseMoved.connect(self._mouse_moved)

    def set_tables(self, tables: BigramTables, labels: Sequence[str]) -> None:
        """Show ``tables`` (rows and columns: ``tables.shown``), tokens named by ``labels``."""
        self.tables = tables
        shown = tables.shown
        self.labels = [labels[i] for i in shown]
        self.model_data = tables.model[:, shown]  # (n, n)
        self.count_data = None if tables.counted is None else tables.counted[:, shown]  # (n, n)
        n = len(shown)
        self.model_image.setImage(self.model_data, autoLevels=False, levels=(0.0, 1.0))
        self.count_plot.setVisible(self.count_data is not None)
        if self.count_data is not None:
            self.count_image.setImage(self.count_data, autoLevels=False, levels=(0.0, 1.0))
        step = max(1, -(-n // TICK_LABELS_UP_TO))
        ticks = [[(i + 0.5, self.labels[i]) for i in range(0, n, step)]]
        for plot in (self.model_plot, self.count_plot):
            for side in ("left", "bottom"):
                plot.getAxis(side).setTicks(ticks)
            plot.getViewBox().setRange(xRange=(0, n), yRange=(0, n), padding=0)
        self.sentence.setText(self._sentence())

    def _sentence(self) -> str:
        t = self.tables
        some = "" if len(t.shown) == t.model.shape[1] else (
            f" Only the {len(t.shown)} most frequent tokens are shown, so a row's colours need not add up to 1.")
        head = ("Each row is a token; each column the token that may follow it; the colour is the "
                "probability. A bigram sees nothing but the current token, so this table is the whole model." + some)
        if self.count_data is None:
            return f"{head} {t.note}"
        seen = t.row_counts > 0
        gap = 0.5 * np.abs(t.model[seen] - t.counted[seen]).sum(axis=1).mean() if seen.any() else 0.0
        return (f"{head} The counted table is the best any bigram can do on its training text; on average "
                f"a row of the model's differs from it by {100 * gap:.0f}% of its probability.")

    def describe(self, row: int, col: int) -> str:
        """Both tables' numbers for one cell, in words (what the mouse shows)."""
        a, b = self.labels[row], self.labels[col]
        text = f"after {a!r} comes {b!r}: model {self.model_data[row, col]:.3f}"
        if self.count_data is not None:
            text += f", counted {self.count_data[row, col]:.3f}"
        return text

    @Slot(object)
    def _mouse_moved(self, pos: QPointF) -> None:
        for plot in (self.model_plot, self.count_plot):
            if plot.isVisible() and plot.sceneBoundingRect().contains(pos):
                p = plot.getViewBox().mapSceneToView(pos)
                row, col = int(p.y()), int(p.x())
                if 0 <= row < len(self.labels) and 0 <= col < len(self.labels):
                    self.hover.setText(self.describe(row, col))
                return
