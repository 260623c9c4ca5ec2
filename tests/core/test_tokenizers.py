"""Tokenizers: round trips, labels, unknown text, BPE against naive references, JSON, pretrained."""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections import Counter

import pytest
import regex
import tiktoken

from playground.core import bpe_train
from playground.core import tokenizers as tk
from playground.core.tokenizers import (
    BPE_PATTERN,
    TOKENIZER_KINDS,
    BPETokenizer,
    CharTokenizer,
    PretrainedTokenizer,
    Tokenizer,
    WordTokenizer,
    pretrained_status,
    readable,
    token_counts,
    tokenizer_from_json,
    train_tokenizer,
)
from playground.errors import Cancelled, TokenizerError

UNICODE_TEXT = "Café naïve — 😀 emoji, 中文字符 and 日本語!\n\tTabs  and   spaces.\r\nend"

# A small English-like corpus with enough repetition for BPE to learn real merges.
_rng = random.Random(7)
_SYLLABLES = "ka lo mi ne ru sa ti ve do pa ge hu".split()
_WORDS = "the cat sat on a mat and the dog ran to the hat that the man had then there".split() + [
    "".join(_rng.choice(_SYLLABLES) for _ in range(_rng.randint(1, 4))) for _ in range(150)
]
CORPUS = (
    "\n".join(
        " ".join(_rng.choice(_WORDS) for _ in range(_rng.randint(3, 12))).capitalize() + _rng.choice(".!?,;")
        for _ in range(400)
    )
    + "\nÉté à Noël: 😀 中文 1234567 don't they'll I'm\n"
)


# --------------------------------------------------------------------------- naive references


