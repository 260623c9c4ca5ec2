"""Trainings interrupted or doubled, through the real entry point: one run has one writer,
Ctrl+C always ends with 130, and metrics.csv never logs a step twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_cli import TINY, assert_user_error, play

from playground.core.checkpoint import Run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _start(home, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "playground", "train", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_step(run_path, proc: subprocess.Popen, after: int = 0, timeout: float = 120) -> int:
    """Poll metrics.csv (bounded) until the training has logged a step past ``after``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        steps = [r["it"] for r in Run(run_path).metrics("step")] if os.path.isdir(run_path) else []
        if steps and steps[-1] > after:
            return steps[-1]
        time.sleep(0.05)
    raise AssertionError(f"no step past {after} within {timeout} s")


def _keys(name: str) -> list[tuple[str, int]]:
    return [(r["kind"], r["it"]) for r in Run.open(name).metrics()]


def test_one_run_one_trainer_and_each_step_logged_once(playground_home):
    # Evaluations (and checkpoints) only at the last step and on stops: a kill then always leaves
    # logged steps past the last checkpoint, whatever the speed of the machine.
    base = play("train", "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "4", "--batch", "4",
                "--eval-interval", "1000000", "--name", "solo", "--quiet", home=playground_home)
    assert base.returncode == 0, base.stderr
    path = Run.open("solo").path

    first = _start(playground_home, "--resume", "solo", "--iters", "100000", "--quiet")
    try:
        _wait_for_step(path, first, after=4)
        t0 = time.monotonic()
        second = play("train", "--resume", "solo", "--iters", "100000", "--quiet", home=playground_home)
        assert time.monotonic() - t0 < 20  # refused at once, not after loading torch and the text
        assert_user_error(second, "already training", f"pid {first.pid}")
        assert first.poll() is None  # the first one trains on
        first.send_signal(signal.SIGINT)  # a clean stop: it saves and exits
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 130 and "Traceback" not in err, err
    assert "resume with: playground train --resume solo" in out
    stopped = Run.open("solo")
    assert stopped.status == "stopped" and stopped.load_latest()["step"] == stopped.step > 4
    keys = _keys("solo")
    assert len(keys) == len(set(keys)), "a (kind, it) was logged twice"

    # Killed between two checkpoints: the steps after the last one are redone, not logged twice.
    killed = _start(playground_home, "--resume", "solo", "--iters", "100000", "--quiet")
    try:
        _wait_for_step(path, killed, after=Run.open("solo").step + 3)
    finally:
        killed.kill()
        killed.communicate()
    logged = max(it for _kind, it in _keys("solo"))
    last_saved = Run.open("solo").load_latest()["step"]
    assert last_saved < logged  # rows past the checkpoint exist: the resume must drop them
    out = play("train", "--resume", "solo", "--iters", str(logged + 10), "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    keys = _keys("solo")
    assert len(keys) == len(set(keys)), "a (kind, it) was logged twice after the resume"
    assert [it for kind, it in keys if kind == "step"] == list(range(1, logged + 11))
    assert Run.open("solo").status == "finished"


@pytest.mark.parametrize("gap", ["at once", "after the first was seen", "after the stop was saved"])
def test_ctrl_c_twice_exits_130_and_keeps_the_checkpoint(playground_home, gap):
    proc = _start(playground_home, "--corpus", "builtin:grammar-lessons", *TINY, "--iters", "100000",
                  "--batch", "4", "--eval-interval", "10", "--name", "twice")
    path = playground_home / "data" / "runs" / "twice"
    try:
        _wait_for_step(path, proc)
        proc.send_signal(signal.SIGINT)
        if gap != "at once":  # wait until the first one was handled (the trainer is stopping)
            assert any(line.startswith("stopping after this step") for line in proc.stderr)
        if gap == "after the stop was saved":  # the process is finishing, or exiting, or gone
            deadline = time.monotonic() + 60
            while Run(path).status != "stopped" and time.monotonic() < deadline:
                time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err and "KeyboardInterrupt" not in err, err
    run = Run.open("twice")
    assert run.status == "stopped"
    state = run.load_latest()  # intact: it loads
    assert state["step"] >= 0 and run.load_model() is not None
    assert not list(path.glob(".*.tmp"))  # no half-written checkpoint left behind
