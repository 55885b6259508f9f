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


def test_the_timeout_names_the_holder(tmp_path):
    lock = tmp_path / "lock"
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from styxy.store import lockfile\n"
        "with lockfile.hold(Path(sys.argv[1]), timeout=5, on_wait=print):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(30)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        heard: list[str] = []
        with pytest.raises(LockTimeoutError) as caught:
            with lockfile.hold(lock, timeout=1.5, on_wait=heard.append):
                pass
        named = f"process {holder.pid} ({sys.executable} {lock})"
        assert str(caught.value).startswith(named)
        assert str(caught.value).endswith(f"has held {lock} for over 2 seconds; try again.")
        assert len(heard) == 1 and heard[0].startswith(f"waiting for the lock {lock}: {named}")
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone (killed, its text left behind) the lock is free and unnamed.
    assert lockfile.holder_of(lock) == "another process"
    with lockfile.hold(lock, timeout=1, on_wait=print):
        assert lock.read_bytes().startswith(f"{os.getpid()}\n".encode())
    assert Path(lock).read_bytes() == b""
