"""The one helper that runs slow work on a QThread.

Every long job in the GUI (loading a big file, training a BPE tokenizer, downloading, checking
a pretrained encoding, importing torch) goes through :func:`start`. The pattern:

    handle = workers.start(fn, parent=self, on_done=..., on_error=..., on_progress=...)
    handle.cancel()

``fn(progress, cancel)`` runs in the worker thread; ``progress(done, total)`` may be called as
often as it likes (it is throttled to ~30 signals a second) and ``cancel`` is a
``threading.Event`` the function polls. A job that streams results (training events, generated
tokens) calls ``progress.item(obj)`` per result; items reach ``on_items(list)`` in the GUI
thread in batches, at most ~30 batches a second, and all of them before ``on_done``.

Why a handle object: with PySide6 6.12 a worker signal connected to a lambda or plain function
runs that function *in the worker thread* (measured), so the only receivers of worker signals
are the ``@Slot`` methods of :class:`WorkerHandle`, a QObject living in the GUI thread. It then
calls the caller's callbacks from the GUI thread, so those may be any callable. The callbacks
for the result run only after the thread has stopped, so nothing is left running when they fire
(tests rely on this).

Quitting never hangs on a job that does not listen to ``cancel`` (a read blocked on a pipe, a
stuck network call): :func:`shutdown` waits a bounded time, then lets the thread go (see
:meth:`WorkerHandle.let_go`), and the process exits without waiting for it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

ProgressFn = Callable[[int, int], None]
WorkFn = Callable[[ProgressFn, threading.Event], Any]

PROGRESS_INTERVAL_S = 1 / 30  # at most ~30 progress updates a second reach the GUI
# How long closing a window waits for its jobs to notice ``cancel``: they poll it many times a
# second, so one still running after this is stuck and is let go.
SHUTDOWN_WAIT_MS = 3_000

_active: set[WorkerHandle] = set()  # keeps handles (and their threads) alive until they end
_let_go: set[WorkerHandle] = set()  # stuck jobs given up on; kept so their late end is handled


class _Reporter:
    """What a job receives as ``progress``: call it with (done, total); ``.item(obj)`` streams;
    ``.flush()`` sends the items held back by the throttle now (a job about to go quiet)."""

    __slots__ = ("report", "item", "flush")

    def __init__(self, report: ProgressFn, item: Callable[[Any], None],
                 flush: Callable[[], None] = lambda: None) -> None:
        self.item = item
        self.report = report
        self.flush = flush

    def __call__(self, done: int, total: int | None = None) -> None:
        self.report(done, total)


class _Worker(QObject):
    """Lives in the worker thread; runs ``fn`` once and reports through signals."""

    progress = Signal(int, int)
    items = Signal(list)  # a batch of streamed results, in order
    finished = Signal(object)
    failed = Signal(object, str)  # the exception and its formatted traceback

    def __init__(self, fn: WorkFn, cancel: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._cancel = cancel
        self._last_emit = 0.0
        self._pending: list[Any] = []
        self._last_flush = 0.0
        self._reporter = _Reporter(self._report, self._item, lambda: self._flush(time.monotonic()))

    def _item(self, obj: Any) -> None:
        self._pending.append(obj)
        now = time.monotonic()
        if now - self._last_flush >= PROGRESS_INTERVAL_S:
            self._flush(now)

    def _flush(self, now: float) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self.items.emit(batch)
        self._last_flush = now

    def _report(self, done: int, total: int | None = None) -> None:
        total = -1 if total is None else int(total)
        now = time.monotonic()
        # The last update (done == total) always goes through so bars reach 100%.
        if now - self._last_emit >= PROGRESS_INTERVAL_S or (total >= 0 and done >= total):
            self._last_emit = now
            self.progress.emit(int(done), total)

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._reporter, self._cancel)
        except BaseException as exc:  # noqa: BLE001 - everything is reported to the GUI thread
            self._flush(time.monotonic())
            self.failed.emit(exc, traceback.format_exc())
        else:
            self._flush(time.monotonic())
            self.finished.emit(result)
        # The thread ends itself: waiting for a GUI-thread slot to quit it would deadlock a
        # GUI thread that is blocked in wait() (window closing).
        QThread.currentThread().quit()


class WorkerHandle(QObject):
    """GUI-thread owner of one worker + thread. Emits ``done`` once the thread has stopped."""

    done = Signal()

    def __init__(
        self,
        fn: WorkFn,
        *,
        parent: QObject | None = None,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_items: Callable[[list], None] | None = None,
        name: str = "worker",
    ) -> None:
        # Not a Qt child of `parent`: a widget deleted mid-job must not delete a running QThread.
        super().__init__()
        self.owner = parent
        self.name = name
        self.cancel_event = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.error_details = ""
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress
        self._on_items = on_items
        self._finished = False
        self._abandoned = False
        self._thread = QThread()
        self._thread.setObjectName(f"playground-{name}")
        self._worker = _Worker(fn, self.cancel_event)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self._relay_progress)
        self._worker.items.connect(self._relay_items)
        self._worker.finished.connect(self._worker_finished)
        self._worker.failed.connect(self._worker_failed)
        self._thread.finished.connect(self._thread_finished)

    # -- control ---------------------------------------------------------------------------
    def start(self) -> WorkerHandle:
        _active.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def running(self) -> bool:
        return not self._finished

    def wait(self, msecs: int = 10_000) -> bool:
        """Block until the thread ends (used when the window closes)."""
        return self._thread.wait(msecs)

    def abandon(self) -> None:
        """Forget the callbacks: the window they would update is going away."""
        self._abandoned = True
        if not self._thread.isRunning():
            self._finished = True
            _active.discard(self)

    def let_go(self) -> None:
        """Give up on a job that did not stop when cancelled; the process may now exit without it.

        At exit PySide deletes every QObject Python owns, and Qt aborts the whole process
        ("QThread: Destroyed while thread ... is still running") when that is a running
        QThread. Made a child of the thread object it lives in (the GUI thread's, which Qt
        keeps until the process ends), the QThread is owned by C++ and never deleted while it
        runs. If the job ends after all, ``_thread_finished`` still cleans up (callbacks dropped).
        Call from the GUI thread.
        """
        self.abandon()
        if not self._thread.isRunning():
            return
        self._thread.setParent(self._thread.thread())
        _active.discard(self)
        _let_go.add(self)

    # -- slots (GUI thread) ----------------------------------------------------------------
    # An abandoned job's late reports are dropped: the widgets they would update may be gone.
    @Slot(int, int)
    def _relay_progress(self, done: int, total: int) -> None:
        if self._on_progress is not None and not (self._finished or self._abandoned):
            self._on_progress(done, total)

    @Slot(list)
    def _relay_items(self, batch: list) -> None:
        if self._on_items is not None and not (self._finished or self._abandoned):
            self._on_items(batch)

    @Slot(object)
    def _worker_finished(self, result: Any) -> None:
        self.result = result

    @Slot(object, str)
    def _worker_failed(self, exc: BaseException, details: str) -> None:
        self.error = exc
        self.error_details = details

    @Slot()
    def _thread_finished(self) -> None:
        # `finished` is emitted from the thread just before it ends: wait the last moment so
        # nothing reports the thread as running once the callbacks fire.
        self._thread.wait()
        self._finished = True
        _active.discard(self)
        _let_go.discard(self)
        try:
            if self._abandoned:
                pass
            elif self.error is not None:
                if self._on_error is not None:
                    self._on_error(self.error)
                else:  # nobody handles it: the global exception hook shows it
                    raise self.error
            elif self._on_done is not None:
                self._on_done(self.result)
        finally:
            self._worker.deleteLater()
            self._thread.deleteLater()
            self.done.emit()
            self.deleteLater()


def start(fn: WorkFn, **options: Any) -> WorkerHandle:
    """Run ``fn(progress, cancel)`` on a fresh QThread; callbacks run in the GUI thread.

    ``options`` are WorkerHandle's: parent, on_done, on_error, on_progress, on_items, name.
    """
    return WorkerHandle(fn, **options).start()


def active() -> list[WorkerHandle]:
    return [h for h in _active if h.running]


def any_running() -> bool:
    return bool(active())


def _owned_by(handle: WorkerHandle, owner: QObject) -> bool:
    obj = handle.owner
    try:
        while obj is not None:
            if obj is owner:
                return True
            obj = obj.parent()
    except RuntimeError:  # the owner's C++ object is gone
        return True
    return False


def shutdown(owner: QObject | None = None, timeout_ms: int = SHUTDOWN_WAIT_MS) -> list[WorkerHandle]:
    """Cancel the workers of ``owner`` (all when None) and wait for their threads, at most
    ``timeout_ms`` in all; the ones still running then are let go (a later call does not wait
    for them again). Returns those."""
    handles = [h for h in active() if owner is None or _owned_by(h, owner)]
    for handle in handles:
        handle.cancel()
    deadline = time.monotonic() + timeout_ms / 1000
    stuck = []
    for handle in handles:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        if handle.wait(remaining):
            handle.abandon()
        else:
            handle.let_go()
            stuck.append(handle)
    return stuck
