"""The Model tab — not built yet: a placeholder that says what will come here."""

from __future__ import annotations

from playground.gui.tabs.placeholder import PlaceholderTab


class ModelTab(PlaceholderTab):
    TITLE = "Model"
    AVAILABLE = False
    COMING = (
        "Here you will choose the size of your GPT: a preset (Bigram, Tiny, Small, Medium, "
        "GPT-2 124M) or your own number of layers, heads and embedding size. You will see the "
        "parameter count, the memory it needs, and a diagram of the model that explains each "
        "part."
    )
