"""Model tab: the numbers are the core's, invalid or too-big configs are never published."""

from __future__ import annotations

import multiprocessing

import pytest

from playground.core import model as mm
from playground.core import tokenizers as tk
from playground.errors import ModelError

TEXT = "Anna sees the red ball. The cats chase a small mouse.\nBen runs to the tree.\n" * 20


@pytest.fixture
def state(qtbot):
    from playground.gui.state import AppState

    st = AppState()
    st.set_tokenizer(tk.CharTokenizer.train(TEXT))
    return st


@pytest.fixture
def make_tab(qtbot):
    from playground.gui import workers
    from playground.gui.tabs.model_tab import ModelTab

    tabs = []

    def make(state):
        tab = ModelTab(state)
        qtbot.addWidget(tab)
        tab.resize(1200, 700)
        tab.show()
        qtbot.waitUntil(lambda: tab.ready and not tab.busy, timeout=60_000)
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.shutdown()
        workers.shutdown(tab)


def set_custom(tab, *, layers, heads, width, context, positional="learned", activation="gelu",
               tied=False, bias=True, dropout=0.0):
    tab.layers_spin.setValue(layers)
    tab.heads_spin.setValue(heads)
    tab.dmodel_spin.setValue(width)
    tab.context_spin.setValue(context)
    tab.dropout_spin.setValue(dropout)
    tab.positional_combo.setCurrentIndex(tab.positional_combo.findData(positional))
    tab.activation_combo.setCurrentIndex(tab.activation_combo.findData(activation))
    tab.tied_check.setChecked(tied)
    tab.bias_check.setChecked(bias)


def table_total(tab) -> int:
    return int(tab.param_table.item(tab.param_table.rowCount() - 1, 1).text().replace(",", ""))


def test_starts_on_tiny_and_publishes_it(state, make_tab):
    tab = make_tab(state)
    vocab = state.tokenizer.vocab_size
    assert tab.preset_combo.currentText() == "Tiny"
    assert state.model_config == mm.preset("tiny", vocab)
    assert tab.status_label.text().startswith("✓")
    assert f"Vocabulary: {vocab:,} tokens" in tab.vocab_label.text()


@pytest.mark.parametrize("which", ["small", "custom"])
def test_breakdown_adds_up_to_the_built_model(state, make_tab, which):
    tab = make_tab(state)
    vocab = state.tokenizer.vocab_size
    if which == "small":
        tab.select_preset("small")
        expected_cfg = mm.preset("small", vocab)
    else:
        set_custom(tab, layers=3, heads=3, width=48, context=32, positional="sinusoidal",
                   activation="relu", tied=True, bias=False, dropout=0.1)
        assert tab.preset_combo.currentText() == "Custom"
        expected_cfg = mm.ModelConfig(vocab_size=vocab, context_length=32, n_layer=3, n_head=3,
                                      d_model=48, dropout=0.1, positional="sinusoidal",
                                      activation="relu", tie_weights=True, bias=False)
    assert state.model_config == expected_cfg
    model = mm.build_model(state.model_config)
    n_params = sum(p.numel() for p in model.parameters())
    assert sum(tab.breakdown.values()) == n_params == table_total(tab)
    assert tab.params_box.title() == f"Parameters: {n_params:,}"
    # Part by part against the modules themselves.
    blocks = model.blocks
    assert tab.breakdown["embeddings"] == model.wte.weight.numel()
    assert tab.breakdown["attention"] == sum(p.numel() for b in blocks for p in b.attn.parameters())
    assert tab.breakdown["mlp"] == sum(p.numel() for b in blocks for p in b.mlp.parameters())
    norms = [b.ln_1 for b in blocks] + [b.ln_2 for b in blocks] + [model.ln_f]
    assert tab.breakdown["norms"] == sum(p.numel() for n in norms for p in n.parameters())
    if which == "custom":
        assert tab.breakdown["positions"] == 0 and tab.breakdown["unembedding"] == 0
    else:
        assert tab.breakdown["positions"] == model.wpe.weight.numel()
        assert tab.breakdown["unembedding"] == model.lm_head.weight.numel()
    assert tab.chart.values == [tab.breakdown[p] for p in
                                ("embeddings", "positions", "attention", "mlp", "norms", "unembedding")]


def test_heads_that_do_not_divide_the_width_are_refused_with_the_reason(state, make_tab, qtbot):
    tab = make_tab(state)
    before = state.model_config
    assert (before.n_head, before.d_model) == (2, 64)
    published = []
    state.modelConfigChanged.connect(published.append)
    tab.heads_spin.setValue(5)  # 64 / 5 is not a whole number
    assert tab.dmodel_error_row.isVisibleTo(tab)
    assert "must divide evenly among the 5 heads" in tab.dmodel_error.text()
    assert "multiple of 5" in tab.dmodel_error.text()
    assert published == [] and state.model_config is before
    assert tab.status_label.text().startswith("✗ Not used")
    assert "keeps the last valid model" in tab.status_label.text()
    assert not tab.measure_button.isEnabled()
    assert tab.diagram.layer_blocks() == 0  # no diagram of an impossible model
    tab.fix_button.click()  # nearest multiple of 5
    assert tab.dmodel_spin.value() == 65
    assert not tab.dmodel_error_row.isVisibleTo(tab)
    assert (state.model_config.n_head, state.model_config.d_model) == (5, 65)
    assert published == [state.model_config]


