"""Atomic writes, and the temporary files of writers that were killed before they could clean up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from playground.core import atomic


def _gone_pid() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _temp(folder, target: str, pid: int | None, age_s: float = 0, tag: str = "abcd1234"):
    name = f".{target}.{pid}.{tag}.tmp" if pid is not None else f".{target}.{tag}.tmp"
    path = folder / name
    path.write_bytes(b"half a file")
    when = time.time() - age_s
    os.utime(path, (when, when))
    return path


def test_a_temp_name_carries_the_writers_pid(tmp_path):
    with atomic.atomic_path(tmp_path / "latest.pt") as tmp:
        assert tmp.name.startswith(f".latest.pt.{os.getpid()}.") and tmp.name.endswith(".tmp")
        assert atomic.remove_stale_temps(tmp_path) == []  # a write in progress here is not stale
        tmp.write_bytes(b"done")
    assert (tmp_path / "latest.pt").read_bytes() == b"done"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.pt"]


def test_only_temps_of_writers_that_are_gone_are_removed(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _temp(tmp_path, "run.json", _gone_pid(), tag="dead0001")
        alive = _temp(tmp_path, "run.json", os.getppid(), tag="live0001")  # pytest's parent: still running
        stuck = _temp(tmp_path, "run.json", os.getppid(), age_s=2 * 3600, tag="old00001")  # untouched for 2 h
        reused = _temp(tmp_path, "run.json", sleeper.pid, age_s=600, tag="reus0001")  # pid of a newer process
        legacy_new = _temp(tmp_path, "run.json", None, tag="legacy01")  # no pid: only age tells
        legacy_old = _temp(tmp_path, "run.json", None, age_s=2 * 3600, tag="legacy02")
        other_target = _temp(tmp_path, "latest.pt", _gone_pid(), tag="dead0002")
        mine = tmp_path / "notes.tmp"
        mine.write_text("not ours")
        removed = atomic.remove_stale_temps(tmp_path, "run.json")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(p.name for p in removed) == sorted(p.name for p in (dead, stuck, reused, legacy_old))
    assert all(p.exists() for p in (alive, legacy_new, other_target, mine))
    assert atomic.remove_stale_temps(tmp_path) == [other_target]  # without a target: every target


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX")
def test_a_folder_that_is_gone_or_odd_entries_do_not_fail(tmp_path):
    assert atomic.remove_stale_temps(tmp_path / "missing") == []
    (tmp_path / f".x.{_gone_pid()}.dir00001.tmp").mkdir()  # not a file: left alone
    assert atomic.remove_stale_temps(tmp_path) == []
