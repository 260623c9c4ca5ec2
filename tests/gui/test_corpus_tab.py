"""Corpus tab: loading through the tab shows the core's numbers; bad files keep the old corpus."""

from __future__ import annotations

import codecs

import pytest

from playground.core import corpus as corpus_mod
from playground.core.tokenizers import readable
from playground.errors import CorpusError

STORY = (
    "The little robot woke up early. It rolled to the window and looked outside.\n"
    "\"Good morning, world!\" it said, and the birds answered with a song.\n"
) * 40


def load_through_tab(qtbot, tab, path, **kwargs):
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000) as blocker:
        tab.load_path(path, **kwargs)
    return blocker.args[0]


def test_loading_a_file_shows_core_stats_and_updates_status_bar(window, qtbot, tmp_path, wait_idle):
    path = tmp_path / "robot.txt"
    path.write_text(STORY, encoding="utf-8")
    tab = window.corpus_tab
    assert load_through_tab(qtbot, tab, path) is True

    expected = corpus_mod.load_file(path)
    stats = expected.stats()
    assert window.state.corpus.text == expected.text
    assert window.state.corpus.source == expected.source
    for key in ("chars", "lines", "words", "unique_chars"):
        assert tab.stat_boxes[key].value.text() == f"{getattr(stats, key):,}"
    assert stats.chars == len(STORY)
    assert tab.chart.chars == [c for c, _ in stats.most_common]
    assert tab.chart.counts == [n for _, n in stats.most_common]
    ticks = tab.chart.getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == [readable(c) for c, _ in stats.most_common]
    assert "·" in [label for _, label in ticks]  # the space is readable, not blank
    assert tab.name_label.text() == "robot.txt"
    from playground.gui.ui import format_bytes

    assert tab.size_bytes == path.stat().st_size
    assert tab.size_label.text() == f"Size: {format_bytes(path.stat().st_size)}"  # "5.8 kB"
    assert tab.preview.toPlainText() == STORY
    assert window.corpus_label.text() == f"Corpus: {expected.name} · {stats.chars:,} characters"
    assert not tab.error_label.isVisible()
    wait_idle(window)


def test_split_slider_shows_both_sizes_from_the_core(window, qtbot):
    tab = window.corpus_tab
    tab.split_slider.setValue(80)
    assert window.state.split == 0.8
    train, val = window.state.corpus.split(0.8)
    assert tab.train_size_label.text() == f"Training: 80% · {len(train):,} characters"
    assert tab.val_size_label.text() == f"Validation: 20% · {len(val):,} characters"
    assert len(train) + len(val) == len(window.state.corpus.text)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p.write_bytes(b"\x00\x01\x02PK\x03\x04" * 500), "binary"),
        (lambda p: p.write_bytes(b""), "empty"),
    ],
    ids=["binary", "empty"],
)
def test_bad_file_shows_error_and_keeps_old_corpus(window, qtbot, tmp_path, make, words):
    before = window.state.corpus
    path = tmp_path / "bad.txt"
    make(path)
    tab = window.corpus_tab
    assert load_through_tab(qtbot, tab, path) is False
    assert tab.error_label.isVisible()
    with pytest.raises(CorpusError) as info:
        corpus_mod.load_file(path)
    assert info.value.message in tab.error_label.text()
    assert words in tab.error_label.text().lower()
    assert window.state.corpus is before
    assert tab.name_label.text() == before.name
    assert f"Still loaded: {before.name}" in tab.error_label.text()


def test_folder_without_text_files_shows_error(window, qtbot, tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    before = window.state.corpus
    assert load_through_tab(qtbot, window.corpus_tab, folder) is False
    assert window.corpus_tab.error_label.isVisible()
    assert window.state.corpus is before


def test_folder_of_text_files_loads(window, qtbot, tmp_path, wait_idle):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha beta gamma\n" * 30, encoding="utf-8")
    (folder / "b.md").write_text("# delta\nepsilon zeta\n" * 30, encoding="utf-8")
    (folder / "skip.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    assert load_through_tab(qtbot, window.corpus_tab, folder) is True
    expected = corpus_mod.load_folder(folder)
    assert window.state.corpus.text == expected.text
    assert "x,y" not in window.state.corpus.text
    wait_idle(window)


def test_guessed_encoding_offers_a_chooser_and_reloads(window, qtbot, tmp_path, wait_idle):
    path = tmp_path / "old.txt"
    path.write_bytes(("Café crème, naïve façade — déjà vu.\n" * 40).encode("cp1252"))
    tab = window.corpus_tab
    assert load_through_tab(qtbot, tab, path) is True
    corpus = window.state.corpus
    assert corpus.encoding_guessed
    assert tab.encoding_combo.isVisibleTo(tab)
    assert "a guess" in tab.encoding_label.text()
    tab.encoding_combo.setCurrentIndex(tab.encoding_combo.findData("latin-1"))
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000):
        tab.reload_button.click()
    assert codecs.lookup(window.state.corpus.encoding).name == codecs.lookup("latin-1").name
    assert "your choice" in tab.encoding_label.text()
    assert tab.encoding_combo.isVisibleTo(tab)  # a manual choice may be wrong too
    assert window.state.corpus.text == corpus_mod.load_file(path, encoding="latin-1").text
    wait_idle(window)


def test_preview_of_a_big_file_shows_only_the_beginning(window, qtbot, tmp_path, wait_idle):
    from playground.gui.tabs.corpus_tab import PREVIEW_CHARS

    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(6000))
    assert len(text) > PREVIEW_CHARS
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    tab = window.corpus_tab
    assert load_through_tab(qtbot, tab, path) is True
    assert tab.preview.toPlainText() == text[:PREVIEW_CHARS]
    assert f"first {PREVIEW_CHARS:,} of {len(text):,}" in tab.preview_note.text()
    wait_idle(window)


