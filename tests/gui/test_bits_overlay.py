"""Bits per character where losses are compared: the Train tab's overlay, Compare two models and
Score a text, on a character run next to a word run."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest

from playground import paths
from playground.core.checkpoint import Run

WAIT = 60_000
LN2 = math.log(2)


@pytest.fixture(scope="module")
def runs_home(tmp_path_factory):
    """A character run and a word run of the same text, trained in-process for a few steps."""
    from playground.core import config, tokenizers, train
    from playground.core import corpus as corpus_mod
    from playground.core.config import ModelConfig

    home = tmp_path_factory.mktemp("bits-home")
    old = os.environ.get("PLAYGROUND_HOME")
    os.environ["PLAYGROUND_HOME"] = str(home)
    try:
        corpus = corpus_mod.load_builtin("grammar-lessons")
        for kind in ("char", "word"):
            tok = tokenizers.train_tokenizer(kind, corpus.text)
            cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
            tcfg = config.TrainConfig(iters=8, batch_size=4, warmup=2, eval_interval=4, eval_iters=2,
                                     sample_tokens=0, seed=1, device="cpu")
            run = Run.create(f"{kind}-run", cfg, tcfg, corpus.record(tcfg.split), tok)
            assert train.train_run(run, corpus)[-1].reason == "done"
        return paths.runs_dir()
    finally:
        if old is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old


@pytest.fixture
def runs(runs_home, playground_home):
    out = {}
    for kind in ("char", "word"):
        dest = paths.runs_dir() / f"{kind}-run"
        shutil.copytree(runs_home / f"{kind}-run", dest)
        out[kind] = Run(dest)
    return out


def chars_per_token(run: Run) -> float:
    """Independently of core.bits: the run's validation text over its token count."""
    from playground.core.corpus import verify_record

    val = verify_record(run.corpus_record).split(run.corpus_record["split"])[1]
    return len(val) / len(run.tokenizer.encode(val))


@pytest.fixture
def train_tab(qtbot, runs):
    from playground.core import corpus as corpus_mod
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    state = AppState()
    state.set_corpus(corpus_mod.load_builtin("grammar-lessons"))
    state.set_tokenizer(runs["char"].tokenizer)
    tab = TrainTab(state)
    qtbot.addWidget(tab)
    tab.resize(1100, 750)
    tab.show()
    yield tab
    tab.shutdown()


def test_overlaying_a_char_and_a_word_run_warns_and_offers_bits_per_character(train_tab, runs, qtbot):
    tab = train_tab
    plot = tab.ensure_plot()
    tab.runs_list.set_checked("char-run")
    assert plot.units_note.isHidden()  # one tokenizer: losses per token compare
    tab.runs_list.set_checked("word-run")
    note = plot.units_note
    assert not note.isHidden() and "different tokens" in note.text()
    assert "char · " in note.text() and "word · " in note.text() and "bits per character" in note.text()
    assert not plot.bpc
    # Per token, the curves are the runs' own numbers.
    word_vals = [r["val_loss"] for r in runs["word"].metrics("eval")]
    assert np.allclose(plot.overlays["word-run"]["val"].getOriginalDataset()[1], word_vals)

    qtbot.waitUntil(lambda: all(o.chars_per_token is not None for o in plot.overlay_runs), timeout=WAIT)
    note.linkActivated.emit("bpc")  # the warning's "Show bits per character"
    assert plot.bpc and note.isHidden()
    assert plot.loss.getPlotItem().getAxis("left").labelText == "bits per character"
    for kind in ("char", "word"):
        ratio = chars_per_token(runs[kind])
        if kind == "char":
            assert ratio == 1.0
        else:
            assert ratio > 2  # a word token holds several characters
        vals = [r["val_loss"] / (ratio * LN2) for r in runs[kind].metrics("eval")]
        got = plot.overlays[f"{kind}-run"]["val"].getOriginalDataset()[1]
        assert np.allclose(got, vals)
        steps = [r["loss"] / (ratio * LN2) for r in runs[kind].metrics("step")]
        assert np.allclose(plot.overlays[f"{kind}-run"]["train"].getOriginalDataset()[1], steps)

    # Back to per token: the warning returns.
    plot.set_units(False)
    assert not note.isHidden() and np.allclose(plot.overlays["word-run"]["val"].getOriginalDataset()[1], word_vals)


