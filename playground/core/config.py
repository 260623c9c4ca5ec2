"""Plain settings, free of torch: what fixes a model, a training run and a sampler.

Everything here imports in milliseconds (no torch), so the Model tab can show sizes live and
the Train tab can fill in defaults while torch is still loading in a worker thread:

    ModelConfig, PRESETS, preset(), configure()      the shape of a model
    param_breakdown(), param_count(), memory_estimate() its sizes, from the config alone
    TrainConfig, lr_at(), training_defaults()         how it trains (one rule for GUI and CLI)
    SamplingConfig                                    how text is drawn from it
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from playground.errors import ModelError, TrainingError

# "encoder-decoder": the original transformer (core/seq2seq.py), for the sentence-pair corpora.
ENCODER_DECODER = "encoder-decoder"
ARCHS = ("gpt", "bigram", ENCODER_DECODER)
# "none": no position vectors at all (order-blind attention), the seeds' baseline for why positions matter.
POSITIONALS = ("learned", "sinusoidal", "none")
ACTIVATIONS = ("gelu", "relu")


# ───────────────────────────────────────────────────────────────────────────── model


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes a model's shape. Frozen: a config is a value, not a form."""

    vocab_size: int = 65
    context_length: int = 64
    n_layer: int = 2
    n_head: int = 2
    d_model: int = 64
    dropout: float = 0.0
    positional: str = "learned"  # "learned" | "sinusoidal" | "none"
    # The fixed sin/cos table is multiplied by this. At 1 its waves drown token embeddings that
    # start at std 0.02, and the model learns slowly; at 0.1 both are heard from the first step
    # (Tiny, 600 steps: grammar-lessons val loss 0.58 vs 0.72 at 1, as good as learned positions).
    sinusoidal_amplitude: float = 0.1
    activation: str = "gelu"  # "gelu" | "relu"
    tie_weights: bool = False
    bias: bool = True
    arch: str = "gpt"  # "gpt" | "bigram" | "encoder-decoder"

    def for_vocab(self, vocab_size: int) -> ModelConfig:
        """This shape for a tokenizer of ``vocab_size`` tokens.

        The one place the bigram rule lives: a bigram's "width" is its table's row, one score
        per next token, so its d_model is the vocabulary size.
        """
        width = vocab_size if self.arch == "bigram" else self.d_model
        return replace(self, vocab_size=vocab_size, d_model=width)

    @property
    def is_encoder_decoder(self) -> bool:
        return self.arch == ENCODER_DECODER

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
                hint=f"Pick a width that is a multiple of {self.n_head}, "
                     f"e.g. {self.n_head * max(1, round(self.d_model / self.n_head))}.",
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ModelError(f"Dropout must be at least 0 and below 1 (got {self.dropout!r}).")
        if self.positional not in POSITIONALS:
            raise ModelError(f"Unknown position encoding {self.positional!r}.",
                             hint=f"Choose one of: {', '.join(POSITIONALS)}.")
        if not 0.0 < float(self.sinusoidal_amplitude) <= 10.0:
            raise ModelError("The sinusoidal amplitude must be above 0 and at most 10 "
                             f"(got {self.sinusoidal_amplitude!r}).")
        if self.activation not in ACTIVATIONS:
            raise ModelError(f"Unknown activation {self.activation!r}.",
                             hint=f"Choose one of: {', '.join(ACTIVATIONS)}.")

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
    cfg = PRESETS[name].for_vocab(vocab_size)
    cfg.validate()
    return cfg


def preset_name_of(cfg: ModelConfig) -> str | None:
    """The preset this config is exactly (any vocabulary), or None for a custom shape."""
    for name in PRESETS:
        if preset(name, cfg.vocab_size) == cfg:
            return name
    return None


def configure(preset_name: str, vocab_size: int, **overrides: Any) -> ModelConfig:
    """A preset with the fields given (not None) replaced, validated: what the CLI builds."""
    cfg = replace(preset(preset_name, vocab_size), **{k: v for k, v in overrides.items() if v is not None})
    cfg.validate()
    return cfg


