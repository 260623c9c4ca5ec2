"""playground.bench: the scratch PLAYGROUND_HOME, and the headless benches taking plain values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from playground import paths
from playground.bench import scratch_home, speed
from playground.core.config import ModelConfig


def test_scratch_home_is_used_then_removed_and_the_old_home_restored(playground_home):
    with scratch_home("bench-test-") as tmp:
        assert os.environ["PLAYGROUND_HOME"] == str(tmp)
        assert paths.runs_dir().is_relative_to(tmp) and tmp.is_dir()
    assert not Path(tmp).exists()
    assert os.environ["PLAYGROUND_HOME"] == str(playground_home)
    with pytest.raises(RuntimeError), scratch_home() as tmp2:
        raise RuntimeError("a failing benchmark")
    assert not tmp2.exists() and os.environ["PLAYGROUND_HOME"] == str(playground_home)


def test_bench_train_takes_a_shape_and_uses_the_tokenizers_vocabulary(playground_home):
    shape = ModelConfig(vocab_size=1, context_length=8, n_layer=1, n_head=2, d_model=16, dropout=0.0)
    result = speed.bench_train(shape, corpus="builtin:grammar-lessons", batch=2, iters=2, device="cpu")
    assert result["vocab_size"] > 10 and (result["n_layer"], result["d_model"], result["context"]) == (1, 16, 8)
    assert result["iters"] == 2 and result["val_loss"] > 0
    assert not (playground_home / "data" / "runs").exists() or not any((playground_home / "data" / "runs").iterdir())


def test_bench_generate_times_both_paths(playground_home):
    cfg = ModelConfig(vocab_size=30, context_length=8, n_layer=1, n_head=2, d_model=16)
    result = speed.bench_generate(cfg, tokens=4, device="cpu")
    assert result["tokens"] == 4 and result["vocab_size"] == 30 and result["device"] == "cpu"
    assert result["tokens_per_s_cached"] > 0 and result["tokens_per_s_uncached"] > 0


def test_gui_train_reads_speed_over_windows_of_steps_and_never_across_an_evaluation():
    from playground.bench.gui_train import median_tokens_per_s

    rows = [{"kind": "step", "it": it, "time": it * 0.0204} for it in range(1, 41)]
    rows = [{**r, "time": round(r["time"], 3)} for r in rows]  # metrics.csv keeps milliseconds
    # Steps 11..21 and 21..31: 10 steps in 0.204 s each window, whatever the rounding of single steps.
    assert median_tokens_per_s(rows, 1000) == pytest.approx(1000 / 0.0204, rel=0.01)
    singles = median_tokens_per_s(rows, 1000, window=1)
    assert min(abs(singles - 1000 / q) for q in (0.020, 0.021)) < 1  # single steps: whole milliseconds
    # An evaluation (slow) inside would count as training: windows restart after it.
    with_eval = rows[:20] + [{"kind": "eval", "it": 20, "time": None}] + \
        [{**r, "time": round(r["time"] + 5.0, 3)} for r in rows[20:]]
    assert median_tokens_per_s(with_eval, 1000) == pytest.approx(1000 / 0.0204, rel=0.01)


def test_gui_train_runs_the_command_line_with_openmps_defaults(monkeypatch):
    from playground.bench.gui_train import cli_env

    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("GOMP_SPINCOUNT", "10")
    monkeypatch.setenv("KMP_BLOCKTIME", "0")
    monkeypatch.setenv("PLAYGROUND_SOMETHING", "kept")
    env = cli_env()
    assert not any(k.startswith(("OMP_", "GOMP_", "KMP_")) for k in env)
    assert env["PLAYGROUND_SOMETHING"] == "kept"
