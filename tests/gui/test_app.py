"""The main window: tabs, status bar, menus, glossary, settings, exception hook."""

from __future__ import annotations

import sys

import pytest
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
    wait_idle(window)


# ------------------------------------------------------------------------------ runs


def make_run(name: str):
    """A run folder as the Train tab creates it (no training needed to open it)."""
    from playground.core.checkpoint import Run
    from playground.core.config import ModelConfig, TrainConfig
    from playground.core.corpus import load_builtin
    from playground.core.tokenizers import train_tokenizer

    corpus = load_builtin("copy-lessons")
    tok = train_tokenizer("char", corpus.text)
    cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=8, n_layer=1, n_head=1, d_model=8)
    return Run.create(name, cfg, TrainConfig(), corpus.record(), tok)


def test_status_bar_follows_the_current_run(window):
    first, second = make_run("first-run"), make_run("second-run")
    window.state.set_run(first)
    assert window.run_label.text() == "Run: first-run"
    window.state.set_run(second)
    assert window.run_label.text() == "Run: second-run"
    window.state.set_run(None)
    assert window.run_label.text() == "Run: none yet"


def test_a_restart_with_runs_on_disk_shows_the_newest_run(make_window, wait_idle):
    """The Attention and Generate tabs' pickers show the newest run: so do the state and the
    status bar ("Run: none yet" was shown with runs on disk)."""
    import time

    from playground.core import checkpoint

    make_run("older-run")
    newer = make_run("newer-run")
    newer.update(updated=time.time() + 60)
    window = make_window()
    wait_idle(window)
    assert checkpoint.list_runs()[0].name == "newer-run"
    assert window.state.run == newer
    assert window.run_label.text() == "Run: newer-run"
    generate = window.tab_widgets[5]
    assert generate.picker.current() == newer


def test_open_run_opens_a_run_folder(window):
    run = make_run("opened-run")
    assert window.open_run_action.isEnabled()
    window.open_run(run.path / "run.json")  # what the file dialog returns for a folder's run
    assert window.state.run == run
    assert window.run_label.text() == "Run: opened-run"
    assert window.open_run_error is None


def test_open_run_imports_an_exported_zip(window, qtbot, tmp_path):
    from playground.core import checkpoint

    run = make_run("exported-run")
    archive = checkpoint.export_zip(run, tmp_path / "exported-run.zip")
    window.open_run(archive)
    qtbot.waitUntil(lambda: window.state.run is not None and window.state.run != run, timeout=30_000)
    imported = window.state.run
    assert imported.path.parent == run.path.parent and imported.name != run.name  # a copy, free name
    assert imported.info["model"] == run.info["model"]
    assert window.run_label.text() == f"Run: {imported.name}"


@pytest.mark.parametrize("what", ["folder", "zip", "missing"])
def test_what_is_not_a_run_is_said_in_words(window, qtbot, tmp_path, monkeypatch, what):
    hooked = []
    monkeypatch.setattr(error_dialog, "excepthook", lambda *args: hooked.append(args))
    if what == "folder":
        path = tmp_path / "holiday-photos"
        path.mkdir()
    elif what == "zip":
        import zipfile

        path = tmp_path / "notes.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("notes/readme.txt", "not a run")
    else:
        path = tmp_path / "gone.zip"
    window.open_run(path)
    qtbot.waitUntil(lambda: window.open_run_error is not None, timeout=30_000)
    dialog = window.open_run_error
    assert dialog.isVisible() and not dialog.details_box.isVisibleTo(dialog)  # no traceback
    assert path.name in dialog.message
    assert dialog.hint
    assert window.state.run is None
    assert hooked == []
    dialog.close()
