"""The models a student trains: a Bigram table and a small GPT, plus their sizes.

``GPT`` is a pre-norm decoder-only transformer in the nanoGPT mould:

    tokens ─> token embedding + position ─> [LayerNorm ─> attention ─> +] ─> [LayerNorm ─> MLP ─> +]
           ─> ... (n_layer blocks) ─> final LayerNorm ─> unembedding ─> logits

Attention has two paths that compute the same thing. The fast path calls
``F.scaled_dot_product_attention`` (fused kernels, no T×T matrix kept). The capture path
writes the textbook formula out: ``weights = softmax(QKᵀ/√d_head + causal mask)`` and the
block's output *is* ``weights @ V`` — so what the Attention tab shows is exactly what the
model used, not a re-computation beside it.

The query, key and value projections W_Q, W_K, W_V are stored stacked in one Linear
(``attn.c_attn``, output rows ``[0:C]`` = W_Q, ``[C:2C]`` = W_K, ``[2C:3C]`` = W_V; head ``h``
owns columns ``h*d_head:(h+1)*d_head`` of each) because one matmul is faster than three;
``attn.c_proj`` is W_O.

Sizes (``param_count``, ``param_breakdown``, ``memory_estimate``) are pure functions of the
config so the Model tab can show them live without building anything.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from playground.errors import ModelError

ARCHS = ("gpt", "bigram")
POSITIONALS = ("learned", "sinusoidal")
ACTIVATIONS = ("gelu", "relu")
LAYERNORM_EPS = 1e-5
INIT_STD = 0.02


# ───────────────────────────────────────────────────────────────────────────── config


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's shape. Frozen: a config is a value, not a form."""

    vocab_size: int = 65
    context_length: int = 64
    n_layer: int = 2
    n_head: int = 2
    d_model: int = 64
    dropout: float = 0.0
    positional: str = "learned"  # "learned" | "sinusoidal"
    # The fixed sin/cos table is multiplied by this. At 1 its waves drown token embeddings that
    # start at std 0.02, and the model learns slowly; at 0.1 both are heard from the first step
    # (Tiny, 600 steps: grammar-lessons val loss 0.58 vs 0.72 at 1, as good as learned positions).
    sinusoidal_amplitude: float = 0.1
    activation: str = "gelu"  # "gelu" | "relu"
    tie_weights: bool = False
    bias: bool = True
    arch: str = "gpt"  # "gpt" | "bigram"

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head if self.n_head else 0

    def validate(self) -> None:
        """Raise ModelError naming the first field that makes no sense."""
        if self.arch not in ARCHS:
            raise ModelError(f"Unknown model type {self.arch!r}.", hint=f"Choose one of: {', '.join(ARCHS)}.")
        if not isinstance(self.vocab_size, int) or self.vocab_size < 1:
            raise ModelError(f"The vocabulary size must be at least 1 (got {self.vocab_size!r}).",
                             hint="Train a tokenizer first; its size sets the vocabulary.")
        if not isinstance(self.context_length, int) or not 1 <= self.context_length <= 65536:
            raise ModelError(f"The context length must be between 1 and 65536 tokens (got {self.context_length!r}).")
        if self.arch == "bigram":  # a lookup table: layers, heads and widths play no part
            return
        for name, low, high in (("n_layer", 1, 256), ("n_head", 1, 256), ("d_model", 1, 65536)):
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ModelError(f"{name} must be a whole number between {low} and {high} (got {value!r}).")
        if self.d_model % self.n_head:
            raise ModelError(
                f"The model width ({self.d_model}) must divide evenly among the {self.n_head} heads.",
                hint=f"Pick a width that is a multiple of {self.n_head}, e.g. {self.n_head * max(1, round(self.d_model / self.n_head))}.",
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ModelError(f"Dropout must be at least 0 and below 1 (got {self.dropout!r}).")
        if self.positional not in POSITIONALS:
            raise ModelError(f"Unknown position encoding {self.positional!r}.", hint=f"Choose one of: {', '.join(POSITIONALS)}.")
        if not 0.0 < float(self.sinusoidal_amplitude) <= 10.0:
            raise ModelError(f"The sinusoidal amplitude must be above 0 and at most 10 (got {self.sinusoidal_amplitude!r}).")
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"Unknown activation {self.activation!r}.", hint=f"Choose one of: {', '.join(ACTIVATIONS)}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Inverse of to_dict; unknown keys are an error (a newer app's run, or a typo)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ModelError(f"Unknown model setting(s): {', '.join(unknown)}.",
                             hint="This run may come from a newer version of the app.")
        if d.get("positional") == "sinusoidal" and "sinusoidal_amplitude" not in d:
            d = {**d, "sinusoidal_amplitude": 1.0}  # runs saved before the setting existed used 1
        kinds = {"int": int, "float": float, "bool": bool, "str": str}
        try:
            values = {k: kinds[known[k].type](v) for k, v in d.items()}
        except (TypeError, ValueError) as exc:
            raise ModelError(f"A model setting has the wrong type: {exc}.") from exc
        cfg = cls(**values)
        cfg.validate()
        return cfg