def test_choosing_a_builtin_in_the_list_loads_it(window, qtbot, wait_idle):
    """Choosing is loading: no second button to press (the key is what a student presses on
    the list; Qt sends `activated` for it as for a mouse pick)."""
    from PySide6.QtCore import Qt

    from playground.core.builtin_corpora import BUILTINS, DEFAULT_BUILTIN

    tab = window.corpus_tab
    combo = tab.builtin_combo
    assert combo.currentData() == DEFAULT_BUILTIN  # the list shows what the window opened with
    assert not hasattr(tab, "builtin_button")
    next_name = combo.itemData(combo.currentIndex() + 1)
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000) as blocker:
        qtbot.keyClick(combo, Qt.Key_Down)
    assert blocker.args == [True]
    assert window.state.corpus.source == f"builtin:{next_name}"
    assert combo.currentData() == next_name
    assert tab.builtin_description.text() == BUILTINS[next_name].description
    wait_idle(window)


@pytest.mark.parametrize("how", ["file", "folder", "pasted"])
def test_the_builtin_list_is_blank_while_own_text_is_loaded(window, qtbot, tmp_path, wait_idle, how):
    from playground.core.builtin_corpora import DEFAULT_BUILTIN

    tab = window.corpus_tab
    combo = tab.builtin_combo
    assert combo.currentData() == DEFAULT_BUILTIN
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000):
        if how == "pasted":
            tab.load_text(STORY)
        else:
            path = tmp_path / "robot.txt"
            path.write_text(STORY, encoding="utf-8")
            tab.load_path(path if how == "file" else tmp_path)
    assert combo.currentIndex() == -1 and combo.currentText() == ""
    assert "Your own text is loaded" in tab.builtin_description.text()
    assert tab.builtin_look_for.text() == ""
    # Choosing the built-in the list showed before loads it again.
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000):
        combo.setCurrentIndex(combo.findData(DEFAULT_BUILTIN))
        combo.activated.emit(combo.currentIndex())
    assert window.state.corpus.source == f"builtin:{DEFAULT_BUILTIN}"
    wait_idle(window)


def test_a_failed_builtin_choice_puts_the_list_back(window, qtbot, monkeypatch, tmp_path):
    from playground.gui.tabs import corpus_tab

    path = tmp_path / "robot.txt"
    path.write_text(STORY, encoding="utf-8")
    tab = window.corpus_tab
    assert load_through_tab(qtbot, tab, path) is True

    def refuse(spec):
        raise CorpusError("That text could not be made.")

    monkeypatch.setattr(corpus_tab, "load_spec", refuse)
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000) as blocker:
        tab.builtin_combo.setCurrentIndex(1)
        tab.builtin_combo.activated.emit(1)
    assert blocker.args == [False]
    assert window.state.corpus.name == "robot.txt"
    assert tab.builtin_combo.currentIndex() == -1  # robot.txt is still loaded, not a built-in


def test_loading_keeps_the_focus_out_of_the_folder_file_types(window, qtbot, tmp_path, wait_idle):
    """The button that started a load is disabled while it runs: the focus went on to the next
    enabled widget, the file types box, with its text selected (a key typed then replaced it)."""
    from PySide6.QtWidgets import QApplication

    path = tmp_path / "robot.txt"
    path.write_text(STORY, encoding="utf-8")
    tab = window.corpus_tab
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    tab.open_file_button.setFocus()
    qtbot.waitUntil(tab.open_file_button.hasFocus)
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000):
        tab.load_path(path)  # what "Open file…" does once its dialog returns
        assert QApplication.focusWidget() is tab.cancel_button
    assert not tab.extensions_edit.hasFocus()
    assert not tab.extensions_edit.hasSelectedText()
    assert QApplication.focusWidget() is tab.open_file_button
    wait_idle(window)


def test_pasted_text_becomes_the_corpus(window, qtbot, wait_idle):
    tab = window.corpus_tab
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000):
        tab.load_text("to be or not to be, that is the question\n" * 20)
    assert window.state.corpus.source == "pasted"
    assert window.state.corpus.text.startswith("to be or not")
    wait_idle(window)


