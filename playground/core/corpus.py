"""The text a model learns from: load it, decode it, describe it, split it.

A corpus comes from a text file, a folder of text files, pasted text or a built-in
generator. Decoding is strict and honest: UTF-8 (with or without a BOM) and UTF-16/32 with
a BOM are detected; anything else is read as cp1252 (or Latin-1) *with a visible note* so
the student can pick another encoding; binary files are refused. Line endings become "\\n".
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import math
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from playground.errors import CorpusError

DEFAULT_SPLIT = 0.9
DEFAULT_EXTENSIONS = (".txt", ".md", ".rst", ".py")
MOST_COMMON = 30

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


@dataclass(frozen=True)
class CorpusStats:
    chars: int
    lines: int
    words: int
    unique_chars: int
    most_common: list[tuple[str, int]]  # top 30, most frequent first


@dataclass
class Corpus:
    text: str
    name: str  # display name ("Tiny Shakespeare", "notes.txt", "Pasted text")
    source: str  # "builtin:NAME" | absolute path of file/folder | "pasted"
    encoding: str = "utf-8"  # the encoding used to decode
    encoding_guessed: bool = False  # True when not UTF-8/UTF-16-with-BOM: GUI offers a chooser
    note: str | None = None  # e.g. "Not UTF-8: read as cp1252. Choose another encoding ..."
    description: str = ""  # for built-ins
    extensions: tuple[str, ...] | None = None  # folder corpora: the file types that were read
    _stats: CorpusStats | None = field(default=None, init=False, repr=False, compare=False)

    @functools.cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def stats(self) -> CorpusStats:
        if self._stats is None:
            self._stats = text_stats(self.text)
        return self._stats

    def split(self, fraction: float = DEFAULT_SPLIT) -> tuple[str, str]:
        """(train, validation); validation is the *end* of the text, so it is text the
        model has not seen in any form (a random split would leak neighbouring lines)."""
        cut = split_index(len(self.text), fraction)
        return self.text[:cut], self.text[cut:]

    def record(self, fraction: float = DEFAULT_SPLIT) -> dict:
        """What a run stores to find (and check) this corpus again."""
        rec = {"source": self.source, "name": self.name, "sha256": self.sha256,
               "split": fraction, "encoding": self.encoding}
        if self.extensions is not None:
            rec["extensions"] = list(self.extensions)
        return rec


def split_index(n: int, fraction: float) -> int:
    if not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise CorpusError(f"The training share must be between 0 and 1 (got {fraction!r}).",
                          "0.9 keeps 90% for training and the last 10% for validation.")
    return int(n * fraction)


# ----------------------------------------------------------------------------- statistics

def text_stats(text: str) -> CorpusStats:
    """Counts in numpy (code points through bincount): ~0.1 s per 10 MB, no Python loop."""
    counts = np.zeros(0, dtype=np.int64)
    words = 0
    prev_space = True  # a word starts where a non-space follows a space (or the start)
    for start in range(0, len(text), _STATS_CHUNK):
        chunk = text[start:start + _STATS_CHUNK]
        cps = np.frombuffer(chunk.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (N,)
        chunk_counts = np.bincount(cps)  # (max code point + 1,)
        if len(chunk_counts) > len(counts):
            chunk_counts[: len(counts)] += counts
            counts = chunk_counts
        else:
            counts[: len(chunk_counts)] += chunk_counts
        space = _space_table()[np.minimum(cps, len(_space_table()) - 1)]  # (N,) bool
        starts = ~space
        starts[1:] &= space[:-1]
        starts[0] &= prev_space
        words += int(np.count_nonzero(starts))
        prev_space = bool(space[-1])
    nonzero = np.flatnonzero(counts)
    order = sorted(nonzero.tolist(), key=lambda cp: (-int(counts[cp]), cp))[:MOST_COMMON]
    lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    return CorpusStats(chars=len(text), lines=lines, words=words, unique_chars=len(nonzero),
                       most_common=[(chr(cp), int(counts[cp])) for cp in order])


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


# ----------------------------------------------------------------------------- loading

def _missing(path: Path) -> CorpusError:
    return CorpusError(f"There is no file or folder at {path}.",
                       "Check the spelling, or choose it again: it may have been moved or renamed.")


def _read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(info.st_mode):
            # A pipe, socket or device would block the read forever (or never end): refuse it
            # before opening it, since opening a FIFO alone already waits for a writer.
            raise CorpusError(f"{path} is not a regular file (it is a pipe, a device or a socket).",
                              "Choose a text file saved on disk.")
        if max_bytes is not None:
            size = info.st_size
            if size > max_bytes:
                raise CorpusError(
                    f"{path.name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB.",
                    "Use a smaller file, or a part of this one.")
        return path.read_bytes()
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


def _check_not_empty(text: str, label: str, data_len: int) -> None:
    if data_len == 0:
        raise CorpusError(f"{label} is empty.", "Choose a file with some text in it.")
    if not text.strip():
        raise CorpusError(f"{label} contains only spaces and blank lines.",
                          "Choose a file with some text in it.")


def load_file(path, encoding: str | None = None, max_bytes: int | None = None) -> Corpus:
    """Load one text file. ``max_bytes``: refuse (with a message) files larger than this."""
    path = Path(path).expanduser()
    data = _read_bytes(path, max_bytes)
    label = path.name or str(path)
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
    try:
        files = sorted(
            (p for p in folder.rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
            key=lambda p: p.relative_to(folder).as_posix())
    except OSError as e:
        raise CorpusError(f"Could not list the folder {folder}: {e.strerror or e}.",
                          "Check that you have permission to open it.") from None
    matching = [p for p in files if not exts or p.suffix.lower() in exts]
    wanted = ", ".join(exts) if exts else "any"
    if not matching:
        others = sorted({p.suffix.lower() or "(none)" for p in files})
        seen = f" It has {len(files)} other file(s) ({', '.join(others[:6])})." if files else ""
        raise CorpusError(f"No text files ({wanted}) in {folder}.{seen}",
                          "Choose another folder, or change the file types to read.")
    parts, encodings, skipped, guessed = [], set(), [], False
    for p in matching:
        rel = p.relative_to(folder).as_posix()
        data = _read_bytes(p)
        try:
            text, used, was_guessed, _ = decode_bytes(data, encoding, rel)
        except CorpusError as e:
            if "binary" not in e.message:
                raise
            skipped.append(f"{rel} (binary)")
            continue
        if not text.strip():
            skipped.append(f"{rel} (empty)")
            continue
        parts.append(text if text.endswith("\n") else text + "\n")
        encodings.add(used)
        guessed |= was_guessed
    if not parts:
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
    return Corpus(text="\n".join(parts), name=f"{folder.name}/ ({len(parts)} files)",
                  source=str(folder.resolve()), encoding=used, encoding_guessed=guessed,
                  note=" ".join(notes) or None, extensions=exts)


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
