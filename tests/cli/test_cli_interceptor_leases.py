"""The interceptor's leases (issue 13, point 8), built from the reproduction.

Short-lived programs moved from a busy port must not walk the range or leave leases behind;
a process that re-binds a busy port from several threads writes a bounded number of lines.
"""

from __future__ import annotations

import os
import random
import re
import shlex
import subprocess
import sys
import time

import pytest
from netutil import busy, first_free, listen

from styxy.store import cache

MOVED = re.compile(r"^styxy: port (\d+) in use; bound (\d+) instead \(service dev\)$")
BIND_ONCE = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen()\n"
    "print(s.getsockname()[1], flush=True)\n"
)
# Four threads bind the busy port again and again for a few seconds, keeping every socket, as a
# server with a retry loop and a leak does: each bind wants a port of its own.
REBIND = """
import socket, sys, threading, time
port, stop = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
kept, lock = [], threading.Lock()
def work():
    while time.monotonic() < stop:
        s = socket.socket()
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            s.close()
            continue
        with lock:
            kept.append(s)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(len(kept))
"""


def _private_dev_range(styxy) -> tuple[int, int]:
    """Move the document's dev row to a block of 100 ports nothing listens on (20000-29999):
    the default 3000-3099 is shared with every other program on the machine."""
    for base in random.Random().sample(range(20000, 30000, 100), 100):
        if all(not busy(port) for port in range(base, base + 100)):
            text = styxy.doc.read_text()
            row = next(x for x in text.splitlines() if x.startswith("| dev |"))
            new = f"| dev | {base} | {base + 99} | multi |  | Development servers |"
            styxy.doc.write_text(text.replace(row, new))
            return base, base + 99
    raise AssertionError("no free block of 100 ports between 20000 and 29999")


@pytest.fixture
def dev(styxy) -> tuple[int, int]:
    return _private_dev_range(styxy)


@pytest.fixture
def preload(styxy, dev):
    done = styxy("interceptor", "env")
    assert done.code == 0, done.err
    exports = {}
    for line in done.out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = shlex.split(value)[0]
    return {**styxy.env, **exports}


def _interceptor_leases(styxy) -> list[dict]:
    return [x for x in styxy("list", "--json").json()["leases"] if x["source"] == "interceptor"]


def test_ten_short_lived_programs_in_a_row_share_one_port_and_leave_no_lease(styxy, preload, dev):
    taken = first_free(range(dev[1] - 10, dev[1] + 1))
    bound = []
    with listen(taken, "0.0.0.0"):
        for _ in range(10):
            done = subprocess.run([sys.executable, "-c", BIND_ONCE, str(taken)], env=preload,
                                  capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 0, done.stderr
            bound.append(int(done.stdout))
            assert [MOVED.match(x).groups() for x in done.stderr.splitlines()] == [
                (str(taken), done.stdout.strip())
            ]
            # A writing command between them folds the journal: the exited mover is no lease,
            # so the cache the next program reads leases nothing in the range.
            assert styxy("cleanup").code == 0
            assert _interceptor_leases(styxy) == []
            assert cache.read(styxy.sidecar / "cache.bin").leases == ()
    assert len(set(bound)) == 1 and bound[0] != taken, bound


def test_ten_moves_folded_at_once_give_at_most_one_lease_per_port(styxy, preload, dev):
    taken = first_free(range(dev[1] - 10, dev[1] + 1))
    holders = []
    try:
        with listen(taken, "0.0.0.0"):
            # Each program stays alive (it waits on stdin), so its move is a lease to protect.
            for _ in range(10):
                proc = subprocess.Popen(
                    [sys.executable, "-c", BIND_ONCE + "s.close()\nsys.stdin.read()\n", str(taken)],
                    env=preload, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True,
                )
                holders.append((proc, int(proc.stdout.readline())))
        ports = {port for _, port in holders}
        journal = cache.read_journal(styxy.sidecar / "journal")
        assert len(journal) == 10
        leases = _interceptor_leases(styxy)
        # One port for all ten (each closed its socket), so one lease: the first mover's.
        assert [(x["port"], x["pid"]) for x in leases] == [(holders[0][1], holders[0][0].pid)]
        assert len(ports) == 1
    finally:
        for proc, _ in holders:
            proc.kill()
            proc.wait()
    # Every holder gone and the port silent: the lease ends at the next command, grace or not.
    assert _interceptor_leases(styxy) == []


def test_two_live_processes_journaled_on_one_port_make_one_lease(styxy):
    styxy("cleanup")  # a writer: makes the sidecar
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        now = time.time()
        lines = [f"1 3077 {pid} 3000 dev {now:.0f}\n" for pid in (os.getpid(), other.pid)]
        (styxy.sidecar / "journal").write_text("".join(lines))
        leases = _interceptor_leases(styxy)
        assert [(x["port"], x["pid"]) for x in leases] == [(3077, os.getpid())]
    finally:
        other.kill()
        other.wait()


def test_a_journaled_pid_reused_by_a_later_process_is_not_a_lease(styxy):
    styxy("cleanup")  # a writer: makes the sidecar
    # The line dates the move long before this process started: the pid was reused, the
    # process that moved is gone.
    line = f"1 3078 {os.getpid()} 3000 dev {time.time() - 10 ** 6:.0f}\n"
    (styxy.sidecar / "journal").write_text(line)
    assert _interceptor_leases(styxy) == []


def test_four_threads_rebinding_a_busy_port_write_bounded_lines(styxy, preload, dev):
    taken = first_free(range(dev[1] - 10, dev[1] + 1))
    with listen(taken, "0.0.0.0"):
        done = subprocess.run([sys.executable, "-c", REBIND, str(taken), "3"], env=preload,
                              capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    moved = [line for line in lines if MOVED.match(line)]
    kept = [line for line in lines if not MOVED.match(line)]
    assert int(done.stdout) >= len(moved) >= 1
    # Each new port said once, at most 32 lines; "not moved" once for the requested port.
    assert len(moved) <= 32 and len(set(moved)) == len(moved)
    assert len(kept) <= 1, kept
    assert all(line.startswith(f"styxy: port {taken} in use; not moved: ") for line in kept)
    journal = cache.read_journal(styxy.sidecar / "journal")
    assert 1 <= len(journal) <= 64
    # The process is gone: its moves are no leases, and the range is free for allocate.
    allocated = styxy("allocate", "-s", "dev", "--json")
    assert allocated.code == 0, allocated.err
    assert _interceptor_leases(styxy) == []


def test_a_moves_lease_ends_when_its_process_exits_grace_or_not(styxy):
    styxy("cleanup")  # a writer: makes the sidecar
    mover = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (styxy.sidecar / "journal").write_text(f"1 3079 {mover.pid} 3000 dev {time.time():.0f}\n")
        assert styxy("cleanup").code == 0  # a writer folds the move into the lease file
        assert [(x["port"], x["pid"]) for x in _interceptor_leases(styxy)] == [(3079, mover.pid)]
    finally:
        mover.kill()
        mover.wait()
    # Seconds old, far inside the 300 s grace period: a dead move is still no lease to keep.
    dry = styxy("cleanup", "--dry-run", "--json").json()["reaped"]
    assert [(x["port"], x["pid"], x["source"]) for x in dry] == [(3079, mover.pid, "interceptor")]
    gone = styxy("cleanup", "--json").json()["reaped"]
    assert [x["port"] for x in gone] == [3079]
    assert styxy("list", "--json").json()["leases"] == []
