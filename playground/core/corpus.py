"""The text a model learns from: load it, decode it, describe it, split it.

A corpus comes from a text file, a folder of text files, pasted text or a built-in
generator. Decoding is strict and honest: UTF-8 (with or without a BOM) and UTF-16/32 with
a BOM are detected; anything else is read as cp1252 (or Latin-1) *with a visible note* so
the student can pick another encoding; binary files are refused. Line endings become "\\n".

A file (or folder) bigger than ``IN_MEMORY_BYTES`` is not kept as one string: loading it is
one streaming pass (encoding, checks, fingerprint, counts) and its text is read again in
chunks where it is needed (``Corpus.chunks``: tokenizers, the token file, statistics), so
memory does not grow with the corpus. ``Corpus.text`` still works for it, by reading it all.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import hashlib
import math
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

from playground.errors import CorpusError

DEFAULT_SPLIT = 0.9
DEFAULT_EXTENSIONS = (".txt", ".md", ".rst", ".py")
MOST_COMMON = 30
# Files (and folders) up to this size are held as one string, as always; bigger ones stream.
IN_MEMORY_BYTES = 32 << 20
READ_BYTES = 1 << 20  # bytes per read when streaming: each piece of work stays a few ms
# A file or folder with more characters than this gets statistics from a sample of its chunks
# (spread over the whole text), said so in the Corpus tab; below it they are exact.
STATS_FULL_CHARS = 64_000_000
STATS_SAMPLE_CHARS = 16_000_000

# Checked longest first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
# Control characters that never appear in real text (tab, newlines and form feed do).
# C1 controls are included: binary bytes read as Latin-1 turn into them.
_CONTROLS = dict.fromkeys([c for c in range(32) if c not in (9, 10, 12, 13)] + [127]
                          + list(range(0x80, 0xA0)))
_BINARY_SAMPLE = 65536  # characters inspected for control characters
_BINARY_RATIO = 0.05  # more than this share of control characters means "not text"
_STATS_CHUNK = 1 << 22  # characters per numpy pass: bounds memory for huge files
# Where a text may be cut so that every tokenizer cuts each half exactly as it cuts the whole:
# after a line break between two non-spaces. None of the word, BPE (GPT-4) or GPT-2 patterns
# matches across such a line break, so tokenizing chunk by chunk gives the whole text's ids.
_SAFE_CUT = regex.compile(r"(?<=\S)\n(?=\S)")
_SAFE_CUT_LOOKBACK = 1 << 16  # a chunk is cut at the first safe place in its last 64 K characters


@dataclass(frozen=True)
class CorpusStats:
    chars: int
    lines: int
    words: int
    unique_chars: int
    most_common: list[tuple[str, int]]  # top 30, most frequent first
    # Estimated from this many characters spread over the text (a big file); 0 = counted exactly.
    # Characters and lines are exact either way.
    sample_chars: int = 0

    @property
    def sampled(self) -> bool:
        return self.sample_chars > 0


@dataclass(frozen=True)
class _Part:
    """One file of a corpus that is read from disk when needed (its text is not held)."""

    path: str
    codec: str  # the codec that decoded it
    size: int  # bytes and modification time when loaded: a change is noticed, never tokenized
    mtime_ns: int
    suffix: str  # what follows its text: "" for a single file, the blank line between files of a folder


class Corpus:
    """A text to learn from; ``text`` held in memory, or ``parts`` read from disk in chunks."""

    def __init__(self, text: str | None = None, name: str = "", source: str = "", encoding: str = "utf-8",
                 encoding_guessed: bool = False, note: str | None = None, description: str = "",
                 extensions: tuple[str, ...] | None = None, *, parts: tuple[_Part, ...] = (),
                 chars: int = 0, lines: int = 0, sha256: str | None = None) -> None:
        if text is None and not parts:
            raise ValueError("a Corpus needs its text or the files it is read from")
        self.name = name  # display name ("Tiny Shakespeare", "notes.txt", "Pasted text")
        self.source = source  # "builtin:NAME" | absolute path of file/folder | "pasted"
        self.encoding = encoding  # the encoding used to decode
        self.encoding_guessed = encoding_guessed  # not UTF-8/UTF-16-with-BOM: GUI offers a chooser
        self.note = note  # e.g. "Not UTF-8: read as cp1252. Choose another encoding ..."
        self.description = description  # for built-ins
        self.extensions = extensions  # folder corpora: the file types that were read
        self.parts = parts  # empty for a corpus held in memory
        self._text = text
        self._chars, self._lines, self._sha256 = chars, lines, sha256
        self._stats: CorpusStats | None = None
        self._preview: str | None = None

    @property
    def in_memory(self) -> bool:
        return not self.parts

    @property
    def text(self) -> str:
        """The whole text. For a streamed corpus this reads it all (and keeps it): the training
        path never asks for it; views of small excerpts should use ``preview`` or ``chunks``."""
        if self._text is None:
            self._text = "".join(self.chunks())
        return self._text

    @property
    def chars(self) -> int:
        return len(self._text) if self.in_memory else self._chars

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk.encode("utf-8"))
            self._sha256 = digest.hexdigest()
        return self._sha256

    def chunks(self, size: int = 1 << 20) -> Iterator[str]:
        """The text in pieces of about ``size`` characters, cut only where tokenizing each piece
        gives the same tokens as tokenizing the whole (see ``_SAFE_CUT``)."""
        if self.in_memory:
            return _safe_pieces([self._text], size, force_after=None)
        return _safe_pieces(_parts_text(self.parts), size)

    def preview(self, n: int) -> str:
        """The first ``n`` characters (read once, then kept)."""
        if self.in_memory:
            return self._text[:n]
        if self._preview is None or len(self._preview) < min(n, self.chars):
            head = ""
            for piece in _parts_text(self.parts):  # closed (its file too) when left early
                head += piece
                if len(head) >= n:
                    break
            self._preview = head
        return self._preview[:n]

    def stats(self) -> CorpusStats:
        if self._stats is None:
            self._stats = text_stats(self._text) if self.in_memory else _streamed_stats(self)
        return self._stats

    def split(self, fraction: float = DEFAULT_SPLIT) -> tuple[str, str]:
        """(train, validation); validation is the *end* of the text, so it is text the
        model has not seen in any form (a random split would leak neighbouring lines)."""
        cut = split_index(self.chars, fraction)
        return self.text[:cut], self.text[cut:]

    def record(self, fraction: float = DEFAULT_SPLIT) -> dict:
        """What a run stores to find (and check) this corpus again."""
        rec = {"source": self.source, "name": self.name, "sha256": self.sha256,
               "split": fraction, "encoding": self.encoding}
        if self.extensions is not None:
            rec["extensions"] = list(self.extensions)
        return rec

    # ---- plumbing: equality (the GUI state compares), pickling (the training child), repr

    def _key(self) -> tuple:
        return (self.name, self.source, self.encoding, self.encoding_guessed, self.note,
                self.description, self.extensions, self.parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Corpus):
            return NotImplemented
        if self._key() != other._key():
            return False
        if self.in_memory:
            return self._text == other._text
        return self.sha256 == other.sha256

    __hash__ = None  # mutable (the name may be changed), like the dataclass it was

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if not self.in_memory:  # the child process reads the file itself
            state["_text"] = None
        return state

    def __repr__(self) -> str:
        return f"<Corpus {self.name!r} {self.chars:,} characters, {len(self.parts)} file(s) read from disk>"


def split_index(n: int, fraction: float) -> int:
    if not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise CorpusError(f"The training share must be between 0 and 1 (got {fraction!r}).",
                          "0.9 keeps 90% for training and the last 10% for validation.")
    return int(n * fraction)


# ----------------------------------------------------------------------------- statistics

class _Counter:
    """Character counts, words and lines of a text fed in pieces (numpy: no per-character loop)."""

    def __init__(self) -> None:
        self.counts = np.zeros(0, dtype=np.int64)
        self.chars = self.words = self.newlines = 0
        self.prev_space = True  # a word starts where a non-space follows a space (or the start)
        self.last = ""

    def feed(self, chunk: str) -> None:
        if not chunk:
            return
        cps = np.frombuffer(chunk.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (N,)
        chunk_counts = np.bincount(cps)  # (max code point + 1,)
        if len(chunk_counts) > len(self.counts):
            chunk_counts[: len(self.counts)] += self.counts
            self.counts = chunk_counts
        else:
            self.counts[: len(chunk_counts)] += chunk_counts
        table = _space_table()
        space = table[np.minimum(cps, len(table) - 1)]  # (N,) bool
        starts = ~space
        starts[1:] &= space[:-1]
        starts[0] &= self.prev_space
        self.words += int(np.count_nonzero(starts))
        self.prev_space = bool(space[-1])
        self.chars += len(chunk)
        self.newlines += chunk.count("\n")
        self.last = chunk[-1]

    def most_common(self, scale: float = 1.0) -> list[tuple[str, int]]:
        counts = self.counts
        order = sorted(np.flatnonzero(counts).tolist(), key=lambda cp: (-int(counts[cp]), cp))[:MOST_COMMON]
        return [(chr(cp), round(int(counts[cp]) * scale)) for cp in order]

    def unique(self) -> int:
        return int(np.count_nonzero(self.counts))


def text_stats(text: str) -> CorpusStats:
    """Counts in numpy (code points through bincount): ~0.1 s per 10 MB, no Python loop."""
    counter = _Counter()
    for start in range(0, len(text), _STATS_CHUNK):
        counter.feed(text[start:start + _STATS_CHUNK])
    lines = counter.newlines + (1 if text and not text.endswith("\n") else 0)
    return CorpusStats(chars=len(text), lines=lines, words=counter.words, unique_chars=counter.unique(),
                       most_common=counter.most_common())


def _streamed_stats(corpus: Corpus) -> CorpusStats:
    """Exact for a corpus up to STATS_FULL_CHARS; beyond, every k-th chunk is counted (words and
    character counts scaled up, distinct characters as seen) while characters and lines stay the
    exact figures of the loading pass."""
    every = 1 if corpus.chars <= STATS_FULL_CHARS else max(1, corpus.chars // STATS_SAMPLE_CHARS)
    counter = _Counter()
    for i, piece in enumerate(_parts_text(corpus.parts)):  # pieces of <= READ_BYTES characters
        if i % every == 0:
            counter.feed(piece)
    if every == 1:
        return CorpusStats(chars=counter.chars, lines=corpus._lines, words=counter.words,
                           unique_chars=counter.unique(), most_common=counter.most_common())
    scale = corpus.chars / max(1, counter.chars)
    return CorpusStats(chars=corpus.chars, lines=corpus._lines, words=round(counter.words * scale),
                       unique_chars=counter.unique(), most_common=counter.most_common(scale),
                       sample_chars=counter.chars)


@functools.lru_cache(maxsize=1)
def _space_table() -> np.ndarray:
    """table[code point] is True for the characters str.split() splits on (all below 0x3001)."""
    table = np.zeros(0x3002, dtype=bool)
    table[[c for c in range(0x3002) if chr(c).isspace()]] = True
    return table


# ----------------------------------------------------------------------------- decoding

def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise CorpusError(f"Unknown encoding {encoding!r}.",
                          "Try utf-8, utf-16, cp1252 or latin-1.") from None


def _binary_error(label: str, data: bytes | None = None) -> CorpusError:
    hint = ("Choose a plain text file (.txt, .md, .py ...). Word documents and PDFs must be "
            "saved as plain text first.")
    if data:
        sample = data[:_BINARY_SAMPLE]
        # Every other byte zero: UTF-16 text that lacks its byte-order mark.
        if sample[1::2].count(0) > 0.4 * len(sample) / 2:
            hint = "It may be UTF-16 text without a byte-order mark: choose the encoding utf-16-le."
        elif sample[0::2].count(0) > 0.4 * len(sample) / 2:
            hint = "It may be UTF-16 text without a byte-order mark: choose the encoding utf-16-be."
    return CorpusError(f"{label} looks like a binary file, not text.", hint)


def decode_bytes(data: bytes, encoding: str | None = None, label: str = "The file"
                 ) -> tuple[str, str, bool, str | None]:
    """Return (text, encoding used, guessed?, note). ``label`` names the source in messages."""
    guessed, note = False, None
    if encoding is not None:
        used = _codec_name(encoding)
        try:
            text = data.decode(used)
        except UnicodeDecodeError as e:
            raise CorpusError(
                f"{label} is not valid {encoding}: the bytes at position {e.start} cannot be read.",
                "Choose another encoding, or let the app detect it.") from None
    else:
        used = next((name for bom, name in _BOMS if data.startswith(bom)), None)
        if used is not None:
            try:
                text = data.decode(used)
            except UnicodeDecodeError:
                raise CorpusError(f"{label} starts like {used.upper()} text but is not valid {used}.",
                                  "The file may be damaged; try choosing an encoding by hand.") from None
        elif b"\x00" in data:
            raise _binary_error(label, data)
        else:
            try:
                text, used = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                guessed = True
                try:
                    text, used = data.decode("cp1252"), "cp1252"
                except UnicodeDecodeError:  # a few bytes are undefined in cp1252
                    text, used = data.decode("latin-1"), "latin-1"
                note = (f"Not UTF-8: read as {used}. Choose another encoding if letters look wrong.")
    if text.startswith("\ufeff"):  # a BOM kept by an explicit "utf-8" choice
        text = text[1:]
    sample = text[:_BINARY_SAMPLE]
    controls = len(sample) - len(sample.translate(_CONTROLS))
    if "\x00" in text or (controls > _BINARY_RATIO * len(sample) and controls >= 3):
        raise _binary_error(label, data if encoding is None else None)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, used, guessed, note


# ----------------------------------------------------------------------------- streaming

class _DecodeFailed(Exception):  # args[0]: the position of the first bad byte in the whole file
    pass


class _NulFound(Exception):  # a NUL character: binary
    pass


def _decoded_pieces(path: str, codec: str) -> Iterator[str]:
    """A file's text decoded incrementally, as ``decode_bytes`` would give it: a leading BOM
    goes, "\\r\\n" and "\\r" become "\\n" (a "\\r" at a piece's end waits for the next piece)."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    consumed, started, carry_cr = 0, False, False
    with open(path, "rb") as fh:
        while True:
            data = fh.read(READ_BYTES)
            final = not data
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, final)
            except UnicodeDecodeError as e:
                raise _DecodeFailed(consumed - pending + e.start) from None
            consumed += len(data)
            if not started and text:
                started = True
                text = text[1:] if text.startswith("\ufeff") else text
            if carry_cr:
                text, carry_cr = "\r" + text, False
            if not final and text.endswith("\r"):
                text, carry_cr = text[:-1], True
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            if text:
                yield text
            if final:
                return


