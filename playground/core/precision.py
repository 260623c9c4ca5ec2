"""Number formats for training on each device: what runs in 16 bits, and what keeps fp32.

    autocast, scaler, name = precision.for_device(device)   # also switches TF32 on for CUDA
    with autocast:
        loss = model(x, y).loss
    scaler.scale(loss).backward(); scaler.unscale_(opt); ...; scaler.step(opt); scaler.update()

- CUDA with bf16 (Ampere and newer): autocast to bfloat16. It has fp32's range, so gradients
  need no scaling; the weights and AdamW's moments stay fp32.
- Older CUDA GPUs: autocast to float16 with a GradScaler, whose loss scale keeps small
  gradients from rounding to zero (and skips a step whose gradients overflowed).
- CUDA matrix products that stay fp32 use TF32 tensor cores (10-bit mantissa, as nanoGPT does).
- CPU and Apple's MPS: plain fp32. A CPU without bf16 units runs autocast slower, and fp32 keeps
  a resumed run bit-for-bit equal to an unbroken one.

The scaler is always there, disabled where it has nothing to do: its methods then pass through
unchanged, so the training loop has one shape for every device.
"""

from __future__ import annotations

import contextlib

import torch


def autocast_dtype(device: torch.device, bf16_supported: bool | None = None) -> torch.dtype | None:
    """The dtype training autocasts to on ``device``; None: fp32 throughout."""
    if device.type != "cuda":
        return None
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if bf16_supported else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A context that runs the forward pass in ``dtype`` (nothing when None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, dtype: torch.dtype | None) -> torch.amp.GradScaler:
    """A loss scaler, enabled only for float16 (bf16 and fp32 have the range without it)."""
    return torch.amp.GradScaler(device.type if device.type == "cuda" else "cpu", enabled=dtype == torch.float16)


def enable_tf32(device: torch.device) -> None:
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def name_of(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def for_device(device: torch.device):
    """(autocast context, grad scaler, "bf16" | "fp16" | "fp32") for training on ``device``."""
    enable_tf32(device)
    dtype = autocast_dtype(device)
    return autocast(device, dtype), grad_scaler(device, dtype), name_of(dtype)
