"""Attention tab: what it draws is exactly what the core captured, for the chosen checkpoint."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtWidgets import QLabel

from playground import paths
from playground.core import analysis
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.core.corpus import load_builtin
from playground.core.events import Finished
from playground.core.model_cache import MODELS
from playground.core.tokenizers import train_tokenizer
from playground.core.train import Trainer
from playground.gui.state import AppState

WAIT_MS = 60_000
TEXT = "abcd|abcd|abcd\nxyz|xyz|"  # 23 tokens with repeats: induction has something to measure


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A tiny model trained for 40 steps on copy-lessons, snapshots at 0, 20, 40 (made once)."""
    home = tmp_path_factory.mktemp("attention-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        corpus = load_builtin("copy-lessons")
        tok = train_tokenizer("char", corpus.text)
        cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=24, n_layer=2, n_head=2, d_model=32)
        train = TrainConfig(iters=40, batch_size=8, lr=3e-3, warmup=5, eval_interval=20, eval_iters=2,
                            sample_tokens=0, device="cpu")
        run = Run.create("tiny-attention", cfg, train, corpus.record(), tok)
        events = list(Trainer(run, corpus).run())
        assert isinstance(events[-1], Finished)
        assert [s for s, _ in run.snapshots()] == [0, 20, 40]
        return run.path


@pytest.fixture
def run(trained_folder, playground_home):
    target = paths.runs_dir() / trained_folder.name
    shutil.copytree(trained_folder, target)
    return Run.open(trained_folder.name)


def core_attention(run, step, ids):
    model = run.load_model(step)
    with torch.no_grad():
        return model(torch.tensor([ids]), capture=True).attention.numpy()  # (L, H, T, T)


def wait_shown(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.busy and tab.shown_key is not None
                    and tab.shown_key == tab.current_key(), timeout=WAIT_MS)


@pytest.fixture
def tab(qtbot, run):
    from playground.gui.tabs.attention_tab import AttentionTab

    state = AppState()
    tab = AttentionTab(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 860)
    tab.show()
    wait_shown(qtbot, tab)  # opens on the latest run with a random validation excerpt
    yield tab
    tab.shutdown()


def test_no_runs_says_train_first(qtbot):
    from playground.gui.tabs.attention_tab import AttentionTab

    tab = AttentionTab(AppState())
    qtbot.addWidget(tab)
    tab.show()
    assert tab.pages.currentIndex() == 0
    texts = [label.text() for label in tab.pages.currentWidget().findChildren(QLabel)]
    assert "Train a model first" in texts
    with qtbot.waitSignal(tab.requestTab, timeout=1000) as signal:
        qtbot.mouseClick(tab.to_train, Qt.LeftButton)
    assert signal.args == ["Train"]
    tab.shutdown()


def test_opens_on_latest_checkpoint_with_a_validation_excerpt(tab, run):
    assert tab.run == run and tab.steps == [0, 20, 40] and tab.step == 40
    text = tab.text_edit.toPlainText()
    corpus = load_builtin("copy-lessons")
    assert text and text in corpus.split(0.9)[1]
    assert len(tab.ids) <= run.model_config.context_length
    assert "validation loss" in tab.step_label.text()
    val = dict((it, v) for it, _t, v in run.evals())[40]
    assert f"{val:.3f}" in tab.step_label.text()


def test_grid_shows_the_cores_weights(tab, qtbot, run):
    tab.set_text(TEXT)
    wait_shown(qtbot, tab)
    ids = run.tokenizer.encode(TEXT)
    assert tab.ids == ids
    expected = core_attention(run, 40, ids)
    L, H, T, _ = expected.shape
    assert len(tab.grid.images) == L * H == 4
    below = np.tril(np.ones((T, T), dtype=bool))
    for layer in range(L):
        for head in range(H):
            shown = tab.grid.image_data(layer, head)
            assert shown.shape == (T, T)
            np.testing.assert_allclose(shown[below], expected[layer, head][below], atol=1e-6)
            assert np.isnan(shown[~below]).all()  # the future: drawn grey, not as weight 0
    # Titles are the core's head labels.
    labels = analysis.label_heads(expected, ids)
    name, score = labels[1][0]
    assert f"{score:.2f}" in tab.grid.plots[(1, 0)].titleLabel.text


