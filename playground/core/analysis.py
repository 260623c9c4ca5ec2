"""What a trained model's numbers mean: head patterns, the unigram baseline, overfitting.

Pure functions over tensors/arrays and lists, so the GUI only lays out what is computed here.

Head patterns (scores in [0, 1], from one head's causal attention matrix, rows = queries):

- ``previous-token``: mean weight a token puts on the token just before it.
- ``first-token``: mean weight on position 0 (an "attention sink" / no-op head).
- ``self``: mean weight on the diagonal (a token looking at itself).
- ``induction``: for tokens that appeared earlier in the text, the weight on the tokens that
  *followed* those earlier occurrences ("A B ... A -> look at B"). ``None`` when the text
  has no usable repeats, since there is nothing to measure.
- ``uniform``: mean row entropy divided by the entropy of a uniform row over the causal
  prefix (1.0 = the head spreads its attention evenly: a broad, averaging head).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

PATTERNS = ("previous-token", "first-token", "self", "induction")
POSITIONAL_THRESHOLD = 0.4  # at least this much weight on the pattern's key, on average
UNIFORM_THRESHOLD = 0.9  # entropy ratio above which a head is "uniform" (broad)

LABEL_DESCRIPTIONS = {
    "previous-token": "Each token looks at the token just before it.",
    "first-token": "Tokens park their attention on the first token (a 'do nothing' head).",
    "self": "Each token looks at itself.",
    "induction": "A token looks at what followed its earlier copy: 'A B ... A' -> B.",
    "uniform": "Attention is spread evenly over everything before: an averaging head.",
    "mixed": "No single simple pattern: this head does something more specific.",
}


def _as_array(weights) -> np.ndarray:
    if hasattr(weights, "detach"):  # a torch tensor, possibly bf16 / on GPU
        weights = weights.detach().float().cpu().numpy()
    arr = np.asarray(weights, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"expected a square (T, T) attention matrix, got shape {arr.shape}")
    return arr


def _induction_targets(ids: Sequence[int]) -> list[tuple[int, list[int]]]:
    """(query position i, key positions j+1 where ids[j] == ids[i]) for every repeated token.

    Targets at i-1 (an immediate "x x" repeat) are left out: there the induction key is also
    the previous token, which would let a previous-token head pass for an induction head.
    """
    seen: dict[int, list[int]] = {}
    out: list[tuple[int, list[int]]] = []
    for i, tok in enumerate(ids):
        earlier = seen.get(tok)
        if earlier:
            targets = [j + 1 for j in earlier if j + 1 < i - 1]
            if targets:
                out.append((i, targets))
        seen.setdefault(tok, []).append(i)
    return out


def head_pattern_scores(weights, ids: Sequence[int] | None = None) -> dict[str, float | None]:
    """Scores in [0, 1] for each pattern of one head's (T, T) attention weights.

    Rows are queries, columns keys; row i should sum to 1 over columns 0..i. Row 0 (only
    one key to look at) tells nothing and row 1 cannot tell "previous" from "first", so the
    positional scores average rows 2.. (or 1.. for a 2-token text).
    """
    w = _as_array(weights)  # (T, T)
    T = w.shape[0]
    scores: dict[str, float | None] = {p: 0.0 for p in PATTERNS}
    scores["uniform"] = 0.0
    if T < 2:
        scores["induction"] = None
        return scores
    start = 2 if T > 2 else 1
    rows = np.arange(start, T)  # (R,)
    scores["previous-token"] = float(w[rows, rows - 1].mean())
    scores["first-token"] = float(w[rows, 0].mean())
    scores["self"] = float(w[rows, rows].mean())

    # Normalised entropy over each row's causal prefix (row i has i+1 keys).
    ent_rows = np.arange(1, T)
    p = np.clip(w[ent_rows], 0.0, None)  # (T-1, T)
    mask = np.tril(np.ones((T, T), dtype=bool))[ent_rows]  # (T-1, T) causal prefix
    p = np.where(mask, p, 0.0)
    p = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)  # (T-1,)
    scores["uniform"] = float(np.clip(h / np.log(ent_rows + 1), 0.0, 1.0).mean())

    if ids is None:
        scores["induction"] = None
    else:
        ids = list(ids)[:T]
        pairs = _induction_targets(ids)
        if pairs:
            scores["induction"] = float(np.mean([w[i, t].sum() for i, t in pairs]))
        else:
            scores["induction"] = None
    for key, value in scores.items():
        if value is not None:
            scores[key] = float(min(max(value, 0.0), 1.0))
    return scores


def label_head(scores: dict[str, float | None]) -> tuple[str, float]:
    """The head's best-fitting label and its score.

    A positional pattern wins when its mean weight reaches 0.4 (the strongest one if several
    do); otherwise a head whose rows are nearly as spread as uniform (> 0.9) is "uniform";
    otherwise "mixed", scored with its strongest pattern so a table can still sort by it.
    """
    positional = [(name, scores[name]) for name in PATTERNS if scores.get(name) is not None]
    best_name, best = max(positional, key=lambda kv: kv[1], default=("mixed", 0.0))
    if best >= POSITIONAL_THRESHOLD:
        return best_name, float(best)
    uniform = scores.get("uniform") or 0.0
    if uniform > UNIFORM_THRESHOLD:
        return "uniform", float(uniform)
    return "mixed", float(best)


def label_heads(attention, ids: Sequence[int] | None = None) -> list[list[tuple[str, float]]]:
    """Label every head of an (n_layer, n_head, T, T) capture: result[layer][head] = (label, score)."""
    if hasattr(attention, "detach"):
        attention = attention.detach().float().cpu().numpy()
    att = np.asarray(attention, dtype=np.float64)
    if att.ndim != 4:
        raise ValueError(f"expected (n_layer, n_head, T, T) attention, got shape {att.shape}")
    return [[label_head(head_pattern_scores(att[l, h], ids)) for h in range(att.shape[1])]
            for l in range(att.shape[0])]


def all_head_scores(attention, ids: Sequence[int] | None = None) -> list[list[dict[str, float | None]]]:
    """Every pattern score of every head (for a sortable table): result[layer][head][pattern]."""
    if hasattr(attention, "detach"):
        attention = attention.detach().float().cpu().numpy()
    att = np.asarray(attention, dtype=np.float64)
    return [[head_pattern_scores(att[l, h], ids) for h in range(att.shape[1])] for l in range(att.shape[0])]


def unigram_baseline(train_ids: Iterable[int], val_ids: Iterable[int], vocab_size: int) -> float:
    """Cross-entropy (nats/token) on val of the add-one-smoothed token frequencies of train.

    The loss of a model that knows which tokens are common but ignores context: a trained
    model that is not well below it has learned nothing about order.
    """
    train = np.asarray(list(train_ids) if not hasattr(train_ids, "__array__") else train_ids, dtype=np.int64)
    val = np.asarray(list(val_ids) if not hasattr(val_ids, "__array__") else val_ids, dtype=np.int64)
    if val.size == 0:
        raise ValueError("the validation ids are empty")
    counts = np.bincount(train.reshape(-1), minlength=vocab_size)[:vocab_size].astype(np.float64)
    logp = np.log(counts + 1.0) - math.log(train.size + vocab_size)  # (V,)
    return float(-logp[val.reshape(-1)].mean())


def overfitting(evals: Sequence, patience: int = 3) -> bool:
    """True when validation loss rose at each of the last ``patience`` evaluations while
    training loss fell over the same stretch (the model memorises rather than generalises).

    ``evals`` holds (it, train_loss, val_loss) tuples or objects with those attributes.
    """
    rows = [(e.it, e.train_loss, e.val_loss) if hasattr(e, "val_loss") else tuple(e) for e in evals]
    if patience < 1 or len(rows) < patience + 1:
        return False
    window = rows[-(patience + 1):]
    val_rose = all(b[2] > a[2] for a, b in zip(window, window[1:]))
    train_fell = window[-1][1] < window[0][1]
    return bool(val_rose and train_fell)