def _parts_text(parts: tuple[_Part, ...]) -> Iterator[str]:
    """The text of a streamed corpus in pieces: each file's text, then its suffix."""
    for part in parts:
        path = Path(part.path)
        with _reading(path):
            info = path.stat()
            if (info.st_size, info.st_mtime_ns) != (part.size, part.mtime_ns):
                raise CorpusError(f"{path.name} has changed since it was loaded.",
                                  "Load the corpus again to use the new text.")
            try:
                yield from _decoded_pieces(part.path, part.codec)
            except _DecodeFailed:
                raise CorpusError(f"{path.name} has changed since it was loaded: it no longer decodes "
                                  f"as {part.codec}.", "Load the corpus again.") from None
        if part.suffix:
            yield part.suffix


def _safe_pieces(pieces, size: int, force_after: int | None = 8) -> Iterator[str]:
    """Re-cut pieces of text at safe places near every ``size`` characters. With ``force_after``,
    a text with no safe place in that many chunks (no line starts with a non-space) is cut anyway,
    where a token may be split in two; a text held in memory is never forced."""
    buf, start = "", 0
    for piece in pieces:
        buf, start = (buf[start:] + piece if start < len(buf) else piece), 0
        while len(buf) - start > size:
            m = _SAFE_CUT.search(buf, max(start + 1, start + size - _SAFE_CUT_LOOKBACK))
            cut = m.end() if m and m.end() < len(buf) else None
            if cut is None:
                if force_after is None or len(buf) - start <= force_after * size:
                    break
                cut = start + size
            yield buf[start:cut]
            start = cut
    if start < len(buf):
        yield buf[start:]


