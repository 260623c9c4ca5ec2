"""The Attention tab — not built yet: a placeholder that says what will come here."""

from __future__ import annotations

from playground.gui.tabs.placeholder import PlaceholderTab


class AttentionTab(PlaceholderTab):
    TITLE = "Attention"
    AVAILABLE = False
    COMING = (
        "Here you will look inside your trained model: one attention heatmap per layer and "
        "head, the query/key/value math step by step with the real numbers, labels such as "
        "\"previous-token head\", and the token embeddings as a map."
    )
