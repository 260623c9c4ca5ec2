"""Bar chart of the most common characters; hovering a bar says exactly how often."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QWidget

from playground.core.tokenizers import readable
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()


def char_label(ch: str) -> str:
    """A character as a readable tick label (space ·, newline ↵, tab →)."""
    return readable(ch)


class CharChart(pg.PlotWidget):
    """Bar chart of the most common characters; hovering a bar says exactly how often."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hover_label: QLabel | None = None
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setTitle("Most common characters", size="11pt")
        self.setLabel("left", "times in the text")
        self.showGrid(y=True, alpha=0.25)
        self.bars: pg.BarGraphItem | None = None
        self.chars: list[str] = []
        self.counts: list[int] = []
        self.total = 1
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.setToolTip("How often each character appears. Hover a bar for the exact number.")

    def set_data(self, most_common: list[tuple[str, int]], total: int) -> None:
        self.chars = [c for c, _ in most_common]
        self.counts = [n for _, n in most_common]
        self.total = max(total, 1)
        if self.bars is not None:
            self.removeItem(self.bars)
        xs = list(range(len(self.counts)))
        self.bars = pg.BarGraphItem(x=xs, height=self.counts, width=0.75,
                                    brush=pg.mkBrush("#3b75af"), pen=pg.mkPen("#2a5480"))
        self.addItem(self.bars)
        ticks = [(i, char_label(c)) for i, c in enumerate(self.chars)]
        axis = self.getAxis("bottom")
        axis.setTicks([ticks])
        font = QFont(self.font())
        font.setPointSizeF(10)
        axis.setTickFont(font)
        self.setXRange(-0.6, max(len(xs), 1) - 0.4, padding=0)
        self.setYRange(0, max(self.counts or [1]) * 1.05, padding=0)

    def describe_bar(self, index: int) -> str:
        ch, n = self.chars[index], self.counts[index]
        name = {" ": "space", "\n": "newline", "\t": "tab"}.get(ch, f"'{ch}'")
        return (f"{name} (U+{ord(ch):04X}) appears {n:,} times — "
                f"{100 * n / self.total:.1f}% of all characters")

    @Slot(object)
    def _mouse_moved(self, pos) -> None:
        if not self.counts or self.hover_label is None:
            return
        point = self.getPlotItem().vb.mapSceneToView(pos)
        index = int(round(point.x()))
        if 0 <= index < len(self.counts) and 0 <= point.y() <= self.counts[index] * 1.05 + 1:
            self.hover_label.setText(self.describe_bar(index))
        else:
            self.hover_label.setText("Hover a bar to see how often that character appears.")
