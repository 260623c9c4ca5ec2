"""The Train tab — not built yet: a placeholder that says what will come here."""

from __future__ import annotations

from playground.gui.tabs.placeholder import PlaceholderTab


class TrainTab(PlaceholderTab):
    TITLE = "Train"
    AVAILABLE = False
    COMING = (
        "Here you will train your model on the corpus and watch the training and validation "
        "loss fall live, with Start, Pause, Resume and Stop. Every training becomes a run you "
        "can compare, resume, export and share."
    )
