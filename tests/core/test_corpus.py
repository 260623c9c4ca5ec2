"""Loading, decoding, stats, split and size checks of playground.core.corpus."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from playground.core import corpus as corpus_mod
from playground.core.corpus import (
    DEFAULT_SPLIT,
    CorpusStats,
    check_trainable,
    from_text,
    load,
    load_builtin,
    load_file,
    load_folder,
    text_stats,
    verify_record,
)
from playground.errors import CorpusError

TEXT = "Café déjà vu — it’s “quoted”.\nSecond line: naïve façade.\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- encodings

@pytest.mark.parametrize(
    "data, encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-8-sig"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # native order with BOM
        (b"\xff\xfe" + TEXT.encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16"),
        (b"\xff\xfe\x00\x00" + TEXT.encode("utf-32-le"), "utf-32"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-native", "utf-16-le-bom", "utf-16-be-bom", "utf-32-le-bom"],
)
def test_detected_encodings_decode_exactly(tmp_path, data, encoding):
    c = load_file(write(tmp_path, "t.txt", data))
    assert c.text == TEXT  # the BOM is gone, nothing else changed
    assert c.encoding == encoding
    assert c.encoding_guessed is False
    assert c.note is None
    assert c.name == "t.txt"
    assert c.source == str((tmp_path / "t.txt").resolve())


def test_cp1252_loads_with_a_note_naming_the_encoding(tmp_path):
    text = "Caf\u00e9 \u2019quoted\u2019 \u20ac5\n"  # é, ’ and € exist in cp1252 only (not Latin-1 for ’/€)
    c = load_file(write(tmp_path, "old.txt", text.encode("cp1252")))
    assert c.text == text
    assert c.encoding == "cp1252"
    assert c.encoding_guessed is True
    assert "cp1252" in c.note and "Not UTF-8" in c.note


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    data = b"abc \x81 def \xe9\n" + b"plain words here\n" * 3
    c = load_file(write(tmp_path, "l1.txt", data))
    assert c.encoding == "latin-1"
    assert c.encoding_guessed is True
    assert c.text == "abc \x81 def \xe9\n" + "plain words here\n" * 3
    assert "latin-1" in c.note


def test_forced_encoding_is_used_and_not_marked_guessed(tmp_path):
    path = write(tmp_path, "k.txt", "Привет, мир\n".encode("koi8-r"))
    assert load_file(path).encoding == "cp1252"  # the automatic guess is wrong here ...
    c = load_file(path, encoding="koi8-r")  # ... and the student can choose
    assert c.text == "Привет, мир\n"
    assert c.encoding == "koi8-r"
    assert c.encoding_guessed is False and c.note is None


def test_forced_encoding_strips_a_bom_and_reports_bad_bytes(tmp_path):
    assert load_file(write(tmp_path, "b.txt", TEXT.encode("utf-8-sig")), encoding="utf-8").text == TEXT
    with pytest.raises(CorpusError) as err:
        load_file(write(tmp_path, "c.txt", b"abc\xe9def"), encoding="utf-8")
    assert "not valid utf-8" in err.value.message and "position 3" in err.value.message
    assert err.value.hint
    with pytest.raises(CorpusError, match="Unknown encoding 'klingon'"):
        load_file(tmp_path / "c.txt", encoding="klingon")


def test_utf16_without_bom_is_refused_with_an_encoding_hint_and_loads_when_chosen(tmp_path):
    path = write(tmp_path, "u.txt", "hello world\n".encode("utf-16-le"))
    with pytest.raises(CorpusError) as err:
        load_file(path)
    assert "binary" in err.value.message
    assert "utf-16-le" in err.value.hint
    assert load_file(path, encoding="utf-16-le").text == "hello world\n"


def test_line_endings_become_newlines(tmp_path):
    c = load_file(write(tmp_path, "crlf.txt", b"one\r\ntwo\rthree\n"))
    assert c.text == "one\ntwo\nthree\n"


# ----------------------------------------------------------------------------- refusals

def test_binary_file_with_nul_bytes_is_refused(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(CorpusError) as err:
        load_file(write(tmp_path, "image.txt", png))
    assert err.value.message == "image.txt looks like a binary file, not text."
    assert "plain text" in err.value.hint


def test_binary_file_without_nul_bytes_is_refused_by_its_control_characters(tmp_path):
    data = bytes(b % 31 + 1 for b in range(4000))  # control bytes 1..31 and nothing else
    with pytest.raises(CorpusError, match="binary"):
        load_file(write(tmp_path, "blob.dat", data))


def test_a_few_control_characters_are_still_text(tmp_path):
    data = b"line one\n" * 100 + b"\x1b[1m bold\x07\n"  # ANSI escape and a bell: 2 in 900
    assert load_file(write(tmp_path, "log.txt", data)).text.endswith("bold\x07\n")


def test_empty_and_blank_files_are_refused(tmp_path):
    with pytest.raises(CorpusError) as err:
        load_file(write(tmp_path, "empty.txt", b""))
    assert err.value.message == "empty.txt is empty."
    assert err.value.hint
    with pytest.raises(CorpusError, match="only spaces and blank lines"):
        load_file(write(tmp_path, "blank.txt", b" \n\n\t \r\n"))


def test_missing_path_names_the_path(tmp_path):
    missing = tmp_path / "nope" / "gone.txt"
    for loader in (load_file, load_folder, load):
        with pytest.raises(CorpusError) as err:
            loader(missing)
        assert err.value.message == f"There is no file or folder at {missing}."
        assert "moved or renamed" in err.value.hint


def test_unreadable_file_says_permission(tmp_path, monkeypatch):
    path = write(tmp_path, "secret.txt", b"text")

    def deny(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)  # chmod does not stop root, so fake it
    with pytest.raises(CorpusError) as err:
        load_file(path)
    assert err.value.message == f"You do not have permission to read {path}."
    assert err.value.hint


def test_other_os_errors_are_reported_with_the_reason(tmp_path, monkeypatch):
    path = write(tmp_path, "flaky.txt", b"text")

    def broken(self):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Path, "read_bytes", broken)
    with pytest.raises(CorpusError, match="Could not read .*flaky.txt: Input/output error"):
        load_file(path)


def test_max_bytes_refuses_larger_files(tmp_path):
    path = write(tmp_path, "big.txt", b"x" * 3_000_000)
    with pytest.raises(CorpusError) as err:
        load_file(path, max_bytes=1_000_000)
    assert err.value.message == "big.txt is 3.0 MB; the limit is 1.0 MB."
    assert len(load_file(path, max_bytes=3_000_000).text) == 3_000_000


def test_a_folder_passed_as_file_and_a_file_passed_as_folder(tmp_path):
    with pytest.raises(CorpusError, match="is a folder, not a file"):
        load_file(tmp_path)
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        load_folder(write(tmp_path, "a.txt", b"a"))


# ----------------------------------------------------------------------------- folders

def make_folder(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "b.txt").write_bytes(b"bee\n")
    (root / "a.md").write_bytes(b"ay")  # no final newline: one is added
    (root / "sub" / "c.TXT").write_bytes("c\u00e9\n".encode("utf-8"))
    (root / "data.csv").write_bytes(b"1,2,3\n")
    (root / ".git" / "config.txt").write_bytes(b"hidden\n")
    (root / "empty.txt").write_bytes(b"")
    (root / "pic.txt").write_bytes(b"\x00\x01\x02binary")
    return root


def test_folder_reads_matching_files_in_sorted_order(tmp_path):
    root = make_folder(tmp_path)
    c = load_folder(root)
    assert c.text == "ay\n\nbee\n\nc\u00e9\n"  # a.md, b.txt, sub/c.TXT; csv and .git skipped
    assert c.name == "notes/ (3 files)"
    assert c.source == str(root.resolve())
    assert c.encoding == "utf-8" and not c.encoding_guessed
    assert c.note == "Skipped 2 file(s): empty.txt (empty), pic.txt (binary)."
    assert c.extensions == (".txt", ".md", ".rst", ".py")


def test_folder_extension_filter(tmp_path):
    root = make_folder(tmp_path)
    assert load_folder(root, extensions=["csv"]).text == "1,2,3\n"
    assert load_folder(root, extensions=".txt").text == "bee\n\nc\u00e9\n"
    assert load_folder(root, extensions=(".csv", ".md")).text == "ay\n\n1,2,3\n"


def test_folder_with_no_text_files(tmp_path):
    root = tmp_path / "pics"
    root.mkdir()
    (root / "a.png").write_bytes(b"\x89PNG")
    (root / "b.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(CorpusError) as err:
        load_folder(root)
    assert err.value.message == (f"No text files (.txt, .md, .rst, .py) in {root}. "
                                 "It has 2 other file(s) (.jpg, .png).")
    assert "file types" in err.value.hint
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError) as err:
        load_folder(empty)
    assert err.value.message == f"No text files (.txt, .md, .rst, .py) in {empty}."


def test_folder_whose_text_files_are_all_empty(tmp_path):
    root = tmp_path / "blank"
    root.mkdir()
    (root / "a.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match="None of the 1 file"):
        load_folder(root)


def test_folder_with_a_cp1252_file_is_marked_guessed(tmp_path):
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "a.txt").write_bytes(b"plain\n")
    (root / "b.txt").write_bytes("caf\u00e9\n".encode("cp1252"))
    c = load_folder(root)
    assert c.text == "plain\n\ncaf\u00e9\n"
    assert c.encoding == "mixed" and c.encoding_guessed
    assert "not UTF-8" in c.note


# ----------------------------------------------------------------------------- pasted, load()

def test_pasted_text():
    c = from_text("hello\r\nworld")
    assert (c.text, c.name, c.source, c.encoding) == ("hello\nworld", "Pasted text", "pasted", "utf-8")
    with pytest.raises(CorpusError, match="The pasted text is empty."):
        from_text("  \n ")


def test_load_dispatches_on_spec(tmp_path):
    root = make_folder(tmp_path)
    assert load(str(root / "b.txt")).text == "bee\n"
    assert load(root).name == "notes/ (3 files)"
    c = load("builtin:grammar-lessons")
    assert c.source == "builtin:grammar-lessons" and c.name == "Grammar lessons"
    assert c.description
    with pytest.raises(CorpusError) as err:
        load("builtin:nonsense")
    assert "builtin:copy-lessons" in err.value.hint


def test_tiny_shakespeare_builtin_needs_a_download_first():
    with pytest.raises(CorpusError, match="has not been downloaded yet"):
        load_builtin("tiny-shakespeare")


# ----------------------------------------------------------------------------- stats, split

def test_stats_on_a_known_string():
    s = from_text("the cat\nsat on the mat.\n").stats()
    assert s == CorpusStats(
        chars=24, lines=2, words=6, unique_chars=12,
        # most frequent first; ties in code point order, so the list is fully determined
        most_common=[("t", 5), (" ", 4), ("a", 3), ("\n", 2), ("e", 2), ("h", 2),
                     (".", 1), ("c", 1), ("m", 1), ("n", 1), ("o", 1), ("s", 1)])
    assert from_text("no final newline").stats().lines == 1


def test_stats_match_python_reference_on_unicode_text():
    text = "Ünïcödé  words\tand\u3000ideographic space\u00a0nbsp 😀😀\nlast line no newline"
    s = text_stats(text)
    from collections import Counter

    ref = Counter(text)
    assert s.chars == len(text)
    assert s.lines == 2
    assert s.words == len(text.split())
    assert s.unique_chars == len(ref)
    assert s.most_common == sorted(ref.items(), key=lambda kv: (-kv[1], kv[0]))[:30]


def test_stats_are_exact_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(corpus_mod, "_STATS_CHUNK", 7)  # words and counts straddle chunks
    text = "alpha beta  gamma\ndelta epsilonzeta eta theta iota é\n" * 3
    s = text_stats(text)
    from collections import Counter

    assert s.words == len(text.split()) == 27
    assert s.unique_chars == len(Counter(text))
    assert s.most_common == sorted(Counter(text).items(), key=lambda kv: (-kv[1], kv[0]))[:30]
    assert text_stats("").chars == 0 and text_stats("").words == 0


def test_stats_top_30_and_cached():
    text = "".join(chr(0x41 + i) * (i + 1) for i in range(40))  # 'A'x1 ... 40 letters
    c = from_text(text)
    s = c.stats()
    assert s.unique_chars == 40 and s.words == 1 and s.lines == 1
    assert len(s.most_common) == 30
    assert s.most_common[0] == (chr(0x41 + 39), 40)
    assert s.most_common[-1] == (chr(0x41 + 10), 11)
    assert c.stats() is s


def test_split_sizes_and_validation_from_the_end():
    c = from_text("".join(str(i % 10) for i in range(1000)))
    train, val = c.split()
    assert (len(train), len(val)) == (900, 100)
    assert train + val == c.text and val == c.text[-100:]
    train, val = c.split(0.75)
    assert (len(train), len(val)) == (750, 250)
    assert DEFAULT_SPLIT == 0.9
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(CorpusError, match="between 0 and 1"):
            c.split(bad)


def test_sha256_and_record():
    c = from_text("abc é")
    assert c.sha256 == hashlib.sha256("abc é".encode()).hexdigest()
    assert c.record(0.8) == {"source": "pasted", "name": "Pasted text", "sha256": c.sha256,
                             "split": 0.8, "encoding": "utf-8"}


# ----------------------------------------------------------------------------- check_trainable

def test_check_trainable_accepts_enough_tokens():
    check_trainable(train_tokens=64 + 12 + 1, val_tokens=66, context_length=64, batch_size=12)


def test_check_trainable_names_the_minimum_for_training():
    with pytest.raises(CorpusError) as err:
        check_trainable(train_tokens=76, val_tokens=1000, context_length=64, batch_size=12)
    msg = err.value.message
    assert "The training part has 76 tokens, but at least 77 are needed" in msg
    assert "context length 64 + batch size 12 + 1" in msg
    assert err.value.hint


def test_check_trainable_names_the_minimum_for_validation_and_the_whole_text():
    # 900 + 10 tokens with a 0.9 split: validation needs 66; 651 tokens cut at int(0.9 * 651) = 585
    # leave exactly 66 for validation (650 would leave 65).
    with pytest.raises(CorpusError) as err:
        check_trainable(900, 10, context_length=64, batch_size=12, split=0.9)
    msg = err.value.message
    assert "The validation part has 10 tokens, but at least 66 are needed" in msg
    assert "the whole text needs at least 651 tokens, about 651 characters" in msg
    with pytest.raises(CorpusError) as err:
        check_trainable(900, 10, context_length=64, batch_size=12, split=0.9, chars_per_token=3.5)
    assert "about 2279 characters (at 3.5 characters a token)" in err.value.message


def test_check_trainable_on_a_tiny_corpus_and_bad_settings():
    c = from_text("x" * 50)
    train, val = c.split()
    with pytest.raises(CorpusError, match="at least 77 are needed"):
        check_trainable(len(train), len(val), 64, 12)
    with pytest.raises(CorpusError, match="at least 1"):
        check_trainable(1000, 1000, 0, 12)


# ----------------------------------------------------------------------------- verify_record

def test_verify_record_reloads_the_same_text(tmp_path):
    path = write(tmp_path, "story.txt", "Il était une fois\n".encode("cp1252"))
    c = load_file(path)
    again = verify_record(c.record())
    assert again.text == c.text and again.encoding == "cp1252"
    root = make_folder(tmp_path)
    folder = load_folder(root, extensions=[".txt"])
    assert verify_record(folder.record()).text == folder.text
    builtin = load("builtin:copy-lessons")
    assert verify_record(builtin.record()).sha256 == builtin.sha256


def test_verify_record_detects_a_changed_file(tmp_path):
    path = write(tmp_path, "story.txt", b"once upon a time\n")
    record = load_file(path).record()
    path.write_bytes(b"once upon a tide\n")
    with pytest.raises(CorpusError) as err:
        verify_record(record)
    assert err.value.message == "The text this run was trained on (story.txt) has changed since."
    assert err.value.hint


def test_verify_record_detects_a_vanished_file(tmp_path):
    path = write(tmp_path, "story.txt", b"once upon a time\n")
    record = load_file(path).record()
    path.unlink()
    with pytest.raises(CorpusError) as err:
        verify_record(record)
    assert err.value.message == (f"The text this run was trained on (story.txt) is gone: "
                                 f"nothing at {path.resolve()}.")


def test_verify_record_for_pasted_text_and_changed_builtin():
    with pytest.raises(CorpusError, match="pasted text"):
        verify_record(from_text("abc").record())
    record = load("builtin:counting").record()
    record["sha256"] = "0" * 64
    with pytest.raises(CorpusError, match=r"\(Counting\) has changed"):
        verify_record(record)


# ----------------------------------------------------------------------------- speed

def test_large_file_loads_and_counts_fast(tmp_path):
    import time

    line = "To be, or not to be, that is the question: ¿qué? 123\n"
    path = write(tmp_path, "big.txt", (line * (20_000_000 // len(line))).encode("utf-8"))
    start = time.perf_counter()
    c = load_file(path)
    s = c.stats()
    elapsed = time.perf_counter() - start
    assert s.words == 12 * (20_000_000 // len(line))
    assert elapsed < 15  # ~1 s here on an idle machine; generous for a busy CI box
