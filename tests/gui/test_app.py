"""The main window: tabs, status bar, menus, glossary, settings, exception hook."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSize

from playground.gui import error_dialog
from playground.gui.glossary import CONCEPTS, GlossaryDialog

TAB_LABELS = ["Corpus", "Tokenizer", "Model", "Train", "Attention", "Generate"]


def test_window_has_six_tabs_in_order(window):
    tabs = window.tabs
    assert window.windowTitle() == "LLM Playground"
    assert [tabs.tabText(i) for i in range(tabs.count())] == TAB_LABELS
    assert [tabs.isTabEnabled(i) for i in range(tabs.count())] == [True] * 6  # every tab is built
    assert not window.windowIcon().isNull()


def test_opens_with_default_builtin_and_char_tokenizer(window):
    from playground.core.builtin_corpora import BUILTINS, DEFAULT_BUILTIN

    assert window.state.corpus.source == f"builtin:{DEFAULT_BUILTIN}"
    assert window.state.corpus.name == BUILTINS[DEFAULT_BUILTIN].title
    assert window.state.tokenizer.kind == "char"
    assert window.corpus_label.text().startswith(f"Corpus: {window.state.corpus.name}")
    assert window.tokenizer_label.text() == f"Tokenizer: {window.state.tokenizer.describe()}"


def test_device_label_filled_in_background(make_window, qtbot):
    window = make_window(probe_device=True, load_initial=False)
    assert window.device_label.text() == "Device: checking…"
    qtbot.waitUntil(lambda: window.device_handle is not None and not window.device_handle.running,
                    timeout=60_000)
    from playground.core.devices import device_description, pick_device

    assert window.device_label.text() == f"Device: {device_description(pick_device())}"


def test_glossary_has_every_seed_concept_and_switches_tabs(window, qtbot):
    terms = {c.term.lower() for c in CONCEPTS}
    for seed in ["token", "embedding", "position", "attention", "query / key / value", "softmax",
                 "head", "residual", "layer norm", "mlp", "logits", "loss", "overfitting",
                 "temperature"]:
        assert seed in terms
    for concept in CONCEPTS:
        assert concept.tab in TAB_LABELS
        assert concept.text.count(". ") >= 1  # two sentences
    dialog = window.show_glossary()
    assert isinstance(dialog, GlossaryDialog)
    dialog.select("Token")
    dialog.go_button.click()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Tokenizer"
    dialog.select("Loss")
    dialog.go_button.click()
    assert window.tabs.tabText(window.tabs.currentIndex()) == "Train"


def test_about_names_versions(window, monkeypatch):
    import platform
    import types
    from importlib import metadata

    import PySide6

    text = window.about_text()
    assert platform.python_version() in text
    assert PySide6.__version__ in text
    # torch already imported: its own version. Not imported: the installed one, without
    # importing it (seconds). Not installed: said so.
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(__version__="9.8.7+test"))
    assert "torch 9.8.7+test</p>" in window.about_text()
    monkeypatch.delitem(sys.modules, "torch")
    assert f"torch {metadata.version('torch')}</p>" in window.about_text()
    assert "torch" not in sys.modules

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert "torch not installed</p>" in window.about_text()


def test_geometry_restored_in_next_window(make_window, qtbot):
    first = make_window(load_initial=False)
    first.show()
    screen = first.screen().availableGeometry()
    minimum = first.minimumSizeHint()
    # Qt clamps a restored window to the screen (offscreen: 800 x 800), so pick a size that fits
    # it where the window's minimum allows.
    target = QSize(max(minimum.width(), min(screen.width(), minimum.width() + 37)),
                   max(minimum.height(), min(screen.height() - 40, minimum.height() + 23)))
    first.resize(target)
    qtbot.waitUntil(lambda: first.size() == target)
    first.close()
    second = make_window(load_initial=False)
    second.show()
    assert second.size() == target


def test_last_corpus_restored(make_window, qtbot, tmp_path, wait_idle):
    path = tmp_path / "mine.txt"
    path.write_text("hello there, general kenobi\n" * 50, encoding="utf-8")
    first = make_window()
    wait_idle(first)
    first.corpus_tab.load_path(path)
    qtbot.waitUntil(lambda: first.state.corpus.source == str(path), timeout=30_000)
    wait_idle(first)
    first.close()
    second = make_window()
    wait_idle(second)
    assert second.state.corpus.source == str(path)


def test_exception_hook_logs_and_shows_dialog(window, monkeypatch, qtbot):
    shown = []
    monkeypatch.setattr(error_dialog.ErrorDialog, "exec", lambda self: shown.append(self) or 0)
    try:
        raise ValueError("boom from a test")
    except ValueError:
        error_dialog.excepthook(*sys.exc_info())
    assert len(shown) == 1
    dialog = shown[0]
    assert "boom from a test" in dialog.message
    assert "Traceback" in dialog.details
    log = error_dialog.log_path()
    assert log.exists() and "boom from a test" in log.read_text(encoding="utf-8")
    dialog.copy_details()
    from PySide6.QtGui import QGuiApplication

    assert "boom from a test" in QGuiApplication.clipboard().text()
    assert window.isVisible()  # the app stays open


def test_playground_error_shows_message_and_hint_without_traceback(monkeypatch, qtbot):
    from playground.errors import CorpusError

    shown = []
    monkeypatch.setattr(error_dialog.ErrorDialog, "exec", lambda self: shown.append(self) or 0)
    try:
        raise CorpusError("The file is empty.", "Choose a file with text in it.")
    except CorpusError:
        error_dialog.excepthook(*sys.exc_info())
    assert shown[0].message == "The file is empty."
    assert shown[0].hint == "Choose a file with text in it."
    assert "Traceback" not in shown[0].details
    assert not shown[0].details_box.isVisibleTo(shown[0])


def test_no_display_raises_playground_error(monkeypatch):
    from playground.errors import PlaygroundError
    from playground.gui import app

    monkeypatch.setattr(sys, "platform", "linux")
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    try:
        app.check_display()
    except PlaygroundError as exc:
        assert "display" in exc.message.lower()
        assert "QT_QPA_PLATFORM=offscreen" in exc.hint
    else:
        raise AssertionError("expected a PlaygroundError")


def test_recent_menu_lists_loaded_corpora_and_reopens_them(window, qtbot, tmp_path, wait_idle):
    from playground.core.builtin_corpora import DEFAULT_BUILTIN

    path = tmp_path / "recent.txt"
    path.write_text("some words to remember\n" * 40, encoding="utf-8")
    with qtbot.waitSignal(window.corpus_tab.loadFinished, timeout=30_000):
        window.corpus_tab.load_path(path)
    window._fill_recent_menu()
    actions = window.recent_menu.actions()
    assert [a.data() for a in actions] == [str(path.resolve()), f"builtin:{DEFAULT_BUILTIN}"]
    assert actions[0].text().startswith("recent.txt")
    with qtbot.waitSignal(window.corpus_tab.loadFinished, timeout=30_000):
        actions[1].trigger()
    assert window.state.corpus.source == f"builtin:{DEFAULT_BUILTIN}"
    assert not window.open_run_action.isEnabled()  # runs come with the Train tab
    wait_idle(window)
