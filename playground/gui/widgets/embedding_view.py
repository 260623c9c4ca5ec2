"""Token embeddings as a labelled 2-D map (PCA) and position embeddings as heatmaps.

The coordinates come from ``core.analysis.pca_2d`` and the position similarity from
``core.analysis.cosine_similarity``; this widget only draws them. Points are coloured by what
kind of character a token starts with (a display aid, not something the model was told), so
the student can see letters, digits and punctuation gather as training goes on.

Imported lazily (pyqtgraph).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

LABEL_ALL_UP_TO = 2000  # a larger vocabulary gets labels on its most frequent tokens only
MAX_LABELS = 300
DIVERGING = "CET-D1"

# (name, colour) — Okabe-Ito colours, distinguishable with colour-blindness.
CATEGORIES = [
    ("vowel", "#E69F00"),
    ("consonant", "#0072B2"),
    ("capital", "#CC79A7"),
    ("digit", "#009E73"),
    ("space / newline", "#000000"),
    ("punctuation", "#D55E00"),
    ("other", "#999999"),
]
_VISIBLE_SPACES = {"·", "↵", "→", "␍"}


def token_category(label: str) -> int:
    """Index into CATEGORIES of a token, judged by the first character of its label."""
    s = label.lstrip("·") or label  # BPE/word tokens often start with a space: judge the word
    if not s:
        return 6
    ch = s[0]
    if ch in _VISIBLE_SPACES:
        return 4
    if ch.isdigit():
        return 3
    if ch.isalpha():
        if ch.isupper():
            return 2
        return 0 if ch.lower() in "aeiou" else 1
    if not ch.isalnum() and ch.isprintable() and not ch.startswith("<"):
        return 5
    return 6


def labelled_indexes(vocab_size: int, frequency_order: Sequence[int] | None) -> list[int]:
    """Which tokens get a text label: all of a small vocabulary, else the most frequent."""
    if vocab_size <= LABEL_ALL_UP_TO:
        return list(range(vocab_size))
    order = list(frequency_order) if frequency_order is not None else list(range(vocab_size))
    return order[:MAX_LABELS]


def _heatmap(title: str, cmap: str) -> tuple[pg.PlotWidget, pg.ImageItem, object]:
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.hideButtons()
    w.setMouseEnabled(x=False, y=False)
    w.setTitle(title, size="10pt")
    vb = w.getViewBox()
    vb.invertY(True)
    vb.setDefaultPadding(0.0)
    image = pg.ImageItem(axisOrder="row-major")
    image.setColorMap(pg.colormap.get(cmap))
    w.addItem(image)
    bar = pg.ColorBarItem(colorMap=pg.colormap.get(cmap), interactive=False, width=10)
    bar.setImageItem(image, insert_in=w.getPlotItem())
    return w, image, bar


def _sentence(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #222; font-size: 10.5pt; padding: 2px;")
    return label


class EmbeddingView(QWidget):
    """Left: the vocabulary as a PCA scatter. Right: the position table and its similarity."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scatter_plot = pg.PlotWidget()
        self.scatter_plot.setMenuEnabled(False)
        self.scatter_plot.setTitle("Token embeddings, squeezed to 2-D (PCA)", size="11pt")
        self.scatter_plot.showGrid(x=True, y=True, alpha=0.15)
        self.scatter_plot.setToolTip("Each dot is one token. Tokens whose embedding vectors are "
                                     "similar sit close together. Drag to move, wheel to zoom; "
                                     "hover a dot for its token.")
        for side in ("left", "bottom"):
            self.scatter_plot.getAxis(side).enableAutoSIPrefix(False)
        self.scatters: list[pg.ScatterPlotItem] = []
        for _name, colour in CATEGORIES:
            item = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=0.5), brush=pg.mkBrush(colour),
                                      hoverable=True, hoverSize=12,
                                      tip=lambda x, y, data: f"token {data}")
            item.setZValue(5)
            self.scatter_plot.addItem(item)
            self.scatters.append(item)
        # The legend sits under the plot, not on it: it would hide the dots that stray furthest.
        self.legend = QLabel("Colour = what the token starts with: " + "  ".join(
            f'<span style="color:{colour}; font-size:13pt">●</span>&nbsp;{name}' for name, colour in CATEGORIES))
        self.legend.setWordWrap(True)
        self.legend.setToolTip("Only a colour code for you: the model never sees these groups.")
        self.text_items: list[pg.TextItem] = []
        self.scatter_sentence = _sentence()

        self.pos_plot, self.pos_image, self.pos_bar = _heatmap("Position embeddings", DIVERGING)
        self.pos_plot.setLabel("left", "position in the text")
        self.pos_plot.setLabel("bottom", "dimension")
        self.pos_sentence = _sentence()
        self.sim_plot, self.sim_image, self.sim_bar = _heatmap("How alike two positions are (cosine)",
                                                               DIVERGING)
        self.sim_plot.setLabel("left", "position")
        self.sim_plot.setLabel("bottom", "position")
        self.sim_sentence = _sentence()

        left = QWidget()
        lbox = QVBoxLayout(left)
        lbox.setContentsMargins(0, 0, 0, 0)
        lbox.addWidget(self.scatter_plot, 1)
        lbox.addWidget(self.legend)
        lbox.addWidget(self.scatter_sentence)
        right = QWidget()
        rbox = QVBoxLayout(right)
        rbox.setContentsMargins(0, 0, 0, 0)
        rbox.addWidget(self.pos_plot, 1)
        rbox.addWidget(self.pos_sentence)
        rbox.addWidget(self.sim_plot, 1)
        rbox.addWidget(self.sim_sentence)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.labels: list[str] = []
        self.coords = np.zeros((0, 2))
        self.labelled: list[int] = []

    # -- data --------------------------------------------------------------------------------
    def point_count(self) -> int:
        return sum(len(s.points()) for s in self.scatters)

    def set_tokens(self, coords: np.ndarray, explained: Sequence[float], labels: Sequence[str],
                   frequency_order: Sequence[int] | None = None, step: int | None = None) -> None:
        """Place one dot per vocabulary entry at ``coords`` (V, 2), labelled as ``labels``."""
        coords = np.asarray(coords, dtype=np.float64)
        V = len(labels)
        same_vocab = list(labels) == self.labels
        self.labels = list(labels)
        self.coords = coords
        cats = np.array([token_category(lab) for lab in self.labels]) if V else np.zeros(0, int)
        for c, item in enumerate(self.scatters):
            idx = np.flatnonzero(cats == c)
            item.setData(x=coords[idx, 0], y=coords[idx, 1],
                         data=[f"{i}: {self.labels[i]}" for i in idx])
        if not same_vocab:
            for t in self.text_items:
                self.scatter_plot.removeItem(t)
            self.text_items = []
            self.labelled = labelled_indexes(V, frequency_order)
            font = QFont()
            font.setPointSizeF(9 if V <= 200 else 8)
            for i in self.labelled:
                colour = CATEGORIES[int(cats[i])][1]
                t = pg.TextItem(self.labels[i], color=colour, anchor=(-0.15, 0.5))
                t.setFont(font)
                t.setZValue(6)
                self.scatter_plot.addItem(t)
                self.text_items.append(t)
        for t, i in zip(self.text_items, self.labelled):
            t.setPos(float(coords[i, 0]), float(coords[i, 1]))
        self.scatter_plot.getPlotItem().enableAutoRange()
        self.scatter_plot.setLabel("bottom", f"direction 1 ({100 * explained[0]:.0f}% of the variation)")
        self.scatter_plot.setLabel("left", f"direction 2 ({100 * explained[1]:.0f}% of the variation)")
        when = "At step 0 the embeddings are random: a shapeless cloud. " if step == 0 else ""
        only = "" if len(self.labelled) == V else f" Only the {len(self.labelled)} most frequent are labelled."
        self.scatter_sentence.setText(
            f"Each dot is one of the {V:,} tokens, placed by its embedding (the vector the model "
            "looks up for it), squeezed to 2-D along the two directions in which the embeddings "
            f"differ most. {when}Tokens the model treats alike end up close together: on ordinary "
            "text vowels, digits, capitals and punctuation tend to gather, and tokens with a "
            "special role stand apart." + only)

    def set_positions(self, table: np.ndarray | None, similarity: np.ndarray | None, positional: str) -> None:
        """The (T, C) position table and the (T, T) cosine similarity of its rows."""
        visible = table is not None
        for w in (self.pos_plot, self.pos_sentence, self.sim_plot, self.sim_sentence):
            w.setVisible(visible)
        if not visible:
            return
        t = np.asarray(table, dtype=np.float32)
        lim = float(np.abs(t).max()) or 1.0
        self.pos_image.setImage(t, autoLevels=False, levels=(-lim, lim))
        self.pos_bar.setLevels((-lim, lim))
        self.pos_plot.getViewBox().setRange(xRange=(0, t.shape[1]), yRange=(0, t.shape[0]), padding=0)
        s = np.asarray(similarity, dtype=np.float32)
        self.sim_image.setImage(s, autoLevels=False, levels=(-1.0, 1.0))
        self.sim_bar.setLevels((-1.0, 1.0))
        self.sim_plot.getViewBox().setRange(xRange=(0, s.shape[1]), yRange=(0, s.shape[0]), padding=0)
        if positional == "sinusoidal":
            self.pos_plot.setTitle("Position table (fixed sine and cosine waves)", size="10pt")
            self.pos_sentence.setText(
                "Each row is the vector added to the token at that position. These are not learned: "
                "sine and cosine waves, fast ones in the left columns, slow ones on the right, so "
                "every position gets its own pattern (scaled down, so they do not drown the "
                "token vectors).")
        else:
            self.pos_plot.setTitle("Position embeddings (learned)", size="10pt")
            self.pos_sentence.setText(
                "Each row is the vector the model learned to add to a token at that position. At "
                "first it is random noise; smooth stripes appear when neighbouring positions learn "
                "similar vectors.")
        self.sim_sentence.setText(
            "Red = two positions have similar vectors, blue = opposite. A bright band along the "
            "diagonal means nearby positions look alike to the model, so it can tell 'just before' "
            "from 'long ago'.")
