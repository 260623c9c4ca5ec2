"""Learning byte-pair merges from a corpus: the BPE trainer (tiktoken only encodes; this is ours).

``pretokenize_counts`` splits the text with the BPE regex into words and counts them, chunk by
chunk so a Cancel is noticed; ``train_bpe`` learns merges from those counts incrementally.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Callable

import regex

from playground.errors import Cancelled

ProgressFn = Callable[[int, int], None]

_PRETOKENIZE_CHUNK = 1 << 20
# A line break followed by a letter is always a boundary of the BPE regex (no branch matches
# across it), so the text can be cut there and pre-tokenized chunk by chunk with identical
# results, polling cancel between chunks.
_SAFE_CUT = regex.compile(r"\n(?=\p{L})")


def pretokenize_counts(
    text: str, pattern: regex.Pattern, cancel, chunk: int = _PRETOKENIZE_CHUNK
) -> Counter:
    counts: Counter = Counter()
    start, n = 0, len(text)
    while start < n:
        check_cancel(cancel)
        end = n
        if start + chunk < n:
            m = _SAFE_CUT.search(text, start + chunk)
            end = m.end() if m else n
        # concurrent=True releases the GIL, so a GUI thread stays responsive meanwhile.
        counts.update(pattern.findall(text, start, end, concurrent=True))
        start = end
    return counts


def check_cancel(cancel) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("Tokenizer training was cancelled.")


def train_bpe(
    word_counts: dict[str, int],
    n_merges: int,
    progress: ProgressFn | None = None,
    cancel=None,
) -> list[tuple[int, int]]:
    """Learn up to ``n_merges`` byte-pair merges from pre-tokenized words and their counts.

    Pairs are counted over the *unique* words (weighted by frequency), and each merge only
    revisits the words that contain the merged pair (index pair -> word ids), updating the pair
    counts incrementally. The best pair comes from a max-heap with lazy invalidation: every
    count change pushes a fresh entry, stale ones are skipped when popped. Ties go to the
    smallest (left id, right id) so training is deterministic.
    """
    words: list[list[int]] = [list(w.encode("utf-8")) for w in word_counts]
    freqs: list[int] = list(word_counts.values())
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, (w, f) in enumerate(zip(words, freqs)):
        if wi % 20_000 == 0:
            check_cancel(cancel)
        for pair in zip(w, w[1:]):
            counts[pair] += f
            where[pair].add(wi)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)

    token_bytes = [bytes([i]) for i in range(256)]
    known = {b: i for i, b in enumerate(token_bytes)}
    merges: list[tuple[int, int]] = []
    last_report = time.monotonic()
    if progress is not None:
        progress(0, n_merges)

    while len(merges) < n_merges:
        check_cancel(cancel)
        pair = None
        while heap:
            neg, candidate = heapq.heappop(heap)
            if counts.get(candidate, 0) == -neg and neg < 0:
                pair = candidate
                break
        if pair is None:
            break  # every word is a single token: nothing left to merge
        a, b = pair
        joined = token_bytes[a] + token_bytes[b]
        existing = known.get(joined)
        if existing is None:
            new_id = len(token_bytes)
            token_bytes.append(joined)
            known[joined] = new_id
            merges.append(pair)
        else:
            # Defensive (never seen in practice): these bytes are already a token built from
            # another split ("ab"+"c" vs "a"+"bc"). tiktoken merges by the bytes' rank, so it
            # would make them that token too; do the same rather than add a duplicate rank.
            new_id = existing

        changed: set[tuple[int, int]] = set()
        for wi in where.pop(pair):
            w, f = words[wi], freqs[wi]
            new: list[int] = []
            i, n = 0, len(w)
            while i < n:
                if i + 1 < n and w[i] == a and w[i + 1] == b:
                    new.append(new_id)
                    i += 2
                else:
                    new.append(w[i])
                    i += 1
            old_pairs = list(zip(w, w[1:]))
            new_pairs = list(zip(new, new[1:]))
            for p in old_pairs:
                counts[p] -= f
            for p in new_pairs:
                counts[p] += f
            old_set, new_set = set(old_pairs), set(new_pairs)
            for p in old_set - new_set:
                if p != pair:
                    where[p].discard(wi)
            for p in new_set - old_set:
                where[p].add(wi)
            changed |= old_set
            changed |= new_set
            words[wi] = new
        counts.pop(pair, None)
        changed.discard(pair)
        for p in changed:
            c = counts[p]
            if c > 0:
                heapq.heappush(heap, (-c, p))
            else:
                counts.pop(p, None)
                where.pop(p, None)

        if progress is not None and time.monotonic() - last_report >= 0.05:
            last_report = time.monotonic()
            progress(len(merges), n_merges)
    if progress is not None:
        progress(len(merges), n_merges)
    return merges
