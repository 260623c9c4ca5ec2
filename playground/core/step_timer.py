"""Time a few real training steps of a model config (the Model tab's "Measure" button).

A step here is what the trainer does per iteration: forward, loss, backward, gradient clipping
and a fused AdamW update, on random tokens of the chosen batch shape. The first step pays for
allocations and kernel set-up, so it is run but not counted; the median of the rest is the
answer (robust to one slow step when the machine is busy).

It stays in the core, not in ``playground.bench``: it is a feature of the app (run by the Model
tab in a helper process), not one of the `playground bench` measurements.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from playground.core import config, devices, train
from playground.core import model as model_mod
from playground.errors import Cancelled, ModelError

WARMUP_STEPS = 1


def _sync(device: torch.device) -> None:
    # CUDA/MPS queue work asynchronously: without a sync the clock would stop too early.
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_training_step(
    cfg: config.ModelConfig,
    batch_size: int,
    steps: int = 5,
    *,
    device: str = "auto",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    cancel: Any = None,
) -> dict[str, Any]:
    """Run ``WARMUP_STEPS + steps`` training steps; return the median time of the last ``steps``.

    ``progress(done, total)`` is called after each step; ``cancel`` (an Event) is polled between
    steps and raises Cancelled. A config too big for the machine raises ModelError (check_fits)
    before anything is allocated.
    """
    if steps < 1:
        raise ModelError(f"Measure at least one step (got {steps}).")
    dev = devices.pick_device(device)
    devices.check_fits(cfg, batch_size, dev)
    torch.manual_seed(seed)
    model = model_mod.build_model(cfg).to(dev).train()
    opt = train.make_optimizer(model, config.TrainConfig(), dev)  # the trainer's own (fused where possible)
    params = [p for g in opt.param_groups for p in g["params"]]
    B, T, V = batch_size, cfg.context_length, cfg.vocab_size
    x = torch.randint(0, V, (B, T), device=dev)  # (B, T) random token ids
    y = torch.randint(0, V, (B, T), device=dev)  # (B, T) random "next" tokens
    total = WARMUP_STEPS + steps
    times: list[float] = []
    for i in range(total):
        if cancel is not None and cancel.is_set():
            raise Cancelled("Measuring was cancelled.")
        _sync(dev)
        t0 = time.perf_counter()
        try:
            loss = model(x, y).loss  # ()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            _sync(dev)
        except (RuntimeError, MemoryError) as exc:
            text = str(exc).lower()
            if not isinstance(exc, MemoryError) and "out of memory" not in text \
                    and "can't allocate" not in text:
                raise
            raise ModelError("The device ran out of memory during a training step.",
                             hint="Lower the batch size or make the model smaller.") from exc
        if i >= WARMUP_STEPS:
            times.append(time.perf_counter() - t0)
        if progress is not None:
            progress(i + 1, total)
    seconds = statistics.median(times)
    return {
        "ms_median": seconds * 1000,
        "ms_steps": [t * 1000 for t in times],
        "tokens_per_s": B * T / seconds,
        "steps": steps,
        "batch_size": B,
        "context_length": T,
        "device": dev.type,
        "device_description": devices.device_description(dev),
    }
