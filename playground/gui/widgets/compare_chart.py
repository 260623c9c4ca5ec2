"""Two small horizontal bar charts side by side: tokens per text and vocabulary size.

Read together they show the trade-off of tokenizers: the longer the bars on the right
(vocabulary), the shorter the bars on the left (sequence length).
"""

from __future__ import annotations

import math

from PySide6.QtWidgets import QHBoxLayout, QWidget

from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

COLOURS = {"char": "#4e79a7", "word": "#f28e2b", "bpe": "#59a14f", "cl100k": "#b07aa1",
           "gpt2": "#9c755f"}


def _bar_plot(title: str, tooltip: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    plot.setTitle(title, size="10pt")
    plot.setToolTip(tooltip)
    plot.getAxis("left").setStyle(tickLength=0)
    plot.setMinimumHeight(120)
    return plot


class CompareChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tokens_plot = _bar_plot(
            "Tokens for your text (shorter is easier to read for the model)",
            "How many tokens your text becomes with each tokenizer")
        self.vocab_plot = _bar_plot(
            "Vocabulary size (log scale: each step is ×10)",
            "How many different tokens each tokenizer knows; every one needs an embedding")
        layout.addWidget(self.tokens_plot)
        layout.addWidget(self.vocab_plot)
        self.tokens: dict[str, int] = {}
        self.vocab: dict[str, int] = {}

    def set_data(self, rows: list[tuple[str, str, int, int]]) -> None:
        """rows: (kind, title, tokens for the text, vocabulary size), top to bottom."""
        self.tokens = {kind: n for kind, _t, n, _v in rows}
        self.vocab = {kind: v for kind, _t, _n, v in rows}
        ticks = [(len(rows) - 1 - i, title) for i, (_k, title, _n, _v) in enumerate(rows)]
        for plot, values, log in ((self.tokens_plot, [r[2] for r in rows], False),
                                  (self.vocab_plot, [r[3] for r in rows], True)):
            plot.clear()
            for i, ((kind, _t, _n, _v), value) in enumerate(zip(rows, values)):
                y = len(rows) - 1 - i
                width = math.log10(max(value, 1)) if log else value
                plot.addItem(pg.BarGraphItem(x0=[0], y=[y], height=0.6, width=[width],
                                             brush=COLOURS.get(kind, "#888")))
                label = pg.TextItem(f"{value:,}", anchor=(0, 0.5), color="#222")
                label.setPos(width, y)
                plot.addItem(label)
            plot.getAxis("left").setTicks([ticks])
            top = max([math.log10(max(v, 1)) for v in values] + [1]) if log else max(values + [1])
            plot.setXRange(0, top * 1.25, padding=0)
            plot.setYRange(-0.6, len(rows) - 0.4, padding=0)
            if log:
                plot.getAxis("bottom").setTicks(
                    [[(k, f"{10 ** k:,}") for k in range(0, int(top * 1.25) + 1)]])
            else:
                plot.getAxis("bottom").setTicks(None)
