"""The child processes: training (batching, pause markers, errors relayed, no orphan process) and
child_jobs.run_in_child, both on child_process.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import psutil
import pytest
import torch

from playground.core import checkpoint, tokenizers
from playground.core import corpus as corpus_mod
from playground.core.config import ModelConfig, TrainConfig
from playground.core.events import Finished, Step
from playground.errors import Cancelled, CorpusError, TokenizerError
from playground.gui import child_jobs, child_process
from playground.gui import training_process as tp

WAIT_MS = 120_000  # a spawned child imports torch: seconds on a busy 2-core machine


class FakeConn:
    def __init__(self, broken: bool = False) -> None:
        self.sent: list[list] = []
        self.broken = broken

    def send(self, obj) -> None:
        if self.broken:
            raise BrokenPipeError
        self.sent.append(list(obj))


def tiny_run(corpus, iters: int = 40, **train) -> checkpoint.Run:
    tok = tokenizers.train_tokenizer("char", corpus.text)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
    tcfg = TrainConfig(iters=iters, batch_size=4, warmup=2, eval_interval=iters, eval_iters=2,
                       sample_tokens=0, **train)
    return checkpoint.Run.create("proc-test", cfg, tcfg, corpus.record(tcfg.split), tok)


def test_outbox_batches_steps_and_flushes_other_events():
    stop = threading.Event()
    conn = FakeConn()
    out = tp._Outbox(conn, stop)
    out.last = 10**9  # "just sent": Steps wait for the next batch
    for i in range(1, 6):
        out.put(Step(i, 1.0, 1e-3, 100.0))
    assert conn.sent == []
    out.put(Finished("done", 5, "ok"), flush=True)
    assert len(conn.sent) == 1 and [type(e) for e in conn.sent[0]] == [Step] * 5 + [Finished]


def test_outbox_broken_pipe_means_stop():
    stop = threading.Event()
    out = tp._Outbox(FakeConn(broken=True), stop)
    out.put(Step(1, 1.0, 1e-3, 1.0), flush=True)
    assert out.broken and stop.is_set()
    out.put(Step(2, 1.0, 1e-3, 1.0), flush=True)  # no exception once broken


def test_pause_probe_reports_transitions_once():
    stop, pause = threading.Event(), threading.Event()
    conn = FakeConn()
    out = tp._Outbox(conn, stop)
    probe = tp._PauseProbe(pause, out)
    probe.step = lambda: 7
    assert probe.is_set() is False and conn.sent == []
    pause.set()
    assert probe.is_set() and probe.is_set()
    pause.clear()
    assert probe.is_set() is False
    assert conn.sent == [[tp.Paused(7)], [tp.Resumed(7)]]


def test_child_error_comes_back_as_playground_error(qtbot):
    corpus = corpus_mod.from_text("tiny text. " * 3)  # far too short for one batch
    run = tiny_run(corpus)
    errors, events = [], []
    job = tp.TrainingJob(run.path, corpus, on_events=events.extend, on_error=errors.append)
    qtbot.waitUntil(lambda: not job.running, timeout=WAIT_MS)
    assert len(errors) == 1 and isinstance(errors[0], CorpusError)
    assert "too small to train on" in errors[0].message and errors[0].hint
    assert not tp.pid_alive(job.pid)


def test_a_run_another_process_trains_is_refused_before_torch_loads(qtbot):
    """One run, one writer: the child takes the run's lock first and refuses with RunBusy."""
    from playground.core import run_lock

    corpus = corpus_mod.load("builtin:grammar-lessons")
    run = tiny_run(corpus)
    errors, events = [], []
    with run_lock.acquire(run.path, run.name):  # this process stands for the command line
        job = tp.TrainingJob(run.path, corpus, on_events=events.extend, on_error=errors.append)
        qtbot.waitUntil(lambda: not job.running, timeout=WAIT_MS)
        assert run_lock.owner_of(run.path)["pid"] == os.getpid()
    assert len(errors) == 1 and isinstance(errors[0], run_lock.RunBusy), errors
    assert "already training in another process" in errors[0].message and errors[0].hint
    assert events == [] and checkpoint.Run(run.path).status == "created"  # not even Started


