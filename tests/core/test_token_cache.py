"""Corpora larger than memory: streamed loading, chunked tokenizing, the cached token file.

A corpus over ``IN_MEMORY_BYTES`` is read in chunks wherever it is needed; these tests lower that
limit (and the read size) so small texts take the streaming path and cross every chunk boundary.
"""

from __future__ import annotations

import json
import pickle
import threading

import numpy as np
import pytest
import torch

from playground import paths
from playground.core import corpus as corpus_mod
from playground.core import token_cache
from playground.core import tokenizers as tk
from playground.core.batches import TokenBatches
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.core.train import Trainer
from playground.errors import Cancelled, CorpusError

TEXT = "Café déjà vu — it’s “quoted”.\r\nSecond line: naïve façade.\rThird\n\n  indented 123 + 4567!\n"
# Every kind of line start a tokenizer might join across a line break: letters, digits,
# punctuation, spaces, tabs, blank lines.
MIXED = ("The cat sat.\n  def f(x):\n\treturn x + 1\n12345 apples\n- item one\n\n\nEnd!\n“Quote” here\n"
         "ünïcode wörds, 3.14159 and   spaces\n") * 40


@pytest.fixture
def streamed(monkeypatch):
    """Every file streams, read 7 bytes at a time (multi-byte characters and CRLF straddle reads)."""
    monkeypatch.setattr(corpus_mod, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 7)


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("data, encoding", [
    (TEXT.encode("utf-8"), None),
    (TEXT.encode("utf-8-sig"), None),
    (TEXT.encode("utf-16"), None),
    (b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"), None),
    ("Caf\u00e9 \u2019q\u2019 \u20ac5\r\n".encode("cp1252") * 3, None),
    (b"abc \x81 def \xe9\n" + b"plain words here\n" * 3, None),
    ("Привет, мир\n".encode("koi8-r"), "koi8-r"),
    (TEXT.encode("utf-8-sig"), "utf-8"),
], ids=["utf-8", "utf-8-bom", "utf-16", "utf-32", "cp1252", "latin-1", "koi8-r", "utf-8-chosen-bom"])
def test_a_streamed_file_is_the_same_corpus_as_one_held_in_memory(tmp_path, monkeypatch, data, encoding):
    path = write(tmp_path, "t.txt", data)
    held = corpus_mod.load_file(path, encoding=encoding)
    monkeypatch.setattr(corpus_mod, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 7)
    c = corpus_mod.load_file(path, encoding=encoding)
    assert held.in_memory and not c.in_memory and c._text is None
    assert (c.encoding, c.encoding_guessed, c.note, c.chars, c.sha256) == \
        (held.encoding, held.encoding_guessed, held.note, len(held.text), held.sha256)
    assert "".join(c.chunks(5)) == held.text and c.preview(6) == held.text[:6]
    assert c.stats() == held.stats() and not c.stats().sampled
    assert c.record() == held.record()
    assert c._text is None  # none of the above read the whole text into one string
    assert c.text == held.text and c == held.__class__(**{**_fields(c), "parts": c.parts})


def _fields(c):
    return dict(name=c.name, source=c.source, encoding=c.encoding, encoding_guessed=c.encoding_guessed,
                note=c.note, description=c.description, extensions=c.extensions, chars=c.chars,
                lines=c._lines, sha256=c.sha256)


def test_streamed_refusals_say_what_the_in_memory_ones_say(tmp_path, streamed):
    cases = {
        "png.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        "u16.txt": "hello world\n".encode("utf-16-le"),
        "ctl.dat": bytes(b % 31 + 1 for b in range(4000)),
        "empty.txt": b"",
        "blank.txt": b" \n\n\t \r\n",
    }
    for name, data in cases.items():
        path = write(tmp_path, name, data)
        with pytest.raises(CorpusError) as streamed_err:
            corpus_mod.load_file(path)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(corpus_mod, "IN_MEMORY_BYTES", 1 << 30)
            with pytest.raises(CorpusError) as held_err:
                corpus_mod.load_file(path)
        assert (streamed_err.value.message, streamed_err.value.hint) == (held_err.value.message, held_err.value.hint)
    with pytest.raises(CorpusError) as err:
        corpus_mod.load_file(write(tmp_path, "c.txt", b"abc\xe9def" * 3), encoding="utf-8")
    assert "not valid utf-8" in err.value.message and "position 3 " in err.value.message


def test_a_streamed_folder_is_the_same_corpus_and_notices_a_changed_file(tmp_path, monkeypatch):
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"first file\r\nno final newline")
    (root / "sub" / "b.md").write_bytes("second — file\n".encode())
    (root / "empty.txt").write_bytes(b"")
    (root / "pic.txt").write_bytes(b"\x00\x01binary")
    held = corpus_mod.load_folder(root)
    monkeypatch.setattr(corpus_mod, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 5)
    c = corpus_mod.load_folder(root)
    assert not c.in_memory and len(c.parts) == 2
    assert (c.name, c.note, c.chars, c.stats(), c.sha256) == (held.name, held.note, len(held.text),
                                                            held.stats(), held.sha256)
    assert "".join(c.chunks(4)) == held.text
    # The training child gets the corpus pickled: the files' places, not their text.
    c.text  # noqa: B018 - read it all, as a view of the whole text would
    assert pickle.loads(pickle.dumps(c))._text is None
    assert corpus_mod.verify_record(c.record()).sha256 == held.sha256
    (root / "a.txt").write_bytes(b"first file\r\nno final newline!")
    with pytest.raises(CorpusError, match="a.txt has changed since it was loaded"):
        "".join(c.chunks())


