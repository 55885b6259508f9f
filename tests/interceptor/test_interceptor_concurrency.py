"""Threads, fork and exec: many binds at once, a fork while other threads hold the lock."""

from __future__ import annotations

from pathlib import Path

from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import (
    Built,
    Ports,
    child_env,
    first_free,
    hold,
    moved_line,
    run,
    stderr_lines,
)

from styxy.store import cache


def test_32_threads_binding_at_once_get_32_ports(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 40
    with hold(("127.0.0.1", requested)):
        result = run(
            [built.helper("bindstress"), "threads", "32", "127.0.0.1", str(requested)],
            child_env(built.library, cache_file),
        )
    assert result.returncode == 0, result.stderr
    bound = [int(line) for line in result.stdout.decode().split()]
    assert len(bound) == 32
    assert len(set(bound)) == 32, bound  # every thread listens on a port of its own
    assert all(ports.in_dev(port) and port != requested for port in bound), bound
    lines = stderr_lines(result)
    assert sorted(lines) == sorted(moved_line(requested, port, "dev") for port in bound)
    entries = cache.read_journal(cache.journal_path(cache_file))
    assert sorted(e.port for e in entries) == sorted(bound)


def test_fork_from_a_threaded_parent(built: Built, ports: Ports, cache_file: Path) -> None:
    """Four threads keep moving binds (taking the lock) while the main thread forks 40 times;
    every child must still move its own bind, never wait on a lock a vanished thread held."""
    requested = ports.dev[0] + 41
    with hold(("127.0.0.1", requested)):
        result = run(
            [built.helper("bindstress"), "fork", "40", str(requested), *map(str, ports.dev)],
            child_env(built.library, cache_file),
            timeout=120,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.decode() == "children 40 moved 40\n"
    assert b"killed by signal" not in result.stderr


def test_exec_of_a_child_keeps_the_interceptor(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 42
    with hold(("127.0.0.1", requested)):
        first = first_free(*ports.dev)
        second = first_free(*ports.dev, skip=[first])
        result = run(
            [built.helper("bindstress"), "exec", str(requested)],
            child_env(built.library, cache_file),
        )
    assert result.returncode == 0, result.stderr
    (parent_pid, parent_port), (child_pid, child_port) = [
        (int(line.split()[1]), int(line.split()[2])) for line in result.stdout.decode().splitlines()
    ]
    assert result.stdout.decode().splitlines()[0].startswith("parent ")
    assert (parent_port, child_port) == (first, second)
    assert stderr_lines(result) == [
        moved_line(requested, first, "dev"),
        moved_line(requested, second, "dev"),
    ]
    entries = cache.read_journal(cache.journal_path(cache_file))
    assert [(e.port, e.pid) for e in entries] == [(first, parent_pid), (second, child_pid)]
