"""Two training processes (gloo on the CPU), as torchrun starts them, through `playground train`.

One fresh interpreter imports torch and the training path once with PySide6 and pyqtgraph
blocked (the training path must run where Qt is absent, as on a GPU server), then forks the two
ranks with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT): the same
`playground.cli.main` torchrun's `-m playground train` runs, without three more torch imports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from playground.core import distributed
from playground.core.checkpoint import Run
from playground.core.events import Finished, Note, Step
from playground.core.model_cache import MODELS
from playground.core.train import Trainer

ITERS, ACCUM, BATCH, SEED = 30, 2, 8, 1337

TWO_RANKS = textwrap.dedent("""
    import os, socket, sys
    for name in ("PySide6", "pyqtgraph"):
        sys.modules[name] = None  # any import of Qt now raises ImportError
    import torch
    import torch._dynamo  # AdamW's first construction imports it: once here, not once per rank
    import playground.core.train, playground.core.corpus, playground.core.tokenizers  # once, before the fork
    from playground.cli import main
    from playground.core import distributed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    children = []
    for rank in range(2):
        pid = os.fork()
        if pid == 0:
            os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2",
                              MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            torch.set_num_threads(1)
            code = main(sys.argv[1:])
            distributed.shutdown()
            qt = [m for m, v in sys.modules.items() if m.startswith(("PySide6", "pyqtgraph")) and v is not None]
            os._exit(3 if qt else code)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    print("exit codes", codes)
    sys.exit(max(codes, key=abs))
""")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """A 1-layer model trained by two ranks: 30 steps of 2 micro-batches of 8 on each."""
    home = tmp_path_factory.mktemp("ddp-home")
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "OMP_NUM_THREADS": "1"}
    args = ["train", "--corpus", "builtin:grammar-lessons", "--tokenizer", "char", "--preset", "tiny",
            "--n-layer", "1", "--n-head", "2", "--d-model", "32", "--context", "32", "--batch", str(BATCH),
            "--grad-accum", str(ACCUM), "--iters", str(ITERS), "--eval-interval", str(ITERS), "--lr", "3e-3",
            "--warmup", "0", "--seed", str(SEED), "--device", "cpu", "--name", "ddp", "--quiet"]
    proc = subprocess.Popen([sys.executable, "-c", TWO_RANKS, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and both ranks
        out, err = proc.communicate()
    assert proc.returncode == 0, (out + err)[-3000:]
    return home / "data" / "runs" / "ddp"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the two ranks are forked (POSIX only)")
def test_two_processes_train_one_run(ddp_run, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_HOME", str(ddp_run.parents[2]))
    assert [p.name for p in ddp_run.parent.iterdir() if not p.name.startswith(".")] == ["ddp"]  # one folder
    run = Run.open(ddp_run)
    assert run.status == "finished" and run.step == ITERS and run.info["processes"] == 2
    assert run.train_config.grad_accum == ACCUM
    evals = run.evals()
    assert [it for it, _t, _v in evals] == [0, ITERS]  # rank 0 alone wrote: each evaluation once
    assert evals[-1][2] < evals[0][2] - 0.5  # the validation loss fell
    assert [r["it"] for r in run.metrics("step")] == list(range(1, ITERS + 1))

    # The ranks drew different batches: each rank's generator, saved with the run, is exactly its
    # own seed's after ITERS × ACCUM draws, and the two streams differ from their first batch on.
    state = run.load_latest()
    ranks = state["rng_ranks"]
    assert len(ranks) == 2 and torch.equal(ranks[0]["batch"], state["rng"]["batch"])
    replay = Run.create("replay", run.model_config, run.train_config, run.corpus_record, run.tokenizer)
    trainer = Trainer(replay)
    trainer._setup()
    firsts = []
    for rank in (0, 1):
        gen = torch.Generator().manual_seed(distributed.batch_seed(SEED, rank))
        firsts.append(trainer.data.batch("train", gen)[0])  # (B, T)
        for _ in range(ITERS * ACCUM - 1):
            trainer.data.batch("train", gen)
        assert torch.equal(gen.get_state(), ranks[rank]["batch"]), f"rank {rank} drew another stream"
    assert not torch.equal(firsts[0], firsts[1])

    # The run opens in the app's loader like any other.
    loaded = MODELS.get(run.path, ITERS)
    x = torch.tensor([run.tokenizer.encode("the cat ")])  # (1, 8)
    assert loaded.model(x).logits.shape == (1, 8, run.tokenizer.vocab_size)

    # And it resumes in one process, from the step the two left off at.
    run.update(train={**run.info["train"], "iters": ITERS + 2, "eval_iters": 2, "sample_tokens": 0})
    events = list(Trainer(Run.open(ddp_run), resume=True).run())
    assert isinstance(events[0], Note) and f"step {ITERS}" in events[0].message
    assert [e.it for e in events if isinstance(e, Step)] == [ITERS + 1, ITERS + 2]
    assert isinstance(events[-1], Finished) and events[-1].reason == "done"
    assert events[-1].it == ITERS + 2


def test_rank_environment_is_read_and_checked():
    assert distributed.from_env({}) == distributed.Dist(0, 1, 0)
    d = distributed.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (d.rank, d.world_size, d.local_rank, d.enabled, d.is_main) == (3, 4, 1, True, False)
    from playground.errors import TrainingError

    with pytest.raises(TrainingError, match="Rank 4 of a world of 4"):
        distributed.from_env({"RANK": "4", "WORLD_SIZE": "4"})
    assert distributed.batch_seed(SEED, 0) == SEED  # one process trains exactly as before
    assert len({distributed.batch_seed(SEED, r) for r in range(8)} | {SEED + 1}) == 9  # nor the eval seed


def test_gradient_accumulation_is_one_bigger_batch():
    """batch 4 × 2 accumulated = batch 8: the same 8 windows (the generator draws them in the
    same order), the same mean loss and gradient, so the same steps up to float rounding."""
    from playground.core.config import ModelConfig, TrainConfig
    from playground.core.corpus import from_text
    from playground.core.tokenizers import CharTokenizer

    text = "".join(f"the {w} sat on mat {i % 7}.\n" for i, w in enumerate(["cat", "dog", "owl"] * 60))
    corpus, tok = from_text(text), CharTokenizer.train(text)
    losses = {}
    for batch, accum in ((8, 1), (4, 2)):
        mcfg = ModelConfig(vocab_size=tok.vocab_size, context_length=16, n_layer=1, n_head=2, d_model=32)
        tcfg = TrainConfig(iters=4, batch_size=batch, grad_accum=accum, eval_interval=4, eval_iters=1,
                           sample_tokens=0, warmup=0, lr=3e-3, device="cpu")
        run = Run.create(f"accum-{accum}", mcfg, tcfg, corpus.record(tcfg.split), tok)
        losses[accum] = [e.loss for e in Trainer(run, corpus).run() if isinstance(e, Step)]
    assert len(losses[1]) == 4 and losses[2] == pytest.approx(losses[1], rel=1e-5, abs=1e-5)
    assert losses[1][-1] < losses[1][0]


def test_old_runs_without_grad_accum_load_and_bad_values_are_refused():
    from playground.core.config import TrainConfig
    from playground.errors import TrainingError

    assert TrainConfig(**{k: v for k, v in TrainConfig().to_dict().items() if k != "grad_accum"}).grad_accum == 1
    with pytest.raises(TrainingError, match="Gradient accumulation"):
        TrainConfig(grad_accum=0).validate()
