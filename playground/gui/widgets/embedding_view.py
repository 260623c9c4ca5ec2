"""Token embeddings as a labelled 2-D map (PCA) and position embeddings as heatmaps.

The coordinates come from ``core.analysis.pca_2d`` and the position similarity from
``core.analysis.cosine_similarity``; this widget only draws them. The map keeps a small share of
the variation, so beside it sits the faithful view: a token's nearest tokens by cosine
similarity over every dimension (``core.embedding_neighbours``), and a similarity matrix of the
tokens picked. ``set_source(run_path, step)`` loads the full matrix in a worker (the shared
model cache); a bigram's run also gets its whole next-token table beside the counted one. Points are coloured by what
kind of character a token starts with (a display aid, not something the model was told), so
the student can see letters, digits and punctuation gather as training goes on.

Imported lazily (pyqtgraph).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from playground.core import embedding_neighbours as nb
from playground.gui import workers
from playground.gui.ui import MessageLabel
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

LABEL_ALL_UP_TO = 2000  # a larger vocabulary gets labels on its most frequent tokens only
MAX_LABELS = 300
DIVERGING = "CET-D1"
MAX_COMPARED = 8  # tokens in the similarity matrix: their labels and numbers stay readable

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
    """Left: the vocabulary as a PCA scatter. Middle: a token's nearest tokens (all dimensions)
    and the similarity of the tokens picked. Right: the position table and its similarity, or a
    bigram's next-token table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scatter_plot = pg.PlotWidget()
        self.scatter_plot.setMenuEnabled(False)
        self.scatter_plot.setTitle("Token embeddings, squeezed to 2-D (PCA)", size="11pt")
        self.scatter_plot.showGrid(x=True, y=True, alpha=0.15)
        self.scatter_plot.setToolTip("Each dot is one token. Tokens whose embedding vectors are "
                                     "similar sit close together. Drag to move, wheel to zoom; "
                                     "hover a dot for its token, click it for its nearest tokens.")
        for side in ("left", "bottom"):
            self.scatter_plot.getAxis(side).enableAutoSIPrefix(False)
        self.scatters: list[pg.ScatterPlotItem] = []
        for _name, colour in CATEGORIES:
            item = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=0.5), brush=pg.mkBrush(colour),
                                      hoverable=True, hoverSize=12,
                                      tip=lambda x, y, data: f"token {data}: {self.labels[data]}")
            item.setZValue(5)
            item.sigClicked.connect(self._dot_clicked)
            self.scatter_plot.addItem(item)
            self.scatters.append(item)
        # The legend sits under the plot, not on it: it would hide the dots that stray furthest.
        self.legend = QLabel("Colour = what the token starts with: " + "  ".join(
            f'<span style="color:{colour}; font-size:13pt">●</span>&nbsp;{name}' for name, colour in CATEGORIES))
        self.legend.setWordWrap(True)
        self.legend.setToolTip("Only a colour code for you: the model never sees these groups.")
        self.text_items: list[pg.TextItem] = []
        self.scatter_sentence = _sentence()
        self.keeps_label = _sentence()

        self._build_neighbours()
        from playground.gui.widgets.bigram_table import BigramTableView

        self.bigram_view = BigramTableView()
        self.bigram_view.hide()

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
        lbox.addWidget(self.keeps_label)
        lbox.addWidget(self.scatter_sentence)
        right = QWidget()
        rbox = QVBoxLayout(right)
        rbox.setContentsMargins(0, 0, 0, 0)
        rbox.addWidget(self.pos_plot, 1)
        rbox.addWidget(self.pos_sentence)
        rbox.addWidget(self.sim_plot, 1)
        rbox.addWidget(self.sim_sentence)
        rbox.addWidget(self.bigram_view, 2)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.neighbour_panel)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 2)
        # Plots with a label per token ask for their full width; the window must not grow past the
        # screen for them (a bigram's two tables beside the map and the list reached 1,740 px).
        for pane in (left, self.neighbour_panel, right):
            pane.setMinimumWidth(220)
            pane.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self.labels: list[str] = []
        self.coords = np.zeros((0, 2))
        self.labelled: list[int] = []
        self.source: tuple[str, int | None] | None = None  # (run path, step) of ``table``
        self.table: nb.EmbeddingTable | None = None
        self.selected: int | None = None  # the token whose neighbours are listed
        self.compared: list[int] = []  # tokens in the similarity matrix, oldest first
        self.neighbours: list[tuple[int, float]] = []
        self._handle = None

    def _build_neighbours(self) -> None:
        panel = QWidget()
        box = QVBoxLayout(panel)
        box.setContentsMargins(4, 0, 4, 0)
        title = QLabel("<b>Nearest tokens</b> (the faithful view)")
        title.setToolTip("Cosine similarity of the full embedding vectors: 1 = pointing the same way, "
                         "0 = unrelated, -1 = opposite. The 2-D map cannot show this faithfully.")
        box.addWidget(title)
        row = QHBoxLayout()
        row.addWidget(QLabel("Token:"))
        self.token_combo = QComboBox()
        self.token_combo.setEditable(True)
        self.token_combo.setInsertPolicy(QComboBox.NoInsert)
        self.token_combo.setToolTip("Type or pick a token (or click a dot on the map) to list the "
                                    "tokens whose embeddings are most alike.")
        self.token_combo.activated.connect(self._token_picked)
        row.addWidget(self.token_combo, 1)
        self.clear_button = QPushButton("Clear matrix")
        self.clear_button.setToolTip("Empty the similarity matrix below.")
        self.clear_button.clicked.connect(self._clear_compared)
        row.addWidget(self.clear_button)
        box.addLayout(row)
        self.neighbour_table = QTableWidget(0, 3)
        self.neighbour_table.setHorizontalHeaderLabels(["#", "token", "cosine"])
        self.neighbour_table.verticalHeader().hide()
        self.neighbour_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.neighbour_table.setSelectionMode(QAbstractItemView.NoSelection)
        self.neighbour_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        box.addWidget(self.neighbour_table, 3)
        self.match_plot, self.match_image, self.match_bar = _heatmap("How alike the tokens picked are (cosine)",
                                                                     DIVERGING)
        self.match_bar.setLevels((-1.0, 1.0))
        self.match_numbers: list[pg.TextItem] = []
        box.addWidget(self.match_plot, 3)
        self.neighbour_message = MessageLabel()
        box.addWidget(self.neighbour_message)
        self.neighbour_panel = panel

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
            item.setData(x=coords[idx, 0], y=coords[idx, 1], data=[int(i) for i in idx])
        if not same_vocab:
            self._vocab_changed()
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
        keeps = nb.map_keeps(explained)
        self.keeps_label.setText(
            f"<b>This map keeps {100 * keeps:.0f}% of the variation</b> ({100 * explained[0]:.0f}% + "
            f"{100 * explained[1]:.0f}% along its two directions); the rest is flattened away, so two "
            "dots can sit together and still differ. The nearest-token list beside it uses every "
            "dimension: trust it over the map.")
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

    # -- nearest tokens ----------------------------------------------------------------------
    def set_source(self, run_path: str | os.PathLike, step: int | None) -> None:
        """Load this checkpoint's full embedding matrix (and a bigram's tables) in a worker."""
        key = (str(run_path), step)
        if key == self.source:
            return
        self.source = key
        if self._handle is not None and self._handle.running:
            self._handle.cancel()  # its answer is dropped: it is for another key

        def job(progress, cancel):
            return key, nb.load(*key)

        self._handle = workers.start(job, parent=self, on_done=self._table_loaded,
                                     on_error=self._table_failed, name="embedding-neighbours")

    def _table_loaded(self, result) -> None:
        key, table = result
        if key == self.source:
            self.set_table(table)

    def _table_failed(self, exc: BaseException) -> None:
        self.neighbour_message.show_error(exc)

    def set_table(self, table: nb.EmbeddingTable) -> None:
        """The (V, C) matrix the neighbours are computed from (a bigram: its tables too)."""
        self.table = table
        self.neighbour_message.clear_message()
        bigram = table.bigram is not None
        self.bigram_view.setVisible(bigram)
        if bigram and len(self.labels) == len(table.matrix):
            self.bigram_view.set_tables(table.bigram, self.labels)
        if self.selected is None or self.selected >= len(table.matrix):
            letters = [i for i, label in enumerate(self.labels) if label[:1].isalpha()]
            self.selected = letters[0] if letters else 0
        self.compared = [i for i in self.compared if i < len(table.matrix)]
        self.select_token(self.selected)

    def select_token(self, token: int) -> None:
        """List ``token``'s nearest tokens and add it to the similarity matrix."""
        if self.table is None or not 0 <= token < len(self.table.matrix):
            return
        self.selected = token
        if token < self.token_combo.count() and self.token_combo.currentIndex() != token:
            self.token_combo.setCurrentIndex(token)
        if token in self.compared:
            self.compared.remove(token)
        self.compared = (self.compared + [token])[-MAX_COMPARED:]
        self.neighbours = nb.nearest(self.table.matrix, token)
        self._show_neighbours()
        self._show_matrix()

    def _label(self, token: int) -> str:
        return self.labels[token] if token < len(self.labels) else str(token)

    def _show_neighbours(self) -> None:
        t = self.neighbour_table
        t.setRowCount(len(self.neighbours))
        for r, (i, cos) in enumerate(self.neighbours):
            for c, text in enumerate((str(r + 1), self._label(i), f"{cos:+.3f}")):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                t.setItem(r, c, item)

    def _show_matrix(self) -> None:
        for item in self.match_numbers:
            self.match_plot.removeItem(item)
        self.match_numbers = []
        chosen = self.compared
        sim = nb.similarity_matrix(self.table.matrix, chosen) if chosen else np.zeros((0, 0))  # (n, n)
        self.match_data = sim
        self.match_image.setImage(sim.astype(np.float32), autoLevels=False, levels=(-1.0, 1.0))
        ticks = [[(k + 0.5, self._label(i)) for k, i in enumerate(chosen)]]
        for side in ("left", "bottom"):
            self.match_plot.getAxis(side).setTicks(ticks)
        for r in range(len(chosen)):
            for c in range(len(chosen)):
                text = pg.TextItem(f"{sim[r, c]:.2f}", color="#000", anchor=(0.5, 0.5))
                text.setPos(c + 0.5, r + 0.5)
                self.match_plot.addItem(text)
                self.match_numbers.append(text)
        n = max(1, len(chosen))
        self.match_plot.getViewBox().setRange(xRange=(0, n), yRange=(0, n), padding=0)

    def _vocab_changed(self) -> None:
        self.token_combo.blockSignals(True)
        self.token_combo.clear()
        self.token_combo.addItems(self.labels)
        self.token_combo.blockSignals(False)
        self.selected = None
        self.compared = []

    @Slot(int)
    def _token_picked(self, index: int) -> None:
        self.select_token(index)

    @Slot()
    def _clear_compared(self) -> None:
        self.compared = [] if self.selected is None else [self.selected]
        if self.table is not None:
            self._show_matrix()

    @Slot(object, object, object)
    def _dot_clicked(self, _item, points, _event) -> None:
        if len(points):
            self.select_token(int(points[0].data()))
