"""Training speed against nanoGPT, measured in one process: steps alternate between the two.

Both train the same model (Small: 4 layers, 4 heads, 128 wide, context 64) on Tiny
Shakespeare with character tokens, batch 12, dropout 0 and nanoGPT's recipe; nanoGPT with
its own ``model.py`` (bias=False, as its train.py defaults) and its CPU optimizer, its
``get_batch`` and ``loss.item()`` every step (log_interval=1), this app through its Trainer,
events and metrics file included. Alternating the steps gives both the same machine state,
so the ratio holds on a noisy machine where absolute figures drift by 20%.

    python benchmarks/side_by_side.py --nanogpt ~/src/nanoGPT --corpus tinyshakespeare.txt --iters 500

Prints the median ms per step of each (steps 10 onward) and the ratio nanoGPT / ours
(above 1: ours is faster). Pass ``--compile`` to compile ours (nanoGPT stays eager, as its
CPU demo runs with --compile=False).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import numpy as np
import torch

B, T = 12, 64


def nanogpt_stepper(nanogpt_dir: str, text: str, iters: int):
    sys.path.insert(0, nanogpt_dir)
    from model import GPT, GPTConfig  # nanoGPT's model.py

    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], dtype=np.uint16)
    train = data[: int(0.9 * len(data))]

    def get_batch():
        ix = torch.randint(len(train) - T, (B,))
        x = torch.stack([torch.from_numpy(train[i:i + T].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(train[i + 1:i + 1 + T].astype(np.int64)) for i in ix])
        return x, y

    torch.manual_seed(1337)
    model = GPT(GPTConfig(block_size=T, vocab_size=len(chars), n_layer=4, n_head=4, n_embd=128,
                          dropout=0.0, bias=False))
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    batch = get_batch()

    def lr_at(it: int) -> float:  # nanoGPT's get_lr with warmup 100, decay to 1e-4 at iters
        if it < 100:
            return 1e-3 * (it + 1) / 101
        ratio = (it - 100) / (iters - 100)
        return 1e-4 + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (1e-3 - 1e-4)

    def step(it: int) -> None:
        nonlocal batch
        for group in optimizer.param_groups:
            group["lr"] = lr_at(it)
        _, loss = model(*batch)
        batch = get_batch()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()

    return step


def our_steps(corpus_path: str, iters: int, compile_: bool):
    """Our Trainer's event stream, advanced one training step per next()."""
    from playground.bench import scratch_home
    from playground.core import checkpoint, config, corpus, events, tokenizers, train

    with scratch_home("side-by-side-"):  # the run is not kept
        text = corpus.load(corpus_path)
        tok = tokenizers.train_tokenizer("char", text.text)
        cfg = config.configure("small", tok.vocab_size, dropout=0.0)
        tcfg = config.TrainConfig(iters=iters, batch_size=B, eval_interval=iters, eval_iters=100,
                                  sample_tokens=0, compile=compile_)
        stream = train.Trainer(checkpoint.Run.create("ours", cfg, tcfg, text.record(0.9), tok), text).run()
        for event in stream:
            match event:
                case events.Step():
                    yield
                case events.Eval() if event.it:
                    print(f"ours at step {event.it}: train loss {event.train_loss:.4f}, "
                          f"val loss {event.val_loss:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nanogpt", required=True, help="a checkout of github.com/karpathy/nanoGPT")
    parser.add_argument("--corpus", required=True, help="Tiny Shakespeare's input.txt")
    parser.add_argument("--iters", type=int, default=500)
    parser.add_argument("--compile", action="store_true", help="compile ours with torch.compile")
    args = parser.parse_args()

    with open(args.corpus, encoding="utf-8") as fh:
        text = fh.read()
    theirs = nanogpt_stepper(args.nanogpt, text, args.iters)
    ours = our_steps(args.corpus, args.iters, args.compile)
    t_ours, t_theirs = [], []
    for it in range(args.iters):
        start = time.perf_counter()
        next(ours)
        if it >= 10:
            t_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs(it)
        if it >= 10:
            t_theirs.append(time.perf_counter() - start)
    for _ in ours:  # the final evaluation
        pass
    ms_ours = statistics.median(t_ours) * 1000
    ms_theirs = statistics.median(t_theirs) * 1000
    print(f"ours {ms_ours:.2f} ms/step ({B * T / ms_ours * 1000:,.0f} tok/s), nanoGPT {ms_theirs:.2f} ms/step "
          f"({B * T / ms_theirs * 1000:,.0f} tok/s): ours is {ms_theirs / ms_ours:.2f}x nanoGPT's speed "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads{', ours compiled' if args.compile else ''})")


if __name__ == "__main__":
    main()
