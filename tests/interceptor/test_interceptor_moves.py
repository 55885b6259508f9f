"""A busy port moves into the right range: families, twins, service types, leases, limits."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import (
    BIND_SCRIPT,
    Built,
    Ports,
    bind_sockets,
    child_env,
    first_free,
    hold,
    make_cache,
    moved_line,
    run,
    run_python,
    stderr_lines,
)

from styxy.store import cache


def env_for(built: Built, cache_file: Path, **extra: str) -> dict[str, str]:
    return child_env(built.library, cache_file, extra)


# (host the program binds, what holds the port, extra socket options)
FAMILIES = [
    pytest.param("127.0.0.1", [("127.0.0.1", 0)], {}, id="ipv4-loopback"),
    pytest.param("0.0.0.0", [("127.0.0.1", 0)], {}, id="ipv4-any-vs-loopback-holder"),
    pytest.param("::1", [("::1", 0)], {}, id="ipv6-loopback"),
    pytest.param("::ffff:127.0.0.1", [("127.0.0.1", 0)], {"v6only": 0}, id="ipv4-mapped"),
    pytest.param("::", [("0.0.0.0", 0)], {"v6only": 0}, id="dual-stack-any"),
    pytest.param("::", [("::", 0)], {"v6only": 1}, id="ipv6-any-v6only"),
]


@pytest.mark.parametrize(("host", "holders", "options"), FAMILIES)
def test_busy_port_moves_to_the_first_free_port_of_its_range(
    built: Built,
    ports: Ports,
    cache_file: Path,
    host: str,
    holders: list[tuple[str, int]],
    options: dict[str, int],
) -> None:
    requested = ports.dev[0] + 10
    with hold(*[(h, requested) for h, _ in holders]):
        expected = first_free(*ports.dev)
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": host, "port": requested, **options}
        )
    # getsockname() saw the new port and a client connected to it (see BIND_SCRIPT).
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "dev")]
    entries = cache.read_journal(cache.journal_path(cache_file))
    assert [(e.port, e.requested_port, e.service_type) for e in entries] == [
        (expected, requested, "dev")
    ]
    assert entries[0].pid > 0 and entries[0].pid != os.getpid()


def test_v6only_socket_beside_an_ipv4_holder_is_not_busy(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 11
    with hold(("0.0.0.0", requested)):
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": "::", "port": requested, "v6only": 1}
        )
    assert results == [{"port": requested}]
    assert lines == []


def test_twin_sockets_get_the_same_replacement(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 12
    with hold(("0.0.0.0", requested), ("::", requested)):
        expected = first_free(*ports.dev)
        results, lines = bind_sockets(
            env_for(built, cache_file),
            {"host": "0.0.0.0", "port": requested, "reuseaddr": 1},
            {"host": "::", "port": requested, "v6only": 1, "reuseaddr": 1},
        )
    assert results == [{"port": expected}, {"port": expected}]
    assert lines == [moved_line(requested, expected, "dev")]  # one move, one line
    assert len(cache.read_journal(cache.journal_path(cache_file))) == 1


ASYNCIO_SERVER = """
import asyncio, json, sys
async def main():
    server = await asyncio.start_server(lambda r, w: w.close(), host=None, port=int(sys.argv[1]))
    socks = server.sockets
    print(json.dumps(sorted([s.family.name, s.getsockname()[1]] for s in socks)))
    server.close()
    await server.wait_closed()
