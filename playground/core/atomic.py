"""Write files so that a crash or a full disk never leaves a half-written file behind.

Each writer writes to a temporary name in the same folder, flushes it to disk, then
``os.replace``s it over the target (atomic on POSIX and Windows).

A process killed mid-write (SIGKILL, power loss) cannot delete its temporary file, so the
temporary name carries the writer's pid: :func:`remove_stale_temps` later deletes the ones
whose writer is gone, and the ones untouched for an hour (a pid the system reused).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STALE_AFTER_S = 3600  # no writer leaves a temporary file untouched this long while it is alive
# ".<target name>.<pid>.<mkstemp's random part>.tmp"; files of older versions have no pid.
_TEMP_RE = re.compile(r"^\.(?P<target>.+?)(?:\.(?P<pid>\d+))?\.[A-Za-z0-9_]+\.tmp$")


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:  # make the bytes durable before the rename
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _writer_alive(pid: int, modified: float) -> bool:
    """Whether process ``pid`` may still be writing a file last modified at ``modified``."""
    import psutil

    try:
        started = psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.Error:  # e.g. access denied: it exists, so assume it is the writer
        return True
    return started <= modified + 1  # a process started after the last write reuses the pid


def remove_stale_temps(folder: str | os.PathLike, target_name: str | None = None) -> list[Path]:
    """Delete temporary files of :func:`atomic_path` in ``folder`` left by writers that died.

    Only names this module makes are touched (and, with ``target_name``, only those of that
    target). A file is stale when its writer's pid no longer runs (or now belongs to a process
    started after the file's last write), or when it has not changed for ``STALE_AFTER_S``.
    Returns the files deleted; a file that vanishes or cannot be deleted meanwhile is skipped.
    """
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if not m or (target_name is not None and m.group("target") != target_name):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            modified = entry.stat(follow_symlinks=False).st_mtime
            pid = int(m.group("pid")) if m.group("pid") else None  # None: an older version's name
            live = pid is None or pid == os.getpid() or _writer_alive(pid, modified)
            if live and now - modified < STALE_AFTER_S:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text(target: str | os.PathLike, text: str) -> None:
    write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike, obj: Any) -> None:
    write_text(target, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def torch_save(obj: Any, target: str | os.PathLike) -> None:
    import torch

    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
