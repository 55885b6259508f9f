"""The real `styxy serve` as a subprocess on a free loopback port, and plain HTTP to it."""

from __future__ import annotations

import http.client
import json
import select
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import DEFAULT_DOC, Styxy, styxy_command

START_TIMEOUT = 60.0


def styxy_in(root: Path) -> Styxy:
    """The real command line on a fresh copy of the default document under `root`."""
    doc = root / "project" / "PORT_MANAGEMENT.md"
    doc.parent.mkdir(parents=True)
    shutil.copyfile(DEFAULT_DOC, doc)
    (root / "home").mkdir()
    return Styxy(doc, root / "home")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Server:
    """`styxy --doc DOC serve --port P` with the private HOME of `styxy`."""

    def __init__(self, styxy: Styxy, log: Path, *args: str, port: int | None = None) -> None:
        self.styxy = styxy
        self.port = port or free_port()
        self.log = log
        self._log = open(log, "wb")
        self.process = subprocess.Popen(
            [*styxy_command(), "--doc", str(styxy.doc), "serve", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=styxy.env,
        )
        self.url = self._first_line()
        self.token = self.url.partition("#token=")[2]

    def _first_line(self) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        assert ready, f"styxy serve printed no URL within {START_TIMEOUT} s: {self.stderr()}"
        line = self.process.stdout.readline().decode()
        assert line, f"styxy serve ended: {self.stderr()}"
        return line.strip()

    def stderr(self) -> str:
        self._log.flush()
        return self.log.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = "",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        """One request; `token=""` sends the right token, None sends none."""
        sent = dict(headers or {})
        if token is not None:
            sent.setdefault("Authorization", f"Bearer {token or self.token}")
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a server that ignored SIGTERM is never left running
            self.process.wait()
            raise
        finally:
            self._log.close()
            if self.process.stdout is not None:
                self.process.stdout.close()
        assert "Traceback" not in self.log.read_text(errors="replace"), self.log.read_text()
        return code


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# Module-scoped fixtures for test modules that share one server (imported by name there: a
# conftest.py here would shadow the top-level one, which tests import from).
@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Styxy:
    return styxy_in(tmp_path_factory.mktemp("server"))


@pytest.fixture(scope="module")
def server(cli: Styxy) -> Iterator[Server]:
    running = Server(cli, cli.doc.parent.parent / "serve.log")
    yield running
    running.stop()


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "Answer",
    "Server",
    "browser",
    "cli",
    "free_port",
    "server",
    "styxy_in",
    "wait_until",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), (
        f"the dashboard tests need Chromium at {CHROMIUM}: apt-get install chromium "
        "(.ci/run does it)"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A cold Chromium start on a loaded machine can take longer than Playwright's 30 s.
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=120000
        )
        yield launched
        launched.close()