PRESETS: dict[str, ModelConfig] = {
    # vocab_size is a placeholder: preset(name, vocab_size) fills in the tokenizer's.
    "bigram": ModelConfig(arch="bigram", context_length=64, n_layer=0, n_head=1, d_model=65),
    "tiny": ModelConfig(context_length=64, n_layer=2, n_head=2, d_model=64, dropout=0.0),
    "small": ModelConfig(context_length=64, n_layer=4, n_head=4, d_model=128, dropout=0.0),
    "medium": ModelConfig(context_length=256, n_layer=6, n_head=6, d_model=384, dropout=0.2),
    "gpt2-124m": ModelConfig(vocab_size=50257, context_length=1024, n_layer=12, n_head=12, d_model=768,
                             dropout=0.0, tie_weights=True),
}


def preset(name: str, vocab_size: int) -> ModelConfig:
    """A named preset sized for this tokenizer's vocabulary."""
    if name not in PRESETS:
        raise ModelError(f"Unknown model preset {name!r}.", hint=f"Choose one of: {', '.join(PRESETS)}.")
    cfg = replace(PRESETS[name], vocab_size=vocab_size)
    if cfg.arch == "bigram":  # a bigram's "width" is its table's row: one score per next token
        cfg = replace(cfg, d_model=vocab_size)
    cfg.validate()
    return cfg


# ───────────────────────────────────────────────────────────────────────────── sizes


