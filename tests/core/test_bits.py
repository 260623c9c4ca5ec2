"""Bits per character (core.bits) against hand computations."""

from __future__ import annotations

import math

import pytest

from playground.core import bits, tokenizers
from playground.core import corpus as corpus_mod
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.errors import CorpusError

LN2 = math.log(2)


def test_bits_per_char_is_the_nats_of_all_tokens_over_the_characters_in_bits():
    # 10 tokens at 2.0 nats each spell 25 characters: 20 nats = 20 / ln 2 bits over 25 characters.
    assert bits.bits_per_char(2.0, 10, 25) == pytest.approx(20 / LN2 / 25)
    assert bits.loss_to_bpc(2.0, 2.5) == pytest.approx(20 / LN2 / 25)
    assert math.isnan(bits.bits_per_char(1.0, 0, 10)) and math.isnan(bits.loss_to_bpc(1.0, 0))


def test_a_character_model_has_one_character_per_token_so_bpc_is_loss_over_ln2():
    text = "the cat sat on the mat.\n"
    tok = tokenizers.train_tokenizer("char", text)
    assert bits.chars_per_token(tok, text) == 1.0
    assert bits.loss_to_bpc(1.386, bits.chars_per_token(tok, text)) == pytest.approx(1.386 / LN2)
    # Characters it never saw are not in what it reads: left out, not an error.
    assert bits.chars_per_token(tok, "the cat sat? Zzz") == 1.0


def test_a_word_model_on_a_known_text():
    text = "the cat sat on the mat"
    tok = tokenizers.train_tokenizer("word", text)
    # the · ' ' · cat · ' ' · sat · ' ' · on · ' ' · the · ' ' · mat: 11 tokens, 22 characters.
    assert len(tok.encode(text)) == 11
    assert bits.chars_per_token(tok, text) == pytest.approx(22 / 11)
    # A loss of 2.0 nats per token is 2.0 * 11 / (22 ln 2) bits per character.
    assert bits.loss_to_bpc(2.0, 2.0) == pytest.approx(2.0 * 11 / (22 * LN2))


def test_scored_text_leaves_the_unpredicted_first_token_out():
    from playground.core.generate import score_text
    from playground.core.model import build_model

    text = "the cat sat on the mat"
    tok = tokenizers.train_tokenizer("word", text)
    model = build_model(ModelConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1, n_head=1,
                                    d_model=16))
    scored = score_text(model, tok, text)  # 11 tokens, in two windows of context 8
    losses = [v for v in scored.losses if not math.isnan(v)]
    assert len(losses) == 10
    # By hand: every loss but the first token's, over the characters after "the".
    want = sum(losses) / ((len(text) - len("the")) * LN2)
    assert bits.scored_bits_per_char(scored.losses, scored.ids, tok) == pytest.approx(want)

    char_tok = tokenizers.train_tokenizer("char", text)
    ids = char_tok.encode("cat")
    assert bits.scored_bits_per_char([math.nan, 0.5, 1.5], ids, char_tok) == pytest.approx(1.0 / LN2)
    assert math.isnan(bits.scored_bits_per_char([math.nan], ids[:1], char_tok))


def test_a_runs_ratio_is_measured_on_its_validation_text_and_cached(tmp_path):
    source = tmp_path / "story.txt"
    source.write_text("Tom sees the red fox. Anna likes the cake. " * 40 + "The end of the story.\n",
                      encoding="utf-8")
    corpus = corpus_mod.load(str(source))
    tok = tokenizers.train_tokenizer("word", corpus.text)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1, n_head=1, d_model=16)
    run = Run.create("words", cfg, TrainConfig(split=0.8), corpus.record(0.8), tok)

    val = corpus.split(0.8)[1]
    assert bits.peek_chars_per_token(run.path) is None  # nothing measured yet
    ratio = bits.run_chars_per_token(run.path)
    assert ratio == pytest.approx(len(val) / len(tok.encode(val)))
    assert bits.peek_chars_per_token(run.path) == ratio
    assert bits.tokenizer_label(run.info) == f"word · {tok.vocab_size}"

    # Cached: the corpus is not read again (it is gone now, and the ratio is still there)...
    source.unlink()
    assert bits.run_chars_per_token(run.path) == ratio
    # ...but a run whose text is gone and was never measured says so in words.
    other = Run.create("words-2", cfg, TrainConfig(split=0.8), corpus.record(0.8), tok)
    with pytest.raises(CorpusError):
        bits.run_chars_per_token(other.path)
