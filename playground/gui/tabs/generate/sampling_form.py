"""The row of sampling controls every page of the Generate tab shares."""

from __future__ import annotations

import random

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QGroupBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from playground.core.config import SamplingConfig

SEED_LIMIT = 2**31 - 1


class SamplingForm(QGroupBox):
    """Temperature, top-k, top-p, max new tokens, seed and greedy; ``config()`` reads them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("How each next token is chosen", parent)
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(8, 4, 8, 4)

        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(1.0)
        self._add("&Temperature", self.temperature,
                  "Temperature divides the model's scores (logits) before they become probabilities: "
                  "below 1 sharpens the distribution (safe, repetitive), above 1 flattens it "
                  "(adventurous, more mistakes). 0 = always the most likely token.")
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 100_000)
        self.top_k.setSpecialValueText("off")
        self._add("Top-&k", self.top_k,
                  "Top-k keeps only the k most likely tokens and cuts off all others before drawing. "
                  "'off' keeps every token.")
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.01, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setDecimals(2)
        self.top_p.setValue(1.0)
        self._add("Top-&p", self.top_p,
                  "Top-p (nucleus sampling) keeps the most likely tokens that together make up this "
                  "share of the probability, and cuts off the unlikely tail. 1.00 = off (keep all).")
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 5000)
        self.max_tokens.setValue(200)
        self._add("&Max new tokens", self.max_tokens, "How many tokens the model writes after the prompt.")
        self.seed = QSpinBox()
        self.seed.setRange(0, SEED_LIMIT)
        self.seed.setValue(1234)
        self._add("S&eed", self.seed,
                  "The random seed for drawing tokens: the same prompt, settings and seed always give "
                  "the same text, so results can be repeated and compared.")
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

    def _add(self, label: str, widget: QWidget, tip: str) -> None:
        lab = QLabel(label)
        lab.setToolTip(tip)
        widget.setToolTip(tip)
        lab.setBuddy(widget)
        self._row.addWidget(lab)
        self._row.addWidget(widget)
        self._row.addSpacing(8)

    @Slot(bool)
    def _greedy_toggled(self, on: bool) -> None:
        for widget in (self.temperature, self.top_k, self.top_p):
            widget.setEnabled(not on)

    def set_vocab_size(self, vocab_size: int) -> None:
        self.top_k.setMaximum(max(1, vocab_size))

    def config(self, max_new_tokens: int | None = None, seed_offset: int = 0) -> SamplingConfig:
        """The settings as a validated SamplingConfig (raises ModelError when one is invalid).

        Without a fixed seed a fresh one is drawn (and shown) for each new text;
        ``seed_offset`` > 0 continues a text (step mode), which keeps the seed shown.
        """
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