def param_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameter count per part, computed from the config alone (sums to param_count)."""
    V, C, L = cfg.vocab_size, cfg.d_model, cfg.n_layer
    if cfg.arch == "bigram":
        return {"embeddings": V * V, "positions": 0, "attention": 0, "mlp": 0, "norms": 0, "unembedding": 0}
    b = 1 if cfg.bias else 0
    norm = C + b * C  # LayerNorm: scale (+ shift)
    attention = (3 * C * C + b * 3 * C) + (C * C + b * C)  # W_Q,W_K,W_V stacked + W_O
    mlp = (4 * C * C + b * 4 * C) + (4 * C * C + b * C)  # up 4x, down
    return {
        "embeddings": V * C,
        "positions": cfg.context_length * C if cfg.positional == "learned" else 0,  # sinusoidal: a fixed buffer
        "attention": L * attention,
        "mlp": L * mlp,
        "norms": (2 * L + 1) * norm,
        "unembedding": 0 if cfg.tie_weights else V * C,  # tied: the token embedding read backwards
    }


def param_count(cfg: ModelConfig) -> int:
    return sum(param_breakdown(cfg).values())


FP32 = 4


def activation_floats(cfg: ModelConfig, batch_size: int) -> int:
    """Number of fp32 values autograd keeps alive at the peak of a training step.

    Counted from what each op saves for backward (B·T·C = one "activation"):
    per block 17 of them (LayerNorm in/out ×2, q/k/v 3, attention out + its reshaped
    copy 2, residual 1, MLP up 4 and activation 4), plus the T×T weights when the math
    attention path runs (dropout > 0); at the head: final norm and logits, log-softmax and
    the logits' gradient (3·B·T·V).
    """
    B, T, V = batch_size, cfg.context_length, cfg.vocab_size
    if cfg.arch == "bigram":
        return 3 * B * T * V
    C, L, H = cfg.d_model, cfg.n_layer, cfg.n_head
    N = B * T * C
    per_layer = 17 * N
    if cfg.dropout > 0:
        per_layer += N  # dropout masks on the residual branches
        per_layer += 3 * B * H * T * T  # SDPA's math kernel runs instead: T×T weights and masks kept
    head = 3 * N + 3 * B * T * V
    return L * per_layer + head


# The C allocator keeps freed blocks of the step's churn (glibc raises its mmap threshold
# after the first big free, so later activations live in a heap that is not trimmed):
# measured peak anonymous memory ran 1.25-1.7x the live tensor bytes of the activations.
ALLOCATOR_SLACK = 1.5


def memory_estimate(cfg: ModelConfig, batch_size: int) -> int:
    """Bytes one fp32 training step needs: weights, gradients, AdamW's two moments, activations.

    Tested against the measured peak (growth of a fresh process's anonymous memory over training
    steps, tests/core/test_model.py): within 30% at two sizes, one dominated by the
    activations and one by the weights.
    """
    P = param_count(cfg)
    states = 4 * P  # weights + gradients + exp_avg + exp_avg_sq
    optimizer_temp = P / 2  # measured: fused AdamW needs ~0, the foreach update ~1 copy of the weights
    activations = activation_floats(cfg, batch_size) * ALLOCATOR_SLACK
    return int(FP32 * (states + optimizer_temp + activations))


def _linux_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _windows_available() -> int | None:
    import ctypes

    class MemoryStatusEx(ctypes.Structure):
        _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                    ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                    ("ullTotalPageFile", ctypes.c_ulonglong), ("ullAvailPageFile", ctypes.c_ulonglong),
                    ("ullTotalVirtual", ctypes.c_ulonglong), ("ullAvailVirtual", ctypes.c_ulonglong),
                    ("sullAvailExtendedVirtual", ctypes.c_ulonglong)]

    status = MemoryStatusEx()
    status.dwLength = ctypes.sizeof(MemoryStatusEx)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
        return None
    return int(status.ullAvailPhys)


def available_memory(device: torch.device | str | None = None) -> int | None:
    """Free bytes where the model will live (GPU memory for CUDA, RAM otherwise); None if unknown."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if sys.platform.startswith("linux"):
        return _linux_available()
    if sys.platform == "win32":
        try:
            return _windows_available()
        except (OSError, AttributeError):
            return None
    try:  # macOS and other Unixes: free + inactive pages are not exposed simply; free pages are a floor
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def check_fits(cfg: ModelConfig, batch_size: int, device: torch.device | str | None = None) -> None:
    """Refuse, before anything is allocated, a training setup the machine cannot hold.

    ``device`` None means the one training would pick (pick_device()): GPU memory on CUDA,
    RAM otherwise.
    """
    cfg.validate()
    device = torch.device(device) if device is not None else pick_device()
    if batch_size < 1:
        raise ModelError(f"The batch size must be at least 1 (got {batch_size}).")
    needed = memory_estimate(cfg, batch_size)
    free = available_memory(device)
    if free is None:
        return
    if needed > free:
        where = "GPU memory" if device.type == "cuda" else "memory"
        raise ModelError(
            f"This model needs about {_gb(needed)} to train with batch size {batch_size}, "
            f"but only {_gb(free)} of {where} is free "
            f"({param_count(cfg):,} parameters).",
            hint="Make the model smaller (fewer layers, a narrower width, a shorter context) "
                 "or lower the batch size, or close other programs.",
        )


# ───────────────────────────────────────────────────────────────────────────── devices


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


# ───────────────────────────────────────────────────────────────────────────── forward I/O


@dataclass
class ForwardResult:
    logits: Tensor  # (B, T, V) — (B, 1, V) with last_only
    loss: Tensor | None = None  # () mean cross-entropy over all positions
    attention: Tensor | None = None  # (n_layer, n_head, T, S) weights of batch item 0; S = cached + T
    qkv: dict[str, Any] | None = None  # {"q": (T, d_head), "k": (S, d_head), "v": (S, d_head), "layer", "head"}
    hidden: Tensor | None = None  # (n_layer + 1, T, C) residual stream of batch item 0 (capture only)


