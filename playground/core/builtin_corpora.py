"""Corpora that work offline with no download: generated "lessons" and Python's own docs.

Every text is built at call time from a fixed seed (``random.Random``), so the same name
always gives the same text on the same Python version, and nothing is stored on disk.
Each is a few hundred KB at most: big enough to train on, small enough to load instantly.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from playground.errors import CorpusError

DEFAULT_BUILTIN = "grammar-lessons"


@dataclass(frozen=True)
class BuiltinCorpus:
    name: str  # the id used in "builtin:NAME"
    title: str  # display name
    description: str  # one sentence: what the text is
    look_for: str  # what a student should watch for while training on it
    make: Callable[[], str]  # builds the text (deterministic)
    # Sentence pairs ("source<TAB>target" per line, core/pairs.py) for an encoder-decoder, not a GPT text.
    pairs: bool = False


def _robot_language() -> str:
    from playground.core import robot_language  # it reads this module's word lists

    return robot_language.robot_language_text()


def _reverse_word() -> str:
    from playground.core import robot_language

    return robot_language.reverse_word_text()


def _sort_letters() -> str:
    from playground.core import robot_language

    return robot_language.sort_letters_text()


# --------------------------------------------------------------------------- python-docs

# Typographic characters mapped to ASCII so a character tokenizer gets a tidy vocabulary.
_ASCII = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "—": "--", "–": "-"})
_UNDERLINE = re.compile(r"^\s*([*=\-~^#])\1{2,}\s*$")
_CODE_CHARS = set("=(){}[]_<>|*\\")


def _looks_like_prose(lines: list[str]) -> bool:
    """An indented block is kept only when it reads like wrapped sentences, not code."""
    stripped = [ln.strip() for ln in lines]
    text = " ".join(stripped)
    if not text.endswith((".", ")", '"')):
        return False
    if sum(len(s) for s in stripped) / len(stripped) < 40:  # code lines are short
        return False
    return sum(ch in _CODE_CHARS for ch in text) / len(text) < 0.03


def _python_docs() -> str:
    from pydoc_data.topics import topics

    paragraphs: list[str] = []
    for key in sorted(topics):  # sorted: independent of dict order
        block: list[str] = []
        for line in topics[key].splitlines() + [""]:
            if line.strip():
                if not _UNDERLINE.match(line):
                    block.append(line.rstrip())
                continue
            if block:
                if any("::=" in ln or ln.lstrip().startswith((">>>", "...")) for ln in block):
                    pass  # grammar rules and interactive sessions are code, not prose
                elif not block[0].startswith(" ") or _looks_like_prose(block):
                    paragraphs.append("\n".join(ln.strip() for ln in block))
                block = []
    return "\n\n".join(paragraphs).translate(_ASCII) + "\n"


# --------------------------------------------------------------------------- copy-lessons

_COPY_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
_COPIES = 3  # each line: a segment of letters, then two exact copies of it


def _copy_lessons(n_lines: int = 6000, seed: int = 1) -> str:
    # Each line is a segment of letters written three times ("qzkvbn|qzkvbn|qzkvbn"). The letters
    # follow a fixed order-2 chain (each pair of letters allows only 2 next letters), so it pays to
    # look at the previous token: that grows a previous-token head. In the copies every letter is
    # predicted exactly by finding the earlier occurrence of the current letter and copying what
    # came after it: an induction head built on top. Two copies rather than one: twice the reward
    # for copying, and a random excerpt of the validation text is then mostly copies, so the head
    # that copies is labelled "induction" on nearly every excerpt.
    # Measured at the app's defaults (Tiny, char tokens, config.training_defaults: 2,000 steps,
    # batch 16, lr 3e-3), tests/core/test_builtin_promises.py: both labels on 20 of 20 excerpts
    # (previous token 0.67, induction 0.57). The old text (one copy, 3 next letters per pair)
    # grew a previous-token head but no induction head (best 0.25) in 2,000 steps at lr 1e-3;
    # at lr 1e-3 this one gets both on only 13 of 30 excerpts.
    rng = random.Random(seed)
    letters = _COPY_ALPHABET
    follows = {(a, b): rng.sample(letters, 2) for a in letters for b in letters}
    lines = []
    for _ in range(n_lines):
        length = rng.randint(8, 20)
        segment = rng.choices(letters, k=2)
        while len(segment) < length:
            segment.append(rng.choice(follows[(segment[-2], segment[-1])]))
        lines.append("|".join(["".join(segment)] * _COPIES))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- grammar-lessons

_NAMES = ["Anna", "Ben", "Maria", "Tom", "Lena", "Omar", "Sara", "Leo", "Nina", "Max"]
# (singular, plural) nouns
_NOUNS = [
    ("cat", "cats"), ("dog", "dogs"), ("bird", "birds"), ("fox", "foxes"), ("child", "children"),
    ("mouse", "mice"), ("teacher", "teachers"), ("farmer", "farmers"), ("horse", "horses"),
]
_THINGS = ["ball", "apple", "book", "cup", "cake", "hat", "kite", "letter", "song", "stone"]
_ADJECTIVES = ["red", "big", "small", "old", "happy", "green", "quiet", "funny", "blue"]
# (third person singular, plural) verb forms
_TRANSITIVE = [
    ("sees", "see"), ("likes", "like"), ("finds", "find"), ("wants", "want"), ("chases", "chase"),
    ("carries", "carry"), ("watches", "watch"), ("draws", "draw"), ("helps", "help"),
]
_INTRANSITIVE = [
    ("runs", "run"), ("sleeps", "sleep"), ("sings", "sing"), ("laughs", "laugh"),
    ("jumps", "jump"), ("waits", "wait"),
]


def _grammar_lessons(n_lines: int = 2400, seed: int = 2) -> str:
    rng = random.Random(seed)

    def noun_phrase(plural: bool, things: bool = False) -> str:
        word = rng.choice(_THINGS) + ("s" if plural else "") if things else rng.choice(_NOUNS)[plural]
        det = "the" if plural or rng.random() < 0.5 else "a"
        adj = f"{rng.choice(_ADJECTIVES)} " if rng.random() < 0.4 else ""
        return f"{det} {adj}{word}"

    def subject() -> tuple[str, bool]:
        r = rng.random()
        if r < 0.25:
            return rng.choice(_NAMES), False
        if r < 0.35:
            a, b = rng.sample(_NAMES, 2)
            return f"{a} and {b}", True
        plural = rng.random() < 0.5
        return noun_phrase(plural), plural

    def obj() -> str:
        r = rng.random()
        if r < 0.2:
            return rng.choice(_NAMES)
        return noun_phrase(rng.random() < 0.4, things=r < 0.6)

    def sentence() -> str:
        subj, plural = subject()
        kind = rng.random()
        if kind < 0.2:
            words = f"{subj} {rng.choice(_INTRANSITIVE)[plural]}"
        elif kind < 0.35:
            # A relative clause puts a distracting noun between subject and verb:
            # "The cat that sees the dogs runs." -- the verb must agree with "cat".
            other = rng.random() < 0.5
            inner = noun_phrase(other)
            verb = rng.choice(_TRANSITIVE)[plural]
            words = f"{subj} that {verb} {inner} {rng.choice(_INTRANSITIVE)[plural]}"
        else:
            words = f"{subj} {rng.choice(_TRANSITIVE)[plural]} {obj()}"
        return words[0].upper() + words[1:] + "."

    lines = [" ".join(sentence() for _ in range(rng.randint(1, 3))) for _ in range(n_lines)]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- counting

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
        "fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0..999 in English words: 342 -> "three hundred forty-two"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    hundreds, rest = divmod(n, 100)
    return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")


def _counting(n_lines: int = 1500, seed: int = 3) -> str:
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        start = rng.randint(0, 990)
        count = rng.randint(4, 8)
        lines.append(", ".join(number_words(n) for n in range(start, min(start + count, 1000))) + ".")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- registry

BUILTINS: dict[str, BuiltinCorpus] = {
    b.name: b
    for b in [
        BuiltinCorpus(
            name="grammar-lessons",
            title="Grammar lessons",
            description="Short sentences from a tiny grammar of names, animals, things and verbs "
            "that agree with their subject.",
            look_for="At the default settings (Tiny model, 2,000 steps) the validation loss falls below "
            "0.6 and verbs agree with their subject: on the Generate tab, Score 'The cats chase the "
            "ball.' and 'The cats chases the ball.': for at least 95% of nouns and verbs the wrong form "
            "is the more surprising. Across 'that' clauses a Tiny model still often misses.",
            make=_grammar_lessons,
        ),
        BuiltinCorpus(
            name="copy-lessons",
            title="Copy lessons",
            description="Lines of letters written three times ('qzkvbn|qzkvbn|qzkvbn'): the first "
            "time only partly predictable, the copies exactly, by looking back.",
            look_for="At the default settings (Tiny model, 2,000 steps), take random validation "
            "excerpts in the Attention tab: on 9 in 10 of them a first-layer head is labelled 'previous "
            "token' (a bright line just below the diagonal) and a second-layer head 'induction' (in a "
            "copy, each letter looks at the letter after its earlier occurrence).",
            make=_copy_lessons,
        ),
        BuiltinCorpus(
            name="python-docs",
            title="Python docs",
            description="The English prose of the Python language reference that ships with "
            "Python itself (pydoc_data.topics), with the code examples removed.",
            look_for="Real English with a technical flavour. At the default settings (Tiny model, "
            "2,000 steps) the validation loss falls below 1.45 and the samples go from random letters "
            "to words: at least half the words the model writes are words of the text, where at step 0 "
            "hardly any are.",
            make=_python_docs,
        ),
        BuiltinCorpus(
            name="counting",
            title="Counting",
            description="Runs of numbers counting up in English words ('sixty-eight, sixty-nine, "
            "seventy, seventy-one.').",
            look_for="The model must learn to add one: after 'nine' comes the next ten. At the default "
            "settings (Tiny model, 2,000 steps) the validation loss falls below 0.25, and given the "
            "start of a validation line ('sixty-eight, sixty-nine, ') it writes the right next number "
            "9 in 10 times or more.",
            make=_counting,
        ),
        BuiltinCorpus(
            name="robot-language",
            title="Robot language",
            description="Sentences of the grammar lessons ('the cat sees the dog') and their translation "
            "into a made-up robot language with other word order and word forms.",
            look_for="The robot puts the verb last and adjectives after their noun ('za catka bigu un dogpo "
            "seeta'): the cross-attention must find the right source word, not the same position. At the "
            "default settings (Tiny encoder-decoder, 2,000 steps) 99% of validation sentences come out exactly "
            "right, and for 86% of robot words the cross-attention peaks on the word they came from.",
            make=_robot_language,
            pairs=True,
        ),
        BuiltinCorpus(
            name="reverse-word",
            title="Reverse a word",
            description="Random words and the same word backwards ('kqzpt' -> 'tpzqk'), for an "
            "encoder-decoder.",
            look_for="The cross-attention of each output letter falls on the mirror position of the "
            "source: an anti-diagonal.",
            make=_reverse_word,
            pairs=True,
        ),
        BuiltinCorpus(
            name="sort-letters",
            title="Sort letters",
            description="Random words and their letters in alphabetical order ('dbca' -> 'abcd'), for an "
            "encoder-decoder.",
            look_for="Each output letter must find the next letter of the alphabet anywhere in the source: "
            "the cross-attention jumps around.",
            make=_sort_letters,
            pairs=True,
        ),
    ]
}


def list_builtins(pairs: bool = False) -> list[BuiltinCorpus]:
    """The built-in texts for a GPT, the default first; with ``pairs``, the sentence-pair corpora
    for an encoder-decoder instead."""
    return sorted((b for b in BUILTINS.values() if b.pairs == pairs), key=lambda b: b.name != DEFAULT_BUILTIN)


def get_builtin(name: str) -> BuiltinCorpus:
    try:
        return BUILTINS[name]
    except KeyError:
        known = ", ".join(f"builtin:{n}" for n in BUILTINS)
        raise CorpusError(f"There is no built-in corpus called {name!r}.",
                          f"Choose one of: {known}.") from None


@functools.cache
def builtin_text(name: str) -> str:
    """The text of a built-in corpus (built once per process, identical every time)."""
    return get_builtin(name).make()
