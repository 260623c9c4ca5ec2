"""The six tabs, in workflow order. This list is the one place that names them.

A tab is a QWidget class constructed as ``Tab(state, parent=None)`` with the class attribute
``TITLE`` (the tab label). A tab may define ``requestTab = Signal(str)`` to ask the window to
switch tabs, ``shutdown()`` to stop its work when the window closes, and
``confirm_close() -> bool`` to be asked first (False keeps the window open).
"""

from __future__ import annotations

import importlib

# (module, class) — imported lazily so a slow tab does not slow the others' tests.
TAB_CLASSES: list[tuple[str, str]] = [
    ("playground.gui.tabs.corpus_tab", "CorpusTab"),
    ("playground.gui.tabs.tokenizer_tab", "TokenizerTab"),
    ("playground.gui.tabs.model_tab", "ModelTab"),
    ("playground.gui.tabs.train_tab", "TrainTab"),
    ("playground.gui.tabs.attention_tab", "AttentionTab"),
    ("playground.gui.tabs.generate", "GenerateTab"),
]

TAB_TITLES = ["Corpus", "Tokenizer", "Model", "Train", "Attention", "Generate"]


def tab_classes() -> list[type]:
    return [getattr(importlib.import_module(mod), cls) for mod, cls in TAB_CLASSES]
