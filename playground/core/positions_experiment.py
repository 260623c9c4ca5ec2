"""Why positions matter: the same small model with learned, sinusoidal and no positions.

    result = compare(text, tokenizer, iters=300)    # three short trainings, same seed, same batches
    result.curves["none"]                           # [(step, validation loss), ...]
    result.shuffles                                 # a sentence and its word-shuffle, per model

What is exactly true of an order-blind model, and what is not: attention sums over the tokens a
position may see, and a sum does not care about order. In a *one-layer* model without
positions the output at the last position depends only on the last token and on the set
(multiset) of tokens up to it, so the prediction after a text is identical for every order of
the words before its last one. The total loss of a whole sentence is *not* the same after a
shuffle: every earlier position sees a different prefix. Nor is a deeper causal model fully
order-blind: its second layer reads positions whose prefixes differ in length and content. So
the experiment trains one-layer models and compares the one statement that holds exactly:
p(last token | the words before it, shuffled) = p(last token | them in order).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from playground.core.config import POSITIONALS, ModelConfig, TrainConfig, lr_at

SENTENCE_WORDS = 8  # a validation line about this many words long is the shuffle example
EVAL_POINTS = 10  # validation losses per curve


@dataclass(frozen=True)
class ShuffleScore:
    """One model's view of a sentence and its shuffle (the last word stays last)."""

    positional: str
    original: str
    shuffled: str
    p_last: float  # p(last token | every token before it), in order
    p_last_shuffled: float  # the same with the words before the last one shuffled
    mean_loss: float  # per-token loss of the whole sentence, in order
    mean_loss_shuffled: float


@dataclass
class PositionsResult:
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # positional -> evals
    shuffles: list[ShuffleScore] = field(default_factory=list)
    models: dict = field(default_factory=dict)  # positional -> trained model (eval mode)


def experiment_config(vocab_size: int) -> ModelConfig:
    """One layer (see the module note), Tiny's width, a short context: seconds on a CPU."""
    return ModelConfig(vocab_size=vocab_size, context_length=32, n_layer=1, n_head=2, d_model=64)


def shuffle_words(text: str, rng: random.Random) -> str:
    """``text`` with its words (split on single spaces) reordered, the last word kept last.

    The characters are the same multiset, and the text ends in the same token, which is what
    the exact statement needs."""
    words, sep = text.split(" "), " "
    if len(words) < 3:  # a text without spaces (copy-lessons): shuffle its characters instead
        words, sep = list(text), ""
        if len(words) < 3:
            return text
    head = words[:-1]
    for _ in range(20):  # a shuffle that changes nothing teaches nothing
        order = head[:]
        rng.shuffle(order)
        if order != head:
            break
    return sep.join(order + words[-1:])


def last_token_prob(model, ids: Sequence[int]) -> float:
    """p(ids[-1] | ids[:-1]) under ``model`` (the last token's prediction, from one forward pass)."""
    import torch

    x = torch.tensor([list(ids[:-1])], dtype=torch.long)  # (1, T)
    with torch.no_grad():
        logits = model(x, last_only=True).logits[0, -1].float()  # (V,)
    return float(torch.softmax(logits, dim=-1)[ids[-1]])


def score_shuffle(model, tokenizer, sentence: str, shuffled: str) -> ShuffleScore:
    """How ``model`` scores ``sentence`` and its ``shuffled`` version (core.generate.score_text)."""
    from playground.core.generate import score_text

    a, b = score_text(model, tokenizer, sentence), score_text(model, tokenizer, shuffled)
    return ShuffleScore(model.config.positional, sentence, shuffled,
                        last_token_prob(model, a.ids), last_token_prob(model, b.ids),
                        a.mean_loss, b.mean_loss)


