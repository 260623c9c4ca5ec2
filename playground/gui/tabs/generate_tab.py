"""The Generate tab — not built yet: a placeholder that says what will come here."""

from __future__ import annotations

from playground.gui.tabs.placeholder import PlaceholderTab


class GenerateTab(PlaceholderTab):
    TITLE = "Generate"
    AVAILABLE = False
    COMING = (
        "Here you will type a prompt and watch your model write, token by token, with the "
        "probabilities behind every choice, and play with temperature, top-k and top-p."
    )
