"""Retries of one busy port in one process (issue 13, point 8): the same replacements, bounded
output."""

from __future__ import annotations

import json
from pathlib import Path

from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import Built, Ports, child_env, hold, moved_line, run_python, stderr_lines

from styxy.store import cache

# Binds the busy port three times: keeps the first and second sockets, closes the first, binds
# again. Prints the three ports.
RETRY = """
import json, socket, sys
port = int(sys.argv[1])
def bind():
    s = socket.socket()
    s.bind(('127.0.0.1', port))
    return s
first = bind()
second = bind()
a, b = first.getsockname()[1], second.getsockname()[1]
first.close()
third = bind()
print(json.dumps([a, b, third.getsockname()[1]]))
"""

# Binds the busy port N times in one process, keeping every socket: each needs a port of its own.
MANY = """
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
kept = []
for _ in range(n):
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', port))
    except OSError:
        s.close()
        continue
    kept.append(s)
print(len(kept))
"""


def test_a_retry_gets_an_earlier_replacement_when_the_newest_is_taken(
    built: Built, ports: Ports, cache_file: Path
) -> None:
    requested = ports.dev[0] + 20
    with hold(("127.0.0.1", requested)):
        result = run_python(RETRY, child_env(built.library, cache_file), str(requested))
    assert result.returncode == 0, result.stderr
    first, second, third = json.loads(result.stdout)
    assert len({first, second, requested}) == 3
    # The newest replacement (second) is still bound by this process; the first is free again.
    assert third == first
    assert stderr_lines(result) == [
        moved_line(requested, first, "dev"),
        moved_line(requested, second, "dev"),
    ]
    entries = cache.read_journal(cache.journal_path(cache_file))
    assert [e.port for e in entries] == [first, second]


def test_output_per_process_is_capped(built: Built, ports: Ports, cache_file: Path) -> None:
    requested = ports.dev[0] + 21
    with hold(("127.0.0.1", requested)):
        # 45 sockets, each on a port of its own (the dev range has 50): more than the caps.
        result = run_python(MANY, child_env(built.library, cache_file), str(requested), "45")
    assert result.returncode == 0, result.stderr
    bound = int(result.stdout)
    assert bound >= 40
    lines = stderr_lines(result)
    assert len(lines) == 32 and len(set(lines)) == 32
    assert all(line.startswith(f"styxy: port {requested} in use; bound ") for line in lines)
    # Journal lines: one per move up to 64 (all of them here), so every held port is leased.
    entries = cache.read_journal(cache.journal_path(cache_file))
    assert len(entries) == bound
