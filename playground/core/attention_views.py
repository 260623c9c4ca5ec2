"""What the Attention tab shows, computed without Qt: captures, the math of one head, the rest of
the forward pass, the logit lens, embeddings.

    want = Want(attention=True, math_head=(1, 0), forward_layer=1, lens=True, embed=True)
    views = compute(run_path, step, ids, want)     # a worker's job; the model comes from MODELS
    views.capture.attention                        # (n_layer, n_head, T, T), the model's own weights
    views.forward.block.ln_2.after                 # (T, C) see core.forward_steps
    checkpoint_steps(Run(run_path))                # what the checkpoint slider offers

A job gets a run folder and a step (immutable), never a ``Run`` the GUI thread is also reading;
the models are the process-wide ``model_cache.MODELS``, shared with the Generate tab. Every
number comes from the model's forward pass with ``capture=True`` and from ``core.analysis``:
nothing here recomputes attention. The steps after the heads and the lens come from
``core.forward_steps`` (the same capture path's residual stream, through the model's own modules).
"""

from __future__ import annotations

import os
import random
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playground.core import analysis, forward_steps
from playground.core.model_cache import MODELS

EXCERPT_TOKENS = 40  # a random excerpt's length: every token label stays readable in a heatmap
FREQ_CHARS = 300_000  # token frequencies (for labelling a big vocabulary) from this much text
CAPTURE_CACHE = 48  # captures kept per tab (moving the slider back is then instant)
CAPTURE_BYTES = 256 * 2**20  # a Medium model's 256-token captures are ~9 MB each
PATTERN_COLUMNS = ["previous-token", "first-token", "self", "induction", "uniform"]
PATTERN_TITLES = {"previous-token": "previous token", "first-token": "first token", "self": "self",
                  "induction": "induction", "uniform": "broad (uniform)", "mixed": "mixed"}


@dataclass(frozen=True)
class Want:
    """What one job should compute for (run, step, ids)."""

    attention: bool = True
    math_head: tuple[int, int] | None = None  # (layer, head) for the step-by-step view
    embed: bool = False
    frequency: bool = False  # token frequency order (a vocabulary too big to label fully)
    forward_layer: int | None = None  # step 0, this block after its heads, the output steps
    lens: bool = False  # the logit lens at every position

    def __bool__(self) -> bool:
        return (self.attention or self.math_head is not None or self.embed or self.frequency
                or self.forward_layer is not None or self.lens)


@dataclass
class Capture:
    attention: np.ndarray  # (L, H, T, T) float32
    scores: list  # [layer][head] -> {pattern: score | None}
    head_labels: list  # [layer][head] -> (label, score)
    math: dict[tuple[int, int], dict] = field(default_factory=dict)  # (layer, head) -> attention_math
    forward: dict[int, forward_steps.ForwardSteps] = field(default_factory=dict)  # layer -> its steps
    lens: forward_steps.Lens | None = None

    @property
    def nbytes(self) -> int:
        return (self.attention.nbytes + sum(s.nbytes for s in self.forward.values())
                + (self.lens.nbytes if self.lens is not None else 0))


@dataclass(frozen=True)
class Embed:
    coords: np.ndarray  # (V, 2) token embeddings on their two main directions
    explained: np.ndarray  # (2,) share of the variance each direction carries
    positions: np.ndarray | None  # (T, C) position vectors; None: the model has none
    similarity: np.ndarray | None  # (T, T) cosine similarity between positions
    positional: str  # "learned", "sinusoidal" or "none"


@dataclass
class Views:
    """A job's answer: only the parts its ``Want`` asked for are set."""

    arch: str
    capture: Capture | None = None
    math: dict | None = None
    forward: forward_steps.ForwardSteps | None = None
    lens: forward_steps.Lens | None = None
    embed: Embed | None = None
    frequency_order: list[int] | None = None


def capture(model, ids: Sequence[int]) -> Capture:
    """The model's attention weights on ``ids`` (its capture path) and every head's pattern scores."""
    import torch

    x = torch.tensor([list(ids)], dtype=torch.long, device=next(model.parameters()).device)  # (1, T)
    with torch.no_grad():
        result = model(x, capture=True)
    att = result.attention.float().cpu().numpy()  # (L, H, T, T)
    scores = analysis.all_head_scores(att, ids)
    return Capture(att, scores, [[analysis.label_head(s) for s in layer] for layer in scores])


def embeddings(model) -> Embed:
    """The token embeddings as a 2-D map (PCA) and the position vectors with their similarities."""
    coords, explained = analysis.pca_2d(model.token_embeddings())  # (V, 2), (2,)
    positions = model.position_embeddings()  # (T, C) or None
    cfg = model.config
    if positions is None:
        return Embed(coords, explained, None, None, "none")
    return Embed(coords, explained, positions.float().cpu().numpy(), analysis.cosine_similarity(positions),
                 cfg.positional)


