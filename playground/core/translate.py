"""Translating with an encoder-decoder, token by token, and scoring its translations.

``translation_steps`` is ``generate.stream_tokens`` for a source sentence: the encoder reads the
source once, then the decoder writes one token per step from the start token, with the KV cache,
until it writes the end token. Each ``TranslationStep`` carries what the Generate tab shows for a
GPT (probability, 15 alternatives) plus the cross-attention row of the new token: which source
tokens it read while being written.

``exact_match`` and ``alignment_score`` are the issue's two figures (``playground bench translate``):
the share of validation sentences translated exactly, and the share of target words whose
cross-attention (last layer, heads averaged, summed over the word's tokens) peaks on the source
word the word was made from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from playground.core.config import SamplingConfig
from playground.core.generate import TokenStep, _Labels, _model_device, _prompt_ids, choose_token
from playground.core.pairs import Pair, specials
from playground.errors import ModelError

EXACT_BATCH = 128  # sentences translated together by exact_match


@dataclass
class TranslationStep(TokenStep):
    """``attention`` is the decoder's self-attention row (n_layer, n_head, t) of this step."""

    cross_attention: Tensor | None = None  # (n_layer, n_head, S) this token's row over the source tokens
    done: bool = False  # this is the end token: the translation is complete (its text is "")

    @property
    def source_focus(self) -> Tensor | None:
        """(S,) where this token read in the source: the last layer's cross-attention, heads
        averaged (what the alignment score measures); None without capture_attention."""
        return None if self.cross_attention is None else self.cross_attention[-1].mean(dim=0)  # (S,)


@dataclass
class PairAttention:
    """Every attention of one pair, batch item 0 of a capture pass (the Attention tab's numbers)."""

    source_labels: list[str]
    target_labels: list[str]  # the decoder's inputs: the start token, then the target's tokens
    target: str  # the target read (the model's own greedy translation when none was given)
    encoder: Tensor  # (n_layer, n_head, S, S) full squares: no mask
    decoder: Tensor  # (n_layer, n_head, T, T) lower triangles
    cross: Tensor  # (n_layer, n_head, T, S) row i: where decoder position i read in the source


def _require_seq2seq(model: torch.nn.Module) -> None:
    if not model.config.is_encoder_decoder:
        raise ModelError("This model is a GPT: it continues a text rather than translating one.",
                         hint="Train an encoder-decoder (playground train --arch encoder-decoder).")


def source_tokens(tokenizer, source: str, vocab_size: int | None = None) -> tuple[list[int], list[str]]:
    """The source's token ids and readable labels; refuses characters the tokenizer never saw."""
    ids = _prompt_ids(tokenizer, source, vocab_size or tokenizer.vocab_size)
    return ids, [tokenizer.token_label(i) for i in ids]


def _check_source(model, n: int) -> None:
    ctx = model.config.context_length
    if n > ctx:
        raise ModelError(f"The source has {n} tokens; this model reads at most {ctx}.",
                         hint="Type a shorter sentence.")


