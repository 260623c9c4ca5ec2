"""What the CLI says when the student, or the machine, gets in the way (issue: nothing is lost)."""

from __future__ import annotations

import errno
import os
import sys

import pytest
from test_cli import TINY, assert_user_error, play, play_here

from playground.core import run_lock
from playground.core.checkpoint import Run, list_runs


def _trained(home, *extra: str) -> Run:
    out = play_here("train", "--corpus", "builtin:counting", *TINY, "--iters", "4", "--eval-interval", "2",
                    "--quiet", *extra, home=home)
    assert out.returncode == 0, out.stderr
    return list_runs()[0]


def test_a_run_being_trained_elsewhere_is_refused(playground_home):
    run = _trained(playground_home)
    rows = len(run.metrics())
    with run_lock.acquire(run.path):  # this test process plays the other trainer
        out = play("train", "--resume", run.name, "--iters", "8", home=playground_home)
    assert_user_error(out, "already training", "pid ")
    assert len(Run.open(run.name).metrics()) == rows  # the refused one wrote nothing
    assert Run.open(run.name).step == 4


def test_latin1_corpus_gets_the_note_the_app_shows(playground_home, tmp_path):
    text = ("Café crème, déjà vu. " * 60 + "\n") * 4
    path = tmp_path / "latin.txt"
    path.write_bytes(text.encode("latin-1"))
    out = play_here("train", "--corpus", str(path), *TINY, "--iters", "2", "--eval-interval", "2", "--quiet",
                    home=playground_home)
    assert out.returncode == 0, out.stderr
    assert "note: Not UTF-8" in out.stderr


def test_a_huge_learning_rate_suggests_the_sizes_default(playground_home):
    out = play_here("train", "--corpus", "builtin:counting", *TINY, "--iters", "30", "--eval-interval", "5",
                    "--lr", "1e9", "--warmup", "0", "--quiet", home=playground_home)
    assert_user_error(out, "diverged")
    assert "e.g. to 0.003" in out.stderr  # tiny's default (config.training_defaults), not 1e9 / 3


# ----------------------------------------------------------------------------- runs that never started


