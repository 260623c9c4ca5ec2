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
import threading
from collections.abc import Iterable, Sequence

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


# Validation loss this much above training loss (relative, with a floor for losses near 0)
# means the model does clearly better on text it trained on: it memorises.
OVERFIT_GAP = 0.1


def memorising(train_loss: float, val_loss: float) -> bool:
    """The one train-vs-validation rule: validation loss clearly above training loss."""
    return val_loss - train_loss > OVERFIT_GAP * max(train_loss, 0.05)


def train_val_verdict(train_loss: float, val_loss: float) -> str:
    """One sentence on a training loss and a validation loss side by side (same rule as above)."""
    if memorising(train_loss, val_loss):
        return (f"Validation loss is {val_loss - train_loss:.3f} higher: the model predicts text it trained "
                "on better than new text. A large gap means it memorises instead of learning general "
                "rules (overfitting).")
    return ("Training and validation loss are close: the model does as well on text it never saw, so "
            "it has learned general patterns rather than memorised the text.")


def overfitting(evals: Sequence, patience: int = 3) -> bool:
    """True when validation loss rose at each of the last ``patience`` evaluations while
    training loss fell over the same stretch, and validation now sits clearly above training
    (``memorising``): the model memorises rather than generalises.

    ``evals`` holds (it, train_loss, val_loss) tuples or objects with those attributes.
    """
    rows = [(e.it, e.train_loss, e.val_loss) if hasattr(e, "val_loss") else tuple(e) for e in evals]
    if patience < 1 or len(rows) < patience + 1:
        return False
    window = rows[-(patience + 1):]
    val_rose = all(b[2] > a[2] for a, b in zip(window, window[1:]))
    train_fell = window[-1][1] < window[0][1]
    return bool(val_rose and train_fell and memorising(window[-1][1], window[-1][2]))


# --------------------------------------------------------------------------- for the Attention tab


def pca_2d(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows of an (N, C) matrix onto its two main directions of variation.

    Returns (coords (N, 2), explained (2,)): ``explained`` is the share of the total variance
    each axis carries. Eigenvectors of the C×C covariance rather than an SVD of the rows, so a
    100k-token vocabulary costs one C×C matrix, not an N×N one. Each axis's sign is fixed (its
    largest loading is positive) so the picture does not flip between two checkpoints for no
    reason.
    """
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().float().cpu().numpy()
    x = np.asarray(matrix, dtype=np.float64)  # (N, C)
    if x.ndim != 2:
        raise ValueError(f"expected an (N, C) matrix, got shape {x.shape}")
    n, c = x.shape
    coords = np.zeros((n, 2))
    explained = np.zeros(2)
    if n < 2 or c < 1:
        return coords, explained
    x = x - x.mean(axis=0, keepdims=True)  # (N, C)
    cov = x.T @ x / (n - 1)  # (C, C)
    values, vectors = np.linalg.eigh(cov)  # ascending
    order = np.argsort(values)[::-1][:2]
    axes = vectors[:, order]  # (C, k), k <= 2
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1.0, signs)
    k = axes.shape[1]
    coords[:, :k] = x @ axes  # (N, k)
    total = float(np.clip(values, 0, None).sum())
    if total > 0:
        explained[:k] = np.clip(values[order], 0, None) / total
    return coords, explained


def cosine_similarity(matrix) -> np.ndarray:
    """(N, N) cosine similarity between the rows of an (N, C) matrix (zero rows give 0)."""
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().float().cpu().numpy()
    x = np.asarray(matrix, dtype=np.float64)  # (N, C)
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (N, 1)
    unit = x / np.where(norms > 0, norms, 1.0)  # (N, C)
    return np.clip(unit @ unit.T, -1.0, 1.0)  # (N, N)


def attention_math(model, ids: Sequence[int], layer: int, head: int) -> dict:
    """Every intermediate number of one head's attention, for the step-by-step view.

    One forward pass through the model's capture path (``capture_head``) gives this head's
    q, k, v and the weights the model really used; hooks on the layer's output projection W_O
    record what went into it (all heads' outputs side by side) and what came out. The only
    numbers computed here are the textbook intermediate steps — the scores q·k and their
    scaling — which ``weights`` lets a test check: softmax(scores / √d_head, causal) == weights.

    Returns numpy arrays (T = len(ids), D = d_head, C = d_model):
    q, k, v (T, D); scores (T, T) = q·k for every pair, future keys included; scaled (T, T) =
    scores / √D; allowed (T, T) bool causal mask; weights (T, T) this head's captured weights;
    head_out (T, D) this head's output = weights @ v, read from W_O's input; concat (T, C) all
    heads' outputs side by side; w_o (C, C) W_O as ``concat @ w_o`` uses it (in × out);
    bias (C,) or None; out (T, C) what the attention block adds to the residual stream; and
    ints d_head, n_head, layer, head, query positions = T.
    """
    import torch

    cfg = model.config
    if getattr(cfg, "arch", "gpt") != "gpt":  # a bigram has no heads; an encoder-decoder three kinds of them
        raise ValueError("the step-by-step attention math is for a GPT's heads")
    proj = model.blocks[layer].attn.c_proj
    seen: dict[str, torch.Tensor] = {}
    # The model is shared (one cache for every view): another thread may run it while our hooks
    # are attached, so record only this thread's pass.
    me = threading.get_ident()

    def before(_module, args):
        if threading.get_ident() == me:
            seen["concat"] = args[0][0].detach()  # (T, C) heads side by side, batch item 0

    def after(_module, _args, output):
        if threading.get_ident() == me:
            seen["out"] = output[0].detach()  # (T, C)

    hooks = [proj.register_forward_pre_hook(before), proj.register_forward_hook(after)]
    try:
        device = next(model.parameters()).device
        x = torch.tensor([list(ids)], dtype=torch.long, device=device)  # (1, T)
        with torch.no_grad():
            result = model(x, capture_head=(layer, head))
    finally:
        for h in hooks:
            h.remove()

    def np32(t) -> np.ndarray:
        return t.detach().float().cpu().numpy()

    q, k, v = (np32(result.qkv[name]) for name in ("q", "k", "v"))  # (T, D) each
    D = q.shape[1]
    T = q.shape[0]
    scores = q.astype(np.float64) @ k.astype(np.float64).T  # (T, T) raw dot products
    weight = proj.weight  # (C_out, C_in): torch stores W_O transposed
    concat = np32(seen["concat"])  # (T, C)
    return {
        "q": q, "k": k, "v": v,
        "scores": scores,
        "scaled": scores / math.sqrt(D),
        "allowed": np.tril(np.ones((T, T), dtype=bool)),
        "weights": np32(result.attention[layer, head]),  # (T, T)
        "head_out": concat[:, head * D:(head + 1) * D],  # (T, D)
        "concat": concat,
        "w_o": np32(weight).T,  # (C_in, C_out)
        "bias": None if proj.bias is None else np32(proj.bias),  # (C,)
        "out": np32(seen["out"]),  # (T, C)
        "d_head": D, "n_head": cfg.n_head, "layer": layer, "head": head,
    }

