"""Embeddings view: the nearest-token list, the similarity matrix, the map's share and the bigram
table show the numbers of independent computations on the run's own weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.core import analysis
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig, preset
from playground.core.corpus import load_builtin
from playground.core.model import build_model
from playground.core.tokenizers import train_tokenizer

WAIT_MS = 60_000


def make_run(name: str, cfg_of) -> tuple[Run, object, object]:
    corpus = load_builtin("grammar-lessons")
    tok = train_tokenizer("char", corpus.text)
    cfg = cfg_of(tok.vocab_size)
    run = Run.create(name, cfg, TrainConfig(), corpus.record(), tok)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 1.0)
    run.save_snapshot(0, model, None)
    return run, tok, model


@pytest.fixture
def view(qtbot):
    from playground.gui.widgets.embedding_view import EmbeddingView

    view = EmbeddingView()
    qtbot.addWidget(view)
    view.resize(1400, 800)
    view.show()
    yield view
    qtbot.waitUntil(lambda: view._handle is None or not view._handle.running, timeout=WAIT_MS)


def show_run(qtbot, view, run, tok, model):
    E = model.token_embeddings().numpy()  # (V, C)
    coords, explained = analysis.pca_2d(E)
    labels = [tok.token_label(i) for i in range(tok.vocab_size)]
    view.set_tokens(coords, explained, labels, step=0)
    view.set_source(run.path, 0)
    qtbot.waitUntil(lambda: view.table is not None, timeout=WAIT_MS)
    return E, explained, labels


def plain_cosines(E: np.ndarray, token: int) -> list[tuple[int, float]]:
    unit = E / np.linalg.norm(E, axis=1, keepdims=True)
    sims = unit @ unit[token]
    order = [i for i in np.argsort(-sims, kind="stable") if i != token]
    return [(int(i), float(sims[i])) for i in order[:10]]


def table_rows(view) -> list[tuple[str, str, str]]:
    t = view.neighbour_table
    return [tuple(t.item(r, c).text() for c in range(3)) for r in range(t.rowCount())]


def test_clicking_a_dot_lists_its_ten_nearest_tokens_with_their_cosines(qtbot, view):
    run, tok, model = make_run("gpt", lambda v: ModelConfig(vocab_size=v, context_length=16, n_layer=1,
                                                             n_head=2, d_model=16))
    E, explained, labels = show_run(qtbot, view, run, tok, model)
    keeps = 100 * (explained[0] + explained[1])
    assert f"This map keeps {keeps:.0f}% of the variation" in view.keeps_label.text()

    item = next(s for s in view.scatters if len(s.points()))
    point = item.points()[0]
    token = int(point.data())
    item.sigClicked.emit(item, [point], None)  # what a mouse click on that dot sends
    assert view.selected == token and view.token_combo.currentText() == labels[token]
    want = plain_cosines(E, token)
    assert table_rows(view) == [(str(r + 1), labels[i], f"{s:+.3f}") for r, (i, s) in enumerate(want)]

    # Picking a second token from the search box: its list, and a 2×2 matrix of both.
    other = tok.encode("e")[0]
    view.token_combo.setCurrentIndex(other)
    view.token_combo.activated.emit(other)
    assert [labels[i] for i, _ in plain_cosines(E, other)] == [row[1] for row in table_rows(view)]
    first = view.compared[0]  # the token shown before any click
    assert view.compared == [first, token, other]
    unit = E[view.compared] / np.linalg.norm(E[view.compared], axis=1, keepdims=True)
    np.testing.assert_allclose(view.match_data, unit @ unit.T, atol=1e-6)
    assert [t.textItem.toPlainText() for t in view.match_numbers] == [
        f"{v:.2f}" for v in (unit @ unit.T).ravel()]
    ticks = view.match_plot.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == [labels[first], labels[token], labels[other]]
    view.clear_button.click()
    assert view.compared == [other] and view.match_data.shape == (1, 1)
    assert not view.bigram_view.isVisibleTo(view)


def test_a_bigram_shows_its_table_beside_the_counted_one(qtbot, view):
    run, tok, model = make_run("bigram", lambda v: preset("bigram", v))
    show_run(qtbot, view, run, tok, model)
    bv = view.bigram_view
    assert bv.isVisibleTo(view)
    V = tok.vocab_size
    with torch.no_grad():
        probs = torch.softmax(model(torch.arange(V)[None]).logits[0], -1).numpy()  # (V, V)
    np.testing.assert_allclose(bv.model_data, probs, atol=1e-6)
    np.testing.assert_allclose(np.asarray(bv.model_image.image), probs, atol=1e-6)
    corpus = load_builtin("grammar-lessons")
    ids = tok.encode(corpus.text)
    train = ids[: int(len(ids) * run.train_config.split)]
    counts = np.zeros((V, V))
    np.add.at(counts, (np.array(train[:-1]), np.array(train[1:])), 1)
    rows = counts.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(bv.count_data, counts / np.where(rows > 0, rows, 1), atol=1e-12)
    a, b = tok.encode("T")[0], tok.encode("h")[0]
    assert bv.describe(a, b) == (f"after {bv.labels[a]!r} comes {bv.labels[b]!r}: model {probs[a, b]:.3f}, "
                                 f"counted {counts[a, b] / counts[a].sum():.3f}")
    assert [label for _, label in bv.model_plot.getAxis("bottom")._tickLevels[0]] == bv.labels
