"""No tab touches a module another thread is still importing.

In about 1 start in 5 the Train tab's model description met `playground.core.model` half
imported (a worker was importing torch for it): "partially initialized module … has no
attribute 'param_count'". Here the race is forced: `import torch` in a worker stops half way
(torch and `playground.core.model` are in sys.modules, not yet filled in) until the test lets
it go on, and the tokenizer is changed meanwhile. The window must not wait for that import, nor
show an error, and its labels must be right.

torch can be imported only once per process, and other tests have imported it long before this
one runs, so the scenario runs in a fresh interpreter (``test_..._in_a_fresh_interpreter``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import subprocess
import sys
import threading

import pytest

CHILD = "PLAYGROUND_IMPORT_RACE_CHILD"
HOLD_S = 90  # the import goes on by itself after this long: a GUI thread that waited for it shows


class SlowTorchImport(importlib.abc.MetaPathFinder):
    """Holds ``import torch`` in a worker thread at the start of torch's own code, with the
    module lock taken and the half-made module in sys.modules, until ``release`` is set."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.held_to_the_end = False

    def find_spec(self, name, path=None, target=None):
        if name != "torch" or threading.current_thread() is threading.main_thread():
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        real_exec = spec.loader.exec_module

        def exec_module(module):
            self.inside.set()
            self.held_to_the_end = not self.release.wait(HOLD_S)
            real_exec(module)

        spec.loader.exec_module = exec_module
        return spec


@pytest.mark.skipif(os.environ.get(CHILD) != "1",
                    reason="needs a process without torch: run by the fresh-interpreter test")
def test_tokenizer_change_during_a_slow_torch_import(make_window, wait_idle, qtbot, monkeypatch):
    from playground.gui import error_dialog, workers

    assert "torch" not in sys.modules, "this scenario needs a process that has not imported torch"
    slow = SlowTorchImport()
    sys.meta_path.insert(0, slow)
    reported = []
    monkeypatch.setattr(error_dialog, "excepthook", lambda *args: reported.append(args))
    monkeypatch.setattr(sys, "excepthook", lambda *args: reported.append(args))
    window = make_window()
    window.show()
    wait_idle(window)
    assert "torch" not in sys.modules  # the window itself never imports it

    imported = []
    handle = workers.start(lambda progress, cancel: importlib.import_module("playground.core.model"),
                           parent=window, name="slow-torch", on_done=imported.append,
                           on_error=reported.append)
    try:
        assert slow.inside.wait(60), "the worker never reached `import torch`"
        half = sys.modules["playground.core.model"]
        assert half.__spec__._initializing and not hasattr(half, "GPT")  # the race is on

        train_tab, model_tab = window.tab_widgets[3], window.tab_widgets[2]
        for kind in ("word", "char", "word"):
            window.tokenizer_tab.select_kind(kind)
            qtbot.waitUntil(lambda kind=kind: window.state.tokenizer is not None
                            and window.state.tokenizer.kind == kind
                            and not window.tokenizer_tab.busy, timeout=60_000)
            tok = window.state.tokenizer
            assert window.tokenizer_label.text() == f"Tokenizer: {tok.describe()}"
            assert f"Vocabulary: {tok.vocab_size:,} tokens ({kind})" in train_tab.model_label.text()
            assert "M parameters" in train_tab.model_label.text()
            assert f"Vocabulary: {tok.vocab_size:,} tokens" in model_tab.vocab_label.text()
        # All of that happened while torch was still half imported: nothing waited for it.
        assert not slow.release.is_set() and not slow.held_to_the_end and handle.running
    finally:
        slow.release.set()
        sys.meta_path.remove(slow)
    qtbot.waitUntil(lambda: not handle.running and bool(imported), timeout=120_000)
    assert hasattr(imported[0], "GPT")
    assert reported == []
    wait_idle(window)


def test_tokenizer_change_during_a_slow_torch_import_in_a_fresh_interpreter():
    test = f"{__file__}::test_tokenizer_change_during_a_slow_torch_import"
    env = {**os.environ, CHILD: "1", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                          capture_output=True, text=True, timeout=HOLD_S + 180, env=env,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
