"""Nearest tokens by cosine similarity, and the bigram's tables, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core import bigram_table, embedding_neighbours
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig, preset
from playground.core.corpus import load_builtin
from playground.core.model import build_model
from playground.core.tokenizers import train_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")


def numpy_cosine_neighbours(E: np.ndarray, token: int, k: int) -> list[tuple[int, float]]:
    """Written out plainly, one pair at a time."""
    sims = []
    for j in range(len(E)):
        if j == token:
            continue
        a, b = E[token], E[j]
        sims.append((j, float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))))
    sims.sort(key=lambda js: (-js[1], js[0]))
    return sims[:k]


def test_neighbours_match_a_plain_cosine_computation():
    rng = np.random.default_rng(0)
    E = rng.normal(size=(60, 12)).astype(np.float32)  # (V, C)
    E[7] = 3.0 * E[5] + 1e-3  # a long twin of token 5: alike in direction, whatever its length
    for token in (0, 5, 59):
        got = embedding_neighbours.nearest(E, token, k=10)
        want = numpy_cosine_neighbours(E, token, 10)
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-6)
    assert embedding_neighbours.nearest(E, 5, k=1)[0][0] == 7


def test_similarity_matrix_and_map_share():
    rng = np.random.default_rng(1)
    E = rng.normal(size=(30, 8))  # (V, C)
    chosen = [4, 2, 9]
    sim = embedding_neighbours.similarity_matrix(E, chosen)
    want = torch.nn.functional.cosine_similarity(
        torch.tensor(E[chosen])[:, None], torch.tensor(E[chosen])[None, :], dim=-1).numpy()
    np.testing.assert_allclose(sim, want, atol=1e-10)
    assert embedding_neighbours.map_keeps([0.1, 0.06]) == pytest.approx(0.16)


@pytest.fixture(scope="module")
def bigram_run(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(tmp_path_factory.mktemp("bigram-home")))
        corpus = load_builtin("grammar-lessons")
        tok = train_tokenizer("char", corpus.text)
        cfg = preset("bigram", tok.vocab_size)
        run = Run.create("bigram", cfg, TrainConfig(), corpus.record(), tok)
        torch.manual_seed(0)
        model = build_model(cfg)
        with torch.no_grad():
            model.table.weight.normal_(0.0, 2.0)
        run.save_snapshot(0, model, None)
        yield run, corpus, tok, model


def test_bigram_model_table_is_softmax_of_the_models_output(bigram_run):
    run, _corpus, tok, model = bigram_run
    tables = embedding_neighbours.load(run.path, 0).bigram
    V = tok.vocab_size
    assert tables.shown == list(range(V))
    np.testing.assert_allclose(tables.model.sum(axis=1), 1.0, atol=1e-5)
    with torch.no_grad():
        for i in range(V):
            probs = torch.softmax(model(torch.tensor([[i]])).logits[0, 0], -1).numpy()  # (V,)
            np.testing.assert_allclose(tables.model[i], probs, atol=1e-6)


def test_bigram_counted_table_is_a_direct_count_of_the_training_tokens(bigram_run):
    run, corpus, tok, _model = bigram_run
    tables = embedding_neighbours.load(run.path, 0).bigram
    ids = tok.encode(corpus.text)
    train = ids[: int(len(ids) * run.train_config.split)]
    V = tok.vocab_size
    counts = np.zeros((V, V))
    for a, b in zip(train[:-1], train[1:]):
        counts[a, b] += 1
    np.testing.assert_array_equal(tables.row_counts, counts.sum(axis=1))
    seen = counts.sum(axis=1) > 0
    np.testing.assert_allclose(tables.counted[seen], counts[seen] / counts[seen].sum(axis=1, keepdims=True))
    assert not tables.counted[~seen].any()


def test_a_large_vocabulary_shows_its_most_frequent_tokens():
    ids = [5] * 10 + [3] * 5 + list(range(300))
    shown = bigram_table.shown_tokens(ids, 300, limit=4)
    assert shown == [0, 1, 3, 5]  # 5 and 3 most often, then ties by id
    cfg = ModelConfig(arch="bigram", vocab_size=300, d_model=300, n_layer=0, n_head=1)
    tables = bigram_table.bigram_tables(build_model(cfg), ids)
    assert tables.model.shape == (len(tables.shown), 300) == tables.counted.shape


def test_gpt_table_has_no_bigram_part(tmp_path):
    corpus = load_builtin("grammar-lessons")
    tok = train_tokenizer("char", corpus.text)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=16)
    run = Run.create("gpt", cfg, TrainConfig(), corpus.record(), tok)
    model = build_model(cfg)
    run.save_snapshot(0, model, None)
    table = embedding_neighbours.load(run.path, 0)
    assert table.arch == "gpt" and table.bigram is None
    np.testing.assert_array_equal(table.matrix, model.wte.weight.detach().numpy())
