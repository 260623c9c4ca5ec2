"""The one worker helper: results, errors, cancel, throttled progress, GUI-thread callbacks."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread

from playground.errors import Cancelled
from playground.gui import workers


def _run(qtbot, fn, **kwargs):
    events = {"progress": [], "done": [], "error": [], "threads": []}
    owner = QObject()

    def on_done(result):
        events["threads"].append(QThread.currentThread())
        events["done"].append(result)

    def on_error(exc):
        events["threads"].append(QThread.currentThread())
        events["error"].append(exc)

    handle = workers.start(fn, parent=owner, on_done=on_done, on_error=on_error,
                           on_progress=lambda d, t: events["progress"].append((d, t)), **kwargs)
    with qtbot.waitSignal(handle.done, timeout=10_000):
        pass
    return handle, events


def test_result_arrives_in_gui_thread_after_thread_stopped(qtbot):
    worker_threads = []

    def fn(progress, cancel):
        worker_threads.append(threading.get_ident())
        return 42

    handle, events = _run(qtbot, fn)
    assert events["done"] == [42]
    assert events["threads"] == [qtbot_thread()]
    assert worker_threads[0] != threading.get_ident()
    assert not workers.any_running()


def qtbot_thread():
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().thread()


def test_error_is_reported_not_raised(qtbot):
    def fn(progress, cancel):
        raise ValueError("bad input")

    _handle, events = _run(qtbot, fn)
    assert isinstance(events["error"][0], ValueError)
    assert events["done"] == []


def test_progress_is_throttled_but_reaches_the_end(qtbot):
    def fn(progress, cancel):
        for i in range(1, 200_001):
            progress(i, 200_000)
        return "ok"

    _handle, events = _run(qtbot, fn)
    assert events["progress"][-1] == (200_000, 200_000)
    assert len(events["progress"]) < 200  # 200,000 calls, a handful of signals


def test_cancel_sets_the_event(qtbot):
    started = threading.Event()

    def fn(progress, cancel):
        started.set()
        while not cancel.wait(0.01):
            pass
        raise Cancelled()

    owner = QObject()
    errors = []
    handle = workers.start(fn, parent=owner, on_error=errors.append)
    assert started.wait(5)
    with qtbot.waitSignal(handle.done, timeout=10_000):
        handle.cancel()
    assert isinstance(errors[0], Cancelled)


def test_pyside_does_not_leak_references_to_true_or_none(qtbot):
    """PySide6 6.12.0 on CPython 3.11 drops a reference to True on each emit() and to None on
    each void call, until CPython aborts ('bool_dealloc'/'none_dealloc'). pyproject excludes
    that release on Python < 3.12; this guards against a regression in whatever is installed."""
    import sys

    from PySide6.QtCore import Signal

    class Emitter(QObject):
        ping = Signal()

    emitter = Emitter()
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(1000):
        emitter.ping.emit()
        emitter.setObjectName("x")
    assert true_before - sys.getrefcount(True) < 100
    assert none_before - sys.getrefcount(None) < 100


def test_streamed_items_arrive_in_order_and_batched(qtbot):
    """progress.item() streams results; they reach on_items in the GUI thread, all before on_done."""
    import threading as _threading

    from playground.gui import workers as _workers

    batches: list[list] = []
    done: list = []
    gui_thread = _threading.get_ident()
    seen_threads: set[int] = set()

    def job(progress, cancel):
        for i in range(2000):
            progress.item(i)
        return "finished"

    def on_items(batch):
        seen_threads.add(_threading.get_ident())
        batches.append(batch)

    handle = _workers.start(job, on_items=on_items, on_done=done.append, name="stream")
    qtbot.waitUntil(lambda: not handle.running, timeout=10_000)
    assert done == ["finished"]
    assert [x for b in batches for x in b] == list(range(2000))
    assert len(batches) < 2000  # batched, not one signal per item
    assert seen_threads == {gui_thread}


def test_abandoned_job_reports_nothing_more(qtbot):
    """Progress and items that arrive after abandon() never reach the (closing) window."""
    go = threading.Event()

    def fn(progress, cancel):
        assert go.wait(10)
        progress(1, 1)  # done == total: passes the throttle, so it is emitted
        progress.item("late")
        return "ignored"

    owner = QObject()
    got: list = []
    handle = workers.start(fn, parent=owner, on_progress=lambda d, t: got.append(("progress", d, t)),
                           on_items=lambda batch: got.append(("items", batch)), on_done=got.append)
    handle.abandon()
    with qtbot.waitSignal(handle.done, timeout=10_000):  # queued after the reports: they were handled
        go.set()
    assert got == []


def test_shutdown_lets_a_stuck_job_go_within_its_bound(qtbot):
    """A job that ignores cancel (a read blocked on a pipe) must not hold up closing the window."""
    import time

    release = threading.Event()  # set only at the end: until then the job is stuck
    started = threading.Event()

    def fn(progress, cancel):
        started.set()
        release.wait()
        return "late"

    owner = QObject()
    late: list = []
    handle = workers.start(fn, parent=owner, on_done=late.append, name="stuck")
    assert started.wait(5)
    t0 = time.monotonic()
    stuck = workers.shutdown(owner, timeout_ms=300)
    assert 0.25 <= time.monotonic() - t0 < 2.5  # waited its bound, not the job's
    assert stuck == [handle] and handle not in workers.active()
    t0 = time.monotonic()
    assert workers.shutdown(owner, timeout_ms=300) == [] and time.monotonic() - t0 < 0.2  # not waited twice
    with qtbot.waitSignal(handle.done, timeout=10_000):  # if it ends after all, it is cleaned up
        release.set()
    assert late == []  # the window it would have updated is gone


STUCK_AT_EXIT = """
import threading, time
from PySide6.QtWidgets import QApplication
from playground.gui import workers

app = QApplication([])
started = threading.Event()

def fn(progress, cancel):
    started.set()
    threading.Event().wait()  # never returns, never looks at cancel

workers.start(fn, name="stuck")
assert started.wait(10)
t0 = time.monotonic()
stuck = workers.shutdown(timeout_ms=300)
print(f"let go {len(stuck)} after {time.monotonic() - t0:.2f} s", flush=True)
"""


def test_the_process_exits_cleanly_with_a_stuck_job():
    """Before: Qt aborted the app on quit ("QThread: Destroyed while thread ... is still running")."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", STUCK_AT_EXIT], capture_output=True, text=True, timeout=120,
                         env=env)
    assert out.returncode == 0, out.stderr
    assert "Destroyed while thread" not in out.stderr
    count, seconds = out.stdout.split()[2], float(out.stdout.split()[4])
    assert count == "1" and seconds < 2.5