@pytest.mark.parametrize("kind", ["char", "word", "bpe", "cl100k"])
def test_chunks_tokenize_exactly_as_the_whole_text(kind):
    corpus = corpus_mod.from_text(MIXED)
    tok = tk.train_tokenizer(kind, corpus, vocab_size=300 if kind == "bpe" else None)
    pieces = list(corpus.chunks(50))
    assert len(pieces) > 20 and "".join(pieces) == MIXED
    assert [i for p in pieces for i in tok.encode(p)] == tok.encode(MIXED)
    if kind != "cl100k":  # learned from the corpus chunk by chunk = learned from the whole string
        assert tok.to_json() == tk.train_tokenizer(kind, MIXED, vocab_size=300 if kind == "bpe" else None).to_json()


def test_big_corpora_learn_words_and_bpe_from_a_sample_and_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(tk, "TRAIN_SAMPLE_CHARS", 2000)
    corpus = corpus_mod.from_text(MIXED * 3)
    bpe = tk.train_tokenizer("bpe", corpus, vocab_size=270)
    assert "sample" in bpe.note and "spread over the whole text" in bpe.note
    word = tk.train_tokenizer("word", corpus)
    assert "sample" in word.note and tk.tokenizer_from_json(word.to_json()).note == word.note
    assert tk.train_tokenizer("word", MIXED).note is None  # a str: all of it, as before


