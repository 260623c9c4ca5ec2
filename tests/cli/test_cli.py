"""The real entry point: what a student types is what is tested.

``play`` runs ``python -m playground`` as a subprocess. ``play_here`` runs the same ``cli.main`` in
this process, for commands whose behaviour does not depend on being a fresh process: each fresh
interpreter pays torch's import again (about 2.5 s of CPU here), which the whole suite cannot afford
for every command. Process-level behaviour (signals, kills, another process's lock, the exit status of
the interpreter itself) stays with ``play``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from playground import __version__

TINY = ["--preset", "tiny", "--n-layer", "1", "--d-model", "32", "--context", "16"]
BENCH_TRAIN_KEYS = {
    "tokens_per_s", "ms_per_iter_median", "train_loss", "val_loss", "iters", "device", "torch_threads",
    "corpus", "tokenizer", "vocab_size", "n_layer", "n_head", "d_model", "context", "dropout", "batch",
    "seed", "compile", "compiled", "recipe"}
BENCH_GENERATE_KEYS = {
    "tokens_per_s_cached", "tokens_per_s_uncached", "cache_speedup", "first_token_ms", "tokens", "device",
    "torch_threads", "n_layer", "n_head", "d_model", "context", "vocab_size", "seed"}


def play(*args: str, home: Path, timeout: float = 180, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "playground", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def play_here(*args: str, home: Path) -> subprocess.CompletedProcess:
    """``playground ARGS`` through ``cli.main`` in this process; the answer looks like ``play``'s."""
    from playground import cli

    out, err = io.StringIO(), io.StringIO()
    old_home, old_sigint = os.environ.get("PLAYGROUND_HOME"), signal.getsignal(signal.SIGINT)
    os.environ["PLAYGROUND_HOME"] = str(home)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        signal.signal(signal.SIGINT, old_sigint)  # the train command installs its Ctrl+C handler
        if old_home is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = old_home
    return subprocess.CompletedProcess(["playground", *args], code, out.getvalue(), err.getvalue())


