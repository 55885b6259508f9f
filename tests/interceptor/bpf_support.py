"""Fixtures and helpers shared by the tests of the kernel bind program (SPEC section 16).

No conftest.py here (see interceptor_support.py): test modules star-import the fixtures.

They run as root (CI does), on a real cgroup v2 with the real program attached by
`styxy interceptor bpf attach`, and start real servers that make their own bind system call: a
`gcc -static` C server and a `CGO_ENABLED=0` Go server, built once per session into the
session's base folder (every module that imports these fixtures reuses the same build).
Skipped only where the kernel lacks what the program needs (no BTF, no cgroup v2, no cgroup
BPF); under CI=true a skip fails (tests/conftest.py). Every fixture detaches and removes its
cgroup in a `finally`, so a failure leaves nothing attached.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import Styxy, styxy_command

ROOT = Path(__file__).resolve().parents[2]
BPF_SRC = ROOT / "interceptor" / "bpf"
BTF = Path("/sys/kernel/btf/vmlinux")
PIN_ROOT = Path("/run/styxy/bpf")


def cgroup2_mount() -> Path | None:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ", 1)[0] == "cgroup2":
            return Path(left.split(" ")[4])
    return None


def kernel_gaps() -> str | None:
    """What this machine truly lacks for cgroup BPF, else None."""
    if os.geteuid() != 0:
        return "attaching cgroup BPF programs needs root"
    if not BTF.exists():
        return "the kernel has no BTF"
    if cgroup2_mount() is None:
        return "no cgroup v2 hierarchy"
    probe = subprocess.run(
        ["bpftool", "feature", "probe", "kernel"], capture_output=True, text=True, check=False
    )
    if "cgroup_sock_addr is available" not in probe.stdout:
        return "the kernel has no cgroup sock_addr BPF programs"
    return None


def pin_of(styxy: Styxy) -> Path:
    """The pin folder of a document's attachment (the CRC-32 of its cache's path)."""
    return PIN_ROOT / f"{zlib.crc32(str(styxy.sidecar / 'cache.bin').encode()):08x}"


def our_programs() -> set[int]:
    """Ids of every loaded styxy bind program on the machine (bpftool)."""
    progs = subprocess.run(
        ["bpftool", "prog", "show", "--json"], capture_output=True, text=True, check=True
    ).stdout
    return {p["id"] for p in json.loads(progs) if p.get("name") in ("styxy_bind4", "styxy_bind6")}


@dataclass(frozen=True)
class Servers:
    static: Path
    go: Path


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Servers:
    gap = kernel_gaps()
    if gap:
        pytest.skip(gap)
    out = tmp_path_factory.getbasetemp() / "bpf-servers"
    static, go = out / "staticserver", out / "goserver"
    if static.exists() and go.exists():
        return Servers(static, go)  # built by another module of this session
    out.mkdir(exist_ok=True)
    out.chmod(0o755)
    done = subprocess.run(
        ["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(static),
         str(BPF_SRC / "tests" / "staticserver.c")],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOCACHE": str(out / "gocache"),
        "GOPATH": str(out / "gopath"),
    }
    done = subprocess.run(
        ["go", "build", "-o", str(go), "."],
        cwd=BPF_SRC / "tests" / "goserver", env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert b"statically linked" in subprocess.run(["file", str(go)], capture_output=True).stdout
    return Servers(static, go)


@dataclass
class Attached:
    styxy: Styxy
    cgroup: Path
    first: int  # the test range's first port
    last: int
    service: str

    @property
    def pin(self) -> Path:
        return pin_of(self.styxy)

    def exec(self, *argv: str) -> subprocess.Popen[str]:
        """Start argv inside the cgroup with `styxy interceptor bpf exec`, stdin a pipe."""
        return self.start("interceptor", "bpf", "exec", "--", *argv)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`styxy --doc DOC ARGS...` as a running process, stdin a pipe."""
        return subprocess.Popen(
            [*styxy_command(), "--doc", str(self.styxy.doc), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=self.styxy.env,
        )

    def attach(self) -> None:
        result = self.styxy("interceptor", "bpf", "attach", "--cgroup", str(self.cgroup))
        assert result.code == 0, result.err
        assert result.out == f"attached to {self.cgroup} (maps pinned in {self.pin})\n"

    def leases(self) -> list[dict[str, object]]:
        result = self.styxy("list", "--json")
        assert result.code == 0, result.err
        leases: list[dict[str, object]] = result.json()["leases"]
        return leases

    def status(self) -> dict[str, Any]:
        result = self.styxy("interceptor", "bpf", "status", "--json")
        assert result.code == 0, result.err
        found: dict[str, Any] = result.json()
        return found


def first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


@contextlib.contextmanager
def held(port: int, host: str = "127.0.0.1") -> Iterator[socket.socket]:
    """A listener outside the cgroup (this test process), as a stranger's server."""
    with socket.socket() as holder:
        holder.bind((host, port))
        holder.listen()
        yield holder


@pytest.fixture
def prepared(
    tmp_path: Path, servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Attached]:
    """A document with a fresh range of its own and a cgroup path, not attached yet; whatever
    the test attached or created is detached and removed afterwards."""
    tmp_path.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path_factory.getbasetemp() / "bpf-data"  # one build of styxy-bpf per session
    styxy = Styxy(tmp_path / "docs" / "PORT_MANAGEMENT.md", home)
    styxy.env["STYXY_DATA_DIR"] = str(data)
    assert styxy("init").code == 0
    service = f"bpft{os.getpid() % 10000}"
    # A range of its own away from 11510, where most of the suite's new types land: a socket
    # another test left bound there (not listening, so no lookup sees it) must not be chosen.
    rule = styxy("config", "set", "auto-allocation-rule", "bpft*", "--preferred-range", "27000")
    assert rule.code == 0, rule.err
    made = styxy("allocate", "-s", service, "--json")
    assert made.code == 0, made.err
    first, last = made.json()["newRange"]
    assert styxy("release", "--port", str(made.json()["port"])).code == 0
    cgroup = (cgroup2_mount() or Path("/sys/fs/cgroup")) / f"styxy-test-{os.getpid()}-{time.time_ns()}"
    try:
        yield Attached(styxy, cgroup, first, last, service)
    finally:
        detach_and_remove(styxy, cgroup)


def detach_and_remove(run: Any, cgroup: Path) -> None:
    """Detach the program (`run` runs a styxy command) and remove the test's cgroup, killing
    what is left in it first: a cgroup with a process in it cannot be removed."""
    run("interceptor", "bpf", "detach")
    if cgroup.exists():
        for pid in (cgroup / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        time.sleep(0.1)
        cgroup.rmdir()


@pytest.fixture
def attached(prepared: Attached) -> Attached:
    prepared.attach()
    return prepared
