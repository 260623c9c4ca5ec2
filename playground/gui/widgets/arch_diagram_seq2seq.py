"""The encoder–decoder drawn from its config: two stacks side by side and the cross-attention arrows.

As in the paper's figure: the encoder on the left (its branches to the right), the decoder on the
right (its branches to the left, towards the encoder). The encoder's output, the *memory*, runs up
a line between the stacks, and an orange arrow from it enters every decoder block's cross-attention
from above: that is where the decoder reads the source. Every box explains itself on hover with the
tensor shape there, as in the GPT's diagram (``arch_diagram.ArchDiagram``, whose drawing helpers
this module uses).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from playground.core.config import ModelConfig

if TYPE_CHECKING:
    from playground.gui.widgets.arch_diagram import ArchDiagram

BOX_H = 40
ADD_R = 11
LN_W, BR_W, CENTER_W = 84, 150, 160
MEMORY = QColor("#e0862a")  # the cross-attention arrows: what the decoder reads from the encoder
STREAM = QColor("#7a8da3")
STEP = 62  # from one branch to the next inside a block
ENTRY = 7  # the orange arrow runs this far above the cross-attention box (clear of the residual line above)
ENC_X, BUS_X, DEC_X = 70.0, 380.0, 690.0  # the two residual streams and the memory line between them


def _shape(*dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ")"


class _Stack:
    """One stack's geometry: its residual stream at ``xs``, branches to the right (+1) or left (-1)."""

    def __init__(self, xs: float, side: int) -> None:
        self.xs, self.side = xs, side
        near = xs + side * 22  # the LayerNorm's edge nearest the stream
        self.ln = QRectF(near if side > 0 else near - LN_W, 0, LN_W, BOX_H)
        far_ln = self.ln.right() if side > 0 else self.ln.left()
        self.br = QRectF(far_ln + 14 if side > 0 else far_ln - 14 - BR_W, 0, BR_W, BOX_H)
        self.loop = self.br.right() + 12 if side > 0 else self.br.left() - 12
        self.frame = (min(xs - 40, self.loop - 10), max(xs + 40, self.loop + 10))


