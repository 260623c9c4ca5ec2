"""Positions "none": an order-blind GPT, and the one exact thing a shuffle cannot change."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from playground.core import positions_experiment as pe
from playground.core.checkpoint import Run
from playground.core.config import POSITIONALS, ModelConfig, TrainConfig, param_breakdown, param_count
from playground.core.corpus import load_builtin
from playground.core.generate import score_text
from playground.core.model import KVCache, build_model
from playground.core.tokenizers import train_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

CFG = ModelConfig(vocab_size=20, context_length=16, n_layer=1, n_head=2, d_model=16, positional="none")


def sharp(cfg: ModelConfig, seed: int = 0):
    """A random model with large weights: attention far from uniform, so order could show."""
    torch.manual_seed(seed)
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model


def last_logits(model, ids) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1]  # (V,)


def test_none_is_a_positional_with_no_position_parameters():
    assert "none" in POSITIONALS
    CFG.validate()
    model = build_model(CFG)
    assert not hasattr(model, "wpe") and not hasattr(model, "pos_table")
    assert model.position_embeddings() is None
    assert not any("wpe" in k or "pos" in k for k in model.state_dict())
    assert param_breakdown(CFG)["positions"] == 0
    assert param_count(CFG) == sum(p.numel() for p in model.parameters())
    learned = replace(CFG, positional="learned")
    assert param_count(learned) - param_count(CFG) == CFG.context_length * CFG.d_model


def test_cached_generation_matches_the_full_pass():
    model = sharp(replace(CFG, n_layer=2))
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    with torch.no_grad():
        full = model(torch.tensor([ids])).logits[0]  # (T, V)
        cache = KVCache(2)
        steps = [model(torch.tensor([[i]]), cache=cache).logits[0, -1] for i in ids]  # (V,) each
    torch.testing.assert_close(torch.stack(steps), full, rtol=1e-5, atol=1e-5)


def test_one_layer_last_prediction_ignores_the_order_of_the_tokens_before_it():
    """Exact for one layer: the last position attends over a *set*, and nothing else sees order."""
    model = sharp(CFG)
    ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    rng = random.Random(1)
    base = last_logits(model, ids)
    for _ in range(5):
        head = ids[:-1]
        rng.shuffle(head)
        torch.testing.assert_close(last_logits(model, head + ids[-1:]), base, rtol=1e-5, atol=1e-5)
    # The last token itself is the query: moving it changes the prediction.
    assert not torch.allclose(last_logits(model, ids[1:] + ids[:1]), base, atol=1e-3)


def test_what_is_not_order_blind():
    """With positions, or with a second causal layer, or summed over all positions, order shows."""
    ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]
    shuffled = [9, 5, 1, 3, 6, 1, 4, 2, 5, 3, 5]  # same tokens before the same last one
    for cfg in (replace(CFG, positional="learned"), replace(CFG, n_layer=2)):
        model = sharp(cfg)
        assert not torch.allclose(last_logits(model, ids), last_logits(model, shuffled), atol=1e-4), cfg

    class Tok:  # score_text needs only encode/token_label
        def encode(self, ids):
            return ids

        def token_label(self, i):
            return str(i)

    model = sharp(CFG)
    a, b = score_text(model, Tok(), ids), score_text(model, Tok(), shuffled)
    assert abs(a.mean_loss - b.mean_loss) > 1e-3  # earlier positions see different prefixes


def test_old_and_new_checkpoints_load(tmp_path):
    corpus = load_builtin("grammar-lessons")
    tok = train_tokenizer("char", corpus.text)
    for positional in POSITIONALS:
        cfg = replace(CFG, vocab_size=tok.vocab_size, positional=positional)
        run = Run.create(f"pos-{positional}", cfg, TrainConfig(), corpus.record(), tok)
        model = sharp(cfg)
        run.save_snapshot(0, model, None)
        loaded = Run.open(run.path).load_model(0)
        assert loaded.config.positional == positional
        ids = tok.encode("The cat sat.")
        torch.testing.assert_close(last_logits(loaded, ids), last_logits(model, ids))


def test_shuffle_words_keeps_the_last_word_and_the_characters():
    text = "the cat sat on the mat."
    out = pe.shuffle_words(text, random.Random(3))
    assert out != text and out.endswith(" mat.") and sorted(out) == sorted(text)


def test_experiment_curves_and_the_shuffle_it_reports():
    corpus = load_builtin("grammar-lessons")
    tok = train_tokenizer("char", corpus.text)
    seen = []
    result = pe.compare(corpus.text, tok, iters=40, progress=lambda d, t: seen.append((d, t)),
                        sentence="The small dog sees the red ball.")
    assert list(result.curves) == list(POSITIONALS)
    for curve in result.curves.values():
        assert [s for s, _ in curve] == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
        assert curve[-1][1] < curve[0][1]  # it learned something
    assert seen[-1] == (120, 120)
    by = {s.positional: s for s in result.shuffles}
    s = by["none"]
    assert s.shuffled != s.original and s.shuffled.endswith(" ball.")
    assert s.p_last == pytest.approx(s.p_last_shuffled, rel=1e-4)
    assert by["learned"].p_last != pytest.approx(by["learned"].p_last_shuffled, rel=1e-3)
    # Computed afresh from the trained model: the number reported is the model's.
    ids = tok.encode(s.original)
    p = torch.softmax(last_logits(result.models["none"], ids[:-1]), -1)[ids[-1]]
    assert s.p_last == pytest.approx(float(p), rel=1e-5)
    lines = pe.summary(result)
    assert any(line.strip().startswith("none") and "(the same)" in line for line in lines)


def test_a_text_without_spaces_gets_a_sentence_and_a_character_shuffle():
    """Copy lessons has no spaces: the experiment still finds a line and shuffles its letters."""
    corpus = load_builtin("copy-lessons")
    tok = train_tokenizer("char", corpus.text)
    line = pe.pick_sentence(corpus.text, tok, 32)
    assert line and " " not in line and len(tok.encode(line)) <= 32
    assert line in corpus.text
    out = pe.shuffle_words(line, random.Random(3))
    assert out != line and out[-1] == line[-1] and sorted(out) == sorted(line)
    tok.encode(out)  # every character is one the tokenizer knows