def frequency_order(tokenizer, text: str | None) -> list[int]:
    """Token ids, most frequent in ``text`` first; ties (and no text) in id order, which for BPE
    and word vocabularies is roughly by frequency already."""
    counts = np.zeros(tokenizer.vocab_size, dtype=np.int64)  # (V,)
    if text:
        ids = np.asarray(tokenizer.encode(text[:FREQ_CHARS]), dtype=np.int64)  # (N,)
        counts = np.bincount(ids, minlength=tokenizer.vocab_size)[: tokenizer.vocab_size]  # (V,)
    return [int(i) for i in np.lexsort((np.arange(len(counts)), -counts))]


def compute(run_path: str | os.PathLike, step: int | None, ids: Sequence[int], want: Want,
            corpus_text: str | None = None) -> Views:
    """Load the checkpoint (shared cache) and compute what ``want`` asks for. Runs in a worker."""
    loaded = MODELS.get(run_path, step)
    model = loaded.model
    cfg = model.config
    views = Views(arch=cfg.arch)
    has_heads = cfg.arch == "gpt" and len(ids) > 0
    if want.attention and has_heads:
        views.capture = capture(model, ids)
    if want.math_head is not None and has_heads:
        views.math = analysis.attention_math(model, ids, *want.math_head)
    if (want.forward_layer is not None or want.lens) and has_heads:
        captured = forward_steps.capture(model, ids)  # one pass for both
        if want.forward_layer is not None:
            views.forward = forward_steps.forward_steps(model, ids, want.forward_layer, captured)
        if want.lens:
            views.lens = forward_steps.logit_lens(model, ids, captured=captured)
    if want.embed:
        views.embed = embeddings(model)
    if want.frequency:
        views.frequency_order = frequency_order(loaded.tokenizer, corpus_text)
    return views


def checkpoint_steps(run) -> list[int | None]:
    """The steps a checkpoint slider offers: the snapshots, or ``[None]`` when the run has only
    its newest weights (``latest.pt``), or nothing yet."""
    steps: list[int | None] = [s for s, _ in run.snapshots()]
    if not steps and run.has_latest():
        steps = [None]
    return steps


def eval_losses(run) -> dict[int, tuple[float, float]]:
    """step -> (training loss, validation loss) at each evaluation the run recorded."""
    return {it: (tr, va) for it, tr, va in run.evals() if va is not None}


def loss_text(evals: dict[int, tuple[float, float]], step: int | None) -> str:
    """The checkpoint's loss in one line (rich text: the validation loss in bold)."""
    if step is None:
        return "the newest weights"
    row = evals.get(step)
    if row is None:
        return f"step {step:,} · no evaluation saved at this step"
    train, val = row
    return f"step {step:,} · validation loss <b>{val:.3f}</b> (training {train:.3f})"


def validation_text(run_path: str | os.PathLike) -> str:
    """The run's validation text (the end of its corpus), read afresh from its folder (the record
    may have changed on disk: a moved corpus). CorpusError when the corpus is gone."""
    from playground.core import corpus as corpus_mod
    from playground.core.checkpoint import Run

    run = Run(run_path)
    record = run.corpus_record
    corpus = corpus_mod.verify_record(record)
    fraction = record.get("split") or run.train_config.split
    return corpus.split(fraction)[1]


def pick_excerpt(val_text: str, tokenizer, n_tokens: int, rng: random.Random) -> str:
    """A random piece of ``val_text`` about ``n_tokens`` tokens long, starting at a line start
    when one is near, and cut at a token boundary when the tokenizer decodes back exactly."""
    if not val_text.strip():
        from playground.errors import CorpusError

        raise CorpusError("The validation text of this run is empty.", "Type a text instead.")
    span = n_tokens * 12  # characters: enough for n tokens of any tokenizer we have
    start = rng.randrange(max(1, len(val_text) - span // 2))
    newline = val_text.find("\n", start, start + 160)
    if newline != -1 and newline + 1 < len(val_text) - 8:
        start = newline + 1
    chunk = val_text[start:start + span]
    if tokenizer.unknown_spans(chunk) and tokenizer.kind == "char":
        chunk = "".join(ch for ch in chunk if not tokenizer.unknown_spans(ch))
    ids = tokenizer.encode(chunk)[:n_tokens]
    text = tokenizer.decode(ids)
    return text if chunk.startswith(text) else chunk


class CaptureCache(OrderedDict):
    """Captures by (run, step, ids), oldest dropped first once there are more than ``size`` of
    them or they hold more than ``max_bytes`` (the newest one always stays)."""

    def __init__(self, size: int = CAPTURE_CACHE, max_bytes: int = CAPTURE_BYTES) -> None:
        super().__init__()
        self.size, self.max_bytes = size, max_bytes

    def put(self, key: Any, cap: Capture) -> None:
        self[key] = cap
        self.move_to_end(key)
        while len(self) > 1 and (len(self) > self.size or self.nbytes() > self.max_bytes):
            self.popitem(last=False)

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.values())
