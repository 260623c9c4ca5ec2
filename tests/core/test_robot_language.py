"""The robot language and the toy tasks: sentence pairs whose alignment is known word by word."""

from __future__ import annotations

import pytest

from playground.core import builtin_corpora as bc
from playground.core import pairs, tokenizers, translate
from playground.core.robot_language import robot_sentences, robot_translate


def test_the_rules_on_one_sentence():
    r = robot_translate("the big cat sees a dog")
    assert r.target == "za catka bigu un dogpo seeta"
    assert r.align == (0, 2, 1, 4, 5, 3)  # za<-the catka<-cat bigu<-big un<-a dogpo<-dog seeta<-sees
    plural = robot_translate("Anna and Ben carry the mice")
    assert plural.target == "Annaka e Benka za mouseipo carrytan"
    assert plural.align == (0, 1, 2, 4, 5, 3)
    assert robot_translate("the children sleep").target == "za childika sleeptan"
    with pytest.raises(ValueError):
        robot_translate("sees the dog")


def test_the_corpus_reorders_words_and_keeps_every_alignment():
    sentences = robot_sentences()
    assert len({s.source for s in sentences}) == len(sentences) == 6000  # no sentence twice
    words = {w for s in sentences for w in s.source.split()}
    assert {"the", "cat", "sees", "dog"} <= words  # the words
    moved = total = 0
    for s in sentences:
        src, tgt = s.source.split(), s.target.split()
        assert len(tgt) == len(s.align) and sorted(s.align) == list(range(len(src)))  # each source word once
        assert robot_translate(s.source) == s  # the alignment can be recomputed from the source alone
        moved += sum(j != i for j, i in enumerate(s.align))
        total += len(tgt)
    # Not a word-by-word copy: a third of the target words stand at another place than their source.
    assert moved / total > 0.3


def test_registered_as_pair_corpora_and_not_offered_to_a_gpt():
    names = {b.name for b in bc.list_builtins(pairs=True)}
    assert names == {"robot-language", "reverse-word", "sort-letters"}
    assert not names & {b.name for b in bc.list_builtins()}
    for name in names:
        text = bc.builtin_text(name)
        assert text == bc.BUILTINS[name].make() and pairs.is_pair_text(text)
        assert 20_000 < len(text) < 400_000
    text = bc.builtin_text("robot-language")
    first = pairs.parse_pairs(text)[0]
    assert robot_translate(first.source).target == first.target
    train, val = pairs.split_pairs(pairs.parse_pairs(text), 0.9)
    assert len(val) == 600 and not {p.source for p in val} & {p.source for p in train}


def test_toy_tasks():
    for p in pairs.parse_pairs(bc.builtin_text("reverse-word"))[:50]:
        assert p.target == p.source[::-1] and 3 <= len(p.source) <= 8
    for p in pairs.parse_pairs(bc.builtin_text("sort-letters"))[:50]:
        assert p.target == "".join(sorted(p.source))


def test_source_and_target_vocabularies_differ():
    text = bc.builtin_text("robot-language")
    tok = tokenizers.train_tokenizer("char", text)
    src, tgt = pairs.side_vocabularies(tok, pairs.parse_pairs(text)[:500])
    assert tok.encode("z")[0] in tgt and tok.encode("z")[0] not in src  # "za" exists only in robot
    assert set(tok.encode("tea")) <= set(src) & set(tgt)


def test_tokens_are_mapped_to_their_words():
    tok = tokenizers.train_tokenizer("char", "ab cd\tx\n")
    ids = tok.encode("ab cd")
    assert translate.word_of_tokens(tok, "ab cd", ids) == [0, 0, None, 1, 1]
    wtok = tokenizers.train_tokenizer("word", "ab cd\tx\n")
    w_ids = wtok.encode("ab cd")
    assert [w for w in translate.word_of_tokens(wtok, "ab cd", w_ids) if w is not None] == [0, 1]
