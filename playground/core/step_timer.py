"""Time a few real training steps of a model config (the Model tab's "Measure" button), and
predict from them how long a whole training takes.

A step here is what the trainer does per iteration: a random batch gathered from a token
sequence, forward, loss (read back, as the trainer logs it), backward, gradient clipping and a
fused AdamW update. The first step pays for allocations and kernel set-up, so it is run but not
counted; the median of the rest is the answer (robust to one slow step when the machine is busy).
A training also evaluates and writes a sample every ``eval_interval`` steps: a few evaluation
batches and a few sampled tokens are timed as well, so :func:`predict_seconds` can add them.

It runs in the app's training child process (``gui.training_process.measure_in_child``), with
the same threads and OpenMP settings as a training: the figure is the one training then shows.
While it measures it also notes how much of the CPU other programs took: on a busy machine
every figure is slower than it will be once the machine is idle again.

It stays in the core, not in ``playground.bench``: it is a feature of the app, not one of the
`playground bench` measurements. Torch loads only when steps are measured: the window's process
imports this module for :func:`predict_seconds` alone.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import psutil

from playground.core import config
from playground.errors import Cancelled, ModelError

WARMUP_STEPS = 1
MAX_STEPS = 200  # with min_seconds: never more counted steps than this
EVAL_BATCHES = 4  # forward passes timed for the evaluation estimate
SAMPLE_TOKENS = 16  # tokens generated for the sample estimate
CORPUS_TOKENS = 4096  # the random "corpus" batches are gathered from, as the trainer does


class _NoText:
    """Sampling needs a tokenizer only for labels and text: the timing needs neither."""

    kind = "timing"

    @staticmethod
    def decode(ids) -> str:
        return ""

    @staticmethod
    def token_label(token_id: int) -> str:
        return ""


def _sync(device) -> None:
    import torch

    # CUDA/MPS queue work asynchronously: without a sync the clock would stop too early.
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all programs, all cores) since boot."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _own_cpu_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def other_programs_cores(interval: float = 0.3) -> float:
    """How many cores programs other than this one keep busy, over the next ``interval``
    seconds (blocks: call it from a worker)."""
    busy0, own0 = _busy_cpu_seconds(), _own_cpu_seconds()
    time.sleep(interval)
    return max(0.0, (_busy_cpu_seconds() - busy0) - (_own_cpu_seconds() - own0)) / interval


def _out_of_memory(exc: BaseException) -> ModelError | None:
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate" in text:
        return ModelError("The device ran out of memory during a training step.",
                          hint="Lower the batch size or make the model smaller.")
    return None


def measure_training_step(
    cfg: config.ModelConfig,
    batch_size: int,
    steps: int = 5,
    *,
    min_seconds: float = 0.0,
    max_steps: int = MAX_STEPS,
    device: str = "auto",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Any = None,
) -> dict[str, Any]:
    """Run ``WARMUP_STEPS`` + at least ``steps`` training steps, more until they took
    ``min_seconds`` (at most ``max_steps``); return the median time of the counted steps, the
    time of one evaluation batch and of one sampled token, and the CPU other programs took.

    Why a time and not only a count: five steps of a small model last a tenth of a second, and
    one burst of another program's work then decides the figure.

    ``progress(done, total)`` is called after each timed piece (steps + warm-up + the evaluation
    + the sample; ``total`` is an estimate until the steps are done); ``cancel`` (an Event) is
    polled between steps and raises Cancelled. A config too big for the machine raises
    ModelError (check_fits) before anything is allocated.
    """
    if steps < 1:
        raise ModelError(f"Measure at least one step (got {steps}).")
    import torch

    from playground.core import devices, train
    from playground.core import model as model_mod

    # What a training does once before its first step, timed: the first optimizer also loads
    # parts of torch (seconds on a slow machine), and the student's clock is running then.
    setup0 = time.perf_counter()
    dev = devices.pick_device(device)
    devices.check_fits(cfg, batch_size, dev)
    torch.manual_seed(seed)
    model = model_mod.build_model(cfg).to(dev).train()
    opt = train.make_optimizer(model, config.TrainConfig(), dev)  # the trainer's own (fused where possible)
    setup_s = time.perf_counter() - setup0
    params = [p for g in opt.param_groups for p in g["params"]]
    B, T, V = batch_size, cfg.context_length, cfg.vocab_size
    ids = torch.randint(0, V, (max(CORPUS_TOKENS, 2 * (T + 1)),), device=dev)  # (N,) a random "corpus"
    windows = ids.unfold(0, T + 1, 1)  # (N - T, T + 1) every window, as the trainer gathers them
    gen = torch.Generator().manual_seed(seed)
    planned = steps  # counted steps: re-estimated after each one while min_seconds asks for more
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, WARMUP_STEPS + planned + 2)
        if cancel is not None and cancel.is_set():
            raise Cancelled("Measuring was cancelled.")

    def batch() -> tuple[Any, Any]:
        ix = torch.randint(windows.shape[0], (B,), generator=gen)  # (B,)
        chunk = windows[ix.to(dev)]  # (B, T + 1)
        return chunk[:, :-1], chunk[:, 1:]  # (B, T), (B, T)

    times: list[float] = []
    try:
        i = 0
        while i < WARMUP_STEPS + planned:
            if i == WARMUP_STEPS:  # the machine's CPU use is read over the counted steps only
                wall0, busy0, own0 = time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds()
            _sync(dev)
            t0 = time.perf_counter()
            x, y = batch()  # (B, T), (B, T)
            loss = model(x, y).loss  # ()
            loss.backward()
            loss.item()  # the trainer reads every step's loss back (its one host sync)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            _sync(dev)
            if i >= WARMUP_STEPS:
                times.append(time.perf_counter() - t0)
                left = max(0.0, min_seconds - sum(times))  # seconds still to time, at the pace so far
                more = math.ceil(left / max(1e-6, sum(times) / len(times)))
                planned = min(max_steps, max(steps, len(times) + more))
            i += 1
            tick()
        wall = time.perf_counter() - wall0
        others = (_busy_cpu_seconds() - busy0) - (_own_cpu_seconds() - own0)
        opt.zero_grad(set_to_none=True)

        model.eval()
        eval_times = []
        with torch.no_grad():
            for _ in range(EVAL_BATCHES):
                x, y = batch()  # (B, T), (B, T)
                _sync(dev)
                t0 = time.perf_counter()
                model(x, y).loss.item()
                _sync(dev)
                eval_times.append(time.perf_counter() - t0)
        tick()
        from playground.core.generate import stream_tokens

        sampling = config.SamplingConfig(seed=seed, max_new_tokens=SAMPLE_TOKENS)
        t0 = time.perf_counter()
        produced = sum(1 for _ in stream_tokens(model, _NoText(), [0], sampling))
        sample_s = (time.perf_counter() - t0) / max(1, produced)
        tick()
    except (RuntimeError, MemoryError) as exc:
        oom = _out_of_memory(exc)
        if oom is None:
            raise
        raise oom from exc
    seconds = statistics.median(times)
    cpus = psutil.cpu_count() or os.cpu_count() or 1
    return {
        "ms_median": seconds * 1000,
        "ms_steps": [t * 1000 for t in times],
        "ms_eval_batch": statistics.median(eval_times) * 1000,
        "ms_sample_token": sample_s * 1000,
        "ms_setup": setup_s * 1000,
        "tokens_per_s": B * T / seconds,
        "steps": len(times),
        "batch_size": B,
        "context_length": T,
        "device": dev.type,
        "device_description": devices.device_description(dev),
        "threads": torch.get_num_threads(),
        # Share of the whole machine (0..1) that other programs used while the steps ran.
        "others_cpu": max(0.0, min(1.0, others / max(1e-9, wall * cpus))),
        "load_average": [round(x, 2) for x in psutil.getloadavg()],
        "cpu_count": cpus,
    }


def evaluations(tcfg: config.TrainConfig) -> int:
    """How many evaluations (each with its checkpoint and sample) a training of ``tcfg`` runs:
    one before the first step, one every ``eval_interval`` steps, and one at the end."""
    return 1 + tcfg.iters // tcfg.eval_interval + (1 if tcfg.iters % tcfg.eval_interval else 0)


def predict_seconds(measured: dict[str, Any], tcfg: config.TrainConfig) -> float:
    """How long a training of ``tcfg`` takes, from a :func:`measure_training_step` result: the
    time the Train tab's clock shows at the end.

    The set-up before the first step (model, optimizer), the steps, and per evaluation
    ``2 × eval_iters`` forward batches (training and validation text) and a sample of
    ``sample_tokens`` tokens. Checkpoints are left out: for the sizes a CPU trains they are a
    small file each.
    """
    evals = evaluations(tcfg)
    samples = evals if tcfg.sample_interval is None else tcfg.iters // tcfg.sample_interval
    ms = (measured["ms_setup"] + tcfg.iters * measured["ms_median"]
          + evals * 2 * tcfg.eval_iters * measured["ms_eval_batch"]
          + samples * tcfg.sample_tokens * measured["ms_sample_token"])
    return ms / 1000
