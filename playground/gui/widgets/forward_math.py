"""The rest of the forward pass for one token, step by step, with the model's real numbers.

Step 0 (token id → embedding row + position) goes above the attention steps 1-8 of
``attention_math``; steps 9-17 (residual add, LayerNorm, MLP and its activation, the second
residual add, final LayerNorm, unembedding, softmax, the token's loss) go below them, in the
same scroll area. Every number comes from ``core.forward_steps``; each step is a titled group
with a chart and one plain sentence. The curves and bars drawn are kept as attributes
(``residual_curves``, ``logit_bars`` …) so tests can read back exactly what is on screen.

Imported lazily (pyqtgraph).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from playground.core.forward_steps import GELU_OFF_BELOW, ForwardSteps
from playground.gui.widgets.attention_math import BAR, BAR_FUTURE, BAR_PICK, _key_ticks, _plot, _Step
from playground.gui.widgets.plots import pyqtgraph

pg = pyqtgraph()

BEFORE = "#8a8a8a"  # the stream going in
ADDED = BAR_PICK  # what a branch adds
AFTER = BAR  # the stream coming out


def _norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(v))


def _lines(chart, curves: dict, series: Sequence[tuple[str, np.ndarray, str]], x_label: str) -> None:
    """Several vectors as lines over their dimensions, on one chart and one scale."""
    chart.clear()
    curves.clear()
    for name, values, colour in series:
        curves[name] = chart.plot.plot(np.arange(len(values)), np.asarray(values, dtype=np.float64),
                                       pen=pg.mkPen(colour, width=2), name=name)
    chart.setLabel("bottom", x_label)
    chart.plot.enableAutoRange()


def _top_bars(chart, values: np.ndarray, labels: Sequence[str], colours: Sequence[str]) -> pg.BarGraphItem:
    chart.clear()
    bars = pg.BarGraphItem(x=np.arange(len(values)), height=np.asarray(values, dtype=np.float64), width=0.7,
                           brushes=[pg.mkBrush(c) for c in colours], pen=None)
    chart.addItem(bars)
    chart.getAxis("bottom").setTicks(_key_ticks(labels))
    chart.setXRange(-0.6, len(values) - 0.4, padding=0)
    lo, hi = float(min(np.min(values, initial=0), 0)), float(max(np.max(values, initial=0), 0))
    chart.setYRange(lo, hi if hi > lo else lo + 1, padding=0.08)
    return bars


def _activation(name: str, x: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0.0)
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))  # exact GELU, as nn.GELU()


class ForwardMath:
    """The groups of step 0 (``before``) and steps 9-17 (``after``) for one layer and position."""

    def __init__(self) -> None:
        self.before = QWidget()
        self.after = QWidget()
        top = QVBoxLayout(self.before)
        top.setContentsMargins(0, 0, 0, 0)
        bottom = QVBoxLayout(self.after)
        bottom.setContentsMargins(0, 0, 0, 0)
        self.residual_curves: dict = {}
        self.embed_curves: dict = {}
        self.ln_curves: dict = {}
        self.mlp_curves: dict = {}
        self.final_curves: dict = {}

        self.step_embed = _Step("0 · From token id to vector: one-hot × embedding table, plus the position")
        self.onehot_plot = _plot(90)
        self.onehot_plot.setLabel("bottom", "token id (the one-hot row: all 0, one 1)")
        self.embed_plot = self._legend_plot(150)
        self.step_embed.box.addWidget(self.onehot_plot)
        self.step_embed.box.addWidget(self.embed_plot)

        self.step_residual = _Step("9 · Residual add: the attention output joins the stream")
        self.residual_plot = self._legend_plot(170)
        self.step_residual.box.addWidget(self.residual_plot)

        self.step_ln = _Step("10 · LayerNorm before the MLP")
        self.ln_in_plot = _plot(130)
        self.ln_plot = self._legend_plot(150)
        self.step_ln.box.addWidget(self.ln_in_plot)
        self.step_ln.box.addWidget(self.ln_plot)

        self.step_pre = _Step("11 · The MLP widens the vector four times")
        self.pre_plot = _plot(130)
        self.pre_plot.setLabel("bottom", "hidden unit of the MLP")
        self.step_pre.box.addWidget(self.pre_plot)

        self.step_act = _Step("12 · The activation switches units off")
        self.act_plot = _plot(190)
        self.act_plot.setLabel("bottom", "value going in")
        self.act_plot.setLabel("left", "value coming out")
        self.step_act.box.addWidget(self.act_plot)

        self.step_mlp = _Step("13 · The MLP's output and the second residual add")
        self.mlp_plot = self._legend_plot(170)
        self.step_mlp.box.addWidget(self.mlp_plot)

        self.step_final = _Step("14 · After the last block: the final LayerNorm")
        self.final_plot = self._legend_plot(150)
        self.step_final.box.addWidget(self.final_plot)

        self.step_logits = _Step("15 · Unembedding: one score (logit) per token of the vocabulary")
        self.logits_plot = _plot(150)
        self.step_logits.box.addWidget(self.logits_plot)

        self.step_probs = _Step("16 · Softmax: logits become probabilities")
        self.probs_plot = _plot(150)
        self.step_probs.box.addWidget(self.probs_plot)

        self.step_loss = _Step("17 · The loss of this token: −log p of the token that really came next")
        self.loss_plot = _plot(150)
        self.loss_plot.setLabel("bottom", "probability p given to the true next token")
        self.loss_plot.setLabel("left", "−log p")
        self.step_loss.box.addWidget(self.loss_plot)

        top.addWidget(self.step_embed)
        for step in (self.step_residual, self.step_ln, self.step_pre, self.step_act, self.step_mlp,
                     self.step_final, self.step_logits, self.step_probs, self.step_loss):
            bottom.addWidget(step)
        for step in self.steps():
            step.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Fixed)

        self.data: ForwardSteps | None = None
        self.labels: list[str] = []
        self.token_label: Callable[[int], str] = str
        self.position = 0
        # What is drawn now (tests read them back).
        self.onehot_bars = self.logit_bars = self.prob_bars = None
        self.act_points = None
        self.loss_point = None

    def steps(self) -> list[_Step]:
        return [self.step_embed, self.step_residual, self.step_ln, self.step_pre, self.step_act, self.step_mlp,
                self.step_final, self.step_logits, self.step_probs, self.step_loss]

    @staticmethod
    def _legend_plot(height: int):
        chart = _plot(height)
        # A half-opaque legend: the curves it covers stay readable under it.
        chart.plot.addLegend(offset=(-4, 4), labelTextSize="8pt", brush=(255, 255, 255, 200))
        return chart

    # -- data --------------------------------------------------------------------------------
    def set_steps(self, data: ForwardSteps, labels: Sequence[str], token_label: Callable[[int], str],
                  position: int) -> None:
        """Show ``core.forward_steps.forward_steps`` output at ``position`` (a token of ``labels``)."""
        self.data = data
        self.labels = list(labels)
        self.token_label = token_label
        self.set_position(position)

    def set_position(self, position: int) -> None:
        d = self.data
        if d is None or not self.labels:
            return
        i = max(0, min(position, len(self.labels) - 1))
        self.position = i
        tok = self.labels[i]
        self._embedding(i, tok)
        self._block(i, tok)
        self._output(i, tok)

    def _embedding(self, i: int, tok: str) -> None:
        e = self.data.embedding
        token_id, V, C = int(e.ids[i]), e.vocab_size, e.token.shape[1]
        self.onehot_plot.clear()
        self.onehot_bars = pg.BarGraphItem(x=[token_id], height=[1.0], width=max(1.0, V / 400), brush=BAR_PICK,
                                           pen=pg.mkPen(BAR_PICK))
        self.onehot_plot.addItem(self.onehot_bars)
        self.onehot_plot.getAxis("bottom").setTicks(None)
        self.onehot_plot.getAxis("left").setTicks([[(0, "0"), (1, "1")]])
        self.onehot_plot.setXRange(-0.5, V - 0.5, padding=0.01)
        self.onehot_plot.setYRange(0, 1, padding=0.05)
        position = [] if e.position is None else [(f"position {i + 1}", e.position[i], BEFORE)]
        _lines(self.embed_plot, self.embed_curves,
               [("token's row of the table", e.token[i], ADDED), *position,
                ("sum: what block 1 reads", e.total[i], AFTER)], "dimension")
        added = ("This model has no positions (order-blind): nothing is added, so block 1 reads the row "
                 "itself, the same wherever the token stands." if e.position is None else
                 f"The {e.positional} position vector of position {i + 1} is added, so the same token at "
                 "another place starts from another vector.")
        self.step_embed.sentence.setText(
            f"`{tok}` is token id <b>{token_id}</b> of {V:,}. Written as a one-hot row ({V:,} numbers, all 0 "
            f"but a 1 at {token_id}) and multiplied by the embedding table ({V:,} × {C}), it picks row "
            f"{token_id}: the token's {C} numbers (in practice the row is simply looked up). {added}")

    def _block(self, i: int, tok: str) -> None:
        b = self.data.block
        n = b.layer + 1
        _lines(self.residual_plot, self.residual_curves,
               [("stream before", b.stream_in[i], BEFORE), ("attention output (heads × W_O)", b.attn_out[i], ADDED),
                ("stream after = before + attention", b.stream_mid[i], AFTER)], "dimension of the residual stream")
        self.step_residual.sentence.setText(
            f"Block {n} does not replace `{tok}`'s vector, it adds to it: the stream (size "
            f"{_norm(b.stream_in[i]):.2f}) plus the attention output (size {_norm(b.attn_out[i]):.2f}) gives "
            f"the new stream (size {_norm(b.stream_mid[i]):.2f}). This running sum is the residual stream: "
            "every block reads it and writes into it.")

        ln = b.ln_2
        x = ln.before[i]
        self.ln_in_plot.clear()
        self.ln_in_plot.addItem(pg.BarGraphItem(x=np.arange(len(x)), height=x, width=0.8, brush=BEFORE, pen=None))
        mean, std = float(ln.mean[i]), float(ln.std[i])
        for y, style in ((mean, Qt.SolidLine), (mean + std, Qt.DashLine),
                         (mean - std, Qt.DashLine)):
            self.ln_in_plot.addItem(pg.InfiniteLine(y, angle=0, pen=pg.mkPen(ADDED, width=2, style=style)))
        self.ln_in_plot.setLabel("bottom", "the stream going in: its mean (line) ± one standard deviation (dashes)")
        _lines(self.ln_plot, self.ln_curves,
               [("normalised: (x − mean) ÷ std", ln.normalised[i], BEFORE),
                ("after the learned scale and shift", ln.after[i], AFTER)], "dimension")
        self.step_ln.sentence.setText(
            f"Before the MLP reads the stream, LayerNorm (ln_2) evens it out: the {len(x)} numbers have mean "
            f"{mean:.3f} and standard deviation {std:.3f}. Subtract the mean and divide by the deviation: mean 0, "
            "spread 1, whatever the stream's size. Then each dimension is multiplied and shifted by two learned "
            "numbers of its own, so the model can keep the sizes it finds useful.")

        pre, post = b.pre[i], b.post[i]
        colours = [BAR if v > 0 else BAR_FUTURE for v in pre]
        self.pre_plot.clear()
        self.pre_plot.addItem(pg.BarGraphItem(x=np.arange(len(pre)), height=pre, width=0.8,
                                              brushes=[pg.mkBrush(c) for c in colours], pen=None))
        self.pre_plot.setXRange(-0.6, len(pre) - 0.4, padding=0)
        self.step_pre.sentence.setText(
            f"The first layer of the MLP (c_fc, a {len(x)} × {len(pre)} matrix) turns the normalised vector "
            f"into {len(pre)} hidden units: each one a learned detector that fires (positive) or not for "
            f"what `{tok}`'s vector holds. {int((pre > 0).sum())} of {len(pre)} are positive here.")

        lo, hi = min(float(pre.min()), -4.0), max(float(pre.max()), 4.0)
        curve_x = np.linspace(lo, hi, 400)
        self.act_plot.clear()
        self.act_plot.plot.plot(curve_x, _activation(b.activation, curve_x), pen=pg.mkPen(BEFORE, width=2))
        off = np.abs(post) < GELU_OFF_BELOW if b.activation == "gelu" else post == 0
        self.act_points = pg.ScatterPlotItem(x=pre, y=post, size=6, pen=None,
                                             brush=[pg.mkBrush(BAR_FUTURE if o else ADDED) for o in off])
        self.act_plot.addItem(self.act_points)
        self.act_plot.enableAutoRange()
        name = "GELU" if b.activation == "gelu" else "ReLU"
        rule = (f"GELU lets small negative values through, so we count a unit as off when its output is within "
                f"{GELU_OFF_BELOW} of 0") if b.activation == "gelu" else "ReLU sets every negative input to exactly 0"
        self.step_act.sentence.setText(
            f"Each hidden unit goes through the {name} curve (grey); the dots are `{tok}`'s {len(pre)} units. "
            f"{rule}: <b>{int(b.off[i])} of {len(pre)}</b> are switched off (grey dots) and pass nothing on. "
            "Without such a bend, the two layers of the MLP would be a single matrix.")

        last = b.layer == self.data.n_layer - 1
        nxt = "the final LayerNorm reads it (step 14)" if last else f"block {n + 1} reads it"
        _lines(self.mlp_plot, self.mlp_curves,
               [("stream before", b.stream_mid[i], BEFORE), ("MLP output", b.mlp_out[i], ADDED),
                ("stream after = before + MLP", b.stream_out[i], AFTER)], "dimension of the residual stream")
        self.step_mlp.sentence.setText(
            f"The second layer of the MLP (c_proj, {len(pre)} × {len(x)}) brings the switched-on units back to "
            f"{len(x)} numbers (size {_norm(b.mlp_out[i]):.2f}), and they are added to the stream like the "
            f"attention output was: block {n} is done with `{tok}`, and {nxt}.")

    def _output(self, i: int, tok: str) -> None:
        o = self.data.output
        L = self.data.n_layer
        ln = o.ln_f
        _lines(self.final_plot, self.final_curves,
               [(f"stream after block {L}", ln.before[i], BEFORE), ("after ln_f", ln.after[i], AFTER)], "dimension")
        first_after = self.data.block.layer + 2  # the blocks after the one shown above, counted from 1
        between = "" if first_after > L else (
            f" (block{'s' if first_after < L else ''} {first_after}{f' to {L}' if first_after < L else ''} "
            "ran in between, with the same steps as above)")
        self.step_final.sentence.setText(
            f"After the last block{between} one more LayerNorm, ln_f, evens the stream out (mean "
            f"{float(ln.mean[i]):.3f}, standard deviation {float(ln.std[i]):.3f}) before it is read off as "
            "scores for the next token.")

        C, V = o.unembedding
        top = [self.token_label(int(t)) for t in o.top_ids[i]]
        nxt = int(o.next_ids[i])
        colours = [BAR_PICK if int(t) == nxt else BAR for t in o.top_ids[i]]
        self.logit_bars = _top_bars(self.logits_plot, o.top_logits[i], [f"`{t}`" for t in top], colours)
        self.step_logits.sentence.setText(
            f"The unembedding (lm_head) is a {C} × {V:,} matrix: the final vector (1 × {C}) times it gives "
            f"{V:,} logits, one score per token that could come next (1 × {V:,}). The {len(top)} highest are "
            f"shown; `{top[0]}` leads with {float(o.top_logits[i, 0]):.2f}."
            + (" Orange: the token that really came next." if nxt in o.top_ids[i] else ""))

        self.prob_bars = _top_bars(self.probs_plot, o.top_probs[i], [f"`{t}`" for t in top], colours)
        self.probs_plot.setYRange(0, 1, padding=0.05)
        shown = float(o.top_probs[i].sum())
        self.step_probs.sentence.setText(
            f"softmax turns the logits into probabilities: e<sup>logit</sup> divided by the sum over all "
            f"{V:,} tokens, so they are positive and add up to 1. The model gives `{top[0]}` "
            f"<b>{float(o.top_probs[i, 0]):.1%}</b>; these {len(top)} hold {shown:.1%} together. "
            "Generating text means drawing the next token from these probabilities.")

        self.loss_plot.clear()
        p_axis = np.linspace(0.005, 1.0, 300)
        self.loss_plot.plot.plot(p_axis, -np.log(p_axis), pen=pg.mkPen(BEFORE, width=2))
        self.loss_plot.setXRange(0, 1, padding=0.02)
        self.loss_plot.setYRange(0, 6, padding=0.02)
        if nxt < 0:
            self.loss_point = None
            self.step_loss.sentence.setText(
                f"`{tok}` is the last token of the text: no token came after it here, so it has no loss. "
                "Click an earlier token.")
            return
        p, loss, rank = float(o.next_prob[i]), float(o.loss[i]), int(o.next_rank[i])
        self.loss_point = pg.ScatterPlotItem(x=[p], y=[min(loss, 6.0)], size=12, brush=BAR_PICK, pen=None)
        self.loss_plot.addItem(self.loss_point)
        choice = "its first choice" if rank == 1 else f"its choice number {rank:,}"
        self.step_loss.sentence.setText(
            f"The token that really came next is `{self.labels[i + 1]}`: the model gave it p = {p:.4f} "
            f"({choice}). This token's loss is −log p = −log {p:.4f} = <b>{loss:.3f}</b>. A sure right "
            "guess costs 0; the less likely the truth, the steeper the cost. The training loss is this "
            "number averaged over every position of many texts.")
