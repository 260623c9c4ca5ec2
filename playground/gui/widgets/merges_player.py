"""BPE's merges, replayed one at a time on the student's text (the Tokenizer tab's second page).

A list of the merges in learned order, a slider "use only the first N merges", Play, and the
text tokenized with those N merges (``BPETokenizer.encode_with_merges``), the newest merge's
tokens framed red.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSlider,
    QStyle,
    QWidget,
)

from playground.gui.widgets.token_view import TokenView, beside_tokens, token_text

NO_BPE = "Train a BPE tokenizer first (choose BPE above and press 'Train on corpus')."
PLAY_FRAMES = 200  # Play shows about this many steps, whatever the number of merges
# The style's own icons, not "▶"/"⏸" characters: many fonts lack the pause glyph (an empty box).
PLAY = (QStyle.SP_MediaPlay, "Play")
PAUSE = (QStyle.SP_MediaPause, "Pause")


class MergesPlayer(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tokenizer: Any = None  # a BPETokenizer, or None
        self.text = ""
        self.list = QListWidget()
        self.list.setToolTip(
            "Each merge glues two existing tokens into a new one. The most frequent pair in the "
            "corpus is merged first. Click one to replay up to it.")
        self.list.currentRowChanged.connect(self._merge_clicked)
        slider_row = QHBoxLayout()
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip(
            "Tokenize your text using only the first N merges. At 0 every byte is its own "
            "token; move right and watch pieces like 't' 'h' 'e' become 'the'.")
        self.slider.valueChanged.connect(self._show_step)
        slider_row.addWidget(self.slider, 1)
        self.play_button = QPushButton()
        self._show_button(PLAY)
        self.play_button.setToolTip("Replay all merges from the start, like a film")
        self.play_button.clicked.connect(self.toggle_play)
        slider_row.addWidget(self.play_button)
        self.label = QLabel(NO_BPE)
        self.label.setWordWrap(True)
        self.view = TokenView()
        self.view.placeholder = "Your text, tokenized with the first N merges."
        self.setLayout(beside_tokens([QLabel("<b>Merges in the order BPE learned them</b>"), self.list],
                                     self.view, above=[slider_row, self.label]))
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._play_step)

    # -- data in -----------------------------------------------------------------------------
    def set_tokenizer(self, tokenizer: Any) -> None:
        """Show this BPE tokenizer's merges (None: ask for one), at the last merge."""
        self.tokenizer = tokenizer
        self.stop()
        self.list.blockSignals(True)
        self.list.clear()
        if tokenizer is None:
            self.slider.setRange(0, 0)
            self.label.setText(NO_BPE)
            self.view.clear()
            self.list.blockSignals(False)
            return
        label = tokenizer.token_label
        self.list.addItems([f"{i + 1:>5}.  {label(a)}  +  {label(b)}  →  {label(256 + i)}"
                            for i, (a, b) in enumerate(tokenizer.merges)])
        self.list.blockSignals(False)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(tokenizer.merges))
        self.slider.setValue(len(tokenizer.merges))
        self.slider.blockSignals(False)
        self._show_step(self.slider.value())

    def set_text(self, text: str) -> None:
        self.text = text
        self._show_step(self.slider.value())

    def stop(self) -> None:
        self._timer.stop()
        self._show_button(PLAY)

    def _show_button(self, look: tuple[QStyle.StandardPixmap, str]) -> None:
        icon, text = look
        self.play_button.setIcon(self.style().standardIcon(icon))
        self.play_button.setText(text)

    # -- showing -----------------------------------------------------------------------------
    @Slot(int)
    def _show_step(self, n: int) -> None:
        tok = self.tokenizer
        if tok is None:
            return
        ids = tok.encode_with_merges(self.text, n)
        labels = [tok.token_label(i) for i in ids]
        texts = [token_text(tok, i) for i in ids]
        newest = {256 + n - 1} if n > 0 else set()
        self.view.set_tokens(ids, labels, texts, highlight_ids=newest)
        if n == 0:
            what = "no merges yet: every byte is its own token"
        else:
            a, b = tok.merges[n - 1]
            what = (f"merge {n} glued <b>{tok.token_label(a)}</b> + <b>{tok.token_label(b)}</b> "
                    f"into <b>{tok.token_label(256 + n - 1)}</b> (framed red)")
        self.label.setText(
            f"After <b>{n:,}</b> of {len(tok.merges):,} merges: your text is "
            f"<b>{len(ids):,}</b> tokens — {what}.")
        if self.list.currentRow() != n - 1:
            self.list.blockSignals(True)
            self.list.setCurrentRow(n - 1)
            self.list.blockSignals(False)

    @Slot(int)
    def _merge_clicked(self, row: int) -> None:
        if row >= 0:
            self.slider.setValue(row + 1)

    @Slot()
    def toggle_play(self) -> None:
        if self._timer.isActive():
            self.stop()
            return
        if self.slider.maximum() == 0:
            return
        if self.slider.value() >= self.slider.maximum():
            self.slider.setValue(0)
        self._show_button(PAUSE)
        self._timer.start()

    @Slot()
    def _play_step(self) -> None:
        value, end = self.slider.value(), self.slider.maximum()
        if value >= end:
            self.stop()
            return
        self.slider.setValue(min(value + max(1, end // PLAY_FRAMES), end))