def assert_user_error(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 3, out.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word.lower() in out.stderr.lower(), out.stderr


def test_version(playground_home):
    out = play("--version", home=playground_home)
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_usage_error_is_short_and_exits_2(playground_home):
    assert_user_error(play_here("train", "--iters", "many", home=playground_home), "invalid int", "--help")
    assert_user_error(play_here("frobnicate", home=playground_home), "invalid choice")


def test_missing_corpus_file(playground_home, tmp_path):
    out = play_here("train", "--corpus", str(tmp_path / "nope.txt"), "--iters", "2", home=playground_home)
    assert_user_error(out, "nope.txt")


def test_binary_corpus_refused(playground_home, tmp_path):
    binary = tmp_path / "image.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    assert_user_error(play_here("train", "--corpus", str(binary), "--iters", "2", home=playground_home), "binary")


def test_generate_without_runs(playground_home):
    assert_user_error(play_here("generate", "--prompt", "hi", home=playground_home), "run")


def test_corpora_lists_builtins(playground_home):
    out = play_here("corpora", home=playground_home)
    assert out.returncode == 0, out.stderr
    for name in ("builtin:python-docs", "builtin:copy-lessons", "builtin:grammar-lessons",
                 "download:tiny-shakespeare"):
        assert name in out.stdout


def test_train_then_generate(playground_home):
    out = play("train", "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "30", "--batch", "4",
               "--eval-interval", "15", "--name", "cli-run", "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    run_dir = playground_home / "data" / "runs" / "cli-run"
    assert (run_dir / "latest.pt").exists() and (run_dir / "run.json").exists()
    snapshots = sorted(p.name for p in (run_dir / "checkpoints").glob("step_*.pt"))
    assert snapshots == ["step_000000.pt", "step_000015.pt", "step_000030.pt"]  # untrained, then each eval
    evals = [r.split(",") for r in (run_dir / "metrics.csv").read_text().splitlines() if r.startswith("eval")]
    assert [int(r[1]) for r in evals] == [0, 15, 30]
    gen = play("generate", "--run", "cli-run", "--prompt", "The ", "--tokens", "20", "--seed", "1",
               home=playground_home)
    assert gen.returncode == 0, gen.stderr
    assert gen.stdout.startswith("The ") and len(gen.stdout.rstrip("\n")) > len("The ")
    again = play_here("generate", "--run", "latest", "--prompt", "The ", "--tokens", "20", "--seed", "1",
                 home=playground_home)
    assert again.stdout == gen.stdout  # seeded: repeatable


def test_progress_goes_to_stderr_and_quiet_silences_it(playground_home):
    args = ("train", "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "4", "--batch", "2",
            "--eval-interval", "2")
    out = play_here(*args, "--name", "loud", home=playground_home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines() == [f"run saved: {playground_home / 'data' / 'runs' / 'loud'}"]
    assert "training: 100%" in out.stderr and "4/4" in out.stderr  # tqdm's bar reached the end
    assert "checkpoint saved at step 4" in out.stderr
    quiet = play_here(*args, "--name", "hush", "--quiet", home=playground_home)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_zero_is_a_value_not_a_missing_option(playground_home):
    out = play_here("train", "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "0", "--name", "zero",
               "--quiet", home=playground_home)
    assert_user_error(out, "Iterations", "0")
    assert not (playground_home / "data" / "runs" / "zero").exists()  # refused before anything is written
    out = play_here("train", "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "2", "--batch", "2",
               "--warmup", "0", "--name", "nowarm", "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    info = json.loads((playground_home / "data" / "runs" / "nowarm" / "run.json").read_text())
    assert info["train"]["warmup"] == 0  # was silently replaced by the default 100


def test_unknown_prompt_character(playground_home):
    play_here("train", "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "2", "--batch", "2",
         "--name", "r", "--quiet", home=playground_home)
    assert_user_error(play_here("generate", "--run", "r", "--prompt", "日本", home=playground_home), "日")


def test_bench_train_keys(playground_home):
    out = play_here("bench", "train", "--corpus", "builtin:grammar-lessons", "--tokenizer", "char",
               "--n-layer", "1", "--n-head", "2", "--d-model", "32", "--context", "16", "--batch", "4",
               "--dropout", "0", "--iters", "3", "--json", home=playground_home)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == BENCH_TRAIN_KEYS  # the JSON is an interface: same keys as before
    assert result["iters"] == 3 and result["device"] == "cpu"
    assert (result["n_layer"], result["n_head"], result["d_model"], result["context"], result["batch"]) \
        == (1, 2, 32, 16, 4)
    assert result["corpus"] == "builtin:grammar-lessons" and result["tokenizer"] == "char"
    assert result["vocab_size"] > 10  # the tokenizer's, not a placeholder
    assert result["compile"] is False and result["compiled"] is False
    assert result["val_loss"] > 0 and result["train_loss"] > 0
    assert not (playground_home / "data" / "runs" / "bench").exists()  # benches leave no runs behind


def test_bench_generate_keys(playground_home):
    out = play_here("bench", "generate", "--n-layer", "1", "--n-head", "2", "--d-model", "32", "--context", "16",
               "--tokens", "5", "--json", home=playground_home)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == BENCH_GENERATE_KEYS
    assert (result["n_layer"], result["d_model"], result["vocab_size"], result["tokens"]) == (1, 32, 65, 5)
    assert result["tokens_per_s_cached"] > 0 and result["tokens_per_s_uncached"] > 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_kill_during_training_then_resume(playground_home):
    """A crash loses at most the steps since the last checkpoint; resume continues from there."""
    env = {**os.environ, "PLAYGROUND_HOME": str(playground_home), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "playground", "train", "--corpus", "builtin:grammar-lessons", *TINY,
           "--iters", "100000", "--batch", "4", "--eval-interval", "10", "--name", "crash"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    latest = playground_home / "data" / "runs" / "crash" / "latest.pt"
    try:
        for line in proc.stderr:  # blocks until the trainer reports its first checkpoint
            if line.startswith("checkpoint saved"):
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    assert latest.exists(), "no checkpoint was written"
    out = play_here("train", "--resume", "crash", "--iters", "40", "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    rows = [r.split(",") for r in (playground_home / "data" / "runs" / "crash" / "metrics.csv")
            .read_text().splitlines()[1:] if r.startswith("step")]
    steps = [int(r[1]) for r in rows]
    assert steps == sorted(set(steps)), "steps after resume must continue without duplicates"
    assert steps[-1] == 40
