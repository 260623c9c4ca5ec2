"""Step 2, the Tokenizer tab: how the text is cut into tokens.

The student picks a tokenizer (characters, words, BPE trained here, or a pretrained encoding),
sees a sample text as coloured token boxes, compares every tokenizer on the same text, plays
back BPE's merges one by one (``widgets.merges_player``), and browses the vocabulary
(``widgets.vocab_browser``).

Tokenizers are trained for the current corpus: characters and words whenever the corpus
changes (in a worker), BPE on request (in a worker, with progress and Cancel; kept on disk per
corpus and vocabulary size so it is not trained twice). The chosen one goes into AppState.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from playground import paths, settings
from playground.core import atomic
from playground.core import tokenizers as tk
from playground.errors import Cancelled, PlaygroundError
from playground.gui import child_jobs, ui, workers
from playground.gui.ui import ERROR_TEXT, NOTE, MessageLabel
from playground.gui.widgets.merges_player import MergesPlayer
from playground.gui.widgets.pair_vocab import PairVocabLabel
from playground.gui.widgets.token_view import TokenView, beside_tokens, token_text, tokens_for_view
from playground.gui.widgets.tokenizer_compare import TokenizerComparison
from playground.gui.widgets.vocab_browser import FREQ_CHARS, VocabBrowser

SAMPLE_CHARS = 400  # the default sample: the start of the corpus, cut at a line end
MAX_SAMPLE_CHARS = 20_000  # tokenized live on every keystroke; beyond this only the start
KINDS = tk.TOKENIZER_KINDS
TITLES = {
    "char": "Characters",
    "word": "Words",
    "bpe": "BPE (byte pair encoding)",
    "cl100k": "cl100k (GPT-4, pretrained)",
    "gpt2": "GPT-2 (pretrained)",
}
SHORT = {"char": "Characters", "word": "Words", "bpe": "BPE", "cl100k": "cl100k_base",
         "gpt2": "GPT-2"}
TIPS = {
    "char": "Every character is one token. Tiny vocabulary (the distinct characters of the "
            "corpus), but long sequences: the model must learn to spell.",
    "word": "Every word, every punctuation mark and every space (a run of spaces, a newline) is "
            "one token. Short sequences, but a huge vocabulary, and words it never saw become "
            "<unk> (unknown).",
    "bpe": "Byte pair encoding starts from bytes and repeatedly merges the most frequent "
           "neighbouring pair into a new token. Any text can be encoded; common words become "
           "one token. GPT models use it.",
    "cl100k": "The ready-made BPE vocabulary of GPT-4 (100,277 tokens), learned on a huge "
              "amount of text. It ships with the app and works offline.",
    "gpt2": "GPT-2's ready-made BPE vocabulary (50,257 tokens). It needs a one-time download.",
}


def excerpt(text: str, n: int = SAMPLE_CHARS) -> str:
    """The start of the corpus, ending at a line break near ``n`` characters."""
    if len(text) <= n:
        return text
    cut = text.rfind("\n", n // 2, n)
    return text[: cut + 1 if cut > 0 else n]


def vocab_spin(numbers: tuple[int, int, int, int], prefix: str, suffix: str, tip: str) -> ui.SpinBox:
    """A vocabulary size field; ``numbers`` = (lowest, highest, step, start). Its tooltip says
    the range, and so does the field itself when a number past it is typed."""
    low, high, step, value = numbers
    spin = ui.SpinBox("The vocabulary size")
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setPrefix(prefix)
    spin.setSuffix(suffix)
    spin.setGroupSeparatorShown(True)
    spin.setToolTip(f"{tip}\n\nFrom {low:,} to {high:,}.")
    return spin


def bpe_cache_path(corpus_sha: str, vocab_size: int):
    return paths.cache_dir() / "tokenizers" / f"bpe-{corpus_sha[:16]}-{vocab_size}.json"


class TokenizerTab(QWidget):
    TITLE = "Tokenizer"

    requestTab = Signal(str)
    tokenizerReady = Signal(object)  # the tokenizer now current (after training/loading)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.corpus: Any = None
        self.tokenizers: dict[str, Any] = {}  # kind -> tokenizer for the current corpus
        self.kind = "char"
        self.gpt2_status: tuple[bool, str] | None = None
        self._handles: dict[str, workers.WorkerHandle] = {}
        self._sample_edited = False
        self._setting_sample = False
        self._closed = False
        restored = settings.get("last_tokenizer") or {}
        if restored.get("kind") in KINDS:
            self.kind = restored["kind"]
        self._restored_vocab = restored.get("vocab_size")
        self._build()
        if self.kind == "bpe" and isinstance(self._restored_vocab, int):
            self.bpe_spin.setValue(self._restored_vocab)
        if self.kind == "word" and isinstance(self._restored_vocab, int):
            self.word_spin.setValue(self._restored_vocab)
        self.radios[self.kind].setChecked(True)
        self.state.corpusChanged.connect(self._corpus_changed)
        # Checked a little later, once the window is up (it may wait for the network).
        QTimer.singleShot(1000, self._check_gpt2)
        if self.state.corpus is not None:
            self._corpus_changed(self.state.corpus)

    # ================================================================== UI
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)

        choose = QGroupBox("Choose how to cut the text into tokens")
        grid = QGridLayout(choose)
        grid.setColumnStretch(2, 1)
        grid.setColumnMinimumWidth(2, 200)
        grid.setHorizontalSpacing(14)
        self.radios: dict[str, QRadioButton] = {}
        self.radio_group = QButtonGroup(self)
        for row, kind in enumerate(KINDS):
            radio = QRadioButton(TITLES[kind])
            radio.setToolTip(TIPS[kind])
            self.radios[kind] = radio
            self.radio_group.addButton(radio, row)
            grid.addWidget(radio, row, 0)
        self.radio_group.idToggled.connect(self._radio_toggled)

        self.word_spin = vocab_spin(
            (50, 100_000, 500, tk.DEFAULT_WORD_VOCAB), "keep the ", " most frequent",
            "Vocabulary cap: only the most frequent words get their own token; every other "
            "word becomes <unk> (unknown). A bigger vocabulary means a bigger model.")
        self.word_spin.valueChanged.connect(self._word_cap_changed)
        grid.addWidget(self.word_spin, 1, 1)

        bpe_row = QHBoxLayout()
        self.bpe_spin = vocab_spin(
            (257, tk.MAX_BPE_VOCAB, 64, tk.DEFAULT_BPE_VOCAB), "vocabulary ", " tokens",
            "How many tokens BPE ends with: the 256 byte values plus one new token per merge. "
            "More merges → shorter sequences but a bigger vocabulary.")
        bpe_row.addWidget(self.bpe_spin)
        self.train_button = QPushButton("Train on corpus")
        self.train_button.setToolTip(
            "Learn BPE merges from the current corpus: count neighbouring pairs, merge the most "
            "frequent one into a new token, repeat.")
        self.train_button.clicked.connect(self.train_bpe)
        bpe_row.addWidget(self.train_button)
        grid.addLayout(bpe_row, 2, 1)
        self.gpt2_label = QLabel("Checking whether GPT-2's encoding can be loaded…")
        self.gpt2_label.setWordWrap(True)
        self.gpt2_label.setStyleSheet(NOTE)
        grid.addWidget(self.gpt2_label, 4, 1, 1, 2)
        self.radios["gpt2"].setEnabled(False)

        cl_note = QLabel("ships with the app, works offline")
        cl_note.setStyleSheet(NOTE)
        grid.addWidget(cl_note, 3, 1)

        # The chosen tokenizer: what it is, what it does, and how it was made.
        about = QVBoxLayout()
        self.current_label = QLabel()
        self.current_label.setWordWrap(True)
        f = QFont(self.font())
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.current_label.setFont(f)
        about.addWidget(self.current_label)
        self.pair_vocab = PairVocabLabel()  # a sentence-pair corpus: the source and target vocabularies
        about.addWidget(self.pair_vocab)
        self.kind_label = QLabel()
        self.kind_label.setWordWrap(True)
        about.addWidget(self.kind_label)
        self.hint_label = MessageLabel()  # what happened last: a status line, or an error
        about.addWidget(self.hint_label)
        about.addStretch(1)
        grid.addLayout(about, 0, 2, 4, 1)
        job_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setToolTip("Progress of BPE training (merges learned so far)")
        job_row.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop training; the previous tokenizer stays in use")
        self.cancel_button.clicked.connect(self.cancel_bpe)
        job_row.addWidget(self.cancel_button)
        self.progress.hide()
        self.cancel_button.hide()
        grid.addLayout(job_row, 4, 0, 1, 1)
        outer.addWidget(choose)

        split = QSplitter(Qt.Vertical)
        # --- sample text → token boxes
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Your text</b> (type anything)"))
        head.addStretch(1)
        self.reset_sample_button = QPushButton("Use corpus excerpt")
        self.reset_sample_button.setToolTip("Put the beginning of the corpus back in the box")
        self.reset_sample_button.clicked.connect(self.reset_sample)
        head.addWidget(self.reset_sample_button)
        self.sample_edit = QPlainTextEdit()
        self.sample_edit.setToolTip(
            "The text to tokenize. Edit it and watch the tokens change. Characters the "
            "tokenizer cannot represent are marked red.")
        self.sample_edit.textChanged.connect(self._sample_changed)
        self.counts_label = QLabel()
        self.counts_label.setToolTip(
            "Fewer characters per token means longer sequences for the model to read; more "
            "characters per token means a bigger vocabulary.")
        self.token_view = TokenView()
        self.token_view.setToolTip("")
        self.token_view.placeholder = "Tokens will appear here."
        self.error_label = MessageLabel()
        legend = QLabel("Each box is one token (hover for its id). · is a space, ↵ a line break, "
                        "<0xE2> a raw byte that is only part of a character.")
        legend.setWordWrap(True)
        legend.setStyleSheet(NOTE)
        top = QWidget()
        top.setLayout(beside_tokens([head, self.sample_edit], self.token_view, above=[self.counts_label],
                                    below=[self.error_label, legend], stretch=(2, 3)))
        top.layout().setContentsMargins(0, 0, 0, 0)
        split.addWidget(top)

        # --- lower notebook: compare / merges / vocabulary
        self.inner_tabs = QTabWidget()
        self.merges = MergesPlayer()
        self.vocab = VocabBrowser()
        self.comparison = TokenizerComparison()
        self.inner_tabs.addTab(self.comparison, "Compare tokenizers")
        self.inner_tabs.addTab(self.merges, "BPE merges, step by step")
        self.inner_tabs.addTab(self.vocab, "Vocabulary")
        self.inner_tabs.setTabToolTip(0, "The same text cut by every tokenizer")
        self.inner_tabs.setTabToolTip(1, "Replay how BPE built its tokens, one merge at a time")
        self.inner_tabs.setTabToolTip(2, "Every token with its id and how often it occurs")
        split.addWidget(self.inner_tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setSizes([320, 400])
        outer.addWidget(split, 1)

        self._retokenize_timer = QTimer(self)
        self._retokenize_timer.setSingleShot(True)
        self._retokenize_timer.setInterval(150)
        self._retokenize_timer.timeout.connect(self.refresh)
        self._word_timer = QTimer(self)
        self._word_timer.setSingleShot(True)
        self._word_timer.setInterval(400)
        self._word_timer.timeout.connect(self._retrain_word)

    # ================================================================== public API
    @property
    def busy(self) -> bool:
        return any(h.running for h in self._handles.values()) or self.vocab.busy or self.pair_vocab.busy

    @property
    def tokenizer(self) -> Any:
        return self.tokenizers.get(self.kind)

    def select_kind(self, kind: str) -> None:
        self.radios[kind].setChecked(True)

    def set_sample_text(self, text: str) -> None:
        self.sample_edit.setPlainText(text)
        self.refresh()

    def sample_text(self) -> str:
        return self.sample_edit.toPlainText()[:MAX_SAMPLE_CHARS]

    @Slot()
    def reset_sample(self) -> None:
        if self.corpus is not None:
            self._setting_sample = True
            self.sample_edit.setPlainText(excerpt(self.corpus.preview(200_000)))
            self._setting_sample = False
            self._sample_edited = False
            self.refresh()

    @Slot()
    def _check_gpt2(self) -> None:
        if not self._closed:
            self._start_job("gpt2-status",
                            lambda p, c: tk.pretrained_status("gpt2", timeout=3.0),
                            self._gpt2_checked)

    def shutdown(self) -> None:
        self._closed = True
        for timer in (self._word_timer, self._retokenize_timer):
            timer.stop()
        self.merges.stop()
        self.vocab.shutdown()
        for handle in self._handles.values():
            handle.cancel()

    # ================================================================== jobs
    def _start_job(self, name: str, fn: Callable, on_done: Callable, on_error: Callable | None = None,
                   on_progress: Callable | None = None) -> workers.WorkerHandle | None:
        if self._closed:  # the window is closing: start nothing new
            return None
        old = self._handles.get(name)
        if old is not None and old.running:
            old.cancel()
        handle: workers.WorkerHandle | None = None

        def done(result: Any) -> None:
            if self._handles.get(name) is handle:
                del self._handles[name]
                on_done(result)

        def failed(exc: BaseException) -> None:
            if self._handles.get(name) is handle:
                del self._handles[name]
                (on_error or self._job_failed)(exc)

        handle = workers.start(fn, parent=self, name=f"tokenizer-{name}", on_done=done,
                               on_error=failed, on_progress=on_progress)
        self._handles[name] = handle
        return handle

    def _job_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, Cancelled):
            self.hint_label.show_error(exc, ERROR_TEXT)

    # ----------------------------------------------------------------- corpus → tokenizers
    @Slot(object)
    def _corpus_changed(self, corpus: Any) -> None:
        self.corpus = corpus
        self.tokenizers = {k: v for k, v in self.tokenizers.items() if k in ("cl100k", "gpt2")}
        if corpus is None:
            return
        if not self._sample_edited:
            self.reset_sample()
        cap = self.word_spin.value()
        bpe_path = bpe_cache_path(corpus.sha256, self.bpe_spin.value())  # widgets: GUI thread only

        def work(progress, cancel):
            # A big text trains in a child; a Corpus pickles without a file's text (it re-reads it).
            if corpus.chars > child_jobs.BIG_TEXT:
                char_json, word_json = child_jobs.run_in_child(
                    child_jobs.train_corpus_tokenizers, corpus, cap, cancel=cancel)
                found = {"char": tk.tokenizer_from_json(char_json),
                         "word": tk.tokenizer_from_json(word_json)}
            else:
                found = {"char": tk.CharTokenizer.train(corpus)}
                if cancel.is_set():
                    raise Cancelled()
                found["word"] = tk.WordTokenizer.train(corpus, cap)
            if bpe_path.exists():  # trained before for this corpus and size
                try:
                    import json

                    found["bpe"] = tk.tokenizer_from_json(json.loads(bpe_path.read_text("utf-8")))
                except (OSError, ValueError, PlaygroundError):
                    pass
            return corpus, found

        self._set_status("Preparing the tokenizers for this corpus…")
        self._start_job("corpus", work, self._corpus_tokenizers_ready)
        if "cl100k" not in self.tokenizers and "cl100k" not in self._handles:
            self._start_job("cl100k", lambda p, c: tk.PretrainedTokenizer("cl100k"),
                            lambda tok: self._pretrained_ready("cl100k", tok))

    def _corpus_tokenizers_ready(self, result) -> None:
        corpus, found = result
        if corpus is not self.corpus:
            return
        self.tokenizers.update(found)
        if self.kind == "bpe" and "bpe" not in self.tokenizers:
            self.train_bpe()  # the tokenizer always belongs to the current corpus
        self._apply_current()

    def _pretrained_ready(self, kind: str, tok: Any) -> None:
        self.tokenizers[kind] = tok
        if kind == self.kind:
            self._apply_current()
        else:
            self._refresh_compare()

    @Slot(object)
    def _gpt2_checked(self, status: tuple[bool, str]) -> None:
        self.gpt2_status = status
        available, message = status
        self.radios["gpt2"].setEnabled(available)
        self.gpt2_label.setText(message)
        self.radios["gpt2"].setToolTip(TIPS["gpt2"] + ("" if available else f"\n\n{message}"))
        if not available and self.kind == "gpt2":
            self.select_kind("char")

    # ----------------------------------------------------------------- choosing
    @Slot(int, bool)
    def _radio_toggled(self, button_id: int, checked: bool) -> None:
        if not checked:
            return
        self.kind = KINDS[button_id]
        if self.kind in ("cl100k", "gpt2") and self.kind not in self.tokenizers \
                and self.kind not in self._handles:
            self._set_status(f"Loading {SHORT[self.kind]}…")
            kind = self.kind
            self._start_job(kind, lambda p, c: tk.PretrainedTokenizer(kind),
                            lambda tok: self._pretrained_ready(kind, tok))
        self._apply_current()

    @Slot(int)
    def _word_cap_changed(self, _value: int) -> None:
        if self.corpus is not None:
            self._word_timer.start()

    @Slot()
    def _retrain_word(self) -> None:
        corpus, cap = self.corpus, self.word_spin.value()
        if corpus is None:
            return

        def done(tok):
            if corpus is self.corpus:
                self.tokenizers["word"] = tok
                self._apply_current()

        def work(progress, cancel):
            if corpus.chars > child_jobs.BIG_TEXT:
                return tk.tokenizer_from_json(child_jobs.run_in_child(
                    child_jobs.train_word, corpus, cap, cancel=cancel))
            return tk.WordTokenizer.train(corpus, cap)

        self._start_job("word", work, done)

    @Slot()
    def train_bpe(self) -> None:
        """Train BPE on the current corpus (worker, progress, Cancel) and make it current."""
        if self.corpus is None:
            return
        self.select_kind("bpe")
        corpus, vocab = self.corpus, self.bpe_spin.value()
        path = bpe_cache_path(corpus.sha256, vocab)

        def work(progress, cancel):
            if corpus.chars > child_jobs.BIG_TEXT:
                tok = tk.tokenizer_from_json(child_jobs.run_in_child(
                    child_jobs.train_bpe, corpus, vocab, progress=progress, cancel=cancel))
            else:
                tok = tk.BPETokenizer.train(corpus, vocab, progress=progress, cancel=cancel)
            try:
                atomic.write_json(path, tok.to_json())
            except OSError:
                pass  # only a cache
            return tok

        def done(tok):
            self._bpe_busy(False)
            if corpus is self.corpus:
                self.tokenizers["bpe"] = tok
                self._apply_current()

        def failed(exc):
            self._bpe_busy(False)
            if isinstance(exc, Cancelled):
                self._set_status("BPE training cancelled.")
                self._apply_current()
            else:
                self._job_failed(exc)

        self._bpe_busy(True)
        self._set_status(f"Training BPE: learning {vocab - 256:,} merges from {corpus.name}…")
        self._start_job("bpe", work, done, failed, on_progress=self._bpe_progress)

    @Slot()
    def cancel_bpe(self) -> None:
        handle = self._handles.get("bpe")
        if handle is not None:
            handle.cancel()

    def _bpe_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.train_button.setEnabled(not busy)
        self.progress.setRange(0, 0)
        self.progress.setFormat("%v of %m merges")

    def _bpe_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    def _set_status(self, text: str) -> None:
        self.hint_label.show_text(text, "")

    def _apply_current(self) -> None:
        """Make the chosen kind's tokenizer current (AppState) and redraw everything."""
        tok = self.tokenizers.get(self.kind)
        name = self.corpus.name if self.corpus is not None else "the corpus"
        self.kind_label.setText(TIPS[self.kind])
        if tok is None:
            self.current_label.setText(f"{SHORT[self.kind]}: not ready yet")
            if self.kind == "bpe" and "bpe" not in self._handles:
                self._set_status("Choose a vocabulary size and press 'Train on corpus'. Until "
                                 "then, the previous tokenizer stays in use.")
        else:
            self.current_label.setText(f"In use: {tok.describe()}")
            if self.kind in ("char", "word", "bpe"):
                extra = f" {tok.note}" if getattr(tok, "note", None) else ""
                self._set_status(f"Trained on {name}.{extra}")
            else:
                self._set_status("Pretrained on a huge amount of web text; the same for any corpus.")
            warning = tok.large_vocab_warning() if hasattr(tok, "large_vocab_warning") else None
            if warning:
                self._set_status(f"{self.hint_label.text()} {warning}")
            self.state.set_tokenizer(tok)
            vocab = self.word_spin.value() if self.kind == "word" else (
                self.bpe_spin.value() if self.kind == "bpe" else None)
            settings.update(last_tokenizer={"kind": self.kind, "vocab_size": vocab})
            self.tokenizerReady.emit(tok)
        # The counted head only (one more character says there is more): never a big file's whole text.
        head = self.corpus.preview(FREQ_CHARS + 1) if self.corpus is not None else None
        self.vocab.show_tokenizer(tok, head)
        self.pair_vocab.show_for(tok, self.corpus)
        self.merges.set_tokenizer(self.tokenizers.get("bpe"))
        self.refresh()

    # ----------------------------------------------------------------- sample → views
    @Slot()
    def _sample_changed(self) -> None:
        if not self._setting_sample:
            self._sample_edited = True
        self._retokenize_timer.start()

    @Slot()
    def refresh(self) -> None:
        """Re-tokenize the sample text with the current tokenizer (boxes, counts, compare)."""
        self._retokenize_timer.stop()
        text = self.sample_text()
        tok = self.tokenizers.get(self.kind)
        self.error_label.clear_message()
        if tok is None or not text:
            self.token_view.clear()
            self.counts_label.setText(f"{len(text):,} characters")
            self._mark_unknown([])
        else:
            ids, labels, unknown, error = tokens_for_view(tok, text)
            texts = [token_text(tok, i) for i in ids]
            self.token_view.set_tokens(ids, labels, texts, unknown_indexes=unknown)
            n = len(ids)
            self.counts_label.setText(
                f"<b>{len(text):,}</b> characters → <b>{n:,}</b> tokens · "
                f"<b>{len(text) / max(n, 1):.2f}</b> characters per token")
            spans = tok.unknown_spans(text)
            self._mark_unknown(spans)
            if error:
                self.error_label.show_text(error, ERROR_TEXT)
            elif spans:
                self.error_label.show_text(
                    f"{len(spans)} piece(s) of your text are not in this tokenizer's vocabulary "
                    "(red): they become <unk>, and the model cannot tell them apart.", ERROR_TEXT)
        self._refresh_compare()
        self.merges.set_text(text)

    def _mark_unknown(self, spans: list[tuple[int, int]]) -> None:
        selections = []
        fmt = QTextCharFormat()
        fmt.setBackground(QColor("#ff8a8a"))
        for start, end in spans[:500]:
            sel = QTextEdit.ExtraSelection()
            cursor = QTextCursor(self.sample_edit.document())
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.KeepAnchor)
            sel.cursor = cursor
            sel.format = fmt
            selections.append(sel)
        self.sample_edit.setExtraSelections(selections)

    def compare_rows(self) -> list[tuple[str, Any]]:
        """(kind, tokenizer or None) for every tokenizer the comparison shows."""
        return [(kind, self.tokenizers.get(kind)) for kind in KINDS
                if kind != "gpt2" or "gpt2" in self.tokenizers]

    def _refresh_compare(self) -> None:
        rows = [(kind, SHORT[kind], TIPS[kind], tok) for kind, tok in self.compare_rows()]
        self.comparison.show_rows(rows, self.sample_text(), self.kind)

    def compare_counts(self) -> dict[str, int]:
        """Token counts shown in the comparison table, by kind (for tests)."""
        return self.comparison.counts()
