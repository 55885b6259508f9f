"""A writer kept waiting on the lock says once who holds it (SPEC section 10, issue 8)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import styxy_command
from terminal import Terminal

from styxy.errors import LockTimeoutError
from styxy.store import lockfile


def _wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_waiting_writer_names_the_styxy_command_that_holds_the_lock(styxy):
    assert styxy("config", "set", "auto-allocation.require-confirmation", "true").code == 0
    # A real styxy command holds the lock while it asks its question on a terminal.
    holder = Terminal(styxy, "allocate", "-s", "newservice")
    holder.wait_for_prompt(1)
    waiting = subprocess.Popen(
        [*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", "dev", "-i", "second"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=styxy.env, stdin=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    # The holder keeps the lock until the waiter, a second into its wait, has said who holds it.
    assert waiting.stderr is not None
    said = waiting.stderr.readline()
    assert waiting.poll() is None  # still waiting: the lock is held
    holder.answer("y")
    code, screen = holder.finish()
    assert code == 0, screen
    out, rest = waiting.communicate(timeout=120)
    assert (waiting.returncode, out, rest) == (0, "3000\n", "")
    command = f"styxy --doc {styxy.doc} allocate -s newservice"
    lock = styxy.sidecar / "lock"
    assert said == f"styxy: waiting for the lock {lock}: process {holder.pid} ({command}) holds it.\n"
    # The holder empties the file when it lets go, so a stale name is never shown.
    assert lock.read_bytes() == b""


def test_a_quick_holder_is_not_mentioned(styxy):
    assert styxy("allocate", "-s", "dev").err == ""


def test_a_lock_held_by_another_tool_is_waited_for_without_a_name(styxy, tmp_path):
    assert styxy("allocate", "-s", "dev", "-i", "first").code == 0  # the lock file exists
    lock = styxy.sidecar / "lock"
    assert lock.read_bytes() == b""
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    # flock(1) locks the file without writing anything into it, as an older styxy did.
    holder = subprocess.Popen(
        ["flock", str(lock), "sh", "-c", f"touch {ready}; while [ ! -e {stop} ]; do sleep 0.05; done"]
    )
    try:
        _wait_for(ready.exists, "flock never took the lock")
        waiting = subprocess.Popen(
            [*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", "dev", "-i", "second"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=styxy.env,
            stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert waiting.stderr is not None
        said = waiting.stderr.readline()
    finally:
        stop.touch()
    assert holder.wait(timeout=60) == 0
    out, rest = waiting.communicate(timeout=120)
    assert (waiting.returncode, out.strip().isdigit(), rest) == (0, True, "")
    assert said == f"styxy: waiting for the lock {lock}: another process holds it.\n"


_HOLDER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from styxy.store import lockfile, sidecar\n"
    "folder = sidecar.open_sidecar(Path(sys.argv[1]), create=True)\n"
    "with lockfile.hold(folder, timeout=600, on_wait=lambda _: None):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def _holder(folder: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_the_timeout_names_the_holder_and_the_time_it_has_held_the_lock(tmp_path):
    from styxy.store import sidecar

    folder_path = tmp_path / ".styxy"
    holder = _holder(folder_path, 30)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        time.sleep(1)  # held for a second before the waiter comes: that second counts
        heard: list[str] = []
        started = time.monotonic()
        with sidecar.open_sidecar(folder_path, create=False) as folder:
            with pytest.raises(LockTimeoutError) as caught:
                with lockfile.hold(folder, timeout=2.5, on_wait=heard.append):
                    pass
        waited = time.monotonic() - started
        lock = folder_path / "lock"
        named = f"process {holder.pid} ({sys.executable} {folder_path} 30)"
        message = str(caught.value)
        assert message.startswith(f"{named} has held the lock {lock} for ")
        held = float(message.split(" for ")[1].split(" seconds")[0])
        # Measured from the holder's own stamp: the second before the waiter came is in it.
        assert 2.5 <= held < 3.5 and waited < held, (held, waited)
        assert message.endswith(
            " seconds, longer than the limit of 2.5; nothing was changed: try again once it "
            "has finished."
        )
        assert len(heard) == 0 or heard[0] == f"waiting for the lock {lock}: {named} holds it."
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (killed, its text left behind) the lock is free and unnamed.
    with sidecar.open_sidecar(folder_path, create=False) as folder:
        assert lockfile.holder_of(folder) == "another process"
        with lockfile.hold(folder, timeout=1, on_wait=print):
            assert lock.read_bytes().startswith(f"{os.getpid()} ".encode())
    assert Path(lock).read_bytes() == b""


def test_a_queue_of_quick_holders_is_waited_out_however_long_it_is(tmp_path):
    """Eight holders in turn keep the lock 0.6 s each, 4.8 s in all; a waiter whose limit is
    1.5 s waits them all out: the limit is on one holder, and each one is quick."""
    from styxy.store import sidecar

    folder_path = tmp_path / ".styxy"
    first = _holder(folder_path, 0.6)
    assert first.stdout is not None and first.stdout.readline() == "held\n"
    # The rest queue behind the first, each taking the lock as the one before lets it go.
    rest = [_holder(folder_path, 0.6) for _ in range(7)]
    time.sleep(0.3)  # they are all waiting before ours starts
    started = time.monotonic()
    heard: list[str] = []
    try:
        with sidecar.open_sidecar(folder_path, create=False) as folder:
            with lockfile.hold(folder, timeout=1.5, on_wait=heard.append):
                waited = time.monotonic() - started
    finally:
        for proc in [first, *rest]:
            proc.wait(timeout=60)
    # Ours got the lock once the queue ahead of it drained, or sooner if it slipped ahead:
    # either way it never gave up.
    assert [proc.returncode for proc in [first, *rest]] == [0] * 8
    assert waited < 60
