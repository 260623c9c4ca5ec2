"""Issue 16 in the window: choose an encoder–decoder on the Model tab, see its three kinds of attention
on the Attention tab, and watch it translate on the Generate tab (one tiny run, trained once)."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from PySide6.QtGui import QImage

from playground import paths
from playground.core import config
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, SamplingConfig, TrainConfig
from playground.core.corpus import load_builtin
from playground.core.events import Finished
from playground.core.model import build_model
from playground.core.tokenizers import train_tokenizer
from playground.core.train import Trainer
from playground.gui.state import AppState

WAIT_MS = 60_000
SOURCE = "kqzpt"


@pytest.fixture(scope="session")
def seq2seq_folder(tmp_path_factory):
    """A 1-layer encoder–decoder trained for 40 steps on reverse-word (made once per session)."""
    home = tmp_path_factory.mktemp("seq2seq-home")
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLAYGROUND_HOME", str(home))
        torch.set_num_threads(1)  # a tiny model: one thread is faster and leaves the other core alone
        corpus = load_builtin("reverse-word")
        tok = train_tokenizer("char", corpus.text)
        cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=12, n_layer=1, n_head=2, d_model=32,
                          arch=config.ENCODER_DECODER)
        train = TrainConfig(iters=40, batch_size=16, lr=3e-3, warmup=5, eval_interval=40, eval_iters=2,
                            sample_tokens=8, device="cpu")
        run = Run.create("tiny-seq2seq", cfg, train, corpus.record(), tok)
        try:
            events = list(Trainer(run, corpus).run())
        finally:
            torch.set_num_threads(threads)  # other tests read the thread count (the device's description)
        assert isinstance(events[-1], Finished)
        return run.path


@pytest.fixture
def run(seq2seq_folder, playground_home):
    shutil.copytree(seq2seq_folder, paths.runs_dir() / seq2seq_folder.name)
    return Run.open(seq2seq_folder.name)


@pytest.fixture
def known_device(monkeypatch):
    """The Model tab's device facts without the probe's child process."""
    from playground.gui import device_probe

    monkeypatch.setattr(device_probe, "_cached", device_probe.DeviceInfo("cpu", "test CPU", 16 << 30))


# ============================================================================ the Model tab
@pytest.fixture
def model_tab(qtbot, known_device):
    from playground.gui import workers
    from playground.gui.tabs.model_tab import ModelTab

    state = AppState()
    state.set_tokenizer(train_tokenizer("char", load_builtin("reverse-word").text))
    tab = ModelTab(state)
    qtbot.addWidget(tab)
    tab.resize(1200, 700)
    tab.show()
    yield tab
    tab.shutdown()
    workers.shutdown(tab)


def test_model_tab_choice_numbers_and_both_stacks_in_the_diagram(model_tab):
    tab = model_tab
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData(config.ENCODER_DECODER))
    cfg = tab.cfg
    assert cfg.is_encoder_decoder and tab.state.model_config == cfg
    assert cfg == replace(config.preset("tiny", cfg.vocab_size), arch=config.ENCODER_DECODER)
    built = sum(p.numel() for p in build_model(cfg).parameters())
    assert tab.params.total() == config.param_count(cfg) == built
    gpt_total = config.param_count(replace(cfg, arch="gpt"))
    assert built > gpt_total  # a second stack and cross-attention
    attention_tip = tab.params.table.item(2, 0).toolTip()
    cross = config.attention_breakdown(cfg)["cross-attention"]
    assert f"cross-attention {cross:,}" in attention_tip
    d = tab.diagram
    assert d.layer_blocks() == 2 * cfg.n_layer and d.cross_arrows == cfg.n_layer
    names = set(d.box_names())
    for layer in range(cfg.n_layer):
        assert {("enc_attention", layer), ("dec_attention", layer), ("cross_attention", layer)} <= names
    assert "no mask" in d.box_tooltip("enc_attention", 0)
    assert "keys and values" in d.box_tooltip("cross_attention", 0)
    assert "Encoder–decoder" in tab.status_label.text()
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("gpt"))  # back: a GPT, drawn as one stack
    assert not tab.cfg.is_encoder_decoder and d.layer_blocks() == tab.cfg.n_layer and d.cross_arrows == 0


def test_model_tab_picks_the_kind_the_corpus_needs_and_refuses_the_other(model_tab):
    tab, state = model_tab, model_tab.state
    state.set_corpus(load_builtin("reverse-word"))  # sentence pairs: Encoder–decoder is chosen
    assert tab.arch_combo.currentData() == config.ENCODER_DECODER
    assert state.model_config.is_encoder_decoder
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData("gpt"))
    assert tab.problem is not None and "sentence pairs" in tab.status_label.text()
    assert "Not used" in tab.status_label.text()
    assert state.model_config.is_encoder_decoder  # the Train tab keeps the last model that can learn
    state.set_corpus(load_builtin("copy-lessons"))  # an ordinary text: back to a GPT
    assert tab.arch_combo.currentData() == "gpt" and not state.model_config.is_encoder_decoder
    tab.arch_combo.setCurrentIndex(tab.arch_combo.findData(config.ENCODER_DECODER))
    assert "ordinary text" in tab.status_label.text() and not state.model_config.is_encoder_decoder


# ============================================================================ the Attention tab
def test_attention_tab_shows_the_three_kinds_with_their_shapes(qtbot, run, tmp_path):
    from playground.core.model_cache import MODELS
    from playground.core.seq2seq_views import head_row
    from playground.core.translate import pair_attention
    from playground.gui.tabs.attention_seq2seq import GPT_ONLY
    from playground.gui.tabs.attention_tab import AttentionTab

    tab = AttentionTab(AppState())
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    tab.show()
    panel = tab.seq2seq
    qtbot.waitUntil(lambda: tab.run is not None and panel.current() is not None and not panel.busy, timeout=WAIT_MS)
    assert panel.pages.currentWidget() is panel  # the GPT views are out of sight
    assert tab.ids == []  # ...and compute nothing for this run
    panel.set_text(SOURCE)
    qtbot.waitUntil(lambda: panel.current() is not None and panel.current().source == SOURCE, timeout=WAIT_MS)
    views = panel.current()
    loaded = MODELS.get(run.path, None)
    expected = pair_attention(loaded.model, loaded.tokenizer, SOURCE)
    S, T = len(SOURCE), len(expected.target_labels)
    assert views.target == expected.target and T == len(views.target) + 1

    panel.set_kind("encoder")
    enc = panel.grid.image_data(0, 1)
    assert enc.shape == (S, S) and not np.isnan(enc).any()
    assert np.triu(enc, k=1).sum() > 0.05  # no mask: a token attends to tokens after it
    np.testing.assert_allclose(enc, expected.encoder[0, 1].numpy(), atol=1e-5)

    panel.set_kind("decoder")
    dec = panel.grid.image_data(0, 0)
    assert dec.shape == (T, T) and np.isnan(dec[np.triu_indices(T, k=1)]).all()  # the future is grey

    panel.set_kind("cross")
    cross = panel.grid.image_data(0, 0)
    assert cross.shape == (T, S)  # target tokens × source tokens
    np.testing.assert_allclose(cross, expected.cross[0, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(cross.sum(axis=1), 1.0, atol=1e-5)
    assert panel.head_view.axis_labels("top") == list(SOURCE)
    assert panel.head_view.axis_labels("left") == expected.target_labels

    panel._query_picked(1)  # a row clicked: its math
    row = head_row(views, "cross", 0, panel.head, 1)
    np.testing.assert_allclose(row.weights.numpy(), expected.cross[0, panel.head, 1].numpy(), atol=1e-5)
    assert panel.math.table.rowCount() == S
    assert float(panel.math.table.item(0, 4).text()) == pytest.approx(float(row.weights[0]), abs=1e-3)

    panel.set_text(f"{SOURCE}\ttpz")  # a target of one's own, after a tab
    qtbot.waitUntil(lambda: panel.current() is not None and not panel.busy, timeout=WAIT_MS)
    typed = panel.current()
    assert typed.typed_target and typed.target == "tpz" and panel.grid.image_data(0, 0).shape == (4, S)
    assert "the target you typed" in panel.note.text()

    for title in GPT_ONLY:  # the GPT-only views say so in words
        assert "for GPT runs" in panel.gpt_only[title].text()
    assert "for GPT runs" in panel.math.gpt_note.text()
    panel.views.setCurrentIndex(1)
    picture = QImage(str(tab.export_png(tmp_path / "head.png")))  # Ctrl+E saves the panel's view
    assert picture.width() == panel.head_view.width() and picture.height() == panel.head_view.height()
    tab.shutdown()


# ============================================================================ the Generate tab
def test_generate_tab_translates_and_highlights_the_source(qtbot, run):
    from playground.core.model_cache import MODELS
    from playground.core.translate import translation_steps
    from playground.gui.tabs.generate.tab import SCORE, TRANSLATE, WRITE, GenerateTab

    tab = GenerateTab(AppState())
    qtbot.addWidget(tab)
    tab.resize(1200, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.run is not None and not tab.busy, timeout=WAIT_MS)
    assert tab.pages.currentIndex() == TRANSLATE and tab.pages.isTabEnabled(TRANSLATE)
    for page in (WRITE, SCORE):
        assert not tab.pages.isTabEnabled(page) and "for GPT runs" in tab.pages.tabToolTip(page)
    page = tab.translate_page
    assert page.source.toPlainText()  # a validation source is offered
    tab.form.greedy.setChecked(True)
    page.source.setPlainText(SOURCE)
    with qtbot.waitSignal(page.tokensShown, timeout=WAIT_MS):
        tab._shortcut_generate()  # Ctrl+Enter on the Translate page
    qtbot.waitUntil(lambda: not tab.busy, timeout=WAIT_MS)

    loaded = MODELS.get(run.path, None)
    steps = list(translation_steps(loaded.model, loaded.tokenizer, SOURCE,
                                   SamplingConfig(greedy=True, max_new_tokens=tab.form.max_tokens.value()),
                                   capture_attention=True))
    assert [s.id for s in page.steps] == [s.id for s in steps]
    assert page.translation() == "".join(s.text for s in steps)
    assert page.view.ids == [s.id for s in steps]
    newest = steps[-1].cross_attention[-1].mean(dim=0)  # (S,) last layer, heads averaged
    shading = page.source_shading()
    assert len(shading) == len(SOURCE) and max(shading) == 1.0
    assert shading.index(1.0) == int(newest.argmax())
    np.testing.assert_allclose(np.array(shading) * float(newest.max()), newest.numpy(), atol=1e-5)
    assert page.source_view.values == pytest.approx(shading)
    assert page.chart.chosen == steps[-1].id  # the bars of the newest token
    page.view.tokenClicked.emit(0)  # the first output token: where it read
    first = steps[0].cross_attention[-1].mean(dim=0)
    assert page.source_shading().index(1.0) == int(first.argmax())
    assert page.chart.chosen == steps[0].id
    tab.shutdown()


# ============================================================================ the Tokenizer tab
def test_pair_corpus_shows_source_and_target_vocabularies(qtbot):
    from playground.core.pairs import parse_pairs, side_vocabularies
    from playground.gui.widgets.pair_vocab import PairVocabLabel

    corpus = load_builtin("sort-letters")
    tok = train_tokenizer("char", corpus.text)
    label = PairVocabLabel()
    qtbot.addWidget(label)
    label.show_for(tok, corpus)
    qtbot.waitUntil(lambda: label.sides is not None, timeout=WAIT_MS)
    src, tgt = side_vocabularies(tok, parse_pairs(corpus.text))
    assert label.sides == (src, tgt)
    assert f"the sources use <b>{len(src)}</b>" in label.text() and f"the targets <b>{len(tgt)}</b>" in label.text()
    label.show_for(tok, load_builtin("copy-lessons"))  # an ordinary text: no such line
    assert label.isHidden() and label.sides is None
