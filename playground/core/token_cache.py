"""The corpus as token ids in a file on disk: made once per (corpus, tokenizer), memory-mapped.

As nanoGPT's ``train.bin``: one flat array of ids, ``uint16`` when the vocabulary fits (up to
65,536 tokens), else ``uint32``. Training draws its batches from a memory map of it, so a corpus
of any size costs the pages a batch touches, not the whole text in memory.

The files live in ``$PLAYGROUND_HOME/cache/tokens/`` (never in a run folder), named by a
fingerprint of the corpus (its sha256) and the tokenizer (its JSON), so every run on the same
text and tokenizer reuses one file. A file is written chunk by chunk to a temporary name and
``os.replace``d; the small JSON beside it is written after, so a file without its JSON (a crash
in between) or of the wrong length is never used: it is simply made again. The least recently
used files beyond ``KEEP`` are deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from playground import paths
from playground.core import atomic
from playground.errors import Cancelled, TokenizerError

FORMAT = 1
KEEP = 12  # token files kept in the cache (a 1 GB text with characters: a 2 GB file)
CHUNK_CHARS = 1 << 20  # characters tokenized at a time: memory stays flat, Cancel is noticed
ProgressFn = Callable[[int, int], None]  # (characters done, characters in all)


@dataclass(frozen=True)
class TokenFile:
    path: Path
    dtype: str  # "uint16" or "uint32"
    tokens: int
    chars: int  # characters of the text it encodes (characters per token for messages)

    def ids(self) -> np.ndarray:
        """The ids, memory-mapped read-only: (tokens,)."""
        if self.tokens == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.tokens,))

    def mapped(self, start: int = 0, stop: int | None = None) -> MappedIds:
        """ids[start:stop] for drawing batches: see MappedIds."""
        stop = self.tokens if stop is None else stop
        return MappedIds(self.path, self.dtype, start, stop)


class MappedIds:
    """A range of a token file that reads like a 1-D array (``len``, ``ids[index]``). The file is
    mapped afresh every ``REMAP_EVERY`` reads, as nanoGPT maps it afresh for every batch: the pages
    earlier batches touched are let go, so memory does not grow towards the file's size over a long
    training. Random access is advised, so the system reads the pages a window needs rather than
    reading ahead around them.
    """

    # Reads per mapping. A page fault also maps neighbouring pages the system has cached (Linux
    # maps 64 KB around it whatever the advice), so mapped pages pile up fast: for a 200 MB text,
    # 64 reads per mapping measured +170 MB of peak memory, 4 reads +55 MB, 1 read +4 MB (at
    # ~0.1-0.2 ms a batch for the mapping, as nanoGPT pays it).
    REMAP_EVERY = 1

    def __init__(self, path: Path, dtype: str, start: int, stop: int) -> None:
        self.path, self.dtype, self.start, self.stop = Path(path), np.dtype(dtype), start, stop
        self._map: np.memmap | None = None
        self._reads = 0

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index):
        if len(self) == 0:
            return np.zeros(0, dtype=self.dtype)[index]
        if self._map is None or self._reads >= self.REMAP_EVERY:
            self._map = None  # unmapped here: np.array below copies, so nothing else refers to it
            self._map = np.memmap(self.path, dtype=self.dtype, mode="r",
                                  offset=self.start * self.dtype.itemsize, shape=(len(self),))
            raw = getattr(self._map, "_mmap", None)
            if raw is not None and hasattr(mmap, "MADV_RANDOM"):
                raw.madvise(mmap.MADV_RANDOM)
            self._reads = 0
        self._reads += 1
        return np.array(self._map[index])


def folder() -> Path:
    return paths.cache_dir() / "tokens"


def dtype_for(vocab_size: int) -> str:
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def key(corpus_sha256: str, tokenizer) -> str:
    tok = json.dumps(tokenizer.to_json(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{FORMAT}\n{corpus_sha256}\n{tok}".encode()).hexdigest()[:40]


def _paths(name: str) -> tuple[Path, Path]:
    base = folder()
    return base / f"{name}.bin", base / f"{name}.json"


def lookup(corpus, tokenizer) -> TokenFile | None:
    """The finished token file of this corpus and tokenizer, or None."""
    name = key(corpus.sha256, tokenizer)
    bin_path, meta_path = _paths(name)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        found = TokenFile(bin_path, meta["dtype"], int(meta["tokens"]), int(meta["chars"]))
        if meta.get("format") != FORMAT or meta.get("corpus") != corpus.sha256:
            return None
        if bin_path.stat().st_size != found.tokens * np.dtype(found.dtype).itemsize:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with contextlib.suppress(OSError):
        os.utime(meta_path)  # recently used: kept by _prune
    return found


def token_file(corpus, tokenizer, *, progress: ProgressFn | None = None, cancel=None) -> TokenFile:
    """The token file of ``corpus`` under ``tokenizer``: found in the cache, or made now.

    ``progress(chars_done, chars_total)`` is called after each chunk while making it; ``cancel``
    (anything with ``is_set()``, e.g. the trainer's stop event) stops it with ``Cancelled``,
    leaving no file behind.
    """
    found = lookup(corpus, tokenizer)
    if found is not None:
        return found
    base = folder()
    base.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale_temps(base)
    name = key(corpus.sha256, tokenizer)
    bin_path, meta_path = _paths(name)
    dtype = np.dtype(dtype_for(tokenizer.vocab_size))
    encode = getattr(tokenizer, "encode_array", None)
    total, done, tokens = corpus.chars, 0, 0
    if progress is not None:
        progress(0, total)
    with atomic.atomic_path(bin_path) as tmp, open(tmp, "wb") as out:
        for chunk in corpus.chunks(CHUNK_CHARS):
            if cancel is not None and cancel.is_set():
                raise Cancelled("Tokenizing the text was cancelled; nothing was trained.")
            ids = encode(chunk) if encode is not None else np.asarray(tokenizer.encode(chunk), dtype=np.int64)
            if ids.size and int(ids.max()) >= tokenizer.vocab_size:  # never: the tokenizer made them
                raise TokenizerError(f"The tokenizer produced id {int(ids.max())}, beyond its vocabulary.")
            ids.astype(dtype, copy=False).tofile(out)
            tokens += int(ids.size)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        out.flush()
    atomic.write_json(meta_path, {"format": FORMAT, "dtype": dtype.name, "tokens": tokens, "chars": done,
                                  "corpus": corpus.sha256, "corpus_name": corpus.name,
                                  "tokenizer": tokenizer.describe(), "made": time.time()})
    _prune()
    return TokenFile(bin_path, dtype.name, tokens, done)


def _prune(keep: int = KEEP) -> list[Path]:
    """Delete the least recently used token files beyond ``keep`` (and files without a JSON)."""
    base = folder()
    metas = sorted(base.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = []
    for meta in metas[keep:]:
        for path in (meta.with_suffix(".bin"), meta):
            with contextlib.suppress(OSError):  # in use elsewhere (Windows): next time
                path.unlink()
                removed.append(path)
    listed = {m.stem for m in metas[:keep]}
    for orphan in base.glob("*.bin"):
        if orphan.stem not in listed and time.time() - orphan.stat().st_mtime > atomic.STALE_AFTER_S:
            with contextlib.suppress(OSError):
                orphan.unlink()
                removed.append(orphan)
    return removed
