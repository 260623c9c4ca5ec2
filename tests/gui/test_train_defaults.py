"""Start trains what the built-in texts were tested with: the size's defaults, until the student edits."""

from __future__ import annotations

import pytest

from playground.core import config, tokenizers
from playground.core import corpus as corpus_mod

KEYS = ("iters", "batch_size", "lr", "min_lr", "warmup", "eval_interval", "seed", "split")


@pytest.fixture
def tab(qtbot):
    from playground.gui.state import AppState
    from playground.gui.tabs.train_tab import TrainTab

    corpus = corpus_mod.load("builtin:copy-lessons")
    state = AppState()
    widget = TrainTab(state)
    qtbot.addWidget(widget)
    state.set_corpus(corpus)
    state.set_tokenizer(tokenizers.train_tokenizer("char", corpus.text))  # what a student picks
    yield widget
    widget.shutdown()


def _form(tab) -> dict:
    got = tab.train_config()
    return {k: getattr(got, k) for k in KEYS}


def test_without_clicking_defaults_the_form_holds_the_sizes_defaults(tab):
    vocab = tab.state.tokenizer.vocab_size
    want = config.train_config_for(config.preset("tiny", vocab), split=tab.state.split)
    assert _form(tab) == {k: getattr(want, k) for k in KEYS}  # exactly what the CLI trains
    assert tab.state.batch_size == want.batch_size  # the Model tab's Measure uses it too


def test_a_new_size_brings_its_defaults_until_the_student_edits(tab):
    vocab = tab.state.tokenizer.vocab_size
    medium = config.preset("medium", vocab)
    tab.state.set_model_config(medium)
    assert _form(tab)["lr"] == config.training_defaults(medium)[0]["lr"] == 6e-4
    tab.settings.iters_box.setValue(123)  # the student's own choice now
    tab.state.set_model_config(config.preset("tiny", vocab))
    assert _form(tab)["iters"] == 123 and _form(tab)["lr"] == 6e-4  # kept: nothing overwritten
