"""`playground bench translate`: an encoder-decoder trained on the robot language, and how well it translates.

Trains at the app's defaults for the size (``config.training_defaults``) unless told otherwise,
then scores on the validation sentences: exact-match translations (greedy) and the alignment of
the cross-attention (``core/translate.py``). ``--run`` scores a run that exists instead.
Headless, no Qt; the training happens under a scratch PLAYGROUND_HOME unless ``keep``.
"""

from __future__ import annotations

import contextlib
import time

import torch

from playground.bench import scratch_home
from playground.core import checkpoint, config, events, pairs, robot_language, tokenizers, train, translate
from playground.core import corpus as corpus_mod

ALIGN_SENTENCES = 300  # validation sentences whose cross-attention is read (one capture pass each)


def score(run: checkpoint.Run, corpus, sentences: int | None = None) -> dict:
    """Exact match (and, for the robot language, alignment) of ``run``'s newest weights on the
    validation pairs (the first ``sentences`` of them when given)."""
    model = run.load_model()
    tok = run.tokenizer
    val = pairs.validation_pairs(corpus.text, run.train_config.split)[:sentences]
    t0 = time.perf_counter()
    result = {"exact_match": round(translate.exact_match(model, tok, val), 4), "validation_pairs": len(val)}
    if corpus.source == "builtin:robot-language":
        sentences = [robot_language.robot_translate(p.source) for p in val[:ALIGN_SENTENCES]]
        result["alignment"] = round(translate.alignment_score(model, tok, sentences), 4)
        result["alignment_sentences"] = len(sentences)
    result["scoring_seconds"] = round(time.perf_counter() - t0, 1)
    return result


def measure(*, corpus: str = "builtin:robot-language", tokenizer: str = "char", preset: str = "tiny",
            overrides: dict | None = None, iters: int | None = None, batch: int | None = None,
            seed: int = 1337, device: str = "auto", keep: bool = False, run: str | None = None,
            sentences: int | None = None) -> dict:
    """Train an encoder-decoder (or open ``run``), then score it; one flat dict for JSON."""
    if run is not None:
        existing = checkpoint.Run.open(run)
        text = corpus_mod.verify_record(existing.corpus_record)
        return {"run": existing.name, "steps": existing.step, **score(existing, text, sentences)}
    text = corpus_mod.load(corpus)
    tok = tokenizers.train_tokenizer(tokenizer, text.text)
    cfg = config.configure(preset, tok.vocab_size, **{**(overrides or {}), "arch": config.ENCODER_DECODER})
    tcfg = config.train_config_for(cfg, iters=iters, batch_size=batch, seed=seed, device=device)
    home = contextlib.nullcontext() if keep else scratch_home("playground-bench-translate-")
    with home:
        made = checkpoint.Run.create(None, cfg, tcfg, text.record(tcfg.split), tok)
        t0 = time.perf_counter()
        last_val = None
        for ev in train.Trainer(made, text).run():
            match ev:
                case events.Eval():
                    last_val = round(ev.val_loss, 4)
                case events.Finished() if ev.reason != "done":
                    raise RuntimeError(ev.message)
        seconds = time.perf_counter() - t0
        scores = score(made, text, sentences)
        name = made.name if keep else None
    return {
        "steps": tcfg.iters, "seconds": round(seconds, 1), **scores, "val_loss": last_val,
        "run": name, "corpus": corpus, "tokenizer": tokenizer, "vocab_size": tok.vocab_size,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "d_model": cfg.d_model, "context": cfg.context_length,
        "batch": tcfg.batch_size, "lr": tcfg.lr, "seed": seed, "torch_threads": torch.get_num_threads(),
    }
