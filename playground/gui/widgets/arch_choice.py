"""The Model tab's first choice: a GPT (decoder only) or an encoder–decoder, and which corpus fits which.

A GPT continues one text; an encoder–decoder reads a source sentence and writes its translation, so
it learns from sentence pairs (one ``source<TAB>target`` per line, ``core/pairs.py``). Training one
on the other's kind of text cannot work, so the Model tab picks the kind that fits the loaded corpus
and refuses, in words, the combination that does not. Torch-free: only the config and the corpus.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox

from playground.core.config import ENCODER_DECODER, ModelConfig

GPT = "gpt"
CHOICES = [("GPT (decoder only)", GPT), ("Encoder–decoder", ENCODER_DECODER)]
PAIR_CHECK_CHARS = 2_000_000  # a longer text of one's own is not read whole on the GUI thread to ask
TIP = ("GPT (decoder only): one stack of blocks that continues a text, each token looking only back. "
       "Encoder–decoder (the original transformer): an encoder reads a whole source sentence at once, a "
       "decoder writes its translation token by token and looks back at the source through "
       "cross-attention. It learns from sentence pairs such as the built-in Robot language.")


def combo() -> QComboBox:
    box = QComboBox()
    for title, value in CHOICES:
        box.addItem(title, value)
    box.setToolTip(TIP)
    return box


def _pair_lines(text: str) -> bool:
    """Every non-empty line is ``source<TAB>target`` (the rule of ``core.pairs.is_pair_text``,
    which imports torch: the Model tab must not)."""
    lines = [ln for ln in text.split("\n") if ln.strip()]

    def pair(line: str) -> bool:
        parts = line.rstrip("\r").split("\t")
        return len(parts) == 2 and bool(parts[0].strip()) and bool(parts[1].strip())

    return bool(lines) and all(pair(ln) for ln in lines)


def is_pair_corpus(corpus: Any) -> bool:
    """True for a corpus of sentence pairs: a built-in pair corpus, or a text of one's own held in
    memory whose every line is a pair."""
    if corpus is None:
        return False
    source = getattr(corpus, "source", "") or ""
    if source.startswith("builtin:"):
        from playground.core.builtin_corpora import BUILTINS

        item = BUILTINS.get(source[len("builtin:"):])
        return bool(item is not None and item.pairs)
    if not getattr(corpus, "in_memory", True) or getattr(corpus, "chars", 0) > PAIR_CHECK_CHARS:
        return False
    try:
        return _pair_lines(corpus.text)
    except (AttributeError, OSError):
        return False


def fitting_arch(corpus: Any) -> str:
    return ENCODER_DECODER if is_pair_corpus(corpus) else GPT


def mismatch(cfg: ModelConfig, corpus: Any) -> str | None:
    """Why ``cfg`` cannot learn from ``corpus`` (None when it can, or when no corpus is loaded)."""
    if corpus is None:
        return None
    pairs = is_pair_corpus(corpus)
    if cfg.is_encoder_decoder and not pairs:
        return ("an encoder–decoder learns from sentence pairs (one 'source<TAB>target' per line, e.g. the "
                "built-in Robot language), and this corpus is an ordinary text. Choose GPT (decoder only) "
                "to continue it, or load a pair corpus.")
    if pairs and not cfg.is_encoder_decoder:
        kind = "a bigram table" if cfg.arch == "bigram" else "a GPT"
        return (f"this corpus is sentence pairs (a source, a tab, its translation), and {kind} would only "
                "learn to continue lines, not to translate a sentence you type. Choose Encoder–decoder.")
    return None
