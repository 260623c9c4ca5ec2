"""The real entry point: a start with a bad settings file, no display, and what makes the
``--smoke`` check fail. The full ``--smoke`` run (every tab, a Tiny model trained in the child
process) is in test_wheel.py, from the installed wheel: one run of it in the suite is enough.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _env(home) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PLAYGROUND_HOME"] = str(home)
    return env


def test_start_works_whatever_the_settings_file_holds(tmp_path):
    """Valid JSON with values of the wrong kind stopped every start ("'str' object has no
    attribute 'get'"). Now the window opens, no error is logged, and the file is rewritten sound.
    (The start runs until the window is painted: the window's notice is tests/gui/test_settings_notice.py.)"""
    import json

    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    settings_file = home / "config" / "settings.json"
    settings_file.write_text(json.dumps({
        "schema_version": 1, "last_tokenizer": "bpe", "tiny_shakespeare_url": None,
        "last_corpus": 12345, "recent_corpora": "notalist", "unknown": [1, 2]}), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "playground"],
        env={**_env(home), "PLAYGROUND_STARTUP_PROBE": "1"}, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("window-shown ")
    assert "Traceback" not in proc.stderr and "unexpected error" not in proc.stderr
    assert not (home / "logs" / "cli-error.log").exists()
    log = home / "logs" / "playground.log"
    assert not log.exists() or "Traceback" not in log.read_text(encoding="utf-8")
    stored = json.loads(settings_file.read_text(encoding="utf-8"))
    assert isinstance(stored["recent_corpora"], list)
    assert all(isinstance(spec, str) and len(spec) > 1 for spec in stored["recent_corpora"])
    assert stored["tiny_shakespeare_url"].startswith("https://")
    assert stored["last_tokenizer"] is None or isinstance(stored["last_tokenizer"], dict)
    assert "unknown" not in stored
    assert len(list((home / "config").glob("settings.corrupt-*.json"))) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only X11/Wayland systems can lack a display")
def test_no_display_is_a_clear_error(tmp_path):
    env = _env(tmp_path / "home")
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "playground", "--smoke"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "No display found" in proc.stderr
    assert "QT_QPA_PLATFORM=offscreen" in proc.stderr


# ----------------------------------------------------------------------------- what --smoke counts as failed


@pytest.fixture
def smoke(qapp):
    from playground.gui import smoke as smoke_mod

    check = smoke_mod.Smoke(qapp)
    yield check
    check.restore()


def test_smoke_fails_on_an_exception_and_hands_it_to_the_apps_hook(smoke):
    from playground.gui import error_dialog
    from playground.gui import smoke as smoke_mod

    seen = []
    # Not monkeypatch: its undo would come after the fixture's restore(), which would then put
    # this stand-in back as the app's hook for every later test of the process.
    app_hook, smoke._dialog_hook = smoke._dialog_hook, lambda *exc: seen.append(exc[1])
    try:
        raise ValueError("boom")
    except ValueError as exc:
        error_dialog.excepthook(type(exc), exc, exc.__traceback__)  # what ui.report_unexpected calls
    finally:
        smoke._dialog_hook = app_hook
    with pytest.raises(smoke_mod.SmokeFailed, match="exception: ValueError: boom"):
        smoke.wait("nothing", lambda: True)
    assert [str(e) for e in seen] == ["boom"]


def test_smoke_closes_an_error_dialog_and_fails(smoke, qapp):
    from PySide6.QtCore import QTimer

    from playground.gui import smoke as smoke_mod
    from playground.gui.error_dialog import ErrorDialog

    dialog = ErrorDialog("The run could not be read.", "Check the file.")
    QTimer.singleShot(0, dialog.exec)  # a modal dialog: its own event loop must not hold the check
    with pytest.raises(smoke_mod.SmokeFailed, match="error dialog: The run could not be read. Check the file."):
        smoke.wait("never", lambda: False, timeout=30)
    assert not dialog.isVisible()


def test_smoke_fails_on_an_error_line_in_a_tab_but_not_on_a_warning(smoke, qtbot):
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from playground.gui import smoke as smoke_mod
    from playground.gui import ui

    window = QWidget()
    qtbot.addWidget(window)
    line = ui.MessageLabel()
    QVBoxLayout(window).addWidget(line)
    window.show()
    line.show_text("Heads up.", ui.WARNING)
    smoke.check(window, "a tab")
    line.show_text("The model could not be loaded.", ui.ERROR)
    with pytest.raises(smoke_mod.SmokeFailed, match="a tab: an error is shown: The model could not be loaded."):
        smoke.check(window, "a tab")


def test_smoke_run_exits_1_on_a_failed_step_and_puts_everything_back(qapp, monkeypatch):
    from PySide6.QtWidgets import QWidget

    from playground.gui import app as app_mod
    from playground.gui import error_dialog
    from playground.gui import smoke as smoke_mod

    hooks = (sys.excepthook, error_dialog.excepthook)
    homes = []
    monkeypatch.setattr(smoke_mod, "normal_start", lambda smoke, window: None)
    monkeypatch.setattr(app_mod, "MainWindow", lambda **kw: QWidget())

    def lesson_fails(smoke, window):
        homes.append(os.environ["PLAYGROUND_HOME"])
        raise smoke_mod.SmokeFailed("training did not finish")

    monkeypatch.setattr(smoke_mod, "first_lesson", lesson_fails)
    home = os.environ["PLAYGROUND_HOME"]
    assert smoke_mod.run(qapp, QWidget()) == smoke_mod.EXIT_FAILED
    assert os.environ["PLAYGROUND_HOME"] == home and (sys.excepthook, error_dialog.excepthook) == hooks
    assert homes[0] != home and not os.path.exists(homes[0])  # the scratch home is gone

    monkeypatch.setattr(smoke_mod, "first_lesson", lambda smoke, window: None)
    assert smoke_mod.run(qapp, QWidget()) == 0
