"""Model tab: the numbers are the core's, invalid or too-big configs are never published."""

from __future__ import annotations

import multiprocessing
import os
import threading

import pytest

from playground.core import config
from playground.core import model as mm
from playground.core import tokenizers as tk

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


def test_starts_on_tiny_and_publishes_it(state, make_tab):
    tab = make_tab(state)
    vocab = state.tokenizer.vocab_size
    assert tab.preset_combo.currentText() == "Tiny"
    assert state.model_config == config.preset("tiny", vocab)
    assert tab.status_label.text().startswith("✓")
    assert tab.vocab_label.text() == f"Vocabulary: {vocab:,} tokens, set by the tokenizer (Characters)."


def test_nothing_is_published_before_the_device_is_known(state, qtbot, monkeypatch):
    """The fit check needs the device's memory: until the probe answers, no config goes out."""
    from playground.gui import device_probe, workers
    from playground.gui.tabs.model_tab import ModelTab

    answer = threading.Event()
    info = device_probe.DeviceInfo("cpu", "CPU · test", None)

    def slow_probe(progress=None, cancel=None):
        answer.wait(30)
        return info

    monkeypatch.setattr(device_probe, "_cached", None)
    monkeypatch.setattr(device_probe, "probe", slow_probe)
    tab = ModelTab(state)
    qtbot.addWidget(tab)
    try:
        assert tab.busy and not tab.ready
        assert state.model_config is None
        assert tab.status_label.text().startswith("Checking which device")
        assert tab.params.total() == config.param_count(config.preset("tiny", state.tokenizer.vocab_size))
        assert not tab.measure_button.isEnabled()
        answer.set()
        qtbot.waitUntil(lambda: tab.ready and not tab.busy, timeout=10_000)
        assert tab.device is info
        assert state.model_config == config.preset("tiny", state.tokenizer.vocab_size)
        assert "(CPU · test)" in tab.memory_label.text()
    finally:
        answer.set()
        tab.shutdown()
        workers.shutdown(tab)


