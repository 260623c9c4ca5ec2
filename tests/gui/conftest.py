"""GUI test helpers: a main window with its first corpus and tokenizer ready."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

WAIT_MS = 60_000


def wait_idle(qtbot, window, timeout: int = WAIT_MS) -> None:
    """Wait until no tab has work running and a tokenizer is current."""
    qtbot.waitUntil(
        lambda: not window.corpus_tab.busy
        and not window.tokenizer_tab.busy
        and window.state.corpus is not None
        and window.state.tokenizer is not None,
        timeout=timeout,
    )


@pytest.fixture(name="wait_idle")
def wait_idle_fixture(qtbot):
    """``wait_idle(window)``: block (running the event loop) until the window is idle."""
    return lambda window, timeout=WAIT_MS: wait_idle(qtbot, window, timeout)


@pytest.fixture
def make_window(qtbot):
    """Factory for main windows; every window is closed (and its workers waited for) at the end."""
    from playground.gui.app import MainWindow

    windows = []

    def make(**kwargs):
        kwargs.setdefault("probe_device", False)
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


@pytest.fixture
def window(make_window, qtbot):
    window = make_window()
    window.show()
    wait_idle(qtbot, window)
    return window
