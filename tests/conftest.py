"""Shared test setup: offscreen Qt, a private PLAYGROUND_HOME, and no dangling threads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


@pytest.fixture(autouse=True)
def playground_home(tmp_path, monkeypatch):
    """Every test gets its own PLAYGROUND_HOME: no test touches the real user folders."""
    home = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(home / "cache" / "tiktoken"))
    return home


@pytest.fixture
def shakespeare_path():
    if not SHAKESPEARE.exists():
        pytest.skip("../shared/corpora/tinyshakespeare.txt is not present")
    return SHAKESPEARE


def _running_qthreads():
    if "PySide6.QtCore" not in sys.modules:
        return []
    import gc

    from PySide6.QtCore import QThread

    threads = []
    for obj in gc.get_objects():
        try:
            if issubclass(type(obj), QThread) and obj.isRunning():  # type(): no lazy __class__ hooks
                threads.append(obj)
        except RuntimeError:  # the C++ object is already gone
            continue
    return threads


@pytest.fixture(autouse=True)
def no_dangling_qthreads(request):
    """Fail any test that leaves a QThread running (napari does the same)."""
    yield
    if "qtbot" not in request.fixturenames:
        return
    running = _running_qthreads()
    for thread in running:
        thread.quit()
        thread.wait(2000)
    assert not running, f"test left {len(running)} QThread(s) running"
