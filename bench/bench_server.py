"""HTTP API benchmarks (not tests). Run: `python bench/bench_server.py` (or `just bench`).

Needs the server extra (`pip install 'styxy[server]'`). Figures measured side by side in one run:

1. `POST /allocate` over HTTP (one kept-alive connection, as a client library would hold)
   against in-process `styxy.allocate`, both on a document with 100 live leases, in
   interleaved blocks (goal: ratio <= 1.5).
2. 8 concurrent HTTP clients plus 8 concurrent command-line allocators on one document:
   allocations per second, and zero duplicate ports.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from styxy.records import replace

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
_SCRIPT = Path(sys.executable).parent / "styxy"
STYXY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "styxy"]
# Ranges of the benchmark's own, away from the default document's: tests that run beside a
# benchmark on a shared machine fill `dev` and friends with listeners.
TYPES = ("bench-a", "bench-b", "bench-c", "bench-d")
ROWS = "".join(
    f"| {name} | {21000 + 1000 * i} | {21999 + 1000 * i} | multi |  | Benchmark |\n"
    for i, name in enumerate(TYPES)
)


def bench_doc(folder: Path) -> Path:
    doc = folder / "PORT_MANAGEMENT.md"
    text = DEFAULT_DOC.read_text()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| ai |"))
    doc.write_text(text.replace(row, row + ROWS))
    return doc


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    def __init__(self, doc: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [*STYXY, "--doc", str(doc), "serve", "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        assert ready, "styxy serve did not start"
        self.token = self.process.stdout.readline().decode().strip().partition("#token=")[2]

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> dict[str, object]:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200, answer
        return answer

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def fill(doc: Path, count: int) -> None:
    import styxy
    from styxy.store import leases

    styxy.allocate(TYPES[0], instance_id="warm", doc=doc, pid=os.getpid())
    path = doc.parent / ".styxy" / "leases.json"
    state = leases.load(path)
    now = time.time()
    filler = tuple(
        leases.Lease(leases.new_lock_id(), 30000 + n, "filler", f"f{n}", "", os.getpid(), None, now, "api")
        for n in range(count - 1)
    )
    path.write_bytes(leases.dump(replace(state, leases=state.leases + filler)))


def http_against_in_process(count: int = 100, blocks: int = 6, per_block: int = 25) -> None:

    with tempfile.TemporaryDirectory() as tmp:
        doc = bench_doc(Path(tmp))
        fill(doc, count)
        server = Served(doc)
        try:
            local, remote = _allocate_both_ways(server, doc, blocks, per_block)
            bare = _status_round_trips(server)
        finally:
            server.stop()
    lo, re = statistics.median(local), statistics.median(remote)
    print(
        f"allocate with {count} leases: in-process median {lo * 1000:.2f} ms, "
        f"HTTP POST /allocate median {re * 1000:.2f} ms; ratio {re / lo:.2f}x (goal <= 1.5x); "
        f"GET /status round trip median {statistics.median(bare) * 1000:.2f} ms"
    )


def _allocate_both_ways(server: Served, doc: Path, blocks: int, per_block: int) -> tuple[list[float], list[float]]:
    import styxy

    conn = server.connect()
    local: list[float] = []
    remote: list[float] = []
    try:
        for block in range(blocks):
            # Blocks, not single calls, so each side keeps its lease file warm as a long-lived
            # caller would; interleaved, so both see the same machine.
            for n in range(per_block):
                start = time.perf_counter()
                result = styxy.allocate(TYPES[0], instance_id=f"i{block}-{n}", doc=doc, pid=os.getpid())
                local.append(time.perf_counter() - start)
                styxy.release(result.lease.lockId, doc=doc)
            for n in range(per_block):
                body = {"service_type": TYPES[0], "instance_id": f"h{block}-{n}", "pid": os.getpid()}
                start = time.perf_counter()
                answer = server.call(conn, "POST", "/allocate", body)
                remote.append(time.perf_counter() - start)
                server.call(conn, "DELETE", f"/allocate/{answer['lockId']}")
    finally:
        conn.close()
    return local, remote


def _status_round_trips(server: Served, rounds: int = 200) -> list[float]:
    """The HTTP layer alone: a request that never reaches the core."""
    conn = server.connect()
    times = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            conn.request("GET", "/status")
            conn.getresponse().read()
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return times


def mixed_concurrency(clients: int = 8, per_client: int = 12, allocators: int = 8, per_allocator: int = 4) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        doc = bench_doc(Path(tmp))
        env = {**os.environ, "STYXY_DOC": str(doc)}
        subprocess.run([*STYXY, "allocate", "-s", TYPES[0], "-i", "warm"], check=True, stdout=subprocess.DEVNULL, env=env)
        server = Served(doc)
        http_ports: list[int] = []
        cli_ports: list[int] = []
        gate = threading.Barrier(clients + allocators + 1)

        def http_client(index: int) -> None:
            conn = server.connect()
            gate.wait()
            for n in range(per_client):
                kind = TYPES[(index + n) % len(TYPES)]
                answer = server.call(conn, "POST", "/allocate", {"service_type": kind, "instance_id": f"h{index}-{n}"})
                http_ports.append(int(answer["port"]))  # type: ignore[call-overload]
            conn.close()

        def cli_allocator(index: int) -> None:
            gate.wait()
            for n in range(per_allocator):
                kind = TYPES[(index + n) % len(TYPES)]
                done = subprocess.run(
                    [*STYXY, "allocate", "-s", kind, "-i", f"c{index}-{n}"],
                    capture_output=True, text=True, env=env, check=True,
                )
                cli_ports.append(int(done.stdout))

        threads = [threading.Thread(target=http_client, args=(i,)) for i in range(clients)]
        threads += [threading.Thread(target=cli_allocator, args=(i,)) for i in range(allocators)]
        for thread in threads:
            thread.start()
        gate.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        server.stop()
        listed = json.loads(subprocess.run([*STYXY, "list", "--json"], capture_output=True, env=env, check=True).stdout)["leases"]
    ports = http_ports + cli_ports
    dupes = len(ports) - len(set(ports))
    assert len(ports) == clients * per_client + allocators * per_allocator
    print(
        f"{clients} HTTP clients + {allocators} command-line allocators: {len(ports)} allocations in "
        f"{elapsed:.2f} s = {len(ports) / elapsed:.1f}/s ({len(http_ports)} HTTP, {len(cli_ports)} CLI); "
        f"{dupes} duplicates; {len(listed)} leases listed (expected {len(ports) + 1})"
    )


if __name__ == "__main__":
    http_against_in_process()
    mixed_concurrency()
