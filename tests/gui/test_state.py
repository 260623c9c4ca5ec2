"""AppState: one value per thing the tabs share, a signal only when it really changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig
from playground.core.corpus import load_builtin
from playground.core.tokenizers import train_tokenizer
from playground.gui.state import AppState


@pytest.fixture
def state(qtbot):
    return AppState()


@pytest.fixture
def run_folder(playground_home):
    corpus = load_builtin("copy-lessons")
    tok = train_tokenizer("char", corpus.text)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1, n_head=1, d_model=8)
    return Run.create("state-run", cfg, TrainConfig(), corpus.record(), tok).path


def recorder(signal) -> list:
    seen: list = []
    signal.connect(seen.append)
    return seen


def test_the_same_run_opened_twice_is_one_run(state, run_folder):
    changes = recorder(state.runChanged)
    first, again = Run(run_folder), Run(run_folder)
    assert first is not again
    state.set_run(first)
    state.set_run(again)  # another object for the same folder: no news
    state.set_run(Run(Path(str(run_folder) + "/../" + run_folder.name)))  # the same folder, spelled otherwise
    assert changes == [first] and state.run is first
    state.set_run(None)
    assert changes == [first, None] and state.run is None


def test_equal_configs_and_splits_emit_nothing(state):
    configs = recorder(state.modelConfigChanged)
    splits = recorder(state.splitChanged)
    state.set_model_config(ModelConfig(vocab_size=65))
    state.set_model_config(ModelConfig(vocab_size=65))  # equal, not identical
    state.set_model_config(ModelConfig(vocab_size=66))
    assert [c.vocab_size for c in configs] == [65, 66]
    state.set_split(0.9)  # the value it starts with
    state.set_split(0.900001)  # rounds to the same fraction
    state.set_split(0.8)
    assert splits == [0.8] and state.split == 0.8


def test_checkpoint_saved_carries_path_and_step(state, run_folder, qtbot):
    with qtbot.waitSignal(state.checkpointSaved, timeout=1000) as signal:
        state.notify_checkpoint(run_folder, np.int64(500))  # a Path and a numpy step: plain types arrive
    assert signal.args == [str(run_folder), 500]
    assert type(signal.args[0]) is str and type(signal.args[1]) is int
    assert state.run is None  # a checkpoint is news, not a change of the current run
