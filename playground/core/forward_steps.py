"""The rest of the forward pass, step by step, and the logit lens — with the model's own numbers.

    steps = forward_steps(model, ids, layer=0)   # every number "The math" shows after the heads
    steps.block.ln_out[pos]                      # (C,) what the MLP of block 1 read at position pos
    steps.output.loss[pos]                       # −log p(ids[pos + 1]) at position pos
    lens = logit_lens(model, ids)                # what each layer would predict, every position
    lens.top_ids[layer, pos]                     # (k,) layer 0 = straight after the embedding

One pass through the capture path (``model(x, capture=True)``) gives the residual stream
``hidden`` (n_layer + 1, T, C): after the embedding and after every block. Everything else is
the model's own modules run again on those vectors (``block.ln_1``, ``block.attn``,
``block.ln_2``, the MLP's ``c_fc``/``act``/``c_proj``, ``ln_f``, ``lm_head``), so what is shown
is what the model computes; the only numbers worked out here are the textbook pieces a module
hides (a LayerNorm's mean and standard deviation, its normalised vector before scale and shift).
Every array covers all T positions, so picking another token costs nothing.

Only GPT models have blocks; a Bigram raises ValueError (the views say so instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TOP_K = 10  # logits and probabilities shown as bars
LENS_K = 5  # predictions per layer in the logit lens
# GELU lets small negatives through (its minimum is −0.17), so no unit is ever exactly 0: a unit
# counts as switched off when its output is this close to 0. After ReLU, off means exactly 0.
GELU_OFF_BELOW = 0.05


@dataclass(frozen=True)
class LayerNormStep:
    """One LayerNorm, every position: x → (x − mean) / std → × weight + bias."""

    before: np.ndarray  # (T, C) the vector going in
    mean: np.ndarray  # (T,)
    std: np.ndarray  # (T,) √(variance + eps), the number it divides by
    normalised: np.ndarray  # (T, C) mean 0, standard deviation 1
    after: np.ndarray  # (T, C) after the learned scale and shift: the module's own output


@dataclass(frozen=True)
class EmbeddingStep:
    """Step 0: token id → one-hot row × embedding table = embedding row, plus the position vector."""

    ids: np.ndarray  # (T,) int token ids
    vocab_size: int
    token: np.ndarray  # (T, C) wte rows: one-hot(id) @ wte
    position: np.ndarray | None  # (T, C) position vectors; None for an order-blind model
    positional: str  # "learned", "sinusoidal" or "none"
    total: np.ndarray  # (T, C) token + position = hidden[0], what block 1 reads


@dataclass(frozen=True)
class BlockStep:
    """What one block does after its heads, every position."""

    layer: int
    stream_in: np.ndarray  # (T, C) residual stream entering the block
    attn_out: np.ndarray  # (T, C) heads × W_O: what attention adds
    stream_mid: np.ndarray  # (T, C) stream_in + attn_out
    ln_2: LayerNormStep
    activation: str  # "gelu" or "relu"
    pre: np.ndarray  # (T, 4C) the MLP's hidden units before the activation (c_fc)
    post: np.ndarray  # (T, 4C) after GELU / ReLU
    off: np.ndarray  # (T,) int units switched off (see GELU_OFF_BELOW)
    mlp_out: np.ndarray  # (T, C) c_proj(post): what the MLP adds
    stream_out: np.ndarray  # (T, C) stream_mid + mlp_out = hidden[layer + 1]


@dataclass(frozen=True)
class OutputStep:
    """After the last block: final LayerNorm, unembedding, logits, softmax, the token's loss."""

    ln_f: LayerNormStep
    unembedding: tuple[int, int]  # (d_model, vocab): final vector (1 × C) @ W_U (C × V) → 1 × V
    top_ids: np.ndarray  # (T, k) highest logits first
    top_logits: np.ndarray  # (T, k)
    top_probs: np.ndarray  # (T, k) softmax over the whole vocabulary, these k of it
    logit_max: np.ndarray  # (T,) largest logit; softmax subtracts it (same result, no overflow)
    log_sum_exp: np.ndarray  # (T,) log Σ e^logit: log p = logit − this
    next_ids: np.ndarray  # (T,) the token that really came next; −1 at the last position
    next_logit: np.ndarray  # (T,) its logit (nan at the last position)
    next_prob: np.ndarray  # (T,)
    next_rank: np.ndarray  # (T,) 1 = the model's top choice; 0 at the last position
    loss: np.ndarray  # (T,) −log p(next): this token's cross-entropy (nan at the last position)