def test_click_opens_large_view_with_token_labels(tab, qtbot, run):
    tab.set_text(TEXT)
    wait_shown(qtbot, tab)
    plot = tab.grid.plots[(1, 0)]
    pos = tab.grid.mapFromScene(plot.getViewBox().sceneBoundingRect().center())
    qtbot.mouseClick(tab.grid.viewport(), Qt.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: tab.current_view() == "Head", timeout=5000)
    wait_shown(qtbot, tab)
    assert (tab.layer, tab.head) == (1, 0)
    tok = run.tokenizer
    labels = [tok.token_label(i) for i in tok.encode(TEXT)]
    assert "↵" in labels
    view = tab.head_view
    assert view.axis_labels("left") == labels
    assert view.axis_labels("top") == labels
    expected = core_attention(run, 40, tok.encode(TEXT))[1, 0]
    np.testing.assert_allclose(np.tril(np.nan_to_num(view.image.image)), np.tril(expected), atol=1e-6)
    # Hovering a cell reads its weight out.
    row, col = 6, 2
    view._mouse_moved(view.vb.mapViewToScene(QPointF(col + 0.5, row + 0.5)))
    assert view.hover_label.text() == (f"Query `{labels[row]}` (position {row + 1}) attends to key "
                                       f"`{labels[col]}` (position {col + 1}) with weight "
                                       f"{expected[row, col]:.2f}")


def test_math_view_reproduces_the_cores_row(tab, qtbot, run):
    tab.set_text(TEXT)
    tab.select_head(1, 1)
    tab.views.setCurrentIndex(3)
    wait_shown(qtbot, tab)
    ids = run.tokenizer.encode(TEXT)
    query = 7
    tab.math_view.set_query(query)
    mv = tab.math_view
    expected = core_attention(run, 40, ids)[1, 1, query]
    np.testing.assert_allclose(mv.weights, expected, atol=1e-6)
    assert mv.d_head == 16
    np.testing.assert_allclose(mv.scaled, mv.scores / math.sqrt(16))
    row = mv.scaled[: query + 1]
    soft = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
    np.testing.assert_allclose(soft, expected[: query + 1], atol=1e-5)
    assert expected[query + 1:].sum() == 0
    assert mv.table.rowCount() == len(ids)
    assert mv.table.item(query, 5).text() == f"{expected[query]:.3f}"
    # Clicking a token picks the query.
    rect = mv.tokens._rects[3]
    qtbot.mouseClick(mv.tokens.viewport(), Qt.LeftButton, pos=rect.center())
    assert mv.query == 3 and tab.query == 3


def test_embedding_scatter_has_one_labelled_point_per_token(tab, qtbot, run):
    tab.views.setCurrentIndex(5)
    wait_shown(qtbot, tab)
    view = tab.embed_view
    tok = run.tokenizer
    V = tok.vocab_size
    assert view.point_count() == V
    assert len(view.text_items) == V
    assert [t.textItem.toPlainText() for t in view.text_items] == [tok.token_label(i) for i in range(V)]
    coords, _ = analysis.pca_2d(run.load_model(40).token_embeddings())
    np.testing.assert_allclose(view.coords, coords)
    first = view.text_items[0].pos()
    assert (first.x(), first.y()) == pytest.approx(tuple(coords[0]))
    assert view.pos_plot.isVisibleTo(view)  # learned positions are shown


