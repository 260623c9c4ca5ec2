"""The Tokenizer tab's line for a sentence-pair corpus: the source and the target vocabularies.

One tokenizer reads both sides of every pair (``core/pairs.py``); this line says how many of its
tokens the sources use and how many the targets use, and names the tokens only one side has (the
robot's word forms, say). Counted in a worker: a word-level read of 300 k characters takes a moment.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from playground.gui import workers
from playground.gui.widgets.arch_choice import is_pair_corpus

SHOWN = 12  # tokens named per side


def sides_text(tokenizer: Any, source_ids: list[int], target_ids: list[int]) -> str:
    src, tgt = set(source_ids), set(target_ids)

    def names(ids: set[int]) -> str:
        labels = [tokenizer.token_label(i) for i in sorted(ids)[:SHOWN]]
        more = f" … (+{len(ids) - SHOWN})" if len(ids) > SHOWN else ""
        return " ".join(f"‘{lab}’" for lab in labels) + more

    text = (f"<b>Sentence pairs</b>: the sources use <b>{len(src):,}</b> tokens, the targets <b>{len(tgt):,}</b> "
            f"({len(src & tgt):,} on both sides) of the one vocabulary of {tokenizer.vocab_size:,}. The tab "
            "before a target is the decoder's start token, the newline its end token.")
    if src - tgt:
        text += f"<br>Only in sources: {names(src - tgt)}"
    if tgt - src:
        text += f"<br>Only in targets: {names(tgt - src)}"
    return text


class PairVocabLabel(QLabel):
    """Hidden for an ordinary text; for a pair corpus, the two sides' vocabularies."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)
        self.setToolTip("An encoder–decoder reads the source with its encoder and writes the target with its "
                        "decoder; both use the same tokenizer and embedding table.")
        self.hide()
        self.sides: tuple[list[int], list[int]] | None = None  # (source ids, target ids) shown
        self._handle: workers.WorkerHandle | None = None
        self._asked: tuple | None = None

    def show_for(self, tokenizer: Any, corpus: Any) -> None:
        if tokenizer is None or not is_pair_corpus(corpus):
            self._asked, self.sides = None, None
            self.hide()
            return
        asked = self._asked = (id(tokenizer), id(corpus))
        text = corpus.text

        def job(progress, cancel):
            from playground.core.pairs import parse_pairs, side_vocabularies

            return side_vocabularies(tokenizer, parse_pairs(text))

        def done(sides) -> None:
            if asked == self._asked:
                self.sides = sides
                self.setText(sides_text(tokenizer, *sides))
                self.show()

        def failed(exc: BaseException) -> None:
            if asked == self._asked:
                self.setText(f"Sentence pairs: the two sides could not be counted ({exc}).")
                self.show()

        self._handle = workers.start(job, parent=self, on_done=done, on_error=failed, name="pair-vocab")

    @property
    def busy(self) -> bool:
        return self._handle is not None and self._handle.running