def pick_sentence(text: str, tokenizer, context_length: int) -> str:
    """A line of ``text`` with several words that fits the window, or its first words."""
    for line in text.splitlines():
        line = " ".join(line.split())
        words = line.split(" ")
        if 4 <= len(words) <= 2 * SENTENCE_WORDS and len(tokenizer.encode(line)) <= context_length:
            return line
    if " " not in text.strip():  # no words to pick (copy-lessons): the start of the first line
        line = next((ln for ln in text.splitlines() if ln.strip()), text).strip()
        while len(line) > 1 and len(tokenizer.encode(line)) > context_length:
            line = line[: len(line) // 2]
        return line
    words = " ".join(text.split()).split(" ")
    line = " ".join(words[:SENTENCE_WORDS])
    while len(tokenizer.encode(line)) > context_length and " " in line:
        line = line.rsplit(" ", 1)[0]
    return line


def _batches(ids, T: int, batch: int, steps: int, seed: int):
    """The same random windows for every model: a fair race."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    windows = ids.unfold(0, T + 1, 1)  # (N - T, T + 1)
    for _ in range(steps):
        rows = windows[torch.randint(len(windows), (batch,), generator=gen)]  # (B, T + 1)
        yield rows[:, :-1], rows[:, 1:]  # (B, T) ×2


def _val_loss(model, val_ids, T: int) -> float:
    import torch

    windows = val_ids.unfold(0, T + 1, T)[:64]  # (n, T + 1) non-overlapping, a fixed sample
    with torch.no_grad():
        return float(model(windows[:, :-1], windows[:, 1:]).loss)


def compare(text: str, tokenizer, iters: int = 300, *, positionals: Sequence[str] = POSITIONALS,
            seed: int = 1337, batch_size: int = 16, lr: float = 3e-3,
            progress: Callable[[int, int], None] | None = None,
            cancel: threading.Event | None = None, sentence: str | None = None) -> PositionsResult:
    """Train one small model per position kind on ``text`` (same seed, same batches), with
    validation losses along the way, then score a sentence and its word-shuffle with each."""
    import torch

    from playground.core.corpus import check_trainable
    from playground.core.model import build_model
    from playground.core.train import make_optimizer

    cfg0 = experiment_config(tokenizer.vocab_size)
    T = cfg0.context_length
    if sentence is not None and not 3 <= len(tokenizer.encode(sentence)) <= T + 1:
        from playground.errors import ModelError

        raise ModelError(f"The sentence to shuffle must be 3 to {T + 1} tokens long (got {sentence!r}).",
                         hint="Give a shorter sentence of a few words.")
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)  # (N,)
    n_train = int(len(ids) * 0.9)
    check_trainable(n_train, len(ids) - n_train, T, batch_size, split=0.9,
                    chars_per_token=len(text) / max(1, len(ids)))
    train_ids, val_ids = ids[:n_train], ids[n_train:]  # (N_train,), (N_val,)
    tcfg = TrainConfig(iters=iters, batch_size=batch_size, lr=lr, min_lr=lr / 10, warmup=min(20, iters // 10),
                       weight_decay=0.1, device="cpu")
    every = max(1, iters // EVAL_POINTS)
    result = PositionsResult()
    total = iters * len(positionals)
    for n, positional in enumerate(positionals):
        torch.manual_seed(seed)
        model = build_model(replace(cfg0, positional=positional))
        opt = make_optimizer(model, tcfg, torch.device("cpu"))
        curve = [(0, _val_loss(model.eval(), val_ids, T))]
        model.train()
        for step, (x, y) in enumerate(_batches(train_ids, T, batch_size, iters, seed), start=1):
            if cancel is not None and cancel.is_set():
                return result
            for group in opt.param_groups:
                group["lr"] = lr_at(tcfg, step - 1)
            loss = model(x, y).loss  # ()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), tcfg.grad_clip)
            opt.step()
            if step % every == 0 or step == iters:
                curve.append((step, _val_loss(model.eval(), val_ids, T)))
                model.train()
            if progress is not None:
                progress(n * iters + step, total)
        result.curves[positional] = curve
        result.models[positional] = model.eval()
    val_text = text[int(len(text) * 0.9):].split("\n", 1)[-1]  # from a line start: whole words
    sentence = sentence or pick_sentence(val_text, tokenizer, T)
    shuffled = shuffle_words(sentence, random.Random(seed))
    result.shuffles = [score_shuffle(m, tokenizer, sentence, shuffled) for m in result.models.values()]
    return result


def summary(result: PositionsResult) -> list[str]:
    """The experiment in lines of text (the CLI prints them; the GUI shows the same words)."""
    lines = ["Validation loss after training (lower is better):"]
    for positional, curve in result.curves.items():
        lines.append(f"  {positional:<11} {curve[-1][1]:.3f}")
    if result.shuffles:
        s = result.shuffles[0]
        lines += ["", f"In order:  {s.original!r}", f"Shuffled:  {s.shuffled!r}",
                  "p(last token | the text before it), in order vs shuffled:"]
        for s in result.shuffles:
            same = "the same" if math.isclose(s.p_last, s.p_last_shuffled, rel_tol=1e-4, abs_tol=1e-7) else "differs"
            lines.append(f"  {s.positional:<11} {s.p_last:.4f} vs {s.p_last_shuffled:.4f}  ({same})")
        lines.append("Without positions the model sees the words before the last one as a bag: its "
                     "prediction cannot change when they are shuffled.")
    return lines
