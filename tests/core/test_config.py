"""The torch-free plain types: model shapes, training defaults, sampling settings and events."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from dataclasses import FrozenInstanceError, replace

import pytest

from playground.core import config
from playground.core.config import (
    PRESETS,
    ModelConfig,
    SamplingConfig,
    TrainConfig,
    lr_at,
    param_count,
    preset,
    preset_name_of,
    train_config_for,
    training_defaults,
)
from playground.core.events import COMPILING_NOTE, Checkpointed, Eval, Finished, Note, Sample, Step
from playground.errors import ModelError, TrainingError

# ─────────────────────────────────────────────────────── no torch


FRESH = r"""
import json, sys
from playground.core.config import (ModelConfig, SamplingConfig, TrainConfig, memory_estimate, param_count,
                                    preset, train_config_for, training_defaults)
from playground.core.events import COMPILING_NOTE, Checkpointed, Eval, Finished, Note, Sample, Step

cfg = ModelConfig(vocab_size=65, context_length=64, n_layer=2, n_head=2, d_model=64)
values, why = training_defaults(cfg)
tcfg = train_config_for(cfg, iters=7)
SamplingConfig(temperature=0.5, top_k=3).validate()
TrainConfig().validate()
kinds = []
for ev in (Step(1, 4.0, 1e-3, 100.0), Eval(1, 4.0, 4.1), Checkpointed(1, "x.pt"), Sample(1, "hi"),
           Note(1, COMPILING_NOTE), Finished("done", 1, "")):
    match ev:
        case Step(loss=loss):
            kinds.append(["step", loss])
        case Eval(val_loss=val):
            kinds.append(["eval", val])
        case Checkpointed(path=path):
            kinds.append(["checkpointed", path])
        case Sample(text=text):
            kinds.append(["sample", text])
        case Note():
            kinds.append(["note", None])
        case Finished(reason=reason):
            kinds.append(["finished", reason])
print(json.dumps({
    "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
    "params": param_count(cfg),
    "gpt2": param_count(preset("gpt2-124m", 50257)),
    "memory": memory_estimate(cfg, 12),
    "defaults": values,
    "iters": tcfg.iters,
    "kinds": kinds,
}))
"""


def test_config_and_events_import_without_torch():
    """A fresh interpreter: this test's own process has torch loaded already."""
    p = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["torch"] == []
    # The work really ran there: the same numbers as here.
    cfg = ModelConfig(vocab_size=65, context_length=64, n_layer=2, n_head=2, d_model=64)
    assert got["params"] == 112_512 == param_count(cfg)
    assert got["gpt2"] == 124_439_808
    assert got["memory"] == config.memory_estimate(cfg, 12)
    assert got["defaults"] == {"iters": 2000, "batch_size": 16, "lr": 3e-3, "warmup": 100, "eval_interval": 200}
    assert got["iters"] == 7
    assert got["kinds"] == [["step", 4.0], ["eval", 4.1], ["checkpointed", "x.pt"], ["sample", "hi"],
                            ["note", None], ["finished", "done"]]


# ─────────────────────────────────────────────────────── model shapes


def test_for_vocab_sets_the_bigram_width_to_the_vocabulary():
    bigram = PRESETS["bigram"].for_vocab(300)
    assert (bigram.vocab_size, bigram.d_model) == (300, 300)
    tiny = PRESETS["tiny"].for_vocab(300)
    assert (tiny.vocab_size, tiny.d_model) == (300, 64)  # a GPT keeps its width
    assert replace(tiny, vocab_size=PRESETS["tiny"].vocab_size) == PRESETS["tiny"]  # nothing else changes
    assert preset("bigram", 11).d_model == 11


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_name_of_recognises_every_preset_at_any_vocabulary(name):
    for vocab in (11, 65, 50257):
        assert preset_name_of(preset(name, vocab)) == name


def test_preset_name_of_a_changed_shape_is_none():
    assert preset_name_of(replace(preset("small", 65), n_layer=5)) is None
    assert preset_name_of(replace(preset("tiny", 65), tie_weights=True)) is None
    assert preset_name_of(replace(preset("bigram", 65), d_model=64)) is None  # a bigram's width is its vocabulary
    assert preset_name_of(ModelConfig(vocab_size=65, context_length=32)) is None


# ─────────────────────────────────────────────────────── training defaults


TINY_WHY = "A model this small learns fastest with a learning rate of 3e-3 after a short warmup."
SMALL_WHY = "Small models learn quickly with a learning rate of 1e-3 after a short warmup."
BIGGER_WHY = "Bigger models need a smaller learning rate and a longer warmup to stay stable."
LARGE_WHY = "A large model: small batches to fit in memory, a careful learning rate."