def test_a_run_refused_before_its_first_step_is_not_kept(playground_home, tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("far too little text\n", encoding="utf-8")
    out = play_here("train", "--corpus", str(small), *TINY, "--iters", "4", "--name", "tiny-text", home=playground_home)
    assert_user_error(out, "too small")
    assert list_runs() == []  # it never became `--run latest`
    assert not (playground_home / "data" / "runs" / "tiny-text").exists()
    assert_user_error(play_here("generate", "--run", "latest", home=playground_home), "no runs yet")


def _killed_before_first_checkpoint(name: str) -> Run:
    """What a SIGKILL during the set-up leaves: a run folder with settings but no weights."""
    from playground.core import config
    from playground.core import corpus as corpus_mod
    from playground.core.tokenizers import CharTokenizer

    corpus = corpus_mod.load("builtin:counting")
    tok = CharTokenizer.train(corpus.text)
    cfg = config.ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
    run = Run.create(name, cfg, config.TrainConfig(iters=4, eval_interval=2, batch_size=4, warmup=0),
                     corpus.record(0.9), tok)
    run.update(status="training")
    return run


def test_a_run_killed_before_its_first_checkpoint_can_be_restarted(playground_home):
    run = _killed_before_first_checkpoint("early")
    out = play_here("train", "--resume", "early", home=playground_home)
    assert_user_error(out, "no checkpoint", "playground train --restart early")
    out = play_here("train", "--restart", "early", "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    run = Run.open("early")
    assert run.status == "finished" and run.step == 4 and run.load_latest()["step"] == 4
    assert [(r["kind"], r["it"]) for r in run.metrics("eval")] == [("eval", 0), ("eval", 2), ("eval", 4)]


def test_restart_refuses_to_throw_away_trained_steps_unless_forced(playground_home):
    run = _trained(playground_home, "--name", "done")
    before = run.metrics()
    out = play_here("train", "--restart", "done", home=playground_home)
    assert_user_error(out, "4 trained steps", "--resume done", "--force")
    assert Run.open("done").metrics() == before and Run.open("done").load_latest()["step"] == 4
    out = play_here("train", "--restart", "done", "--force", "--iters", "2", "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    run = Run.open("done")
    assert run.step == 2 and run.load_latest()["step"] == 2
    assert [(r["kind"], r["it"]) for r in run.metrics()] == [
        ("eval", 0), ("step", 1), ("step", 2), ("eval", 2)]  # a new trajectory, nothing of the old one
    assert_user_error(play_here("train", "--resume", "done", "--force", home=playground_home), "--force")


# ----------------------------------------------------------------------------- the machine says no

def _refuse_one_write(monkeypatch, site: str, code: int) -> None:
    """Make one write site of the trainer fail as a full disk or a read-only folder would."""
    from pathlib import Path

    from playground.core import atomic, checkpoint

    def refuse(where):
        raise OSError(code, os.strerror(code), str(where))

    if site == "checkpoint":  # latest.pt of step 4 (torch's writer)
        real_save = atomic.torch_save

        def torch_save(obj, target):
            if obj.get("step") == 4:
                refuse(target)
            real_save(obj, target)
        monkeypatch.setattr(atomic, "torch_save", torch_save)
    elif site == "metrics":  # the row of step 3
        real_row = checkpoint.Run._write_metrics_row

        def write_row(self, row):
            if row["kind"] == "step" and row["it"] == 3:
                refuse(self.metrics_path)
            real_row(self, row)
        monkeypatch.setattr(checkpoint.Run, "_write_metrics_row", write_row)
    elif site == "run.json":  # run.json's update after the checkpoint of step 4, once
        real_json, failed = atomic.write_json, []

        def write_json(target, obj):
            if Path(target).name == "run.json" and obj.get("step") == 4 and not failed:
                failed.append(target)
                refuse(target)
            real_json(target, obj)
        monkeypatch.setattr(atomic, "write_json", write_json)


@pytest.mark.parametrize(("site", "code", "words", "kept_step"), [
    ("checkpoint", "ENOSPC", ("disk is full", "free some disk space"), 2),
    ("metrics", "ENOSPC", ("disk is full", "free some disk space"), 2),
    ("run.json", "EROFS", ("read-only", "choose a runs folder you can write to"), 4),
])
def test_a_write_refused_by_the_machine_is_said_in_words(playground_home, monkeypatch, site, code, words, kept_step):
    with monkeypatch.context() as patched:
        _refuse_one_write(patched, site, getattr(errno, code))
        out = play_here("train", "--corpus", "builtin:counting", *TINY, "--iters", "6", "--eval-interval", "2",
                        "--name", "full", "--quiet", home=playground_home)
    assert_user_error(out, *words)
    assert "errno" not in out.stderr.lower() and "unexpected" not in out.stderr
    run = Run.open("full")
    assert run.status == "stopped"  # not left "training"
    assert run.load_latest()["step"] == kept_step  # the last good checkpoint, intact
    assert run.load_model() is not None
    if site == "checkpoint":  # and the run goes on once the disk has room again
        again = play_here("train", "--resume", "full", "--quiet", home=playground_home)
        assert again.returncode == 0, again.stderr
        keys = [(r["kind"], r["it"]) for r in Run.open("full").metrics()]
        assert len(keys) == len(set(keys)) and keys[-1] == ("eval", 6)


def _cannot_write(folder) -> bool:
    """chmod made ``folder`` read-only for this user (not so for root): try it."""
    probe = folder / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return True
    probe.unlink()
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_read_only_runs_folder_is_said_in_words(playground_home, tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o555)
    if not _cannot_write(probe):  # asked first: training only to skip would waste the time
        pytest.skip("this user can write to read-only folders (root)")
    run = _trained(playground_home, "--name", "ro")
    runs = playground_home / "data" / "runs"
    folders = [runs, run.path, run.path / "checkpoints"]
    for folder in folders:
        folder.chmod(0o555)
    try:
        out = play_here("train", "--corpus", "builtin:counting", *TINY, "--iters", "2", "--quiet", home=playground_home)
        assert_user_error(out, "read-only", "PLAYGROUND_HOME")
        out = play_here("train", "--resume", "ro", "--iters", "8", "--quiet", home=playground_home)
        assert_user_error(out, "read-only", "PLAYGROUND_HOME")
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert Run.open("ro").load_latest()["step"] == 4
