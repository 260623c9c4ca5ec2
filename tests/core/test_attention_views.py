"""core.attention_views: what the Attention tab shows is the model's own capture, from a folder and a step."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from playground.core import analysis
from playground.core import attention_views as av
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.core.corpus import load_builtin
from playground.core.model import build_model, sinusoidal_table
from playground.core.model_cache import MODELS
from playground.core.tokenizers import train_tokenizer
from playground.errors import CorpusError

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "abcd|abcd|abcd\nxyz|"  # repeats: induction has something to measure


@pytest.fixture(scope="module")
def corpus():
    return load_builtin("copy-lessons")


@pytest.fixture(scope="module")
def tok(corpus):
    return train_tokenizer("char", corpus.text)


def make_run(name, corpus, tok, steps=(0, 10), **fields) -> Run:
    """A run whose snapshots hold differently seeded random models (no training needed here)."""
    cfg = dataclasses.replace(
        ModelConfig(vocab_size=tok.vocab_size, context_length=24, n_layer=2, n_head=2, d_model=16), **fields)
    run = Run.create(name, cfg, TrainConfig(), corpus.record(), tok)
    for step in steps:
        torch.manual_seed(step + 1)
        run.save_snapshot(step, build_model(cfg), None)
    return run


def model_capture(run, step, ids) -> np.ndarray:
    model = run.load_model(step)
    with torch.no_grad():
        return model(torch.tensor([ids]), capture=True).attention.numpy()  # (L, H, T, T)


def test_capture_is_the_models_own_and_scored_by_analysis(corpus, tok):
    run = make_run("capture", corpus, tok)
    ids = tok.encode(TEXT)
    views = av.compute(run.path, 10, ids, av.Want())
    expected = model_capture(run, 10, ids)
    assert views.arch == "gpt" and views.math is None and views.embed is None
    assert views.capture.attention.shape == (2, 2, len(ids), len(ids))
    np.testing.assert_allclose(views.capture.attention, expected, atol=1e-7)
    assert views.capture.scores == analysis.all_head_scores(expected, ids)
    assert views.capture.head_labels == analysis.label_heads(expected, ids)
    # Another step is another checkpoint's weights.
    first = av.compute(run.path, 0, ids, av.Want()).capture.attention
    np.testing.assert_allclose(first, model_capture(run, 0, ids), atol=1e-7)
    assert np.abs(first - expected).max() > 1e-3


def test_math_of_one_head_reproduces_its_captured_row(corpus, tok):
    run = make_run("math", corpus, tok)
    ids = tok.encode(TEXT)
    views = av.compute(str(run.path), 10, ids, av.Want(attention=False, math_head=(1, 0)))
    assert views.capture is None
    math = views.math
    np.testing.assert_allclose(math["weights"], model_capture(run, 10, ids)[1, 0], atol=1e-6)
    scaled = np.where(math["allowed"], math["scaled"], -np.inf)  # (T, T)
    soft = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    np.testing.assert_allclose(soft / soft.sum(axis=1, keepdims=True), math["weights"], atol=1e-5)
    assert (math["layer"], math["head"], math["d_head"]) == (1, 0, 8)


def test_no_tokens_or_no_attention_means_no_capture(corpus, tok):
    run = make_run("empty", corpus, tok, steps=(0,))
    assert av.compute(run.path, 0, [], av.Want(math_head=(0, 0))).capture is None
    bigram = make_run("bigram", corpus, tok, steps=(0,), arch="bigram", d_model=tok.vocab_size)
    views = av.compute(bigram.path, 0, tok.encode(TEXT), av.Want(math_head=(0, 0), embed=True))
    assert views.arch == "bigram" and views.capture is None and views.math is None
    model = bigram.load_model(0)
    coords, explained = analysis.pca_2d(model.table.weight)  # a bigram's "embedding" is its table row
    np.testing.assert_allclose(views.embed.coords, coords)
    np.testing.assert_allclose(views.embed.explained, explained)
    assert views.embed.positions is None and views.embed.similarity is None
    assert views.embed.positional == "none"


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_embeddings_map_the_models_tables(corpus, tok, positional):
    run = make_run(f"embed-{positional}", corpus, tok, steps=(0,), positional=positional)
    embed = av.compute(run.path, 0, [], av.Want(attention=False, embed=True)).embed
    model = run.load_model(0)
    coords, _ = analysis.pca_2d(model.wte.weight)
    np.testing.assert_allclose(embed.coords, coords)
    assert embed.coords.shape == (tok.vocab_size, 2)
    cfg = run.model_config
    if positional == "learned":
        table = model.wpe.weight.detach().numpy()  # (T, C)
    else:
        table = (sinusoidal_table(cfg.context_length, cfg.d_model) * cfg.sinusoidal_amplitude).numpy()  # (T, C)
    np.testing.assert_allclose(embed.positions, table, atol=1e-6)
    assert embed.positional == positional
    np.testing.assert_allclose(np.diag(embed.similarity), 1.0, atol=1e-6)
    np.testing.assert_allclose(embed.similarity, analysis.cosine_similarity(table), atol=1e-6)


def test_models_come_from_the_shared_cache(corpus, tok):
    run = make_run("cached", corpus, tok)
    ids = tok.encode(TEXT)
    loads = MODELS.loads
    av.compute(run.path, 10, ids, av.Want())
    av.compute(str(run.path), 10, ids, av.Want(attention=False, embed=True))
    assert MODELS.loads - loads == 1
    av.compute(run.path, 0, ids, av.Want())
    assert MODELS.loads - loads == 2
    assert MODELS.peek(run.path, 10) is not None


def test_frequency_order_puts_common_tokens_first(corpus, tok):
    text = "bbbb" + "aa" + "c"
    b, a, c = tok.encode("bac")
    order = av.frequency_order(tok, text)
    assert order[:3] == [b, a, c]
    assert sorted(order) == list(range(tok.vocab_size))
    assert order[3:] == sorted(set(range(tok.vocab_size)) - {a, b, c})  # ties in id order
    assert av.frequency_order(tok, None) == list(range(tok.vocab_size))
    views = av.compute(make_run("freq", corpus, tok, steps=(0,)).path, 0, [],
                       av.Want(attention=False, frequency=True), text)
    assert views.frequency_order == order  # from the run's own tokenizer


def test_checkpoint_steps_and_their_losses(corpus, tok):
    run = make_run("steps", corpus, tok, steps=(0, 10, 20))
    assert av.checkpoint_steps(run) == [0, 10, 20]
    run.append_metrics({"kind": "eval", "it": 10, "train_loss": 2.5, "val_loss": 2.75})
    run.append_metrics({"kind": "step", "it": 11, "loss": 2.4})
    run.close_metrics()
    assert av.eval_losses(run) == {10: (2.5, 2.75)}
    assert av.loss_text(av.eval_losses(run), 10) == "step 10 · validation loss <b>2.750</b> (training 2.500)"
    assert av.loss_text({}, 20) == "step 20 · no evaluation saved at this step"
    assert av.loss_text({}, None) == "the newest weights"

    empty = make_run("no-weights", corpus, tok, steps=())
    assert av.checkpoint_steps(empty) == []
    empty.save_latest({"step": 3, "model": build_model(empty.model_config).state_dict()})
    assert av.checkpoint_steps(empty) == [None]  # only the newest weights
    assert av.compute(empty.path, None, tok.encode("ab"), av.Want()).capture.attention.shape == (2, 2, 2, 2)


def test_validation_text_is_read_from_the_folder(corpus, tok):
    run = make_run("val", corpus, tok, steps=())
    assert av.validation_text(run.path) == corpus.split(0.9)[1]
    Run(run.path).update(corpus={**run.corpus_record, "source": "gone.txt", "kind": "file"})
    with pytest.raises(CorpusError):
        av.validation_text(str(run.path))  # read afresh: the record changed on disk


def test_excerpt_is_a_piece_of_the_validation_text(corpus, tok):
    val = corpus.split(0.9)[1]
    texts = {av.pick_excerpt(val, tok, 40, random.Random(seed)) for seed in range(5)}
    assert len(texts) > 1
    for text in texts:
        assert text in val and 0 < len(tok.encode(text)) <= 40
    assert av.pick_excerpt(val, tok, 40, random.Random(7)) == av.pick_excerpt(val, tok, 40, random.Random(7))
    with pytest.raises(CorpusError):
        av.pick_excerpt(" \n", tok, 40, random.Random(0))


def test_capture_cache_bounds_count_and_bytes():
    def cap(n_bytes: int) -> av.Capture:
        return av.Capture(np.zeros(n_bytes // 4, dtype=np.float32), [], [])

    cache = av.CaptureCache(size=3, max_bytes=1000)
    for i in range(5):
        cache.put(i, cap(100))
    assert list(cache) == [2, 3, 4]  # the oldest went first
    cache.put("big", cap(900))
    assert list(cache) == [4, "big"] and cache.nbytes() == 1000  # at the byte limit, not over it
    cache.put("huge", cap(4000))
    assert list(cache) == ["huge"]  # the newest always stays, whatever its size


def test_want_is_empty_only_when_it_asks_for_nothing():
    assert not av.Want(attention=False)
    assert av.Want() and av.Want(attention=False, embed=True) and av.Want(attention=False, math_head=(0, 0))
    assert av.Want(attention=False, frequency=True)