def param_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameter count per part, computed from the config alone (sums to param_count)."""
    V, C, L = cfg.vocab_size, cfg.d_model, cfg.n_layer
    if cfg.arch == "bigram":
        return {"embeddings": V * V, "positions": 0, "attention": 0, "mlp": 0, "norms": 0, "unembedding": 0}
    b = 1 if cfg.bias else 0
    norm = C + b * C  # LayerNorm: scale (+ shift)
    attention = (3 * C * C + b * 3 * C) + (C * C + b * C)  # W_Q,W_K,W_V stacked + W_O
    mlp = (4 * C * C + b * 4 * C) + (4 * C * C + b * C)  # up 4x, down
    if cfg.is_encoder_decoder:  # two stacks of L blocks; a decoder block adds cross-attention and its norm
        return {
            "embeddings": V * C,  # one table: source and target share the tokenizer
            "positions": 2 * cfg.context_length * C if cfg.positional == "learned" else 0,
            "attention": sum(attention_breakdown(cfg).values()),
            "mlp": 2 * L * mlp,
            "norms": (2 * L + 3 * L + 2) * norm,  # + the encoder's and the decoder's final norms
            "unembedding": 0 if cfg.tie_weights else V * C,
        }
    return {
        "embeddings": V * C,
        # sinusoidal: a fixed buffer, not a parameter; none: no positions at all
        "positions": cfg.context_length * C if cfg.positional == "learned" else 0,
        "attention": L * attention,
        "mlp": L * mlp,
        "norms": (2 * L + 1) * norm,
        "unembedding": 0 if cfg.tie_weights else V * C,  # tied: the token embedding read backwards
    }


def attention_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """The attention parameters by kind (what "attention" sums for an encoder-decoder)."""
    C, L = cfg.d_model, cfg.n_layer
    one = 4 * C * C + (4 * C if cfg.bias else 0)  # W_Q, W_K, W_V, W_O (+ biases)
    if cfg.arch == "bigram":
        return {"encoder self-attention": 0, "decoder self-attention": 0, "cross-attention": 0}
    if not cfg.is_encoder_decoder:  # a GPT is a decoder without cross-attention
        return {"encoder self-attention": 0, "decoder self-attention": L * one, "cross-attention": 0}
    return {"encoder self-attention": L * one, "decoder self-attention": L * one, "cross-attention": L * one}


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
    if cfg.is_encoder_decoder:
        # Encoder blocks as a GPT's; a decoder block adds cross-attention (norm, q, k, v, out: ~8 more).
        return L * per_layer + L * (per_layer + 8 * N) + N + head
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




def size_words(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def memory_problem(cfg: ModelConfig, batch_size: int, free: int | None, where: str = "memory") -> ModelError | None:
    """The one fit rule and its words: an error when training needs more than ``free`` bytes.

    ``devices.check_fits`` raises it before training allocates; the Model tab shows it live
    with the free memory the device probe reported (so the window never touches the GPU).
    """
    needed = memory_estimate(cfg, batch_size)
    if free is None or needed <= free:
        return None
    return ModelError(
        f"This model needs about {size_words(needed)} to train with batch size {batch_size}, "
        f"but only {size_words(free)} of {where} is free ({param_count(cfg):,} parameters).",
        hint="Make the model smaller (fewer layers, a narrower width, a shorter context) "
             "or lower the batch size, or close other programs.",
    )


# ───────────────────────────────────────────────────────────────────────────── training


@dataclass
class TrainConfig:
    iters: int = 2000  # optimizer steps in all
    batch_size: int = 12
    lr: float = 1e-3  # peak learning rate, reached at the end of warmup
    min_lr: float = 1e-4  # reached at the last iteration (cosine decay)
    warmup: int = 100  # steps of linear warmup
    weight_decay: float = 0.1  # on 2-D weights only
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    eval_interval: int = 250  # evaluate (and checkpoint) every this many steps, and at the end
    eval_iters: int = 20  # batches of train and of validation per evaluation
    sample_tokens: int = 200  # length of the text sample after each evaluation (0 = none)
    seed: int = 1337
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "mps"
    compile: bool = False  # try torch.compile; falls back to eager with a Note if it fails
    split: float = 0.9  # training fraction; validation is the end of the text
    checkpoint_keep: int = 20  # snapshots kept for the history slider
    sample_interval: int | None = None  # None: sample after each evaluation
    # Micro-batches per optimizer step: gradients add up over grad_accum batches before one
    # update, so a step sees batch_size × grad_accum sequences (× the processes under torchrun).
    grad_accum: int = 1

    def validate(self) -> None:
        def need(ok: bool, message: str, hint: str | None = None) -> None:
            if not ok:
                raise TrainingError(message, hint)

        need(isinstance(self.iters, int) and self.iters >= 1, f"Iterations must be at least 1 (got {self.iters}).")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1,
             f"The batch size must be at least 1 (got {self.batch_size}).")
        need(self.lr > 0 and math.isfinite(self.lr), f"The learning rate must be above 0 (got {self.lr}).",
             "1e-3 suits small models.")
        need(0 <= self.min_lr <= self.lr, f"The final learning rate ({self.min_lr}) must be between 0 and "
             f"the learning rate ({self.lr}).")
        need(self.warmup >= 0, f"Warmup cannot be negative (got {self.warmup}).")
        need(self.weight_decay >= 0, f"Weight decay cannot be negative (got {self.weight_decay}).")
        need(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "Adam's betas must be in [0, 1).")
        need(self.grad_clip >= 0, f"Gradient clipping cannot be negative (got {self.grad_clip}).")
        need(self.eval_interval >= 1, f"The evaluation interval must be at least 1 (got {self.eval_interval}).")
        need(self.eval_iters >= 1, f"Evaluation needs at least 1 batch (got {self.eval_iters}).")
        need(self.sample_tokens >= 0, "The sample length cannot be negative.")
        need(0 < self.split < 1, f"The training fraction must be between 0 and 1 (got {self.split}).",
             "0.9 keeps the last tenth of the text for validation.")
        need(self.checkpoint_keep >= 2, "Keep at least 2 checkpoints (the first and the last).")
        need(self.sample_interval is None or self.sample_interval >= 1, "The sample interval must be at least 1.")
        need(isinstance(self.grad_accum, int) and 1 <= self.grad_accum <= 4096,
             f"Gradient accumulation must be a whole number from 1 to 4096 (got {self.grad_accum}).",
             "1 updates the weights after every batch; N adds up N batches' gradients first.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate for 0-based optimizer step ``step``: linear warmup, then cosine to
    ``min_lr`` at the last step (``iters - 1``), as nanoGPT with lr_decay_iters = max_iters."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / (cfg.warmup + 1)
    span = max(1, (cfg.iters - 1) - cfg.warmup)
    ratio = min(1.0, (step - cfg.warmup) / span)
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (cfg.lr - cfg.min_lr)


# The cosine decay ends at this fraction of the peak learning rate, as nanoGPT's does: the one
# rule behind the Train tab's form and the CLI's train_config_for.
MIN_LR_FRACTION = 0.1


def training_defaults(model_cfg: ModelConfig) -> tuple[dict[str, Any], str]:
    """Settings that train a model of this size well enough on a laptop, and why.

    The one rule behind both the Train tab's defaults and the CLI's (``playground train``
    without --iters/--batch/--lr/--warmup/--eval-interval).
    """
    n = param_count(model_cfg)
    if model_cfg.arch == "bigram":
        values = dict(iters=1000, batch_size=32, lr=1e-2, warmup=0, eval_interval=100)
        why = "A bigram is one table: a large learning rate and no warmup are safe."
    elif n < 300_000:
        # 3e-3 rather than 1e-3: measured with Tiny (char tokens, 2,000 steps), validation loss
        # fell on every built-in and on Tiny Shakespeare (python-docs 1.47 -> 1.33, Shakespeare
        # 2.01 -> 1.91, grammar 0.56 -> 0.54, counting 0.185 -> 0.182; at this band's top, Tiny
        # with a 1,300-token BPE on Shakespeare: 4.39 -> 4.31), and copy-lessons grows the
        # previous-token and induction heads its text promises, which at 1e-3 it does not within
        # 2,000 steps (tests/core/test_builtin_promises.py).
        values = dict(iters=2000, batch_size=16, lr=3e-3, warmup=100, eval_interval=200)
        why = "A model this small learns fastest with a learning rate of 3e-3 after a short warmup."
    elif n < 2_000_000:
        values = dict(iters=2000, batch_size=12, lr=1e-3, warmup=100, eval_interval=200)
        why = "Small models learn quickly with a learning rate of 1e-3 after a short warmup."
    elif n < 30_000_000:
        values = dict(iters=3000, batch_size=12, lr=6e-4, warmup=200, eval_interval=250)
        why = "Bigger models need a smaller learning rate and a longer warmup to stay stable."
    else:
        values = dict(iters=2000, batch_size=4, lr=3e-4, warmup=200, eval_interval=250)
        why = "A large model: small batches to fit in memory, a careful learning rate."
    return values, f"Defaults for {n / 1e6:.2f} M parameters. {why}"


def train_config_for(model_cfg: ModelConfig, **given: Any) -> TrainConfig:
    """A TrainConfig: the size's defaults, then every setting given (not None) on top.

    The cosine decay ends at a tenth of the peak learning rate, as nanoGPT's does, unless
    ``min_lr`` is given. Validated, so a bad number is refused before a run folder exists.
    """
    values, _why = training_defaults(model_cfg)
    values.update({k: v for k, v in given.items() if v is not None})  # 0 is a value, None is "not given"
    values.setdefault("min_lr", values["lr"] * MIN_LR_FRACTION)
    cfg = TrainConfig(**values)
    cfg.validate()
    return cfg


# ───────────────────────────────────────────────────────────────────────────── sampling


@dataclass
class SamplingConfig:
    temperature: float = 1.0  # 0 means greedy
    top_k: int | None = None
    top_p: float | None = None
    greedy: bool = False
    seed: int | None = None
    max_new_tokens: int = 200
    stop_text: str | None = None

    def validate(self) -> None:
        t = self.temperature
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t >= 0):
            raise ModelError(f"Temperature must be 0 or more (got {self.temperature!r}).",
                             hint="1 samples the model as trained; lower is safer, higher is wilder; 0 is greedy.")
        if self.top_k is not None and (not isinstance(self.top_k, int) or self.top_k < 1):
            raise ModelError(f"Top-k must be a whole number of at least 1 (got {self.top_k!r}).",
                             hint="Leave it empty to keep every token.")
        if self.top_p is not None and not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ModelError(f"Top-p must be above 0 and at most 1 (got {self.top_p!r}).",
                             hint="0.9 keeps the most likely tokens that together make up 90% of the probability.")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            raise ModelError(f"The number of tokens to generate must be 0 or more (got {self.max_new_tokens!r}).")
