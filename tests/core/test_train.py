"""The training loop: events, schedule, checkpoints, exact resume, pause/stop, failures."""

from __future__ import annotations

import errno
import math
import multiprocessing
import shutil
import threading

import pytest
import torch

from playground import paths
from playground.core import model as model_mod
from playground.core.checkpoint import Run
from playground.core.config import ModelConfig, TrainConfig, lr_at
from playground.core.corpus import from_text, load_file
from playground.core.events import COMPILING_NOTE, Checkpointed, Eval, Finished, Note, Sample, Step
from playground.core.model import ForwardResult
from playground.core.tokenizers import CharTokenizer
from playground.core.train import Trainer
from playground.errors import CheckpointError, CorpusError, TrainingError

TEXT = "".join(f"The {w} sat on the mat number {i % 7}.\n" for i, w in
               enumerate(["cat", "dog", "fox", "owl", "bee"] * 60))


def make_run(name="t", text=TEXT, dropout=0.0, **train_kw):
    corpus = from_text(text)
    tok = CharTokenizer.train(text)
    mcfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=2, n_head=2, d_model=32,
                       dropout=dropout)
    kw = dict(iters=20, batch_size=4, eval_interval=10, eval_iters=2, sample_tokens=8, warmup=4,
              device="cpu", lr=3e-3)
    kw.update(train_kw)
    tcfg = TrainConfig(**kw)
    return Run.create(name, mcfg, tcfg, corpus.record(tcfg.split), tok), corpus


def steps(events):
    return [e for e in events if isinstance(e, Step)]


