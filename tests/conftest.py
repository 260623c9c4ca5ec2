"""Shared test setup: offscreen Qt, a private PLAYGROUND_HOME, and no dangling threads."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Under pytest-xdist two workers share the two cores: one torch thread each, or OpenMP's spinning
# threads of one worker stall the other's (the same collapse the app's training child avoids).
os.environ.setdefault("OMP_NUM_THREADS", "1" if os.environ.get("PYTEST_XDIST_WORKER") else "2")

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "tinyshakespeare.txt"


@pytest.fixture(autouse=True)
def playground_home(tmp_path, monkeypatch):
    """Every test gets its own PLAYGROUND_HOME: no test touches the real user folders."""
    home = tmp_path / "home"
    monkeypatch.setenv("PLAYGROUND_HOME", str(home))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(home / "cache" / "tiktoken"))
    return home


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, one worker runs every test that needs the trained built-ins (it trains
    them once); the other workers run the rest meanwhile."""
    for item in items:
        if "builtin_trained" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("builtin-models"))


def pytest_collection_finish(session):
    """The group only works if xdist could tag the node ids: say so rather than train twice."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in session.items
            if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist could not group {lost[0]} (and {len(lost) - 1} more): each worker would train "
            "the built-in models again. Use the pytest version pyproject.toml's test extra allows.")


@pytest.fixture(scope="session")
def builtin_trained(tmp_path_factory):
    """``builtin_trained("copy-lessons") -> Trained``: a built-in trained at the app's defaults
    (see tests/builtin_models.py), once per session, shared by every test that asks."""
    from builtin_models import BuiltinModels

    models = BuiltinModels(str(tmp_path_factory.mktemp("builtin-models-home")))
    yield models
    models.close()


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
