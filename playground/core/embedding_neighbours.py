"""Which tokens the model treats alike: nearest neighbours by cosine similarity, in all dimensions.

    table = load(run_path, step)                  # a worker's job: the (V, C) embedding matrix
    nearest(table.matrix, token_id, k=10)         # [(id, cosine), ...], most alike first
    similarity_matrix(table.matrix, [3, 7, 12])   # (n, n) cosine between chosen tokens
    map_keeps(explained)                          # share of the variation the 2-D map keeps

The 2-D scatter (``analysis.pca_2d``) keeps only the two directions of most variation, often
well under a fifth of it, so two tokens can sit together on the map and be far apart in the
model. The neighbour list uses every dimension: it is the faithful view.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from playground.core.bigram_table import BigramTables

NEIGHBOURS = 10


@dataclass(frozen=True)
class EmbeddingTable:
    """One checkpoint's token vectors (and, for a bigram, its next-token tables)."""

    matrix: np.ndarray  # (V, C) float32 token embeddings (a bigram: its V×V logits table)
    arch: str  # "gpt" | "bigram"
    bigram: BigramTables | None = None


def unit_rows(matrix) -> np.ndarray:
    """Rows scaled to length 1 (a zero row stays zero, and so is alike to nothing)."""
    x = np.asarray(matrix, dtype=np.float64)  # (V, C)
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (V, 1)
    return x / np.where(norms > 0, norms, 1.0)  # (V, C)


def nearest(matrix, token: int, k: int = NEIGHBOURS) -> list[tuple[int, float]]:
    """The ``k`` tokens whose embeddings point most nearly the same way as ``token``'s.

    Cosine similarity over all C dimensions, the token itself left out; ties in id order.
    """
    unit = unit_rows(matrix)  # (V, C)
    if not 0 <= token < len(unit):
        raise IndexError(f"token {token} is outside a vocabulary of {len(unit)}")
    sims = unit @ unit[token]  # (V,)
    sims = np.clip(sims, -1.0, 1.0)
    order = np.lexsort((np.arange(len(sims)), -sims))  # most alike first, ties by id
    return [(int(i), float(sims[i])) for i in order if i != token][:k]


def similarity_matrix(matrix, tokens: Sequence[int]) -> np.ndarray:
    """(n, n) cosine similarity between the embeddings of ``tokens`` (in the order given)."""
    unit = unit_rows(matrix)[list(tokens)]  # (n, C)
    return np.clip(unit @ unit.T, -1.0, 1.0)  # (n, n)


def map_keeps(explained: Sequence[float]) -> float:
    """The share (0..1) of the embeddings' variation the 2-D map shows: its two axes' shares."""
    return float(sum(explained[:2]))


def load(run_path: str | os.PathLike, step: int | None) -> EmbeddingTable:
    """The checkpoint's embedding matrix from the shared model cache (a worker's job). A bigram
    also gets its next-token table beside the one counted from its training text."""
    from playground.core import bigram_table
    from playground.core.model_cache import MODELS

    loaded = MODELS.get(run_path, step)
    model = loaded.model
    matrix = model.token_embeddings().float().cpu().numpy()  # (V, C)
    if model.config.arch != "bigram":
        return EmbeddingTable(matrix, model.config.arch)
    return EmbeddingTable(matrix, "bigram", bigram_table.tables_for_run(run_path, model, loaded.tokenizer))
