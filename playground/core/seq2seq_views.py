"""What the Attention and Generate tabs show of an encoder–decoder run (no Qt here).

``pair_views`` reads one (source, target) pair through the model's capture path
(``translate.pair_attention``) and keeps, besides the three kinds of attention weights, each head's
queries, keys and values, so "The math" can redo one row: q·k, ÷√d_head, the mask, softmax, and
the weighted sum of the values. The projections are read with forward hooks on the attention's
input layers during that same pass, so they are exactly the numbers the weights came from (a test
recomputes the weights from them).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass

import torch
from torch import Tensor

from playground.errors import CorpusError

KINDS = ("encoder", "decoder", "cross")  # encoder self-attention, decoder self-attention, cross-attention
KIND_TITLES = {"encoder": "Encoder self-attention", "decoder": "Decoder self-attention",
               "cross": "Cross-attention"}


@dataclass
class PairViews:
    """One pair's attention, as the Attention tab draws it."""

    source: str
    target: str  # the model's own greedy translation, or the target typed
    typed_target: bool
    source_labels: list[str]
    target_labels: list[str]  # the decoder's inputs: the start token first
    attention: dict[str, Tensor]  # kind -> (n_layer, n_head, rows, cols)
    qkv: dict[tuple[str, int], tuple[Tensor, Tensor, Tensor]]  # (kind, layer) -> q (H, R, d), k, v (H, K, d)

    def labels(self, kind: str) -> tuple[list[str], list[str]]:
        """(row labels, column labels): who looks, and at whom."""
        if kind == "encoder":
            return self.source_labels, self.source_labels
        if kind == "decoder":
            return self.target_labels, self.target_labels
        return self.target_labels, self.source_labels


@dataclass
class HeadRow:
    """One query row of one head, step by step (the math view's numbers)."""

    q: Tensor  # (d,)
    k: Tensor  # (K, d)
    v: Tensor  # (K, d)
    dots: Tensor  # (K,) q·k
    scaled: Tensor  # (K,) q·k / √d
    allowed: Tensor  # (K,) bool: False where the causal mask hides the key
    weights: Tensor  # (K,) softmax of the allowed scaled scores: the attention row
    out: Tensor  # (d,) weights @ v: what this head hands on for this token
    scale: float  # √d_head


def _heads(t: Tensor, n_head: int) -> Tensor:
    """(1, N, C) -> (H, N, d_head) of batch item 0."""
    _b, n, c = t.shape
    return t[0].view(n, n_head, c // n_head).transpose(0, 1).float()  # (H, N, d)


@torch.inference_mode()
def pair_views(model: torch.nn.Module, tokenizer, source: str, target: str | None = None) -> PairViews:
    """The three attentions and the per-head q, k, v of ``source`` (and ``target``, else the model's
    greedy translation of it)."""
    from playground.core.translate import pair_attention, translate

    typed = target is not None
    if target is None:
        target = translate(model, tokenizer, source)
    H = model.config.n_head
    seen: dict[tuple[str, int], Tensor] = {}

    def keep(name: str, layer: int):
        def hook(_module, _inputs, output):
            seen[(name, layer)] = output.detach()  # (1, N, 3C), (1, T, C) or (1, S, 2C)

        return hook

    handles = []
    for layer, block in enumerate(model.encoder):
        handles.append(block.attn.c_attn.register_forward_hook(keep("enc_qkv", layer)))
    for layer, block in enumerate(model.decoder):
        handles.append(block.attn.c_attn.register_forward_hook(keep("dec_qkv", layer)))
        handles.append(block.cross.q_proj.register_forward_hook(keep("cross_q", layer)))
        handles.append(block.cross.kv_proj.register_forward_hook(keep("cross_kv", layer)))
    try:
        pa = pair_attention(model, tokenizer, source, target)
    finally:
        for handle in handles:
            handle.remove()
    qkv: dict[tuple[str, int], tuple[Tensor, Tensor, Tensor]] = {}
    for layer in range(model.config.n_layer):
        for kind, name in (("encoder", "enc_qkv"), ("decoder", "dec_qkv")):
            q, k, v = (_heads(t, H).cpu() for t in seen[(name, layer)].chunk(3, dim=-1))  # (H, N, d) ×3
            qkv[(kind, layer)] = (q, k, v)
        k, v = (_heads(t, H).cpu() for t in seen[("cross_kv", layer)].chunk(2, dim=-1))  # (H, S, d) ×2
        qkv[("cross", layer)] = (_heads(seen[("cross_q", layer)], H).cpu(), k, v)  # q (H, T, d)
    return PairViews(source=source, target=target, typed_target=typed, source_labels=pa.source_labels,
                     target_labels=pa.target_labels,
                     attention={"encoder": pa.encoder, "decoder": pa.decoder, "cross": pa.cross},
                     qkv=qkv)


def head_row(views: PairViews, kind: str, layer: int, head: int, query: int) -> HeadRow:
    """The math of one row: the query's q against every key, scaled, masked, softmaxed, mixed."""
    q_all, k_all, v_all = views.qkv[(kind, layer)]
    q = q_all[head, query]  # (d,)
    k, v = k_all[head], v_all[head]  # (K, d)
    scale = math.sqrt(q.shape[-1])
    dots = k @ q  # (K,)
    scaled = dots / scale  # (K,)
    allowed = torch.ones(k.shape[0], dtype=torch.bool)  # (K,) the encoder and cross-attention see every key
    if kind == "decoder":
        allowed = torch.arange(k.shape[0]) <= query  # (K,) the causal mask
    weights = torch.softmax(scaled.masked_fill(~allowed, float("-inf")), dim=-1)  # (K,)
    return HeadRow(q=q, k=k, v=v, dots=dots, scaled=scaled, allowed=allowed, weights=weights,
                   out=weights @ v, scale=scale)  # out (d,)


def validation_sources(run_path: str | os.PathLike, n: int = 200) -> list[str]:
    """Source sentences of the run's validation pairs (the pairs it never trained on), at most ``n``.
    CorpusError when the corpus is gone or is not sentence pairs."""
    from playground.core import corpus as corpus_mod
    from playground.core.checkpoint import Run
    from playground.core.pairs import validation_pairs

    run = Run(run_path)
    record = run.corpus_record
    corpus = corpus_mod.verify_record(record)
    fraction = record.get("split") or run.train_config.split
    pairs = validation_pairs(corpus.text, fraction)
    if not pairs:
        raise CorpusError("This run's corpus has no validation pairs.", "Type a source sentence instead.")
    return [p.source for p in pairs[:n]]


def random_source(sources: list[str], rng: random.Random) -> str:
    return sources[rng.randrange(len(sources))]
