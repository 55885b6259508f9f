"""Real servers that never asked styxy for a port: python -m http.server and a Node server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import Built, Ports, child_env, first_free, hold, moved_line

from styxy.store import cache


def wait_for_line(
    proc: subprocess.Popen[bytes], pattern: str, timeout: float = 20
) -> re.Match[str]:
    """Read the child's stdout until a line matches; fail with everything it said otherwise."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    proc.kill()
    raise AssertionError(f"no line matching {pattern!r}; stdout was {seen!r}")


def fetch(port: int, host: str = "127.0.0.1") -> int:
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=10) as response:
        return int(response.status)


def stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode()


def test_http_server_moves_into_the_api_range(
    built: Built, ports: Ports, cache_file: Path, tmp_path: Path
) -> None:
    """Port outside every range: the `*http.server*` detect glob makes it an api server."""
    requested = ports.outside[3]
    (tmp_path / "index.html").write_text("hello")
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.api)
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "http.server", str(requested), "--bind", "127.0.0.1"],
            env=child_env(built.library, cache_file),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            # http.server prints what getsockname() says, so the banner has the real port.
            match = wait_for_line(proc, r"Serving HTTP on 127\.0\.0\.1 port (\d+)")
            assert int(match.group(1)) == expected
            assert fetch(expected) == 200
        finally:
            err = stop(proc)
    assert err.splitlines()[0] == moved_line(requested, expected, "api")
    entries = cache.read_journal(cache.journal_path(cache_file))
    assert [(e.port, e.pid, e.requested_port, e.service_type) for e in entries] == [
        (expected, proc.pid, requested, "api")
    ]


NODE_SERVER = """
const http = require('http');
const server = http.createServer((req, res) => res.end('ok'));
server.listen(Number(process.argv[1]), () => console.log('listening ' + server.address().port));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_server_moves_into_the_dev_range(built: Built, ports: Ports, cache_file: Path) -> None:
    requested = ports.dev[0] + 20
    with hold(("0.0.0.0", requested)):
        expected = first_free(*ports.dev)
        proc = subprocess.Popen(
            ["node", "-e", NODE_SERVER, str(requested)],
            env=child_env(built.library, cache_file),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            match = wait_for_line(proc, r"listening (\d+)")
            assert int(match.group(1)) == expected
            assert fetch(expected) == 200
        finally:
            err = stop(proc)
    assert err.splitlines()[0] == moved_line(requested, expected, "dev")
    assert [e.port for e in cache.read_journal(cache.journal_path(cache_file))] == [expected]


def test_uvicorn_style_banner_limit_is_documented() -> None:
    """The docs name the limits the spec asks for, so users are not surprised."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "INTERCEPTOR.md").read_text().lower()
    for phrase in ("statically linked", "go", "setuid", "before binding", "styxy interceptor env"):
        assert phrase in text, phrase