@dataclass
class _Scan:  # what one streaming pass over a file learns
    chars: int = 0
    newlines: int = 0
    sample: str = ""  # the first _BINARY_SAMPLE characters (the binary check)
    nonspace: bool = False
    ends_with_newline: bool = False
    sha256: str = ""


def _scan_pass(path: Path, codec: str) -> _Scan:
    scan, digest = _Scan(), hashlib.sha256()
    for text in _decoded_pieces(str(path), codec):
        if "\x00" in text:
            raise _NulFound
        if len(scan.sample) < _BINARY_SAMPLE:
            scan.sample += text[:_BINARY_SAMPLE - len(scan.sample)]
        scan.chars += len(text)
        scan.newlines += text.count("\n")
        scan.nonspace = scan.nonspace or not text.isspace()
        scan.ends_with_newline = text.endswith("\n")
        digest.update(text.encode("utf-8"))
    scan.sha256 = digest.hexdigest()
    return scan


def _scan_file(path: Path, encoding: str | None, label: str) -> tuple[_Scan, str, bool, str | None]:
    """``decode_bytes`` in one streaming pass: (scan, encoding used, guessed?, note); the same
    encodings, refusals and messages."""
    with open(path, "rb") as fh:
        head = fh.read(_BINARY_SAMPLE)
    guessed, note = False, None
    try:
        if encoding is not None:
            used = _codec_name(encoding)
            try:
                scan = _scan_pass(path, used)
            except _DecodeFailed as e:
                raise CorpusError(
                    f"{label} is not valid {encoding}: the bytes at position {e.args[0]} cannot be read.",
                    "Choose another encoding, or let the app detect it.") from None
        else:
            used = next((name for bom, name in _BOMS if head.startswith(bom)), None)
            if used is not None:
                try:
                    scan = _scan_pass(path, used)
                except _DecodeFailed:
                    raise CorpusError(f"{label} starts like {used.upper()} text but is not valid {used}.",
                                      "The file may be damaged; try choosing an encoding by hand.") from None
            else:
                if b"\x00" in head:
                    raise _NulFound
                try:
                    scan, used = _scan_pass(path, "utf-8"), "utf-8"
                except _DecodeFailed:
                    guessed = True
                    try:
                        scan, used = _scan_pass(path, "cp1252"), "cp1252"
                    except _DecodeFailed:  # a few bytes are undefined in cp1252
                        scan, used = _scan_pass(path, "latin-1"), "latin-1"
                    note = f"Not UTF-8: read as {used}. Choose another encoding if letters look wrong."
    except _NulFound:
        raise _binary_error(label, head if encoding is None else None) from None
    sample = scan.sample
    controls = len(sample) - len(sample.translate(_CONTROLS))
    if controls > _BINARY_RATIO * len(sample) and controls >= 3:
        raise _binary_error(label, head if encoding is None else None)
    return scan, used, guessed, note


