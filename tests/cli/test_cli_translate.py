"""`playground train --arch encoder-decoder`, `generate` on such a run, and `bench translate --run`."""

from __future__ import annotations

import json

import pytest
import torch
from test_cli import assert_user_error, play_here

from playground.core.checkpoint import Run
from playground.core.translate import translate

SOURCE = "the cat sees the dog"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """A tiny model: a second torch thread only adds waiting (and stalls on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_train_translate_and_score_on_the_command_line(playground_home):
    out = play_here("train", "--arch", "encoder-decoder", "--corpus", "builtin:robot-language", "--tokenizer", "char",
                    "--iters", "20", "--eval-interval", "20", "--batch", "8", "--name", "robot", "--quiet",
                    home=playground_home)
    assert out.returncode == 0, out.stderr
    run = Run(playground_home / "data" / "runs" / "robot")
    assert run.model_config.arch == "encoder-decoder" and run.model_config.n_layer == 2  # the default preset
    assert run.step == 20

    out = play_here("generate", "--run", "robot", "--prompt", SOURCE, "--tokens", "30", "--greedy",
                    home=playground_home)
    assert out.returncode == 0, out.stderr
    # The prompt is the source: the output is its translation alone, the core's greedy one.
    assert out.stdout == translate(run.load_model(), run.tokenizer, SOURCE, max_tokens=30) + "\n"
    assert not out.stdout.startswith(SOURCE)

    out = play_here("generate", "--run", "robot", "--prompt", "the cat sees the dog!", home=playground_home)
    assert_user_error(out, "never saw", "'!'")

    out = play_here("bench", "translate", "--run", "robot", "--sentences", "40", home=playground_home)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["run"] == "robot" and result["steps"] == 20 and result["validation_pairs"] == 40
    assert 0 <= result["exact_match"] <= 1 and 0 <= result["alignment"] <= 1


def test_an_encoder_decoder_needs_sentence_pairs(playground_home):
    out = play_here("train", "--arch", "encoder-decoder", "--corpus", "builtin:grammar-lessons", "--iters", "2",
                    home=playground_home)
    assert_user_error(out, "not a sentence pair")
    assert not (playground_home / "data" / "runs").exists() or not any((playground_home / "data" / "runs").iterdir())