def translation_steps(
    model: torch.nn.Module,
    tokenizer,
    source: str | Sequence[int],
    cfg: SamplingConfig,
    *,
    forced: Mapping[int, int] | None = None,
    use_cache: bool = True,
    stop=None,
    capture_attention: bool = False,
) -> Iterator[TranslationStep]:
    """One TranslationStep per output token; the last one is the end token (``done``) unless
    ``cfg.max_new_tokens`` or the context (``context_length`` output tokens) runs out first.
    ``forced`` maps a step index to a token id to write there; ``stop`` is polled before each step."""
    cfg.validate()
    _require_seq2seq(model)
    mcfg = model.config
    V, ctx = mcfg.vocab_size, mcfg.context_length
    start, end = specials(tokenizer)
    forced = dict(forced or {})
    src_ids = _prompt_ids(tokenizer, source, V)
    _check_source(model, len(src_ids))
    device = _model_device(model)
    gen = torch.Generator()
    gen.manual_seed(int(cfg.seed)) if cfg.seed is not None else gen.seed()
    greedy = cfg.greedy or cfg.temperature == 0
    plain = not greedy and cfg.temperature == 1 and cfg.top_k is None and (cfg.top_p is None or cfg.top_p >= 1)
    label = _Labels(tokenizer)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            src = torch.tensor([src_ids], dtype=torch.long, device=device)  # (1, S)
            memory = model.encode(src)  # out (1, S, C): once per input
            cache = model.new_cache(memory) if use_cache else None
        written = [start]
        generated: list[int] = []
        emitted = ""
        for step in range(min(cfg.max_new_tokens, ctx)):
            if stop is not None and stop.is_set():
                return
            with torch.inference_mode():  # per step, never across a yield (thread-local state)
                feed = written[-1:] if cache is not None else written
                x = torch.tensor([feed], dtype=torch.long, device=device)  # (1, T)
                out = model.decode(x, memory, cache=cache, capture=capture_attention, last_only=True)  # (1, 1, V)
                logits = out.logits[0, -1].float().cpu()  # (V,)
                token, was_forced, prob, alternatives = choose_token(
                    logits, cfg, forced.get(step), plain=plain, greedy=greedy, gen=gen, label=label)
                self_row = out.attention[:, :, -1, :].float().cpu() if capture_attention else None  # (L, H, t)
                cross_row = out.cross_attention[:, :, -1, :].float().cpu() if capture_attention else None  # (L, H, S)
            written.append(token)
            done = token == end
            text = ""
            if not done:
                generated.append(token)
                decoded = tokenizer.decode(generated)
                stable = decoded.rstrip("\ufffd")  # half a multi-byte character: wait for the rest
                text = stable[len(emitted):] if stable.startswith(emitted) else tokenizer.decode([token])
                emitted = stable
            yield TranslationStep(
                id=token, label=label(token), text=text, prob=prob, alternatives=alternatives,
                attention=None if self_row is None else self_row.clone(), forced=was_forced,
                window_start=0, cross_attention=None if cross_row is None else cross_row.clone(), done=done)
            if done or (cfg.stop_text and cfg.stop_text in emitted):
                return
    finally:
        model.train(was_training)


def translate(model: torch.nn.Module, tokenizer, source: str, *, max_tokens: int | None = None) -> str:
    """The greedy translation of ``source`` (without the end token)."""
    n = max_tokens if max_tokens is not None else model.config.context_length
    steps = translation_steps(model, tokenizer, source, SamplingConfig(greedy=True, max_new_tokens=n))
    return "".join(s.text for s in steps)


def sample_translation(model: torch.nn.Module, tokenizer, source: str, max_tokens: int) -> str:
    """The trainer's sample for an encoder-decoder run: a source and its greedy translation."""
    return f"{source} → {translate(model, tokenizer, source, max_tokens=max_tokens)}"


@torch.inference_mode()
def translate_batch(model: torch.nn.Module, tokenizer, sources: Sequence[str]) -> list[str]:
    """Greedy translations of many sources at once (padded batch, KV cache): for the scores."""
    _require_seq2seq(model)
    start, end = specials(tokenizer)
    ctx, device = model.config.context_length, _model_device(model)
    rows = [list(tokenizer.encode(s)) for s in sources]
    for r in rows:
        _check_source(model, len(r))
    src = torch.full((len(rows), max(len(r) for r in rows)), -1, dtype=torch.long)  # (B, S) -1 = padding
    for i, r in enumerate(rows):
        src[i, : len(r)] = torch.tensor(r)  # (len,)
    was_training = model.training
    model.eval()
    try:
        memory = model.encode(src.to(device))  # out (B, S, C)
        cache = model.new_cache(memory)
        token = torch.full((len(rows), 1), start, dtype=torch.long, device=device)  # (B, 1)
        out_ids = []
        finished = torch.zeros(len(rows), dtype=torch.bool, device=device)  # (B,)
        for _ in range(ctx):
            logits = model.decode(token, memory, cache=cache, last_only=True).logits[:, -1]  # (B, V)
            token = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            out_ids.append(token[:, 0])  # (B,)
            finished |= token[:, 0] == end  # (B,)
            if bool(finished.all()):
                break
    finally:
        model.train(was_training)
    ids = torch.stack(out_ids, dim=1).cpu().tolist()  # (B, steps)
    return [tokenizer.decode(r[: r.index(end)] if end in r else r) for r in ids]


def exact_match(model: torch.nn.Module, tokenizer, pairs: Sequence[Pair]) -> float:
    """The share of ``pairs`` whose greedy translation is exactly the target."""
    if not pairs:
        return float("nan")
    right = 0
    for i in range(0, len(pairs), EXACT_BATCH):
        chunk = pairs[i : i + EXACT_BATCH]
        got = translate_batch(model, tokenizer, [p.source for p in chunk])
        right += sum(g == p.target for g, p in zip(got, chunk))
    return right / len(pairs)