@dataclass(frozen=True)
class ForwardSteps:
    """Step 0, one block's steps after its heads, and the output steps."""

    embedding: EmbeddingStep
    block: BlockStep
    output: OutputStep
    n_layer: int

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for part in (self.embedding, self.block, self.output, self.block.ln_2, self.output.ln_f)
                   for a in vars(part).values() if isinstance(a, np.ndarray))


@dataclass(frozen=True)
class Lens:
    """The logit lens: ln_f + lm_head applied to the stream after the embedding and every block."""

    top_ids: np.ndarray  # (n_layer + 1, T, k) most likely next tokens, best first
    top_probs: np.ndarray  # (n_layer + 1, T, k)
    next_prob: np.ndarray  # (n_layer + 1, T) probability of the token that really came next (nan at the end)

    @property
    def nbytes(self) -> int:
        return self.top_ids.nbytes + self.top_probs.nbytes + self.next_prob.nbytes


def _np(t) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _check(model) -> None:
    if getattr(model.config, "arch", "gpt") == "encoder-decoder":
        raise ValueError("the step-by-step forward pass and the logit lens are for a GPT; this model is an "
                         "encoder-decoder")
    if getattr(model.config, "arch", "gpt") != "gpt":
        raise ValueError("a bigram model has no blocks: it reads the next token's scores from a table")


def capture(model, ids: Sequence[int]):
    """One pass through the capture path: (hidden (n_layer + 1, T, C), logits (T, V))."""
    import torch

    x = torch.tensor([list(ids)], dtype=torch.long, device=next(model.parameters()).device)  # (1, T)
    with torch.no_grad():
        result = model(x, capture=True)
    return result.hidden, result.logits[0]  # (n_layer + 1, T, C), (T, V)


def layer_norm_step(ln, x) -> LayerNormStep:
    """The pieces of LayerNorm ``ln`` on x (T, C); ``after`` is the module's own output."""
    import torch

    with torch.no_grad():
        mean = x.mean(dim=-1, keepdim=True)  # (T, 1)
        std = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + ln.eps)  # (T, 1) biased: as LayerNorm
        normalised = (x - mean) / std  # (T, C)
        after = ln(x)  # (T, C)
    return LayerNormStep(_np(x), _np(mean[:, 0]), _np(std[:, 0]), _np(normalised), _np(after))


def embedding_step(model, ids: Sequence[int], hidden) -> EmbeddingStep:
    import torch

    T = len(ids)
    idx = torch.tensor(list(ids), dtype=torch.long, device=hidden.device)  # (T,)
    with torch.no_grad():
        token = model.wte(idx)  # (T, C) = one_hot(idx) @ wte.weight, read as a row lookup
        table = model.position_embeddings()  # (context, C) or None
    position = None if table is None else _np(table[:T])  # (T, C)
    return EmbeddingStep(np.asarray(ids, dtype=np.int64), model.config.vocab_size, _np(token), position,
                         model.config.positional, _np(hidden[0]))


def block_step(model, hidden, layer: int) -> BlockStep:
    """Block ``layer`` run again on its captured input, piece by piece."""
    import torch

    from playground.core.model import PassContext

    block = model.blocks[layer]
    x = hidden[layer][None]  # (1, T, C)
    T = x.shape[1]
    # The capture path's context: the same manual attention the captured pass took.
    ctx = PassContext(cache=None, past=0, allowed=model.causal[:T, :T], capture=True)
    with torch.no_grad():
        a, _weights, _qkv = block.attn(block.ln_1(x), layer=layer, ctx=ctx)  # (1, T, C)
        mid = x + a  # (1, T, C)
        ln = layer_norm_step(block.ln_2, mid[0])
        mlp = block.mlp
        pre = mlp.c_fc(torch.from_numpy(ln.after).to(x.device))  # (T, 4C)
        post = mlp.act(pre)  # (T, 4C)
        out = mlp.dropout(mlp.c_proj(post))  # (T, C)
        stream_out = mid[0] + out  # (T, C)
    activation = "gelu" if isinstance(mlp.act, torch.nn.GELU) else "relu"
    post_np = _np(post)  # (T, 4C)
    off = (post_np == 0) if activation == "relu" else (np.abs(post_np) < GELU_OFF_BELOW)  # (T, 4C)
    return BlockStep(layer, _np(x[0]), _np(a[0]), _np(mid[0]), ln, activation, _np(pre), post_np,
                     off.sum(axis=1).astype(np.int64), _np(out), _np(stream_out))