@pytest.mark.parametrize("name, vocab, values, why", [
    ("bigram", 65, dict(iters=1000, batch_size=32, lr=1e-2, warmup=0, eval_interval=100),
     "Defaults for 0.00 M parameters. A bigram is one table: a large learning rate and no warmup are safe."),
    ("tiny", 65, dict(iters=2000, batch_size=16, lr=3e-3, warmup=100, eval_interval=200),
     f"Defaults for 0.11 M parameters. {TINY_WHY}"),
    ("small", 65, dict(iters=2000, batch_size=12, lr=1e-3, warmup=100, eval_interval=200),
     f"Defaults for 0.82 M parameters. {SMALL_WHY}"),
    ("medium", 65, dict(iters=3000, batch_size=12, lr=6e-4, warmup=200, eval_interval=250),
     f"Defaults for 10.80 M parameters. {BIGGER_WHY}"),
    ("gpt2-124m", 50257, dict(iters=2000, batch_size=4, lr=3e-4, warmup=200, eval_interval=250),
     f"Defaults for 124.44 M parameters. {LARGE_WHY}"),
])
def test_training_defaults_per_preset(name, vocab, values, why):
    assert training_defaults(preset(name, vocab)) == (values, why)


@pytest.mark.parametrize("n, batch, lr, warmup, why", [
    (299_999, 16, 3e-3, 100, TINY_WHY),
    (300_000, 12, 1e-3, 100, SMALL_WHY),
    (1_999_999, 12, 1e-3, 100, SMALL_WHY),
    (2_000_000, 12, 6e-4, 200, BIGGER_WHY),
    (29_999_999, 12, 6e-4, 200, BIGGER_WHY),
    (30_000_000, 4, 3e-4, 200, LARGE_WHY),
])
def test_training_defaults_band_edges(monkeypatch, n, batch, lr, warmup, why):
    monkeypatch.setattr(config, "param_count", lambda cfg: n)
    values, text = training_defaults(preset("tiny", 65))
    assert (values["batch_size"], values["lr"], values["warmup"]) == (batch, lr, warmup)
    assert text == f"Defaults for {n / 1e6:.2f} M parameters. {why}"


def test_train_config_for_uses_the_size_defaults():
    cfg = train_config_for(preset("medium", 65))
    assert (cfg.iters, cfg.batch_size, cfg.lr, cfg.warmup, cfg.eval_interval) == (3000, 12, 6e-4, 200, 250)
    assert cfg.min_lr == pytest.approx(6e-5)  # a tenth of the peak, as nanoGPT
    # Everything not in the size rule is TrainConfig's own default.
    assert replace(cfg, iters=2000, lr=1e-3, min_lr=1e-4, warmup=100, eval_interval=250) == TrainConfig()


def test_train_config_for_given_values_win_and_zero_is_kept():
    cfg = train_config_for(preset("tiny", 65), iters=50, batch_size=3, lr=2e-3, warmup=0, grad_clip=0.0,
                           sample_tokens=0, eval_interval=None, seed=None, device="cpu")
    assert (cfg.iters, cfg.batch_size, cfg.lr, cfg.warmup, cfg.grad_clip, cfg.sample_tokens) == (50, 3, 2e-3, 0, 0.0, 0)
    assert cfg.eval_interval == 200 and cfg.seed == 1337  # None means "not given"
    assert cfg.device == "cpu"
    assert cfg.min_lr == pytest.approx(2e-4)  # follows the given lr
    assert train_config_for(preset("tiny", 65), min_lr=0.0).min_lr == 0.0
    assert train_config_for(preset("tiny", 65), lr=2e-3, min_lr=5e-4).min_lr == 5e-4


@pytest.mark.parametrize("given, message", [
    (dict(iters=0), "Iterations"),
    (dict(batch_size=0), "batch size"),
    (dict(lr=0.0), "learning rate"),
    (dict(lr=1e-3, min_lr=2e-3), "final learning rate"),
    (dict(warmup=-1), "Warmup"),
    (dict(split=1.0), "training fraction"),
])
def test_train_config_for_refuses_bad_values(given, message):
    with pytest.raises(TrainingError, match=message):
        train_config_for(preset("tiny", 65), **given)


def test_lr_at_warms_up_then_decays_to_min_lr():
    cfg = TrainConfig(iters=101, lr=1e-3, min_lr=1e-4, warmup=10)
    assert lr_at(cfg, 0) == pytest.approx(1e-3 / 11)
    assert lr_at(cfg, 10) == pytest.approx(1e-3)  # the peak, right after warmup
    assert lr_at(cfg, 55) == pytest.approx(5.5e-4)  # half-way down the cosine
    assert lr_at(cfg, 100) == pytest.approx(1e-4)


# ─────────────────────────────────────────────────────── sampling and events


def test_sampling_config_validates():
    SamplingConfig(temperature=0, top_k=1, top_p=1.0, max_new_tokens=0).validate()
    for bad, match in ((dict(temperature=math.nan), "Temperature"), (dict(top_k=0), "Top-k"),
                       (dict(top_p=0.0), "Top-p"), (dict(max_new_tokens=-1), "tokens to generate")):
        with pytest.raises(ModelError, match=match):
            SamplingConfig(**bad).validate()


def test_events_are_frozen_and_pickle_across_the_pipe():
    events = [Step(3, 2.5, 1e-3, 900.0), Eval(3, 2.4, 2.6), Checkpointed(3, "/r/step_000003.pt"),
              Sample(3, "héllo → world"), Note(0, COMPILING_NOTE), Finished("stopped", 3, "Stopped.")]
    for ev in events:
        back = pickle.loads(pickle.dumps(ev))
        assert back == ev and type(back) is type(ev)
    with pytest.raises(FrozenInstanceError):
        events[0].loss = 0.0