def naive_train(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """Textbook BPE: recount every pair after every merge; most frequent, ties to smallest pair."""
    words = Counter(regex.findall(BPE_PATTERN, text))
    seqs = {w: list(w.encode("utf-8")) for w in words}
    merges = []
    for new_id in range(256, vocab_size):
        counts: Counter = Counter()
        for w, seq in seqs.items():
            for pair in zip(seq, seq[1:]):
                counts[pair] += words[w]
        if not counts:
            break
        best = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        merges.append(best)
        for w, seq in seqs.items():
            seqs[w] = _apply(seq, best, new_id)
    return merges


def _apply(seq: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and (seq[i], seq[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


def naive_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """Apply the merges strictly in learned order to each pre-tokenized piece."""
    ids: list[int] = []
    for piece in regex.findall(BPE_PATTERN, text):
        seq = list(piece.encode("utf-8"))
        for i, pair in enumerate(merges):
            seq = _apply(seq, pair, 256 + i)
        ids.extend(seq)
    return ids


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(CORPUS, 400)


# --------------------------------------------------------------------------- labels


def test_readable_labels():
    assert readable(" ") == "·"
    assert readable("\n") == "↵"
    assert readable("\t") == "→"
    assert readable(" the\n") == "·the↵"
    assert readable("a\u00a0b\x07") == "a<U+00A0>b<U+0007>"
    assert tk.bytes_label(b"\xe2") == "<0xE2>"
    assert tk.bytes_label(b" \xe2\x80") == "·<0xE2><0x80>"
    assert tk.bytes_label("é".encode()) == "é"


def test_bpe_labels(bpe):
    assert bpe.token_label(ord(" ")) == "·"
    assert bpe.token_label(ord("\n")) == "↵"
    assert bpe.token_label(ord("\t")) == "→"
    assert bpe.token_label(0xE2) == "<0xE2>"
    the = bpe.encode(" the")
    assert len(the) == 1 and bpe.token_label(the[0]) == "·the"


# --------------------------------------------------------------------------- characters


def test_char_round_trip_and_vocab():
    tok = CharTokenizer.train(UNICODE_TEXT)
    assert tok.chars == sorted(set(UNICODE_TEXT))
    assert tok.kind_title == "Characters"
    assert CharTokenizer.train("ab").id_of("b") == 1 and CharTokenizer.train("ab").id_of("z") is None
    assert tok.vocab_size == len(set(UNICODE_TEXT))
    ids = tok.encode(UNICODE_TEXT)
    assert len(ids) == len(UNICODE_TEXT)
    assert tok.decode(ids) == UNICODE_TEXT
    assert tok.token_label(tok.encode(" ")[0]) == "·"
    assert tok.describe() == f"Characters · {tok.vocab_size} tokens"
    assert isinstance(tok, Tokenizer)


def test_char_unknown_character_error_names_it_and_its_position():
    tok = CharTokenizer.train("hello world")
    with pytest.raises(TokenizerError) as info:
        tok.encode("hé llo")
    err = info.value
    assert "'é' (U+00E9) at position 1" in err.message
    assert "BPE" in err.hint and "11" not in err.hint and "8 characters" in err.hint
    three = r"'é' \(U\+00E9\) at position 1, 'Z' \(U\+005A\) at position 3, 'Q' \(U\+0051\) at position 4\."
    with pytest.raises(TokenizerError, match="3 characters: " + three):
        tok.encode("hé ZQ")
    assert tok.unknown_spans("hé ZQ!") == [(1, 2), (3, 6)]
    assert tok.unknown_spans("hello") == []


def test_char_decode_rejects_bad_ids():
    tok = CharTokenizer.train("abc")
    with pytest.raises(TokenizerError, match="Token id 3 does not exist"):
        tok.decode([0, 3])
    with pytest.raises(TokenizerError, match="Token id -1"):
        tok.decode([-1])


# --------------------------------------------------------------------------- words


def test_word_round_trip_keeps_whitespace_and_punctuation():
    text = "Hello, world!  How are\tyou?\nFine.\r\n"
    tok = WordTokenizer.train(text)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    labels = [tok.token_label(i) for i in ids]
    assert labels[:5] == ["Hello", ",", "·", "world", "!"]
    assert "··" in labels and "→" in labels and "↵" in labels and "␍↵" in labels
    assert tok.unknown_spans(text) == []


def test_word_cap_and_unk():
    text = "the the the the cat cat cat dog dog bird"
    tok = WordTokenizer.train(text, max_vocab=4)
    # <unk>, then by frequency: "the" (4) and " " (9 spaces), "cat" (3)
    assert tok.vocab_size == 4
    assert tok.tokens == ["<unk>", " ", "the", "cat"]
    ids = tok.encode("the dog cat bird")
    assert ids == [2, 1, 0, 1, 3, 1, 0]
    assert tok.decode(ids) == "the <unk> cat <unk>"
    assert tok.token_label(0) == "<unk>"
    assert tok.unknown_spans("the dog cat bird") == [(4, 7), (12, 16)]


def test_word_unknown_whitespace_run_is_spelled_with_known_spaces():
    tok = WordTokenizer.train("a b c")
    ids = tok.encode("a    b")
    assert tok.decode(ids) == "a    b"
    assert tok.unknown_spans("a    b\t") == [(6, 7)]


def test_word_rejects_tiny_cap():
    with pytest.raises(TokenizerError, match="at least 2 tokens"):
        WordTokenizer.train("a b", max_vocab=1)


# --------------------------------------------------------------------------- BPE


def test_bpe_vocab_size_exact_and_merge_ids(bpe):
    assert bpe.vocab_size == 400
    assert len(bpe.merges) == 144
    for i, (a, b) in enumerate(bpe.merges):
        assert 0 <= a < 256 + i and 0 <= b < 256 + i
        assert bpe.token_bytes(256 + i) == bpe.token_bytes(a) + bpe.token_bytes(b)
    assert len({bpe.token_bytes(i) for i in range(bpe.vocab_size)}) == bpe.vocab_size
    assert bpe.describe() == "BPE · 400 tokens (144 merges)"
    assert bpe.note is None
    assert bpe.large_vocab_warning() is None


def test_bpe_merges_equal_naive_trainer(bpe):
    """The incremental trainer learns exactly the textbook trainer's merges, in the same order."""
    assert bpe.merges == naive_train(CORPUS, 400)
    # The first merge is the most frequent pair of bytes inside the pre-tokenized words.
    pairs: Counter = Counter()
    for piece in regex.findall(BPE_PATTERN, CORPUS):
        b = piece.encode("utf-8")
        pairs.update(zip(b, b[1:]))
    assert bpe.merges[0] == pairs.most_common(1)[0][0]


@pytest.mark.parametrize(
    "text",
    [CORPUS[:3000], UNICODE_TEXT, "The cat sat; the dog ran.\n\nthe the the", "   leading and trailing   \n"],
)
def test_bpe_tiktoken_encode_equals_merges_in_learned_order(bpe, text):
    assert bpe.encode(text) == naive_encode(text, bpe.merges)


def test_bpe_tiktoken_encode_equals_naive_on_random_texts():
    rng = random.Random(3)
    for _ in range(20):
        corpus = " ".join("".join(rng.choice("abcab ") for _ in range(rng.randint(1, 9))) for _ in range(60))
        tok = BPETokenizer.train(corpus, 256 + 40)
        assert tok.merges == naive_train(corpus, 256 + 40)
        probe = "".join(rng.choice("abc \n") for _ in range(200))
        assert tok.encode(probe) == naive_encode(probe, tok.merges)


def test_bpe_unicode_round_trip(bpe):
    for text in (UNICODE_TEXT, CORPUS, "", "\x00\x7f", "🇫🇷👩‍👩‍👧"):
        ids = bpe.encode(text)
        assert bpe.decode(ids) == text
        assert all(0 <= i < bpe.vocab_size for i in ids)
    assert bpe.unknown_spans(UNICODE_TEXT) == []
    assert len(bpe.encode(CORPUS)) < len(CORPUS.encode("utf-8")) / 2


def test_bpe_decode_replaces_broken_utf8(bpe):
    assert bpe.decode([0xE2, ord("a")]) == "\ufffda"


def test_bpe_encode_with_merges_playback(bpe):
    text = "The cat sat on the mat. Été 😀"
    assert bpe.encode_with_merges(text, 0) == list(text.encode("utf-8"))
    assert bpe.encode_with_merges(text, len(bpe.merges)) == bpe.encode(text)
    assert bpe.encode_with_merges(text, 10_000) == bpe.encode(text)
    lengths = []
    for n in (1, 5, 20, 77, 143):
        ids = bpe.encode_with_merges(text, n)
        assert ids == naive_encode(text, bpe.merges[:n])
        assert max(ids) < 256 + n
        assert bpe.decode(ids) == text
        lengths.append(len(ids))
    assert lengths == sorted(lengths, reverse=True) and lengths[0] > lengths[-1]
    assert bpe.encode_with_merges(text, 5) == naive_encode(text, bpe.merges[:5])  # from the cache


def test_bpe_progress_and_cancel():
    calls = []
    tok = BPETokenizer.train(CORPUS, 300, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 44) and calls[-1] == (44, 44)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert tok.vocab_size == 300

    cancel = threading.Event()

    def cancel_at_start(done, total):
        cancel.set()

    with pytest.raises(Cancelled):
        BPETokenizer.train(CORPUS, 300, progress=cancel_at_start, cancel=cancel)
    already = threading.Event()
    already.set()
    with pytest.raises(Cancelled):
        train_tokenizer("bpe", CORPUS, 300, cancel=already)


def test_bpe_vocab_size_limits_and_running_out_of_pairs():
    with pytest.raises(TokenizerError, match="between 257"):
        BPETokenizer.train(CORPUS, 256)
    tok = BPETokenizer.train("abab abab", 1000)
    assert tok.merges == [(ord("a"), ord("b")), (256, 256), (ord(" "), 257)]
    assert tok.vocab_size == 259
    assert "ran out of pairs to merge after 3 merges" in tok.note
    with pytest.raises(TokenizerError, match="no text"):
        BPETokenizer.train("", 300)


def test_chunked_pretokenization_matches_whole_text():
    text = CORPUS + UNICODE_TEXT * 3 + "\n\nx  \nY\n  \nZ.\n\n\nÉtat\n1234\n'tis\n"
    pattern = regex.compile(BPE_PATTERN)
    whole = Counter(pattern.findall(text))
    assert bpe_train.pretokenize_counts(text, pattern, None, chunk=37) == whole
    assert bpe_train.pretokenize_counts(text, pattern, None) == whole


def test_bpe_on_tiny_shakespeare_slice(shakespeare_path):
    text = shakespeare_path.read_text(encoding="utf-8")[:100_000]
    tok = BPETokenizer.train(text, 512)
    assert tok.vocab_size == 512
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode(text[:5000]) == naive_encode(text[:5000], tok.merges)
    assert len(tok.encode(text)) < 0.5 * len(text)


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("kind", ["char", "word", "bpe", "cl100k"])
def test_json_round_trip(kind):
    tok = train_tokenizer(kind, CORPUS, vocab_size=300 if kind == "bpe" else None)
    blob = json.dumps(tok.to_json())  # plain JSON: no bytes, no tuples needed
    back = tokenizer_from_json(json.loads(blob))
    assert type(back) is type(tok) and back.kind == tok.kind == kind
    assert back.vocab_size == tok.vocab_size
    assert back.to_json() == json.loads(blob)
    sample = CORPUS[: CORPUS.index("\n", 2000)]  # whole words: all known to the word tokenizer
    assert back.encode(sample) == tok.encode(sample)
    assert back.decode(tok.encode(sample)) == sample
    assert [back.token_label(i) for i in range(50)] == [tok.token_label(i) for i in range(50)]


def test_json_errors():
    with pytest.raises(TokenizerError, match="does not say which kind"):
        tokenizer_from_json({"merges": []})
    with pytest.raises(TokenizerError, match="unknown kind"):
        tokenizer_from_json({"kind": "sentencepiece"})
    with pytest.raises(TokenizerError, match="newer version"):
        tokenizer_from_json({"kind": "char", "version": 99, "chars": "ab"})
    with pytest.raises(TokenizerError, match="damaged"):
        tokenizer_from_json({"kind": "bpe"})
    with pytest.raises(TokenizerError, match="damaged"):
        tokenizer_from_json({"kind": "word", "version": "one", "tokens": ["<unk>"]})
    with pytest.raises(TokenizerError, match="does not exist yet"):
        tokenizer_from_json({"kind": "bpe", "merges": [[97, 98], [300, 97]]})
    with pytest.raises(TokenizerError, match="same token"):
        tokenizer_from_json({"kind": "bpe", "merges": [[97, 98], [97, 98]]})


# --------------------------------------------------------------------------- dispatcher and helpers


def test_train_tokenizer_dispatch():
    assert TOKENIZER_KINDS == ["char", "word", "bpe", "cl100k", "gpt2"]
    assert train_tokenizer("char", "abc").vocab_size == 3
    assert train_tokenizer("word", CORPUS, 10).vocab_size == 10
    assert train_tokenizer("bpe", CORPUS, 260).vocab_size == 260
    assert train_tokenizer("bpe", CORPUS).vocab_size == 512  # the default
    with pytest.raises(TokenizerError, match="Unknown tokenizer kind"):
        train_tokenizer("letters", CORPUS)
    with pytest.raises(TokenizerError, match="no text"):
        train_tokenizer("char", "")


def test_token_counts(bpe):
    counts = token_counts(bpe, CORPUS)
    assert len(counts) == bpe.vocab_size
    assert sum(counts) == len(bpe.encode(CORPUS))
    char = CharTokenizer.train("aab")
    assert token_counts(char, "aabbbz") == [2, 3]


# --------------------------------------------------------------------------- pretrained


def test_cl100k_offline():
    tok = PretrainedTokenizer("cl100k")
    assert tok.kind == "cl100k" and tok.name == "cl100k_base"
    assert tok.kind_title == "cl100k_base (GPT-4)"
    assert tok.encode("hello world") == [15339, 1917]
    assert tok.vocab_size == 100_277
    assert tok.decode(tok.encode(UNICODE_TEXT)) == UNICODE_TEXT
    assert tok.encode("<|endoftext|>") == tok.encode("<|endoftext|>")  # ordinary text, no error
    assert tok.token_label(100257) == "<|endoftext|>"
    assert tok.token_label(100256) == "<unused 100256>"
    assert tok.token_label(1917) == "·world"
    with pytest.raises(TokenizerError, match="unused slot"):
        tok.decode([100256])
    warning = tok.large_vocab_warning()
    assert "100,277-token vocabulary" in warning and "12.8 M parameters" in warning
    assert tok.describe() == "cl100k_base (GPT-4) · pretrained · 100,277 tokens"
    assert tk.PretrainedTokenizer("cl100k_base").encoding is tok.encoding
    ok, message = pretrained_status("cl100k")
    assert ok and "100,277 tokens" in message


def _fake_gpt2() -> tiktoken.Encoding:
    ranks = {bytes([i]): i for i in range(256)}
    ranks[b"he"] = 256
    ranks[b"ll"] = 257
    ranks[b"hell"] = 258  # from "he" + "ll"
    return tiktoken.Encoding(
        "gpt2",
        pat_str=r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
        mergeable_ranks=ranks,
        special_tokens={"<|endoftext|>": 259},
    )


def test_gpt2_success_path_with_stub(monkeypatch):
    fake = _fake_gpt2()
    real_get = tiktoken.get_encoding
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: fake if name == "gpt2" else real_get(name))
    tok = PretrainedTokenizer("gpt2")
    assert tok.kind == "gpt2" and tok.vocab_size == 260
    assert tok.encode("hello") == [258, ord("o")]
    assert tok.decode([258, ord("o")]) == "hello"
    assert tok.token_label(259) == "<|endoftext|>"
    assert tok.to_json() == {"kind": "gpt2", "version": 1, "name": "gpt2"}
    assert tokenizer_from_json(tok.to_json()).encode("hello") == [258, ord("o")]
    assert train_tokenizer("gpt2", "ignored").vocab_size == 260
    ok, message = pretrained_status("gpt2")
    assert ok and message == "GPT-2 · 260 tokens (downloaded once, cached)"


def test_gpt2_stalled_download_times_out(monkeypatch):
    release = threading.Event()
    registry_lock = getattr(tiktoken.registry, "_lock", contextlib.nullcontext())

    def stalled(name):
        with registry_lock:  # as the real get_encoding does while it downloads
            release.wait(30)
        raise OSError("gave up")

    monkeypatch.setattr(tiktoken, "get_encoding", stalled)
    monkeypatch.setattr(tk, "_cl100k", None)  # load cl100k afresh while GPT-2 holds the lock
    try:
        ok, message = pretrained_status("gpt2", timeout=0.2)
        assert not ok
        assert message == (
            "GPT-2's encoding needs a one-time download from the internet; it could not be fetched: "
            "no answer within 0.2 s. Use cl100k or train a BPE tokenizer."
        )
        # cl100k does not wait behind tiktoken's registry lock held by the stuck GPT-2 load.
        assert pretrained_status("cl100k", timeout=10)[0]
    finally:
        release.set()


def test_gpt2_real_failure_message():
    ok, message = pretrained_status("gpt2", timeout=10)
    if ok:
        pytest.skip("GPT-2's encoding loaded: this machine can reach the internet or has it cached")
    assert message.startswith(
        "GPT-2's encoding needs a one-time download from the internet; it could not be fetched: "
    )
    assert message.endswith("Use cl100k or train a BPE tokenizer.")
    with pytest.raises(TokenizerError) as info:
        PretrainedTokenizer("gpt2", timeout=10)
    assert f"{info.value.message} {info.value.hint}" == message
    with pytest.raises(TokenizerError, match="GPT-2's encoding needs a one-time download"):
        tokenizer_from_json({"kind": "gpt2", "name": "gpt2"})


def test_pretrained_unknown_name():
    ok, message = pretrained_status("llama3")
    assert not ok and "no pretrained encoding called 'llama3'" in message
    with pytest.raises(TokenizerError, match="Choose cl100k or gpt2"):
        PretrainedTokenizer("llama3")
