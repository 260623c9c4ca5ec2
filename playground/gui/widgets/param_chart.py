"""Small bar chart: where a model's parameters are (embeddings, attention, MLP, ...).

Each bar carries its number as a label, so the size is readable without judging bar heights
(and the table beside it has the exact counts). Imports pyqtgraph: create it after start-up.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

BAR_COLOR = "#3b75af"


def compact(n: int) -> str:
    """4_200 → '4.2k', 1_600_000 → '1.6M'."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= size:
            value = n / size
            return f"{value:.0f}{suffix}" if value >= 100 else f"{value:.3g}{suffix}"
    return str(n)


class ParamChart(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.hideAxis("left")  # every bar carries its own number
        self.setTitle("Where the parameters are", size="10pt")
        self.bars = None
        self.labels: list[str] = []
        self.values: list[int] = []
        self._texts: list = []
        self.setToolTip("How many learned numbers (parameters) each part of the model has. "
                        "The table gives the exact counts.")

    def set_breakdown(self, labels: list[str], values: list[int]) -> None:
        self.labels, self.values = list(labels), [int(v) for v in values]
        if self.bars is not None:
            self.removeItem(self.bars)
        for text in self._texts:
            self.removeItem(text)
        self._texts = []
        xs = list(range(len(values)))
        self.bars = pg.BarGraphItem(x=xs, height=self.values, width=0.7,
                                    brush=pg.mkBrush(BAR_COLOR), pen=pg.mkPen("#2a5480"))
        self.addItem(self.bars)
        top = max(self.values or [1]) or 1
        for x, v in zip(xs, self.values):
            text = pg.TextItem(compact(v), color="#222222", anchor=(0.5, 1.0))
            text.setPos(x, v)
            self.addItem(text)
            self._texts.append(text)
        self.getAxis("bottom").setTicks([[(x, label) for x, label in zip(xs, labels)]])
        self.setXRange(-0.6, max(len(xs), 1) - 0.4, padding=0)
        self.setYRange(0, top * 1.18, padding=0)