# ----------------------------------------------------------------------------- loading

def _missing(path: Path) -> CorpusError:
    return CorpusError(f"There is no file or folder at {path}.",
                       "Check the spelling, or choose it again: it may have been moved or renamed.")


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn the operating system's refusals to read ``path`` into messages in words."""
    try:
        yield
    except FileNotFoundError:
        raise _missing(path) from None
    except IsADirectoryError:
        raise CorpusError(f"{path} is a folder, not a file.",
                          "Open it as a folder to read all the text files in it.") from None
    except PermissionError:
        raise CorpusError(f"You do not have permission to read {path}.",
                          "Copy the file somewhere you own, or check its permissions.") from None
    except OSError as e:
        raise CorpusError(f"Could not read {path}: {e.strerror or e}.",
                          "Check that the file is not locked or on a disconnected drive.") from None


def _regular_stat(path: Path, max_bytes: int | None = None) -> os.stat_result:
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(path)
    if not stat.S_ISREG(info.st_mode):
        # A pipe, socket or device would block the read forever (or never end): refuse it
        # before opening it, since opening a FIFO alone already waits for a writer.
        raise CorpusError(f"{path} is not a regular file (it is a pipe, a device or a socket).",
                          "Choose a text file saved on disk.")
    if max_bytes is not None and info.st_size > max_bytes:
        raise CorpusError(
            f"{path.name} is {info.st_size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.",
            "Use a smaller file, or a part of this one.")
    return info


