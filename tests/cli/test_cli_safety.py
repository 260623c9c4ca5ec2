"""What the CLI says when the student, or the machine, gets in the way (issue: nothing is lost)."""

from __future__ import annotations

from test_cli import TINY, assert_user_error, play

from playground.core import run_lock
from playground.core.checkpoint import Run, list_runs


def _trained(home, *extra: str) -> Run:
    out = play("train", "--corpus", "builtin:counting", *TINY, "--iters", "4", "--eval-interval", "2",
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
    out = play("train", "--corpus", str(path), *TINY, "--iters", "2", "--eval-interval", "2", "--quiet",
               home=playground_home)
    assert out.returncode == 0, out.stderr
    assert "note: Not UTF-8" in out.stderr


def test_a_huge_learning_rate_suggests_the_sizes_default(playground_home):
    out = play("train", "--corpus", "builtin:counting", *TINY, "--iters", "30", "--eval-interval", "5",
               "--lr", "1e9", "--warmup", "0", "--quiet", home=playground_home)
    assert_user_error(out, "diverged")
    assert "e.g. to 0.001" in out.stderr  # tiny's default (config.training_defaults), not 1e9 / 3
