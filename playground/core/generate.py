"""Token-by-token generation and text scoring.

``stream_tokens`` yields one ``TokenStep`` per new token with everything the Generate tab
shows: the token, how likely it was, and the 15 most likely alternatives before and after
temperature / top-k / top-p. A forced token (the student clicked an alternative) is an
argument, not a separate code path.

Context rule (the same with and without the KV cache, so both give identical tokens): the
window holds at most ``context_length`` tokens; when appending a token would exceed that,
the window is cut to its last ``context_length // 2`` tokens (``TokenStep.window_reset``).
With the cache, the cut window is prefilled into the emptied cache in one forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from playground.core.config import SamplingConfig
from playground.core.model import KVCache
from playground.errors import ModelError, TokenizerError

N_ALTERNATIVES = 15
TOP_P_TOLERANCE = 1e-6  # mass "exactly" at top_p after float rounding counts as reached


@dataclass
class TokenStep:
    id: int
    label: str  # readable label of the token (space '·', newline '↵')
    text: str  # what this token adds to the generated text
    prob: float  # probability of the chosen token in the distribution it was sampled from
    alternatives: list[tuple[int, str, float, float]]  # top 15 by p_raw: (id, label, p_raw, p_sampled)
    attention: Tensor | None = None  # (n_layer, n_head, T) attention row of the newest position
    window_reset: bool = False  # the context was cut to its last half after this token
    # Position (in prompt + generated tokens) of the first token the model's window holds once
    # this token is appended: where the text the model still sees begins.
    window_start: int = 0
    forced: bool = False  # the token was given (forced), not sampled


@dataclass
class TextScore:
    ids: list[int]
    labels: list[str]
    losses: list[float]  # -ln p(token | previous ones); the first token has no prediction: nan
    mean_loss: float
    perplexity: float  # exp(mean_loss)


def kept_after_cut(context_length: int) -> int:
    """How many tokens the window keeps when it is cut: the last half (at least one)."""
    return max(1, context_length // 2)


def filter_probs(logits: Tensor, cfg: SamplingConfig) -> Tensor:
    """Probabilities to sample from: temperature, then top-k, then top-p, renormalised.

    ``logits`` (..., V) → probabilities (..., V) in float32; cut tokens get exactly 0.
    Greedy (or temperature 0) is a one-hot on the argmax.
    """
    logits = logits.float()  # (..., V)
    V = logits.size(-1)
    if cfg.greedy or cfg.temperature == 0:
        probs = torch.zeros_like(logits)  # (..., V)
        return probs.scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)  # (..., V) one-hot
    scaled = logits / cfg.temperature  # (..., V)
    if cfg.top_k is not None and cfg.top_k < V:
        keep = torch.topk(scaled, cfg.top_k, dim=-1).indices  # (..., k) exactly k, even with ties
        cut = torch.full_like(scaled, float("-inf"))  # (..., V)
        scaled = cut.scatter(-1, keep, scaled.gather(-1, keep))  # (..., V) only the k best survive
    probs = F.softmax(scaled, dim=-1)  # (..., V)
    if cfg.top_p is not None and cfg.top_p < 1:
        sorted_p, order = probs.sort(dim=-1, descending=True)  # (..., V) ×2
        before = sorted_p.cumsum(dim=-1) - sorted_p  # (..., V) mass of the tokens ranked above
        # Keep the smallest top set reaching top_p: a token stays if the mass above it is short.
        drop_sorted = before >= cfg.top_p - TOP_P_TOLERANCE  # (..., V)
        drop_sorted[..., 0] = False  # the most likely token always stays
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # (..., V) back in id order
        probs = probs.masked_fill(drop, 0.0)  # (..., V)
        probs = probs / probs.sum(dim=-1, keepdim=True)  # (..., V)
    return probs


def _model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _prompt_ids(tokenizer: Any, prompt: str | Sequence[int], vocab_size: int) -> list[int]:
    if isinstance(prompt, str):
        kind = getattr(tokenizer, "kind", "")
        spans = tokenizer.unknown_spans(prompt) if hasattr(tokenizer, "unknown_spans") and kind != "word" else []
        if spans:  # the word tokenizer maps unknown words to <unk> instead
            unknown = sorted({prompt[a:b] for a, b in spans})
            shown = ", ".join(repr(u) for u in unknown[:8]) + (" ..." if len(unknown) > 8 else "")
            raise TokenizerError(f"The prompt contains characters this model never saw: {shown}.",
                                 hint="Remove or replace them; the model can only read tokens from its training text.")
        ids = list(tokenizer.encode(prompt))
    else:
        ids = [int(i) for i in prompt]
    if not ids:
        raise TokenizerError("The prompt is empty: the model needs at least one token to continue from.",
                             hint="Type a few characters to start from.")
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise TokenizerError(f"Token id {bad[0]} is outside this model's vocabulary of {vocab_size}.")
    return ids


class _Labels:
    """token_label with a memo: 15 alternatives per step would otherwise relabel the same ids."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self._memo: dict[int, str] = {}

    def __call__(self, token_id: int) -> str:
        label = self._memo.get(token_id)
        if label is None:
            label = self._memo[token_id] = self._tokenizer.token_label(token_id)
        return label


