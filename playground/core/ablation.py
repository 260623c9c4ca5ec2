"""Switch parts of a trained model off and see what changes (ablation).

    off = Ablation(heads=frozenset({(0, 1)}), mlps=frozenset({1}), positions=True)
    with ablated(model, off):                      # hooks on; the weights are never touched
        logits = model(x).logits
    sample = validation_sample(run_path, tokenizer, model.config.context_length)   # 2,048 fixed tokens
    validation_loss(model, sample, off)            # the mean loss on a fixed sample, with the parts off
    head_importance(model, sample)                 # loss increase per head, one head at a time, sorted
    head_importance(model, text_sample(ids))       # the same on the text the student is looking at
    validation_loss(model, sample, off, copied_targets(sample))   # copy-lessons: copied letters only
    compare(run_path, step, ids, position, off, sample)   # a worker's job: bars and losses before/after

How a part is switched off, without editing the network (``core/model.py``):

- a **head**: the heads' outputs sit side by side (head ``h`` in columns ``h*d_head:(h+1)*d_head``)
  in the input of W_O (``attn.c_proj``); a forward pre-hook zeroes that head's slice, which is the
  same as zeroing the head's ``d_head`` columns of W_O;
- a block's **MLP**: a forward hook replaces its output by zeros (the block adds nothing);
- the **positions**: a pre-hook on the embedding's dropout hands it the token embedding alone, which
  is exactly ``token embedding + 0`` (a model whose position vectors are zero).

Why hooks rather than writing zeros into the weights: the model comes from the process-wide cache
(``model_cache.MODELS``) that the Attention and Generate tabs read from other threads at the same
time. Hooks act only on the thread that attached them (as ``analysis.attention_math``'s do) and are
removed in ``finally``, so the shared model is never changed, not even for a moment.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from playground.core.model_cache import MODELS
from playground.errors import CorpusError, ModelError, PlaygroundError

SAMPLE_TOKENS = 2048  # validation loss on this many predicted tokens: ~0.1 s a pass for Tiny on CPU
MAX_WINDOWS = 32  # the sample is at most this many windows (Tiny: 32 × 64 tokens)
LOGIT_FLOATS = 2**24  # logits computed per forward pass at most (64 MB): a big vocabulary is chunked
TOP_K = 7  # next-token rows: the union of the 7 likeliest before and after (at most 14: one chart)
LINE_SEARCH_CHARS = 200  # a window starts at the next line start when one is this near


# ───────────────────────────────────────────────────────────────────────────── what is off


@dataclass(frozen=True)
class Ablation:
    """Which parts are switched off: heads (layer, head), MLPs by layer, the position vectors."""

    heads: frozenset[tuple[int, int]] = frozenset()
    mlps: frozenset[int] = frozenset()
    positions: bool = False

    def __bool__(self) -> bool:
        return bool(self.heads or self.mlps or self.positions)

    def describe(self) -> str:
        """In words, for a title, layers and heads counted from 1 as the app shows them:
        "heads L1 H2, L2 H1 · MLP of block 2 · positions"."""
        parts = []
        if self.heads:
            parts.append("head" + ("s " if len(self.heads) > 1 else " ")
                         + ", ".join(f"L{layer + 1} H{head + 1}" for layer, head in sorted(self.heads)))
        if self.mlps:
            parts.append(f"MLP of block{'s' if len(self.mlps) > 1 else ''} "
                         + ", ".join(str(layer + 1) for layer in sorted(self.mlps)))
        if self.positions:
            parts.append("positions")
        return " · ".join(parts) if parts else "nothing"


NOTHING = Ablation()


def has_positions(model) -> bool:
    """Whether the model adds position vectors that can be switched off."""
    return getattr(model.config, "positional", None) in ("learned", "sinusoidal")


def check(model, ablation: Ablation) -> None:
    """Refuse parts the model does not have (a bigram has no heads, MLPs or positions)."""
    cfg = model.config
    if cfg.is_encoder_decoder:  # its forward pass needs a source and a target: none of this applies
        raise ModelError("Switch off works on a GPT; this run is an encoder-decoder.",
                         hint="Look at its encoder, decoder and cross-attention on the Attention tab instead.")
    if ablation and cfg.arch != "gpt":
        raise ModelError("Only a GPT has heads, MLPs and positions to switch off; a bigram model is one table.")
    for layer, head in ablation.heads:
        if not (0 <= layer < cfg.n_layer and 0 <= head < cfg.n_head):
            raise ModelError(f"There is no head L{layer} H{head} in a model with {cfg.n_layer} layers "
                             f"of {cfg.n_head} heads.")
    for layer in ablation.mlps:
        if not 0 <= layer < cfg.n_layer:
            raise ModelError(f"There is no block {layer} in a model with {cfg.n_layer} blocks.")
    if ablation.positions and not has_positions(model):
        raise ModelError("This model adds no position vectors: there are none to switch off.")


@contextmanager
def ablated(model, ablation: Ablation) -> Iterator[object]:
    """Run ``model`` with the parts of ``ablation`` switched off, on this thread only.

    Hooks, removed on leaving (also on an exception); the weights are never written. Other
    threads running the same model in the meantime see it whole.
    """
    check(model, ablation)
    if not ablation:
        yield model
        return
    me = threading.get_ident()
    handles = []
    by_layer: dict[int, list[int]] = {}
    for layer, head in sorted(ablation.heads):
        by_layer.setdefault(layer, []).append(head)

    def zero_heads(heads: list[int], d_head: int) -> Callable:
        def pre_hook(_module, args):
            if threading.get_ident() != me:
                return None
            y = args[0].clone()  # (B, T, C) heads side by side; the caller's tensor stays as it was
            for h in heads:
                y[..., h * d_head:(h + 1) * d_head] = 0.0  # (B, T, d_head) this head says nothing
            return (y,)
        return pre_hook

    def zero_output(_module, _args, output):
        return output.new_zeros(output.shape) if threading.get_ident() == me else None  # (B, T, C)

    token_part: dict[int, object] = {}

    def keep_tokens(_module, _args, output):
        if threading.get_ident() == me:
            token_part[me] = output  # (B, T, C) the token embeddings of this pass
        return None

    def without_positions(_module, args):
        if threading.get_ident() != me or me not in token_part:
            return None
        return (token_part.pop(me),)  # (B, T, C) token embedding + 0 instead of + positions

    try:
        for layer, heads in by_layer.items():
            attn = model.blocks[layer].attn
            handles.append(attn.c_proj.register_forward_pre_hook(zero_heads(heads, attn.d_head)))
        for layer in ablation.mlps:
            handles.append(model.blocks[layer].mlp.register_forward_hook(zero_output))
        if ablation.positions:
            handles.append(model.wte.register_forward_hook(keep_tokens))
            handles.append(model.drop.register_forward_pre_hook(without_positions))
        yield model
    finally:
        for handle in handles:
            handle.remove()


# ───────────────────────────────────────────────────────────────────────────── next token


@dataclass(frozen=True)
class NextToken:
    """The next-token distribution at one position, before and after switching parts off."""

    position: int  # the token whose next token is predicted (0-based in ids)
    rows: list[tuple[int, float, float]]  # (token id, p before, p after): top-k of either, likeliest first
    target: int | None  # the token that really comes next in the text, when there is one
    target_before: float | None  # its probability before / after
    target_after: float | None


def probabilities(model, ids: Sequence[int], ablation: Ablation = NOTHING) -> np.ndarray:
    """(T, V) next-token probabilities at every position of ``ids`` with ``ablation`` switched off."""
    import torch

    x = torch.tensor([list(ids)], dtype=torch.long, device=_device(model))  # (1, T)
    with torch.no_grad(), ablated(model, ablation):
        logits = model(x).logits[0]  # (T, V)
    return torch.softmax(logits.float(), dim=-1).cpu().numpy()  # (T, V)


def next_token(model, ids: Sequence[int], position: int | None, ablation: Ablation,
               k: int = TOP_K) -> NextToken:
    """Before/after next-token probabilities at ``position`` (None: the last token)."""
    if not ids:
        raise ModelError("There is no text to predict from.")
    pos = len(ids) - 1 if position is None else int(position)
    if not 0 <= pos < len(ids):
        raise ModelError(f"Position {pos} is outside the text of {len(ids)} tokens.")
    before = probabilities(model, ids[: pos + 1])[pos]  # (V,) the model reads only up to pos anyway
    after = probabilities(model, ids[: pos + 1], ablation)[pos] if ablation else before  # (V,)
    k = min(k, len(before))
    top = list(np.argsort(-before, kind="stable")[:k]) + list(np.argsort(-after, kind="stable")[:k])
    chosen = sorted(set(int(i) for i in top), key=lambda i: (-max(before[i], after[i]), i))
    rows = [(i, float(before[i]), float(after[i])) for i in chosen]
    target = int(ids[pos + 1]) if pos + 1 < len(ids) else None
    return NextToken(pos, rows, target,
                     None if target is None else float(before[target]),
                     None if target is None else float(after[target]))


# ───────────────────────────────────────────────────────────────────────────── validation loss


@dataclass(frozen=True)
class Sample:
    """A fixed piece of the validation text: ``windows`` (N, L) token ids, each row the model's
    input ``[:-1]`` and its targets ``[1:]``; ``offsets`` (N, L) where each token starts in
    ``text``; ``text`` the validation text the windows were cut from."""

    windows: np.ndarray  # (N, L) int64
    offsets: np.ndarray  # (N, L) int64 character offsets into text; -1 where unknown
    text: str = field(repr=False)

    @property
    def n_targets(self) -> int:
        return int(self.windows.shape[0] * (self.windows.shape[1] - 1))

    def describe(self) -> str:
        n, length = self.windows.shape
        return (f"{self.n_targets:,} predicted tokens of the validation text "
                f"({n} piece{'s' if n != 1 else ''} of {length - 1})")


def sample_from_text(text: str, tokenizer, context_length: int, tokens: int = SAMPLE_TOKENS) -> Sample:
    """Windows of ``context_length + 1`` tokens spread evenly over ``text``, each starting at a
    line start when one is near: the same text gives the same sample (deterministic)."""
    if len(text.strip()) < 2:
        raise CorpusError("The validation text of this run is empty.", "Train with a larger validation share.")
    length = context_length + 1
    n = max(1, min(MAX_WINDOWS, tokens // context_length))
    windows, offsets = [], []
    for j in range(n):
        start = j * len(text) // n
        newline = text.find("\n", start, start + LINE_SEARCH_CHARS)
        if newline != -1 and newline + 1 < len(text):
            start = newline + 1
        ids, offs = _encode_window(text, start, length, tokenizer)
        if len(ids) >= 2:
            windows.append(ids)
            offsets.append(offs)
    if not windows:
        raise CorpusError("The validation text of this run is too short to measure a loss on.",
                          "Train with a larger validation share.")
    if any(len(w) == length for w in windows):  # a window cut short by the text's end is left out
        kept = [i for i, w in enumerate(windows) if len(w) == length]
        windows, offsets = [windows[i] for i in kept], [offsets[i] for i in kept]
    length = min(len(w) for w in windows)  # a short text: every window as long as the shortest
    return Sample(np.array([w[:length] for w in windows], dtype=np.int64),  # (N, L)
                  np.array([o[:length] for o in offsets], dtype=np.int64), text)  # (N, L)


def text_sample(ids: Sequence[int]) -> Sample:
    """The text a student is looking at as a one-window sample (its own tokens are the targets)."""
    if len(ids) < 2:
        raise ModelError("A loss needs a text of at least two tokens.")
    windows = np.array([list(ids)], dtype=np.int64)  # (1, T)
    return Sample(windows, np.full(windows.shape, -1, dtype=np.int64), "")  # (1, T)


def _encode_window(text: str, start: int, length: int, tokenizer) -> tuple[list[int], list[int]]:
    """``length`` tokens of text from ``start`` (fewer at the end) and where each starts."""
    chars = length * 16
    ids = tokenizer.encode(text[start:start + chars])[:length]
    offsets, at = [], start
    for token_id in ids:
        piece = tokenizer.decode([token_id])
        found = text.startswith(piece, at)
        offsets.append(at if found else -1)  # a token that is not plain text (a partial byte)
        at = at + len(piece) if found else at
    return ids, offsets


def validation_sample(run_path: str | os.PathLike, tokenizer, context_length: int,
                      tokens: int = SAMPLE_TOKENS) -> Sample:
    """The run's fixed validation sample (reads the corpus: a worker's job). CorpusError when
    the corpus is gone."""
    from playground.core.attention_views import validation_text

    return sample_from_text(validation_text(run_path), tokenizer, context_length, tokens)


def token_losses(model, sample: Sample, ablation: Ablation = NOTHING) -> np.ndarray:
    """(N, L-1) −log p of every target of the sample, with ``ablation`` switched off."""
    import torch
    import torch.nn.functional as F

    windows = torch.from_numpy(sample.windows).to(_device(model))  # (N, L)
    x, y = windows[:, :-1], windows[:, 1:]  # (N, L-1) ×2
    per_pass = max(1, LOGIT_FLOATS // (x.shape[1] * model.config.vocab_size))  # windows per pass
    out = []
    with torch.no_grad(), ablated(model, ablation):
        for i in range(0, x.shape[0], per_pass):
            logits = model(x[i:i + per_pass]).logits.float()  # (n, L-1, V)
            loss = F.cross_entropy(logits.transpose(1, 2), y[i:i + per_pass], reduction="none")  # (n, L-1)
            out.append(loss.cpu().numpy())
    return np.concatenate(out)  # (N, L-1)


def validation_loss(model, sample: Sample, ablation: Ablation = NOTHING, mask: np.ndarray | None = None) -> float:
    """Mean loss over the sample's targets (only those where ``mask`` (N, L-1) is True, if given)."""
    losses = token_losses(model, sample, ablation)  # (N, L-1)
    if mask is not None:
        if not mask.any():
            raise ValueError("the mask selects no target")
        losses = losses[mask]
    return float(losses.mean())