HELPER = textwrap.dedent("""
    import os, sys
    from PySide6.QtCore import QCoreApplication

    def main():
        app = QCoreApplication([])
        from playground.core import checkpoint
        from playground.core.events import Step
        from playground.gui.training_process import TrainingJob

        run = checkpoint.Run.open(sys.argv[1])
        seen = []

        def on_events(batch):
            seen.extend(batch)

        job = TrainingJob(run.path, None, on_events=on_events)
        while sum(isinstance(e, Step) for e in seen) < 5:
            app.processEvents()
            job.wait(20)
        print("child", job.pid, flush=True)
        os.kill(os.getpid(), 9)  # the GUI process dies without any cleanup

    if __name__ == "__main__":
        main()
""")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL semantics")
def test_no_orphan_when_the_gui_process_is_killed(qtbot, tmp_path):
    corpus = corpus_mod.load("builtin:grammar-lessons")
    run = tiny_run(corpus, iters=100_000)
    script = tmp_path / "helper.py"
    script.write_text(HELPER)
    proc = subprocess.run([sys.executable, str(script), str(run.path)], capture_output=True, text=True,
                          timeout=WAIT_MS / 1000, env=os.environ.copy())
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    pid = int(proc.stdout.split("child")[1].split()[0])
    # The child notices (control pipe EOF), stops after a step, saves, and exits by itself.
    qtbot.waitUntil(lambda: not tp.pid_alive(pid), timeout=60_000)
    run = checkpoint.Run(run.path)
    assert run.status == "stopped" and run.info.get("interrupted") is True  # the next start offers it
    from playground.gui.tabs.train_status import ResumeBanner

    banner = ResumeBanner()
    assert banner.offer([run]) == run and "Resume training?" in banner.label.text()
    latest = run.load_latest()
    assert latest["step"] >= 5 and run.step == latest["step"]
    weights = run.load_model().state_dict()  # the saved training state, loadable as a model
    assert weights.keys() == latest["model"].keys()
    assert all(torch.equal(weights[k], latest["model"][k]) for k in weights)


# ----------------------------------------------------------------------------- child_process / run_in_child


def test_pid_alive_counts_a_zombie_as_gone():
    assert child_process.pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        # Exited but not reaped yet (no wait()): a zombie, which os.kill(pid, 0) still finds.
        deadline = time.monotonic() + 60
        while child_process.pid_alive(proc.pid):
            assert time.monotonic() < deadline, "the child never ended"
            time.sleep(0.05)
        assert psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE
    finally:
        proc.wait()
    assert not child_process.pid_alive(proc.pid) and not child_process.pid_alive(None)


def test_run_in_child_returns_the_result_and_relays_progress():
    text = "the cat sat on the mat. the dog sat on the log. " * 40
    seen: list[tuple[int, int]] = []
    result = child_jobs.run_in_child(child_jobs.train_bpe, text, 300, progress=lambda d, t: seen.append((d, t)))
    local = tokenizers.BPETokenizer.train(text, 300)
    assert tokenizers.tokenizer_from_json(result).encode(text) == local.encode(text)
    assert seen and all(total == 300 - 256 for _done, total in seen)  # (merges done, merges asked)


def test_run_in_child_error_keeps_class_message_and_hint():
    with pytest.raises(TokenizerError) as info:
        child_jobs.run_in_child(child_jobs.train_word, "some words here", 1)
    assert "at least 2 tokens" in info.value.message and info.value.hint


def test_run_in_child_cancelled_before_any_answer():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        child_jobs.run_in_child(child_jobs.train_word, "some words here", 10, cancel=cancel)
