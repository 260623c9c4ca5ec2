"""The ablation view: what it draws (bars, losses, the heads table) is the core's numbers for
the boxes ticked, computed in a worker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from playground.core import ablation as ab
from playground.core import attention_views as av
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.core.corpus import load_builtin
from playground.core.train import Trainer

WAIT_MS = 60_000
TEXT = "abcd|abcd|abcd\nxyz|xyz|"  # 23 tokens with repeats
QUERY = 9  # the "b" of the second "abcd": its next token is copied


@pytest.fixture(scope="module")
def run_path(builtin_trained):
    """copy-lessons trained at the app's defaults (Tiny; shared with the other tests of the session)."""
    return str(builtin_trained("copy-lessons").run.path)


@pytest.fixture
def context(run_path):
    run = Run(run_path)
    model, tok = run.load_model(device="cpu"), run.tokenizer
    ids = tok.encode(TEXT)
    head_labels = av.capture(model, ids).head_labels
    return dict(run_path=run_path, step=None, ids=ids, labels=[tok.token_label(i) for i in ids], query=QUERY,
                head_labels=head_labels), model, tok


@pytest.fixture
def view(qtbot):
    from playground.gui.widgets.ablation_view import AblationView

    view = AblationView()
    qtbot.addWidget(view)
    view.resize(900, 900)
    view.show()
    yield view
    view.shutdown()


def wait_computed(qtbot, view):
    qtbot.waitUntil(lambda: not view.busy and view.shown_key is not None
                    and view.shown_key == view.current_key(), timeout=WAIT_MS)


def test_ticking_a_head_shows_the_cores_numbers_before_and_after(qtbot, view, context):
    ctx, model, tok = context
    with qtbot.waitSignal(view.computed, timeout=WAIT_MS):
        view.set_context(**ctx)
    wait_computed(qtbot, view)
    assert sorted(view.head_boxes) == [(0, 0), (0, 1), (1, 0), (1, 1)] and sorted(view.mlp_boxes) == [0, 1]
    name = av.PATTERN_TITLES[ctx["head_labels"][0][1][0]]
    assert view.head_boxes[(0, 1)].text() == f"L1 H2 · {name}"
    assert view.positions_box.isEnabled()
    whole = ab.next_token(model, ctx["ids"], QUERY, ab.NOTHING)
    drawn = view.bars.bar_values()
    assert [i for i, *_ in drawn] == [i for i, _, _ in whole.rows]
    assert [p for _, _, p, _ in drawn] == pytest.approx([p for _, p, _ in whole.rows], abs=1e-6)

    off = ab.Ablation(heads=frozenset({(0, 1)}))
    qtbot.mouseClick(view.head_boxes[(0, 1)], Qt.LeftButton, pos=view.head_boxes[(0, 1)].rect().center())
    assert view.head_boxes[(0, 1)].isChecked() and view.ablation() == off
    assert view.busy and view.busy_bar.isVisible()  # the work runs in a worker, with a busy bar
    wait_computed(qtbot, view)
    assert not view.busy_bar.isVisible()

    after = ab.next_token(model, ctx["ids"], QUERY, off)
    drawn = view.bars.bar_values()
    assert [(i, lab) for i, lab, _, _ in drawn] == [(i, tok.token_label(i)) for i, _, _ in after.rows]
    assert [pb for _, _, pb, _ in drawn] == pytest.approx([pb for _, pb, _ in after.rows], abs=1e-6)
    assert [pa for *_, pa in drawn] == pytest.approx([pa for *_, pa in after.rows], abs=1e-6)
    assert any(abs(pb - pa) > 0.01 for _, _, pb, pa in drawn)  # switching the head off changed something

    sample = ab.validation_sample(ctx["run_path"], tok, model.config.context_length)
    before_loss, after_loss = ab.validation_loss(model, sample), ab.validation_loss(model, sample, off)
    comparison = view.result.comparison
    assert comparison.loss_before == pytest.approx(before_loss, rel=1e-6)
    assert comparison.loss_after == pytest.approx(after_loss, rel=1e-6)
    text = view.loss_label.text()
    assert f"{before_loss:.3f}" in text and f"{after_loss:.3f}" in text and sample.describe() in text
    assert "without head L1 H2" in text
    target = f"{after.target_before:.1%} → <b>{after.target_after:.1%}</b>"
    assert target in view.target_label.text()


