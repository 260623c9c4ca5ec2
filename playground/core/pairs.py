"""Sentence pairs for an encoder-decoder: one pair per line, ``source<TAB>target``.

The text stays an ordinary corpus (the Corpus and Tokenizer tabs, hashes and run records work
unchanged) and ONE tokenizer reads both sides. The tab and the newline that frame a target become
the decoder's start and end tokens: the decoder reads ``[start] + target`` and learns to write
``target + [end]``, so a translation ends when the model writes the end token.

Validation is the last lines of the text, as for every corpus (a random split would leak).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from playground.core.corpus import split_index
from playground.core.seq2seq import PAD  # padding in every batch tensor, ignored by the loss
from playground.errors import CorpusError, TokenizerError

START_TEXT, END_TEXT = "\t", "\n"


@dataclass(frozen=True)
class Pair:
    source: str
    target: str


def _lines(text: str) -> list[str]:
    return [ln for ln in text.split("\n") if ln.strip()]


def is_pair_text(text: str) -> bool:
    """True when every non-empty line is ``source<TAB>target`` with both sides non-empty."""
    lines = _lines(text)
    return bool(lines) and all(_split_line(ln) is not None for ln in lines)


def _split_line(line: str) -> Pair | None:
    parts = line.rstrip("\r").split("\t")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return Pair(parts[0], parts[1])


def parse_pairs(text: str) -> list[Pair]:
    """The pairs of a text, in order; refuses a text that is not one pair per line, in words."""
    pairs = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        pair = _split_line(line)
        if pair is None:
            raise CorpusError(
                f"Line {number} is not a sentence pair: {line[:60]!r}.",
                "An encoder-decoder learns from pairs: one per line, the source, a tab, then the target "
                "(e.g. builtin:robot-language). Use a GPT for an ordinary text.")
        pairs.append(pair)
    if not pairs:
        raise CorpusError("The text holds no sentence pairs.", "Use builtin:robot-language, or a text with "
                          "one 'source<TAB>target' pair per line.")
    return pairs


def split_pairs(pairs: Sequence[Pair], split: float) -> tuple[list[Pair], list[Pair]]:
    """Training pairs and validation pairs: the last lines are validation (at least one each)."""
    if len(pairs) < 2:
        raise CorpusError(f"The text has {len(pairs)} sentence pair(s); training needs at least 2 "
                          "(one to learn from, one to validate on).")
    cut = min(max(1, split_index(len(pairs), split)), len(pairs) - 1)
    return list(pairs[:cut]), list(pairs[cut:])


def validation_pairs(corpus_text: str, split: float) -> list[Pair]:
    return split_pairs(parse_pairs(corpus_text), split)[1]


def specials(tokenizer) -> tuple[int, int]:
    """(start, end) token ids: the tokenizer's tokens for the tab and the newline."""
    ids = []
    for text, name in ((START_TEXT, "tab"), (END_TEXT, "newline")):
        try:
            got = tokenizer.encode(text)
        except TokenizerError:
            got = []
        if len(got) != 1:
            raise TokenizerError(f"This tokenizer has no single token for the {name} that frames a target.",
                                 hint="Train the tokenizer on the sentence-pair text itself (char, word or bpe).")
        ids.append(got[0])
    return ids[0], ids[1]


def encode_pair(tokenizer, pair: Pair) -> tuple[list[int], list[int]]:
    """Source ids and target ids (without start/end), each side encoded on its own."""
    return list(tokenizer.encode(pair.source)), list(tokenizer.encode(pair.target))


def side_vocabularies(tokenizer, pairs: Sequence[Pair]) -> tuple[list[int], list[int]]:
    """The sorted token ids the sources use and those the targets use (one tokenizer, two sides)."""
    src, tgt = set(), set()
    for pair in pairs:
        s, t = encode_pair(tokenizer, pair)
        src.update(s)
        tgt.update(t)
    return sorted(src), sorted(tgt)


def _padded(rows: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)  # (N, L)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)  # (len,)
    return out


class _Side:
    """One split's pairs as padded tensors: src (N, S_max), tgt_in / tgt_out (N, T_max)."""

    def __init__(self, encoded: list[tuple[list[int], list[int]]], start: int, end: int,
                 device: torch.device) -> None:
        self.src = _padded([s for s, _t in encoded]).to(device)  # (N, S_max)
        self.tgt_in = _padded([[start] + t for _s, t in encoded]).to(device)  # (N, T_max)
        self.tgt_out = _padded([t + [end] for _s, t in encoded]).to(device)  # (N, T_max)
        self.src_len = torch.tensor([len(s) for s, _t in encoded])  # (N,) on the CPU: read per batch
        self.tgt_len = torch.tensor([len(t) + 1 for _s, t in encoded])  # (N,)


class PairBatches:
    """Random batches of pairs, padded to the longest source and target in the batch with -1:
    ``batch(split, gen) -> (src (B, S), tgt_in (B, T), tgt_out (B, T))``."""

    def __init__(self, train: Sequence[Pair], val: Sequence[Pair], tokenizer, context: int, batch_size: int,
                 device: torch.device) -> None:
        self.start, self.end = specials(tokenizer)
        self.batch_size, self.device = batch_size, device
        encoded = {"train": [encode_pair(tokenizer, p) for p in train],
                   "val": [encode_pair(tokenizer, p) for p in val]}
        longest_src = max(len(s) for rows in encoded.values() for s, _t in rows)
        longest_tgt = max(len(t) + 1 for rows in encoded.values() for _s, t in rows)  # + the start token
        if max(longest_src, longest_tgt) > context:
            raise CorpusError(
                f"The longest source has {longest_src} tokens and the longest target {longest_tgt} "
                f"(with its start token), more than the model's context of {context}.",
                f"Set the context length to at least {max(longest_src, longest_tgt)}.")
        if any(not s or not t for rows in encoded.values() for s, t in rows):
            raise CorpusError("A sentence pair has a side that the tokenizer turns into no tokens.")
        self._sides = {split: _Side(rows, self.start, self.end, device) for split, rows in encoded.items()}
        n = sum(len(s) + len(t) + 1 for s, t in encoded["train"])
        # Tokens a step reads, source and target: the tokens/s the Train tab shows.
        self.tokens_per_batch = max(1, round(batch_size * n / len(encoded["train"])))
        self.n_train, self.n_val = len(train), len(val)
        self.sample_source = val[0].source  # what the trainer's sample translates

    def batch(self, split: str, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        side = self._sides[split]
        ix = torch.randint(side.src.shape[0], (self.batch_size,), generator=gen)  # (B,)
        S, T = int(side.src_len[ix].max()), int(side.tgt_len[ix].max())
        ixd = ix.to(self.device)  # (B,)
        return side.src[ixd, :S], side.tgt_in[ixd, :T], side.tgt_out[ixd, :T]  # (B, S), (B, T), (B, T)

    def first_val_token(self) -> int:
        return self.start


def pair_batches(text: str, tokenizer, context: int, batch_size: int, split: float,
                 device: torch.device) -> PairBatches:
    """The trainer's data for an encoder-decoder run (``Trainer._load_data``)."""
    train, val = split_pairs(parse_pairs(text), split)
    return PairBatches(train, val, tokenizer, context, batch_size, device)