def draw_encoder_decoder(d: ArchDiagram, cfg: ModelConfig) -> int:
    """Draw ``cfg`` on ``d``'s scene; returns the number of blocks drawn (both stacks)."""
    T, C, V, H, L = cfg.context_length, cfg.d_model, cfg.vocab_size, cfg.n_head, cfg.n_layer
    D = cfg.d_head
    act = "GELU" if cfg.activation == "gelu" else "ReLU"
    src_stream = f"{_shape('batch', 'S', C)} = (batch, source tokens, d_model)"
    tgt_stream = f"{_shape('batch', 'T', C)} = (batch, target tokens, d_model)"
    enc, dec = _Stack(ENC_X, +1), _Stack(DEC_X, -1)
    d._text("Encoder: reads the whole source at once", ENC_X - 60, -26, d._bold, "#34495e")
    d._text("Decoder: writes the translation", DEC_X - 200, -26, d._bold, "#34495e")

    def inputs(st: _Stack, prefix: str, what: str, stream: str) -> float:
        half = CENTER_W / 2
        side_word = "source sentence" if prefix == "enc" else "target so far (start token first)"
        d._box((f"{prefix}_tokens", None), QRectF(st.xs - half, 0, CENTER_W, BOX_H), "io",
               f"{what} token ids", _shape("batch", "S" if prefix == "enc" else "T"),
               d._tip(f"Input: the {side_word}",
                      "The encoder reads every source token at once." if prefix == "enc" else
                      "The decoder reads the start token and the target tokens written so far; at "
                      "every position it predicts the next target token.",
                      [f"(batch, {'S' if prefix == 'enc' else 'T'}) token ids, at most {T}"]))
        y = BOX_H + 20
        d._arrow([(st.xs, BOX_H), (st.xs, y)])
        d._box((f"{prefix}_embedding", None), QRectF(st.xs - half, y, CENTER_W, BOX_H), "embed",
               "Token embedding", f"{V:,} × {C} (one table)",
               d._tip("Token embedding", f"Each token id picks its row of a learned {V:,} × {C} table. "
                      "Source and target share the tokenizer, so both stacks use the same table.",
                      [stream]))
        px = st.xs + half + 14 if st.side > 0 else st.xs - half - 14 - 110
        kind = cfg.positional
        words = {"learned": "learned", "sinusoidal": "sinusoidal", "none": "none"}
        d._box((f"{prefix}_positions", None), QRectF(px, y, 110, BOX_H), "pos", "Position",
               words.get(kind, kind),
               d._tip("Position encoding",
                      "Nothing is added: the order of the tokens is invisible." if kind == "none" else
                      "A vector per position is added to each token's vector, so attention can tell "
                      "the order. " + ("The encoder and the decoder each learn their own."
                                       if kind == "learned" else "A fixed sine pattern, shared by both."),
                      [f"{_shape(T, C)} = (positions, d_model)"]))
        add_y = y + BOX_H + 24
        d._arrow([(st.xs, y + BOX_H), (st.xs, add_y - ADD_R)])
        d._arrow([(px + 55, y + BOX_H), (px + 55, add_y), (st.xs + st.side * ADD_R, add_y)])
        d._add((f"{prefix}_input_add", None), st.xs, add_y,
               d._tip("Token + position", "The sum starts this stack's residual stream.", [stream]))
        return add_y + ADD_R + 16

    def block(st: _Stack, prefix: str, layer: int, top: float, parts: list[tuple], title: str) -> float:
        height = 30 + STEP * len(parts)
        frame = QGraphicsPathItem()
        path = QPainterPath()
        path.addRoundedRect(QRectF(st.frame[0], top, st.frame[1] - st.frame[0], height), 10, 10)
        frame.setPath(path)
        frame.setBrush(QBrush(QColor("#f8f9fb")))
        frame.setPen(QPen(QColor("#c5ccd6"), 1.0, Qt.DashLine))
        frame.setZValue(-2)
        frame.setToolTip(f"{title} {layer + 1} of {L}: the same design in every block, each with its own weights.")
        d.scene().addItem(frame)
        d._text(f"{title} {layer + 1} of {L}", st.frame[0] + 8 if st.side > 0 else st.frame[1] - 150,
                top + 4, d._small, "#34495e")
        for k, (name, box_title, sub, color, tip) in enumerate(parts):
            y_c = top + 44 + STEP * k
            add_y = y_c + 28
            ln_rect = st.ln.translated(0, y_c - BOX_H / 2)
            br_rect = st.br.translated(0, y_c - BOX_H / 2)
            near_ln = ln_rect.left() if st.side > 0 else ln_rect.right()
            far_ln = ln_rect.right() if st.side > 0 else ln_rect.left()
            near_br = br_rect.left() if st.side > 0 else br_rect.right()
            far_br = br_rect.right() if st.side > 0 else br_rect.left()
            d._arrow([(st.xs, y_c), (near_ln, y_c)])
            dot = d.scene().addEllipse(st.xs - 3.5, y_c - 3.5, 7, 7, QPen(STREAM), QBrush(STREAM))
            dot.setZValue(1)
            d._box((f"{prefix}_ln{k + 1}", layer), ln_rect, "norm", "LayerNorm", "",
                   d._tip("LayerNorm", "Rescales each position's vector to mean 0 and spread 1 (then a "
                          "learned scale) before the next part reads it.", []))
            d._arrow([(far_ln, y_c), (near_br, y_c)])
            d._box((name, layer), br_rect, color, box_title, sub, tip)
            d._arrow([(far_br, y_c), (st.loop, y_c), (st.loop, add_y), (st.xs + st.side * ADD_R, add_y)])
            d._add((f"{prefix}_residual{k + 1}", layer), st.xs, add_y,
                   d._tip("Residual add", "The part's output is added to the stream, not put in its place.", []))
        return top + height + 12

    # ---- the encoder
    y = inputs(enc, "enc", "Source", src_stream)
    enc_top = y
    y += 12
    for layer in range(L):
        y = block(enc, "enc", layer, y, [
            ("enc_attention", "Self-attention", f"no mask · {H} × {D}", "attn",
             d._tip(f"Encoder self-attention (block {layer + 1})",
                    "Every source token looks at every other one, before and after it: there is no mask, "
                    "so the first token's vector already depends on the last word.",
                    [src_stream, f"weights {_shape('batch', H, 'S', 'S')}: full squares"])),
            ("enc_mlp", "MLP", f"{C} → {4 * C} → {C}, {act}", "mlp",
             d._tip(f"Encoder MLP (block {layer + 1})", "A small network works on every position on its own.",
                    [src_stream])),
        ], "Encoder block")
    d._arrow([(ENC_X, enc_top - 12), (ENC_X, y)], STREAM, 3.0, head=False)  # the residual stream
    d._arrow([(ENC_X, y - 2), (ENC_X, y + 10)], STREAM, 3.0)
    memory_y = y + 10
    d._box(("memory", None), QRectF(ENC_X - CENTER_W / 2, memory_y, CENTER_W, BOX_H), "norm",
           "Final LayerNorm", "→ the memory",
           d._tip("The memory (encoder output)",
                  "The encoder's last LayerNorm: one vector per source token. It is computed once per "
                  "sentence; every decoder block reads it through cross-attention (the orange arrows).",
                  [src_stream]))

    # ---- the decoder
    y = inputs(dec, "dec", "Target", tgt_stream)
    dec_top = y
    y += 12
    cross_entries: list[tuple[float, float]] = []  # where each orange arrow enters a cross-attention box
    for layer in range(L):
        y = block(dec, "dec", layer, y, [
            ("dec_attention", "Masked self-attention", f"{H} × {D}", "attn",
             d._tip(f"Decoder self-attention (block {layer + 1})",
                    "Each target position looks at itself and the target tokens before it: the causal "
                    "mask hides the future, as in a GPT.",
                    [tgt_stream, f"weights {_shape('batch', H, 'T', 'T')}: lower triangles"])),
            ("cross_attention", "Cross-attention", f"to the source · {H} × {D}", "attn",
             d._tip(f"Cross-attention (block {layer + 1})",
                    "Queries come from the decoder, keys and values from the encoder's memory: each "
                    "target position chooses which source tokens to read. Its weights show which source "
                    "word a translated word comes from.",
                    [f"queries {_shape('batch', H, 'T', D)}, keys and values {_shape('batch', H, 'S', D)}",
                     f"weights {_shape('batch', H, 'T', 'S')}: target tokens × source tokens"])),
            ("dec_mlp", "MLP", f"{C} → {4 * C} → {C}, {act}", "mlp",
             d._tip(f"Decoder MLP (block {layer + 1})", "A small network works on every position on its own.",
                    [tgt_stream])),
        ], "Decoder block")
        box = d.box("cross_attention", layer).path().boundingRect()
        cross_entries.append((box.center().x(), box.top()))
    d._arrow([(DEC_X, dec_top - 12), (DEC_X, y)], STREAM, 3.0, head=False)
    d._arrow([(DEC_X, y - 2), (DEC_X, y + 10)], STREAM, 3.0)
    y += 10
    half = CENTER_W / 2
    d._box(("ln_f", None), QRectF(DEC_X - half, y, CENTER_W, BOX_H), "norm", "Final LayerNorm", "",
           d._tip("Final LayerNorm", "Tidies the decoder's stream after its last block.", [tgt_stream]))
    y += BOX_H
    d._arrow([(DEC_X, y), (DEC_X, y + 20)])
    y += 20
    d._box(("unembedding", None), QRectF(DEC_X - half, y, CENTER_W, BOX_H), "head", "Unembedding",
           f"{C} → {V:,} scores" + (" (tied)" if cfg.tie_weights else ""),
           d._tip("Unembedding (logits)", f"One score for each of the {V:,} tokens: which target token comes next.",
                  [f"{_shape('batch', 'T', V)} = (batch, T, vocab)"]))
    y += BOX_H
    d._arrow([(DEC_X, y), (DEC_X, y + 20)])
    y += 20
    d._box(("softmax", None), QRectF(DEC_X - half, y, CENTER_W, BOX_H), "softmax", "Softmax",
           "→ next target token",
           d._tip("Softmax", "Scores become probabilities; translating takes the likeliest token, then "
                  "feeds it back in, until the end token.", [f"{_shape('batch', 'T', V)}, each row sums to 1"]))

    # ---- the memory line and the cross-attention arrows
    memory_out = (ENC_X + CENTER_W / 2, memory_y + BOX_H / 2)
    ys = [yy - ENTRY for _x, yy in cross_entries] + [memory_out[1]]
    d._arrow([memory_out, (BUS_X, memory_out[1])], MEMORY, 2.4, head=False)
    d._arrow([(BUS_X, min(ys)), (BUS_X, max(ys))], MEMORY, 2.4, head=False)  # reaches every block
    d.cross_arrows = 0
    for x, y_top in cross_entries:
        d._arrow([(BUS_X, y_top - ENTRY), (x, y_top - ENTRY), (x, y_top)], MEMORY, 2.0)
        d.cross_arrows += 1
    label = d._text("memory → keys and values", memory_out[0] + 6, memory_out[1] + 4, d._small, "#a85a12")
    label.setToolTip("The encoder's output goes to every decoder block's cross-attention.")
    return 2 * L
