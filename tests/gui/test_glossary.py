"""The glossary: every term the seeds teach, sentences that are right, and F1 from a tooltip."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QLineEdit

from playground.gui import glossary
from playground.gui.glossary import CONCEPTS, GlossaryDialog, term_for_widget, term_in

TAB_LABELS = {"Corpus", "Tokenizer", "Model", "Train", "Attention", "Generate"}
BY_TERM = {c.term: c for c in CONCEPTS}


def test_every_listed_term_has_an_entry_with_a_tab():
    listed = ["Parameter", "Gradient", "Learning rate", "Batch", "Dropout", "Causal mask", "BPE", "Bigram",
              "Perplexity", "Top-k / top-p", "PCA", "Residual stream", "Logit lens", "Ablation"]
    for term in listed:
        assert term in BY_TERM, term
    assert len(BY_TERM) == len(CONCEPTS)  # each term once
    for concept in CONCEPTS:
        assert concept.tab in TAB_LABELS
        assert 1 <= concept.text.count(". ") + 1 <= 4, concept.term  # one sentence to a few


def test_the_wrong_sentences_are_fixed():
    softmax = BY_TERM["Softmax"].text
    assert "twice" not in softmax and "every head" in softmax and "output" in softmax
    assert "itself" in BY_TERM["Attention"].text  # a token attends to itself too
    qkv = BY_TERM["Query / key / value"].text
    assert "mixed by those scores" not in qkv and "values mixed by those weights" in qkv
    assert "its own key" in qkv  # the query meets the token's own key too
    # The query of a later layer comes from the residual stream, not only the token and its position.
    assert "residual stream" in qkv and "later" in qkv
    logits = BY_TERM["Logits"].text
    assert "The math" in logits and "Logit lens" in logits and "Generate tab shows the probabilities" in logits
    assert BY_TERM["Logits"].tab == "Attention"


def test_the_word_tokenizers_tip_says_spaces_are_tokens():
    from playground.core.tokenizers import train_tokenizer
    from playground.gui.tabs.tokenizer_tab import TIPS

    assert "space" in TIPS["word"]
    tok = train_tokenizer("word", "the cat sat")
    assert [tok.decode([i]) for i in tok.encode("the cat")] == ["the", " ", "cat"]  # what the tip says


@pytest.mark.parametrize("tip, term", [
    ("Softmax turns the scores into weights", "Softmax"),
    ("<b>How</b> many heads each layer runs", "Head"),
    ("what the residual stream holds after the block", "Residual stream"),  # not "Residual"
    ("A residual connection", "Residual"),
    ("Top-k keeps only the k most likely tokens", "Top-k / top-p"),
    ("the keys every query is compared with", "Query / key / value"),
    ("Steps done of the planned iterations", None),
    ("A header line", None),  # "head" only as a whole word
    ("How big each update step is: the learning rate", "Learning rate"),
])
def test_term_in_a_tooltip(tip, term):
    assert term_in(tip) == term


def test_f1_over_a_widget_whose_tooltip_says_softmax_opens_the_glossary_there(window, qtbot):
    edit = QLineEdit()
    edit.setToolTip("Softmax turns these scores into attention weights that add up to 1")
    window.statusBar().addWidget(edit)
    inner = QLineEdit(edit)  # a child without a tooltip of its own: its parent's counts
    assert term_for_widget(inner) == "Softmax"
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    window.show_glossary().close()  # nothing pointed at: the focused widget's term
    QCursor.setPos(edit.mapToGlobal(QPoint(2, 2)))
    dialog = window.show_glossary()
    assert isinstance(dialog, GlossaryDialog) and dialog.title.text() == "Softmax"
    assert "every head" in dialog.text.text()
    dialog.close()

    # F1 is the Glossary action's key: from the keyboard, the same.
    dialog.select("Token")
    edit.setToolTip("How much of the text a batch holds")
    window.activateWindow()
    qtbot.keyClick(edit, Qt.Key_F1)
    qtbot.waitUntil(dialog.isVisible)
    assert dialog.title.text() == "Batch"


def test_a_tooltip_without_a_glossary_word_leaves_the_glossary_where_it_was(window, qtbot, monkeypatch):
    edit = QLineEdit()
    edit.setToolTip("Pick a file")
    window.statusBar().addWidget(edit)
    monkeypatch.setattr(glossary.QApplication, "widgetAt", lambda *a: edit)
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus)
    dialog = window.show_glossary()
    dialog.select("Loss")
    dialog.close()
    window.show_glossary()
    assert dialog.title.text() == "Loss"
