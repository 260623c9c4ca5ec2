"""Bits per character: the one loss that compares models whose tokenizers differ.

A loss per token (nats) depends on how much text a token holds: a character model predicts
one character per token, a word or BPE model several, so its loss per token is larger even when
it predicts the text better. Spreading the nats over the characters and turning them into bits
makes the number a property of the text, not of the tokenizer:

    bits per character = (loss per token × tokens) / (characters × ln 2)

A run's curves are per token, so a run needs its characters per token; that ratio is measured
on the run's own validation text (what its validation loss is computed on) and cached per run.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from playground.errors import PlaygroundError, TokenizerError

LN2 = math.log(2)
# Encoding a long validation text takes seconds with some tokenizers: the ratio is measured on
# its first 200k characters at most (a ratio, unlike a count, barely moves past that).
SAMPLE_CHARS = 200_000


def bits_per_char(loss_per_token: float, tokens: int, characters: int) -> float:
    """The nats of ``tokens`` tokens spread over the ``characters`` they spell, in bits."""
    if tokens <= 0 or characters <= 0:
        return math.nan
    return loss_per_token * tokens / (characters * LN2)


def loss_to_bpc(loss_per_token: float, chars_per_token: float) -> float:
    """A per-token loss of a model whose tokens hold ``chars_per_token`` characters on average."""
    return loss_per_token / (chars_per_token * LN2) if chars_per_token > 0 else math.nan


def chars_per_token(tokenizer: Any, text: str) -> float:
    """How many characters of ``text`` one token of ``tokenizer`` holds on average."""
    text = text[:SAMPLE_CHARS]
    try:
        ids = tokenizer.encode(text)
    except TokenizerError:
        # A character tokenizer refuses characters it never saw: they are not in what it reads.
        spans = tokenizer.unknown_spans(text)
        for start, end in reversed(spans):
            text = text[:start] + text[end:]
        ids = tokenizer.encode(text)
    if not ids:
        raise TokenizerError("The validation text has no tokens to measure characters per token on.")
    return len(text) / len(ids)


def scored_bits_per_char(losses: Sequence[float], ids: Sequence[int], tokenizer: Any) -> float:
    """Bits per character of a scored text (``core.generate.TextScore``): the first token has no
    prediction (its loss is nan), so its characters are left out too."""
    scored = [v for v in losses if not math.isnan(v)]
    if not scored or len(ids) < 2:
        return math.nan
    characters = len(tokenizer.decode(list(ids))) - len(tokenizer.decode(list(ids[:1])))
    return bits_per_char(sum(scored) / len(scored), len(scored), characters)


# -- per run --------------------------------------------------------------------------------------
_cache: dict[tuple, float] = {}  # (run folder, tokenizer file's mtime, corpus sha256) -> ratio
_lock = threading.Lock()  # a worker fills the cache while the GUI thread peeks


def _key(run_path: str | os.PathLike) -> tuple | None:
    from playground.core.checkpoint import Run

    path = Path(run_path).resolve()
    try:
        mtime = (path / Run.TOKENIZER_JSON).stat().st_mtime_ns
    except OSError:
        return None
    try:
        sha = Run(path).corpus_record.get("sha256")
    except PlaygroundError:  # a damaged run.json: nothing cached for it
        return None
    return (str(path), mtime, sha)


def peek_chars_per_token(run_path: str | os.PathLike) -> float | None:
    """The cached ratio of a run, or None; never reads the corpus (the GUI thread may call it)."""
    key = _key(run_path)
    with _lock:
        return _cache.get(key) if key is not None else None


def runs_chars_per_token(paths: Sequence[str]) -> dict[str, float]:
    """``run_chars_per_token`` of each run; NaN for a run whose corpus or tokenizer is gone (no
    characters to count). A worker's job."""
    found = {}
    for path in paths:
        try:
            found[path] = run_chars_per_token(path)
        except (PlaygroundError, OSError):
            found[path] = math.nan
    return found


def run_chars_per_token(run_path: str | os.PathLike) -> float:
    """Characters per token of the run's tokenizer on its validation text (cached; a worker's
    job: it reads the corpus). CorpusError when the corpus is gone, CheckpointError when the
    run's tokenizer is."""
    from playground.core.attention_views import validation_text
    from playground.core.checkpoint import Run

    key = _key(run_path)
    with _lock:
        if key is not None and key in _cache:
            return _cache[key]
    ratio = chars_per_token(Run(run_path).tokenizer, validation_text(run_path))
    if key is not None:
        with _lock:
            _cache[key] = ratio
    return ratio


def tokenizer_label(run_info: dict) -> str:
    """How a run cuts text, as the runs list shows it ("char · 65"): runs with different labels
    have losses per token that do not compare."""
    tok = run_info.get("tokenizer", {})
    return f"{tok.get('kind', '?')} · {tok.get('vocab_size', '?')}"
