"""The logit lens: what the model would predict if it stopped after the embedding, after block 1, …

For the chosen position (click a token), a table: one row per layer, the five most likely next
tokens with their probabilities, and the probability of the token that really came next. Below,
that last probability for every position and layer as a heatmap: where the prediction forms.
The numbers are ``core.forward_steps.logit_lens`` (the final LayerNorm and the unembedding
applied to the captured residual stream); the last row is the model's real output.

Imported lazily (pyqtgraph).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core.forward_steps import Lens
from playground.gui.widgets.attention_math import QueryTokenView, _Chart, _key_ticks
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

SURE = QColor("#3b6fb6")  # a cell's fill grows towards this with its probability
NEXT = QColor("#e8822f")  # the token that really came next


def layer_names(n_layer: int) -> list[str]:
    return ["after the embedding"] + [f"after block {n}" for n in range(1, n_layer)] + [
        f"after block {n_layer} (the model's output)"]


class LogitLensView(QWidget):
    """Layers × top-5 predictions for one position, and p(true next token) over the whole text."""

    positionSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.RichText)
        self.heading.setStyleSheet("font-size: 11pt;")
        column.addWidget(self.heading)
        self.tokens = QueryTokenView()
        self.tokens.setToolTip("Click a token: what each layer would predict comes after it.")
        self.tokens.clicked.connect(self.positionSelected)
        column.addWidget(self.tokens)
        self.table = QTableWidget(0, 0)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setToolTip("Each row: the final LayerNorm and the unembedding applied to the residual "
                              "stream at that point. Darker = more probable; orange = the true next token.")
        column.addWidget(self.table)
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        self.sentence.setTextFormat(Qt.RichText)
        column.addWidget(self.sentence)
        self.map = _Chart(170, colorbar=True)
        self.map.setMaximumHeight(16_777_215)  # _Chart's height is fixed; this one takes the room left
        self.map.getViewBox().invertY(True)
        self.map.getViewBox().setDefaultPadding(0.0)
        self.map.setTitle("probability each layer gives the token that really came next", size="9pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.map.addItem(self.image)
        self.map.bar.setColorMap(pg.colormap.get("viridis"))
        self.map.bar.setImageItem(self.image)
        self.map.bar.setLevels((0, 1))
        self.frame = pg.QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
        self.frame.setPen(pg.mkPen("#e8322f", width=2, cosmetic=True))
        self.map.addItem(self.frame)
        column.addWidget(self.map, 1)

        self.lens: Lens | None = None
        self.labels: list[str] = []
        self.ids: list[int] = []
        self.token_label: Callable[[int], str] = str
        self.position = 0

    def set_lens(self, lens: Lens, labels: Sequence[str], ids: Sequence[int],
                 token_label: Callable[[int], str], position: int | None = None) -> None:
        """Show ``core.forward_steps.logit_lens`` output; ``position`` defaults to the last token."""
        self.lens = lens
        self.labels = list(labels)
        self.ids = list(ids)
        self.token_label = token_label
        self.tokens.set_tokens(list(ids), self.labels)
        rows, T = lens.next_prob.shape
        self.image.setImage(np.nan_to_num(lens.next_prob, nan=0.0).astype(np.float32), autoLevels=False,
                            levels=(0, 1))
        self.image.setRect(QRectF(-0.5, 0, T, rows))
        self.map.getAxis("bottom").setTicks(_key_ticks(self.labels))
        self.map.getAxis("left").setTicks([[(r + 0.5, "emb" if r == 0 else f"{r}") for r in range(rows)]])
        self.map.getViewBox().setRange(xRange=(-0.6, T - 0.4), yRange=(0, rows), padding=0)
        self.set_position(T - 1 if position is None else position)

    def set_position(self, position: int) -> None:
        lens = self.lens
        if lens is None:
            return
        rows, T, k = lens.top_ids.shape
        i = max(0, min(position, T - 1))
        self.position = i
        self.tokens.set_selected(i)
        self.frame.setRect(i - 0.5, 0, 1, rows)
        has_next = i + 1 < len(self.labels)
        nxt = self.labels[i + 1] if has_next else None
        nxt_id = self.ids[i + 1] if has_next else None
        self.heading.setText(f"What each layer would predict after <b>`{self.labels[i]}`</b> "
                             f"(position {i + 1} of {T})"
                             + (f"; the text really goes on with <b>`{nxt}`</b>" if has_next else ""))
        self.table.setRowCount(rows)
        self.table.setColumnCount(k + 1)
        self.table.setHorizontalHeaderLabels([f"choice {c + 1}" for c in range(k)] + ["p(true next)"])
        self.table.setVerticalHeaderLabels(layer_names(rows - 1))
        # As tall as its rows (a deep model scrolls): the heatmap below takes the rest.
        shown = min(rows, 12)
        self.table.setFixedHeight(self.table.horizontalHeader().height() + 4
                                  + sum(self.table.rowHeight(r) for r in range(shown)))
        for r in range(rows):
            for c in range(k):
                token_id = int(lens.top_ids[r, i, c])
                token = self.token_label(token_id)
                p = float(lens.top_probs[r, i, c])
                item = QTableWidgetItem(f"`{token}`  {p:.1%}")
                fill = QColor(SURE)
                fill.setAlphaF(min(1.0, 0.08 + 0.85 * p))
                item.setBackground(fill)
                if p > 0.5:
                    item.setForeground(QColor("white"))
                if token_id == nxt_id:
                    item.setForeground(NEXT)
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
            p_next = lens.next_prob[r, i]
            self.table.setItem(r, k, QTableWidgetItem("—" if np.isnan(p_next) else f"{float(p_next):.1%}"))
        self.sentence.setText(self._sentence(i, nxt))

    def _sentence(self, i: int, nxt: str | None) -> str:
        lens = self.lens
        rows = lens.top_ids.shape[0]
        first = [self.token_label(int(lens.top_ids[r, i, 0])) for r in range(rows)]
        settled = rows - 1
        while settled > 0 and first[settled - 1] == first[-1]:
            settled -= 1
        where = (f"is already the first choice {layer_names(rows - 1)[settled]}" if settled < rows - 1
                 else "becomes the first choice only at the output")
        text = (f"The final LayerNorm and the unembedding, applied early, read a prediction out of the residual "
                f"stream at every stage. The model's final first choice, `{first[-1]}`, {where}.")
        if nxt is not None:
            p = lens.next_prob[:, i]
            text += (f" The true next token `{nxt}` gets {float(p[0]):.1%} straight after the embedding and "
                     f"{float(p[-1]):.1%} at the output.")
        return text

    def cell_text(self, row: int, col: int) -> str:
        item = self.table.item(row, col)
        return item.text() if item is not None else ""