def test_checkpoint_slider_shows_that_checkpoints_weights(tab, qtbot, run):
    tab.set_text(TEXT)
    wait_shown(qtbot, tab)
    ids = run.tokenizer.encode(TEXT)
    below = np.tril(np.ones((len(ids), len(ids)), dtype=bool))
    last = tab.grid.image_data(0, 1)[below].copy()
    tab.slider.setValue(0)
    wait_shown(qtbot, tab)
    assert tab.step == 0
    first = tab.grid.image_data(0, 1)[below]
    np.testing.assert_allclose(first, core_attention(run, 0, ids)[0, 1][below], atol=1e-6)
    np.testing.assert_allclose(last, core_attention(run, 40, ids)[0, 1][below], atol=1e-6)
    assert np.abs(first - last).max() > 1e-3  # training changed the pattern
    val0 = dict((it, v) for it, _t, v in run.evals())[0]
    assert f"{val0:.3f}" in tab.step_label.text()
    tab.slider.setValue(2)  # back to the last: from the cache, at once
    assert not tab._handle.running
    tab._slider_timer.stop()
    tab._request()
    np.testing.assert_allclose(tab.grid.image_data(0, 1)[below], last)


def test_long_text_is_cropped_with_a_note(tab, qtbot, run):
    text = "abc|" * 20
    tab.set_text(text)
    wait_shown(qtbot, tab)
    assert tab.ids == run.tokenizer.encode(text)[:24]
    assert "first 24 of 80" in tab.note_label.text()


def test_unknown_characters_are_an_inline_error(tab, qtbot):
    tab.set_text("hello Ω")
    assert tab.error_label.isVisible()
    assert "Ω" in tab.error_label.text() or "character" in tab.error_label.text().lower()


def test_head_labels_table_and_export(tab, qtbot, run, tmp_path):
    tab.set_text(TEXT)
    tab.views.setCurrentIndex(4)
    wait_shown(qtbot, tab)
    table = tab.table
    assert table.rowCount() == 4
    ids = run.tokenizer.encode(TEXT)
    scores = analysis.all_head_scores(core_attention(run, 40, ids), ids)
    rows = {(int(table.item(r, 0).text()), int(table.item(r, 1).text())): r for r in range(4)}
    r = rows[(2, 1)]
    assert float(table.item(r, 3).text()) == pytest.approx(scores[1][0]["previous-token"], abs=1e-3)
    table.sortItems(3, Qt.DescendingOrder)
    values = [float(table.item(i, 3).text()) for i in range(4)]
    assert values == sorted(values, reverse=True)
    out = tab.export_png(tmp_path / "view.png")
    assert out.stat().st_size > 1000


def test_vanished_corpus_keeps_typed_text(tab, qtbot, run):
    run.update(corpus={**run.corpus_record, "source": str(paths.data_dir() / "gone.txt")})
    tab.val_texts.clear()
    tab.set_text(TEXT)
    wait_shown(qtbot, tab)
    tab.random_excerpt()
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT_MS)
    assert tab.error_label.isVisible()
    assert "gone" in tab.error_label.text()
    assert tab.text_edit.toPlainText() == TEXT


def test_new_checkpoints_arrive_by_signal_not_by_polling(qtbot, run, tmp_path):
    from playground.gui.tabs.attention_tab import AttentionTab

    later = {step: path for step, path in run.snapshots() if step > 0}
    for _step, path in later.items():
        path.rename(tmp_path / path.name)
    run.latest_path.unlink()
    state = AppState()
    tab = AttentionTab(state)
    qtbot.addWidget(tab)
    tab.show()
    wait_shown(qtbot, tab)
    assert tab.steps == [0] and tab.step == 0 and tab.slider.maximum() == 0
    # Nothing watches the disk: the only timers left are the one-shot typing and slider delays.
    assert all(t.isSingleShot() for t in tab.findChildren(QTimer, options=Qt.FindDirectChildrenOnly))

    (tmp_path / later[20].name).rename(later[20])  # the trainer saves its next checkpoint
    state.notify_checkpoint(str(paths.runs_dir() / "elsewhere"), 20)  # another run's: ignored
    assert tab.steps == [0]
    state.notify_checkpoint(str(run.path), 20)
    wait_shown(qtbot, tab)
    assert tab.steps == [0, 20] and tab.step == 20  # it was at the newest: it follows
    assert tab.slider.maximum() == 1 and tab.slider.isEnabled()
    below = np.tril(np.ones((len(tab.ids),) * 2, dtype=bool))
    np.testing.assert_allclose(tab.grid.image_data(0, 1)[below], core_attention(run, 20, tab.ids)[0, 1][below],
                               atol=1e-6)  # the new checkpoint's weights are on screen

    tab.slider.setValue(0)  # the student looks at an older one: a new checkpoint keeps it there
    wait_shown(qtbot, tab)
    (tmp_path / later[40].name).rename(later[40])
    state.notify_checkpoint(str(run.path), 40)
    wait_shown(qtbot, tab)
    assert tab.steps == [0, 20, 40] and tab.step == 0 and tab.slider.maximum() == 2
    tab.shutdown()


