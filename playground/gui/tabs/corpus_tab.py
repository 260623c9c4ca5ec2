"""Step 1, the Corpus tab: choose the text the model learns from, and look at it.

Every load (file, folder, pasted text, built-in, Tiny Shakespeare) runs in a worker and ends
in one place, :meth:`CorpusTab._loaded`; a failure shows a red inline message with the hint
and leaves the previous corpus loaded. Choosing a built-in text in its list loads it; the list
always shows the loaded text (blank while the text is the student's own).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from playground.core import builtin_corpora
from playground.core import corpus as corpus_mod
from playground.errors import Cancelled, CorpusError, PlaygroundError
from playground.gui import workers
from playground.gui.ui import (
    ERROR,
    NOTE,
    WARNING,
    MessageLabel,
    error_text,
    format_bytes,
    report_unexpected,
    side_panel,
)

PREVIEW_CHARS = 100_000  # QPlainTextEdit stays instant with this much, whatever the file size
FOLDER_EXTENSIONS = ".txt .md .rst .py"
FILE_FILTER = (
    "Text files (*.txt *.md *.rst *.py *.csv *.tsv *.json *.html *.htm *.tex *.xml *.srt);;"
    "All files (*)"
)
# Offered when the encoding was a guess; the names are Python codec names.
ENCODINGS = [
    ("utf-8", "UTF-8 (most files today)"),
    ("cp1252", "Windows Western (cp1252)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
    ("iso-8859-15", "Latin-9 (ISO-8859-15)"),
    ("mac_roman", "Mac Roman"),
    ("utf-16", "UTF-16"),
    ("cp1250", "Central European (cp1250)"),
    ("cp1251", "Cyrillic (cp1251)"),
    ("koi8-r", "Cyrillic (KOI8-R)"),
    ("cp1253", "Greek (cp1253)"),
    ("cp1254", "Turkish (cp1254)"),
    ("shift_jis", "Japanese (Shift JIS)"),
    ("euc-jp", "Japanese (EUC-JP)"),
    ("gb18030", "Chinese (GB18030)"),
    ("big5", "Chinese (Big5)"),
    ("euc-kr", "Korean (EUC-KR)"),
]
# The context length of the Tiny preset: the "too small to train" check uses it as a yardstick.
REFERENCE_CONTEXT = 64


@dataclass
class LoadResult:
    corpus: Any
    size_bytes: int
    fallback_error: PlaygroundError | None = None  # why the last corpus was not reopened


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name


def _size_of(corpus: Any) -> int:
    if not corpus.in_memory:  # a big file or folder, read from disk when needed
        return sum(part.size for part in corpus.parts)
    source = corpus.source
    try:
        if source and not source.startswith("builtin:") and source != "pasted":
            path = Path(source)
            if path.is_file():
                return path.stat().st_size
            if path.is_dir():
                return len(corpus.text.encode("utf-8"))
    except OSError:
        pass
    return len(corpus.text.encode("utf-8"))


def load_spec(spec: str) -> Any:
    """A corpus from a spec: "builtin:NAME", the cached Tiny Shakespeare path, or a path."""
    from playground.core import download

    cached = download.cached_tiny_shakespeare()
    if cached is not None and os.path.abspath(spec) == os.path.abspath(str(cached)):
        return download.load_tiny_shakespeare()
    return corpus_mod.load(spec)


class PasteDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Paste text")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Paste or type the text the model should learn from:"))
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("Paste a story, song lyrics, your notes, code…")
        layout.addWidget(self.editor)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Use this text")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 420)

    def text(self) -> str:
        return self.editor.toPlainText()


class StatBox(QFrame):
    """A big number with a caption under it."""

    def __init__(self, caption: str, tooltip: str) -> None:
        super().__init__()
        self.setFrameShape(QFrame.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(0)
        self.value = QLabel("–")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.value.setFont(font)
        layout.addWidget(self.value)
        cap = QLabel(caption)
        cap.setStyleSheet(NOTE)
        layout.addWidget(cap)
        self.setToolTip(tooltip)

    def set(self, n: int, estimated: bool = False) -> None:
        self.value.setText(f"≈ {n:,}" if estimated else f"{n:,}")


class CorpusTab(QWidget):
    TITLE = "Corpus"

    requestTab = Signal(str)
    loadFinished = Signal(bool)  # True: a corpus was loaded; False: it failed (message shown)

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.corpus: Any = None
        self.size_bytes = 0
        self._handle: workers.WorkerHandle | None = None
        self._load_seq = 0
        self._closed = False
        self._chosen_encoding: str | None = None  # the shown corpus was read with this choice
        self._focus_before_busy: QWidget | None = None  # given back once a load ends
        self._build()
        self.state.splitChanged.connect(self._split_from_state)

    # ------------------------------------------------------------------ UI
    def _build(self) -> None:
        outer = QHBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)

        # Left: where the text comes from.
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)

        builtin_box = QGroupBox("Built-in texts (work offline)")
        b = QVBoxLayout(builtin_box)
        self.builtin_combo = QComboBox()
        self.builtin_combo.setToolTip(
            "Texts that come with the app: choose one to load it. The 'lessons' are generated so "
            "that a small model learns clear patterns you can later find in the Attention tab.")
        self.builtin_combo.setPlaceholderText("Choose a built-in text…")
        for item in builtin_corpora.list_builtins():
            self.builtin_combo.addItem(item.title, item.name)
        for item in builtin_corpora.list_builtins(pairs=True):  # sentence pairs: the Model tab picks Encoder–decoder
            self.builtin_combo.addItem(f"{item.title} (pairs, for an encoder–decoder)", item.name)
        self.builtin_combo.setCurrentIndex(-1)  # nothing is loaded yet
        b.addWidget(self.builtin_combo)
        self.builtin_description = QLabel()
        self.builtin_description.setWordWrap(True)
        b.addWidget(self.builtin_description)
        self.builtin_look_for = QLabel()
        self.builtin_look_for.setWordWrap(True)
        self.builtin_look_for.setStyleSheet("color: #2a5480;")
        b.addWidget(self.builtin_look_for)
        # `activated`, not `currentIndexChanged`: only the student's choice loads (the tab moves
        # the list itself to follow what was loaded), and choosing the shown text again reloads it.
        self.builtin_combo.activated.connect(self._builtin_chosen)
        self.builtin_combo.currentIndexChanged.connect(self._show_builtin_info)
        self._show_builtin_info()
        left_layout.addWidget(builtin_box)

        own_box = QGroupBox("Your own text")
        o = QGridLayout(own_box)
        self.open_file_button = QPushButton("Open file…")
        self.open_file_button.setToolTip(
            "Load a plain text file (.txt, .md, code…). Its encoding is detected for you.")
        self.open_file_button.clicked.connect(self.open_file_dialog)
        o.addWidget(self.open_file_button, 0, 0)
        self.open_folder_button = QPushButton("Open folder…")
        self.open_folder_button.setToolTip(
            "Join all text files of a folder (and its subfolders) with these extensions into "
            "one corpus")
        self.open_folder_button.clicked.connect(self.open_folder_dialog)
        o.addWidget(self.open_folder_button, 0, 1)
        o.addWidget(QLabel("Folder file types:"), 1, 0)
        self.extensions_edit = QLineEdit(FOLDER_EXTENSIONS)
        self.extensions_edit.setToolTip(
            "Which files 'Open folder' reads, separated by spaces, e.g. .txt .md")
        o.addWidget(self.extensions_edit, 1, 1)
        self.paste_button = QPushButton("Paste text…")
        self.paste_button.setToolTip("Type or paste any text to use as the corpus")
        self.paste_button.clicked.connect(self.paste_dialog)
        o.addWidget(self.paste_button, 2, 0, 1, 2)
        drop = QLabel("…or drop a text file anywhere on this window.")
        drop.setStyleSheet(NOTE)
        o.addWidget(drop, 3, 0, 1, 2)
        left_layout.addWidget(own_box)

        shakespeare_box = QGroupBox("Tiny Shakespeare (1.1 MB, downloaded once)")
        s = QVBoxLayout(shakespeare_box)
        text = QLabel("40,000 lines of Shakespeare's plays: the classic first corpus for "
                      "character-level models. Needs the internet the first time only.")
        text.setWordWrap(True)
        s.addWidget(text)
        self.download_button = QPushButton("Download Tiny Shakespeare")
        self.download_button.setToolTip(
            "Fetch the text once (1.1 MB), check it is intact, and keep it for next time")
        self.download_button.clicked.connect(self.download_shakespeare)
        s.addWidget(self.download_button)
        left_layout.addWidget(shakespeare_box)
        self._update_download_button()

        # Progress of the current job + the error / note area.
        self.task_label = QLabel()
        self.task_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setToolTip("Progress of the current loading or download")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this loading or download; the current text stays")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        left_layout.addWidget(self.task_label)
        left_layout.addLayout(row)
        self._set_busy_ui(False)

        self.error_label = MessageLabel()
        left_layout.addWidget(self.error_label)
        left_layout.addStretch(1)
        self.next_button = QPushButton("Next: cut it into tokens →")
        self.next_button.setToolTip("Go to the Tokenizer tab: step 2 of 6")
        self.next_button.clicked.connect(lambda: self.requestTab.emit("Tokenizer"))
        left_layout.addWidget(self.next_button)

        outer.addWidget(side_panel(left, 300, 380))

        # Right: what the text is.
        right = QWidget()
        r = QVBoxLayout(right)
        r.setContentsMargins(6, 0, 0, 0)
        self.name_label = QLabel("No text loaded yet")
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.name_label.setFont(font)
        r.addWidget(self.name_label)
        self.source_label = QLabel()
        self.source_label.setStyleSheet(NOTE)
        self.source_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.source_label.setWordWrap(True)
        r.addWidget(self.source_label)

        info = QHBoxLayout()
        self.encoding_label = QLabel()
        self.encoding_label.setToolTip(
            "How the file's bytes were turned into letters. UTF-8 is the usual encoding; "
            "older files may use another one.")
        info.addWidget(self.encoding_label)
        self.encoding_combo = QComboBox()
        for codec, title in ENCODINGS:
            self.encoding_combo.addItem(title, codec)
        self.encoding_combo.setToolTip(
            "The encoding was a guess. If letters look wrong in the preview (e.g. 'Ã©' instead "
            "of 'é'), choose another encoding and reload.")
        info.addWidget(self.encoding_combo)
        self.reload_button = QPushButton("Reload with this encoding")
        self.reload_button.setToolTip("Read the same file again with the chosen encoding")
        self.reload_button.clicked.connect(self._reload_clicked)
        info.addWidget(self.reload_button)
        self.size_label = QLabel()
        self.size_label.setToolTip("The size of the text on disk")
        info.addSpacing(16)
        info.addWidget(self.size_label)
        info.addStretch(1)
        r.addLayout(info)
        self.note_label = MessageLabel()
        r.addWidget(self.note_label)

        stats = QHBoxLayout()
        self.stat_boxes = {
            "chars": StatBox("characters", "How many characters (letters, digits, spaces, "
                             "punctuation, line breaks) the text has"),
            "lines": StatBox("lines", "How many lines the text has"),
            "words": StatBox("words", "How many words, counting anything between spaces"),
            "unique_chars": StatBox("different characters",
                                    "How many distinct characters occur: this is the vocabulary "
                                    "size of a character tokenizer"),
        }
        for box in self.stat_boxes.values():
            stats.addWidget(box)
        stats.addStretch(1)
        r.addLayout(stats)
        self.sample_label = QLabel()  # a big text's words, characters and chart come from a sample
        self.sample_label.setWordWrap(True)
        self.sample_label.setStyleSheet(NOTE)
        self.sample_label.hide()
        r.addWidget(self.sample_label)

        split_box = QGroupBox("Training / validation split")
        split_box.setToolTip(
            "The model learns from the training part only. The validation part, the end of the "
            "text, is held back to check that the model learned patterns rather than memorised "
            "its training text (overfitting).")
        sp = QGridLayout(split_box)
        self.split_slider = QSlider(Qt.Horizontal)
        self.split_slider.setRange(50, 99)
        self.split_slider.setValue(round(self.state.split * 100))
        self.split_slider.setToolTip(
            "How much of the text is used for training; the rest (taken from the end) is for "
            "validation: text the model never trains on, used to spot overfitting.")
        self.split_slider.valueChanged.connect(self._split_moved)
        sp.addWidget(self.split_slider, 0, 0, 1, 2)
        self.train_size_label = QLabel()
        self.val_size_label = QLabel()
        self.val_size_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        sp.addWidget(self.train_size_label, 1, 0)
        sp.addWidget(self.val_size_label, 1, 1)
        self.split_warning = MessageLabel()
        sp.addWidget(self.split_warning, 2, 0, 1, 2)
        r.addWidget(split_box)

        lower = QSplitter(Qt.Horizontal)
        chart_box = QWidget()
        c = QVBoxLayout(chart_box)
        c.setContentsMargins(0, 0, 0, 0)
        # The chart (pyqtgraph) is created with the first corpus, after the window is shown:
        # importing pyqtgraph would add half a second to start-up.
        self.chart = None
        self.chart_box = c
        self.hover_label = QLabel("Hover a bar to see how often that character appears.")
        self.hover_label.setStyleSheet("color: #333;")
        c.addStretch(1)
        c.addWidget(self.hover_label)
        lower.addWidget(chart_box)

        preview_box = QWidget()
        p = QVBoxLayout(preview_box)
        p.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Preview</b>")
        p.addWidget(title)
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.preview.setToolTip("The beginning of the text, exactly as the model will see it")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.Monospace)
        self.preview.setFont(mono)
        p.addWidget(self.preview, 1)
        self.preview_note = QLabel()
        self.preview_note.setStyleSheet(NOTE)
        self.preview_note.setWordWrap(True)
        p.addWidget(self.preview_note)
        lower.addWidget(preview_box)
        lower.setStretchFactor(0, 1)
        lower.setStretchFactor(1, 1)
        lower.setSizes([560, 440])
        r.addWidget(lower, 1)
        outer.addWidget(right, 1)
        self._show_encoding_chooser(False)

    @Slot()
    def _show_builtin_info(self) -> None:
        name = self.builtin_combo.currentData()
        if not name:
            self.builtin_description.setText(
                "Your own text is loaded. Choose a built-in text here to switch to it."
                if self.corpus is not None else "")
            self.builtin_look_for.setText("")
            return
        item = builtin_corpora.BUILTINS[name]
        self.builtin_description.setText(item.description)
        self.builtin_look_for.setText(f"What to look for: {item.look_for}" if item.look_for else "")

    def _update_download_button(self) -> None:
        from playground.core import download

        if download.cached_tiny_shakespeare() is not None:
            self.download_button.setText("Use Tiny Shakespeare (downloaded)")
        else:
            self.download_button.setText("Download Tiny Shakespeare")

    def _show_encoding_chooser(self, show: bool) -> None:
        self.encoding_combo.setVisible(show)
        self.reload_button.setVisible(show)

    def _show_loaded_builtin(self) -> None:
        """The list shows the built-in text that is loaded, or nothing for any other text."""
        source = self.corpus.source if self.corpus is not None else ""
        index = self.builtin_combo.findData(source[8:]) if source.startswith("builtin:") else -1
        self.builtin_combo.setCurrentIndex(index)
        self._show_builtin_info()  # also when the index stayed (own text replaced by own text)

    def _set_busy_ui(self, busy: bool, text: str = "") -> None:
        self.task_label.setText(text)
        self.task_label.setVisible(busy)
        buttons = (self.open_file_button, self.open_folder_button, self.paste_button,
                   self.download_button)
        focused = QApplication.focusWidget()
        if busy:
            self.progress.setVisible(True)
            self.cancel_button.setVisible(True)
            if focused in buttons:
                # Disabling the focused button would send the focus on to the next enabled
                # widget, the folder file types, with its text selected: the next key typed
                # would replace it. Cancel is what one may want to press now.
                self._focus_before_busy = focused
                self.cancel_button.setFocus(Qt.OtherFocusReason)
        for button in buttons:
            button.setEnabled(not busy)
        if not busy:
            back = self._focus_before_busy
            self._focus_before_busy = None
            if back is not None and focused in (self.cancel_button, None):
                back.setFocus(Qt.OtherFocusReason)
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)

    # ------------------------------------------------------------------ public actions
    @property
    def busy(self) -> bool:
        return self._handle is not None

    def load_initial(self, spec: str | None) -> None:
        """At start: the last corpus when it still loads, otherwise the default built-in."""
        default = f"builtin:{builtin_corpora.DEFAULT_BUILTIN}"
        if not spec or spec == default:
            self.load_spec(default)
            return

        def work(progress, cancel) -> LoadResult:
            try:
                return self._finish_load(load_spec(spec))
            except PlaygroundError as exc:
                result = self._finish_load(load_spec(default))
                result.fallback_error = exc
                return result

        self._start(f"Opening the last corpus ({Path(spec).name})…", work)

    def load_spec(self, spec: str) -> None:
        label = spec[8:] if spec.startswith("builtin:") else Path(spec).name
        self._start(f"Loading {label}…", lambda progress, cancel: self._finish_load(load_spec(spec)))

    def load_path(self, path: str | os.PathLike, encoding: str | None = None) -> None:
        """Load a file or a folder; ``encoding`` None means: detect it."""
        path = str(path)
        if os.path.isdir(path):
            extensions = self.folder_extensions()
            text = f"Reading the text files in {Path(path).name}…"

            def work(progress, cancel):
                return self._finish_load(
                    corpus_mod.load_folder(path, extensions=extensions, encoding=encoding))
        else:
            text = f"Loading {Path(path).name}…"

            def work(progress, cancel):
                return self._finish_load(corpus_mod.load_file(path, encoding=encoding))

        self._start(text, work, chosen_encoding=encoding)

    def load_text(self, text: str, name: str = "Pasted text") -> None:
        self._start("Reading the pasted text…",
                    lambda progress, cancel: self._finish_load(corpus_mod.from_text(text, name)))

    def folder_extensions(self) -> tuple[str, ...]:
        parts = self.extensions_edit.text().replace(",", " ").split()
        exts = tuple(p if p.startswith(".") else f".{p}" for p in parts)
        return exts or tuple(FOLDER_EXTENSIONS.split())

    @Slot()
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a text file", str(Path.home()), FILE_FILTER)
        if path:
            self.load_path(path)

    @Slot()
    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of text files", str(Path.home()))
        if path:
            self.load_path(path)

    @Slot()
    def paste_dialog(self) -> None:
        dialog = PasteDialog(self)
        if dialog.exec() == QDialog.Accepted:
            self.load_text(dialog.text())

    @Slot(int)
    def _builtin_chosen(self, index: int) -> None:
        name = self.builtin_combo.itemData(index)
        if name:
            self.load_spec(f"builtin:{name}")

    @Slot()
    def _reload_clicked(self) -> None:
        if self.corpus is not None:
            self.load_path(self.corpus.source, encoding=self.encoding_combo.currentData())

    @Slot()
    def download_shakespeare(self) -> None:
        from playground.core import download

        if download.cached_tiny_shakespeare() is not None:
            self._start("Loading Tiny Shakespeare…",
                        lambda progress, cancel: self._finish_load(download.load_tiny_shakespeare()))
            return

        def work(progress, cancel) -> LoadResult:
            download.download_tiny_shakespeare(progress=progress, cancel=cancel)
            return self._finish_load(download.load_tiny_shakespeare())

        self._start("Downloading Tiny Shakespeare…", work, determinate=True)

    @Slot()
    def cancel(self) -> None:
        """Stop waiting at once: a download stops, and whatever a load still returns is dropped
        (reading a file cannot be interrupted, but its result is never shown)."""
        if self._handle is None:
            return
        self._handle.cancel()
        self._load_seq += 1
        self._handle = None
        self._set_busy_ui(False)
        self._show_loaded_builtin()
        self._show_problem("Cancelled. The previous text is still loaded.", NOTE)
        self.loadFinished.emit(False)

    def shutdown(self) -> None:
        self._closed = True
        if self._handle is not None:
            self._handle.cancel()

    # ------------------------------------------------------------------ worker plumbing
    @staticmethod
    def _finish_load(corpus: Any) -> LoadResult:
        """Runs in the worker: everything slow about a new corpus happens here (a big file's
        statistics from a sample of it), so the GUI thread only shows cached figures."""
        corpus.stats()  # cached on the corpus: the GUI thread gets them for free
        corpus.sha256  # noqa: B018 - cached; 0.1 s for 50 MB, known from loading for a big file
        corpus.preview(PREVIEW_CHARS)  # cached too: a big file's start is read from disk
        return LoadResult(corpus, _size_of(corpus))

    def _start(self, text: str, fn: Callable, determinate: bool = False,
               chosen_encoding: str | None = None) -> None:
        if self._closed:  # the window is closing: start nothing new
            return
        if self._handle is not None:  # the newest request wins
            self._handle.cancel()
        self._load_seq += 1
        seq = self._load_seq
        self._set_busy_ui(True, text)
        self.progress.setRange(0, 100 if determinate else 0)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        handle = workers.start(
            fn, parent=self, name="corpus-load",
            on_done=lambda result: self._loaded(seq, result, chosen_encoding),
            on_error=lambda exc: self._failed(seq, exc),
            on_progress=self._progress,
        )
        self._handle = handle

    def _progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{format_bytes(done)} of {format_bytes(total)}")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(format_bytes(done))

    def _end(self, seq: int) -> bool:
        """True when this result is the newest request's (older ones are dropped)."""
        if seq != self._load_seq:
            return False
        self._handle = None
        self._set_busy_ui(False)
        return True

    def _loaded(self, seq: int, result: LoadResult, chosen_encoding: str | None = None) -> None:
        if not self._end(seq):
            return
        fallback = result.fallback_error
        if fallback is not None:
            self.error_label.show_text(f"The last corpus could not be opened again: {fallback.message}\n"
                                       "The default built-in text was loaded instead.")
        else:
            self.error_label.clear_message()
        self.corpus = result.corpus
        self.size_bytes = result.size_bytes
        self._chosen_encoding = chosen_encoding
        self._show_corpus()
        self._show_loaded_builtin()
        self._update_download_button()
        self.state.set_corpus(self.corpus)
        self.loadFinished.emit(True)

    def _failed(self, seq: int, exc: BaseException) -> None:
        if not self._end(seq):
            return
        self._show_loaded_builtin()  # a built-in chosen in the list did not load
        if isinstance(exc, Cancelled):
            self._show_problem("Cancelled. The previous text is still loaded.", NOTE)
        elif isinstance(exc, PlaygroundError):
            self._show_problem(error_text(exc))
        elif isinstance(exc, OSError):
            self._show_problem(f"The file could not be read: {exc.strerror or exc}.\n"
                               "Check that it exists and that you may read it.")
        elif isinstance(exc, MemoryError):
            self._show_problem("This text is too big to fit in memory.\n"
                               "Use a smaller file, or a part of it.")
        else:
            self._show_problem(f"Loading failed unexpectedly ({type(exc).__name__}).\n"
                               "The details are in the error window and the log file.")
            report_unexpected(exc)
        self.loadFinished.emit(False)

    # ------------------------------------------------------------------ showing
    def _show_problem(self, text: str, style: str = ERROR) -> None:
        """A failed or cancelled load: what happened, and which text is still in use."""
        if self.corpus is not None:
            text += f"\n\nStill loaded: {self.corpus.name}"
        self.error_label.show_text(text, style)

    def _show_corpus(self) -> None:
        corpus = self.corpus
        stats = corpus.stats()
        self.name_label.setText(corpus.name)
        source = corpus.source
        if source.startswith("builtin:"):
            self.source_label.setText(f"Built-in text · {corpus.description}".rstrip(" ·"))
        elif source == "pasted":
            self.source_label.setText("Text you pasted")
        else:
            self.source_label.setText(source)
        guessed = bool(corpus.encoding_guessed)
        chosen = self._chosen_encoding is not None
        self.encoding_label.setText(
            f"Encoding: <b>{corpus.encoding}</b>"
            + (" (a guess)" if guessed else " (your choice)" if chosen else ""))
        is_path = not source.startswith("builtin:") and source != "pasted"
        # The chooser stays after a manual choice too: that choice may be wrong as well.
        self._show_encoding_chooser((guessed or chosen) and is_path)
        if guessed or chosen:
            self.encoding_combo.setCurrentIndex(self._combo_index_for(corpus.encoding))
        self.size_label.setText(f"Size: {format_bytes(self.size_bytes)}")
        self.note_label.show_text(corpus.note or "", WARNING)
        for key, box in self.stat_boxes.items():
            box.set(getattr(stats, key), estimated=stats.sampled and key in ("words", "unique_chars"))
        self.sample_label.setVisible(stats.sampled)
        if stats.sampled:
            self.sample_label.setText(
                f"A big text: words, different characters and the chart are estimated from a sample of "
                f"{stats.sample_chars:,} characters spread over the whole text (counting all "
                f"{stats.chars:,} would take long). Characters and lines are exact; training uses all of it.")
        if self.chart is None:
            from playground.gui.widgets.char_chart import CharChart

            self.chart = CharChart()
            self.chart.setMinimumHeight(220)
            self.chart.hover_label = self.hover_label
            self.chart_box.takeAt(0)  # the stretch that held the place
            self.chart_box.insertWidget(0, self.chart, 1)
        self.chart.set_data(stats.most_common, stats.chars)
        self.hover_label.setText("Hover a bar to see how often that character appears.")
        self.preview.setPlainText(corpus.preview(PREVIEW_CHARS))
        if corpus.chars > PREVIEW_CHARS:
            self.preview_note.setText(
                f"Showing the first {PREVIEW_CHARS:,} of {corpus.chars:,} characters "
                "(the model uses all of them).")
        else:
            self.preview_note.setText(f"The whole text: {corpus.chars:,} characters.")
        self._update_split()

    def _combo_index_for(self, encoding: str) -> int:
        """The chooser entry for an encoding, comparing codec names ("latin-1" = "iso8859-1")."""
        wanted = _codec(encoding)
        for i in range(self.encoding_combo.count()):
            if _codec(self.encoding_combo.itemData(i)) == wanted:
                return i
        self.encoding_combo.addItem(encoding, encoding)
        return self.encoding_combo.count() - 1

    @Slot(int)
    def _split_moved(self, value: int) -> None:
        self.state.set_split(value / 100)
        self._update_split()

    @Slot(float)
    def _split_from_state(self, fraction: float) -> None:
        value = round(fraction * 100)
        if value != self.split_slider.value():
            self.split_slider.setValue(value)

    def split_sizes(self) -> tuple[int, int]:
        # The core's own cut, without slicing a possibly 50 MB string on every slider move.
        n = self.corpus.chars
        cut = corpus_mod.split_index(n, self.split_slider.value() / 100)
        return cut, n - cut

    def _update_split(self) -> None:
        if self.corpus is None:
            return
        fraction = self.split_slider.value()
        n_train, n_val = self.split_sizes()
        self.train_size_label.setText(f"Training: {fraction}% · {n_train:,} characters")
        self.val_size_label.setText(f"Validation: {100 - fraction}% · {n_val:,} characters")
        try:
            corpus_mod.check_trainable(n_train, n_val, REFERENCE_CONTEXT, 1,
                                       split=fraction / 100)
        except CorpusError as exc:
            self.split_warning.show_text(
                error_text(exc, " ") + f" (Checked for a model that reads {REFERENCE_CONTEXT} tokens "
                "at a time; you can still explore tokenizers with this text.)", WARNING)
        else:
            self.split_warning.clear_message()
