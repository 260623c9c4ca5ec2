"""The original transformer: an encoder that reads the whole source, a decoder that writes the target.

    source ─> embedding (+ position) ─> [LN ─> self-attention (no mask) ─> +] ─> [LN ─> MLP ─> +] ×L ─> LN ─> memory
    target ─> embedding (+ position) ─> [LN ─> masked self-attention ─> +]
                                     ─> [LN ─> cross-attention to the memory ─> +] ─> [LN ─> MLP ─> +] ×L
                                     ─> LN ─> unembedding ─> logits of the next target token

The encoder's attention has no mask: every source token sees every other one, so the first output
already depends on the last word. The decoder's self-attention is causal as in a GPT; its
cross-attention lets each target position look at every source token: a row of those weights is
where the model "reads" while writing that token (what the alignment score measures).

One tokenizer reads both sides and one embedding table serves both. Ids below 0 are padding:
padded source tokens are masked out as keys (weight exactly 0), padded target positions come after
the real ones, so the causal mask already hides them, and their targets (-1) add no loss.

As in ``model.GPT`` each attention has a fast path (``F.scaled_dot_product_attention``) and a
capture path that writes the formula out and returns the very weights it used; the two agree
(tests/core/test_seq2seq.py). Generation runs the encoder once (``encode``), then feeds the decoder
one token at a time with a ``DecoderCache``: the decoder's own keys/values grow by one position per
token, the cross-attention keys/values of the memory are projected once per layer and reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from playground.core.config import ModelConfig
from playground.core.model import INIT_STD, MLP, ForwardResult, KVCache, _layer_norm, _loss, sinusoidal_table
from playground.errors import ModelError

PAD = -1  # padding id in batches (source, target input and target output alike)


@dataclass
class Memory:
    """The encoder's output for a batch of sources: computed once, read by every decoder step."""

    out: Tensor  # (B, S, C) after the encoder's final LayerNorm
    ok: Tensor  # (B, S) bool, False at padding
    mask: Tensor | None  # (B, 1, 1, S) bool keys that may be attended to; None when nothing is padded
    attention: Tensor | None = None  # (n_layer, n_head, S, S) encoder self-attention of item 0 (capture)


@dataclass
class Seq2SeqResult(ForwardResult):
    """``attention`` is the decoder's self-attention (n_layer, n_head, T, T_all) of batch item 0."""

    cross_attention: Tensor | None = None  # (n_layer, n_head, T, S) target positions × source tokens
    encoder_attention: Tensor | None = None  # (n_layer, n_head, S, S)


class DecoderCache:
    """What the decoder keeps between generation steps: its own keys/values (a ``KVCache``) and
    the cross-attention keys/values of one memory, projected on first use and then reused."""

    def __init__(self, n_layer: int, memory: Memory, capacity: int) -> None:
        self.memory = memory
        self.self_kv = KVCache(n_layer, capacity=capacity)
        self.cross: list[tuple[Tensor, Tensor] | None] = [None] * n_layer  # (B, H, S, d_head) ×2 per layer

    @property
    def length(self) -> int:
        return self.self_kv.length

    def reset(self) -> None:
        """Forget the target written so far; the memory's keys/values stay valid."""
        self.self_kv.reset()


def _attend(q: Tensor, k: Tensor, v: Tensor, allowed: Tensor | None, *, capture: bool, is_causal: bool,
            dropout: nn.Dropout, scale: float) -> tuple[Tensor, Tensor | None]:
    """softmax(q kᵀ / √d + mask) v on either path. q (B, H, T, d), k/v (B, H, S, d); ``allowed``
    broadcasts to (B, H, T, S) (True: may attend) or is None with ``is_causal`` saying the rest."""
    if capture:  # callers pass the causal mask explicitly here (is_causal is for the fused path)
        scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T, S)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))  # (B, H, T, S)
        weights = F.softmax(scores, dim=-1)  # (B, H, T, S) each row sums to 1
        return dropout(weights) @ v, weights  # (B, H, T, d), (B, H, T, S)
    p = dropout.p if dropout.training else 0.0
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, is_causal=is_causal, dropout_p=p)  # (B, H, T, d)
    return y, None