def test_big_file_stats_come_from_a_sample_and_say_so(tmp_path, monkeypatch):
    text = "".join(f"line {i} has some words in it\n" for i in range(20_000))
    path = write(tmp_path, "big.txt", text.encode())
    monkeypatch.setattr(corpus_mod, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(corpus_mod, "READ_BYTES", 4096)
    monkeypatch.setattr(corpus_mod, "STATS_FULL_CHARS", 100_000)
    monkeypatch.setattr(corpus_mod, "STATS_SAMPLE_CHARS", 50_000)
    s = corpus_mod.load_file(path).stats()
    exact = corpus_mod.text_stats(text)
    assert s.sampled and 40_000 <= s.sample_chars <= 80_000
    assert (s.chars, s.lines) == (exact.chars, exact.lines)  # exact from the loading pass
    assert s.words == pytest.approx(exact.words, rel=0.05)
    assert s.most_common[0][0] == exact.most_common[0][0] == " "


def test_token_file_is_made_once_in_the_cache_and_memory_mapped(tmp_path, streamed):
    path = write(tmp_path, "t.txt", MIXED.encode())
    corpus = corpus_mod.load_file(path)
    tok = tk.train_tokenizer("char", corpus)
    seen = []
    made = token_cache.token_file(corpus, tok, progress=lambda done, total: seen.append((done, total)))
    assert made.path.parent == paths.cache_dir() / "tokens" and made.dtype == "uint16"
    assert seen[0] == (0, len(MIXED)) and seen[-1] == (len(MIXED), len(MIXED))
    assert isinstance(made.ids(), np.memmap) and made.ids().tolist() == tok.encode(MIXED)
    meta = json.loads(made.path.with_suffix(".json").read_text())
    assert meta["tokens"] == made.tokens == len(MIXED) and meta["corpus"] == corpus.sha256
    assert corpus._text is None  # tokenized chunk by chunk
    # A second run on the same text and tokenizer reuses it: nothing is tokenized again.
    mtime = made.path.stat().st_mtime_ns
    again = corpus_mod.load_file(path)
    assert token_cache.lookup(again, tok) == made and made.path.stat().st_mtime_ns == mtime
    # A file without its JSON (a crash between the two) or cut short is never used.
    made.path.with_suffix(".json").unlink()
    assert token_cache.lookup(corpus, tok) is None
    token_cache.token_file(corpus, tok)
    with open(made.path, "r+b") as fh:
        fh.truncate(10)
    assert token_cache.lookup(corpus, tok) is None
    assert token_cache.token_file(corpus, tok).ids().tolist() == tok.encode(MIXED)
    wide = tk.train_tokenizer("cl100k", corpus)  # 100,277 tokens: uint32
    assert token_cache.token_file(corpus, wide).ids().dtype == np.uint32


def test_cancelling_the_token_file_leaves_nothing(monkeypatch):
    monkeypatch.setattr(token_cache, "CHUNK_CHARS", 1000)
    corpus = corpus_mod.from_text(MIXED * 50)
    tok = tk.train_tokenizer("char", corpus)
    stop = threading.Event()
    with pytest.raises(Cancelled):
        token_cache.token_file(corpus, tok, progress=lambda done, total: done and stop.set(), cancel=stop)
    folder = paths.cache_dir() / "tokens"
    assert list(folder.iterdir()) == []  # no token file, no JSON, no temporary file


def test_batches_from_the_token_file_are_the_batches_from_a_tensor():
    tok = tk.train_tokenizer("char", MIXED)
    made = token_cache.token_file(corpus_mod.from_text(MIXED), tok)
    ids = torch.tensor(tok.encode(MIXED))  # (N,)
    n = int(len(ids) * 0.9)
    cpu = torch.device("cpu")
    a, b = TokenBatches(ids[:n], ids[n:], 8, 4, cpu), TokenBatches(made.mapped(0, n), made.mapped(n), 8, 4, cpu)
    ga, gb = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    for split in ("train", "val", "train"):
        (xa, ya), (xb, yb) = a.batch(split, ga), b.batch(split, gb)
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and xb.dtype == torch.long
    assert a.first_val_token() == b.first_val_token() == ids[n]


def test_training_on_a_streamed_file_never_holds_its_text(tmp_path, streamed):
    path = write(tmp_path, "t.txt", MIXED.encode())
    corpus = corpus_mod.load_file(path)
    tok = tk.train_tokenizer("char", corpus)
    mcfg = ModelConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1, n_head=1, d_model=16)
    tcfg = TrainConfig(iters=3, batch_size=2, eval_interval=3, eval_iters=1, sample_tokens=0, device="cpu")
    run = Run.create("streamed", mcfg, tcfg, corpus.record(tcfg.split), tok)
    events = list(Trainer(run, corpus).run())
    assert events[-1].reason == "done"
    assert corpus._text is None
    assert list((paths.cache_dir() / "tokens").glob("*.bin"))
    assert not list(run.path.rglob("*.bin"))  # the token cache is never in a run folder
