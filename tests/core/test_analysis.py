"""The head-pattern scorer, the unigram baseline and overfitting detection on hand-made data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.core.analysis import (
    attention_math,
    cosine_similarity,
    head_pattern_scores,
    label_head,
    label_heads,
    overfitting,
    pca_2d,
    unigram_baseline,
)

T = 12


def _rows_from(fn) -> np.ndarray:
    """A causal attention matrix whose row i is fn(i) (a dict key -> weight), then normalised."""
    w = np.zeros((T, T))
    for i in range(T):
        for j, v in fn(i).items():
            w[i, j] += v
        w[i] /= w[i].sum()
    return w


def _mostly(target, strength=0.9):
    """Put ``strength`` on target(i) and spread the rest over the causal prefix."""
    def row(i):
        d = {j: (1 - strength) / (i + 1) for j in range(i + 1)}
        d[target(i)] = d.get(target(i), 0) + strength
        return d
    return _rows_from(row)


def test_previous_token_head():
    w = _mostly(lambda i: max(i - 1, 0))
    s = head_pattern_scores(w, None)
    assert s["previous-token"] == pytest.approx(0.9 + 0.1 * np.mean([1 / (i + 1) for i in range(2, T)]))
    assert s["induction"] is None  # no ids given
    assert label_head(s) == ("previous-token", pytest.approx(s["previous-token"]))


def test_diagonal_head():
    w = _mostly(lambda i: i)
    label, score = label_head(head_pattern_scores(torch.tensor(w), None))
    assert label == "self" and score > 0.9


def test_first_token_head():
    w = _mostly(lambda i: 0, strength=0.8)
    s = head_pattern_scores(w, list(range(T)))
    assert s["first-token"] > 0.8
    assert s["previous-token"] < 0.1
    assert s["induction"] is None  # all ids distinct: nothing repeats
    assert label_head(s)[0] == "first-token"


def test_uniform_head():
    w = _rows_from(lambda i: {j: 1.0 for j in range(i + 1)})
    s = head_pattern_scores(w, None)
    assert s["uniform"] == pytest.approx(1.0)
    assert s["previous-token"] < 0.4
    assert label_head(s) == ("uniform", pytest.approx(1.0))


def test_induction_head_on_repeated_sequence():
    seq = [5, 9, 2, 7, 3, 8]
    ids = seq + seq  # T = 12: "A B C ... A B C ..."
    # In the second copy (i >= 6), token ids[i] occurred at i-6: attend to i-6+1 (what came next).
    w = _mostly(lambda i: i - 5 if i >= 6 else 0, strength=0.9)
    s = head_pattern_scores(w, ids)
    assert s["induction"] == pytest.approx(0.9 + 0.1 * np.mean([1 / (i + 1) for i in range(6, 12)]))
    assert label_head(s)[0] == "induction"
    # The same matrix with no repeats in the text has no induction score at all.
    assert head_pattern_scores(w, list(range(T)))["induction"] is None


def test_previous_token_head_is_not_induction():
    seq = [5, 9, 2, 7, 3, 8]
    s = head_pattern_scores(_mostly(lambda i: max(i - 1, 0)), seq + seq)
    assert s["induction"] < 0.1
    assert label_head(s)[0] == "previous-token"


def test_mixed_head():
    # A third each on self, previous and two-back: no pattern reaches 0.4, and three keys
    # out of up to 12 is far from uniform.
    def row(i):
        return {i: 1 / 3, max(i - 1, 0): 1 / 3, max(i - 2, 0): 1 / 3}
    s = head_pattern_scores(_rows_from(row), None)
    assert label_head(s)[0] == "mixed"
    assert label_head(s)[1] == pytest.approx(max(s["self"], s["previous-token"]))


def test_label_heads_shape_and_order():
    att = np.stack([
        np.stack([_mostly(lambda i: max(i - 1, 0)), _mostly(lambda i: i)]),
        np.stack([_mostly(lambda i: 0), _rows_from(lambda i: {j: 1.0 for j in range(i + 1)})]),
    ])  # (2, 2, T, T)
    labels = label_heads(torch.tensor(att, dtype=torch.float32), None)
    assert [[lab for lab, _ in layer] for layer in labels] == [
        ["previous-token", "self"], ["first-token", "uniform"]]


def test_unigram_baseline_matches_hand_computation():
    train = [0, 0, 1, 2]  # counts 2, 1, 1, 0 over vocab 4 -> smoothed (3, 2, 2, 1) / 8
    val = [0, 3]
    expected = -(math.log(3 / 8) + math.log(1 / 8)) / 2
    assert unigram_baseline(train, val, 4) == pytest.approx(expected)
    assert unigram_baseline(torch.tensor(train), torch.tensor(val), 4) == pytest.approx(expected)
    # Uniform text: the baseline is ln(V).
    assert unigram_baseline([0, 1, 2, 3] * 10, [0, 1, 2, 3], 4) == pytest.approx(math.log(4))


def test_overfitting_detection():
    healthy = [(0, 4.0, 4.1), (100, 3.0, 3.2), (200, 2.5, 2.8), (300, 2.2, 2.6)]
    assert not overfitting(healthy)
    rising = healthy + [(400, 2.0, 2.65), (500, 1.8, 2.7), (600, 1.6, 2.8)]
    assert overfitting(rising, patience=3)
    assert not overfitting(rising[:-1], patience=3)  # only two rises so far
    assert overfitting(rising[:-1], patience=2)
    # Validation rising while training also rises is divergence, not overfitting.
    diverging = healthy + [(400, 2.3, 2.65), (500, 2.4, 2.7), (600, 2.5, 2.8)]
    assert not overfitting(diverging)
    # One dip in the middle resets the count.
    dip = healthy + [(400, 2.0, 2.65), (500, 1.8, 2.6), (600, 1.6, 2.7)]
    assert not overfitting(dip)


# --------------------------------------------------------------------------- Attention tab helpers


def test_pca_2d_finds_the_main_directions():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    s = rng.normal(size=200)
    # Points mostly along (1, 1, 0) (std 5), then along (0, 0, 1) (std 1), a little noise.
    x = np.outer(5 * t, [1, 1, 0]) / np.sqrt(2) + np.outer(s, [0, 0, 1]) + 0.01 * rng.normal(size=(200, 3))
    coords, explained = pca_2d(torch.tensor(x, dtype=torch.float32))
    assert coords.shape == (200, 2)
    assert abs(np.corrcoef(coords[:, 0], t)[0, 1]) > 0.999
    assert abs(np.corrcoef(coords[:, 1], s)[0, 1]) > 0.99
    assert explained[0] == pytest.approx(coords[:, 0].var() / (x - x.mean(0)).var(0).sum(), rel=1e-6)
    assert explained[0] > 0.9 and explained.sum() <= 1.0
    # The sign convention (largest loading positive) does not depend on the columns' order.
    again, _ = pca_2d(x[:, [2, 0, 1]])
    assert np.allclose(again, coords)


def test_pca_2d_small_inputs():
    coords, explained = pca_2d(np.ones((1, 4)))
    assert coords.shape == (1, 2) and not explained.any()
    coords, _ = pca_2d(np.array([[0.0], [2.0]]))  # one dimension: the second axis is 0
    assert np.allclose(np.abs(coords[:, 0]), 1.0) and not coords[:, 1].any()


def test_cosine_similarity():
    sim = cosine_similarity(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [0.0, 0.0]]))
    assert sim[0, 0] == pytest.approx(1.0)
    assert sim[0, 1] == pytest.approx(0.0)
    assert sim[0, 2] == pytest.approx(1 / math.sqrt(2))
    assert sim[3, 3] == 0.0


def test_attention_math_reproduces_the_models_own_numbers():
    from playground.core.config import ModelConfig
    from playground.core.model import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=11, context_length=16, n_layer=2, n_head=2, d_model=16)
    model = build_model(cfg).eval()
    for p in model.parameters():  # larger weights: peaked attention, a stricter test
        p.data.normal_(0, 0.5)
    ids = [1, 4, 2, 9, 4, 2, 7, 1, 3]
    T = len(ids)
    with torch.no_grad():
        full = model(torch.tensor([ids]), capture=True)
    m = attention_math(model, ids, layer=1, head=1)
    D = cfg.d_model // cfg.n_head
    assert m["q"].shape == m["k"].shape == m["v"].shape == (T, D)
    assert m["concat"].shape == m["out"].shape == (T, cfg.d_model)
    assert m["w_o"].shape == (cfg.d_model, cfg.d_model)
    assert np.allclose(m["weights"], full.attention[1, 1].numpy(), atol=1e-6)
    # softmax(q·k / sqrt(d_head)) over the causal prefix is the model's weights.
    expected = torch.softmax(torch.tensor(m["scaled"]).masked_fill(~torch.tensor(m["allowed"]), float("-inf")), -1)
    assert np.allclose(expected.numpy(), m["weights"], atol=1e-5)
    assert np.allclose(m["scaled"], m["scores"] / math.sqrt(D))
    # The head's output is the weighted sum of the values; W_O maps all heads to the output.
    assert np.allclose(m["head_out"], m["weights"] @ m["v"], atol=1e-5)
    assert np.allclose(m["concat"] @ m["w_o"] + m["bias"], m["out"], atol=1e-5)
    assert m["weights"][3, 4:].sum() == 0.0  # the causal mask: no weight on future keys