class KVCache:
    """Keys and values of the tokens already seen, per layer, so a new token costs one
    position's work instead of the whole window's.

    Buffers are allocated once (at the model's context length) and written in place:
    a ``torch.cat`` per step would allocate and copy the whole cache for every token.
    ``length`` is how many positions are filled; ``reset()`` empties it and keeps the buffers.
    """

    def __init__(self, n_layer: int, capacity: int | None = None) -> None:
        self.n_layer = n_layer
        self.capacity = capacity  # None: the model sets its context length on first use
        self.length = 0
        self._k: list[Tensor | None] = [None] * n_layer
        self._v: list[Tensor | None] = [None] * n_layer

    @property
    def k(self) -> list[Tensor | None]:
        """Per layer (B, H, length, d_head) views of the keys."""
        return [None if t is None else t[:, :, : self.length] for t in self._k]

    @property
    def v(self) -> list[Tensor | None]:
        return [None if t is None else t[:, :, : self.length] for t in self._v]

    def reset(self) -> None:
        self.length = 0

    def write(self, layer: int, k: Tensor, v: Tensor, start: int) -> tuple[Tensor, Tensor]:
        """Store k, v (B, H, T, d_head) at positions start..start+T; return all keys/values so far."""
        B, H, T, D = k.shape
        end = start + T
        buf_k, buf_v = self._k[layer], self._v[layer]
        if (buf_k is None or buf_k.shape[2] < end or buf_k.shape[0] != B or buf_k.shape[1] != H
                or buf_k.shape[3] != D or buf_k.dtype != k.dtype or buf_k.device != k.device):
            old = buf_k.shape[2] if buf_k is not None else 0
            cap = max(end, self.capacity or 0, 2 * old)
            new_k = k.new_empty((B, H, cap, D))  # (B, H, cap, d_head)
            new_v = v.new_empty((B, H, cap, D))  # (B, H, cap, d_head)
            if buf_k is not None and start and buf_k.shape[:2] == (B, H) and buf_k.shape[3] == D:
                new_k[:, :, :start] = buf_k[:, :, :start]  # (B, H, start, d_head)
                new_v[:, :, :start] = buf_v[:, :, :start]  # (B, H, start, d_head)
            buf_k, buf_v = new_k, new_v
            self._k[layer], self._v[layer] = buf_k, buf_v
        buf_k[:, :, start:end] = k  # (B, H, T, d_head)
        buf_v[:, :, start:end] = v  # (B, H, T, d_head)
        return buf_k[:, :, :end], buf_v[:, :, :end]  # (B, H, end, d_head) ×2


# ───────────────────────────────────────────────────────────────────────────── modules


def _layer_norm(cfg: ModelConfig) -> nn.LayerNorm:
    return nn.LayerNorm(cfg.d_model, eps=LAYERNORM_EPS, elementwise_affine=True, bias=cfg.bias)


def sinusoidal_table(length: int, d_model: int) -> Tensor:
    """Fixed positions: even columns sin(pos/10000^(2i/C)), odd columns cos of the same."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (T, 1)
    i2 = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(C/2),)
    angle = pos / torch.pow(10000.0, i2 / d_model)  # (T, ceil(C/2))
    table = torch.zeros(length, d_model)  # (T, C)
    table[:, 0::2] = torch.sin(angle)  # (T, ceil(C/2))
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])  # (T, floor(C/2))
    return table


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        C = cfg.d_model
        self.n_head = cfg.n_head
        self.d_head = C // cfg.n_head
        self.scale = 1.0 / math.sqrt(self.d_head)
        self.c_attn = nn.Linear(C, 3 * C, bias=cfg.bias)  # W_Q | W_K | W_V stacked
        self.c_proj = nn.Linear(C, C, bias=cfg.bias)  # W_O
        self.c_proj.residual_out = True  # scaled init, see GPT._init_weights
        self.dropout = cfg.dropout
        self.attn_dropout = nn.Dropout(cfg.dropout)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,  # (B, T, C)
        *,
        layer: int,
        cache: KVCache | None,
        past: int,
        allowed: Tensor | None,  # (T, S) bool: query i may look at key j
        capture: bool,
    ) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor, Tensor] | None]:
        B, T, C = x.shape
        H, D = self.n_head, self.d_head
        qkv = self.c_attn(x)  # (B, T, 3C)
        q, k, v = qkv.split(C, dim=2)  # (B, T, C) ×3
        q = q.view(B, T, H, D).transpose(1, 2)  # (B, H, T, d_head)
        k = k.view(B, T, H, D).transpose(1, 2)  # (B, H, T, d_head)
        v = v.view(B, T, H, D).transpose(1, 2)  # (B, H, T, d_head)
        if cache is not None:
            k, v = cache.write(layer, k, v, past)  # (B, H, S, d_head) ×2, S = past + T

        weights = None
        if capture:
            scores = (q @ k.transpose(-2, -1)) * self.scale  # (B, H, T, S)
            scores = scores.masked_fill(~allowed, float("-inf"))  # (B, H, T, S) future keys → -inf
            weights = F.softmax(scores, dim=-1)  # (B, H, T, S) each row sums to 1
            y = self.attn_dropout(weights) @ v  # (B, H, T, d_head) — this IS the layer's output
        elif past == 0:
            # No cache before this call: plain causal (T == 1 needs no mask at all).
            y = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=T > 1
            )  # (B, H, T, d_head)
        elif T == 1:
            # One new query after the cache: it may see every key, so no mask (is_causal would
            # align top-left and hide all but the first key).
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)  # (B, H, 1, d_head)
        else:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=allowed, dropout_p=self.dropout if self.training else 0.0
            )  # (B, H, T, d_head)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, C) heads side by side
        y = self.resid_dropout(self.c_proj(y))  # (B, T, C)
        return y, weights, (q, k, v) if capture else None


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.d_model, 4 * cfg.d_model, bias=cfg.bias)
        self.act = nn.GELU() if cfg.activation == "gelu" else nn.ReLU()
        self.c_proj = nn.Linear(4 * cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.c_proj.residual_out = True
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C)
        h = self.act(self.c_fc(x))  # (B, T, 4C)
        return self.dropout(self.c_proj(h))  # (B, T, C)


class Block(nn.Module):
    """Pre-norm: normalise what goes *into* each branch, add its output to the residual stream."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = _layer_norm(cfg)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = _layer_norm(cfg)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, **attn_kwargs: Any):  # x: (B, T, C)
        a, weights, qkv = self.attn(self.ln_1(x), **attn_kwargs)  # (B, T, C)
        x = x + a  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))  # (B, T, C)
        return x, weights, qkv


