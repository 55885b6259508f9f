"""Helpers of the proxy tests: a real `styxy proxy` (and its real Caddy), real servers under
`styxy run`, and plain HTTP requests with a chosen `Host`. Every wait has a deadline, and
every process a test starts is stopped when it ends, passed or failed."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from netutil import first_free
from support import Styxy, styxy_command

HERE = Path(__file__).resolve().parent
NAMED_SERVER = HERE / "named_server.py"
START_SECONDS = 30.0


@dataclass
class Lines:
    """The lines a process writes to one stream, read by a thread so a test can wait on them."""

    stream: object
    lines: list[str] = field(default_factory=list)
    fresh: queue.Queue[str] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))
            self.fresh.put(line.rstrip("\n"))

    def wait_for(self, test: Callable[[str], bool], timeout: float = START_SECONDS) -> str:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such line within {timeout} s; saw {self.lines!r}")
            try:
                line = self.fresh.get(timeout=left)
            except queue.Empty:
                continue
            if test(line):
                return line


@dataclass
class Running:
    process: subprocess.Popen[str]
    out: Lines
    err: Lines
    group: bool = False


def start(
    styxy: Styxy,
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    group: bool = False,
) -> Running:
    """`styxy ARGS` in the background; with `group`, in a process group of its own, as a shell
    runs a foreground job, so `stop` can signal the whole job like a terminal's Ctrl-C."""
    process = subprocess.Popen(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env={**styxy.env, **(env or {})},
        start_new_session=group,
    )
    return Running(process, Lines(process.stdout), Lines(process.stderr), group)


def stop(running: Running, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    if running.process.poll() is None:
        if running.group:
            os.killpg(running.process.pid, sig)
        else:
            running.process.send_signal(sig)
        try:
            running.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()
    if running.group:
        # Nothing of the job outlives the test, whatever it did with the signal.
        try:
            os.killpg(running.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return running.process.returncode


def proxy_port() -> int:
    # Not 1355: another test run (or the user's own proxy) may hold it.
    return first_free(range(21300, 21500))


@contextmanager
def proxy(styxy: Styxy, port: int, *extra: str) -> Iterator[Running]:
    """`styxy proxy --port PORT`, once it printed its URL (Caddy serves its first config)."""
    running = start(styxy, "proxy", "--port", str(port), *extra)
    try:
        running.out.wait_for(lambda line: line.endswith(f"localhost:{port}/"))
        yield running
    finally:
        stop(running)


@contextmanager
def served(styxy: Styxy, name: str, instance: str, cwd: Path | None = None) -> Iterator[Running]:
    """A named server under `styxy run -s dev -i INSTANCE -n NAME`, once it listens."""
    running = start(
        styxy, "run", "-s", "dev", "-i", instance, "-n", name, "--",
        sys.executable, str(NAMED_SERVER), name, cwd=cwd,
    )
    try:
        running.out.wait_for(lambda line: line.startswith("listening on "))
        yield running
    finally:
        stop(running)


def port_of(running: Running) -> int:
    return int(next(x for x in running.out.lines if x.startswith("listening on ")).split()[-1])


def get(port: int, host: str, path: str = "/") -> tuple[int, str]:
    """GET through the proxy on 127.0.0.1:PORT with `Host: HOST`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": f"{host}:{port}"})
        answer = connection.getresponse()
        return answer.status, answer.read().decode()
    finally:
        connection.close()


def eventually(test: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> float:
    """Seconds until `test()` holds; fails after `timeout`. A connection refused or reset on
    the way (a server still starting, a certificate being made) counts as not yet."""
    began = time.monotonic()
    while not _holds(test):
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - began


def _holds(test: Callable[[], bool]) -> bool:
    try:
        return test()
    except OSError:
        return False


def read_until(sock: socket.socket, end: bytes) -> bytes:
    """Bytes from `sock` one at a time up to and including `end` (a header block, say)."""
    data = b""
    while end not in data:
        chunk = sock.recv(1)
        assert chunk, data
        data += chunk
    return data


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, data
        data += chunk
    return data