def test_dropping_a_file_on_the_window_loads_it(window, qtbot, tmp_path, wait_idle):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    path = tmp_path / "dropped.txt"
    path.write_text(STORY, encoding="utf-8")
    window.show_tab("Tokenizer")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    with qtbot.waitSignal(window.corpus_tab.loadFinished, timeout=30_000):
        window.dropEvent(event)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Corpus"
    assert window.state.corpus.name == "dropped.txt"
    wait_idle(window)


def _fake_download(monkeypatch, behaviour):
    from playground.core import download

    monkeypatch.setattr(download, "cached_tiny_shakespeare", lambda: None)
    monkeypatch.setattr(download, "download_tiny_shakespeare", behaviour)


def test_download_shows_progress_and_cancel_keeps_the_corpus(window, qtbot, monkeypatch):
    from playground.errors import Cancelled

    def slow(url=None, progress=None, cancel=None, timeout=10.0):
        progress(250_000, 1_115_394)
        while not cancel.wait(0.01):  # until the student presses Cancel
            pass
        raise Cancelled()

    _fake_download(monkeypatch, slow)
    tab = window.corpus_tab
    before = window.state.corpus
    tab.download_button.click()
    qtbot.waitUntil(lambda: tab.progress.maximum() == 1000 and tab.progress.value() > 0, timeout=10_000)
    assert tab.progress.value() == int(1000 * 250_000 / 1_115_394)
    assert tab.cancel_button.isVisible()
    assert not tab.download_button.isEnabled()
    with qtbot.waitSignal(tab.loadFinished, timeout=10_000) as blocker:
        tab.cancel_button.click()
    assert blocker.args == [False]
    assert "Cancelled" in tab.error_label.text()
    assert window.state.corpus is before
    assert tab.download_button.isEnabled()


def test_download_offline_shows_a_clear_message(window, qtbot, monkeypatch):
    from playground.errors import DownloadError

    def offline(url=None, progress=None, cancel=None, timeout=10.0):
        raise DownloadError("Could not download Tiny Shakespeare: no internet connection.",
                            "Connect to the internet and try again, or open a text file.")

    _fake_download(monkeypatch, offline)
    tab = window.corpus_tab
    before = window.state.corpus
    with qtbot.waitSignal(tab.loadFinished, timeout=10_000):
        tab.download_button.click()
    assert "no internet connection" in tab.error_label.text()
    assert "Connect to the internet" in tab.error_label.text()
    assert window.state.corpus is before


def test_download_real_file_url_then_cached(window, qtbot, shakespeare_path, wait_idle):
    """A real download through the core (from a file:// URL), then the cache is used."""
    from playground import settings
    from playground.core import download

    settings.update(tiny_shakespeare_url=shakespeare_path.as_uri())
    tab = window.corpus_tab
    with qtbot.waitSignal(tab.loadFinished, timeout=60_000) as blocker:
        tab.download_button.click()
    assert blocker.args == [True], tab.error_label.text()
    assert window.state.corpus.name == "Tiny Shakespeare"
    assert window.state.corpus.text == shakespeare_path.read_text(encoding="utf-8")
    assert download.cached_tiny_shakespeare() is not None
    assert "downloaded" in tab.download_button.text()
    wait_idle(window)


def test_too_small_text_loads_with_a_warning(window, qtbot, wait_idle):
    from playground.gui.tabs.corpus_tab import REFERENCE_CONTEXT

    tab = window.corpus_tab
    text = "a tiny text.\n" * 5
    with qtbot.waitSignal(tab.loadFinished, timeout=30_000):
        tab.load_text(text)
    assert tab.split_warning.isVisibleTo(tab)
    train, val = window.state.corpus.split(0.9)
    with pytest.raises(CorpusError) as info:
        corpus_mod.check_trainable(len(train), len(val), REFERENCE_CONTEXT, 1, split=0.9)
    assert info.value.message in tab.split_warning.text()
    wait_idle(window)
    tab.load_text(STORY * 3)
    qtbot.waitUntil(lambda: window.state.corpus.text == STORY * 3, timeout=30_000)
    assert not tab.split_warning.isVisibleTo(tab)
    wait_idle(window)


def test_cancelled_load_is_dropped(window, qtbot, monkeypatch, tmp_path):
    import threading

    from playground.gui import workers

    path = tmp_path / "slow.txt"
    path.write_text(STORY, encoding="utf-8")
    release = threading.Event()
    real = corpus_mod.load_file

    def slow(p, encoding=None, max_bytes=None):
        release.wait(10)  # a file that takes long to read (runs in the worker thread)
        return real(p, encoding=encoding)

    monkeypatch.setattr(corpus_mod, "load_file", slow)
    tab = window.corpus_tab
    before = window.state.corpus
    tab.load_path(path)
    assert tab.busy and tab.cancel_button.isVisibleTo(tab)
    with qtbot.waitSignal(tab.loadFinished, timeout=5_000) as blocker:
        tab.cancel_button.click()
    assert blocker.args == [False]
    assert not tab.busy and tab.open_file_button.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: not workers.any_running(), timeout=10_000)
    assert window.state.corpus is before
    assert tab.name_label.text() == before.name
