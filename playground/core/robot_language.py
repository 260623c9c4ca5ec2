"""A made-up "robot language" and two toy tasks: the sentence pairs an encoder-decoder learns.

Sources are sentences of the app's own grammar (the words of builtin:grammar-lessons, in lower
case, one sentence, no full stop). The translation is rule-based, so every target word comes from
one known source word (``RobotSentence.align``), which is what the cross-attention should find:

- word order changes: subject, object, verb (SOV); adjectives follow their noun;
- nouns and names take a case ending: ``-ka`` on the subject, ``-po`` on the object, plural
  nouns an ``i`` before it, on the singular stem (cats -> catika, mice -> mouseipo);
- verbs go to the end in their plain form plus ``-ta`` (singular subject) or ``-tan`` (plural):
  sees -> seeta, carry -> carrytan;
- adjectives take ``-u`` (big -> bigu); "the" becomes "za", "a" becomes "un", "and" becomes "e".

    the big cat sees a dog   ->   za catka bigu un dogpo seeta

The same word thus sits at a different place and in a different form on each side: a model that
copied by position would fail, one that looks up the right source word succeeds.

Toy tasks: reverse a word (``kqzpt`` -> ``tpzqk``) and sort its letters (``dbca`` -> ``abcd``).
Each corpus text has one pair per line, source and target separated by a tab (core/pairs.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from playground.core.builtin_corpora import _ADJECTIVES, _INTRANSITIVE, _NAMES, _NOUNS, _THINGS, _TRANSITIVE

DETERMINERS = {"the": "za", "a": "un"}
SUBJECT, OBJECT = "ka", "po"
PLURAL = "i"
ADJECTIVE = "u"
VERB_SINGULAR, VERB_PLURAL = "ta", "tan"

# word -> (lemma, plural?) for nouns (animals and things) and verbs
_NOUN_FORMS = {s: (s, False) for s, _p in _NOUNS} | {p: (s, True) for s, p in _NOUNS}
_NOUN_FORMS |= {t: (t, False) for t in _THINGS} | {t + "s": (t, True) for t in _THINGS}
_VERB_FORMS = {third: plain for third, plain in _TRANSITIVE + _INTRANSITIVE}
_VERB_FORMS |= {plain: plain for _third, plain in _TRANSITIVE + _INTRANSITIVE}
_SINGULAR_VERBS = {third for third, _plain in _TRANSITIVE + _INTRANSITIVE}


@dataclass(frozen=True)
class RobotSentence:
    source: str
    target: str
    align: tuple[int, ...]  # align[j]: index of the source word target word j was made from


def _noun_phrase(words: list[str], start: int, case: str) -> tuple[list[str], list[int], int]:
    """Translate the noun phrase starting at ``words[start]``; returns target words, their source
    indices and the index after the phrase. A phrase: a name, names joined by "and", or
    determiner + optional adjective + noun."""
    out: list[str] = []
    align: list[int] = []
    i = start
    if words[i] in _NAMES:
        out.append(words[i] + case)
        align.append(i)
        i += 1
        if i + 1 < len(words) and words[i] == "and" and words[i + 1] in _NAMES:
            out += ["e", words[i + 1] + case]
            align += [i, i + 1]
            i += 2
        return out, align, i
    if words[i] not in DETERMINERS:
        raise ValueError(f"not a noun phrase at {words[i]!r}")
    out.append(DETERMINERS[words[i]])
    align.append(i)
    i += 1
    adjective = None
    if words[i] in _ADJECTIVES:
        adjective = i
        i += 1
    lemma, plural = _NOUN_FORMS[words[i]]
    out.append(lemma + (PLURAL if plural else "") + case)
    align.append(i)
    i += 1
    if adjective is not None:  # after its noun in the robot language
        out.append(words[adjective] + ADJECTIVE)
        align.append(adjective)
    return out, align, i


def robot_translate(source: str) -> RobotSentence:
    """The robot-language translation of a grammar sentence, with each target word's source word.

    Raises ValueError for a sentence outside the grammar (the corpus only holds grammar sentences).
    """
    words = source.split()
    subject, s_align, i = _noun_phrase(words, 0, SUBJECT)
    verb_at = i
    verb = words[verb_at]
    if verb not in _VERB_FORMS:
        raise ValueError(f"not a verb: {verb!r}")
    ending = VERB_SINGULAR if verb in _SINGULAR_VERBS else VERB_PLURAL
    obj, o_align = [], []
    if verb_at + 1 < len(words):
        obj, o_align, end = _noun_phrase(words, verb_at + 1, OBJECT)
        if end != len(words):
            raise ValueError(f"unexpected words after the object: {words[end:]}")
    target = subject + obj + [_VERB_FORMS[verb] + ending]
    return RobotSentence(source, " ".join(target), tuple(s_align + o_align + [verb_at]))


def _sentence(rng: random.Random) -> str:
    """One grammar sentence: subject verb (object), the verb agreeing with the subject."""

    def noun_phrase(things: bool = False) -> tuple[str, bool]:
        plural = rng.random() < 0.4
        noun = rng.choice(_THINGS) + ("s" if plural else "") if things else rng.choice(_NOUNS)[plural]
        det = "the" if plural or rng.random() < 0.5 else "a"
        adj = f"{rng.choice(_ADJECTIVES)} " if rng.random() < 0.4 else ""
        return f"{det} {adj}{noun}", plural

    r = rng.random()
    if r < 0.2:
        subject, plural = rng.choice(_NAMES), False
    elif r < 0.28:
        a, b = rng.sample(_NAMES, 2)
        subject, plural = f"{a} and {b}", True
    else:
        subject, plural = noun_phrase()
    if rng.random() < 0.2:
        return f"{subject} {rng.choice(_INTRANSITIVE)[plural]}"
    verb = rng.choice(_TRANSITIVE)[plural]
    o = rng.random()
    obj = rng.choice(_NAMES) if o < 0.15 else noun_phrase(things=o < 0.55)[0]
    return f"{subject} {verb} {obj}"


def robot_sentences(n: int = 6000, seed: int = 5) -> list[RobotSentence]:
    """``n`` different sentences with their translations (no sentence twice, so a validation
    sentence is never one the model trained on)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[RobotSentence] = []
    while len(out) < n:
        s = _sentence(rng)
        if s not in seen:
            seen.add(s)
            out.append(robot_translate(s))
    return out


def robot_language_text(n: int = 6000, seed: int = 5) -> str:
    return "".join(f"{r.source}\t{r.target}\n" for r in robot_sentences(n, seed))


def _toy_words(rng: random.Random, n: int, letters: str, low: int, high: int) -> list[str]:
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < n:
        w = "".join(rng.choices(letters, k=rng.randint(low, high)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def reverse_word_text(n: int = 4000, seed: int = 6) -> str:
    """Random words of 3-8 letters and the same word backwards."""
    words = _toy_words(random.Random(seed), n, "abcdefghijklmnopqrstuvwxyz", 3, 8)
    return "".join(f"{w}\t{w[::-1]}\n" for w in words)


def sort_letters_text(n: int = 4000, seed: int = 7) -> str:
    """Random words of 3-8 letters and their letters in alphabetical order."""
    words = _toy_words(random.Random(seed), n, "abcdefghijklmnopqrstuvwxyz", 3, 8)
    return "".join(f"{w}\t{''.join(sorted(w))}\n" for w in words)
