"""Training in a child process, driven by a QThread worker that relays its events.

Why a child process and not a thread: the design notes measured torch training inside *any*
secondary thread of the GUI process (QThread or ``threading.Thread``) at ~0.55-0.6x the main
thread's tokens/s on an idle 2-core machine (OpenMP), while a ``spawn`` child kept full speed and
left the GUI's event loop free. Re-measured for this module on the same 2 cores but busy with
other jobs (load average 7-9; Small preset, batch 12, char tokens, median tokens/s): with
OpenMP's default spinning waits, main thread 950, worker thread 4,100, and main with 1 torch
thread 6,200 -- oversubscribed spinning dominates everything; with ``OMP_WAIT_POLICY=PASSIVE``,
main 5,100, thread 5,500, child 4,900. So on a busy machine the process costs nothing, and the
child is kept for what a thread cannot give: no GIL shared with the GUI thread, a crash or
out-of-memory kill that takes only the child, and a stop that never leaves the window hanging.
The child sets ``OMP_WAIT_POLICY=PASSIVE`` (unless set) because the GUI always shares the cores.

The pieces::

    GUI thread (TrainTab)            QThread (TrainingJob._work)            child process
    Start  ──> TrainingJob(...)  ──> ChildProcess(...) (spawn)    ──>  _child_main: Trainer.run()
    Pause/Resume/Stop: set the multiprocessing.Events the trainer polls between steps
    on_items(list[event]) <── progress.item(ev) <── conn.recv(): lists of events (batched ~30/s)

Spawning, reading the pipe and ending the child are child_process.py's, shared with
child_jobs.py. No orphan process: when the GUI process dies (even ``kill -9``), the child's
watchdog (``child_process.watch_parent``) sees its lifeline close and sets ``stop``: the
trainer saves a checkpoint and the child exits.

This module loads neither Qt widgets nor torch: the child imports it too (the package's
__init__ only loads QtCore for its workaround).
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from playground.core import events
from playground.gui import child_process
from playground.gui.child_process import pid_alive as pid_alive  # tests check the child is gone

BATCH_S = 1 / 30  # the child sends at most ~30 batches of Step events a second
STOP_GRACE_S = 60.0  # after Stop, how long the child may take to save before it is terminated
POLL_S = child_process.POLL_S


# ----------------------------------------------------------------------------- extra events
# The core's events (Step, Eval, ...) are relayed as they are; these say what the child is doing.


@dataclass(frozen=True)
class Started:
    pid: int  # the training process


@dataclass(frozen=True)
class Paused:
    it: int  # the trainer is waiting: no step will come until Resumed


@dataclass(frozen=True)
class Resumed:
    it: int


@dataclass(frozen=True)
class ChildFailed:
    """An exception in the child: a PlaygroundError keeps its class, message and hint."""

    cls: Any
    message: str
    hint: str | None
    details: str


# ----------------------------------------------------------------------------- the child


class _Outbox:
    """Sends events to the parent in batches. A broken pipe (parent gone) means: stop."""

    def __init__(self, conn, stop) -> None:
        self.conn = conn
        self.stop = stop
        self.pending: list = []
        self.last = 0.0
        self.broken = False

    def put(self, event, flush: bool = False) -> None:
        self.pending.append(event)
        if flush or time.monotonic() - self.last >= BATCH_S:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        self.last = time.monotonic()
        if self.broken:
            return
        try:
            self.conn.send(batch)
        except (BrokenPipeError, EOFError, OSError):
            # Nobody listens any more: finish cleanly (the trainer saves on stop).
            self.broken = True
            self.stop.set()


class _PauseProbe:
    """The pause event as the trainer sees it: reports when a pause takes effect.

    The trainer polls ``pause.is_set()`` only between steps, so the first True it reads is the
    moment no further step will come: the parent learns it (``Paused``) and can rely on it.
    """

    def __init__(self, pause, outbox: _Outbox) -> None:
        self.pause = pause
        self.outbox = outbox
        self.step: Callable[[], int] = lambda: 0
        self.paused = False

    def is_set(self) -> bool:
        value = self.pause.is_set()
        if value != self.paused:
            self.paused = value
            self.outbox.put(Paused(self.step()) if value else Resumed(self.step()), flush=True)
        return value


def _child_main(conn, lifeline, run_path: str, corpus, resume: bool, pause, stop, parent_pid: int) -> None:
    # Before torch loads: OpenMP workers that spin while waiting collapse as soon as another
    # process (the GUI drawing plots, anything else) takes a core. Measured here on 2 busy cores,
    # Small preset: 340-980 tokens/s spinning vs 4,700 sleeping ("passive"), same 2 threads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # The GUI process is gone: stop, which saves a checkpoint, and exit.
    threading.Thread(target=child_process.watch_parent, args=(lifeline, parent_pid, stop.set, stop),
                     daemon=True, name="parent-watchdog").start()
    out = _Outbox(conn, stop)
    probe = _PauseProbe(pause, out)
    try:
        from playground.core import checkpoint, train

        run = checkpoint.Run(run_path)
        trainer = train.Trainer(run, corpus, pause=probe, stop=stop, resume=resume)
        probe.step = lambda: trainer.step
        out.put(Started(os.getpid()), flush=True)
        for event in trainer.run():
            out.put(event, flush=not isinstance(event, events.Step))
        out.flush()
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        out.put(ChildFailed(type(exc), str(getattr(exc, "message", exc)), getattr(exc, "hint", None),
                            traceback.format_exc()), flush=True)
    finally:
        out.flush()
        conn.close()


# ----------------------------------------------------------------------------- the parent


class TrainingJob:
    """The GUI side of one training: owns the child process and the QThread worker driving it.

    ``on_events(list)`` receives the child's events (core events plus Started/Paused/Resumed) in
    the GUI thread, ≤ ~30 batches a second; ``on_done(finished_or_None)`` / ``on_error(exc)``
    once the worker thread and the child have both ended.
    """

    def __init__(self, run_path, corpus=None, *, resume: bool = False, parent=None,
                 on_events=None, on_done=None, on_error=None) -> None:
        from playground.gui import workers

        ctx = child_process.SPAWN
        self.run_path = str(run_path)
        self.corpus = corpus
        self.resume = resume
        self.pause_event = ctx.Event()
        self.stop_event = ctx.Event()
        self.process = None
        self.pid: int | None = None
        self.finished = None  # the Finished event, once it came
        self.exitcode: int | None = None
        self._stop_asked_at: float | None = None
        self.handle = workers.start(self._work, parent=parent, on_items=on_events, on_done=on_done,
                                    on_error=on_error, name="training")

    # -- control (any thread) ----------------------------------------------------------------
    def pause(self) -> None:
        self.pause_event.set()

    def resume_training(self) -> None:
        self.pause_event.clear()

    def stop(self) -> None:
        self.stop_event.set()
        self.pause_event.clear()  # a paused trainer must wake up to save and stop

    @property
    def running(self) -> bool:
        return self.handle.running

    def wait(self, msecs: int) -> bool:
        return self.handle.wait(msecs)

    # -- the worker (QThread) ----------------------------------------------------------------
    def _work(self, progress, cancel) -> Any:
        from playground.errors import PlaygroundError

        child = child_process.ChildProcess(
            _child_main, self.run_path, self.corpus, self.resume, self.pause_event, self.stop_event,
            os.getpid(), name="playground-training")
        self.process, self.pid = child.process, child.pid
        failure: ChildFailed | None = None

        def keep_going() -> bool:
            if cancel.is_set() and not self.stop_event.is_set():
                self.stop()  # window closing: the child saves and ends
            if self.stop_event.is_set():
                self._stop_asked_at = self._stop_asked_at or time.monotonic()
                return time.monotonic() - self._stop_asked_at <= STOP_GRACE_S  # then terminated
            return True

        try:
            for batch in child.messages(keep_going, POLL_S):
                for event in batch:
                    match event:
                        case ChildFailed():
                            failure = event  # raised below, once the child has ended
                            continue
                        case events.Finished():
                            self.finished = event
                    progress.item(event)
                # The child already batches (≤ ~30/s): relay each batch at once, so a trailing
                # Paused marker is not held back while the child is quiet.
                progress.flush()
        finally:
            child.close(10 if self.finished is not None or failure is not None else 2)
            self.exitcode = child.exitcode
        if failure is not None:
            if isinstance(failure.cls, type) and issubclass(failure.cls, PlaygroundError):
                raise failure.cls(failure.message, failure.hint)
            raise RuntimeError(f"{getattr(failure.cls, '__name__', failure.cls)}: {failure.message}\n"
                               f"(in the training process)\n{failure.details}")
        if self.finished is None:
            raise PlaygroundError(
                f"The training process ended unexpectedly (exit code {self.exitcode}).",
                "The computer may be out of memory: try a smaller model or batch. The last "
                "checkpoint is kept; resume the run from the runs list.")
        return self.finished