@dataclass(frozen=True)
class HeadEffect:
    layer: int
    head: int
    loss: float  # the sample's loss with this head off
    increase: float  # loss - the whole model's loss (negative: the model does better without it)


def head_importance(model, sample: Sample, mask: np.ndarray | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    cancel: threading.Event | None = None) -> tuple[float, list[HeadEffect]]:
    """The sample's loss of the whole model, and each head's effect when it alone is off,
    largest increase first. ``cancel`` is polled between heads (raises Cancelled)."""
    from playground.errors import Cancelled

    cfg = model.config
    check(model, Ablation(heads=frozenset({(0, 0)})))
    total = cfg.n_layer * cfg.n_head
    base = validation_loss(model, sample, NOTHING, mask)
    effects = []
    for layer in range(cfg.n_layer):
        for head in range(cfg.n_head):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            loss = validation_loss(model, sample, Ablation(heads=frozenset({(layer, head)})), mask)
            effects.append(HeadEffect(layer, head, loss, loss - base))
            if progress is not None:
                progress(len(effects), total)
    effects.sort(key=lambda e: (-e.increase, e.layer, e.head))
    return base, effects


# ───────────────────────────────────────────────────────────────────────────── copy-lessons


def copied_chars(text: str) -> np.ndarray:
    """(len(text),) bool: the letters of copy-lessons text that repeat an earlier copy.

    A copy-lessons line is a segment written three times, ``seg|seg|seg`` (see
    ``builtin_corpora._copy_lessons``); the letters of the 2nd and 3rd copies are copied — each is
    predictable by looking back at the first copy. Separators, newlines, the first copy and any line
    that is not three equal parts are not.
    """
    mask = np.zeros(len(text), dtype=bool)  # (len(text),)
    at = 0
    for line in text.split("\n"):
        parts = line.split("|")
        if len(parts) >= 2 and parts[0] and all(p == parts[0] for p in parts[1:]):
            start = at + len(parts[0]) + 1
            for _ in parts[1:]:
                mask[start:start + len(parts[0])] = True
                start += len(parts[0]) + 1
        at += len(line) + 1
    return mask


