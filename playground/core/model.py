"""The models a student trains: a Bigram table and a small GPT, plus their sizes.

``GPT`` is a pre-norm decoder-only transformer in the nanoGPT mould:

    tokens ─> token embedding (+ position) ─> [LayerNorm ─> attention ─> +] ─> [LayerNorm ─> MLP ─> +]
           ─> ... (n_layer blocks) ─> final LayerNorm ─> unembedding ─> logits

Attention has two paths that compute the same thing. The fast path calls
``F.scaled_dot_product_attention`` (fused kernels, no T×T matrix kept). The capture path
writes the textbook formula out: ``weights = softmax(QKᵀ/√d_head + causal mask)`` and the
block's output *is* ``weights @ V`` — so what the Attention tab shows is exactly what the
model used, not a re-computation beside it.

The query, key and value projections W_Q, W_K, W_V are stored stacked in one Linear
(``attn.c_attn``, output rows ``[0:C]`` = W_Q, ``[C:2C]`` = W_K, ``[2C:3C]`` = W_V; head ``h``
owns columns ``h*d_head:(h+1)*d_head`` of each) because one matmul is faster than three;
``attn.c_proj`` is W_O.

Positions are learned vectors, fixed sinusoids, or none at all. Without them ("none") a
one-layer model's prediction after a text is the same for every order of the tokens before the
last one (attention sums over a set); deeper causal models can still tell a little about order,
because each position sees a prefix of a different length (``core/positions_experiment.py``).

The config and the sizes (``param_count``, ``memory_estimate``) live in ``config.py``,
free of torch; the machine questions (device, free memory) in ``devices.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from playground.core.config import ModelConfig
from playground.core.devices import check_weights_fit
from playground.errors import ModelError

LAYERNORM_EPS = 1e-5
INIT_STD = 0.02


# ───────────────────────────────────────────────────────────────────────────── forward I/O


@dataclass
class ForwardResult:
    logits: Tensor  # (B, T, V) — (B, 1, V) with last_only
    loss: Tensor | None = None  # () mean cross-entropy over all positions
    attention: Tensor | None = None  # (n_layer, n_head, T, S) weights of batch item 0; S = cached + T
    qkv: dict[str, Any] | None = None  # {"q": (T, d_head), "k": (S, d_head), "v": (S, d_head), "layer", "head"}
    hidden: Tensor | None = None  # (n_layer + 1, T, C) residual stream of batch item 0 (capture only)


@dataclass(frozen=True)
class PassContext:
    """What every block of one forward pass shares (the layer index is the block's own)."""

    cache: KVCache | None  # keys/values of earlier positions, or None
    past: int  # positions already in the cache
    allowed: Tensor | None  # (T, S) bool: query i may see key j; None where the fused path needs no mask
    capture: bool  # take the manual path and return the attention weights


class KVCache:
    """Keys and values of the tokens already seen, per layer, so a new token costs one
    position's work instead of the whole window's.

    Buffers are allocated once (at the model's context length) and written in place:
    a ``torch.cat`` per step would allocate and copy the whole cache for every token.
    ``length`` is how many positions are filled; ``reset()`` empties it and keeps the buffers.
    """

    def __init__(self, n_layer: int, capacity: int | None = None) -> None:
        self.n_layer = n_layer
        self.capacity = capacity  # None: the model sets its context length on first use
        self.length = 0
        self._k: list[Tensor | None] = [None] * n_layer
        self._v: list[Tensor | None] = [None] * n_layer

    @property
    def k(self) -> list[Tensor | None]:
        """Per layer (B, H, length, d_head) views of the keys."""
        return [None if t is None else t[:, :, : self.length] for t in self._k]

    @property
    def v(self) -> list[Tensor | None]:
        return [None if t is None else t[:, :, : self.length] for t in self._v]

    def reset(self) -> None:
        self.length = 0

    def write(self, layer: int, k: Tensor, v: Tensor, start: int) -> tuple[Tensor, Tensor]:
        """Store k, v (B, H, T, d_head) at positions start..start+T; return all keys/values so far.

        A cache holds one batch shape: a different batch size, head count, head width, dtype or
        device raises instead of silently handing back unwritten memory.
        """
        B, H, T, D = k.shape
        end = start + T
        buf_k, buf_v = self._k[layer], self._v[layer]
        if buf_k is not None:
            have = (tuple(buf_k.shape[:2]) + (buf_k.shape[3],), buf_k.dtype, buf_k.device)
            want = ((B, H, D), k.dtype, k.device)
            if have != want:
                raise ModelError(f"This cache holds (batch, heads, head width) {have[0]} as {have[1]} on "
                                 f"{have[2]}; it was given {want[0]} as {want[1]} on {want[2]}.",
                                 hint="Make a new KVCache for a new batch shape.")
        if buf_k is None or buf_k.shape[2] < end:
            cap = max(end, self.capacity or 0, 2 * (buf_k.shape[2] if buf_k is not None else 0))
            new_k = k.new_empty((B, H, cap, D))  # (B, H, cap, d_head)
            new_v = v.new_empty((B, H, cap, D))  # (B, H, cap, d_head)
            if buf_k is not None and start:
                new_k[:, :, :start] = buf_k[:, :, :start]  # (B, H, start, d_head)
                new_v[:, :, :start] = buf_v[:, :, :start]  # (B, H, start, d_head)
            buf_k, buf_v = new_k, new_v
            self._k[layer], self._v[layer] = buf_k, buf_v
        buf_k[:, :, start:end] = k  # (B, H, T, d_head)
        buf_v[:, :, start:end] = v  # (B, H, T, d_head)
        return buf_k[:, :, :end], buf_v[:, :, :end]  # (B, H, end, d_head) ×2


# ───────────────────────────────────────────────────────────────────────────── modules


def _layer_norm(cfg: ModelConfig) -> nn.LayerNorm:
    return nn.LayerNorm(cfg.d_model, eps=LAYERNORM_EPS, elementwise_affine=True, bias=cfg.bias)


def sinusoidal_table(length: int, d_model: int) -> Tensor:
    """Fixed positions: even columns sin(pos/10000^(2i/C)), odd columns cos of the same."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    i2 = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(C/2),)
    angle = pos / torch.pow(10000.0, i2 / d_model)  # (T, ceil(C/2))
    table = torch.zeros(length, d_model)  # (T, C)
    table[:, 0::2] = torch.sin(angle)  # (T, ceil(C/2))
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # (T, floor(C/2))
    return table


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        C = cfg.d_model
        self.n_head = cfg.n_head
        self.d_head = C // cfg.n_head
        self.scale = 1.0 / math.sqrt(self.d_head)
        self.c_attn = nn.Linear(C, 3 * C, bias=cfg.bias)  # W_Q | W_K | W_V stacked
        self.c_proj = nn.Linear(C, C, bias=cfg.bias)  # W_O
        self.c_proj.residual_out = True  # scaled init, see GPT._init_weights
        self.dropout = cfg.dropout
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, x: Tensor, *, layer: int, ctx: PassContext  # x: (B, T, C)
    ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor, Tensor] | None]:
        B, T, C = x.shape
        H, D = self.n_head, self.d_head
        qkv = self.c_attn(x)  # (B, T, 3C)
        q, k, v = qkv.split(C, dim=2)  # (B, T, C) ×3
        q = q.view(B, T, H, D).transpose(1, 2)  # (B, H, T, d_head)
        k = k.view(B, T, H, D).transpose(1, 2)  # (B, H, T, d_head)
        v = v.view(B, T, H, D).transpose(1, 2)  # (B, H, T, d_head)
        cache, past, allowed = ctx.cache, ctx.past, ctx.allowed
        if cache is not None:
            k, v = cache.write(layer, k, v, past)  # (B, H, S, d_head) ×2, S = past + T

        weights = None
        if ctx.capture:
            # Manual path: the textbook formula, so the weights shown are the ones used.
            scores = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, T, S)
            scores = scores.masked_fill(~allowed, float("-inf"))  # (B, H, T, S) future keys → -inf
            weights = F.softmax(scores, dim=-1)  # (B, H, T, S) each row sums to 1
            y = self.attn_dropout(weights) @ v  # (B, H, T, d_head) — this IS the layer's output
        else:
            # Fused path. With no cache before this call, is_causal is the mask (T == 1 needs
            # none); one new query after the cache may see every key (allowed is None then);
            # several new queries onto a filled cache need the explicit (T, S) mask.
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed, is_causal=allowed is None and past == 0 and T > 1,
                dropout_p=self.dropout if self.training else 0.0,
            )  # (B, H, T, d_head)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C) heads side by side
        y = self.resid_dropout(self.c_proj(y))  # (B, T, C)
        return y, weights, (q, k, v) if ctx.capture else None


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, 4 * cfg.d_model, bias=cfg.bias)
        self.act = nn.GELU() if cfg.activation == "gelu" else nn.ReLU()
        self.c_proj = nn.Linear(4 * cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.c_proj.residual_out = True
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C)
        h = self.act(self.c_fc(x))  # (B, T, 4C)
        return self.dropout(self.c_proj(h))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm: normalise what goes *into* each branch, add its output to the residual stream."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = _layer_norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = _layer_norm(cfg)
        self.mlp = MLP(cfg)

    def forward(
        self, x: Tensor, *, layer: int, ctx: PassContext  # x: (B, T, C)
    ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor, Tensor] | None]:
        a, weights, qkv = self.attn(self.ln_1(x), layer=layer, ctx=ctx)  # (B, T, C)
        x = x + a  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        return x, weights, qkv


def _loss(logits: Tensor, targets: Tensor | None) -> Tensor | None:  # logits (B, T, V), targets (B, T)
    if targets is None:
        return None
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)  # ()


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        if cfg.arch != "gpt":
            raise ModelError(f"GPT cannot build a {cfg.arch!r} config.")
        self.config = cfg
        C, T = cfg.d_model, cfg.context_length
        self.wte = nn.Embedding(cfg.vocab_size, C)
        if cfg.positional == "learned":
            self.wpe = nn.Embedding(T, C)
        elif cfg.positional == "sinusoidal":  # fixed table: a buffer, not a parameter, and not saved (it is recomputed)
            table = sinusoidal_table(T, C) * cfg.sinusoidal_amplitude  # (T, C)
            self.register_buffer("pos_table", table, persistent=False)  # (T, C)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = _layer_norm(cfg)
        self.lm_head = nn.Linear(C, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.wte.weight  # (V, C) one matrix, read both ways
        # allowed[i, j]: position i may attend to position j <= i; sliced per call, never rebuilt.
        pos = torch.arange(T)  # (T,)
        self.register_buffer("causal", pos[:, None] >= pos[None, :], persistent=False)  # (T, T) lower triangle
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # nanoGPT/GPT-2: N(0, 0.02); the projections that write into the residual stream are
        # shrunk by 1/sqrt(2·n_layer) so the stream's variance does not grow with depth.
        if isinstance(module, nn.Linear):
            std = INIT_STD / math.sqrt(2 * self.config.n_layer) if getattr(module, "residual_out", False) else INIT_STD
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)

    def _positions(self, past: int, T: int) -> Tensor | None:
        """The (T, C) vectors added at positions past..past+T; None for an order-blind model."""
        if self.config.positional == "learned":
            return self.wpe.weight[past : past + T]  # (T, C)
        if self.config.positional == "sinusoidal":
            return self.pos_table[past : past + T]  # (T, C)
        return None

    def forward(
        self,
        idx: Tensor,  # (B, T) token ids
        targets: Tensor | None = None,  # (B, T) next-token ids
        *,
        capture: bool = False,
        capture_head: tuple[int, int] | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> ForwardResult:
        cfg = self.config
        B, T = idx.shape
        if capture_head is not None:
            capture = True
            layer_h, head_h = capture_head
            if not (0 <= layer_h < cfg.n_layer and 0 <= head_h < cfg.n_head):
                raise ModelError(f"There is no head {capture_head} in a model with {cfg.n_layer} layers "
                                 f"of {cfg.n_head} heads.")
        past = 0
        if cache is not None:
            if cache.n_layer != cfg.n_layer:
                raise ModelError(f"This cache was made for {cache.n_layer} layers, the model has {cfg.n_layer}.")
            if cache.capacity is None:
                cache.capacity = cfg.context_length
            past = cache.length
        if T < 1:
            raise ModelError("The model needs at least one token.")
        if past + T > cfg.context_length:
            raise ModelError(
                f"{past + T} tokens do not fit the model's context of {cfg.context_length}.",
                hint="Shorten the input; generation keeps the last half of the window for you.",
            )
        S = past + T
        # allowed[i, j]: query i (position past + i) may see key j. Only the capture path and a
        # multi-token feed onto a filled cache need it; SDPA's is_causal covers the rest.
        allowed = self.causal[past:S, :S] if capture or (past and T > 1) else None  # (T, S)

        ctx = PassContext(cache=cache, past=past, allowed=allowed, capture=capture)
        x = self.wte(idx)  # (B, T, C)
        positions = self._positions(past, T)  # (T, C) or None
        if positions is not None:
            x = x + positions  # (B, T, C)
        x = self.drop(x)  # (B, T, C)
        attention, hidden, qkv = [], [], None
        if capture:
            hidden.append(x[0].detach())  # (T, C)
        for layer, block in enumerate(self.blocks):
            x, weights, layer_qkv = block(x, layer=layer, ctx=ctx)  # (B, T, C)
            if capture:
                # Detached copies for display: the forward pass itself used `weights` above.
                attention.append(weights[0].detach())  # (H, T, S)
                hidden.append(x[0].detach())  # (T, C)
                if capture_head is not None and layer == capture_head[0]:
                    q, k, v = layer_qkv  # (B, H, T|S, d_head)
                    h = capture_head[1]
                    qkv = {"q": q[0, h].detach(), "k": k[0, h].detach(), "v": v[0, h].detach(),
                           "layer": layer, "head": h}  # (T|S, d_head) each
        if cache is not None:
            cache.length = S
        if last_only and targets is None:
            x = x[:, -1:]  # (B, 1, C)
        x = self.ln_f(x)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        return ForwardResult(
            logits=logits,
            loss=_loss(logits, targets),
            attention=torch.stack(attention) if capture else None,  # (n_layer, n_head, T, S)
            qkv=qkv,
            hidden=torch.stack(hidden) if capture else None,  # (n_layer + 1, T, C)
        )

    def token_embeddings(self) -> Tensor:
        """The (V, C) token embedding table, detached (for views that map it)."""
        return self.wte.weight.detach()  # (V, C)

    def position_embeddings(self) -> Tensor | None:
        """The (T, C) vectors added to the tokens at each position: learned, or the fixed
        sinusoids; None for an order-blind model (positional "none")."""
        positions = self._positions(0, self.config.context_length)  # (T, C) or None
        return None if positions is None else positions.detach()


class Bigram(nn.Module):
    """The next token's scores read straight from a row of a V×V table: no context at all."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        if cfg.arch != "bigram":
            raise ModelError(f"Bigram cannot build a {cfg.arch!r} config.")
        self.config = cfg
        self.table = nn.Embedding(cfg.vocab_size, cfg.vocab_size)
        nn.init.normal_(self.table.weight, mean=0.0, std=INIT_STD)  # small: the first loss is ln(V)

    def forward(
        self,
        idx: Tensor,  # (B, T)
        targets: Tensor | None = None,  # (B, T)
        *,
        capture: bool = False,
        capture_head: tuple[int, int] | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> ForwardResult:
        if last_only and targets is None:
            idx = idx[:, -1:]  # (B, 1)
        logits = self.table(idx)  # (B, T, V)
        return ForwardResult(logits=logits, loss=_loss(logits, targets))

    def token_embeddings(self) -> Tensor:
        """The (V, V) table, detached: row i, the next token's scores after token i, is token i's vector."""
        return self.table.weight.detach()  # (V, V)

    def position_embeddings(self) -> None:
        """None: a bigram model does not know where a token stands."""
        return None


def build_model(cfg: ModelConfig) -> nn.Module:
    """A freshly initialised Bigram, GPT or EncoderDecoder (core/seq2seq.py). Refuses one whose
    weights alone would not fit in RAM."""
    cfg.validate()
    check_weights_fit(cfg)
    if cfg.is_encoder_decoder:
        from playground.core.seq2seq import EncoderDecoder  # imports this module: build it lazily

        return EncoderDecoder(cfg)
    return Bigram(cfg) if cfg.arch == "bigram" else GPT(cfg)
