"""Calls the interceptor must not touch: the same return value and errno as a plain bind()."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import Built, Ports, bind_sockets, child_env, hold, run

PROBE_CASES = [
    "null_addr_len0 -1 EINVAL",
    "null_addr_len16 -1 EFAULT",
    "bad_pointer -1 EFAULT",
    "short_inet_len4 -1 EINVAL",
    "short_inet_len1 -1 EINVAL",
    "short_inet6_len20 -1 EINVAL",
    "huge_len -1 EINVAL",
    "negative_len -1 EINVAL",
    "af_unspec_any_busy -1 EADDRINUSE",
    "af_unspec_loopback -1 EAFNOSUPPORT",
    "inet6_addr_on_inet_socket -1 EAFNOSUPPORT",
    "inet_addr_on_inet6_socket -1 EINVAL",
    "unknown_family -1 EAFNOSUPPORT",
    "bad_fd_minus1 -1 EBADF",
    "bad_fd_large -1 EBADF",
    "not_a_socket -1 ENOTSOCK",
    "pipe -1 ENOTSOCK",
    "port0_first 0 -",
    "already_bound_busy_port -1 EINVAL",
    "already_bound_port0 -1 EINVAL",
    "port0_inet6 0 -",
    "udp_busy -1 EADDRINUSE",
    "udp_busy_v4mapped -1 EADDRINUSE",
    "low_port_busy -1 EADDRINUSE",
    "low_port_busy_v4mapped -1 EADDRINUSE",
    "not_local_address -1 EADDRNOTAVAIL",
    "unix_first 0 -",
    "unix_busy -1 EADDRINUSE",
    "unix_short -1 EINVAL",
]


def free_low_port() -> int:
    """A port below 1024 that nobody uses here (we run as root, so we may bind it)."""
    for port in range(1023, 900, -1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024")


@pytest.mark.parametrize("mode", ["active", "no-cache-variable", "switched-off", "missing-cache"])
def test_probe_matches_plain_bind(
    built: Built, ports: Ports, cache_file: Path, tmp_path: Path, mode: str
) -> None:
    udp_port, tcp_port = ports.dev[0] + 3, ports.dev[0] + 4
    argv = [
        built.helper("bindprobe"),
        str(tmp_path),
        str(udp_port),
        str(free_low_port()),
        str(tcp_port),
    ]
    plain = run(argv, child_env(None, None))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.decode().splitlines() == PROBE_CASES
    cache_path: Path | None = {"no-cache-variable": None, "missing-cache": tmp_path / "nope"}.get(
        mode, cache_file
    )
    extra = {"STYXY_INTERCEPT": "0"} if mode == "switched-off" else {}
    preloaded = run(argv, child_env(built.library, cache_path, extra))
    assert preloaded.returncode == 0
    assert preloaded.stdout == plain.stdout
    assert preloaded.stderr == b""
    assert not (cache_file.parent / "journal").exists()


def test_a_free_port_is_never_touched(built: Built, ports: Ports, cache_file: Path) -> None:
    port = ports.dev[0] + 7
    env = child_env(built.library, cache_file, {"STYXY_DEBUG": "2"})
    results, lines = bind_sockets(env, {"host": "127.0.0.1", "port": port})
    assert results == [{"port": port}]
    assert lines == []  # the cache is not even read: debug level 2 would say so
    assert not (cache_file.parent / "journal").exists()


@pytest.mark.parametrize(
    "extra", [{}, {"STYXY_INTERCEPT": "0"}], ids=["no-STYXY_CACHE", "STYXY_INTERCEPT=0"]
)
def test_inert_without_cache_or_when_switched_off(
    built: Built, ports: Ports, cache_file: Path, extra: dict[str, str]
) -> None:
    port = ports.dev[0] + 8
    cache_path = cache_file if extra else None
    with hold(("127.0.0.1", port)):
        results, lines = bind_sockets(
            child_env(built.library, cache_path, {**extra, "STYXY_DEBUG": "2"}),
            {"host": "127.0.0.1", "port": port},
        )
    assert results == [{"errno": errno.EADDRINUSE}]
    assert lines == []