def output_step(model, ids: Sequence[int], hidden, k: int = TOP_K) -> OutputStep:
    import torch

    ln = layer_norm_step(model.ln_f, hidden[-1])
    with torch.no_grad():
        logits = model.lm_head(torch.from_numpy(ln.after).to(hidden.device)).float()  # (T, V)
        log_probs = torch.log_softmax(logits, dim=-1)  # (T, V)
        top_logits, top_ids = logits.topk(min(k, logits.shape[1]), dim=-1)  # (T, k) ×2
    T, V = logits.shape
    nxt = torch.full((T,), -1, dtype=torch.long)  # (T,)
    nxt[:-1] = torch.tensor(list(ids[1:]), dtype=torch.long)
    has = nxt >= 0  # (T,)
    safe = nxt.clamp(min=0).to(logits.device)  # (T,)
    next_logit = logits.gather(1, safe[:, None])[:, 0].cpu()  # (T,)
    next_lp = log_probs.gather(1, safe[:, None])[:, 0].cpu()  # (T,)
    rank = (logits > logits.gather(1, safe[:, None])).sum(dim=1).cpu() + 1  # (T,) 1 = top choice
    nan = torch.tensor(float("nan"))
    return OutputStep(
        ln_f=ln,
        unembedding=(model.config.d_model, V),
        top_ids=top_ids.cpu().numpy().astype(np.int64), top_logits=_np(top_logits),
        top_probs=_np((top_logits - torch.logsumexp(logits, dim=-1, keepdim=True)).exp()),
        logit_max=_np(logits.max(dim=-1).values),
        log_sum_exp=_np(torch.logsumexp(logits, dim=-1)),
        next_ids=nxt.numpy().astype(np.int64),
        next_logit=_np(torch.where(has, next_logit, nan)),
        next_prob=_np(torch.where(has, next_lp.exp(), nan)),
        next_rank=np.where(has.numpy(), rank.numpy(), 0).astype(np.int64),
        loss=_np(torch.where(has, -next_lp, nan)),
    )


def forward_steps(model, ids: Sequence[int], layer: int, captured=None) -> ForwardSteps:
    """Every number of step 0, block ``layer`` after its heads, and the output steps, for every
    position of ``ids``. ``captured``: a ``capture(model, ids)`` already made (one pass for both)."""
    _check(model)
    if not 0 <= layer < model.config.n_layer:
        raise ValueError(f"there is no layer {layer} in a model of {model.config.n_layer}")
    hidden, _logits = captured or capture(model, ids)  # (n_layer + 1, T, C)
    return ForwardSteps(embedding_step(model, ids, hidden), block_step(model, hidden, layer),
                        output_step(model, ids, hidden), model.config.n_layer)


def logit_lens(model, ids: Sequence[int], k: int = LENS_K, captured=None) -> Lens:
    """What the model would predict if it stopped after the embedding, after block 1, … : the
    final LayerNorm and the unembedding applied to each layer's residual stream. The last row is
    the model's real output (the same ln_f and lm_head on the same vector)."""
    import torch

    _check(model)
    hidden, _logits = captured or capture(model, ids)  # (n_layer + 1, T, C)
    T = hidden.shape[1]
    nxt = torch.tensor(list(ids[1:]), dtype=torch.long, device=hidden.device)  # (T - 1,)
    top_ids, top_probs, next_prob = [], [], []
    with torch.no_grad():
        for stream in hidden:  # (T, C) one layer at a time: (T, V) each, never (L + 1, T, V)
            probs = torch.softmax(model.lm_head(model.ln_f(stream)).float(), dim=-1)  # (T, V)
            p, i = probs.topk(min(k, probs.shape[1]), dim=-1)  # (T, k) ×2
            top_ids.append(i)
            top_probs.append(p)
            row = torch.full((T,), float("nan"), device=hidden.device)  # (T,)
            row[:-1] = probs[:-1].gather(1, nxt[:, None])[:, 0]  # (T - 1,)
            next_prob.append(row)
    return Lens(torch.stack(top_ids).cpu().numpy().astype(np.int64), _np(torch.stack(top_probs)),
                _np(torch.stack(next_prob)))  # (L + 1, T, k) ×2, (L + 1, T)