def test_lr_schedule_warmup_then_cosine_to_min():
    cfg = TrainConfig(iters=100, lr=1e-3, min_lr=1e-4, warmup=10)
    assert lr_at(cfg, 0) == pytest.approx(1e-3 / 11)
    assert lr_at(cfg, 9) == pytest.approx(1e-3 * 10 / 11)
    assert lr_at(cfg, 10) == pytest.approx(1e-3)
    assert lr_at(cfg, 99) == pytest.approx(1e-4)  # the last step
    assert lr_at(cfg, 10 + 89 / 2) == pytest.approx(5.5e-4)  # half-way down the cosine
    lrs = [lr_at(cfg, s) for s in range(10, 100)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_config_validation():
    with pytest.raises(TrainingError, match="learning rate"):
        TrainConfig(lr=0).validate()
    with pytest.raises(TrainingError, match="training fraction"):
        TrainConfig(split=1.0).validate()


def test_training_events_files_and_learning():
    run, corpus = make_run(iters=30)
    events = list(Trainer(run, corpus).run())
    kinds = [type(e).__name__ for e in events]
    # Step 0: evaluate, checkpoint and sample the untrained model; then the same every 10 steps.
    assert kinds[:3] == ["Eval", "Checkpointed", "Sample"]
    assert kinds[3:13] == ["Step"] * 10 and kinds[13:16] == ["Eval", "Checkpointed", "Sample"]
    assert isinstance(events[-1], Finished) and events[-1].reason == "done" and events[-1].it == 30
    assert [s.it for s in steps(events)] == list(range(1, 31))
    evals = [e for e in events if isinstance(e, Eval)]
    assert [e.it for e in evals] == [0, 10, 20, 30]
    V = run.tokenizer.vocab_size
    assert evals[0].val_loss == pytest.approx(math.log(V), abs=0.3)  # random weights: ~uniform guessing
    assert evals[-1].val_loss < evals[0].val_loss - 1.0  # it learned something
    assert all(s.tokens_per_s > 0 for s in steps(events))
    samples = [e for e in events if isinstance(e, Sample)]
    assert len(samples) == 4 and all(len(s.text) >= 8 for s in samples)
    assert [c.it for c in events if isinstance(c, Checkpointed)] == [0, 10, 20, 30]

    # The run folder says the same as the events.
    run = Run.open("t")
    assert run.status == "finished" and run.step == 30 and run.info["device"] == "cpu"
    assert run.info["best_val_loss"] == pytest.approx(min(e.val_loss for e in evals))
    assert [r["loss"] for r in run.metrics("step")] == [s.loss for s in steps(events)]
    assert [r["lr"] for r in run.metrics("step")] == [s.lr for s in steps(events)]
    assert run.evals() == [(e.it, e.train_loss, e.val_loss) for e in evals]
    assert [s for s, _ in run.snapshots()] == [0, 10, 20, 30]
    assert torch.load(run.snapshot_path(30), weights_only=True)["val_loss"] == pytest.approx(evals[-1].val_loss)
    model = run.load_model()
    x = torch.tensor([run.tokenizer.encode("The cat sat on ")])
    assert model(x).logits.shape == (1, 15, V)


def _stop_at(gen, at, stop):
    events = []
    for e in gen:
        events.append(e)
        if isinstance(e, Step) and e.it == at:
            stop.set()
    return events


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_resume_continues_exactly(dropout):
    # eval every 4 steps, so the stop at 10 checkpoints at a step the straight run never saves.
    straight_run, corpus = make_run("straight", dropout=dropout, iters=20, eval_interval=4)
    straight = list(Trainer(straight_run, corpus).run())

    run, corpus = make_run("halves", dropout=dropout, iters=20, eval_interval=4)
    stop = threading.Event()
    first = _stop_at(Trainer(run, corpus, stop=stop).run(), 10, stop)
    assert first[-2] == Checkpointed(10, str(run.snapshot_path(10)))
    assert first[-1].reason == "stopped" and first[-1].it == 10
    assert Run.open("halves").status == "stopped"

    second = list(Trainer(Run.open("halves"), corpus, resume=True).run())
    assert isinstance(second[0], Note) and "step 10" in second[0].message
    assert [s.it for s in steps(second)] == list(range(11, 21))
    a = [s.loss for s in steps(straight)]
    b = [s.loss for s in steps(first) + steps(second)]
    assert b == a  # bit for bit: same batches, same dropout masks, same optimizer state
    assert [e.val_loss for e in straight if isinstance(e, Eval) and e.it > 10] == pytest.approx(
        [e.val_loss for e in second if isinstance(e, Eval)], abs=1e-6)
    # The log holds each step once, in order.
    assert [r["it"] for r in Run.open("halves").metrics("step")] == list(range(1, 21))


def test_resume_after_crash_redoes_steps_since_last_checkpoint():
    straight_run, corpus = make_run("straight", iters=12, eval_interval=5)
    straight = [s.loss for s in steps(Trainer(straight_run, corpus).run())]

    run, corpus = make_run("crashy", iters=12, eval_interval=5)
    gen = Trainer(run, corpus).run()
    for e in gen:
        if isinstance(e, Step) and e.it == 8:
            break  # the process dies here: steps 6-8 are logged but not checkpointed
    gen.close()
    assert [r["it"] for r in Run.open("crashy").metrics("step")] == list(range(1, 9))
    resumed = list(Trainer(Run.open("crashy"), corpus).run())  # latest.pt exists: resumes
    assert [s.it for s in steps(resumed)] == list(range(6, 13))
    assert [r["loss"] for r in Run.open("crashy").metrics("step")] == pytest.approx(straight, abs=1e-6)


def test_same_seed_same_losses_other_seed_differs():
    r1, c = make_run("a", iters=6)
    r2, _ = make_run("b", iters=6)
    r3, _ = make_run("c", iters=6, seed=7)
    l1, l2, l3 = ([s.loss for s in steps(Trainer(r, c).run())] for r in (r1, r2, r3))
    assert l1 == l2 and l1 != l3


class _PollCounter:
    """A stop object whose wait() returns at once and lifts the pause after a few polls."""

    def __init__(self, pause, polls):
        self.pause, self.polls, self.waits = pause, polls, []

    def is_set(self):
        return False

    def wait(self, timeout):
        self.waits.append(timeout)
        if len(self.waits) >= self.polls:
            self.pause.clear()
        return False


def test_pause_holds_the_loop_on_timed_polls():
    run, corpus = make_run(iters=6, eval_interval=100)
    pause = threading.Event()
    stop = _PollCounter(pause, polls=4)
    seen = []
    for e in Trainer(run, corpus, pause=pause, stop=stop).run():
        if isinstance(e, Step):
            seen.append((e.it, len(stop.waits)))
            if e.it == 3:
                pause.set()
    # No step while paused; the loop waited on stop.wait(0.05) four times, then went on.
    assert seen == [(1, 0), (2, 0), (3, 0), (4, 4), (5, 4), (6, 4)]
    assert stop.waits == [0.05] * 4


def test_stop_checkpoints_and_works_with_multiprocessing_event():
    run, corpus = make_run(iters=50, eval_interval=100)
    stop = multiprocessing.get_context("spawn").Event()
    events = _stop_at(Trainer(run, corpus, stop=stop).run(), 7, stop)
    assert events[-2] == Checkpointed(7, str(run.snapshot_path(7)))
    assert events[-1] == Finished("stopped", 7, events[-1].message)
    assert "resume" in events[-1].message
    assert Run.open(run.name).load_latest()["step"] == 7
    assert Run.open(run.name).status == "stopped"


def test_stop_while_paused():
    run, corpus = make_run(iters=50, eval_interval=100)
    pause, stop = threading.Event(), threading.Event()
    pause.set()
    stop.set()
    events = list(Trainer(run, corpus, pause=pause, stop=stop).run())
    assert events[-1].reason == "stopped" and events[-1].it == 0
    assert steps(events) == []


def _poison(monkeypatch, at_call, make_output):
    """Make the model's training forward misbehave from its ``at_call``-th call on."""
    real_build = model_mod.build_model
    calls = {"n": 0}

    def build(cfg):
        m = real_build(cfg)

        def hook(module, args, output):
            if not module.training:
                return output
            calls["n"] += 1
            return make_output(output) if calls["n"] >= at_call else output

        m.register_forward_hook(hook)
        return m

    monkeypatch.setattr(model_mod, "build_model", build)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(monkeypatch):
    _poison(monkeypatch, 13, lambda out: ForwardResult(out.logits, out.loss * float("nan")))
    run, corpus = make_run(iters=30, eval_interval=5)
    events = list(Trainer(run, corpus).run())
    last = events[-1]
    assert last.reason == "nan" and last.it == 13 and last.suggest == "lr"
    assert "Lower the learning rate" in last.message and "step 10" in last.message
    assert [s.it for s in steps(events)] == list(range(1, 13))
    state = Run.open(run.name).load_latest()
    assert state["step"] == 10
    assert all(torch.isfinite(v).all() for v in state["model"].values())
    assert [s for s, _ in run.snapshots()] == [0, 5, 10]
    assert Run.open(run.name).status == "failed"


def test_out_of_memory_finishes_with_advice(monkeypatch):
    def oom(out):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    _poison(monkeypatch, 3, oom)
    run, corpus = make_run(iters=30, eval_interval=100)
    events = list(Trainer(run, corpus).run())
    assert events[-1].reason == "oom" and events[-1].it == 2 and events[-1].suggest == "batch_size"
    assert "batch size" in events[-1].message and "step 0" in events[-1].message
    assert Run.open(run.name).status == "failed"


def test_disk_full_during_training_keeps_previous_checkpoint(monkeypatch):
    run, corpus = make_run(iters=30, eval_interval=5)
    real_save, saves = torch.save, []

    def save(obj, f, *a, **kw):
        saves.append(f)
        if len(saves) > 2:  # step 0's latest + snapshot succeed, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *a, **kw)

    monkeypatch.setattr(torch, "save", save)
    events = list(Trainer(run, corpus).run())
    monkeypatch.setattr(torch, "save", real_save)
    assert events[-1].reason == "error" and events[-1].it == 5
    assert "disk is full" in events[-1].message
    assert Run.open(run.name).load_latest()["step"] == 0
    assert not any(p.name.endswith(".tmp") for p in run.path.rglob("*"))


def test_compile_failure_falls_back_with_a_note(monkeypatch):
    plain_run, corpus = make_run("plain", iters=4, eval_interval=100)
    plain = [s.loss for s in steps(Trainer(plain_run, corpus).run())]

    def broken_compile(model, **kw):
        def call(*a, **k):
            raise RuntimeError("inductor: no C++ compiler found")
        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    run, corpus = make_run("compiled", iters=4, eval_interval=100, compile=True)
    events = list(Trainer(run, corpus).run())
    notes = [e.message for e in events if isinstance(e, Note)]
    assert len(notes) == 2 and notes[0] == COMPILING_NOTE and "no C++ compiler" in notes[1]
    assert [s.loss for s in steps(events)] == plain
    assert events[-1].reason == "done"


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="torch.compile on the CPU needs a C++ compiler")
@pytest.mark.timeout(300)
def test_compiled_training_matches_eager_and_caches_in_our_folder():
    plain_run, corpus = make_run("plain", iters=3, eval_interval=100)
    plain = [s.loss for s in steps(Trainer(plain_run, corpus).run())]
    run, corpus = make_run("compiled", iters=3, eval_interval=100, compile=True)
    events = list(Trainer(run, corpus).run())
    notes = [e.message for e in events if isinstance(e, Note)]
    assert notes[0] == COMPILING_NOTE
    if len(notes) > 1:  # e.g. no Python headers for the generated C++: the fallback is tested above
        pytest.skip(notes[1])
    assert [s.loss for s in steps(events)] == pytest.approx(plain, rel=1e-4)  # fused kernels round differently
    cache = paths.cache_dir() / "torch-compile"
    assert any(cache.rglob("*.py")), "torch.compile wrote its code outside PLAYGROUND_HOME"


