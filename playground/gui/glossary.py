"""Help → Glossary: the seed concepts in plain words, each with the tab where you see it.

F1 (Help → Glossary) opens it at the term the tooltip under the mouse, or else of the focused
widget, uses (``term_here``): every tooltip that uses a glossary word leads to its entry.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class Concept:
    term: str
    text: str  # two or three sentences, our own words
    tab: str  # the tab label where the student sees it
    # Other words that mean this term in a tooltip (the term itself, a plural s and "es" are
    # always matched): F1 on a widget whose tooltip uses one opens this entry.
    words: tuple[str, ...] = ()


CONCEPTS: list[Concept] = [
    Concept(
        "Token",
        "A token is one piece of text the model reads or writes at a time: a character, a word, "
        "or a chunk such as \"ing\". The tokenizer turns text into a list of token ids (numbers), "
        "and everything the model sees or writes is one of those ids.",
        "Tokenizer",
    ),
    Concept(
        "BPE",
        "Byte pair encoding builds a vocabulary by starting from single bytes and merging the most "
        "frequent neighbouring pair into a new token, again and again. Common words end up as one "
        "token and rare ones as a few pieces, so any text can be encoded; GPT models use it.",
        "Tokenizer",
        ("byte pair encoding", "merges"),
    ),
    Concept(
        "Embedding",
        "An embedding is a list of numbers (a vector) that the model learns for every token id: "
        "its own private description of that token. Tokens that play similar roles in your text "
        "end up with similar vectors, so they gather together when you plot them.",
        "Attention",
    ),
    Concept(
        "Position",
        "Attention on its own does not know in which order the tokens came, so the model adds a "
        "position vector to each token's embedding. It is either learned during training or a "
        "fixed pattern of sine waves; both tell the model \"this is the 5th token\".",
        "Attention",
        ("positional", "positions"),
    ),
    Concept(
        "Residual stream",
        "The residual stream is the vector each token carries through the model: its embedding "
        "plus position, to which every attention layer and every MLP adds its output. Each layer "
        "reads the stream and writes back into it; the last one is turned into the prediction. "
        "The Attention tab's \"The math\" follows it step by step.",
        "Attention",
    ),
    Concept(
        "Attention",
        "Attention lets every token look back at the tokens before it, and at itself, and take in "
        "information from the ones that help predict what comes next. The attention weights say "
        "how much each of those tokens is used; they are the heatmaps you can explore.",
        "Attention",
    ),
    Concept(
        "Causal mask",
        "The causal mask stops a token from looking at the tokens after it: their scores are set "
        "to minus infinity before softmax, so their weights become 0. Without it the model could "
        "copy the answer during training instead of predicting it; it is the empty upper triangle "
        "of every attention heatmap.",
        "Attention",
        ("causal", "mask", "masked"),
    ),
    Concept(
        "Query / key / value",
        "Each token makes three vectors from its residual stream (in the first layer that is its "
        "embedding plus position; later, everything the layers before added to it): a query "
        "(\"what am I looking for?\"), a key (\"what do I offer?\") and a value (\"what I pass "
        "on\"). The query is compared with its own key and every earlier key to give scores, "
        "softmax turns the scores into weights, and the token receives the values mixed by those "
        "weights.",
        "Attention",
        ("query", "queries", "key", "keys", "q/k/v", "qkv"),
    ),
    Concept(
        "Softmax",
        "Softmax turns any list of numbers into positive weights that add up to 1, giving the "
        "largest number the biggest share. The model uses it in every head of every layer, to "
        "turn scores into attention weights, and once more at the output, to turn the logits "
        "into the probabilities of the next token.",
        "Attention",
    ),
    Concept(
        "Head",
        "A head is one attention pattern with its own queries, keys and values; each layer runs "
        "several heads side by side. Different heads learn different jobs, such as \"look at "
        "the previous token\" or \"find where this token appeared before\".",
        "Attention",
    ),
    Concept(
        "Residual",
        "A residual connection adds a block's output to its input instead of replacing it, so "
        "information can flow straight through the whole model. Each block then only has to "
        "learn a small correction, which makes deep models much easier to train.",
        "Model",
    ),
    Concept(
        "Layer norm",
        "Layer normalisation rescales each token's vector so its numbers have an average of 0 "
        "and a spread of 1 before a block works on it. Keeping the numbers in a steady range "
        "stops training from blowing up or stalling.",
        "Model",
        ("layernorm", "layer normalisation", "layer normalization"),
    ),
    Concept(
        "MLP",
        "The MLP (multi-layer perceptron) is a small two-layer network that works on each token "
        "on its own, right after attention. Attention moves information between tokens; the MLP "
        "then processes what each token has gathered.",
        "Model",
        ("feed-forward", "gelu"),
    ),
    Concept(
        "Logits",
        "Logits are the raw scores the model gives every token of the vocabulary for \"what comes "
        "next\": the last residual stream times the unembedding matrix. Softmax turns them into "
        "probabilities, the higher the logit the more likely the token. The Attention tab's "
        "\"The math\" shows them as bars (and the Logit lens what each layer would predict); the "
        "Generate tab shows the probabilities they become.",
        "Attention",
        ("logit", "unembedding"),
    ),
    Concept(
        "Logit lens",
        "The logit lens applies the model's last steps (final layer norm, then the unembedding) to "
        "the residual stream after every layer, not only after the last one. It shows what each "
        "layer would predict if the model stopped there, so you watch the prediction form layer "
        "by layer.",
        "Attention",
    ),
    Concept(
        "Ablation",
        "An ablation switches one part of the model off (a head, a block's MLP, the positions) and "
        "measures what changes. If the loss rises a lot, that part mattered for this text; if it "
        "barely moves, the model did not need it.",
        "Attention",
        ("ablate", "ablating", "switch off", "switched off"),
    ),
    Concept(
        "Bigram",
        "A bigram model predicts the next token from the current token alone, with one table of "
        "scores (a row per current token, a column per next one). It has no attention and no "
        "memory of anything earlier, which makes it the simplest baseline to beat.",
        "Model",
    ),
    Concept(
        "Parameter",
        "A parameter is one number of the model that training adjusts: an entry of an embedding, "
        "of a weight matrix or of a bias. The model's size is its count of parameters, and "
        "everything it has learned is stored in them.",
        "Model",
        ("weights",),
    ),
    Concept(
        "Loss",
        "The loss measures how surprised the model is by the real next token: minus the log of "
        "the probability it gave that token. Training nudges the weights to make it smaller; "
        "pure guessing scores ln(vocabulary size). It is counted per token, so it only compares "
        "models with the same tokenizer: bits per character compares any two.",
        "Train",
        ("cross-entropy", "bits per character"),
    ),
    Concept(
        "Gradient",
        "The gradient says, for every parameter, which way and how strongly the loss changes when "
        "that parameter is nudged. Training computes it (backpropagation) and moves every "
        "parameter a little in the direction that lowers the loss.",
        "Train",
        ("backpropagation",),
    ),
    Concept(
        "Learning rate",
        "The learning rate is the size of each training step along the gradient. Too high and the "
        "loss jumps around or explodes; too low and it falls very slowly. Here it warms up, then "
        "decays along a cosine.",
        "Train",
    ),
    Concept(
        "Batch",
        "A batch is the handful of text pieces the model learns from in one training step; their "
        "losses are averaged before the weights move. Bigger batches give steadier steps but "
        "need more memory.",
        "Train",
        ("batch size",),
    ),
    Concept(
        "Dropout",
        "Dropout switches a random part of the numbers inside the model to zero at each training "
        "step, so it cannot lean on any single one. It fights overfitting; it is switched off "
        "when the model writes or is evaluated.",
        "Model",
    ),
    Concept(
        "Overfitting",
        "Overfitting means the model memorises its training text instead of learning patterns "
        "that also work on new text. You see it when the validation loss goes up while the "
        "training loss keeps going down.",
        "Train",
        ("overfit", "memorising", "memorizing"),
    ),
    Concept(
        "Perplexity",
        "Perplexity is e to the power of the average loss: the model is as unsure as if it chose "
        "uniformly among that many tokens. A perplexity of 3 means about as unsure as rolling a "
        "three-sided die for each token.",
        "Generate",
    ),
    Concept(
        "Temperature",
        "Temperature divides the logits before softmax when the model writes text. Below 1 it "
        "picks safer, more repetitive tokens; above 1 it takes more surprising, more "
        "error-prone ones.",
        "Generate",
    ),
    Concept(
        "Top-k / top-p",
        "Top-k keeps only the k most likely next tokens before one is drawn; top-p keeps the "
        "smallest set of most likely tokens whose probabilities add up to p. Both cut off the long "
        "tail of unlikely tokens that makes generated text go off the rails.",
        "Generate",
        ("top-k", "top-p", "nucleus"),
    ),
    Concept(
        "PCA",
        "Principal component analysis finds the directions in which a cloud of vectors varies "
        "most, so a picture in two of them keeps as much of the spread as two axes can. The "
        "Embeddings view uses it to draw every token's vector as a point on a flat map.",
        "Attention",
        ("principal component", "principal components"),
    ),
]


def _pattern(concept: Concept) -> re.Pattern:
    words = {concept.term, *concept.words}
    if "/" in concept.term:  # "Query / key / value", "Top-k / top-p": their parts are the words
        words.discard(concept.term)
    alternatives = sorted((re.escape(w) for w in words), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?:s|es)?(?![\w-])", re.IGNORECASE)


_PATTERNS = [(concept, _pattern(concept)) for concept in CONCEPTS]
_TAGS = re.compile(r"<[^>]+>")


def term_in(text: str) -> str | None:
    """The glossary term a tooltip uses first (rich text's tags skipped); at the same place the
    longest word wins ("residual stream" over "residual"). None when it uses none."""
    text = html.unescape(_TAGS.sub(" ", text or ""))
    best: tuple[int, int, str] | None = None
    for concept, pattern in _PATTERNS:
        m = pattern.search(text)
        if m and (best is None or (m.start(), -len(m.group())) < best[:2]):
            best = (m.start(), -len(m.group()), concept.term)
    return best[2] if best else None


def term_for_widget(widget: QWidget | None) -> str | None:
    """The glossary term of the nearest tooltip, from ``widget`` up through its parents."""
    while widget is not None:
        term = term_in(widget.toolTip())
        if term is not None:
            return term
        if widget.toolTip():
            return None  # the nearest tooltip uses no glossary word: the parents' are about other things
        widget = widget.parentWidget()
    return None


def term_here() -> str | None:
    """The term of what the student points at (the widget under the mouse) or works in (the
    focused widget): F1 opens the glossary there."""
    for widget in (QApplication.widgetAt(QCursor.pos()), QApplication.focusWidget()):
        term = term_for_widget(widget)
        if term is not None:
            return term
    return None


class GlossaryDialog(QDialog):
    """A list of terms; the selected one is explained with a button to its tab."""

    showTab = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Glossary — LLM Playground")
        layout = QVBoxLayout(self)
        body = QHBoxLayout()
        self.terms = QListWidget()
        self.terms.setToolTip("The ideas behind a GPT, in the order you meet them. Press F1 over "
                              "anything in the window to open its term here.")
        for concept in CONCEPTS:
            self.terms.addItem(concept.term)
        self.terms.setFixedWidth(170)
        body.addWidget(self.terms)
        right = QVBoxLayout()
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 16pt; font-weight: bold;")
        right.addWidget(self.title)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.text.setStyleSheet("font-size: 11pt;")
        right.addWidget(self.text, 1)
        self.go_button = QPushButton()
        self.go_button.setToolTip("Switch the main window to the tab where you can see this")
        self.go_button.clicked.connect(self._go)
        right.addWidget(self.go_button, 0, Qt.AlignLeft)
        body.addLayout(right, 1)
        layout.addLayout(body)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.terms.currentRowChanged.connect(self._show)
        self.terms.setCurrentRow(0)
        self.resize(620, 320)

    @Slot(int)
    def _show(self, row: int) -> None:
        if row < 0:
            return
        concept = CONCEPTS[row]
        self.title.setText(concept.term)
        self.text.setText(concept.text)
        self.go_button.setText(f"See it in the {concept.tab} tab →")

    def select(self, term: str) -> None:
        for row, concept in enumerate(CONCEPTS):
            if concept.term.lower() == term.lower():
                self.terms.setCurrentRow(row)
                return
        raise KeyError(term)

    @Slot()
    def _go(self) -> None:
        row = self.terms.currentRow()
        if row >= 0:
            self.showTab.emit(CONCEPTS[row].tab)
