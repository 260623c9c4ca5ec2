"""The model drawn from its config: boxes and arrows in a QGraphicsScene, one block per layer.

The residual stream runs down the left as a thick line. Every block sends two branches out to
the right (LayerNorm → attention, LayerNorm → MLP) whose outputs come back and are *added* to
the stream (⊕) — the picture of "each block only adds a correction". Hovering a box explains
the concept in two plain sentences and gives the tensor shape there for the current config.

No torch here: the diagram only reads the config's fields, so it can draw before torch loads.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from playground.core.config import ModelConfig

# Pastel fills per kind of part; the label inside each box says what it is (never colour alone).
COLORS = {
    "io": "#eeeeee",
    "embed": "#d6e6f7",
    "pos": "#e6dcf3",
    "norm": "#f1f1f1",
    "attn": "#fde3c0",
    "mlp": "#d9eecf",
    "add": "#ffffff",
    "head": "#d6e6f7",
    "softmax": "#fbf0b5",
}
HOVER = "#fff59d"
LINE = QColor("#555555")
STREAM = QColor("#7a8da3")

X_S = 125  # x of the residual stream
CENTER_W = 210  # width of the boxes sitting on the stream
BOX_H = 40
LN_X, LN_W = X_S + 40, 92
BR_X = LN_X + LN_W + 24  # the attention / MLP box
BR_W = 200
LOOP_X = BR_X + BR_W + 16  # where a branch turns back to the stream
FRAME_L, FRAME_R = 12, LOOP_X + 16
ADD_R = 11


def shape(*dims: Any) -> str:
    """``shape("batch", 64, 128)`` → ``(batch, 64, 128)``."""
    return "(" + ", ".join(str(d) for d in dims) + ")"


class _Box(QGraphicsPathItem):
    """A rounded box (or a ⊕ circle) that lights up under the mouse; its tooltip explains it."""

    def __init__(self, rect: QRectF, color: str, radius: float = 7) -> None:
        super().__init__()
        path = QPainterPath()
        path.addRoundedRect(rect, radius, radius)
        self.setPath(path)
        self._brush = QBrush(QColor(color))
        self.setBrush(self._brush)
        self.setPen(QPen(QColor("#666666"), 1.2))
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.WhatsThisCursor)

    def hoverEnterEvent(self, event) -> None:  # noqa: N802
        self.setBrush(QBrush(QColor(HOVER)))
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802
        self.setBrush(self._brush)
        super().hoverLeaveEvent(event)


class ArchDiagram(QGraphicsView):
    """``set_config(cfg)`` redraws; ``layer_blocks()`` and ``box_tooltip()`` are for tests."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing)
        self.setRenderHint(QPainter.TextAntialiasing)
        self.setAlignment(Qt.AlignHCenter | Qt.AlignTop)
        self.setBackgroundBrush(QBrush(QColor("#ffffff")))
        self.setToolTip("")
        self.cfg: ModelConfig | None = None
        self._boxes: dict[tuple[str, int | None], _Box] = {}
        self._blocks = 0
        self.cross_arrows = 0
        self._font = QFont(self.font())
        self._bold = QFont(self._font)
        self._bold.setBold(True)
        self._small = QFont(self._font)
        self._small.setPointSizeF(max(6.5, self._font.pointSizeF() * 0.85))
        self.set_config(None)

    # ------------------------------------------------------------------ public
    def layer_blocks(self) -> int:
        """How many transformer blocks are drawn (0 for a bigram model; both stacks' for an
        encoder–decoder, whose ``cross_arrows`` counts the memory's arrows into cross-attention)."""
        return self._blocks

    def box_names(self) -> list[tuple[str, int | None]]:
        return list(self._boxes)

    def box(self, name: str, layer: int | None = None) -> QGraphicsItem:
        """The box item; ``layer`` (0-based) for the parts of a block (ln1, attention, ...)."""
        return self._boxes[(name, layer)]

    def box_tooltip(self, name: str, layer: int | None = None) -> str:
        return self.box(name, layer).toolTip()

    def set_config(self, cfg: ModelConfig | None, message: str | None = None) -> None:
        """Redraw for ``cfg`` (a ModelConfig); None shows ``message`` instead."""
        self.cfg = cfg
        scene = self.scene()
        scene.clear()
        self._boxes.clear()
        self._blocks = 0
        self.cross_arrows = 0
        if cfg is None:
            text = scene.addSimpleText(message or "Pick a tokenizer first: the diagram needs the "
                                                  "vocabulary size.", self._font)
            text.setBrush(QColor("#555555"))
        elif cfg.arch == "bigram":
            self._draw_bigram(cfg)
        elif cfg.is_encoder_decoder:
            from playground.gui.widgets.arch_diagram_seq2seq import draw_encoder_decoder

            self._blocks = draw_encoder_decoder(self, cfg)
        else:
            self._draw_gpt(cfg)
        rect = scene.itemsBoundingRect().adjusted(-8, -8, 8, 8)
        scene.setSceneRect(rect)
        self._fit_width()

    def _fit_width(self) -> None:
        """Shrink (never enlarge) so the diagram's width fits: scroll up and down only."""
        width = self.sceneRect().width()
        avail = self.viewport().width() - 2
        scale = min(1.0, avail / width) if width > 0 and avail > 50 else 1.0
        self.setTransform(QTransform.fromScale(scale, scale))

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_width()

    # ------------------------------------------------------------------ drawing helpers
    def _text(self, text: str, x: float, y: float, font: QFont | None = None,
              color: str = "#222222", center: bool = False) -> QGraphicsSimpleTextItem:
        item = self.scene().addSimpleText(text, font or self._font)
        item.setBrush(QColor(color))
        if center:
            x -= item.boundingRect().width() / 2
        item.setPos(x, y)
        return item

    def _box(self, key: tuple[str, int | None], rect: QRectF, color: str, title: str,
             sub: str = "", tip: str = "") -> _Box:
        box = _Box(rect, COLORS[color])
        self.scene().addItem(box)
        lines = [(title, self._bold, "#111111")] + ([(sub, self._small, "#444444")] if sub else [])
        heights = []
        items = []
        for text, font, color_ in lines:
            item = QGraphicsSimpleTextItem(text, box)
            item.setFont(font)
            item.setBrush(QColor(color_))
            items.append(item)
            heights.append(item.boundingRect().height())
        y = rect.center().y() - sum(heights) / 2
        for item, h in zip(items, heights):
            item.setPos(rect.center().x() - item.boundingRect().width() / 2, y)
            y += h
        box.setToolTip(tip)
        self._boxes[key] = box
        return box

    def _add(self, key: tuple[str, int | None], x: float, y: float, tip: str) -> _Box:
        """A ⊕ on the stream: where a branch's output is added back."""
        rect = QRectF(x - ADD_R, y - ADD_R, 2 * ADD_R, 2 * ADD_R)
        box = _Box(rect, COLORS["add"], radius=ADD_R)
        box.setPen(QPen(LINE, 1.4))
        self.scene().addItem(box)
        pen = QPen(LINE, 1.6)
        for line in ((x - 6, y, x + 6, y), (x, y - 6, x, y + 6)):
            seg = self.scene().addLine(*line, pen)
            seg.setParentItem(box)
        box.setToolTip(tip)
        self._boxes[key] = box
        return box

    def _arrow(self, points: list[tuple[float, float]], color: QColor = LINE, width: float = 1.4,
               head: bool = True) -> None:
        path = QPainterPath(QPointF(*points[0]))
        for p in points[1:]:
            path.lineTo(QPointF(*p))
        item = QGraphicsPathItem(path)
        item.setPen(QPen(color, width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin))
        item.setZValue(-1)
        self.scene().addItem(item)
        if head and len(points) >= 2:
            (x0, y0), (x1, y1) = points[-2], points[-1]
            dx, dy = x1 - x0, y1 - y0
            length = max((dx * dx + dy * dy) ** 0.5, 1e-6)
            ux, uy = dx / length, dy / length
            size = 7
            tip = QPointF(x1, y1)
            left = QPointF(x1 - ux * size - uy * size * 0.5, y1 - uy * size + ux * size * 0.5)
            right = QPointF(x1 - ux * size + uy * size * 0.5, y1 - uy * size - ux * size * 0.5)
            poly = self.scene().addPolygon(QPolygonF([tip, left, right]), QPen(color), QBrush(color))
            poly.setZValue(-1)

    def _stream(self, y0: float, y1: float) -> None:
        self._arrow([(X_S, y0), (X_S, y1)], STREAM, 3.0, head=False)

    # ------------------------------------------------------------------ texts
    def _names(self, cfg: ModelConfig) -> dict[str, Any]:
        return {"T": cfg.context_length, "C": cfg.d_model, "V": cfg.vocab_size,
                "H": cfg.n_head, "D": cfg.d_head, "L": cfg.n_layer}

    @staticmethod
    def _tip(title: str, sentences: str, shape_lines: list[str]) -> str:
        shapes = "<br>".join(shape_lines)
        return f"<b>{title}</b><br>{sentences}<br><br><b>Shape</b>: {shapes}"

    def _stream_shape(self, cfg: ModelConfig) -> str:
        return (f"{shape('batch', cfg.context_length, cfg.d_model)} = "
                f"(batch, T, d_model)")

    def _input(self, T: int, predicts: str, ids_shape: str, key: str, title: str, sub: str,
               tip: str) -> float:
        """Token ids, an arrow, then the box that turns each id into numbers (both models start
        so); returns the y just below that box."""
        half = CENTER_W / 2
        self._box(("tokens", None), QRectF(X_S - half, 0.0, CENTER_W, BOX_H), "io",
                  "Token ids", shape("batch", T),
                  self._tip("Input: token ids",
                            f"The model reads a batch of sequences, each T = {T} token ids long. "
                            f"At every position it {predicts} the token that comes next.",
                            [ids_shape]))
        y = BOX_H + 22
        self._arrow([(X_S, BOX_H), (X_S, y)])
        self._box((key, None), QRectF(X_S - half, y, CENTER_W, BOX_H), "embed", title, sub, tip)
        return y + BOX_H

    # ------------------------------------------------------------------ GPT
    def _draw_gpt(self, cfg: ModelConfig) -> None:
        n = self._names(cfg)
        T, C, V, H, D, L = n["T"], n["C"], n["V"], n["H"], n["D"], n["L"]
        stream = self._stream_shape(cfg)
        half = CENTER_W / 2

        # --- input: tokens, embedding + position
        y = self._input(T, "will predict",
                        f"{shape('batch', T)} = (batch, T) whole numbers from 0 to {V - 1}",
                        "embedding", "Token embedding", f"{V:,} × {C} table",
                        self._tip("Token embedding",
                                  f"Each token id picks its own row of a learned table with {V:,} "
                                  f"rows, so the id becomes a vector of d_model = {C} numbers. "
                                  "Tokens used in similar ways end up with similar vectors during "
                                  "training.",
                                  [f"{shape('batch', T)} → {stream}"]))
        pos_x = X_S + half + 20
        kind = cfg.positional
        if kind == "none":
            pos_tip = ("No position vector is added: attention sees the tokens before as a bag, not a "
                       "sequence. Order only leaks in through the causal mask (a token sees fewer "
                       "tokens early in the text).")
        else:
            pos_tip = (
                "Attention by itself cannot tell in which order the tokens came, so a vector for the "
                f"position (0 to {T - 1}) is added to each token's vector. "
                + ("These position vectors are learned during training, one per position."
                   if kind == "learned" else
                   "Here they are a fixed pattern of sine and cosine waves: nothing to learn.")
            )
        words = {"learned": "learned", "sinusoidal": "sinusoidal (fixed)", "none": "none (order-blind)"}
        shapes = (["nothing is added"] if kind == "none" else
                  [f"{shape(T, C)} = (T, d_model), the same for every sequence in the batch"])
        # the position box sits beside the embedding, its bottom at the same y
        self._box(("positions", None), QRectF(pos_x, y - BOX_H, 150, BOX_H), "pos",
                  "Position", words.get(kind, kind), self._tip("Position encoding", pos_tip, shapes))
        add_y = y + 26
        self._arrow([(X_S, y), (X_S, add_y - ADD_R)])
        self._arrow([(pos_x + 75, y), (pos_x + 75, add_y), (X_S + ADD_R, add_y)])
        self._add(("input_add", None), X_S, add_y,
                  self._tip("Token + position",
                            "The token vector and the position vector are added number by "
                            "number. The sum starts the residual stream that flows through "
                            "every block.",
                            [stream]))
        y = add_y + ADD_R
        stream_top = y
        label = self._text(f"residual stream {shape('batch', T, C)}", X_S + 18, y + 4,
                           self._small, "#4a5a6c")
        label.setToolTip("The residual stream: one vector of d_model numbers per position, "
                         "passed down through the blocks. Each block reads it and adds to it.")
        y += 28

        # --- the blocks
        act = "GELU" if cfg.activation == "gelu" else "ReLU"
        ln_tip = ("Layer normalisation rescales each position's vector to an average of 0 and a "
                  "spread of 1, then applies a learned scale" + (" and shift" if cfg.bias else "")
                  + ". It keeps the numbers in a steady range before the next part works on them.")
        for layer in range(L):
            top = y
            frame = QGraphicsPathItem()
            path = QPainterPath()
            height = 150
            path.addRoundedRect(QRectF(FRAME_L, top, FRAME_R - FRAME_L, height), 10, 10)
            frame.setPath(path)
            frame.setBrush(QBrush(QColor("#f8f9fb")))
            frame.setPen(QPen(QColor("#c5ccd6"), 1.0, Qt.DashLine))
            frame.setZValue(-2)
            frame.setToolTip(f"Block {layer + 1} of {L}: the same design in every block, each "
                             "with its own weights.")
            self.scene().addItem(frame)
            self._text(f"Block {layer + 1} of {L}", FRAME_L + 10, top + 6, self._bold, "#34495e")
            for which, (y_c, name, title, sub, color, tip) in enumerate((
                (top + 44, "attention", "Multi-head attention",
                 f"{H} head{'s' if H != 1 else ''} × {D} numbers", "attn",
                 self._tip(f"Multi-head attention (block {layer + 1})",
                           "Each position compares its query with the keys of itself and every "
                           "earlier position, turns the scores into weights with softmax, and "
                           "takes the weighted mix of their values. "
                           f"{H} head{'s do' if H != 1 else ' does'} this side by side, each on its "
                           f"own slice of {D} numbers, so they can look for different things.",
                           [f"{stream} in and out",
                            f"queries, keys, values: {shape('batch', H, T, D)} = "
                            "(batch, heads, T, d_model / heads)",
                            f"attention weights: {shape('batch', H, T, T)} = "
                            "(batch, heads, T, T)"])),
                (top + 106, "mlp", "MLP", f"{C} → {4 * C} → {C}, {act}", "mlp",
                 self._tip(f"MLP (block {layer + 1})",
                           f"A small two-layer network works on every position on its own: it "
                           f"widens the vector to 4 × d_model = {4 * C} numbers, applies {act}, "
                           "and narrows it back. Attention moves information between positions; "
                           "the MLP processes what each position has gathered.",
                           [f"{stream} → {shape('batch', T, 4 * C)} → {shape('batch', T, C)}"])),
            )):
                ln = "ln1" if which == 0 else "ln2"
                add = "residual1" if which == 0 else "residual2"
                add_y = y_c + 28
                self._arrow([(X_S, y_c), (LN_X, y_c)])
                dot = self.scene().addEllipse(X_S - 3.5, y_c - 3.5, 7, 7, QPen(STREAM), QBrush(STREAM))
                dot.setZValue(1)
                self._box((ln, layer), QRectF(LN_X, y_c - BOX_H / 2, LN_W, BOX_H), "norm",
                          "LayerNorm", "",
                          self._tip(f"LayerNorm (block {layer + 1}, before the "
                                    f"{'attention' if which == 0 else 'MLP'})", ln_tip, [stream]))
                self._arrow([(LN_X + LN_W, y_c), (BR_X, y_c)])
                self._box((name, layer), QRectF(BR_X, y_c - BOX_H / 2, BR_W, BOX_H), color,
                          title, sub, tip)
                self._arrow([(BR_X + BR_W, y_c), (LOOP_X, y_c), (LOOP_X, add_y), (X_S + ADD_R, add_y)])
                self._add((add, layer), X_S, add_y,
                          self._tip(f"Residual add (block {layer + 1})",
                                    f"The {'attention' if which == 0 else 'MLP'}'s output is added "
                                    "to the stream instead of replacing it. This shortcut lets "
                                    "information and gradients flow straight through the whole "
                                    "model, so each block only has to learn a correction.",
                                    [stream]))
            self._blocks += 1
            y = top + height + 12

        # --- the head: final norm, unembedding, softmax
        self._stream(stream_top, y)
        self._arrow([(X_S, y - 2), (X_S, y + 10)], STREAM, 3.0)
        y += 10
        self._box(("ln_f", None), QRectF(X_S - half, y, CENTER_W, BOX_H), "norm",
                  "Final LayerNorm", "",
                  self._tip("Final LayerNorm",
                            "A last layer normalisation tidies the residual stream after the "
                            "final block. What comes out is the model's summary, at each "
                            "position, of everything it read so far.",
                            [stream]))
        y += BOX_H
        self._arrow([(X_S, y), (X_S, y + 22)])
        y += 22
        tied = cfg.tie_weights
        self._box(("unembedding", None), QRectF(X_S - half, y, CENTER_W, BOX_H), "head",
                  "Unembedding", f"{C} → {V:,} scores" + (" (tied)" if tied else ""),
                  self._tip("Unembedding (logits)",
                            f"A linear layer turns each position's vector into one score (a logit) "
                            f"for every one of the {V:,} tokens in the vocabulary. "
                            + ("It reuses the token embedding table backwards (tied weights), so "
                               "it adds no parameters."
                               if tied else
                               f"It has its own {V:,} × {C} weight matrix."),
                            [f"{stream} → {shape('batch', T, V)} = (batch, T, vocab)"]))
        y += BOX_H
        self._arrow([(X_S, y), (X_S, y + 22)])
        y += 22
        self._softmax(cfg, y)

    def _softmax(self, cfg: ModelConfig, y: float) -> None:
        T, V = cfg.context_length, cfg.vocab_size
        half = CENTER_W / 2
        self._box(("softmax", None), QRectF(X_S - half, y, CENTER_W, BOX_H), "softmax",
                  "Softmax", "scores → probabilities",
                  self._tip("Softmax",
                            f"Softmax turns the {V:,} scores at each position into probabilities "
                            "that add up to 1. Training lowers minus the log-probability of the "
                            "real next token (the loss); generating samples the next token from "
                            "them.",
                            [f"{shape('batch', T, V)} = (batch, T, vocab), each row sums to 1"]))
        y += BOX_H
        self._arrow([(X_S, y), (X_S, y + 20)])
        self._text(f"next-token probabilities {shape('batch', T, V)}", X_S, y + 24,
                   self._small, "#333333", center=True)

    # ------------------------------------------------------------------ bigram
    def _draw_bigram(self, cfg: ModelConfig) -> None:
        T, V = cfg.context_length, cfg.vocab_size
        y = self._input(T, "predicts", f"{shape('batch', T)} = (batch, T)",
                        "table", "Lookup table", f"{V:,} × {V:,} scores",
                        self._tip("Bigram lookup table",
                                  f"A bigram model is one table of {V:,} × {V:,} learned numbers: "
                                  "the row of the current token holds the scores for the next one. "
                                  "It sees only one token, so it cannot use any context.",
                                  [f"{shape('batch', T)} → {shape('batch', T, V)} = "
                                   "(batch, T, vocab)"]))
        self._arrow([(X_S, y), (X_S, y + 22)])
        self._softmax(cfg, y + 22)