def test_newest_weights_overwritten_are_shown_again(qtbot, run):
    from playground.core.model import build_model
    from playground.gui.tabs.attention_tab import AttentionTab

    shutil.rmtree(run.checkpoints_dir)  # a run that keeps only latest.pt
    state = AppState()
    tab = AttentionTab(state)
    qtbot.addWidget(tab)
    tab.show()
    tab.set_text(TEXT)
    wait_shown(qtbot, tab)
    assert tab.steps == [None]
    ids = tab.ids
    below = np.tril(np.ones((len(ids), len(ids)), dtype=bool))
    before = core_attention(run, None, ids)
    np.testing.assert_allclose(tab.grid.image_data(0, 1)[below], before[0, 1][below], atol=1e-6)
    torch.manual_seed(123)
    run.save_latest({"step": 41, "model": build_model(run.model_config).state_dict()})
    state.notify_checkpoint(str(run.path), 41)
    wait_shown(qtbot, tab)
    after = core_attention(run, None, ids)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(tab.grid.image_data(0, 1)[below], after[0, 1][below], atol=1e-6)
    tab.shutdown()


def test_one_pick_is_handled_once(tab, qtbot, run):
    from playground.core.model import build_model

    other = Run.create("other", run.model_config, TrainConfig(), run.corpus_record, run.tokenizer)
    other.save_snapshot(0, build_model(run.model_config), None)
    tab.picker.refresh()
    picks, changes = [], []
    tab.picker.runPicked.connect(picks.append)
    tab.state.runChanged.connect(changes.append)
    loads, jobs, run_loads = MODELS.loads, tab.jobs_started, tab.run_loads
    index = tab.picker.runs().index(other)
    tab.picker.combo.setCurrentIndex(index)
    tab.picker.combo.activated.emit(index)  # what a click on the item does
    wait_shown(qtbot, tab)
    assert picks == [other] and changes == [other] and tab.run == other
    assert tab.run_loads - run_loads == 1  # the run's steps and tokenizer were read once
    assert MODELS.loads - loads == 1 and tab.jobs_started - jobs == 1  # one checkpoint, one capture
    # The same run picked again is one pick too (it re-reads the run's checkpoints).
    tab.picker.combo.activated.emit(index)
    assert picks == [other, other] and changes == [other] and tab.run_loads - run_loads == 2


def test_switching_runs_retokenizes_or_takes_a_new_excerpt(tab, qtbot, run, tmp_path):
    from playground.core.corpus import load_file
    from playground.core.model import build_model

    text_file = tmp_path / "upper.txt"
    text_file.write_text("ABBA CAB BAC\n" * 400, encoding="utf-8")
    corpus = load_file(text_file)
    tok = train_tokenizer("char", corpus.text)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=16)
    other = Run.create("upper", cfg, TrainConfig(), corpus.record(), tok)
    other.save_snapshot(0, build_model(cfg), None)

    # The text was a random excerpt: the new run gets an excerpt of its own corpus.
    tab.state.set_run(other)
    wait_shown(qtbot, tab)
    assert tab.run == other and not tab.error_label.isVisible()
    assert set(tab.text_edit.toPlainText()) <= set("ABC \n")
    assert tab.grid.data.shape[:2] == (1, 2)

    # A typed text the new run's tokenizer cannot read: an inline message, nothing stale shown.
    tab.state.set_run(run)
    wait_shown(qtbot, tab)
    tab.set_text("abc|abc")
    wait_shown(qtbot, tab)
    tab.state.set_run(other)
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT_MS)
    assert tab.error_label.isVisible() and tab.ids == [] and tab.current_key() is None
    assert tab.text_edit.toPlainText() == "abc|abc"