def test_diagram_has_one_block_per_layer_and_shapes_for_the_config(state, make_tab):
    tab = make_tab(state)
    vocab = state.tokenizer.vocab_size
    set_custom(tab, layers=3, heads=4, width=48, context=32)
    diagram = tab.diagram
    assert diagram.layer_blocks() == 3
    attention = diagram.box_tooltip("attention", layer=2)
    assert "(batch, 32, 48)" in attention  # the residual stream: (batch, T, d_model)
    assert "(batch, 4, 32, 32)" in attention  # the attention weights: (batch, heads, T, T)
    assert "(batch, 4, 32, 12)" in attention  # q, k, v per head: d_model / heads = 12
    assert "(batch, 32, 192)" in diagram.box_tooltip("mlp", layer=0)  # 4 × d_model inside
    for name in ("ln1", "ln2", "residual1", "residual2"):
        assert "(batch, 32, 48)" in diagram.box_tooltip(name, layer=1)
    assert "(batch, 32)" in diagram.box_tooltip("tokens")
    assert f"(batch, 32, {vocab})" in diagram.box_tooltip("unembedding")
    assert f"(batch, 32, {vocab})" in diagram.box_tooltip("softmax")
    with pytest.raises(KeyError):
        diagram.box("attention", layer=3)
    # Hovering really shows that text: the view answers a tooltip event at the box.
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    box = diagram.box("attention", layer=0)
    at = diagram.mapFromScene(box.sceneBoundingRect().center())
    QApplication.sendEvent(diagram.viewport(),
                           QHelpEvent(QEvent.ToolTip, at, diagram.viewport().mapToGlobal(at)))
    assert QToolTip.isVisible() and QToolTip.text() == diagram.box_tooltip("attention", layer=0)
    QToolTip.hideText()
    tab.layers_spin.setValue(12)
    assert diagram.layer_blocks() == 12
    assert "block 12" in diagram.box_tooltip("attention", layer=11)
    tab.select_preset("bigram")
    assert diagram.layer_blocks() == 0
    assert f"(batch, 64, {vocab})" in diagram.box_tooltip("table")


def test_set_config_shows_a_run_config(state, make_tab):
    tab = make_tab(state)
    vocab = state.tokenizer.vocab_size
    cfg = mm.ModelConfig(vocab_size=vocab, context_length=48, n_layer=2, n_head=4, d_model=32,
                         positional="sinusoidal", bias=False)
    tab.set_config(cfg)
    assert tab.preset_combo.currentText() == "Custom"
    assert state.model_config == cfg and tab.diagram.layer_blocks() == 2
    tab.set_config(mm.preset("medium", vocab))
    assert tab.preset_combo.currentText() == "Medium"
    assert state.model_config == mm.preset("medium", vocab)


def test_too_big_config_is_refused_with_numbers(state, make_tab, monkeypatch):
    tab = make_tab(state)
    tiny = state.model_config
    free = 40_000_000  # pretend only 40 MB are free
    monkeypatch.setattr(mm, "available_memory", lambda device=None: free)
    tab.select_preset("small")  # needs ~57 MB at batch 12
    cfg = mm.preset("small", state.tokenizer.vocab_size)
    with pytest.raises(ModelError) as refused:
        mm.check_fits(cfg, 12)
    text = tab.memory_label.text()
    assert "Too big for this computer" in text
    assert refused.value.message in text  # "needs about 57 MB ... only 40 MB of memory is free"
    assert "40 MB" in text and f"{mm.memory_estimate(cfg, 12) / 1e6:.0f} MB" in text
    assert state.model_config is tiny
    assert tab.status_label.text().startswith("✗ Not used: too big")
    assert not tab.measure_button.isEnabled()
    tab.batch_spin.setValue(1)  # a smaller batch fits: now it is published
    assert mm.memory_estimate(cfg, 1) < free
    assert state.model_config == cfg
    assert tab.status_label.text().startswith("✓")


def test_without_a_tokenizer_it_asks_for_one(make_tab, qtbot):
    from playground.gui.state import AppState

    state = AppState()
    tab = make_tab(state)
    assert "Pick a tokenizer first" in tab.vocab_label.text()
    assert tab.tokenizer_button.isVisibleTo(tab)
    assert state.model_config is None
    with qtbot.waitSignal(tab.requestTab, timeout=1000) as blocker:
        tab.tokenizer_button.click()
    assert blocker.args == ["Tokenizer"]
    # A tokenizer arrives, then changes: the config follows its vocabulary.
    char = tk.CharTokenizer.train(TEXT)
    state.set_tokenizer(char)
    assert state.model_config == mm.preset("tiny", char.vocab_size)
    word = tk.WordTokenizer.train(TEXT)
    state.set_tokenizer(word)
    assert state.model_config == mm.preset("tiny", word.vocab_size)
    assert not tab.tokenizer_button.isVisibleTo(tab)


def test_measure_reports_a_positive_time_and_stops_cleanly(state, make_tab, qtbot):
    tab = make_tab(state)
    set_custom(tab, layers=1, heads=2, width=32, context=16)
    tab.batch_spin.setValue(4)
    cfg = tab.cfg
    tab.measure_button.click()
    assert tab.busy and tab.cancel_button.isVisibleTo(tab)
    qtbot.waitUntil(lambda: not tab.busy, timeout=120_000)
    result = tab.timings[(cfg, 4)]
    assert result["ms_median"] > 0 and len(result["ms_steps"]) == 5
    assert result["tokens_per_s"] == pytest.approx(4 * 16 / (result["ms_median"] / 1000))
    assert f"{result['ms_median']:,.0f} ms per step" in tab.measure_label.text()
    assert not tab.cancel_button.isVisibleTo(tab)
    assert multiprocessing.active_children() == []


def test_measure_can_be_cancelled(state, make_tab, qtbot):
    tab = make_tab(state)
    tab.measure_button.click()
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: not tab.busy, timeout=60_000)
    assert tab.measure_label.text() == "Measuring cancelled."
    assert tab.measure_button.isEnabled()
    assert multiprocessing.active_children() == []