def test_mlp_and_positions_boxes_switch_those_parts_off(qtbot, view, context):
    ctx, model, _tok = context
    view.set_context(**ctx)
    wait_computed(qtbot, view)
    view.mlp_boxes[1].setChecked(True)
    view.positions_box.setChecked(True)
    wait_computed(qtbot, view)
    off = ab.Ablation(mlps=frozenset({1}), positions=True)
    assert view.ablation() == off
    want = ab.next_token(model, ctx["ids"], QUERY, off)
    assert [pa for *_, pa in view.bars.bar_values()] == pytest.approx([pa for _, _, pa in want.rows], abs=1e-6)
    with qtbot.waitSignal(view.computed, timeout=WAIT_MS):
        view.all_on.click()
    assert view.ablation() == ab.NOTHING
    assert all(pb == pa for _, _, pb, pa in view.bars.bar_values())


def test_which_heads_matter_fills_a_table_sorted_by_the_loss_rise(qtbot, view, context):
    ctx, model, tok = context
    view.set_context(**ctx)
    wait_computed(qtbot, view)
    with qtbot.waitSignal(view.importanceComputed, timeout=WAIT_MS):
        view.matter_button.click()
        assert not view.matter_button.isEnabled() and view.busy_bar.isVisible()
    assert view.matter_button.isEnabled()
    _, on_text = ab.head_importance(model, ab.text_sample(ctx["ids"]))
    sample = ab.validation_sample(ctx["run_path"], tok, model.config.context_length)
    _, on_sample = ab.head_importance(model, sample)
    rows = view.table_rows()
    assert [(layer, head) for layer, head, *_ in rows] == [(e.layer, e.head) for e in on_text]
    sample_rise = {(e.layer, e.head): e.increase for e in on_sample}
    for (layer, head, label, text_rise, val_rise), e in zip(rows, on_text):
        assert text_rise == pytest.approx(e.increase, abs=1e-6)
        assert val_rise == pytest.approx(sample_rise[(layer, head)], abs=1e-6)
        assert label == av.PATTERN_TITLES[ctx["head_labels"][layer][head][0]]


def test_a_new_text_keeps_the_boxes_and_a_bigram_has_none(qtbot, view, context):
    ctx, _model, tok = context
    view.set_context(**ctx)
    wait_computed(qtbot, view)
    view.head_boxes[(1, 0)].setChecked(True)
    wait_computed(qtbot, view)
    ids = tok.encode("xyz|xyz|xy")
    # The Attention tab's add_view calls show_context(ViewContext) while the view is on screen.
    view.show_context(SimpleNamespace(run_path=ctx["run_path"], step=None, ids=tuple(ids), arch="gpt",
                                      labels=tuple(tok.token_label(i) for i in ids), layer=0, head=0,
                                      query=None, head_labels=None))
    wait_computed(qtbot, view)
    assert view.head_boxes[(1, 0)].isChecked() and view.head_boxes[(1, 0)].text() == "L2 H1"
    nt = view.result.comparison.next_token
    assert nt.position == len(ids) - 1 and nt.target is None
    assert "The last token" in view.target_label.text()

    corpus = load_builtin("copy-lessons")
    cfg = ModelConfig(arch="bigram", vocab_size=tok.vocab_size, d_model=tok.vocab_size, n_layer=0, n_head=1,
                      context_length=24)
    train = TrainConfig(iters=2, batch_size=2, lr=1e-2, warmup=0, eval_interval=2, eval_iters=1,
                        sample_tokens=0, device="cpu")
    bigram = Run.create("bigram-ablation", cfg, train, corpus.record(), tok)
    list(Trainer(bigram, corpus).run())
    view.set_context(str(bigram.path), None, ids, [tok.token_label(i) for i in ids], None, None)
    wait_computed(qtbot, view)
    assert view.head_boxes == {} and view.mlp_boxes == {}
    assert not view.positions_box.isEnabled() and not view.matter_button.isEnabled()
    assert view.bars.bar_values() == []
