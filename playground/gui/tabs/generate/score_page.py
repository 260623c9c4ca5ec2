"""The Score page: each token of a text shaded by the model's surprise (``core.generate.score_text``).

It reports the average loss, the perplexity and the bits per character (``core.bits``: the one
figure that compares models with different tokenizers); one click scores an excerpt of the training split
next to one of the validation split, with the verdict of ``core.analysis.train_val_verdict``.
"""

from __future__ import annotations

import html
import math

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from playground.core import activity
from playground.core.bits import scored_bits_per_char
from playground.errors import CorpusError, PlaygroundError
from playground.gui import ui, workers
from playground.gui.tabs.generate import jobs
from playground.gui.tabs.generate.common import (
    ModelLoader,
    after_typing,
    blocks_reading,
    edit_row,
    mark_unknown,
    pct,
    push_button,
    quoted,
)
from playground.gui.widgets.generated_text import ScaleLegend, ShadedTokenView

TRAIN_VAL_HEADS = ["Training text (the model learned from it)", "Validation text (never seen in training)"]


class ScorePage(QWidget):
    def __init__(self, loader: ModelLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.run = None  # the run picked at the top of the tab (set by the tab)
        self.handle: workers.WorkerHandle | None = None
        self.last_scores: list = []  # [(text, TextScore)]
        self._build()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.score_edit = QPlainTextEdit()
        self.score_edit.setPlaceholderText(
            "Paste or type a text: every token gets shaded by how surprised the model is.")
        self.score_edit.setToolTip("The text to score. The model predicts each token from the ones before it.")
        after_typing(self.score_edit, self.mark_unknown)
        self.score_button = push_button(
            "Score", "Shade each token by the model's surprise (its loss) and compute the perplexity", self.score)
        self.trainval_button = push_button(
            "Train vs validation",
            "Score an excerpt of the training text and one of the validation text (never used "
            "for training) side by side. Much lower loss on training text = memorising (overfitting).",
            self.score_train_vs_val)
        layout.addLayout(edit_row(self.score_edit, 5, [self.score_button, self.trainval_button]))
        self.score_note = ui.MessageLabel()
        layout.addWidget(self.score_note)
        self.score_error = ui.MessageLabel()
        layout.addWidget(self.score_error)
        self.score_legend = ScaleLegend("", "", "Surprise (loss):")
        self.score_legend.setToolTip(
            "Loss = −ln(probability the model gave the real next token). 0: the model was sure; "
            "ln(vocabulary size): no better than guessing uniformly among all tokens.")
        layout.addWidget(self.score_legend)
        columns = QHBoxLayout()
        self.score_views: list[ShadedTokenView] = []
        self.score_heads: list[QLabel] = []
        self.score_summaries: list[QLabel] = []
        self.score_columns: list[QWidget] = []
        for i in range(2):
            column = QWidget()
            cv = QVBoxLayout(column)
            cv.setContentsMargins(0, 0, 0, 0)
            head = QLabel("")
            head.setStyleSheet("font-weight: bold;")
            view = ShadedTokenView()
            view.follow_end = False
            view.tip_provider = (lambda index, i=i: self._score_tip(i, index))
            summary = QLabel("")
            summary.setWordWrap(True)
            summary.setToolTip(
                "Average loss: the mean surprise per token. Perplexity = e^(average loss): the model "
                "is as unsure as if it chose uniformly among that many tokens. Bits per character = "
                "the text's total surprise ÷ (its characters × ln 2): unlike the loss per token, it "
                "compares models whose tokenizers differ.")
            cv.addWidget(head)
            cv.addWidget(view, 1)
            cv.addWidget(summary)
            columns.addWidget(column, 1)
            self.score_views.append(view)
            self.score_heads.append(head)
            self.score_summaries.append(summary)
            self.score_columns.append(column)
        self.score_views[0].placeholder = "Press Score to see the text's tokens shaded by surprise."
        self.score_columns[1].hide()
        layout.addLayout(columns, 1)
        self.score_verdict = QLabel("")
        self.score_verdict.setWordWrap(True)
        layout.addWidget(self.score_verdict)

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.running

    def _current_tokenizer(self):
        loaded = self.loader.cached(self.run.path) if self.run is not None else None
        return loaded.tokenizer if loaded is not None else None

    @Slot()
    def mark_unknown(self) -> None:
        mark_unknown(self.score_edit, self.score_note, self._current_tokenizer())

    @Slot()
    def score(self) -> None:
        text = self.score_edit.toPlainText()
        if not text.strip():
            self.score_error.show_text("Paste or type a text to score first.")
            return
        self._start([text], None)

    @Slot()
    def score_train_vs_val(self) -> None:
        if self.run is None:
            return
        try:
            self.run.reload()  # the run's record may have changed on disk since it was listed
        except PlaygroundError as exc:
            self.score_error.show_error(exc)
            return
        split = self.run.corpus_record.get("split") or self.run.train_config.split
        self._start([], dict(self.run.corpus_record), float(split))

    def _start(self, texts: list[str], record: dict | None, split: float = 0.9) -> None:
        if self.run is None or self.running:
            return
        self.score_error.clear_message()
        tokenizer = self._current_tokenizer()
        if tokenizer is not None and texts and tokenizer.unknown_spans(texts[0]) and blocks_reading(tokenizer):
            self.mark_unknown()
            self.score_error.show_text("The text has characters this model cannot read (marked in red above).")
            return
        self._set_enabled(False)

        def start(loaded) -> None:
            self.handle = workers.start(
                jobs.score_job(loaded, list(texts), record, split), parent=self,
                on_done=lambda result: self._scored(result, record is not None, loaded.model.config.vocab_size,
                                                    loaded.tokenizer),
                on_error=self._failed, name="score")

        self.loader.with_model(self.run.path, None, start, self._failed)

    def _set_enabled(self, on: bool) -> None:
        self.score_button.setEnabled(on)
        self.trainval_button.setEnabled(on)

    def _failed(self, exc: BaseException) -> None:
        self._set_enabled(True)
        if isinstance(exc, CorpusError):
            self.score_error.show_text(f"Cannot score the training text: {ui.error_text(exc, ' ')}")
        else:
            self.score_error.show_error(exc)

    def _scored(self, results: list, train_vs_val: bool, vocab: int, tokenizer=None) -> None:
        from playground.core.analysis import train_val_verdict

        self._set_enabled(True)
        self.last_scores = results
        guess = math.log(max(vocab, 2))
        self.score_legend.set_labels(f"{guess:.2f} = ln {vocab} (guessing)", "0 (sure)", "Surprise (loss):")
        heads = TRAIN_VAL_HEADS if train_vs_val else ["Your text"]
        for i, view in enumerate(self.score_views):
            if i >= len(results):
                self.score_columns[i].setVisible(False)
                continue
            _, sc = results[i]
            self.score_columns[i].setVisible(True)
            values = [None if math.isnan(v) else 1.0 - min(v / guess, 1.0) for v in sc.losses]
            view.set_shaded(sc.ids, sc.labels, values)
            view.verticalScrollBar().setValue(0)
            self.score_heads[i].setText(heads[i])
            bpc = scored_bits_per_char(sc.losses, sc.ids, tokenizer) if tokenizer is not None else math.nan
            self.score_summaries[i].setText(
                f"{len(sc.ids)} tokens · average loss <b>{sc.mean_loss:.3f}</b> per token · perplexity "
                f"<b>{sc.perplexity:.2f}</b> (as unsure as choosing among {sc.perplexity:.1f} tokens)"
                + (f" · <b>{bpc:.3f}</b> bits per character" if math.isfinite(bpc) else ""))
        if train_vs_val and len(results) == 2:
            self.score_verdict.setText(train_val_verdict(results[0][1].mean_loss, results[1][1].mean_loss))
            activity.record(activity.SCORED, run=self.run.name if self.run is not None else None, train_vs_val=True,
                            train_loss=round(results[0][1].mean_loss, 4), val_loss=round(results[1][1].mean_loss, 4))
        else:
            self.score_verdict.setText("")

    def _score_tip(self, column: int, index: int) -> str:
        if column >= len(self.last_scores):
            return ""
        _, sc = self.last_scores[column]
        label = html.escape(quoted(sc.labels[index]))
        loss = sc.losses[index]
        if math.isnan(loss):
            return f"<b>{label}</b> (id {sc.ids[index]})<br>The first token has no prediction: nothing comes before it."
        return (f"<b>{label}</b> (id {sc.ids[index]})<br>surprise (loss) <b>{loss:.3f}</b> = −ln p, "
                f"so the model gave it p = {pct(math.exp(-loss))}")
