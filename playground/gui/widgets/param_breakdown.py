"""The Model tab's middle column: the parameter count per part of the model, as a table (with
each part's meaning on hover) and as a bar chart. The numbers come from core.config."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGroupBox, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from playground.core.config import ModelConfig, attention_breakdown
from playground.gui.widgets.tokenizer_compare import fit_height, summary_table

PARTS = ["embeddings", "positions", "attention", "mlp", "norms", "unembedding"]
PART_TITLES = {
    "embeddings": "Token embeddings", "positions": "Positions", "attention": "Attention",
    "mlp": "MLP", "norms": "Layer norms", "unembedding": "Unembedding",
}
PART_SHORT = {
    "embeddings": "embed", "positions": "pos", "attention": "attn", "mlp": "MLP",
    "norms": "norms", "unembedding": "unembed",
}
ROW_HEIGHT = 24


def part_tip(part: str, cfg: ModelConfig | None) -> str:
    """What each row of the parameter table counts, in words (the numbers come from the core)."""
    if cfg is not None and cfg.arch == "bigram":
        return ("The whole bigram model: a vocab × vocab table of scores."
                if part == "embeddings" else "A bigram model has no such part.")
    if cfg is not None and cfg.is_encoder_decoder:
        return seq2seq_tip(part, cfg)
    tips = {
        "embeddings": "One learned vector of d_model numbers for every token of the vocabulary "
                      "(vocab × d_model).",
        "positions": "One learned vector of d_model numbers per position of the context "
                     "(context × d_model). Sinusoidal positions are a fixed pattern: nothing to "
                     "learn.",
        "attention": "Per block: the query, key, value and output projections (4 × d_model² "
                     "weights, plus biases), times the number of layers.",
        "mlp": "Per block: widen each vector to 4 × d_model and narrow it back (8 × d_model² "
               "weights, plus biases), times the number of layers.",
        "norms": "Two LayerNorms per block plus the final one, each with a scale (and, with "
                 "bias, a shift) of d_model numbers.",
        "unembedding": "Turns the final vector into one score per vocabulary token "
                       "(d_model × vocab). With tied embedding it reuses the token embedding "
                       "table: 0 extra.",
    }
    return tips[part]


def seq2seq_tip(part: str, cfg: ModelConfig) -> str:
    """The rows of an encoder–decoder: both stacks, and the attention split by kind."""
    kinds = attention_breakdown(cfg)
    tips = {
        "embeddings": "One table of d_model numbers per token (vocab × d_model), shared by the source and "
                      "the target: one tokenizer reads both.",
        "positions": "A learned vector per position for the encoder and another for the decoder (2 × context "
                     "× d_model). Sinusoidal positions are fixed: nothing to learn.",
        "attention": "Three kinds, each with query, key, value and output projections (4 × d_model² weights "
                     "plus biases per block): "
                     + ", ".join(f"{name} {n:,}" for name, n in kinds.items()) + ".",
        "mlp": "One MLP per block in both stacks (8 × d_model² weights plus biases each), times 2 × layers.",
        "norms": "Two LayerNorms per encoder block, three per decoder block (before self-attention, "
                 "cross-attention and the MLP), plus each stack's final one.",
        "unembedding": "Turns the decoder's final vector into one score per vocabulary token (d_model × "
                       "vocab); 0 extra with tied embedding.",
    }
    return tips[part]


class ParamBreakdown(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Parameters", parent)
        self.setToolTip("Parameters are the learned numbers of the model; training adjusts "
                        "every one of them.")
        layout = QVBoxLayout(self)
        columns = [("Part", "Each part of the model; hover a row for what it holds"),
                   ("Parameters", "How many learned numbers the part has"),
                   ("Share", "The part's share of all parameters")]
        self.table = summary_table(columns, stretch=0, row_height=ROW_HEIGHT, rows=len(PARTS) + 1)
        fit_height(self.table)
        bold = QFont(self.font())
        bold.setBold(True)
        for row, part in enumerate(PARTS + ["total"]):
            cells = [QTableWidgetItem(PART_TITLES.get(part, "Total")), QTableWidgetItem(""),
                     QTableWidgetItem("")]
            for col, item in enumerate(cells):
                if col:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if part == "total":
                    item.setFont(bold)
                self.table.setItem(row, col, item)
        layout.addWidget(self.table)
        self._layout = layout
        # The chart (pyqtgraph, half a second to import) comes with the first numbers.
        self.chart: Any = None
        self._chart_placeholder = QLabel("")
        layout.addWidget(self._chart_placeholder, 1)

    def show_breakdown(self, cfg: ModelConfig, breakdown: dict[str, int]) -> None:
        """``breakdown``: core.config.param_breakdown(cfg)."""
        total = sum(breakdown.values())
        for row, part in enumerate(PARTS):
            n = breakdown[part]
            self.table.item(row, 1).setText(f"{n:,}")
            self.table.item(row, 2).setText(f"{100 * n / max(total, 1):.1f}%")
            tip = part_tip(part, cfg)
            for col in range(3):
                self.table.item(row, col).setToolTip(tip)
        self.table.item(len(PARTS), 1).setText(f"{total:,}")
        self.table.item(len(PARTS), 2).setText("100%")
        self.setTitle(f"Parameters: {total:,}")
        if self.chart is None:
            from playground.gui.widgets.param_chart import ParamChart

            self.chart = ParamChart()
            self.chart.setMinimumHeight(160)
            self._layout.replaceWidget(self._chart_placeholder, self.chart)
            self._chart_placeholder.deleteLater()
        self.chart.set_breakdown([PART_SHORT[p] for p in PARTS], [breakdown[p] for p in PARTS])

    def clear(self) -> None:
        for row in range(len(PARTS) + 1):
            self.table.item(row, 1).setText("—")
            self.table.item(row, 2).setText("")
        self.setTitle("Parameters")
        if self.chart is not None:
            self.chart.set_breakdown([], [])

    def total(self) -> int | None:
        """The total shown (None while there are no numbers)."""
        text = self.table.item(len(PARTS), 1).text().replace(",", "")
        return int(text) if text.isdigit() else None
