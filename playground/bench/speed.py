"""The numbers behind `playground bench train|generate` (headless, no Qt).

Each function returns one flat dict (printed as JSON by the CLI) holding the figures and the
configuration that produced them, so a result can be reproduced from its own output.
Timings are medians; training steps before step 10 (warm-up of allocators and caches) and
evaluations are left out. Both take plain values; the CLI turns its options into them.
"""

from __future__ import annotations

import statistics
import time

import torch

from playground.bench import scratch_home
from playground.core import checkpoint, config, devices, events, generate, tokenizers, train
from playground.core import corpus as corpus_mod
from playground.core import model as model_mod

WARM_STEPS = 10  # steps < this are excluded from the median
RECIPE = "AdamW lr 1e-3 betas (0.9, 0.99) wd 0.1, warmup 100, cosine to 1e-4, clip 1.0"


def bench_train(shape: config.ModelConfig, *, corpus: str, tokenizer: str = "char",
                vocab_size: int | None = None, batch: int = 12, iters: int = 200, seed: int = 1337,
                device: str = "auto", compile: bool = False) -> dict:
    """Train with nanoGPT's recipe, then evaluate train and validation loss on 100 batches.

    ``shape`` is the model; its vocabulary size is replaced by the tokenizer's, trained here on
    ``corpus`` (a spec such as ``builtin:python-docs``) with ``vocab_size`` (bpe/word).
    """
    text = corpus_mod.load(corpus)
    tok = tokenizers.train_tokenizer(tokenizer, text.text, vocab_size=vocab_size)
    cfg = shape.for_vocab(tok.vocab_size)
    cfg.validate()
    tcfg = config.TrainConfig(
        iters=iters, batch_size=batch, lr=1e-3, min_lr=1e-4, warmup=100,
        weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0,
        eval_interval=iters,  # one evaluation, at the end
        eval_iters=100, sample_tokens=0, seed=seed, device=device, compile=compile,
    )
    step_times: list[float] = []
    losses: dict[str, float] = {}
    with scratch_home():
        run = checkpoint.Run.create("bench", cfg, tcfg, text.record(tcfg.split), tok)
        trainer = train.Trainer(run, text)
        last = time.perf_counter()
        for ev in trainer.run():
            now = time.perf_counter()
            match ev:
                case events.Step() if ev.it > WARM_STEPS:
                    step_times.append(now - last)
                case events.Eval():
                    losses = {"train_loss": round(ev.train_loss, 4), "val_loss": round(ev.val_loss, 4)}
                case events.Finished() if ev.reason != "done":
                    raise RuntimeError(ev.message)
            last = time.perf_counter()
        used = run.info.get("device", "cpu")
        compiled = trainer.forward is not trainer.model  # False when compile was off or fell back
    ms = statistics.median(step_times) * 1000 if step_times else float("nan")
    return {
        "tokens_per_s": round(batch * cfg.context_length / (ms / 1000), 1) if step_times else None,
        "ms_per_iter_median": round(ms, 2),
        **losses,
        "iters": iters,
        "device": str(used).split(":")[0],
        "torch_threads": torch.get_num_threads(),
        "corpus": corpus, "tokenizer": tokenizer, "vocab_size": tok.vocab_size,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "d_model": cfg.d_model,
        "context": cfg.context_length, "dropout": cfg.dropout, "batch": batch,
        "seed": seed, "compile": bool(compile), "compiled": compiled,
        "recipe": RECIPE,
    }


class _IdTokenizer:
    """Stand-in tokenizer for a randomly initialised model: token i is shown as '<i>'."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def encode(self, text: str) -> list[int]:
        return [0]

    def decode(self, ids) -> str:
        return "".join(f"<{i}>" for i in ids)

    def token_label(self, token_id: int) -> str:
        return f"<{token_id}>"


def _time_generation(model, tok, n_tokens: int, seed: int, use_cache: bool) -> tuple[float, float]:
    """(tokens per second, milliseconds to the first token) for one generation."""
    cfg = config.SamplingConfig(temperature=1.0, seed=seed, max_new_tokens=n_tokens)
    start = time.perf_counter()
    first = None
    count = 0
    for _ in generate.stream_tokens(model, tok, [0], cfg, use_cache=use_cache):
        count += 1
        if first is None:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    return count / total, (first or 0.0) * 1000


def bench_generate(cfg: config.ModelConfig, *, tokens: int = 255, seed: int = 1337,
                   device: str = "auto") -> dict:
    """Cached vs uncached sampling on a random ``cfg`` model from a 1-token prompt (median of 3)."""
    dev = devices.pick_device(device)
    torch.manual_seed(seed)
    model = model_mod.build_model(cfg).to(dev).eval()
    tok = _IdTokenizer(cfg.vocab_size)
    _time_generation(model, tok, 8, seed, True)  # warm-up: first-call allocations
    cached = [_time_generation(model, tok, tokens, seed, True) for _ in range(3)]
    uncached = [_time_generation(model, tok, tokens, seed, False) for _ in range(3)]
    tps_c = statistics.median(c[0] for c in cached)
    tps_u = statistics.median(u[0] for u in uncached)
    return {
        "tokens_per_s_cached": round(tps_c, 1),
        "tokens_per_s_uncached": round(tps_u, 1),
        "cache_speedup": round(tps_c / tps_u, 2),
        "first_token_ms": round(statistics.median(c[1] for c in cached), 2),
        "tokens": tokens,
        "device": dev.type,
        "torch_threads": torch.get_num_threads(),
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "d_model": cfg.d_model,
        "context": cfg.context_length, "vocab_size": cfg.vocab_size, "seed": seed,
    }
