"""The interceptor as a new user meets it: build, `eval "$(styxy interceptor env)"`, a server
hard-coded to a busy port, and `styxy list` showing the move."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
import urllib.request

import pytest
from netutil import busy, listen

MOVED = re.compile(r"^styxy: port (\d+) in use; bound (\d+) instead \(service (\S+)\)$")


@pytest.fixture
def preload_env(styxy):
    # `env` builds the library when it is missing and says so on stderr.
    done = styxy("interceptor", "env")
    assert done.code == 0
    assert done.err.startswith("styxy: built the interceptor at ")
    assert styxy("interceptor", "env").err == ""
    exports = {}
    for line in done.out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = shlex.split(value)[0]
    assert sorted(exports) == ["LD_PRELOAD", "STYXY_CACHE"]
    assert exports["LD_PRELOAD"].startswith("/") and exports["STYXY_CACHE"] == str(styxy.sidecar / "cache.bin")
    assert styxy("interceptor", "path").out.strip() == exports["LD_PRELOAD"]
    return exports


def _get(port: int) -> int:
    """GET / on the moved port; the move is announced at bind(), a moment before listen()."""
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                return answer.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _wait_for_move(proc: subprocess.Popen[str]) -> re.Match[str]:
    line = proc.stderr.readline().rstrip("\n")
    match = MOVED.match(line)
    assert match, line
    return match


def test_a_server_on_a_busy_port_moves_into_its_range_and_is_leased(styxy, preload_env):
    holder = None if busy(8000) else listen(8000, "0.0.0.0")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "8000", "--bind", "127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**styxy.env, **preload_env},
        cwd=styxy.doc.parent,
    )
    try:
        requested, bound, service = _wait_for_move(server).groups()
        assert (requested, service) == ("8000", "api")
        port = int(bound)
        assert 8000 < port <= 8099
        assert _get(port) == 200
        leases = styxy("list", "--json").json()["leases"]
        assert [(x["port"], x["serviceType"], x["pid"], x["source"], x["name"]) for x in leases] == [
            (port, "api", server.pid, "interceptor", "bind-8000")
        ]
        # The next program asking styxy for an api port does not get the moved one.
        assert int(styxy("allocate", "-s", "api", "-i", "next").out) != port
    finally:
        server.terminate()
        server.communicate(timeout=30)
        if holder:
            holder.close()


def test_a_free_port_is_never_touched(styxy, preload_env):
    from netutil import first_free

    port = first_free(range(8050, 8100))
    code = f"import socket; s = socket.socket(); s.bind(('127.0.0.1', {port})); print(s.getsockname()[1])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**styxy.env, **preload_env}, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{port}\n", "")


def test_run_intercept_moves_a_hard_coded_port_of_the_child(styxy):
    holder = listen(3000) if not busy(3000) else None
    code = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 3000)); print(s.getsockname()[1])"
    try:
        done = styxy("run", "-s", "dev", "-i", "x", "--intercept", "--", sys.executable, "-c", code)
    finally:
        if holder:
            holder.close()
    assert done.code == 0
    assert done.err.startswith("styxy: built the interceptor at ")
    moved = MOVED.match(done.err.strip().splitlines()[-1])
    assert moved and moved.group(1) == "3000" and moved.group(3) == "dev"
    assert done.out == f"{moved.group(2)}\n"


def test_a_corrupt_cache_only_ever_means_plain_bind(styxy, preload_env):
    cache_file = styxy.sidecar / "cache.bin"
    cache_file.write_bytes(b"STYXYCCH" + b"\x00" * 40)
    holder = None if busy(8000) else listen(8000, "0.0.0.0")
    code = "import socket; s = socket.socket()\ntry:\n    s.bind(('127.0.0.1', 8000))\nexcept OSError as e:\n    print(e.errno)"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**styxy.env, **preload_env}, timeout=30)
    finally:
        if holder:
            holder.close()
    assert (done.returncode, done.stdout, done.stderr) == (0, "98\n", "")


def test_run_intercept_without_a_compiler_says_so_and_leases_nothing(styxy):
    before = styxy.snapshot()
    done = styxy("run", "-s", "dev", "--intercept", "--", sys.executable, "-c", "pass",
                 env={"CC": "no-such-compiler-xyz"})
    assert (done.code, done.out) == (1, "")
    assert done.err == "styxy: The C compiler named by $CC (no-such-compiler-xyz) was not found.\n"
    assert styxy.snapshot() == before