@torch.inference_mode()
def pair_attention(model: torch.nn.Module, tokenizer, source: str, target: str | None = None) -> PairAttention:
    """Encoder, decoder and cross-attention of one pair (the model's own translation when
    ``target`` is None), from one capture pass over the start token and the target."""
    _require_seq2seq(model)
    if target is None:
        target = translate(model, tokenizer, source)
    start, _end = specials(tokenizer)
    src_ids, src_labels = source_tokens(tokenizer, source, model.config.vocab_size)
    _check_source(model, len(src_ids))
    tgt_ids = [start] + (list(tokenizer.encode(target)) if target else [])
    tgt_ids = tgt_ids[: model.config.context_length]
    device = _model_device(model)
    was_training = model.training
    model.eval()
    try:
        src = torch.tensor([src_ids], device=device)  # (1, S)
        tgt = torch.tensor([tgt_ids], device=device)  # (1, T)
        out = model(src, tgt, capture=True)  # logits (1, T, V), attention of item 0
    finally:
        model.train(was_training)
    return PairAttention(
        source_labels=src_labels, target_labels=[tokenizer.token_label(i) for i in tgt_ids], target=target,
        encoder=out.encoder_attention.float().cpu(),  # (L, H, S, S)
        decoder=out.attention.float().cpu(),  # (L, H, T, T)
        cross=out.cross_attention.float().cpu())  # (L, H, T, S)


def word_of_tokens(tokenizer, text: str, ids: Sequence[int]) -> list[int | None]:
    """For each token of ``ids`` (the encoding of ``text``), the index of the whitespace-separated
    word it belongs to; None for a token that is only whitespace."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    out: list[int | None] = []
    at = 0
    for k in range(len(ids)):
        end = min(len(text), len(tokenizer.decode(list(ids[: k + 1]))))
        first = next((i for i in range(at, end) if not text[i].isspace()), None)  # the token's first letter
        word = None if first is None else next(w for w, (a, b) in enumerate(spans) if a <= first < b)
        out.append(word)
        at = end
    return out


def alignment_hits(model: torch.nn.Module, tokenizer, source: str, target: str,
                   align: Sequence[int]) -> list[bool]:
    """Per target word: does its cross-attention (last layer, heads averaged, summed over the rows
    that write the word's tokens, summed over each source word's tokens) peak on source word
    ``align[j]``? Read while the decoder is fed the reference target (teacher forcing)."""
    pa = pair_attention(model, tokenizer, source, target)
    rows = pa.cross[-1].mean(dim=0)  # (T, S) last layer, heads averaged
    src_ids = list(tokenizer.encode(source))
    tgt_ids = list(tokenizer.encode(target))
    src_words = word_of_tokens(tokenizer, source, src_ids)
    tgt_words = word_of_tokens(tokenizer, target, tgt_ids)
    n_src = len(source.split())
    hits = []
    for j, want in enumerate(align):
        # Row k of the decoder (input: start + target[:k]) is the one that writes target token k.
        mine = [k for k, w in enumerate(tgt_words) if w == j and k < rows.shape[0]]
        if not mine:
            hits.append(False)
            continue
        over_tokens = rows[mine].sum(dim=0)  # (S,)
        per_word = torch.zeros(n_src)  # (n_src,)
        for s, w in enumerate(src_words):
            if w is not None:
                per_word[w] += over_tokens[s]
        hits.append(int(per_word.argmax()) == want)
    return hits


def alignment_score(model: torch.nn.Module, tokenizer, sentences) -> float:
    """The share of target words whose cross-attention peaks on their source word, over
    ``sentences`` (objects with ``source``, ``target`` and ``align``: robot_language.RobotSentence)."""
    hits = [h for s in sentences for h in alignment_hits(model, tokenizer, s.source, s.target, s.align)]
    return sum(hits) / len(hits) if hits else float("nan")


def print_translation(model: torch.nn.Module, tokenizer, source: str, cfg: SamplingConfig, out) -> int:
    """`playground generate` on an encoder-decoder run: ``source`` is the sentence to translate;
    the translation goes to ``out`` token by token as it is written, then a newline. Exit code 0."""
    for step in translation_steps(model, tokenizer, source, cfg):
        out.write(step.text)
        out.flush()
    out.write("\n")
    return 0
