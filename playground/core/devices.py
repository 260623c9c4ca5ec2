"""Where a model runs and whether it fits there: device choice, free memory, the fit check, and
the CPU speed guard (``check_speed``: GPT-2 124M on a CPU is refused with its time per step).

Kept apart from the network (model.py) because these answer questions about the machine.
The GUI process never calls what touches CUDA here (``pick_device``, ``device_description``,
``check_fits`` on a GPU): creating a CUDA context costs hundreds of MB and seconds, so the
training child, or a short child job, asks instead.
"""

from __future__ import annotations

from dataclasses import replace

import psutil
import torch

from playground.core.config import FP32, ModelConfig, memory_problem, param_count, size_words
from playground.errors import ModelError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def available_memory(device: torch.device | str | None = None) -> int | None:
    """Free bytes where the model will live (GPU memory for CUDA, RAM otherwise); None if unknown."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return int(psutil.virtual_memory().available)
    except (OSError, RuntimeError):  # psutil raises these where the OS refuses to say
        return None


def check_fits(cfg: ModelConfig, batch_size: int, device: torch.device | str | None = None) -> None:
    """Refuse, before anything is allocated, a training setup the machine cannot hold.

    ``device`` None means the one training would pick (pick_device()): GPU memory on CUDA,
    RAM otherwise.
    """
    cfg.validate()
    device = torch.device(device) if device is not None else pick_device()
    if batch_size < 1:
        raise ModelError(f"The batch size must be at least 1 (got {batch_size}).")
    problem = memory_problem(cfg, batch_size, available_memory(device),
                             "GPU memory" if device.type == "cuda" else "memory")
    if problem is not None:
        raise problem


def check_weights_fit(cfg: ModelConfig) -> None:
    """Refuse a model whose fp32 weights alone would not fit in RAM (before building it)."""
    free = available_memory("cpu")
    needed = FP32 * param_count(cfg)
    if free is not None and needed > free:
        raise ModelError(f"The model's weights alone need {size_words(needed)}, but only {size_words(free)} "
                         "of memory is free.", hint="Make the model smaller.")


# Refused on a CPU unless forced: models whose blocks alone hold this many weights (GPT-2 124M's
# hold 85 M; the Medium preset's 10.6 M). A step takes a minute there, a day's training a year.
CPU_REFUSE_BLOCK_PARAMS = 50_000_000
# The share of a CPU's plain matrix-product speed a whole training step reaches at these sizes
# (the linear layers dominate; measured: Small reaches ~0.7 of it on 2 cores).
CPU_STEP_EFFICIENCY = 0.6


def step_flops(cfg: ModelConfig, batch_size: int, grad_accum: int = 1) -> float:
    """Floating-point operations of one optimizer step, forward and backward.

    nanoGPT's estimate (PaLM, appendix B): 6 per parameter per token, plus the attention
    scores' 12·L·T·C per token.
    """
    T = cfg.context_length
    per_token = 6 * param_count(cfg) + 12 * cfg.n_layer * T * cfg.d_model
    return float(per_token * T * batch_size * grad_accum)


def cpu_flops_per_s(seconds: float = 0.15) -> float:
    """This CPU's fp32 matrix-product speed now, measured (all of torch's threads)."""
    import time

    a = torch.randn(512, 512)  # (512, 512)
    b = torch.randn(512, 512)  # (512, 512)
    a @ b  # warm-up: the first product loads the BLAS kernels
    n, t0 = 0, time.perf_counter()
    while (dt := time.perf_counter() - t0) < seconds or n < 2:
        a @ b  # (512, 512)
        n += 1
    return n * 2 * 512**3 / dt


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 86400:.0f} days"


def check_speed(cfg: ModelConfig, train_cfg, device: torch.device, *, force: bool = False) -> None:
    """Refuse a GPT-2-sized model on a CPU, with the time one step would take (unless ``force``)."""
    blocks = param_count(cfg) - param_count(replace(cfg, n_layer=0)) if cfg.arch != "bigram" else 0
    if force or device.type != "cpu" or blocks < CPU_REFUSE_BLOCK_PARAMS:
        return
    accum = getattr(train_cfg, "grad_accum", 1)
    step = step_flops(cfg, train_cfg.batch_size, accum) / (cpu_flops_per_s() * CPU_STEP_EFFICIENCY)
    raise ModelError(
        f"This model ({param_count(cfg) / 1e6:.0f} M parameters) is too big to train on this computer's CPU: "
        f"one step (batch {train_cfg.batch_size} × {accum} accumulated, context {cfg.context_length}) would "
        f"take about {_duration(step)}, and {train_cfg.iters:,} steps about {_duration(step * train_cfg.iters)}.",
        hint="Train it on a machine with a GPU (the Train tab's \"Run this at scale…\" gives the command), "
             "or pick a smaller model. On the command line, --force trains it here anyway.")


def pick_device(prefer: str = "auto") -> torch.device:
    """CUDA if present, then Apple's MPS, then the CPU; or exactly what was asked for."""
    prefer = (prefer or "auto").lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if prefer == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_ok:
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(prefer)
    except RuntimeError as exc:
        raise ModelError(f"Unknown device {prefer!r}.", hint="Use auto, cpu, cuda or mps.") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError("A CUDA GPU was asked for, but PyTorch sees none on this machine.",
                         hint="Use device auto or cpu, or install a CUDA build of PyTorch.")
    if device.type == "mps" and not mps_ok:
        raise ModelError("Apple's MPS GPU was asked for, but it is not available here.", hint="Use device auto or cpu.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ModelError(f"Unsupported device {prefer!r}.", hint="Use auto, cpu, cuda or mps.")
    return device


def device_description(device: torch.device | str) -> str:
    """One line for the status bar: "CPU · 2 threads", "CUDA · NVIDIA H100 · 80 GB"."""
    device = torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"CUDA · {props.name} · {props.total_memory / 2**30:.0f} GB"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    threads = torch.get_num_threads()
    return f"CPU · {threads} thread{'s' if threads != 1 else ''}"