def _read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    with _reading(path):
        _regular_stat(path, max_bytes)
        return path.read_bytes()


def _check_not_empty(text: str, label: str, data_len: int) -> None:
    if data_len == 0:
        raise CorpusError(f"{label} is empty.", "Choose a file with some text in it.")
    if not text.strip():
        raise CorpusError(f"{label} contains only spaces and blank lines.",
                          "Choose a file with some text in it.")


def load_file(path, encoding: str | None = None, max_bytes: int | None = None) -> Corpus:
    """Load one text file. ``max_bytes``: refuse (with a message) files larger than this.
    A file over ``IN_MEMORY_BYTES`` is checked in one streaming pass and read again when needed."""
    path = Path(path).expanduser()
    label = path.name or str(path)
    with _reading(path):
        info = _regular_stat(path, max_bytes)
        if info.st_size > IN_MEMORY_BYTES:
            scan, used, guessed, note = _scan_file(path, encoding, label)
            _check_not_empty("x" if scan.nonspace else "", label, info.st_size)
            part = _Part(str(path), used, info.st_size, info.st_mtime_ns, "")
            return Corpus(name=path.name, source=str(path.resolve()), encoding=used, encoding_guessed=guessed,
                          note=note, parts=(part,), chars=scan.chars,
                          lines=scan.newlines + (0 if scan.ends_with_newline else 1), sha256=scan.sha256)
    data = _read_bytes(path, max_bytes)
    if not data:
        _check_not_empty("", label, 0)
    text, used, guessed, note = decode_bytes(data, encoding, label)
    _check_not_empty(text, label, len(data))
    return Corpus(text=text, name=path.name, source=str(path.resolve()), encoding=used,
                  encoding_guessed=guessed, note=note)