def test_an_opened_runs_live_curves_and_reference_line_in_bits_per_character(train_tab, runs, qtbot):
    tab, run = train_tab, runs["word"]
    plot = tab.ensure_plot()
    tab.runs_list.open_run(run)
    qtbot.waitUntil(lambda: plot.live_chars_per_token is not None, timeout=WAIT)
    ratio = chars_per_token(run)
    assert plot.live_chars_per_token == pytest.approx(ratio)
    plot.set_units(True)
    vals = [r["val_loss"] / (ratio * LN2) for r in run.metrics("eval")]
    assert np.allclose(plot.val_curve.getOriginalDataset()[1], vals)
    vocab = run.tokenizer.vocab_size
    assert plot.reference.value() == pytest.approx(math.log2(vocab) / ratio)
    assert "bits per character" in plot.readout_at(4)


# ----------------------------------------------------------------------------------- Generate tab


@pytest.fixture
def generate_tab(qtbot, runs):
    from playground.gui.state import AppState
    from playground.gui.tabs.generate import GenerateTab

    tab = GenerateTab(AppState())
    qtbot.addWidget(tab)
    tab.resize(1200, 760)
    tab.show()
    qtbot.waitUntil(lambda: tab.run is not None and tab.cached_model(tab.run) is not None and not tab.busy,
                    timeout=WAIT)
    yield tab
    tab.shutdown()


def test_compare_two_models_shows_bits_per_character_and_warns(generate_tab, runs, qtbot):
    cp = generate_tab.compare_page
    for side, kind in (("a", "char"), ("b", "word")):
        combo = cp.compare_runs[side]
        combo.setCurrentIndex(next(i for i in range(combo.count()) if combo.itemData(i).name == f"{kind}-run"))
        cp.compare_ckpts[side].setCurrentIndex(0)  # the newest weights
    assert not cp.units_note.isHidden() and "do not compare" in cp.units_note.text()
    qtbot.waitUntil(lambda: "measuring" not in cp.compare_units["a"].text() + cp.compare_units["b"].text(),
                    timeout=WAIT)
    for side, kind in (("a", "char"), ("b", "word")):
        run = runs[kind]
        it, _, val = run.evals()[-1]
        bpc = val / (chars_per_token(run) * LN2)
        text = cp.compare_units[side].text()
        assert f"step {it:,}: <b>{val:.3f}</b> nats per token" in text
        assert f"<b>{bpc:.3f}</b> bits per character" in text, text
    # The same tokenizer on both sides: no warning.
    cp.compare_runs["b"].setCurrentIndex(cp.compare_runs["a"].currentIndex())
    assert cp.units_note.isHidden()


def test_score_a_text_reports_bits_per_character(generate_tab, runs, qtbot):
    from playground.core.generate import score_text

    tab = generate_tab
    word = runs["word"]
    tab.state.set_run(word)  # the tab's run picker follows the app's current run
    qtbot.waitUntil(lambda: tab.run == word and tab.cached_model(word) is not None and not tab.busy, timeout=WAIT)
    sp = tab.score_page
    text = "Tom sees the red fox. Anna likes the cake."
    sp.score_edit.setPlainText(text)
    sp.score_button.click()
    qtbot.waitUntil(lambda: not tab.busy and bool(sp.last_scores), timeout=WAIT)
    loaded = tab.cached_model(word)
    scored = score_text(loaded.model, loaded.tokenizer, text)
    first = loaded.tokenizer.decode(scored.ids[:1])
    losses = [v for v in scored.losses if not math.isnan(v)]
    bpc = sum(losses) / ((len(text) - len(first)) * LN2)
    assert f"<b>{bpc:.3f}</b> bits per character" in sp.score_summaries[0].text()
