"""One run, one writer: a lock file in the run folder while a process trains it.

Two trainings of the same run at once (two ``train --resume``, or the CLI and the app) would
interleave their metrics and mix checkpoints from two trajectories. The training process
takes ``train.lock`` before anything slow happens (before torch imports, before the corpus
loads), and a second one is refused with a clear message.

The lock is an operating-system file lock (``flock`` on Linux and macOS, ``msvcrt.locking``
on Windows) on that file, so a process that dies (killed, crashed, the machine rebooted)
releases it by itself: a stale lock cannot block a run. The file holds the owner's pid and
host, read only to name the owner in the message.

    with run_lock.acquire(run_path):
        ...train...

Only the standard library and psutil: taking the lock must not wait for torch to import.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import psutil

from playground.errors import CheckpointError

LOCK_NAME = "train.lock"

_held: dict[str, RunLock] = {}  # locks this process holds, by lock-file path (re-entrant use)
_held_guard = threading.Lock()


class RunBusy(CheckpointError):
    """Another process is training this run."""


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def owner_of(run_path: str | os.PathLike) -> dict | None:
    """Who is training this run ({"pid", "host", "since"}), or None when nobody is."""
    path = Path(run_path) / LOCK_NAME
    if str(path) in _held:
        return _read(path)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            return None  # we could take it: nobody holds it (closing releases it again)
        return _read(path) or {"pid": None, "host": None}
    finally:
        os.close(fd)


class RunLock:
    """A held lock. ``release()`` (or leaving the ``with``) frees it; nested holders share it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self._depth = 1

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        with _held_guard:
            self._depth -= 1
            if self._depth > 0 or self._fd is None:
                return
            _held.pop(str(self.path), None)
            try:
                self.path.unlink()  # while still locked: a waiter then finds the inode gone and retries
            except OSError:
                pass
            os.close(self._fd)  # closing releases the OS lock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def acquire(run_path: str | os.PathLike, name: str | None = None) -> RunLock:
    """Take the run's lock, or raise RunBusy naming the process that holds it.

    Re-entrant within a process: the trainer takes it again after the CLI took it first.
    """
    path = Path(run_path) / LOCK_NAME
    label = name or Path(run_path).name
    with _held_guard:
        mine = _held.get(str(path))
        if mine is not None and mine.held:
            mine._depth += 1
            return mine
        for _attempt in range(5):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    raise CheckpointError(f"The run folder {Path(run_path)} is read-only, so '{label}' cannot "
                                          "be trained there.",
                                          "Choose a runs folder you can write to (set PLAYGROUND_HOME).") from exc
                raise
            if not _try_lock(fd):
                os.close(fd)
                owner = _read(path) or {}
                where = "" if owner.get("host") in (None, socket.gethostname()) else f" on {owner.get('host')}"
                pid = f" (pid {owner['pid']}{where})" if owner.get("pid") else ""
                raise RunBusy(f"Run '{label}' is already training in another process{pid}.",
                              "Wait for it to finish, or stop it there: two trainings of one run would mix "
                              "their checkpoints.")
            # The holder before us may have unlinked the file between our open and our lock:
            # then we locked an orphan inode. Only a lock on the file the path names counts.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                     "started": psutil.Process().create_time()}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(owner).encode())
            lock = _held[str(path)] = RunLock(path, fd)
            return lock
    raise RunBusy(f"Could not take the lock of run '{label}'.", f"If no other training is running, delete {path}.")
