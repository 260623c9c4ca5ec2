"""The built-in texts trained exactly as a student's Start trains them, shared by every test that
needs a real trained model (the promises, the Attention tab's views, ablation).

A student picks a built-in on the Corpus tab, keeps the character tokenizer and the Tiny model, and
clicks Start: the Train tab's defaults (``config.training_defaults``, the same rule as the CLI's),
split 0.9, seed 1337. Each built-in is trained so at most once per test session, in child
processes of one torch thread each, two at a time (both cores busy: half the wall time of one by one).
A request trains only what it names; ``prefetch`` starts several at once (the promise tests ask
for all four). The pool ends as soon as nothing is left to train, so no worker process outlives
the trainings. Each training is a plain subprocess (``python -c``), not a multiprocessing child:
tests check that the app leaves no multiprocessing child behind.

Under pytest-xdist every test that uses these models is in the xdist group "builtin-models",
so one worker trains them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from playground.core.checkpoint import Run
from playground.core.config import TrainConfig, preset, train_config_for, training_defaults
from playground.core.events import Eval, Finished


@dataclass
class Trained:
    run: Run
    evals: list[Eval]
    seconds: float

    @property
    def val_loss(self) -> float:
        return self.evals[-1].val_loss


def student_settings(vocab_size: int) -> TrainConfig:
    """What the Train tab starts with for the Tiny preset: its defaults, split 0.9, seed 1337."""
    values, _why = training_defaults(preset("tiny", vocab_size))
    # TrainForm.train_config builds this from the form the defaults filled in.
    form = TrainConfig(**values, min_lr=values["lr"] / 10, seed=1337, split=0.9)
    assert form == train_config_for(preset("tiny", vocab_size))  # the CLI's `playground train` too
    return form


def train_at_defaults(name: str, home: str) -> tuple[str, list[Eval], float]:
    """Train built-in ``name`` as a student's Start does (runs in a subprocess: see ``_train``)."""
    import os

    import torch

    # One torch thread: at two, OpenMP's spinning threads stall for whole seconds whenever another
    # process takes a core.
    torch.set_num_threads(1)
    os.environ["PLAYGROUND_HOME"] = home
    from playground.core.corpus import load_builtin
    from playground.core.tokenizers import train_tokenizer
    from playground.core.train import Trainer

    corpus = load_builtin(name)
    tok = train_tokenizer("char", corpus.text)
    cfg = preset("tiny", tok.vocab_size)
    tcfg = student_settings(tok.vocab_size)
    run = Run.create(name, cfg, tcfg, corpus.record(tcfg.split), tok)
    start = time.perf_counter()
    events = list(Trainer(run, corpus).run())
    seconds = time.perf_counter() - start
    assert isinstance(events[-1], Finished) and events[-1].reason == "done", events[-1]
    return str(run.path), [e for e in events if isinstance(e, Eval)], seconds


class BuiltinModels:
    """``models(name) -> Trained``: each built-in trained once, when first asked for."""

    def __init__(self, home: str) -> None:
        self.home = home
        self.pool: ThreadPoolExecutor | None = None
        self.futures: dict[str, Future] = {}
        self.done: dict[str, Trained] = {}

    def prefetch(self, names: list[str]) -> None:
        """Start training ``names`` (in this order) without waiting."""
        for name in names:
            if name in self.done or name in self.futures:
                continue
            if self.pool is None:
                self.pool = ThreadPoolExecutor(max_workers=2)  # each thread waits on one subprocess
            self.futures[name] = self.pool.submit(_train, name, self.home)

    def __call__(self, name: str) -> Trained:
        if name not in self.done:
            self.prefetch([name])
            path, evals, seconds = self.futures.pop(name).result()
            self.done[name] = Trained(Run(path), evals, seconds)
            if not self.futures:
                self.close()
        return self.done[name]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _train(name: str, home: str) -> tuple[str, list[Eval], float]:
    """``train_at_defaults`` in a fresh interpreter; its answer comes back as JSON on stdout."""
    code = ("import json, sys, dataclasses; sys.path.insert(0, sys.argv[1]); import builtin_models as b; "
            "p, ev, s = b.train_at_defaults(sys.argv[2], sys.argv[3]); "
            "print(json.dumps([p, [dataclasses.asdict(e) for e in ev], s]))")
    done = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), name, home],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"training {name} failed:\n{done.stderr[-3000:]}")
    path, evals, seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return path, [Eval(**e) for e in evals], seconds
