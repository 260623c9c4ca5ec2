"""The math's steps after the heads and the logit lens: what they draw is the model's own numbers,
checked against independent computations on a trained model."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from playground import paths
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.core.corpus import load_builtin
from playground.core.events import Finished
from playground.core.tokenizers import train_tokenizer
from playground.core.train import Trainer
from playground.gui.state import AppState

WAIT_MS = 60_000
TEXT = "abcd|abcd|abcd\nxyz|xyz|"


def train_run(home, name: str, cfg_kw: dict, iters: int):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        corpus = load_builtin("copy-lessons")
        tok = train_tokenizer("char", corpus.text)
        cfg = ModelConfig(vocab_size=tok.vocab_size, **cfg_kw).for_vocab(tok.vocab_size)
        train = TrainConfig(iters=iters, batch_size=8, lr=3e-3, warmup=5, eval_interval=iters, eval_iters=2,
                            sample_tokens=0, device="cpu")
        run = Run.create(name, cfg, train, corpus.record(), tok)
        assert isinstance(list(Trainer(run, corpus).run())[-1], Finished)
        return run.path


@pytest.fixture(scope="module")
def trained_folder(tmp_path_factory):
    """A 2-layer model trained 40 steps on copy-lessons (made once for this module)."""
    return train_run(tmp_path_factory.mktemp("forward-home"), "tiny-forward",
                     {"context_length": 24, "n_layer": 2, "n_head": 2, "d_model": 32}, 40)


def open_tab(qtbot, folder):
    from playground.gui.tabs.attention_tab import AttentionTab

    shutil.copytree(folder, paths.runs_dir() / folder.name)
    tab = AttentionTab(AppState())
    qtbot.addWidget(tab)
    tab.resize(1200, 860)
    tab.show()
    wait_shown(qtbot, tab)
    return tab


@pytest.fixture
def tab(qtbot, trained_folder, playground_home):
    tab = open_tab(qtbot, trained_folder)
    yield tab
    tab.shutdown()


def wait_shown(qtbot, tab):
    qtbot.waitUntil(lambda: not tab.busy and tab.shown_key is not None
                    and tab.shown_key == tab.current_key(), timeout=WAIT_MS)


def show(qtbot, tab, view: str):
    tab.set_text(TEXT)
    tab.views.setCurrentIndex(tab.view_names.index(view))
    wait_shown(qtbot, tab)


def model_pass(tab):
    model = tab.run.load_model(tab.step)
    with torch.no_grad():
        return model, model(torch.tensor([tab.ids]), capture=True)


def ln(module, x):
    x = torch.as_tensor(x, dtype=torch.float32)
    return F.layer_norm(x, (x.shape[-1],), module.weight.detach(), module.bias.detach(), module.eps)


def curve(curves: dict, prefix: str) -> np.ndarray:
    name = next(n for n in curves if n.startswith(prefix))
    return np.asarray(curves[name].getData()[1])


def click_token(view, index: int, qtbot):
    rect = view._rects[index]
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())


def test_math_steps_after_the_heads_are_the_models_numbers(tab, qtbot):
    show(qtbot, tab, "The math")
    mv, fw = tab.math_view, tab.math_view.forward
    q = 6
    click_token(mv.tokens, q, qtbot)
    assert tab.query == q and fw.position == q
    model, result = model_pass(tab)
    hidden = result.hidden.numpy()  # (L + 1, T, C)
    block = model.blocks[0]

    # step 0: the token's row of the table plus its position is what block 1 reads
    ids = tab.ids
    np.testing.assert_allclose(curve(fw.embed_curves, "token"), model.wte.weight[ids[q]].detach(), atol=1e-6)
    np.testing.assert_allclose(curve(fw.embed_curves, "sum"), hidden[0, q], atol=1e-6)
    assert fw.onehot_bars.opts["x"] == [ids[q]]
    assert f"token id <b>{ids[q]}</b>" in fw.step_embed.sentence.text()
    # residual add: before = the captured stream, after = before + attention output, one chart
    before, attn, after = (curve(fw.residual_curves, p) for p in ("stream before", "attention", "stream after"))
    np.testing.assert_allclose(before, hidden[0, q], atol=1e-6)
    np.testing.assert_allclose(after, before + attn, atol=1e-5)
    assert len(fw.residual_curves) == 3
    # LayerNorm 2 against torch's layer_norm on the stream it reads
    expected_ln = ln(block.ln_2, after)  # (C,)
    np.testing.assert_allclose(curve(fw.ln_curves, "after"), expected_ln.numpy(), atol=1e-5)
    assert f"mean {after.mean():.3f}" in fw.step_ln.sentence.text()
    # GELU: the dots are (pre, gelu(pre)); the MLP's output is the module's; the stream is the next hidden
    pre, post = (np.array(a, dtype=np.float32) for a in fw.act_points.getData())
    np.testing.assert_allclose(post, F.gelu(torch.tensor(pre)).numpy(), atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(pre, block.mlp.c_fc(expected_ln).numpy(), atol=1e-5)
        mlp_out = block.mlp(expected_ln).numpy()
    np.testing.assert_allclose(curve(fw.mlp_curves, "MLP output"), mlp_out, atol=1e-5)
    np.testing.assert_allclose(curve(fw.mlp_curves, "stream after"), hidden[1, q], atol=1e-5)
    off = int((np.abs(post) < 0.05).sum())
    assert f"{off} of {len(pre)}</b> are switched off" in fw.step_act.sentence.text()
    # logits and probabilities: the model's own output at this position
    logits = result.logits[0, q]  # (V,)
    top = logits.topk(10)
    np.testing.assert_allclose(fw.logit_bars.opts["height"], top.values.numpy(), atol=1e-5)
    np.testing.assert_allclose(fw.prob_bars.opts["height"], torch.softmax(logits, -1).topk(10).values, atol=1e-6)
    ticks = [t for _x, t in tab.math_view.forward.logits_plot.getAxis("bottom")._tickLevels[0]]
    assert ticks == [f"`{tab.tokenizer.token_label(int(i))}`" for i in top.indices]
    # the loss of this token is the cross-entropy of its true next token
    loss = F.cross_entropy(logits[None], torch.tensor([ids[q + 1]])).item()
    assert f"<b>{loss:.3f}</b>" in fw.step_loss.sentence.text()
    assert fw.loss_point.getData()[1][0] == pytest.approx(min(loss, 6.0), abs=1e-5)

    # Another layer: steps 9-13 follow the head's layer.
    tab.select_head(1, 0)
    wait_shown(qtbot, tab)
    assert fw.position == q
    np.testing.assert_allclose(curve(fw.residual_curves, "stream before"), hidden[1, q], atol=1e-6)
    np.testing.assert_allclose(curve(fw.mlp_curves, "stream after"), hidden[2, q], atol=1e-5)
    # The last token has no next token: no loss.
    click_token(mv.tokens, len(ids) - 1, qtbot)
    assert fw.loss_point is None and "no loss" in fw.step_loss.sentence.text()


def test_logit_lens_table_rows_are_each_layers_prediction(tab, qtbot):
    show(qtbot, tab, "Logit lens")
    view = tab.lens_view
    q = 4
    click_token(view.tokens, q, qtbot)
    assert tab.query == q and view.position == q
    model, result = model_pass(tab)
    L = model.config.n_layer
    assert view.table.rowCount() == L + 1 and view.table.columnCount() == 6
    label = tab.tokenizer.token_label
    # last row: the model's real output
    real = torch.softmax(result.logits[0, q], -1).topk(5)
    assert [view.cell_text(L, c) for c in range(5)] == [
        f"`{label(int(i))}`  {float(p):.1%}" for i, p in zip(real.indices, real.values, strict=True)]
    # first row: ln_f and the unembedding on the embedding alone, by hand
    with torch.no_grad():
        p0 = torch.softmax(ln(model.ln_f, result.hidden[0, q]) @ model.lm_head.weight.T, -1)  # (V,)
    first = p0.topk(5)
    assert [view.cell_text(0, c) for c in range(5)] == [
        f"`{label(int(i))}`  {float(p):.1%}" for i, p in zip(first.indices, first.values, strict=True)]
    assert view.cell_text(0, 5) == f"{float(p0[tab.ids[q + 1]]):.1%}"
    # the heatmap: p(true next) per layer and position; the last column has no next token
    img = view.image.image
    assert img.shape == (L + 1, len(tab.ids))
    true_p = torch.softmax(result.logits[0, :-1], -1)[torch.arange(len(tab.ids) - 1), tab.ids[1:]]
    np.testing.assert_allclose(img[L, :-1], true_p.numpy(), atol=1e-6)
    # the clicked token is the math's query too
    tab.views.setCurrentIndex(tab.view_names.index("The math"))
    wait_shown(qtbot, tab)
    assert tab.math_view.query == q and tab.math_view.forward.position == q


class Recorder(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.contexts = []

    def show_context(self, ctx) -> None:
        self.contexts.append(ctx)


def test_an_added_view_is_told_what_is_shown(tab, qtbot):
    extra = Recorder()
    tab.add_view("Probe", extra, "a test view")
    assert tab.view_names[-1] == "Probe" and tab.views.tabText(tab.views.count() - 1) == "Probe"
    show(qtbot, tab, "Probe")
    ctx = extra.contexts[-1]
    assert (ctx.run_path, ctx.step, ctx.ids) == (str(tab.run.path), tab.step, tuple(tab.ids))
    assert ctx.labels == tuple(tab.labels) and ctx.arch == "gpt"
    assert ctx.head_labels == tuple(tuple(layer) for layer in tab.captures[tab.current_key()].head_labels)
    n = len(extra.contexts)
    tab.select_head(1, 1)
    wait_shown(qtbot, tab)
    tab._query_picked(3)
    assert (extra.contexts[-1].layer, extra.contexts[-1].head, extra.contexts[-1].query) == (1, 1, 3)
    assert len(extra.contexts) == n + 2  # told once per change, not once per redraw
    tab.views.setCurrentIndex(0)
    tab._query_picked(2)
    assert len(extra.contexts) == n + 2  # off screen: not told


def test_bigram_run_says_it_has_no_blocks(qtbot, tmp_path_factory, playground_home):
    folder = train_run(tmp_path_factory.mktemp("bigram-home"), "tiny-bigram",
                       {"arch": "bigram", "context_length": 24}, 10)
    tab = open_tab(qtbot, folder)
    try:
        names = tab.view_names
        for view in ("The math", "Logit lens", "Grid"):
            assert not tab.views.isTabEnabled(names.index(view))
        assert tab.views.isTabEnabled(names.index("Embeddings")) and tab.current_view() == "Embeddings"
        assert "no blocks" in tab.head_info.text() and "logit lens" in tab.head_info.text()
    finally:
        tab.shutdown()


def test_the_tab_has_the_switch_off_view(tab, qtbot):
    """The ablation view is one of the tab's views and is told what the tab shows."""
    assert "Switch off" in tab.view_names
    show(qtbot, tab, "Switch off")
    qtbot.waitUntil(lambda: tab.ablation_view.ids == list(tab.ids), timeout=30_000)
    assert tab.ablation_view.run_path == str(tab.run.path) and tab.ablation_view.head_boxes