asyncio.run(main())
"""


def test_asyncio_host_none_puts_both_sockets_on_one_port(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 13
    with hold(("0.0.0.0", requested), ("::", requested)):
        expected = first_free(*ports.dev)
        result = run_python(ASYNCIO_SERVER, env_for(built, cache_file), str(requested))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == (
        f'[["AF_INET", {expected}], ["AF_INET6", {expected}]]'
    )
    assert stderr_lines(result) == [moved_line(requested, expected, "dev")]


# ------------------------------------------------------------------ which service type


def test_port_in_another_range_moves_within_that_range(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.api[0] + 5
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.api)
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": "127.0.0.1", "port": requested}
        )
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "api")]


def test_service_type_variable_wins_over_the_range(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 14
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.api)
        results, lines = bind_sockets(
            env_for(built, cache_file, STYXY_SERVICE_TYPE="api"),
            {"host": "127.0.0.1", "port": requested},
        )
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "api")]


def test_unknown_service_type_variable_falls_back_to_the_range(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.api[0] + 6
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.api)
        results, lines = bind_sockets(
            env_for(built, cache_file, STYXY_SERVICE_TYPE="grafana"),
            {"host": "127.0.0.1", "port": requested},
        )
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "api")]


def test_port_outside_every_range_goes_to_dev(built: Built, ports: Ports, cache_file: Path) -> None:
    requested = ports.outside[0]
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev)
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": "127.0.0.1", "port": requested}
        )
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "dev")]


def test_detect_globs_match_the_command_line(built: Built, ports: Ports, cache_file: Path) -> None:
    """`web` matches first but has no range, so the next glob that matches (`api`) decides."""
    requested = ports.outside[1]
    spec = f'[{{"host": "127.0.0.1", "port": {requested}}}]'
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.api)
        result = run_python(
            BIND_SCRIPT, env_for(built, cache_file), spec, "--never-matches", "uvicorn"
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == f'[{{"port": {expected}}}]'
    assert stderr_lines(result) == [moved_line(requested, expected, "api")]


def test_without_a_dev_range_an_unknown_port_stays_busy(
    built: Built, ports: Ports, workdir: Path
) -> None:
    path = workdir / "cache.bin"
    cache.write_atomic(path, make_cache(ports, ranges=[cache.CacheRange("api", *ports.api, False)]))
    requested = ports.outside[2]
    with hold(("127.0.0.1", requested)):
        results, lines = bind_sockets(
            env_for(built, path), {"host": "127.0.0.1", "port": requested}
        )
    assert results == [{"errno": errno.EADDRINUSE}]
    assert lines == []


# ------------------------------------------------------------------ leases and limits


def test_ports_leased_to_other_processes_are_skipped(
    built: Built, ports: Ports, workdir: Path
) -> None:
    path = workdir / "cache.bin"
    leases = [cache.CacheLease(ports.dev[0], 1, 0), cache.CacheLease(ports.dev[0] + 1, 1, 0)]
    cache.write_atomic(path, make_cache(ports, leases=leases))
    requested = ports.dev[0] + 15
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev, skip=[ports.dev[0], ports.dev[0] + 1])
        results, lines = bind_sockets(
            env_for(built, path), {"host": "127.0.0.1", "port": requested}
        )
    assert expected >= ports.dev[0] + 2
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "dev")]


def test_taken_candidates_are_skipped(built: Built, ports: Ports, cache_file: Path) -> None:
    requested = ports.dev[0] + 16
    with hold(("127.0.0.1", requested), ("0.0.0.0", ports.dev[0]), ("::", ports.dev[0] + 1)):
        expected = first_free(*ports.dev)
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": "::", "port": requested, "v6only": 0}
        )
    assert expected >= ports.dev[0] + 2
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "dev")]


def test_reuseport_socket_never_shares_a_strangers_port(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 17
    stranger = first_free(*ports.dev)
    with hold(("127.0.0.1", stranger), reuseport=True), hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev)
        # Control: the kernel itself lets a SO_REUSEPORT socket of the same user share it.
        with socket.socket() as sharer:
            sharer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sharer.bind(("127.0.0.1", stranger))
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": "127.0.0.1", "port": requested, "reuseport": 1}
        )
    assert expected > stranger
    assert results == [{"port": expected}]
    assert lines == [moved_line(requested, expected, "dev")]


def test_single_instance_service_is_not_moved(built: Built, ports: Ports, cache_file: Path) -> None:
    requested = ports.ai[0]
    with hold(("127.0.0.1", requested)):
        results, lines = bind_sockets(
            env_for(built, cache_file), {"host": "127.0.0.1", "port": requested}
        )
    assert results == [{"errno": errno.EADDRINUSE}]
    assert lines == [
        (
            f"styxy: port {requested} in use; not moved: single-instance service already running "
            f"(service ai {ports.ai[0]}-{ports.ai[1]})"
        )
    ]
    assert not cache.journal_path(cache_file).exists()


def test_full_range_keeps_the_error(built: Built, ports: Ports, workdir: Path) -> None:
    path = workdir / "cache.bin"
    small = (ports.dev[0], ports.dev[0] + 2)
    cache.write_atomic(path, make_cache(ports, ranges=[cache.CacheRange("dev", *small, False)]))
    with hold(*[("127.0.0.1", p) for p in range(small[0], small[1] + 1)]):
        results, lines = bind_sockets(
            env_for(built, path), {"host": "127.0.0.1", "port": small[0] + 1}
        )
    assert results == [{"errno": errno.EADDRINUSE}]
    assert lines == [
        (
            f"styxy: port {small[0] + 1} in use; not moved: no free port in the range "
            f"(service dev {small[0]}-{small[1]})"
        )
    ]


def test_the_callers_address_is_never_written(built: Built, ports: Ports, cache_file: Path) -> None:
    requested = ports.dev[0] + 18
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev)
        result = run(
            [built.helper("bindstress"), "readonly", str(requested)], env_for(built, cache_file)
        )
    assert result.returncode == 0, result.stderr  # a write would have been SIGSEGV
    assert result.stdout.decode() == f"{expected} {requested}\n"


DAEMON_WITH_SOCKET_ON_FD2 = """
import json, os, socket, sys
server = socket.socket(); server.bind(('127.0.0.1', 0)); server.listen(1)
os.close(2)
peer = socket.create_connection(server.getsockname())  # takes descriptor 2
conn, _ = server.accept()
assert peer.fileno() == 2
s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))
conn.settimeout(0.3)
try:
    received = conn.recv(1000).decode()
except TimeoutError:
    received = ''
print(json.dumps({'port': s.getsockname()[1], 'received': received}))
"""


def test_no_line_is_sent_into_a_tcp_connection_on_descriptor_2(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    """A daemon that closed stderr may have a connection on fd 2: it must not get our line."""
    requested = ports.dev[0] + 19
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev)
        result = run_python(DAEMON_WITH_SOCKET_ON_FD2, env_for(built, cache_file), str(requested))
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == f'{{"port": {expected}, "received": ""}}'
    assert len(cache.read_journal(cache.journal_path(cache_file))) == 1  # still journaled
