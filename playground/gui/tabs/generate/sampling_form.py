"""The row of sampling controls every page of the Generate tab shares."""

from __future__ import annotations

import random

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from playground.core.config import SamplingConfig
from playground.gui import ui

SEED_LIMIT = 2**31 - 1
# New tokens in one text, at most: the kept prompt (one context window, 1,024 tokens for the
# largest preset) and the text then fit the view's 20,000 boxes (token_view.MAX_TOKENS).
MAX_NEW_TOKENS = 5000


class SamplingForm(QGroupBox):
    """Temperature, top-k, top-p, max new tokens, seed and greedy; ``config()`` reads them.

    A number typed past a field's range is not silently refused: ``range_note`` says the
    range, and the field takes the nearest end of it (``ui.SpinBox``).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("How each next token is chosen", parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 4, 8, 4)
        self._row = QHBoxLayout()
        column.addLayout(self._row)
        self.range_note = ui.MessageLabel()
        column.addWidget(self.range_note)
        self._tips: dict[QWidget, str] = {}

        self.temperature = self._field(
            "&Temperature", 0.0, 5.0, 1.0, (0.1, 2),
            "Temperature divides the model's scores (logits) before they become probabilities: "
            "below 1 sharpens the distribution (safe, repetitive), above 1 flattens it "
            "(adventurous, more mistakes). 0 = always the most likely token.")
        self.top_k = self._field(
            "Top-&k", 0, 100_000, 0, None,
            "Top-k keeps only the k most likely tokens and cuts off all others before drawing. "
            "'off' keeps every token.")
        self.top_k.setSpecialValueText("off")
        self.top_p = self._field(
            "Top-&p", 0.01, 1.0, 1.0, (0.05, 2),
            "Top-p (nucleus sampling) keeps the most likely tokens that together make up this "
            "share of the probability, and cuts off the unlikely tail. 1.00 = off (keep all).")
        self.max_tokens = self._field("&Max new tokens", 1, MAX_NEW_TOKENS, 200, None,
                                      "How many tokens the model writes after the prompt.")
        self.seed = self._field(
            "S&eed", 0, SEED_LIMIT, 1234, None,
            "The random seed for drawing tokens: the same prompt, settings and seed always give "
            "the same text, so results can be repeated and compared.")
        self._update_tips()
        self.fixed_seed = QCheckBox("same seed each time")
        self.fixed_seed.setChecked(True)
        self.fixed_seed.setToolTip(
            "Checked: every Generate uses the seed shown (repeatable). Unchecked: a new random "
            "seed each time; it is shown in the seed box so you can repeat a text you liked.")
        self._row.addWidget(self.fixed_seed)
        self._row.addSpacing(8)
        self.greedy = QCheckBox("&Greedy")
        self.greedy.setToolTip(
            "Greedy decoding: always take the single most likely token (no randomness). Often "
            "gets stuck repeating itself.")
        self.greedy.toggled.connect(self._greedy_toggled)
        self._row.addWidget(self.greedy)
        self._row.addStretch(1)

    @property
    def fields(self) -> list:
        return [self.temperature, self.top_k, self.top_p, self.max_tokens, self.seed]

    def _field(self, label: str, low: float, high: float, value: float, step_decimals: tuple | None,
               tip: str) -> ui.SpinBox | ui.DoubleSpinBox:
        """A number field with its label: whole numbers, or (step, decimals) for fractions."""
        what = label.replace("&", "")
        if step_decimals is None:
            field = ui.SpinBox(what, self._range_message)
        else:
            field = ui.DoubleSpinBox(what, self._range_message)
            field.setSingleStep(step_decimals[0])
            field.setDecimals(step_decimals[1])
        field.setRange(low, high)
        field.setValue(value)
        lab = QLabel(label)
        lab.setBuddy(field)
        self._tips[field] = tip
        self._tips[lab] = tip
        self._row.addWidget(lab)
        self._row.addWidget(field)
        self._row.addSpacing(8)
        return field

    def _update_tips(self) -> None:
        """Each field's tooltip ends with its range (top-k's changes with the vocabulary)."""
        for widget, tip in self._tips.items():
            field = widget.buddy() if isinstance(widget, QLabel) else widget
            widget.setToolTip(f"{tip}\n\n{field.range_text()}.")

    def _range_message(self, message: str) -> None:
        if message:
            self.range_note.show_text(message, ui.WARNING)
        else:
            self.range_note.clear_message()

    @Slot(bool)
    def _greedy_toggled(self, on: bool) -> None:
        for widget in (self.temperature, self.top_k, self.top_p):
            widget.setEnabled(not on)

    def set_vocab_size(self, vocab_size: int) -> None:
        self.top_k.setMaximum(max(1, vocab_size))
        self._update_tips()

    def config(self, max_new_tokens: int | None = None, seed_offset: int = 0) -> SamplingConfig:
        """The settings as a validated SamplingConfig (raises ModelError when one is invalid).

        Without a fixed seed a fresh one is drawn (and shown) for each new text;
        ``seed_offset`` > 0 continues a text (step mode), which keeps the seed shown.
        """
        for field in self.fields:  # a number still being typed (Ctrl+Enter in the field) counts
            field.commit()
        if not self.fixed_seed.isChecked() and seed_offset == 0:
            self.seed.setValue(random.randrange(SEED_LIMIT))
        top_p = round(self.top_p.value(), 4)
        cfg = SamplingConfig(
            temperature=round(self.temperature.value(), 4), top_k=self.top_k.value() or None,
            top_p=None if top_p >= 1 else top_p, greedy=self.greedy.isChecked(),
            seed=(self.seed.value() + seed_offset) % SEED_LIMIT,
            max_new_tokens=int(self.max_tokens.value() if max_new_tokens is None else max_new_tokens),
        )
        cfg.validate()
        return cfg
