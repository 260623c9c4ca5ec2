"""Help → Glossary: the seed concepts in plain words, each with the tab where you see it."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
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
    text: str  # two sentences, our own words
    tab: str  # the tab label where the student sees it


CONCEPTS: list[Concept] = [
    Concept(
        "Token",
        "A token is one piece of text the model reads or writes at a time: a character, a word, "
        "or a chunk such as \"ing\". The tokenizer turns text into a list of token ids (numbers), "
        "and everything the model sees or writes is one of those ids.",
        "Tokenizer",
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
    ),
    Concept(
        "Attention",
        "Attention lets every token look back at the tokens before it and take in information "
        "from the ones that help predict what comes next. The attention weights say how much "
        "each earlier token is used; they are the heatmaps you can explore.",
        "Attention",
    ),
    Concept(
        "Query / key / value",
        "Each token makes three vectors: a query (\"what am I looking for?\"), a key (\"what do "
        "I offer?\") and a value (\"what I pass on\"). The query is compared with every earlier "
        "key to give scores, and the token receives the values mixed by those scores.",
        "Attention",
    ),
    Concept(
        "Softmax",
        "Softmax turns any list of numbers into positive weights that add up to 1, giving the "
        "largest number the biggest share. The model uses it twice: for attention weights and "
        "for the probabilities of the next token.",
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
    ),
    Concept(
        "MLP",
        "The MLP (multi-layer perceptron) is a small two-layer network that works on each token "
        "on its own, right after attention. Attention moves information between tokens; the MLP "
        "then processes what each token has gathered.",
        "Model",
    ),
    Concept(
        "Logits",
        "Logits are the raw scores the model gives every token of the vocabulary for \"what comes "
        "next\". Softmax turns them into probabilities: the higher the logit, the more likely "
        "the token.",
        "Generate",
    ),
    Concept(
        "Loss",
        "The loss measures how surprised the model is by the real next token: minus the log of "
        "the probability it gave that token. Training nudges the weights to make it smaller; "
        "pure guessing scores ln(vocabulary size).",
        "Train",
    ),
    Concept(
        "Overfitting",
        "Overfitting means the model memorises its training text instead of learning patterns "
        "that also work on new text. You see it when the validation loss goes up while the "
        "training loss keeps going down.",
        "Train",
    ),
    Concept(
        "Temperature",
        "Temperature divides the logits before softmax when the model writes text. Below 1 it "
        "picks safer, more repetitive tokens; above 1 it takes more surprising, more "
        "error-prone ones.",
        "Generate",
    ),
]


class GlossaryDialog(QDialog):
    """A list of terms; the selected one is explained with a button to its tab."""

    showTab = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Glossary — LLM Playground")
        layout = QVBoxLayout(self)
        body = QHBoxLayout()
        self.terms = QListWidget()
        self.terms.setToolTip("The ideas behind a GPT, in the order you meet them")
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
