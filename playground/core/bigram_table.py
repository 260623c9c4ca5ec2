"""A bigram model's whole next-token table, beside the same table counted from its training text.

    tables = bigram_tables(model, train_ids)   # BigramTables: model (n, V), counted (n, V), shown
    tables.model[r]                            # softmax of the model's logits after token shown[r]
    tables.counted[r]                          # how often each token followed it, as shares

A bigram's best possible table *is* the counted one (its loss on the training text is lowest
there), so the two pictures side by side show how close training came. A vocabulary larger
than ``MAX_SHOWN`` keeps the most frequent tokens' rows and columns (rows then no longer sum
to 1 on screen; the numbers are still those of the full rows).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_SHOWN = 128  # a heatmap with more rows than this has no readable labels


@dataclass(frozen=True)
class BigramTables:
    shown: list[int]  # token ids of the rows (and of the columns shown), in display order
    model: np.ndarray  # (n, V) p(next | current) from the model: softmax of its table's rows
    counted: np.ndarray | None  # (n, V) the same counted from the training text; None: text gone
    row_counts: np.ndarray | None  # (n,) how often each current token was followed by anything
    note: str = ""  # why counted is None


def model_table(model) -> np.ndarray:
    """(V, V) p(next | current) for every current token: softmax over each row of logits."""
    import torch

    with torch.no_grad():
        logits = model.table.weight.detach().float().cpu()  # (V, V)
        return torch.softmax(logits, dim=-1).numpy()  # (V, V) rows sum to 1


def counted_table(train_ids: Sequence[int], vocab_size: int, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(n, V) share of each next token after each of ``rows`` in ``train_ids``, and (n,) counts.

    A token never followed by anything (the text's last, or unseen) has a row of zeros.
    """
    ids = np.asarray(train_ids, dtype=np.int64)  # (N,)
    rows = np.asarray(list(rows), dtype=np.int64)  # (n,)
    where = np.full(vocab_size, -1, dtype=np.int64)  # (V,) token id -> its row, or -1
    where[rows] = np.arange(len(rows))
    cur, nxt = where[ids[:-1]], ids[1:]  # (N-1,) ×2
    keep = cur >= 0
    flat = cur[keep] * vocab_size + nxt[keep]  # (M,)
    counts = np.bincount(flat, minlength=len(rows) * vocab_size).reshape(len(rows), vocab_size)  # (n, V)
    totals = counts.sum(axis=1)  # (n,)
    shares = counts / np.where(totals > 0, totals, 1)[:, None]  # (n, V)
    return shares, totals


def shown_tokens(train_ids: Sequence[int] | None, vocab_size: int, limit: int = MAX_SHOWN) -> list[int]:
    """Every token of a small vocabulary; else the ``limit`` most frequent in the text, by id."""
    if vocab_size <= limit:
        return list(range(vocab_size))
    counts = np.bincount(np.asarray(train_ids if train_ids is not None else [], dtype=np.int64),
                         minlength=vocab_size)  # (V,)
    top = np.lexsort((np.arange(vocab_size), -counts))[:limit]
    return sorted(int(i) for i in top)


def bigram_tables(model, train_ids: Sequence[int] | None, note: str = "") -> BigramTables:
    """The model's table and (when the training ids are known) the counted one, same rows."""
    V = model.config.vocab_size
    shown = shown_tokens(train_ids, V)
    probs = model_table(model)[shown]  # (n, V)
    if train_ids is None:
        return BigramTables(shown, probs, None, None, note)
    counted, totals = counted_table(train_ids, V, shown)
    return BigramTables(shown, probs, counted, totals)


def tables_for_run(run_path: str | os.PathLike, model, tokenizer) -> BigramTables:
    """The tables of a run's bigram, counting the tokens it trained on (those before the split)."""
    from playground.core import corpus as corpus_mod
    from playground.core.checkpoint import Run
    from playground.errors import PlaygroundError

    run = Run(run_path)
    try:
        corpus = corpus_mod.verify_record(run.corpus_record)
        ids = tokenizer.encode(corpus.text)
        train_ids = ids[: int(len(ids) * run.train_config.split)]  # the trainer's own cut, in tokens
    except PlaygroundError as exc:
        return bigram_tables(model, None, note=f"The training text cannot be counted: {exc}")
    return bigram_tables(model, train_ids)
