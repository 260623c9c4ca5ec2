"""Training on several processes: torchrun's ranks, one process group, DistributedDataParallel.

    torchrun --standalone --nproc-per-node 4 -m playground train --corpus ... --preset medium

Every rank runs the same ``playground train``; torchrun tells each its place through the
environment (RANK, WORLD_SIZE, LOCAL_RANK). One process (no torchrun) is rank 0 of a world of
1 and nothing here does anything, so single-process training stays exactly as it was.

The rules the trainer follows (core/train.py):

- rank 0 alone checks the settings, creates or opens the run folder and locks it; the other
  ranks receive its path (``share_path``) and open the same folder to read its settings,
  tokenizer and checkpoint. Across machines the runs folder must therefore be on a file system
  every node sees (``PLAYGROUND_HOME`` on a shared disk);
- rank 0 alone writes: checkpoints, metrics, samples, run.json (``FollowerRun`` makes the other
  ranks' writes do nothing);
- each rank draws its own batches (``batch_seed``); the gradients are averaged by DDP, so one
  optimizer step sees batch × grad_accum × world sequences;
- every decision that ends or changes the loop (a NaN, a stop request, an evaluation) is
  agreed through one all-reduce, so no rank waits forever for one that has left.

Only ``from_env`` is torch-free: the CLI asks it before importing torch.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from playground.errors import TrainingError

if TYPE_CHECKING:  # torch is imported where it is used: from_env stays cheap
    import torch


@dataclass(frozen=True)
class Dist:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # which GPU of this machine

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Dist()


def from_env(environ: dict[str, str] | None = None) -> Dist:
    """torchrun's variables, or a single process when they are absent."""
    env = os.environ if environ is None else environ
    try:
        rank = int(env.get("RANK", "0"))
        world = int(env.get("WORLD_SIZE", "1"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise TrainingError(f"torchrun's RANK/WORLD_SIZE/LOCAL_RANK are not whole numbers ({exc}).",
                            "Start several processes with torchrun, not by setting these by hand.") from None
    if not (world >= 1 and 0 <= rank < world and local >= 0):
        raise TrainingError(f"Rank {rank} of a world of {world} processes makes no sense.",
                            "Start several processes with torchrun, not by setting these by hand.")
    return Dist(rank, world, local)


def init(device: str = "auto") -> Dist:
    """Join the process group torchrun prepared (nothing to do for one process).

    nccl between GPUs, gloo between CPU processes. On CUDA each process takes the GPU of its
    local rank before the group forms, so nccl and the model land on their own device.
    """
    import torch
    import torch.distributed as tdist

    d = from_env()
    if not d.enabled or tdist.is_initialized():
        return d
    cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(d.local_rank)
    tdist.init_process_group(backend="nccl" if cuda else "gloo")
    atexit.register(shutdown)
    return d


_path_shared = False  # rank 0: has the run's path gone out to the other ranks?


def shutdown() -> None:
    """Leave the process group (at exit). A rank 0 that never shared the run's path (its setup
    failed, and it said why) first tells the waiting ranks there is none, so they end quietly."""
    import torch.distributed as tdist

    if not (tdist.is_available() and tdist.is_initialized()):
        return
    if tdist.get_rank() == 0 and not _path_shared:
        with contextlib.suppress(Exception):
            tdist.broadcast_object_list([None], src=0)
    tdist.destroy_process_group()


def device_for(d: Dist, device: torch.device) -> torch.device:
    """The device this rank trains on: its own GPU under torchrun, else ``device``."""
    import torch

    if d.enabled and device.type == "cuda":
        return torch.device("cuda", d.local_rank)
    return device


def share_path(d: Dist, path: str | None) -> str | None:
    """Rank 0 sends the run folder's path; every rank returns it (None: rank 0 could not make
    the run; it said why, see ``shutdown``)."""
    global _path_shared
    if not d.enabled:
        return path
    import torch.distributed as tdist

    box = [path if d.is_main else None]
    tdist.broadcast_object_list(box, src=0)
    _path_shared = True
    return box[0]


def batch_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s batch generator: rank 0 keeps the run's seed (one process
    trains exactly as before), every other rank gets a stream of its own."""
    return seed + 7919 * rank  # a prime stride: far from seed + 1, the evaluation batches' seed


def agree(d: Dist, values: list[float], device: torch.device) -> list[float]:
    """The mean of each value over every rank (one all-reduce; one process: unchanged)."""
    if not d.enabled:
        return values
    import torch
    import torch.distributed as tdist

    t = torch.tensor(values, dtype=torch.float64 if device.type != "mps" else torch.float32,
                     device=device)  # (len(values),)
    tdist.all_reduce(t)
    return [v / d.world_size for v in t.tolist()]


def gather(d: Dist, obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not d.enabled:
        return [obj]
    import torch.distributed as tdist

    out: list[Any] = [None] * d.world_size
    tdist.all_gather_object(out, obj)
    return out


def wrap(d: Dist, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``module`` (it copies rank 0's weights to every rank)."""
    if not d.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def no_sync(module: torch.nn.Module, sync: bool):
    """Skip DDP's gradient all-reduce on all but the last micro-batch of an accumulated step."""
    if sync or not hasattr(module, "no_sync"):
        return contextlib.nullcontext()
    return module.no_sync()


class FollowerRun:
    """A run as a rank other than 0 sees it: everything reads, nothing writes (rank 0 does)."""

    _WRITES = frozenset({"update", "append_metrics", "save_latest", "truncate_metrics", "reset",
                         "close_metrics", "close_metrics_quietly", "prune_snapshots", "discard_unstarted"})

    def __init__(self, run) -> None:
        self._run = run

    def __getattr__(self, name: str):
        if name in self._WRITES:
            return _nothing
        return getattr(self._run, name)

    def save_snapshot(self, step: int, *_args, **_kwargs):
        return self._run.snapshot_path(step)  # where rank 0 writes it


def _nothing(*_args, **_kwargs) -> None:
    return None


# ----------------------------------------------------------------------------- the command


def train_command(*, corpus_source: str, tokenizer_kind: str, vocab_size: int | None, model_args: list[str],
                  train_cfg, name: str | None = None, processes: int = 2, nodes: int = 1) -> str:
    """The ``torchrun … -m playground train …`` line that reproduces a run on a bigger machine.

    ``model_args``: the size as CLI options (``--preset small`` or ``--n-layer …``). One machine
    uses ``--standalone``; several need a rendezvous address (the same line on every node).
    """
    if nodes > 1:
        launcher = ["torchrun", f"--nnodes={nodes}", f"--nproc-per-node={processes}",
                    "--rdzv-backend=c10d", "--rdzv-endpoint=HOST_OF_NODE_0:29500", "--rdzv-id=playground"]
    else:
        launcher = ["torchrun", "--standalone", f"--nproc-per-node={processes}"]
    t = train_cfg
    args = ["-m", "playground", "train", "--corpus", corpus_source, "--tokenizer", tokenizer_kind]
    if vocab_size is not None and tokenizer_kind in ("bpe", "word"):
        args += ["--vocab-size", str(vocab_size)]
    args += model_args
    args += ["--iters", str(t.iters), "--batch", str(t.batch_size), "--lr", f"{t.lr:g}",
             "--warmup", str(t.warmup), "--eval-interval", str(t.eval_interval), "--seed", str(t.seed),
             "--split", f"{t.split:g}"]
    if getattr(t, "grad_accum", 1) != 1:
        args += ["--grad-accum", str(t.grad_accum)]
    if t.compile:
        args.append("--compile")
    if name:
        args += ["--name", name]
    return shlex.join(launcher + args)


# The model fields `playground train` sets, as (option, ModelConfig field).
_MODEL_OPTIONS = (("--n-layer", "n_layer"), ("--n-head", "n_head"), ("--d-model", "d_model"),
                  ("--context", "context_length"), ("--dropout", "dropout"), ("--positional", "positional"),
                  ("--activation", "activation"))


def model_args(cfg) -> tuple[list[str], list[str]]:
    """The CLI options of this model's size, and the settings the CLI cannot express (if any).

    A preset is named as such; any other shape is the preset of its kind with every option given.
    """
    from dataclasses import replace

    from playground.core.config import PRESETS, preset_name_of

    name = preset_name_of(cfg)
    if name is not None:
        return ["--preset", name], []
    base_name = "bigram" if cfg.arch == "bigram" else "tiny"
    args = ["--preset", base_name]
    if cfg.arch == "bigram":
        args += ["--context", str(cfg.context_length)]
        return args, []
    if cfg.arch != "gpt":  # e.g. encoder-decoder: the CLI's --arch
        args += ["--arch", cfg.arch]
    for option, field in _MODEL_OPTIONS:
        value = getattr(cfg, field)
        args += [option, f"{value:g}" if isinstance(value, float) else str(value)]
    rebuilt = replace(PRESETS[base_name], **{f: getattr(cfg, f) for _o, f in _MODEL_OPTIONS},
                      vocab_size=cfg.vocab_size, arch=cfg.arch)
    missing = [f for f in ("tie_weights", "bias", "sinusoidal_amplitude") if getattr(rebuilt, f) != getattr(cfg, f)]
    return args, missing