def test_the_gui_process_never_asks_torch_about_the_device(state, make_tab, monkeypatch):
    """pick_device & co. may create a CUDA context: they run in a child process, never here."""
    from playground.core import devices
    from playground.gui import device_probe

    calls = []
    for name in ("pick_device", "device_description", "available_memory", "check_fits"):
        real = getattr(devices, name)
        monkeypatch.setattr(devices, name, lambda *a, _real=real, _name=name, **k:
                            calls.append(_name) or _real(*a, **k))
    monkeypatch.setattr(device_probe, "_cached", None)  # a fresh probe, in a child process
    tab = make_tab(state)
    assert state.model_config == config.preset("tiny", state.tokenizer.vocab_size)
    assert calls == []
    device = devices.pick_device()
    assert tab.device.kind == device.type
    assert tab.device.description == devices.device_description(device)
    assert f"({tab.device.description})" in tab.memory_label.text()
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("which", ["small", "custom"])
def test_breakdown_adds_up_to_the_built_model(state, make_tab, which):
    tab = make_tab(state)
    vocab = state.tokenizer.vocab_size
    if which == "small":
        tab.select_preset("small")
        expected_cfg = config.preset("small", vocab)
    else:
        set_custom(tab, layers=3, heads=3, width=48, context=32, positional="sinusoidal",
                   activation="relu", tied=True, bias=False, dropout=0.1)
        assert tab.preset_combo.currentText() == "Custom"
        expected_cfg = config.ModelConfig(vocab_size=vocab, context_length=32, n_layer=3, n_head=3,
                                      d_model=48, dropout=0.1, positional="sinusoidal",
                                      activation="relu", tie_weights=True, bias=False)
    assert state.model_config == expected_cfg
    model = mm.build_model(state.model_config)
    n_params = sum(p.numel() for p in model.parameters())
    assert sum(tab.breakdown.values()) == n_params == tab.params.total()
    assert tab.params.title() == f"Parameters: {n_params:,}"
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
    assert tab.params.chart.values == [tab.breakdown[p] for p in
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
    assert tab.params.total() is None and tab.params.title() == "Parameters"
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
    cfg = config.ModelConfig(vocab_size=vocab, context_length=48, n_layer=2, n_head=4, d_model=32,
                             positional="sinusoidal", bias=False)
    tab.set_config(cfg)
    assert tab.preset_combo.currentText() == "Custom"
    assert state.model_config == cfg and tab.diagram.layer_blocks() == 2
    tab.set_config(config.preset("medium", vocab))
    assert tab.preset_combo.currentText() == "Medium"
    assert state.model_config == config.preset("medium", vocab)
    tab.set_config(config.preset("bigram", vocab))  # d_model follows the vocabulary
    assert tab.preset_combo.currentText() == "Bigram"
    assert state.model_config == config.preset("bigram", vocab)
    assert state.model_config.d_model == vocab


def test_too_big_config_is_refused_with_numbers(state, make_tab, monkeypatch):
    from playground.gui import device_probe
    from playground.gui.ui import format_bytes

    state.set_batch_size(12)  # the one batch size of the app (the Train tab's too)
    tab = make_tab(state)
    assert tab.batch_spin.value() == 12
    tiny = state.model_config
    free = 40_000_000  # pretend only 40 MB are free
    monkeypatch.setattr(device_probe, "free_memory", lambda info: free)
    tab.select_preset("small")  # needs ~57 MB at batch 12
    cfg = config.preset("small", state.tokenizer.vocab_size)
    needed = config.memory_estimate(cfg, 12)
    assert needed > free
    text = tab.memory_label.text()
    assert "Too big for this computer" in text
    # The one fit rule's words (config.memory_problem, also raised by devices.check_fits)
    assert (f"needs about 57 MB to train with batch size 12, but only 40 MB of memory is free "
            f"({config.param_count(cfg):,} parameters)") in text
    assert state.model_config is tiny
    assert tab.status_label.text() == (
        f"✗ Not used: too big for this computer (needs about {format_bytes(needed)}, "
        f"{format_bytes(free)} free). The Train tab keeps the last valid model "
        f"({tab.describe(tiny)}).")
    assert not tab.measure_button.isEnabled()
    tab.batch_spin.setValue(1)  # a smaller batch fits: now it is published
    assert config.memory_estimate(cfg, 1) < free
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
    assert state.model_config == config.preset("tiny", char.vocab_size)
    word = tk.WordTokenizer.train(TEXT)
    state.set_tokenizer(word)
    assert state.model_config == config.preset("tiny", word.vocab_size)
    assert tab.vocab_label.text().endswith("set by the tokenizer (Words).")
    assert not tab.tokenizer_button.isVisibleTo(tab)


@pytest.mark.parametrize("busy", [False, True], ids=["idle machine", "busy machine"])
def test_measure_reports_a_positive_time_and_stops_cleanly(state, make_tab, qtbot, monkeypatch, busy):
    from playground.gui import training_process

    monkeypatch.setattr(training_process, "others_busy", lambda: busy)  # what the probe would say
    tab = make_tab(state)
    set_custom(tab, layers=1, heads=2, width=32, context=16)
    tab.batch_spin.setValue(4)
    cfg = tab.cfg
    tab.measure_button.click()
    assert tab.busy and tab.cancel_button.isVisibleTo(tab)
    qtbot.waitUntil(lambda: not tab.busy, timeout=120_000)
    result = tab.timings[(cfg, 4)]
    assert result["ms_median"] > 0 and len(result["ms_steps"]) == result["steps"] >= 5
    assert sum(result["ms_steps"]) >= 1900 or result["steps"] == 200  # MEASURE_SECONDS, or the cap
    assert result["tokens_per_s"] == pytest.approx(4 * 16 / (result["ms_median"] / 1000))
    assert result["ms_eval_batch"] > 0 and result["ms_sample_token"] > 0 and result["ms_setup"] > 0
    assert f"{result['ms_median']:,.0f} ms per step" in tab.measure_label.text()
    assert "2,000 steps would take about" in tab.measure_label.text()
    # It ran in a training child: the environment it saw is the one training gets.
    want = dict(training_process.child_settings(cfg, 4, busy).env)
    assert result["child_env"] == {key: os.environ.get(key, value) for key, value in want.items()}
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


def test_the_tab_works_without_torch_in_the_window_process(tmp_path):
    """Sizes, presets and the fit check are torch-free: a fresh process shows and publishes the
    Tiny model, and measures it, without importing torch (the probe and Measure run in children)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "model_tab_alone.py"
    script.write_text(
        "import sys\n"
        "if __name__ == '__main__':  # the children (spawn) import this file again: keep it bare\n"
        "    from PySide6.QtCore import QEventLoop\n"
        "    from PySide6.QtWidgets import QApplication\n"
        "    from playground.core import tokenizers as tk\n"
        "    from playground.gui.state import AppState\n"
        "    from playground.gui.tabs.model_tab import ModelTab\n"
        "    app = QApplication([])\n"
        "    def wait(ok):\n"
        "        while not ok():\n"
        "            app.processEvents(QEventLoop.WaitForMoreEvents)\n"
        "    state = AppState()\n"
        "    state.set_tokenizer(tk.CharTokenizer.train('hello world, hello tokens'))\n"
        "    tab = ModelTab(state)\n"
        "    tab.batch_spin.setValue(2)\n"
        "    wait(lambda: tab.ready and not tab.busy)\n"
        "    tab.measure()\n"
        "    wait(lambda: not tab.busy)\n"
        "    print(state.model_config.n_layer, len(tab.timings), 'torch' in sys.modules)\n",
        encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "1", "False"]
