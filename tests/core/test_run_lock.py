"""One run, one writer: the training lock refuses a second trainer and never goes stale."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from playground.core import run_lock

HOLDER = textwrap.dedent("""
    import sys
    from playground.core import run_lock
    lock = run_lock.acquire(sys.argv[1])
    print("held", flush=True)
    sys.stdin.readline()  # hold until the test says so (or kills us)
    lock.release()
    print("released", flush=True)
""")


@pytest.fixture
def holder(tmp_path):
    """A second process holding tmp_path's lock."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_lock_is_reentrant_and_removed_on_release(tmp_path):
    outer = run_lock.acquire(tmp_path)
    inner = run_lock.acquire(tmp_path)  # the trainer after the CLI: same process, same lock
    assert inner is outer
    owner = run_lock.owner_of(tmp_path)
    assert owner["pid"] == os.getpid()
    inner.release()
    assert (tmp_path / run_lock.LOCK_NAME).exists()  # the outer holder still has it
    outer.release()
    assert not (tmp_path / run_lock.LOCK_NAME).exists()
    assert run_lock.owner_of(tmp_path) is None


def test_second_process_is_refused_with_the_owner_pid(tmp_path, holder):
    with pytest.raises(run_lock.RunBusy) as info:
        run_lock.acquire(tmp_path, name="my-run")
    assert f"pid {holder.pid}" in info.value.message and "'my-run'" in info.value.message
    assert info.value.hint
    assert run_lock.owner_of(tmp_path)["pid"] == holder.pid
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    with run_lock.acquire(tmp_path):
        assert run_lock.owner_of(tmp_path)["pid"] == os.getpid()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_killed_owner_leaves_no_stale_lock(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / run_lock.LOCK_NAME).exists()  # the file stays behind...
    assert run_lock.owner_of(tmp_path) is None  # ...but nobody holds it
    with run_lock.acquire(tmp_path) as lock:
        assert lock.held
