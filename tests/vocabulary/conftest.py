"""What the vocabulary tests of every front end share: a real `styxy serve`, and a process that
holds leases for as long as a test runs."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from server_support import Server
from support import Styxy


@pytest.fixture
def http(styxy: Styxy, tmp_path) -> Iterator[Server]:
    running = Server(styxy, tmp_path / "serve.log")
    yield running
    running.stop()


@pytest.fixture
def holder() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "600"])
    yield process
    process.kill()
    process.wait()
