"""The real entry point starts the window offscreen and exits 0."""

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


def test_smoke_starts_and_exits_zero(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "playground", "--smoke"],
        env=_env(tmp_path / "home"), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_smoke_exits_zero_whatever_the_settings_file_holds(tmp_path):
    """Valid JSON with values of the wrong kind stopped every start ("'str' object has no
    attribute 'get'"). Now the app starts, logs no error, and the file is rewritten sound."""
    import json

    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    settings_file = home / "config" / "settings.json"
    settings_file.write_text(json.dumps({
        "schema_version": 1, "last_tokenizer": "bpe", "tiny_shakespeare_url": None,
        "last_corpus": 12345, "recent_corpora": "notalist", "unknown": [1, 2]}), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "playground", "--smoke"],
        env=_env(home), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
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