def _loss(logits: Tensor, targets: Tensor | None) -> Tensor | None:  # logits (B, T, V), targets (B, T)
    if targets is None:
        return None
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)  # ()


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        if cfg.arch != "gpt":
            raise ModelError(f"GPT cannot build a {cfg.arch!r} config.")
        self.config = cfg
        C, T = cfg.d_model, cfg.context_length
        self.wte = nn.Embedding(cfg.vocab_size, C)
        if cfg.positional == "learned":
            self.wpe = nn.Embedding(T, C)
        else:  # fixed table: a buffer, not a parameter, and not saved (it is recomputed)
            table = sinusoidal_table(T, C) * cfg.sinusoidal_amplitude  # (T, C)
            self.register_buffer("pos_table", table, persistent=False)  # (T, C)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = _layer_norm(cfg)
        self.lm_head = nn.Linear(C, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.wte.weight  # (V, C) one matrix, read both ways
        # allowed[i, j]: position i may attend to position j <= i; sliced per call, never rebuilt.
        pos = torch.arange(T)  # (T,)
        self.register_buffer("causal", pos[:, None] >= pos[None, :], persistent=False)  # (T, T) lower triangle
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        # nanoGPT/GPT-2: N(0, 0.02); the projections that write into the residual stream are
        # shrunk by 1/sqrt(2·n_layer) so the stream's variance does not grow with depth.
        if isinstance(module, nn.Linear):
            std = INIT_STD / math.sqrt(2 * self.config.n_layer) if getattr(module, "residual_out", False) else INIT_STD
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)

    def _positions(self, past: int, T: int) -> Tensor:
        if self.config.positional == "learned":
            return self.wpe.weight[past : past + T]  # (T, C)
        return self.pos_table[past : past + T]  # (T, C)

    def forward(
        self,
        idx: Tensor,  # (B, T) token ids
        targets: Tensor | None = None,  # (B, T) next-token ids
        *,
        capture: bool = False,
        capture_head: tuple[int, int] | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> ForwardResult:
        cfg = self.config
        B, T = idx.shape
        if capture_head is not None:
            capture = True
            layer_h, head_h = capture_head
            if not (0 <= layer_h < cfg.n_layer and 0 <= head_h < cfg.n_head):
                raise ModelError(f"There is no head {capture_head} in a model with {cfg.n_layer} layers "
                                 f"of {cfg.n_head} heads.")
        past = 0
        if cache is not None:
            if cache.n_layer != cfg.n_layer:
                raise ModelError(f"This cache was made for {cache.n_layer} layers, the model has {cfg.n_layer}.")
            if cache.capacity is None:
                cache.capacity = cfg.context_length
            past = cache.length
        if T < 1:
            raise ModelError("The model needs at least one token.")
        if past + T > cfg.context_length:
            raise ModelError(
                f"{past + T} tokens do not fit the model's context of {cfg.context_length}.",
                hint="Shorten the input; generation keeps the last half of the window for you.",
            )
        S = past + T
        # allowed[i, j]: query i (position past + i) may see key j. Only the capture path and a
        # multi-token feed onto a filled cache need it; SDPA's is_causal covers the rest.
        allowed = self.causal[past:S, :S] if capture or (past and T > 1) else None  # (T, S)

        x = self.wte(idx) + self._positions(past, T)  # (B, T, C)
        x = self.drop(x)  # (B, T, C)
        attention, hidden, qkv = [], [], None
        if capture:
            hidden.append(x[0].detach())  # (T, C)
        for layer, block in enumerate(self.blocks):
            x, weights, layer_qkv = block(x, layer=layer, cache=cache, past=past, allowed=allowed, capture=capture)  # (B, T, C)
            if capture:
                # Detached copies for display: the forward pass itself used `weights` above.
                attention.append(weights[0].detach())  # (H, T, S)
                hidden.append(x[0].detach())  # (T, C)
                if capture_head is not None and layer == capture_head[0]:
                    q, k, v = layer_qkv  # (B, H, T|S, d_head)
                    h = capture_head[1]
                    qkv = {"q": q[0, h].detach(), "k": k[0, h].detach(), "v": v[0, h].detach(),
                           "layer": layer, "head": h}  # (T|S, d_head) each
        if cache is not None:
            cache.length = S
        if last_only and targets is None:
            x = x[:, -1:]  # (B, 1, C)
        x = self.ln_f(x)  # (B, T, C)
        logits = self.lm_head(x)  # (B, T, V)
        return ForwardResult(
            logits=logits,
            loss=_loss(logits, targets),
            attention=torch.stack(attention) if capture else None,  # (n_layer, n_head, T, S)
            qkv=qkv,
            hidden=torch.stack(hidden) if capture else None,  # (n_layer + 1, T, C)
        )


class Bigram(nn.Module):
    """The next token's scores read straight from a row of a V×V table: no context at all."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        if cfg.arch != "bigram":
            raise ModelError(f"Bigram cannot build a {cfg.arch!r} config.")
        self.config = cfg
        self.table = nn.Embedding(cfg.vocab_size, cfg.vocab_size)
        nn.init.normal_(self.table.weight, mean=0.0, std=INIT_STD)  # small: the first loss is ln(V)

    def forward(
        self,
        idx: Tensor,  # (B, T)
        targets: Tensor | None = None,  # (B, T)
        *,
        capture: bool = False,
        capture_head: tuple[int, int] | None = None,
        cache: KVCache | None = None,
        last_only: bool = False,
    ) -> ForwardResult:
        if last_only and targets is None:
            idx = idx[:, -1:]  # (B, 1)
        logits = self.table(idx)  # (B, T, V)
        return ForwardResult(logits=logits, loss=_loss(logits, targets))


def build_model(cfg: ModelConfig) -> nn.Module:
    """A freshly initialised Bigram or GPT. Refuses one whose weights alone would not fit in RAM."""
    cfg.validate()
    free = available_memory("cpu")
    needed = FP32 * param_count(cfg)
    if free is not None and needed > free:
        raise ModelError(f"The model's weights alone need {_gb(needed)}, but only {_gb(free)} of memory is free.",
                         hint="Make the model smaller.")
    return Bigram(cfg) if cfg.arch == "bigram" else GPT(cfg)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups as nanoGPT does: decay the matrices (≥ 2-D), not biases or LayerNorm scales."""
    params = [p for p in model.parameters() if p.requires_grad]  # tied weights appear once
    return [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]


def configure(preset_name: str, vocab_size: int, **overrides) -> ModelConfig:
    """A preset with the fields given (not None) replaced, validated: what the CLI builds."""
    import dataclasses as _dc

    cfg = _dc.replace(preset(preset_name, vocab_size), **{k: v for k, v in overrides.items() if v is not None})
    cfg.validate()
    return cfg


def overrides_from_args(args) -> dict:
    """The model fields an argparse namespace (train/bench options) sets."""
    return {"n_layer": args.n_layer, "n_head": args.n_head, "d_model": args.d_model,
            "context_length": args.context, "dropout": args.dropout,
            "positional": args.positional, "activation": args.activation}
