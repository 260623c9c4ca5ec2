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
