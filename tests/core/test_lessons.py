"""The "copy-lessons" corpus grows the attention patterns it is designed for, within a minute.

A Tiny model (the preset: 2 layers x 2 heads, 64 dims, context 64) with character tokens
trains on the built-in copy corpus. After each evaluation the head-pattern scorer labels
the heads from their attention on a validation excerpt. Training stops once a
previous-token head and an induction head are both there, or after ITERS steps (about a
minute on a 2-core CPU); it is seeded, so the outcome does not depend on the machine's speed.
"""

from __future__ import annotations

import time

import pytest
import torch

from playground.core.analysis import all_head_scores, label_heads, unigram_baseline
from playground.core.checkpoint import Run
from playground.core.config import TrainConfig, preset
from playground.core.corpus import load_builtin
from playground.core.events import Eval
from playground.core.tokenizers import CharTokenizer
from playground.core.train import Trainer

ITERS = 1500
EVAL_EVERY = 250
LR = 3e-3  # fast for a Tiny model, still stable with warmup and clipping
BATCH = 32


def _excerpt(tok, ids: list[int], n_train: int, T: int) -> list[int]:
    """T validation tokens starting at a line start."""
    val = ids[n_train:]
    start = val.index(tok.encode("\n")[0]) + 1
    return val[start:start + T]


def _found(labels, name: str) -> list[tuple[int, int, float]]:
    return [(l, h, score) for l, layer in enumerate(labels) for h, (lab, score) in enumerate(layer) if lab == name]


# About a minute on 2 idle cores; the generous limit only guards against a hang on a busy machine.
@pytest.mark.timeout(900)
def test_copy_lessons_grow_a_previous_token_head():
    corpus = load_builtin("copy-lessons")
    tok = CharTokenizer.train(corpus.text)
    cfg = preset("tiny", tok.vocab_size)
    tcfg = TrainConfig(iters=ITERS, batch_size=BATCH, lr=LR, min_lr=LR / 10, warmup=100,
                       eval_interval=EVAL_EVERY, eval_iters=10, sample_tokens=0, device="cpu")
    run = Run.create("lessons", cfg, tcfg, corpus.record(tcfg.split), tok)
    ids = tok.encode(corpus.text)
    n_train = int(len(ids) * tcfg.split)
    baseline = unigram_baseline(ids[:n_train], ids[n_train:], tok.vocab_size)
    excerpt = _excerpt(tok, ids, n_train, cfg.context_length)
    x = torch.tensor([excerpt])  # (1, T)

    trainer = Trainer(run, corpus)
    start = time.perf_counter()
    last = None
    for event in trainer.run():
        if not isinstance(event, Eval) or event.it == 0:
            continue
        model = trainer.model.eval()
        with torch.no_grad():
            attention = model(x, capture=True).attention  # (n_layer, n_head, T, T)
        model.train()
        labels = label_heads(attention, excerpt)
        last = (event.it, event.val_loss, labels, all_head_scores(attention, excerpt))
        if _found(labels, "previous-token") and _found(labels, "induction"):
            break  # learned sooner: no need for the rest of the minute
    seconds = time.perf_counter() - start

    it, val_loss, labels, scores = last
    best_induction = max((s["induction"] or 0.0) for layer in scores for s in layer)
    summary = (f"after {it} steps ({seconds:.0f} s with evaluations): val loss {val_loss:.3f}, "
               f"unigram baseline {baseline:.3f}; previous-token heads {_found(labels, 'previous-token')}, "
               f"induction heads {_found(labels, 'induction')} (best induction score {best_induction:.2f}); "
               f"labels {labels}")
    print(summary)
    assert _found(labels, "previous-token"), summary
    assert val_loss < baseline - 1.0, summary