class Attention(nn.Module):
    """Multi-head attention. Self-attention projects q, k, v from one input (``c_attn``, stacked
    W_Q | W_K | W_V as in the GPT); cross-attention takes q from the decoder (``q_proj``) and k, v
    from the encoder's memory (``kv_proj``, W_K | W_V)."""

    def __init__(self, cfg: ModelConfig, *, cross: bool) -> None:
        super().__init__()
        C = cfg.d_model
        self.n_head, self.d_head = cfg.n_head, C // cfg.n_head
        self.scale = 1.0 / math.sqrt(self.d_head)
        self.cross = cross
        if cross:
            self.q_proj = nn.Linear(C, C, bias=cfg.bias)
            self.kv_proj = nn.Linear(C, 2 * C, bias=cfg.bias)
        else:
            self.c_attn = nn.Linear(C, 3 * C, bias=cfg.bias)
        self.c_proj = nn.Linear(C, C, bias=cfg.bias)  # W_O
        self.c_proj.residual_out = True
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def _heads(self, t: Tensor) -> Tensor:  # (B, T, C) -> (B, H, T, d_head)
        B, T, _ = t.shape
        return t.view(B, T, self.n_head, self.d_head).transpose(1, 2)  # (B, H, T, d_head)

    def memory_kv(self, memory: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of the memory (B, S, C): (B, H, S, d_head) ×2."""
        k, v = self.kv_proj(memory).split(memory.size(-1), dim=2)  # (B, S, C) ×2
        return self._heads(k), self._heads(v)  # (B, H, S, d_head) ×2

    def _out(self, y: Tensor) -> Tensor:  # (B, H, T, d_head) -> (B, T, C)
        B, H, T, D = y.shape
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, H * D)))  # (B, T, C)

    def self_attend(self, x: Tensor, allowed: Tensor | None, *, capture: bool, causal: bool,
                    cache: KVCache | None = None, layer: int = 0) -> tuple[Tensor, Tensor | None]:
        """x (B, T, C). Encoder: ``allowed`` is the padding mask, not causal. Decoder: causal,
        optionally continuing a cache (then ``allowed`` is the (T, S) mask when T > 1)."""
        q, k, v = (self._heads(t) for t in self.c_attn(x).split(x.size(-1), dim=2))  # (B, H, T, d_head) ×3
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.write(layer, k, v, past)  # (B, H, past + T, d_head) ×2
        T = q.size(2)
        # No mask given: the first call's causal mask is SDPA's is_causal; one query after the cache may see all.
        is_causal = causal and allowed is None and past == 0 and T > 1
        y, weights = _attend(q, k, v, allowed, capture=capture, is_causal=is_causal,
                             dropout=self.attn_dropout, scale=self.scale)  # (B, H, T, d_head)
        return self._out(y), weights  # (B, T, C), (B, H, T, S) or None

    def cross_attend(self, x: Tensor, kv: tuple[Tensor, Tensor], allowed: Tensor | None, *,
                     capture: bool) -> tuple[Tensor, Tensor | None]:
        """x (B, T, C) decoder positions; kv the memory's (B, H, S, d_head) keys and values."""
        q = self._heads(self.q_proj(x))  # (B, H, T, d_head)
        y, weights = _attend(q, kv[0], kv[1], allowed, capture=capture, is_causal=False,
                             dropout=self.attn_dropout, scale=self.scale)  # (B, H, T, d_head)
        return self._out(y), weights  # (B, T, C), (B, H, T, S) or None


class EncoderBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1, self.attn = _layer_norm(cfg), Attention(cfg, cross=False)
        self.ln_2, self.mlp = _layer_norm(cfg), MLP(cfg)

    def forward(self, x: Tensor, mask: Tensor | None, capture: bool) -> tuple[Tensor, Tensor | None]:
        a, weights = self.attn.self_attend(self.ln_1(x), mask, capture=capture, causal=False)  # (B, S, C)
        x = x + a  # (B, S, C)
        return x + self.mlp(self.ln_2(x)), weights  # (B, S, C)


class DecoderBlock(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1, self.attn = _layer_norm(cfg), Attention(cfg, cross=False)
        self.ln_2, self.cross = _layer_norm(cfg), Attention(cfg, cross=True)
        self.ln_3, self.mlp = _layer_norm(cfg), MLP(cfg)

    def forward(self, x: Tensor, memory: Memory, *, layer: int, allowed: Tensor | None, capture: bool,
                cache: DecoderCache | None) -> tuple[Tensor, Tensor | None, Tensor | None]:
        a, self_w = self.attn.self_attend(self.ln_1(x), allowed, capture=capture, causal=True,
                                          cache=None if cache is None else cache.self_kv, layer=layer)
        x = x + a  # (B, T, C)
        if cache is not None:
            if cache.cross[layer] is None:
                cache.cross[layer] = self.cross.memory_kv(memory.out)  # once per input, not per token
            kv = cache.cross[layer]
        else:
            kv = self.cross.memory_kv(memory.out)  # (B, H, S, d_head) ×2
        c, cross_w = self.cross.cross_attend(self.ln_2(x), kv, memory.mask, capture=capture)  # (B, T, C)
        x = x + c  # (B, T, C)
        return x + self.mlp(self.ln_3(x)), self_w, cross_w  # (B, T, C)


class EncoderDecoder(nn.Module):
    """Sizes from the usual ModelConfig: ``n_layer`` blocks in EACH stack; ``context_length`` is the
    longest source and the longest target (start token included)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        if not cfg.is_encoder_decoder:
            raise ModelError(f"EncoderDecoder cannot build a {cfg.arch!r} config.")
        self.config = cfg
        C, T = cfg.d_model, cfg.context_length
        self.wte = nn.Embedding(cfg.vocab_size, C)  # one table: both sides share the tokenizer
        if cfg.positional == "learned":
            self.enc_wpe = nn.Embedding(T, C)
            self.dec_wpe = nn.Embedding(T, C)
        elif cfg.positional == "sinusoidal":  # one fixed table for both, as in the original paper
            self.register_buffer("pos_table", sinusoidal_table(T, C) * cfg.sinusoidal_amplitude,
                                 persistent=False)  # (T, C)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_enc = _layer_norm(cfg)
        self.decoder = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = _layer_norm(cfg)
        self.lm_head = nn.Linear(C, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.wte.weight  # (V, C)
        pos = torch.arange(T)  # (T,)
        self.register_buffer("causal", pos[:, None] >= pos[None, :], persistent=False)  # (T, T)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # As the GPT's (nanoGPT): N(0, 0.02), residual projections shrunk with depth (both stacks).
        if isinstance(module, nn.Linear):
            residual = getattr(module, "residual_out", False)
            std = INIT_STD / math.sqrt(2 * self.config.n_layer) if residual else INIT_STD
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)

    def _positions(self, table: str, past: int, T: int) -> Tensor | None:
        """(T, C) position vectors for positions past..past+T of the encoder or decoder side."""
        if self.config.positional == "learned":
            return getattr(self, table).weight[past : past + T]  # (T, C)
        if self.config.positional == "sinusoidal":
            return self.pos_table[past : past + T]  # (T, C)
        return None

    def _embed(self, ids: Tensor, table: str, past: int) -> Tensor:  # ids (B, T) -> (B, T, C)
        x = self.wte(ids.clamp(min=0))  # (B, T, C) padding reads row 0; masks make it harmless
        positions = self._positions(table, past, ids.size(1))  # (T, C) or None
        if positions is not None:
            x = x + positions  # (B, T, C)
        return self.drop(x)  # (B, T, C)

    def _check_length(self, n: int, what: str) -> None:
        if n < 1:
            raise ModelError(f"The {what} needs at least one token.")
        if n > self.config.context_length:
            raise ModelError(f"{n} {what} tokens do not fit the model's context of {self.config.context_length}.",
                             hint="Shorten the sentence, or train a model with a longer context.")

    def encode(self, src: Tensor, *, capture: bool = False) -> Memory:
        """Run the encoder once over ``src`` (B, S) ids (-1 = padding)."""
        self._check_length(src.size(1), "source")
        ok = src >= 0  # (B, S)
        mask = None if bool(ok.all()) else ok[:, None, None, :]  # (B, 1, 1, S)
        x = self._embed(src, "enc_wpe", 0)  # (B, S, C)
        attention = []
        for block in self.encoder:
            x, weights = block(x, mask, capture)  # (B, S, C)
            if capture:
                attention.append(weights[0].detach())  # (H, S, S)
        return Memory(out=self.ln_enc(x), ok=ok, mask=mask,
                      attention=torch.stack(attention) if capture else None)  # out (B, S, C)

    def new_cache(self, memory: Memory) -> DecoderCache:
        return DecoderCache(self.config.n_layer, memory, self.config.context_length)

    def decode(self, tgt: Tensor, memory: Memory, targets: Tensor | None = None, *, capture: bool = False,
               cache: DecoderCache | None = None, last_only: bool = False) -> Seq2SeqResult:
        """Decoder logits for ``tgt`` (B, T) (start token first) reading ``memory``. With a cache,
        ``tgt`` continues what the cache holds (usually one new token)."""
        if cache is not None and cache.memory is not memory:
            raise ModelError("This decoder cache belongs to another input.", hint="Make a new cache per input.")
        past = cache.length if cache is not None else 0
        T = tgt.size(1)
        self._check_length(past + T, "target")
        S = past + T
        # The causal mask only where SDPA's is_causal cannot say it: capture, or several tokens onto a cache.
        allowed = self.causal[past:S, :S] if capture or (past and T > 1) else None  # (T, S)
        x = self._embed(tgt, "dec_wpe", past)  # (B, T, C)
        self_att, cross_att, hidden = [], [], []
        if capture:
            hidden.append(x[0].detach())  # (T, C)
        for layer, block in enumerate(self.decoder):
            x, self_w, cross_w = block(x, memory, layer=layer, allowed=allowed, capture=capture, cache=cache)
            if capture:
                self_att.append(self_w[0].detach())  # (H, T, S_self)
                cross_att.append(cross_w[0].detach())  # (H, T, S_src)
                hidden.append(x[0].detach())  # (T, C)
        if cache is not None:
            cache.self_kv.length = S
        if last_only and targets is None:
            x = x[:, -1:]  # (B, 1, C)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        return Seq2SeqResult(
            logits=logits, loss=_loss(logits, targets),
            attention=torch.stack(self_att) if capture else None,  # (n_layer, n_head, T, S_self)
            hidden=torch.stack(hidden) if capture else None,  # (n_layer + 1, T, C)
            cross_attention=torch.stack(cross_att) if capture else None,  # (n_layer, n_head, T, S_src)
            encoder_attention=memory.attention,  # (n_layer, n_head, S_src, S_src) or None
        )

    def forward(self, src: Tensor, tgt: Tensor, targets: Tensor | None = None, *, capture: bool = False,
                last_only: bool = False) -> Seq2SeqResult:
        """Training and evaluation: ``model(src, tgt_in, tgt_out)`` — (B, S), (B, T), (B, T)."""
        return self.decode(tgt, self.encode(src, capture=capture), targets, capture=capture, last_only=last_only)

    def token_embeddings(self) -> Tensor:
        return self.wte.weight.detach()  # (V, C)

    def position_embeddings(self) -> Tensor | None:
        """The encoder's (T, C) position vectors; None for an order-blind model."""
        positions = self._positions("enc_wpe", 0, self.config.context_length)  # (T, C) or None
        return None if positions is None else positions.detach()

    def decoder_position_embeddings(self) -> Tensor | None:
        positions = self._positions("dec_wpe", 0, self.config.context_length)  # (T, C) or None
        return None if positions is None else positions.detach()
