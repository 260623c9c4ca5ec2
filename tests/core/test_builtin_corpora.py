"""The offline corpora: deterministic, non-trivial, documented, and shaped as promised."""

from __future__ import annotations

import re

import pytest

from playground.core import builtin_corpora as bc
from playground.core.builtin_corpora import (
    BUILTINS,
    DEFAULT_BUILTIN,
    builtin_text,
    list_builtins,
    number_words,
)
from playground.core.corpus import load_builtin
from playground.errors import CorpusError

NAMES = ["grammar-lessons", "copy-lessons", "python-docs", "counting"]


def test_registry_and_default():
    assert sorted(b.name for b in BUILTINS.values() if not b.pairs) == sorted(NAMES)
    assert DEFAULT_BUILTIN == "grammar-lessons"
    assert [b.name for b in list_builtins()][0] == DEFAULT_BUILTIN
    for b in list_builtins():
        assert b.title and b.description.endswith(".") and b.look_for.endswith(".")
        assert len(b.description) < 200 and len(b.look_for) < 400


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_sized_and_loadable(name):
    text = builtin_text(name)
    assert text == BUILTINS[name].make()  # rebuilt from scratch: identical
    assert 100_000 < len(text) < 400_000  # big enough to train on, a few hundred KB at most
    assert text.endswith("\n") and "\r" not in text
    corpus = load_builtin(name)
    assert corpus.text == text
    assert corpus.source == f"builtin:{name}"
    assert corpus.name == BUILTINS[name].title
    assert corpus.description == BUILTINS[name].description
    stats = corpus.stats()
    assert stats.lines > 1000 and stats.unique_chars >= 20


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(CorpusError) as err:
        builtin_text("nope")
    assert err.value.message == "There is no built-in corpus called 'nope'."
    for name in NAMES:
        assert f"builtin:{name}" in err.value.hint


def test_copy_lessons_lines_are_a_segment_written_three_times():
    lines = builtin_text("copy-lessons").splitlines()
    assert len(lines) == 6000
    lengths = set()
    for line in lines:
        first, *copies = line.split("|")
        assert copies == [first, first]  # the copies are predictable by looking back
        assert re.fullmatch(r"[a-z]{8,20}", first)
        lengths.add(len(first))
    assert lengths == set(range(8, 21))
    assert len(set(lines)) > 5900  # random, not a few memorisable lines
    assert set(builtin_text("copy-lessons")) == set("abcdefghijklmnopqrstuvwxyz|\n")


def test_copy_lessons_letters_follow_an_order_2_chain():
    """Each pair of letters allows at most 2 next letters: a previous-token head pays off."""
    followers: dict[str, set[str]] = {}
    for line in builtin_text("copy-lessons").splitlines():
        seg = line.split("|")[0]
        for i in range(2, len(seg)):
            followers.setdefault(seg[i - 2:i], set()).add(seg[i])
    assert max(len(v) for v in followers.values()) <= 2
    assert sum(len(v) == 2 for v in followers.values()) > 600  # and not fewer: the first time stays uncertain


def test_copy_lessons_look_for_names_both_heads():
    look_for = BUILTINS["copy-lessons"].look_for
    assert "'previous token'" in look_for and "'induction'" in look_for  # the Attention tab's labels


def _verbs_that_must_agree(sentence: str) -> tuple[bool, list[str]]:
    """Parse one generated sentence: (is the subject plural?, the verbs that agree with it)."""
    words = sentence.rstrip(".").split()
    if words[0] in bc._NAMES:
        plural = words[1] == "and"
        rest = words[3:] if plural else words[1:]
    else:
        assert words[0] in ("The", "A"), sentence
        has_adj = words[1] in bc._ADJECTIVES
        noun = words[2] if has_adj else words[1]
        plural = noun in {p for _, p in bc._NOUNS}
        assert plural or noun in {s for s, _ in bc._NOUNS}, sentence
        rest = words[3:] if has_adj else words[2:]
    if rest[0] == "that":  # "The cat that sees the dogs runs."
        return plural, [rest[1], rest[-1]]
    return plural, [rest[0]]


def test_grammar_lessons_verbs_agree_with_their_subject():
    text = builtin_text("grammar-lessons")
    sentences = re.findall(r"[A-Z][^.]*\.", text)
    assert len(sentences) > 4000
    forms = bc._TRANSITIVE + bc._INTRANSITIVE
    singular_verbs, plural_verbs = {s for s, _ in forms}, {p for _, p in forms}
    counts = {True: 0, False: 0, "relative": 0}
    for sentence in sentences:
        plural, verbs = _verbs_that_must_agree(sentence)
        for verb in verbs:
            assert verb in (plural_verbs if plural else singular_verbs), sentence
        counts[plural] += 1
        counts["relative"] += len(verbs) == 2
    assert counts[True] > 1000 and counts[False] > 1000 and counts["relative"] > 500
    assert "cats chase" in text and "cat chases" in text
    assert "'The cats chase the ball.'" in BUILTINS["grammar-lessons"].look_for


def test_python_docs_is_prose_without_code():
    text = builtin_text("python-docs")
    assert "::=" not in text and ">>>" not in text
    assert 'The "if" statement' in text
    assert "Lambda expressions (sometimes called lambda forms) are used to create" in text
    assert not any(line.startswith(" ") for line in text.splitlines())  # dedented prose
    assert all(ord(ch) < 128 for ch in text if ch not in "ß°")  # typographic quotes -> ASCII
    words = re.findall(r"[a-z]+", text)
    assert words.count("the") > 3000


def test_counting():
    assert [number_words(n) for n in (0, 7, 13, 20, 42, 100, 342, 999)] == [
        "zero", "seven", "thirteen", "twenty", "forty-two", "one hundred",
        "three hundred forty-two", "nine hundred ninety-nine"]
    first = builtin_text("counting").splitlines()[0].rstrip(".").split(", ")
    assert len(first) >= 4
    as_numbers = [next(n for n in range(1000) if number_words(n) == w) for w in first]
    assert as_numbers == list(range(as_numbers[0], as_numbers[0] + len(first)))
