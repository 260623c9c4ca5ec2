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

How the child runs torch (OpenMP's waits, its threads) is :func:`child_settings`' alone. The
Model tab's Measure (:func:`measure_in_child`) times its steps in the same child, started the
same way (``_spawn``) with the same settings: its figure is the speed training then has.

The pieces::

    GUI thread (TrainTab)            QThread (TrainingJob._work)            child process
    Start  ──> TrainingJob(...)  ──> _spawn(settings, TrainTask)  ──>  _child_main: Trainer.run()
    Pause/Resume/Stop: set the multiprocessing.Events the trainer polls between steps
    on_items(list[event]) <── progress.item(ev) <── conn.recv(): lists of events (batched ~30/s)

Spawning, reading the pipe and ending the child are child_process.py's, shared with
child_jobs.py. No orphan process: when the GUI process dies (even ``kill -9``), the child's
watchdog (``child_process.watch_parent``) sees its lifeline close and sets ``stop``: the
trainer saves a checkpoint, the run is marked interrupted (the next start offers to resume it)
and the child exits.

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

# The child sends at most ~10 batches of Step events a second: each batch wakes the GUI process,
# and its work steals time from the child on a 2-core machine; the plots redraw ≤ 5 times a
# second anyway (widgets/loss_plot.py).
BATCH_S = 1 / 10
SPIN_COUNT = 100_000  # OpenMP's spins before a waiting thread sleeps (see child_settings)
BUSY_PROBE_S = 0.3  # how long others_busy watches the machine before a child starts
BUSY_CORES = 0.5  # other programs using this much of a core or more: the machine is busy
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
class Measuring:
    done: int  # pieces timed so far, of total
    total: int


@dataclass(frozen=True)
class Measured:
    result: dict  # core.step_timer.measure_training_step's


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


# ----------------------------------------------------------------------------- what the child runs


@dataclass(frozen=True)
class ChildSettings:
    """How a training child runs torch. Built by :func:`child_settings` alone, for a training and
    for the Model tab's Measure alike: a measured step time is only true if both run the same."""

    env: tuple[tuple[str, str], ...] = ()  # set before torch loads, unless the user set them
    threads: int | None = None  # torch.set_num_threads once torch has loaded; None: torch's default

    def apply_env(self) -> None:
        for key, value in self.env:
            os.environ.setdefault(key, value)

    def apply_threads(self) -> None:
        if self.threads is not None:
            import torch

            torch.set_num_threads(self.threads)


def child_settings(model_cfg: Any, batch_size: int, busy: bool = False) -> ChildSettings:
    """The settings of the child that trains (or times) ``model_cfg`` at ``batch_size``, on a
    machine where other programs are ``busy`` (:func:`others_busy`) or not.

    OpenMP's worker threads wait for each other between operations. Measured on this 2-core
    machine with the window open and the plots drawing (`playground bench gui-train` against
    `playground bench train`'s defaults; README "Speed"):

    - sleeping at once (``OMP_WAIT_POLICY=PASSIVE``): every small operation pays a thread
      wake-up: Tiny 0.39x, Small 0.24x the command line's speed;
    - spinning as long as OpenMP's default (300,000 spins): 0.90x and 0.89x; each time the GUI
      paints it takes a core from a spinning thread and the other spins on for nothing;
    - one thread: 0.65-0.8x on Tiny; Small needs both cores;
    - spinning 100,000 times, then sleeping: 0.91x and 0.98x.

    With another program holding a core, any spinning collapses (Tiny: 4,300 tokens/s against
    29,700 sleeping), so a busy machine gets the sleeping waits. The thread count stays the same
    either way: the numbers a run computes do not depend on the machine's load.
    """
    if busy:
        return ChildSettings(env=(("OMP_WAIT_POLICY", "PASSIVE"),))
    return ChildSettings(env=(("GOMP_SPINCOUNT", str(SPIN_COUNT)),))


def others_busy() -> bool:
    """Whether other programs keep at least half a core busy now (measured for 0.3 s: call it
    from a worker, never the GUI thread)."""
    from playground.core.step_timer import other_programs_cores

    return other_programs_cores(BUSY_PROBE_S) >= BUSY_CORES


@dataclass(frozen=True)
class TrainTask:
    run_path: str
    corpus: Any  # a Corpus, or None: the child loads the one the run's record names
    resume: bool
    restart: bool = False  # start again from step 0 a run that never saved a checkpoint (Run.reset)


@dataclass(frozen=True)
class MeasureTask:
    model_cfg: Any
    batch_size: int
    steps: int  # at least this many steps are timed...
    min_seconds: float  # ...and more until they took this long (core.step_timer)


def _child_main(conn, lifeline, settings: ChildSettings, task, pause, stop, parent_pid: int) -> None:
    settings.apply_env()  # before torch loads
    # The GUI process is gone: stop, which saves a checkpoint, and exit.
    orphaned = threading.Event()

    def parent_gone() -> None:
        orphaned.set()
        stop.set()

    threading.Thread(target=child_process.watch_parent, args=(lifeline, parent_pid, parent_gone, stop),
                     daemon=True, name="parent-watchdog").start()
    out = _Outbox(conn, stop)
    try:
        match task:
            case MeasureTask():
                settings.apply_threads()
                from playground.core.step_timer import measure_training_step

                result = measure_training_step(task.model_cfg, task.batch_size, task.steps,
                                               min_seconds=task.min_seconds, cancel=stop,
                                               progress=lambda d, t: out.put(Measuring(d, t), flush=True))
                result["child_env"] = {key: os.environ.get(key) for key, _ in settings.env}  # as it ran
                out.put(Measured(result), flush=True)
            case TrainTask():
                _train(out, settings, task, pause, stop, orphaned)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        out.put(ChildFailed(type(exc), str(getattr(exc, "message", exc)), getattr(exc, "hint", None),
                            traceback.format_exc()), flush=True)
    finally:
        out.flush()
        conn.close()


def _train(out: _Outbox, settings: ChildSettings, task: TrainTask, pause, stop,
           orphaned: threading.Event) -> None:
    from playground.core import checkpoint, run_lock

    run = checkpoint.Run(task.run_path)
    probe = _PauseProbe(pause, out)
    # The lock first, before torch loads: a run another process trains is refused (RunBusy) at
    # once and nothing of it is touched. The trainer takes the lock again, re-entrantly.
    with run_lock.acquire(run.path, run.name):
        if task.restart:  # nothing saved to resume from: from step 0, as `playground train --restart`
            run.reset()
        elif run.info.get("interrupted"):  # it goes on now: no "resume?" note at the next start
            run.update(touch=False, interrupted=False)
        settings.apply_threads()
        from playground.core import train

        trainer = train.Trainer(run, task.corpus, pause=probe, stop=stop, resume=task.resume)
        probe.step = lambda: trainer.step
        trainer.tokenizing_progress = _tokenizing_notes(out)
        out.put(Started(os.getpid()), flush=True)
        for event in trainer.run():
            out.put(event, flush=not isinstance(event, events.Step))
        # Stopped because the window is gone (killed, crashed): the next start offers to resume.
        if (orphaned.is_set() or out.broken) and run.status == "stopped":
            run.update(touch=False, interrupted=True)


def _tokenizing_notes(out: _Outbox, every_s: float = 0.5):
    """A big text is tokenized once into the cache before the first step: say how far, twice a second."""
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s or done >= total:
            last[0] = now
            out.put(events.Note(0, f"Tokenizing the text once (kept for later runs): {done / max(1, total):.0%}"),
                    flush=True)

    return progress


def _spawn(settings: ChildSettings, task, pause, stop) -> child_process.ChildProcess:
    """The one way a training child starts (TrainingJob and Measure)."""
    name = "playground-measure" if isinstance(task, MeasureTask) else "playground-training"
    return child_process.ChildProcess(_child_main, settings, task, pause, stop, os.getpid(), name=name)


def _raise_failure(failure: ChildFailed) -> None:
    """An exception from the child, raised again here (a PlaygroundError keeps class and hint)."""
    from playground.errors import PlaygroundError

    if isinstance(failure.cls, type) and issubclass(failure.cls, PlaygroundError):
        raise failure.cls(failure.message, failure.hint)
    raise RuntimeError(f"{getattr(failure.cls, '__name__', failure.cls)}: {failure.message}\n"
                       f"(in the training process)\n{failure.details}")


def measure_in_child(model_cfg: Any, batch_size: int, steps: int, min_seconds: float = 0.0, *,
                     progress=None, cancel=None) -> dict:
    """The Model tab's Measure: time at least ``steps`` training steps (more until they took
    ``min_seconds``) in a training child, spawned the way TrainingJob spawns it and with the same
    :func:`child_settings`. Blocks (a worker calls it); ``cancel`` (an Event) ends the child and
    raises Cancelled."""
    from playground.errors import Cancelled, PlaygroundError

    ctx = child_process.SPAWN
    pause, stop = ctx.Event(), ctx.Event()
    task = MeasureTask(model_cfg, batch_size, steps, min_seconds)
    child = _spawn(child_settings(model_cfg, batch_size, others_busy()), task, pause, stop)

    def keep_going() -> bool:
        if cancel is not None and cancel.is_set():
            raise Cancelled("Measuring was cancelled.")
        return True

    try:
        for batch in child.messages(keep_going, POLL_S):
            for event in batch:
                match event:
                    case Measuring(done=done, total=total):
                        if progress is not None:
                            progress(done, total)
                    case Measured(result=result):
                        return result
                    case ChildFailed():
                        _raise_failure(event)
    finally:
        child.close()  # no grace: the answer is in (or unwanted)
    raise PlaygroundError(f"The measuring process ended without an answer (exit code {child.exitcode}).",
                          "The computer may be out of memory: try a smaller model or batch.")


# ----------------------------------------------------------------------------- the parent


class TrainingJob:
    """The GUI side of one training: owns the child process and the QThread worker driving it.

    ``on_events(list)`` receives the child's events (core events plus Started/Paused/Resumed) in
    the GUI thread, ≤ ~30 batches a second; ``on_done(finished_or_None)`` / ``on_error(exc)``
    once the worker thread and the child have both ended.
    """

    def __init__(self, run_path, corpus=None, *, resume: bool = False, restart: bool = False, parent=None,
                 on_events=None, on_done=None, on_error=None) -> None:
        from playground.core import checkpoint
        from playground.gui import workers

        ctx = child_process.SPAWN
        self.run_path = str(run_path)
        self.task = TrainTask(self.run_path, corpus, resume, restart)
        run = checkpoint.Run(run_path)
        self._shape = (run.model_config, run.train_config.batch_size)
        self.settings: ChildSettings | None = None  # chosen by the worker, as the child starts
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

        self.settings = child_settings(*self._shape, others_busy())
        child = _spawn(self.settings, self.task, self.pause_event, self.stop_event)
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
            _raise_failure(failure)
        if self.finished is None:
            raise PlaygroundError(
                f"The training process ended unexpectedly (exit code {self.exitcode}).",
                "The computer may be out of memory: try a smaller model or batch. The last "
                "checkpoint is kept; resume the run from the runs list.")
        return self.finished
