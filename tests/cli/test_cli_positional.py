"""`--positional none` on the command line, and the positions experiment."""

from __future__ import annotations

import torch
from test_cli import TINY, assert_user_error, play_here

from playground.core.checkpoint import Run


def test_train_with_no_positions(playground_home):
    out = play_here("train", "--corpus", "builtin:grammar-lessons", *TINY, "--positional", "none",
                    "--iters", "2", "--eval-interval", "2", "--name", "blind", "--quiet", home=playground_home)
    assert out.returncode == 0, out.stderr
    run = Run(playground_home / "data" / "runs" / "blind")
    assert run.model_config.positional == "none"
    model = run.load_model()
    assert model.position_embeddings() is None
    assert not any("wpe" in k for k in torch.load(run.latest_path, weights_only=True)["model"])


def test_unknown_positional_is_refused(playground_home):
    out = play_here("train", "--corpus", "builtin:grammar-lessons", "--positional", "rotary", home=playground_home)
    assert_user_error(out, "invalid choice", "none")


def test_positions_experiment_prints_the_shuffle(playground_home):
    out = play_here("positions", "--iters", "3", "--sentence", "The small dog sees the red ball.",
                    home=playground_home)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Validation loss")
    assert any(line.strip().startswith("none") and "(the same)" in line for line in lines), out.stdout
    assert "In order:  'The small dog sees the red ball.'" in out.stdout
