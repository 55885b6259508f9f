"""Fixtures and helpers shared by the interceptor tests.

There is no conftest.py here on purpose: the top-level tests import names from their own
`conftest` module, and a second conftest.py would shadow it. Test modules import the fixtures
they use from this module (a unique name: tests/ has no __init__.py).

The library and the C helpers are compiled once per session into a temporary folder with
`make -C interceptor OUT=...`. Every test port lies in one block of 100 ports picked at random
between 20000 and 29999 (below the kernel's ephemeral range) and checked free first:

    dev   B+0  .. B+49   multi       api   B+50 .. B+79   multi
    ai    B+80 .. B+84   single      (no range) B+85 .. B+99
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from styxy.store import cache

ROOT = Path(__file__).resolve().parents[2]
INTERCEPTOR_SRC = ROOT / "interceptor"
BLOCK = 100


@dataclass(frozen=True)
class Built:
    """Paths of everything `make` produced for the session."""

    out: Path

    @property
    def library(self) -> Path:
        return self.out / "libstyxy-intercept.so"

    def helper(self, name: str) -> str:
        return str(self.out / name)


@dataclass(frozen=True)
class Ports:
    """The session's port block (see the module docstring)."""

    base: int

    @property
    def dev(self) -> tuple[int, int]:
        return self.base, self.base + 49

    @property
    def api(self) -> tuple[int, int]:
        return self.base + 50, self.base + 79

    @property
    def ai(self) -> tuple[int, int]:
        return self.base + 80, self.base + 84

    @property
    def outside(self) -> list[int]:
        return list(range(self.base + 85, self.base + 100))

    def in_dev(self, port: int) -> bool:
        return self.dev[0] <= port <= self.dev[1]

    def in_api(self, port: int) -> bool:
        return self.api[0] <= port <= self.api[1]


def block_free(base: int) -> bool:
    """Every port of the block bindable on 0.0.0.0 and :: right now."""
    for port in range(base, base + BLOCK):
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            with socket.socket(family, socket.SOCK_STREAM) as s:
                try:
                    s.bind((host, port))
                except OSError:
                    return False
    return True


def first_free(lo: int, hi: int, skip: Sequence[int] = ()) -> int:
    """The first port of [lo, hi] a plain socket can bind on every address right now: the port
    the interceptor picks (a TIME_WAIT left by an earlier test makes it skip one)."""
    for port in range(lo, hi + 1):
        if port not in skip and port_free(port):
            return port
    raise AssertionError(f"no free port in {lo}-{hi}")


def port_free(port: int) -> bool:
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def default_entries(ports: Ports) -> dict[str, object]:
    return {
        "ranges": [
            cache.CacheRange("dev", *ports.dev, single=False),
            cache.CacheRange("api", *ports.api, single=False),
            cache.CacheRange("ai", *ports.ai, single=True),
        ],
        "leases": [],
        "detect": [("web", "*never-matches*"), ("api", "*http.server*"), ("api", "*[u]vicorn*")],
        "meta": b"{}",
        "doc_crc": 0,
        "doc_size": 0,
        "generation": 1,
    }


def make_cache(ports: Ports, **overrides: object) -> bytes:
    entries = default_entries(ports)
    entries.update(overrides)
    return cache.encode(**entries)  # type: ignore[arg-type]


def child_env(
    library: Path | None, cache_path: Path | str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a child: ours without any styxy variables, then the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STYXY_") and k != "LD_PRELOAD"}
    if library is not None:
        env["LD_PRELOAD"] = str(library)
    if cache_path is not None:
        env["STYXY_CACHE"] = str(cache_path)
    env.update(extra or {})
    return env


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float = 30,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        list(argv), env=dict(env), capture_output=True, timeout=timeout, check=False, cwd=cwd
    )


def run_python(
    code: str, env: Mapping[str, str], *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    return run([sys.executable, "-c", code, *args], env, timeout=timeout)


# Binds one socket per spec, listens, connects a client to each bound port and prints JSON:
# [{"port": bound port} or {"errno": n}, ...]. Specs: host, port, v6only, reuseaddr, reuseport.
BIND_SCRIPT = """
import json, socket, struct, sys
out, keep = [], []
for spec in json.loads(sys.argv[1]):
    family = socket.AF_INET6 if ':' in spec['host'] else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if 'v6only' in spec:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(spec['v6only']))
    if spec.get('reuseaddr'):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if spec.get('reuseport'):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        s.bind((spec['host'], spec['port']))
    except OSError as e:
        out.append({'errno': e.errno}); continue
    s.listen(4)
    port = s.getsockname()[1]
    target = '::1' if family == socket.AF_INET6 and not spec['host'].startswith('::ffff:') else '127.0.0.1'
    client = socket.create_connection((target, port), timeout=5)
    conn, _ = s.accept()
    # The client resets the connection: no TIME_WAIT is left on the port for the next test.
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    client.close(); conn.close()
    keep.append(s)
    out.append({'port': port})
print(json.dumps(out))
"""


def bind_sockets(
    env: Mapping[str, str], *specs: Mapping[str, object]
) -> tuple[list[dict[str, int]], list[str]]:
    """Run BIND_SCRIPT in a child; its results and its stderr lines (stdout must be JSON only)."""
    result = run_python(BIND_SCRIPT, env, json.dumps(list(specs)))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), stderr_lines(result)


@contextlib.contextmanager
def hold(*addresses: tuple[str, int], reuseport: bool = False) -> Iterator[list[socket.socket]]:
    """Listen on each (host, port) from this (unpreloaded) process, so children get EADDRINUSE."""
    held = []
    try:
        for host, port in addresses:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if reuseport:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind((host, port))
            s.listen(8)
            held.append(s)
        yield held
    finally:
        for s in held:
            s.close()


def moved_line(requested: int, port: int, service: str) -> str:
    return f"styxy: port {requested} in use; bound {port} instead (service {service})"


def stderr_lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return result.stderr.decode("utf-8", "replace").splitlines()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def ports() -> Ports:
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(200, 300) * BLOCK
        if block_free(base):
            return Ports(base)
    pytest.fail("no free block of 100 ports between 20000 and 29999")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    if shutil.which("make") is None or shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("make and a C compiler are needed to build the interceptor")
    out = tmp_path_factory.mktemp("interceptor-build")
    make = ["make", "-s", "-C", str(INTERCEPTOR_SRC), f"OUT={out}"]
    result = subprocess.run([*make, "lib", "helpers"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr
    replay = subprocess.run([*make, "replay"], capture_output=True, text=True, check=False)
    if replay.returncode != 0:  # a compiler without ASan/UBSan runtimes: replay unsanitized
        replay = subprocess.run(
            [*make, "replay", "SANITIZE="], capture_output=True, text=True, check=False
        )
    assert replay.returncode == 0, replay.stderr
    return Built(out)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder for the cache and journal (world-readable, for the tests that drop privileges)."""
    folder = tmp_path / "state"
    folder.mkdir()
    return folder


@pytest.fixture
def cache_file(workdir: Path, ports: Ports) -> Path:
    path = workdir / "cache.bin"
    cache.write_atomic(path, make_cache(ports))
    return path
