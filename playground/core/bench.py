"""The numbers behind `playground bench train|generate`.

Each function returns one flat dict (printed as JSON by the CLI) holding the figures and the
configuration that produced them, so a result can be reproduced from its own output.
Timings are medians; training steps before step 10 (warm-up of allocators and caches) and
evaluations are left out.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

import torch

from playground.core import checkpoint, generate, model as model_mod, tokenizers, train
from playground.core import corpus as corpus_mod

WARM_STEPS = 10  # steps < this are excluded from the median


@contextmanager
def _scratch_home() -> Iterator[None]:
    """Runs made by a benchmark go to a temporary PLAYGROUND_HOME, not the user's runs list."""
    old = os.environ.get("PLAYGROUND_HOME")
    with tempfile.TemporaryDirectory(prefix="playground-bench-") as tmp:
        os.environ["PLAYGROUND_HOME"] = tmp
        try:
            yield
        finally:
            if old is None:
                os.environ.pop("PLAYGROUND_HOME", None)
            else:
                os.environ["PLAYGROUND_HOME"] = old


def _config_from(args, vocab_size: int) -> model_mod.ModelConfig:
    return model_mod.configure(getattr(args, "preset", None) or "small", vocab_size,
                               **model_mod.overrides_from_args(args))


def bench_train(args) -> dict:
    """Train with nanoGPT's recipe, then evaluate train and validation loss on 100 batches."""
    corpus = corpus_mod.load(args.corpus)
    tok = tokenizers.train_tokenizer(args.tokenizer, corpus.text, vocab_size=args.vocab_size)
    cfg = _config_from(args, tok.vocab_size)
    tcfg = train.TrainConfig(
        iters=args.iters, batch_size=args.batch, lr=1e-3, min_lr=1e-4, warmup=100,
        weight_decay=0.1, beta1=0.9, beta2=0.99, grad_clip=1.0,
        eval_interval=args.iters,  # one evaluation, at the end
        eval_iters=100, sample_tokens=0, seed=args.seed, device=args.device, compile=args.compile,
    )
    step_times: list[float] = []
    losses: dict[str, float] = {}
    with _scratch_home():
        run = checkpoint.Run.create("bench", cfg, tcfg, corpus.record(tcfg.split), tok)
        trainer = train.Trainer(run, corpus)
        last = time.perf_counter()
        for ev in trainer.run():
            now = time.perf_counter()
            if isinstance(ev, train.Step) and ev.it > WARM_STEPS:
                step_times.append(now - last)
            elif isinstance(ev, train.Eval):
                losses = {"train_loss": round(ev.train_loss, 4), "val_loss": round(ev.val_loss, 4)}
            elif isinstance(ev, train.Finished) and ev.reason != "done":
                raise RuntimeError(ev.message)
            last = time.perf_counter()
        device = run.info.get("device", "cpu")
        compiled = trainer.forward is not trainer.model  # False when compile was off or fell back
    ms = statistics.median(step_times) * 1000 if step_times else float("nan")
    return {
        "tokens_per_s": round(args.batch * cfg.context_length / (ms / 1000), 1) if step_times else None,
        "ms_per_iter_median": round(ms, 2),
        **losses,
        "iters": args.iters,
        "device": str(device).split(":")[0],
        "torch_threads": torch.get_num_threads(),
        "corpus": args.corpus, "tokenizer": args.tokenizer, "vocab_size": tok.vocab_size,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "d_model": cfg.d_model,
        "context": cfg.context_length, "dropout": cfg.dropout, "batch": args.batch,
        "seed": args.seed, "compile": bool(args.compile), "compiled": compiled,
        "recipe": "AdamW lr 1e-3 betas (0.9, 0.99) wd 0.1, warmup 100, cosine to 1e-4, clip 1.0",
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
    cfg = generate.SamplingConfig(temperature=1.0, seed=seed, max_new_tokens=n_tokens)
    start = time.perf_counter()
    first = None
    count = 0
    for _ in generate.stream_tokens(model, tok, [0], cfg, use_cache=use_cache):
        count += 1
        if first is None:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    return count / total, (first or 0.0) * 1000


def bench_generate(args) -> dict:
    """Cached vs uncached sampling on a random model from a 1-token prompt (median of 3)."""
    cfg = _config_from(args, args.vocab_size)
    device = model_mod.pick_device(args.device)
    torch.manual_seed(args.seed)
    model = model_mod.build_model(cfg).to(device).eval()
    tok = _IdTokenizer(args.vocab_size)
    _time_generation(model, tok, 8, args.seed, True)  # warm-up: first-call allocations
    cached = [_time_generation(model, tok, args.tokens, args.seed, True) for _ in range(3)]
    uncached = [_time_generation(model, tok, args.tokens, args.seed, False) for _ in range(3)]
    tps_c = statistics.median(c[0] for c in cached)
    tps_u = statistics.median(u[0] for u in uncached)
    return {
        "tokens_per_s_cached": round(tps_c, 1),
        "tokens_per_s_uncached": round(tps_u, 1),
        "cache_speedup": round(tps_c / tps_u, 2),
        "first_token_ms": round(statistics.median(c[1] for c in cached), 2),
        "tokens": args.tokens,
        "device": device.type,
        "torch_threads": torch.get_num_threads(),
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "d_model": cfg.d_model,
        "context": cfg.context_length, "vocab_size": args.vocab_size, "seed": args.seed,
    }