def copied_targets(sample: Sample) -> np.ndarray:
    """(N, L-1) bool: the targets of the sample that are copied letters (``copied_chars``) and
    whose whole line starts inside the window (so the copy's original is in view)."""
    chars = copied_chars(sample.text)  # (len(text),)
    offsets = sample.offsets[:, 1:]  # (N, L-1) where each target starts
    known = offsets >= 0  # (N, L-1) targets that are plain text
    mask = np.zeros(offsets.shape, dtype=bool)  # (N, L-1)
    mask[known] = chars[offsets[known]]  # (K,) copied or not, for the K known targets
    line_start = np.array([[sample.text.rfind("\n", 0, max(o, 0)) + 1 for o in row] for row in offsets])  # (N, L-1)
    return mask & (line_start >= sample.offsets[:, :1])  # (N, L-1)


# ───────────────────────────────────────────────────────────────────────────── a worker's job


@dataclass(frozen=True)
class Comparison:
    """What the ablation view shows for (run, step, ids, position, ablation)."""

    ablation: Ablation
    next_token: NextToken | None  # None: no text
    loss_before: float | None  # the validation sample's loss; None with sample_error
    loss_after: float | None
    sample: Sample | None
    sample_error: Exception | None = None  # why there is no validation loss (corpus gone)


def compare(run_path: str | os.PathLike, step: int | None, ids: Sequence[int], position: int | None,
            ablation: Ablation, sample: Sample | None = None) -> Comparison:
    """Load the checkpoint (shared cache) and measure the model whole and with ``ablation`` off.
    ``sample``: the run's validation sample from an earlier call (read afresh when None)."""
    loaded = MODELS.get(run_path, step)
    model = loaded.model
    check(model, ablation)
    nt = next_token(model, ids, position, ablation) if ids else None
    error = None
    if sample is None:
        try:
            sample = validation_sample(run_path, loaded.tokenizer, model.config.context_length)
        except PlaygroundError as exc:  # the corpus moved or changed: the bars can still be shown
            error = exc
    before = after = None
    if sample is not None:
        before = validation_loss(model, sample)
        after = validation_loss(model, sample, ablation) if ablation else before
    return Comparison(ablation, nt, before, after, sample, error)


def _device(model):
    return next(model.parameters()).device