def test_changed_or_vanished_corpus_is_refused(tmp_path):
    run, corpus = make_run(iters=4, eval_interval=2)
    list(Trainer(run, corpus).run())
    with pytest.raises(CorpusError, match="changed"):
        next(Trainer(Run.open(run.name), from_text(TEXT + "more"), resume=True).run())

    path = tmp_path / "notes.txt"
    path.write_text(TEXT, encoding="utf-8")
    file_corpus = load_file(path)
    tok = CharTokenizer.train(TEXT)
    mcfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=16)
    frun = Run.create("from-file", mcfg, TrainConfig(iters=2, batch_size=2, eval_iters=1, device="cpu",
                                                     sample_tokens=0), file_corpus.record(), tok)
    list(Trainer(frun).run())  # the record names the file: it is reloaded and verified
    path.unlink()
    with pytest.raises(CorpusError):
        next(Trainer(Run.open("from-file"), resume=True).run())


def test_resume_without_checkpoint_and_too_small_corpus():
    run, corpus = make_run(iters=4)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        next(Trainer(run, corpus, resume=True).run())
    tiny, tiny_corpus = make_run("tiny", text="abcdefghij" * 3)
    with pytest.raises(CorpusError):
        next(Trainer(tiny, tiny_corpus).run())


def test_a_fresh_start_logs_each_step_once_and_sweeps_a_killed_save():
    """Rows an attempt logged before its first checkpoint, and the temporary file of a save
    killed mid-write, are gone when the run starts (again) from step 0."""
    run, corpus = make_run("again", iters=4, eval_interval=2)
    run.append_metrics({"kind": "eval", "it": 0, "train_loss": 4.0, "val_loss": 4.0})
    run.append_metrics({"kind": "step", "it": 1, "loss": 4.0})
    run.close_metrics()
    killed = run.path / ".latest.pt.999999999.abcd1234.tmp"  # pid 999999999: no such process
    killed.write_bytes(b"half a checkpoint")
    ends = [e for e in Trainer(run, corpus).run() if isinstance(e, Finished)]
    assert ends[-1].reason == "done"
    keys = [(r["kind"], r["it"]) for r in Run(run.path).metrics()]
    assert keys == [("eval", 0), ("step", 1), ("step", 2), ("eval", 2), ("step", 3), ("step", 4), ("eval", 4)]
    assert not killed.exists()