def choose_token(logits: Tensor, cfg: SamplingConfig, forced_id: int | None, *, plain: bool, greedy: bool,
                 gen: torch.Generator | None, label) -> tuple[int, bool, float, list]:
    """One step's choice from the last position's ``logits`` (V,): the forced id, the argmax or a
    sample after the filters; returns (token, was_forced, its probability after the filters, the
    top alternatives as (id, label, model's probability, probability after the filters))."""
    p_raw = F.softmax(logits, dim=-1)  # (V,) the model's own distribution (T = 1)
    probs = p_raw if plain else filter_probs(logits, cfg)  # (V,)
    if forced_id is not None:
        token, was_forced = int(forced_id), True
    elif greedy:
        token, was_forced = int(probs.argmax()), False
    else:
        token, was_forced = int(torch.multinomial(probs, 1, generator=gen)), False
    top = torch.topk(p_raw, min(N_ALTERNATIVES, logits.shape[-1]))  # values, indices: (15,) each
    top_sampled = probs[top.indices]  # (15,) the same tokens after the filters
    alternatives = [(i, label(i), pr, ps)
                    for i, pr, ps in zip(top.indices.tolist(), top.values.tolist(), top_sampled.tolist())]
    return token, was_forced, float(probs[token]), alternatives


def _refuse_encoder_decoder(model: torch.nn.Module) -> None:
    """A translation model continues no text: it needs a source sentence (core/translate.py)."""
    if getattr(model.config, "is_encoder_decoder", False):
        raise ModelError("This run is an encoder-decoder: it translates a source sentence, it does not "
                         "continue a text.", "Type a source sentence to translate instead.")


