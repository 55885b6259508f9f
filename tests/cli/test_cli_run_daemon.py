"""`styxy run` whose command leaves a server listening on the leased port (SPEC 10).

`styxy run -- sh -c 'server & exit 0'`: the lease stays, now held by the server (pid and start
time), styxy says so on stderr, and exits with the command's code.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

WAIT_UNTIL_SERVING = (
    'until python3 -c "import socket, sys; socket.create_connection((\'127.0.0.1\', '
    'int(sys.argv[1])), 1)" "$PORT" 2>/dev/null; do sleep 0.1; done; '
)


@pytest.fixture
def server_pid(tmp_path: Path):
    """The pid the shell wrote for its background server; the server is killed at the end."""
    pidfile = tmp_path / "server.pid"
    yield pidfile
    if pidfile.exists():
        try:
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def _serve(pidfile: Path, then: str) -> str:
    return (
        'python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1 & '
        f'echo $! > {pidfile}; {then}'
    )


def _check_kept(styxy, done, pidfile: Path, code: int) -> None:
    server = int(pidfile.read_text())
    leases = styxy("list", "--json").json()["leases"]
    assert len(leases) == 1
    lease = leases[0]
    name = psutil.Process(server).name()
    assert done.code == code
    assert done.out == ""
    assert done.err == (
        f"styxy: running sh on port {lease['port']} (dev)\n"
        f"styxy: the command exited, but process {server} ({name}) still listens on port "
        f"{lease['port']}: the lease stays, held by it; `styxy release {lease['lockId']}` ends it.\n"
    )
    assert (lease["pid"], lease["alive"], lease["source"]) == (server, True, "run")
    with urllib.request.urlopen(f"http://127.0.0.1:{lease['port']}/", timeout=30) as answer:
        assert answer.status == 200


def test_a_server_left_listening_keeps_the_lease_and_the_code_is_the_commands(styxy, server_pid):
    script = _serve(server_pid, WAIT_UNTIL_SERVING + "exit 3")
    done = styxy("run", "-s", "dev", "-i", "d", "--", "sh", "-c", script, timeout=120)
    _check_kept(styxy, done, server_pid, 3)
    # The lease names the server's start time: a later process with its pid would not hold it.
    body = json.loads((styxy.sidecar / "leases.json").read_text())
    (row,) = [dict(zip(body["fields"], row)) for row in body["leases"]]
    started = psutil.Process(int(server_pid.read_text())).create_time()
    assert abs(row["pidStartTime"] - started) < 0.01


def test_server_and_exit_zero_waits_for_the_server_to_listen(styxy, server_pid):
    done = styxy("run", "-s", "dev", "-i", "d", "--", "sh", "-c", _serve(server_pid, "exit 0"),
                 timeout=120)
    _check_kept(styxy, done, server_pid, 0)


def test_a_leftover_that_does_not_listen_does_not_keep_the_lease(styxy, tmp_path):
    pidfile = tmp_path / "sleeper.pid"
    script = f"sleep 60 >/dev/null 2>&1 & echo $! > {pidfile}; exit 0"
    begun = time.monotonic()
    try:
        done = styxy("run", "-s", "dev", "-i", "d", "--", "sh", "-c", script, timeout=120)
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    assert (done.code, done.out) == (0, "")
    assert done.err.startswith("styxy: running sh on port ") and done.err.count("\n") == 1
    assert styxy("list", "--json").json()["leases"] == []
    assert time.monotonic() - begun >= 5  # it gave the leftover the time to start a server