def _normalize_extensions(extensions) -> tuple[str, ...]:
    if isinstance(extensions, str):
        extensions = [e for e in extensions.replace(",", " ").split() if e]
    return tuple(("" if e.startswith(".") else ".") + e.lower() for e in (extensions or ()))


def _folder_files(folder: Path, exts: tuple[str, ...]) -> list[Path]:
    try:
        files = sorted(
            (p for p in folder.rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
            key=lambda p: p.relative_to(folder).as_posix())
    except OSError as e:
        raise CorpusError(f"Could not list the folder {folder}: {e.strerror or e}.",
                          "Check that you have permission to open it.") from None
    matching = [p for p in files if not exts or p.suffix.lower() in exts]
    if not matching:
        wanted = ", ".join(exts) if exts else "any"
        others = sorted({p.suffix.lower() or "(none)" for p in files})
        seen = f" It has {len(files)} other file(s) ({', '.join(others[:6])})." if files else ""
        raise CorpusError(f"No text files ({wanted}) in {folder}.{seen}",
                          "Choose another folder, or change the file types to read.")
    return matching


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def load_folder(path, extensions=DEFAULT_EXTENSIONS, encoding: str | None = None) -> Corpus:
    """Every matching text file under ``path`` (sub-folders too, hidden ones skipped), in
    sorted order, joined with a blank line. Empty or binary files are skipped and named in
    the note. ``extensions`` empty or None: every file."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise _missing(folder)
    if not folder.is_dir():
        raise CorpusError(f"{folder} is a file, not a folder.", "Open it as a single file instead.")
    exts = _normalize_extensions(extensions)
    matching = _folder_files(folder, exts)
    streamed = sum(map(_size, matching)) > IN_MEMORY_BYTES
    parts: list = []  # texts, or for a streamed folder (path, info, scan, codec)
    encodings, skipped, guessed = set(), [], False
    for p in matching:
        rel = p.relative_to(folder).as_posix()
        try:
            if streamed:
                with _reading(p):
                    info = _regular_stat(p)
                    scan, used, was_guessed, _ = _scan_file(p, encoding, rel)
                kept = (p, info, scan, used) if scan.nonspace else None
            else:
                text, used, was_guessed, _ = decode_bytes(_read_bytes(p), encoding, rel)
                kept = (text if text.endswith("\n") else text + "\n") if text.strip() else None
        except CorpusError as e:
            if "binary" not in e.message:
                raise
            skipped.append(f"{rel} (binary)")
            continue
        if kept is None:
            skipped.append(f"{rel} (empty)")
            continue
        parts.append(kept)
        encodings.add(used)
        guessed |= was_guessed
    if not parts:
        wanted = ", ".join(exts) if exts else "any"
        raise CorpusError(f"None of the {len(matching)} file(s) ({wanted}) in {folder} has any "
                          f"text: {', '.join(skipped[:5])}.", "Choose another folder.")
    notes = []
    used = encodings.pop() if len(encodings) == 1 else "mixed"
    if guessed:
        notes.append("Some files are not UTF-8: read as "
                     f"{used if used != 'mixed' else 'cp1252/Latin-1'}. "
                     "Choose another encoding if letters look wrong.")
    if skipped:
        notes.append(f"Skipped {len(skipped)} file(s): {', '.join(skipped[:5])}"
                     + (" ..." if len(skipped) > 5 else "") + ".")
    common = dict(name=f"{folder.name}/ ({len(parts)} files)", source=str(folder.resolve()), encoding=used,
                  encoding_guessed=guessed, note=" ".join(notes) or None, extensions=exts)
    if not streamed:
        return Corpus(text="\n".join(parts), **common)
    # Each file's text ends with a newline (one is added where missing); a blank line between files.
    pieces = []
    for i, (p, info, scan, codec) in enumerate(parts):
        suffix = ("" if scan.ends_with_newline else "\n") + ("\n" if i < len(parts) - 1 else "")
        pieces.append((_Part(str(p), codec, info.st_size, info.st_mtime_ns, suffix), scan))
    chars = sum(scan.chars + len(part.suffix) for part, scan in pieces)
    lines = sum(scan.newlines + len(part.suffix) for part, scan in pieces)
    return Corpus(parts=tuple(part for part, _ in pieces), chars=chars, lines=lines, **common)


def from_text(text: str, name: str = "Pasted text") -> Corpus:
    if not text or not text.strip():
        raise CorpusError("The pasted text is empty.", "Paste or type some text first.")
    if "\x00" in text:
        raise CorpusError("The pasted text contains NUL characters (binary data).",
                          "Paste plain text only.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Corpus(text=text, name=name, source="pasted")


def load_builtin(name: str) -> Corpus:
    """A built-in corpus by id. "tiny-shakespeare" is accepted too when it has been downloaded."""
    from playground.core import builtin_corpora

    if name == "tiny-shakespeare":
        from playground.core import download

        path = download.cached_tiny_shakespeare()
        if path is None:
            raise CorpusError("Tiny Shakespeare has not been downloaded yet.",
                              "Download it first (it needs the internet once), or load your own text file.")
        return download.load_tiny_shakespeare()  # cached: no network
    b = builtin_corpora.get_builtin(name)
    return Corpus(text=builtin_corpora.builtin_text(name), name=b.title, source=f"builtin:{name}",
                  description=b.description)


def load(spec: str) -> Corpus:
    """``"builtin:NAME"`` or the path of a file or folder."""
    spec = str(spec)
    if spec.startswith("builtin:"):
        return load_builtin(spec[len("builtin:"):])
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_folder(path)
    return load_file(path)


def verify_record(record: dict) -> Corpus:
    """Reload the corpus a run was trained on and check it is still the same text."""
    source = record.get("source")
    if not source:
        raise CorpusError("This run does not say which text it was trained on.",
                          "Choose a corpus by hand.")
    what = record.get("name") or source
    if source == "pasted":
        raise CorpusError(f"This run was trained on pasted text ({what}), which is not saved.",
                          "Paste the same text again to continue.")
    if source.startswith("builtin:"):
        corpus = load_builtin(source[len("builtin:"):])
    else:
        path = Path(source)
        if not path.exists():
            hint = "Put it back, or choose the corpus again (the run's results will then differ)."
            from playground.core import download

            if path == download.target_path():
                hint = "Download Tiny Shakespeare again."
            raise CorpusError(f"The text this run was trained on ({what}) is gone: "
                              f"nothing at {path}.", hint)
        encoding = record.get("encoding")
        encoding = None if encoding in (None, "mixed") else encoding
        if path.is_dir():
            exts = record.get("extensions")
            corpus = load_folder(path, DEFAULT_EXTENSIONS if exts is None else exts, encoding)
        else:
            corpus = load_file(path, encoding=encoding)
            corpus.name = record.get("name") or corpus.name  # e.g. "Tiny Shakespeare"
    expected = record.get("sha256")
    if expected and corpus.sha256 != expected:
        raise CorpusError(f"The text this run was trained on ({what}) has changed since.",
                          "Restore the original, or start a new run on the new text.")
    return corpus


# ----------------------------------------------------------------------------- size check

def _min_total(need_train: int, need_val: int, frac: float) -> int:
    """Smallest text length whose split (exactly as Corpus.split cuts it) is big enough."""
    def fits(n: int) -> bool:
        return int(n * frac) >= need_train and n - int(n * frac) >= need_val

    n = max(need_train + need_val, int(need_train / frac), int(need_val / (1 - frac)))
    while not fits(n):
        n += 1
    while n > need_train + need_val and fits(n - 1):
        n -= 1
    return n


def check_trainable(train_tokens: int, val_tokens: int, context_length: int, batch_size: int,
                    *, split: float | None = None, chars_per_token: float | None = None) -> None:
    """Refuse a corpus too small to train on, naming the minimum size.

    One training batch needs ``batch_size`` different windows of ``context_length + 1``
    tokens (inputs plus the next-token targets), so the training part needs at least
    ``context_length + batch_size + 1`` tokens; the validation part needs one window,
    ``context_length + 2`` tokens (more than context + 1). ``split`` (the training share)
    and ``chars_per_token`` only make the message more precise; by default the share is
    inferred from the two sizes and tokens are assumed to be characters.
    """
    if context_length < 1 or batch_size < 1:
        raise CorpusError(f"Context length and batch size must be at least 1 "
                          f"(got {context_length} and {batch_size}).")
    need_train = context_length + batch_size + 1
    need_val = context_length + 2
    if train_tokens >= need_train and val_tokens >= need_val:
        return
    total = train_tokens + val_tokens
    frac = split if split is not None else (train_tokens / total if total else DEFAULT_SPLIT)
    frac = min(max(frac, 0.01), 0.99)
    need_total = _min_total(need_train, need_val, frac)
    cpt = chars_per_token or 1.0
    unit = ("characters" if chars_per_token is None else f"characters (at {cpt:.2g} characters a token)")
    if train_tokens < need_train:
        what = (f"The training part has {train_tokens} tokens, but at least {need_train} are "
                f"needed (context length {context_length} + batch size {batch_size} + 1).")
    else:
        what = (f"The validation part has {val_tokens} tokens, but at least {need_val} are "
                f"needed (context length {context_length} + 2).")
    raise CorpusError(
        f"The text is too small to train on. {what} With a {frac:.2g} split the whole text needs "
        f"at least {need_total} tokens, about {math.ceil(need_total * cpt)} {unit}.",
        "Use a longer text, a smaller context length or batch size, or a different split.")
