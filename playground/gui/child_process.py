"""Spawn a child process, read what it sends, and make sure it ends: shared by child_jobs.py
(tokenizer training, step timing) and training_process.py (training).

No Qt and no torch here: the child imports this module too.

- ``spawn``, never ``fork``: the parent has Qt and threads, which a forked child would inherit
  half-locked.
- One pipe from the child (``conn``, the target's first argument): the parent reads it until
  the child closes it or exits, so whatever the child sent just before exiting is still read.
- A lifeline (the target's second argument): the read end of a pipe whose only write end
  stays in the parent. When the parent dies, even by ``kill -9``, the OS closes that end and
  :func:`watch_parent`, started by the child, sees EOF: no orphan keeps computing.
- :meth:`ChildProcess.close` waits a grace period, then terminates, then kills.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from typing import Any

import psutil

SPAWN = multiprocessing.get_context("spawn")
POLL_S = 0.05


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live process (a zombie counts as gone)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # someone else's process, but it exists
        return True


def watch_parent(lifeline, parent_pid: int, on_gone: Callable[[], None], done=None) -> None:
    """Child side, in a daemon thread: call ``on_gone()`` once the parent process is gone.

    Gone means the lifeline reads EOF (the parent's end was closed by the OS) or this process
    was re-parented. ``done`` (an Event) ends the watch early without calling ``on_gone``.
    """
    while done is None or not done.is_set():
        try:
            if lifeline.poll(0.5):
                lifeline.recv()  # the parent never sends: readable means EOF
        except (EOFError, OSError):
            on_gone()
            return
        if os.getppid() != parent_pid:
            on_gone()
            return


class ChildProcess:
    """``target(conn, lifeline, *args)`` running in a fresh spawned process (started at once)."""

    def __init__(self, target: Callable, *args: Any, name: str) -> None:
        self.receive, send = SPAWN.Pipe(duplex=False)
        lifeline, self._lifeline = SPAWN.Pipe(duplex=False)  # we never write to ours
        self.process = SPAWN.Process(target=target, args=(send, lifeline, *args), daemon=True, name=name)
        self.process.start()
        self.pid: int = self.process.pid
        self.exitcode: int | None = None
        # Our copies of the child's ends: closing them makes `receive` read EOF once the child
        # is gone, and leaves the parent's end of the lifeline the only one.
        send.close()
        lifeline.close()

    def messages(self, keep_going: Callable[[], bool] = lambda: True,
                 poll_s: float = POLL_S) -> Iterator[Any]:
        """Each object the child sends, in order, until it closes the pipe or has exited.

        ``keep_going()`` runs before every poll (about every ``poll_s``); returning False ends
        the iteration early, and it may raise (a cancelled job).
        """
        while keep_going():
            if self.receive.poll(poll_s):
                try:
                    yield self.receive.recv()
                except (EOFError, OSError):
                    return
            elif not self.process.is_alive():
                while self.receive.poll():  # what it sent just before exiting
                    try:
                        yield self.receive.recv()
                    except (EOFError, OSError):
                        return
                return

    def close(self, grace_s: float = 0.0) -> None:
        """Wait up to ``grace_s`` for the child to exit by itself, then terminate, then kill."""
        proc = self.process
        proc.join(grace_s)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
        self.exitcode = proc.exitcode
        self.receive.close()
        self._lifeline.close()