def stream_tokens(
    model: torch.nn.Module,
    tokenizer: Any,
    prompt: str | list[int],
    cfg: SamplingConfig,
    *,
    forced: Mapping[int, int] | None = None,
    use_cache: bool = True,
    stop: Any | None = None,
    capture_attention: bool = False,
) -> Iterator[TokenStep]:
    """Yield one TokenStep per generated token (see the module docstring for the context rule).

    ``forced`` maps a step index (0 = first new token) to the token id to use there instead
    of sampling. ``stop`` is polled before every step (anything with ``is_set()``). The
    model is put in eval mode for the duration and restored afterwards.
    """
    cfg.validate()
    _refuse_encoder_decoder(model)
    mcfg = model.config
    V, ctx = mcfg.vocab_size, mcfg.context_length
    forced = dict(forced or {})
    for step_index, token_id in forced.items():
        if not 0 <= int(token_id) < V:
            raise ModelError(f"Forced token id {token_id} (step {step_index}) is outside the vocabulary of {V}.")
    prompt_ids = _prompt_ids(tokenizer, prompt, V)
    window = prompt_ids[-ctx:]
    window_start = len(prompt_ids) - len(window)
    keep = kept_after_cut(ctx)
    is_gpt = mcfg.arch == "gpt"
    capture = capture_attention and is_gpt
    device = _model_device(model)
    # Sampling happens on the CPU with its own generator: a seed gives the same text on any device.
    gen = torch.Generator()
    if cfg.seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(cfg.seed))
    greedy = cfg.greedy or cfg.temperature == 0
    plain = not greedy and cfg.temperature == 1 and cfg.top_k is None and (cfg.top_p is None or cfg.top_p >= 1)
    label = _Labels(tokenizer)

    was_training = model.training
    model.eval()
    cache = KVCache(mcfg.n_layer, capacity=ctx) if use_cache and is_gpt else None
    pending = list(window)  # tokens the cache has not seen yet
    generated: list[int] = []
    emitted = ""  # decoded text already handed out in TokenStep.text
    try:
        for step in range(cfg.max_new_tokens):
            if stop is not None and stop.is_set():
                return
            # inference_mode is thread-local state: enter it per step, never across a yield,
            # or the consumer's own code (a training step...) would run inside it.
            with torch.inference_mode():
                feed = pending if cache is not None else window
                x = torch.tensor([feed], dtype=torch.long, device=device)  # (1, T)
                out = model(x, cache=cache, capture=capture, last_only=True)
                logits = out.logits[0, -1].float().cpu()  # (V,)
                token, was_forced, prob, alternatives = choose_token(
                    logits, cfg, forced.get(step), plain=plain, greedy=greedy, gen=gen, label=label)
                row = out.attention[:, :, -1, :].float().cpu() if capture else None  # (n_layer, n_head, T)
            # Cloned outside inference mode: the caller gets an ordinary tensor it may modify.
            attention = row.clone() if row is not None else None  # (n_layer, n_head, T)

            generated.append(token)
            reset = len(window) + 1 > ctx
            if reset:
                window = (window + [token])[-keep:]
                window_start = len(prompt_ids) + len(generated) - keep
                pending = list(window)
                if cache is not None:
                    cache.reset()
            else:
                window.append(token)
                pending = [token]

            decoded = tokenizer.decode(generated)
            stable = decoded.rstrip("\ufffd")  # a multi-byte character still half-way: wait for the rest
            if stable.startswith(emitted):
                text = stable[len(emitted):]
            else:  # the decoder re-joined earlier text differently: fall back to the token alone
                text = tokenizer.decode([token])
            emitted = stable
            yield TokenStep(
                id=token,
                label=label(token),
                text=text,
                prob=prob,
                alternatives=alternatives,
                attention=attention,
                window_reset=reset,
                window_start=window_start,
                forced=was_forced,
            )
            if cfg.stop_text and cfg.stop_text in decoded:
                return
    finally:
        model.train(was_training)


def score_text(model: torch.nn.Module, tokenizer: Any, text: str | list[int]) -> TextScore:
    """How surprised the model is by each token of ``text``: -ln p(token | the tokens before).

    Texts longer than the context are scored in sliding windows: each later window starts
    half a context back, so every token is predicted from at least context_length // 2
    previous tokens (the first window's tokens from all before them).
    """
    _refuse_encoder_decoder(model)
    mcfg = model.config
    ctx = mcfg.context_length
    ids = list(tokenizer.encode(text)) if isinstance(text, str) else [int(i) for i in text]
    if any(not 0 <= i < mcfg.vocab_size for i in ids):
        raise TokenizerError(f"The text has token ids outside this model's vocabulary of {mcfg.vocab_size}.")
    labels = [tokenizer.token_label(i) for i in ids]
    n = len(ids)
    losses = [math.nan] * n
    device = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            nxt = 1  # the next target position without a loss yet
            start = 0
            while nxt < n:
                end = min(start + ctx, n - 1)  # inputs ids[start:end] predict ids[start+1:end+1]
                x = torch.tensor([ids[start:end]], dtype=torch.long, device=device)  # (1, T)
                y = torch.tensor(ids[start + 1 : end + 1], dtype=torch.long, device=device)  # (T,)
                logits = model(x).logits[0].float()  # (T, V)
                nll = F.cross_entropy(logits, y, reduction="none").cpu().tolist()  # (T,)
                for j in range(max(nxt, start + 1), end + 1):
                    losses[j] = nll[j - start - 1]
                nxt = end + 1
                start = max(0, nxt - (ctx - ctx // 2))  # the next target sees ≥ ctx // 2 tokens before it
    finally:
        model.train(was_training)
    scored = [v for v in losses if not math.isnan(v)]
    mean = sum(scored) / len(scored) if scored else math.nan
    return TextScore(ids=ids, labels=labels, losses=losses, mean_loss=mean,
                     perplexity=math.exp(mean) if scored else math.nan)
