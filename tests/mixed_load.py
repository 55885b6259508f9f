"""A flood of concurrent operations on one document, through every front end at once (SPEC
section 18): `styxy allocate` processes, HTTP requests to a real `styxy serve`, MCP tool calls
to real `styxy mcp` servers, and in-process `styxy.allocate` calls from threads.

Every operation allocates for an identity of its own, so each fresh lease must get a port of
its own; a share of the command-line operations names types the document has never seen, so
rows are added to the document while the flood runs. `flood` reports every failure (front end,
identity, the sentence) and every port given to two live leases. The lock-queue test runs it
small; `bench/bench_lock_queue.py` runs it at 100, 300 and 1,000 operations.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
_SCRIPT = Path(sys.executable).parent / "styxy"
STYXY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "styxy"]

# Rows of the flood's own, far from the default document's busy ranges: other programs on a
# shared machine listen in dev and api. Each holds 500 ports, enough for the largest flood.
KNOWN = ("flood-a", "flood-b", "flood-c", "flood-d")
ROWS = "".join(
    f"| {name} | {20000 + 500 * i} | {20499 + 500 * i} | multi |  | Flood |\n"
    for i, name in enumerate(KNOWN)
)
# Types the document has never seen (the tools the seed names as new ones), no two alike;
# at most ten, the default cap on new ranges a day.
NEW_TYPES = ("grafana", "jaeger", "prometheus", "zipkin", "kafka", "clickhouse", "loki", "minio")
SINGLE = "ai"  # single-instance in the default document: every request shares one lease
FRONTS = ("cli", "http", "mcp", "api")


@dataclass(frozen=True)
class Op:
    front: str
    service_type: str
    instance_id: str


@dataclass
class Outcome:
    """What a flood did: one result (the allocate JSON) or one failure sentence per operation."""

    ops: list[Op]
    seconds: float = 0.0
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance id -> JSON
    failures: list[str] = field(default_factory=list)

    def record(self, op: Op, answer: dict[str, Any] | None, failure: str | None) -> None:
        if answer is not None and isinstance(answer.get("port"), int):
            self.results[op.instance_id] = answer
        else:
            self.failures.append(f"{op.front} {op.service_type} {op.instance_id}: {failure}")

    def duplicates(self) -> list[int]:
        """Ports handed out as fresh leases more than once (a single type shares by design)."""
        fresh = [r["port"] for r in self.results.values() if not r["existing"]]
        return sorted({p for p in fresh if fresh.count(p) > 1})


def flood_document(folder: Path) -> Path:
    """The default document with the flood's rows, and new types placed in chunks of 50."""
    doc = folder / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    text = doc.read_text()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| ai |"))
    text = text.replace(row, row + ROWS).replace("defaultChunkSize: 10", "defaultChunkSize: 50")
    doc.write_text(text)
    return doc


def plan(total: int) -> list[Op]:
    """`total` operations: half on the command line (one in five of them for a new type, one in
    twenty for the single-instance type), the rest split over HTTP, MCP and in-process calls."""
    ops = []
    for n in range(total):
        front = "cli" if n % 2 == 0 else FRONTS[1 + (n // 2) % 3]
        if front == "cli" and n % 10 == 0:
            kind = NEW_TYPES[(n // 10) % len(NEW_TYPES)]
        elif front == "cli" and n % 40 == 2:
            kind = SINGLE
        else:
            kind = KNOWN[n % len(KNOWN)]
        ops.append(Op(front, kind, f"{front}-{n}"))
    return ops


def environment(doc: Path, home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "NO_COLOR": "1",
        "STYXY_DOC": str(doc),
        "STYXY_DATA_DIR": str(home / "styxy-data"),
        "STYXY_TRACEBACK": "1",
    }
    for key in ("STYXY_INSTANCE_ID", "CLAUDE_INSTANCE_ID", "LD_PRELOAD", "STYXY_CACHE"):
        env.pop(key, None)
    return env


def flood(doc: Path, home: Path, total: int, *, mcp_servers: int = 4, http_clients: int = 16,
          api_threads: int = 8, cli_at_once: int = 400) -> Outcome:  # fmt: skip
    """Run `total` operations at once on `doc`; see the module docstring."""
    env = environment(doc, home)
    ops = plan(total)
    outcome = Outcome(ops)
    # One writer's pass first, so the document, the sidecar and the cache exist: the flood
    # measures the queue, not first use.
    subprocess.run([*STYXY, "cleanup"], env=env, check=True, capture_output=True)
    server = _Serve(env, home / "serve.log")
    mutex = threading.Lock()

    def record(op: Op, answer: dict[str, Any] | None, failure: str | None) -> None:
        with mutex:
            outcome.record(op, answer, failure)

    try:
        by_front = {front: [op for op in ops if op.front == front] for front in FRONTS}
        workers = [
            threading.Thread(target=_cli, args=(by_front["cli"], env, cli_at_once, record)),
            threading.Thread(target=_http, args=(by_front["http"], server, http_clients, record)),
            threading.Thread(
                target=_mcp, args=(by_front["mcp"], env, mcp_servers, home / "mcp.log", record)
            ),
            threading.Thread(target=_api, args=(by_front["api"], doc, api_threads, record)),
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        outcome.seconds = time.monotonic() - started
    finally:
        server.stop()
    return outcome


Record = Callable[[Op, "dict[str, Any] | None", "str | None"], None]


def _cli(ops: list[Op], env: dict[str, str], at_once: int, record: Record) -> None:
    """Every operation its own `styxy allocate` process, as many at once as `at_once` allows."""
    running: list[tuple[Op, subprocess.Popen[str]]] = []
    pending = list(ops)
    while pending or running:
        while pending and len(running) < at_once:
            op = pending.pop(0)
            argv = [*STYXY, "allocate", "-s", op.service_type, "-i", op.instance_id, "--json"]
            process = subprocess.Popen(
                argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            running.append((op, process))
        op, process = running.pop(0)
        out, err = process.communicate(timeout=600)
        if process.returncode == 0:
            record(op, json.loads(out), None)
        else:
            record(op, None, f"exit {process.returncode}: {err.strip()}")


class _Serve:
    """A real `styxy serve` on a free loopback port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._log = open(log, "wb")  # closed in stop()
        self.process = subprocess.Popen(
            [*STYXY, "serve", "--port", str(self.port)], stdout=subprocess.PIPE,
            stderr=self._log, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        line = self.process.stdout.readline().decode() if ready else ""
        assert "#token=" in line, f"styxy serve did not start: {log.read_text()}"
        self.token = line.strip().partition("#token=")[2]

    def allocate(self, op: Op) -> tuple[dict[str, Any] | None, str | None]:
        body = json.dumps(
            {"service_type": op.service_type, "instance_id": op.instance_id, "pid": os.getpid()}
        )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            connection.request(
                "POST", "/allocate", body=body,
                headers={"Authorization": f"Bearer {self.token}",
                         "Content-Type": "application/json"},
            )  # fmt: skip
            response = connection.getresponse()
            data = json.loads(response.read())
        finally:
            connection.close()
        if response.status == 200:
            return data, None
        return None, f"HTTP {response.status}: {data.get('error')}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self._log.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _http(ops: list[Op], server: _Serve, clients: int, record: Record) -> None:
    _in_threads(ops, clients, lambda op: record(op, *server.allocate(op)), record)


def _api(ops: list[Op], doc: Path, threads: int, record: Record) -> None:
    import styxy
    from styxy.errors import StyxyError

    def one(op: Op) -> None:
        try:
            result = styxy.allocate(
                op.service_type, instance_id=op.instance_id, pid=os.getpid(), doc=doc
            )
        except StyxyError as exc:
            record(op, None, exc.message)
            return
        record(op, result.to_json(), None)

    _in_threads(ops, threads, one, record)


def _in_threads(ops: list[Op], count: int, work: Callable[[Op], None], record: Record) -> None:
    queue = list(ops)
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                if not queue:
                    return
                op = queue.pop(0)
            try:
                work(op)
            except Exception as exc:  # a lost connection is a failure to report, too
                record(op, None, f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=loop) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _mcp(ops: list[Op], env: dict[str, str], servers: int, log: Path, record: Record) -> None:
    """`servers` real `styxy mcp` processes, each sent its share of the calls at once."""

    async def session_calls(share: list[Op]) -> None:
        from mcp import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=STYXY[0], args=[*STYXY[1:], "mcp"], env=env)
        with open(log, "a") as errlog:  # the servers' notes (a waiting writer's line)
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(
                read, write
            ) as session:
                await session.initialize()
                await asyncio.gather(*(call(session, op) for op in share))

    async def call(session: Any, op: Op) -> None:
        result = await session.call_tool(
            "allocate_port", {"service_type": op.service_type, "instance_id": op.instance_id}
        )
        text = result.content[0].text if result.content else ""
        if result.is_error:
            record(op, None, f"MCP tool error: {text}")
        else:
            record(op, json.loads(text), None)

    async def everything() -> None:
        shares = [ops[n::servers] for n in range(servers)]
        await asyncio.gather(*(session_calls(share) for share in shares if share))

    asyncio.run(everything())


def check_leases(doc: Path, home: Path, outcome: Outcome) -> list[str]:
    """Problems between what the flood was told and what the lease file holds afterwards."""
    done = subprocess.run(
        [*STYXY, "list", "--json"], env=environment(doc, home), capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    listed = json.loads(done.stdout)["leases"]
    problems = []
    ports = [lease["port"] for lease in listed]
    if len(set(ports)) != len(ports):
        problems.append(f"ports leased twice: {sorted({p for p in ports if ports.count(p) > 1})}")
    by_lock = {lease["lockId"]: lease for lease in listed}
    for instance, result in outcome.results.items():
        lease = by_lock.get(result["lockId"])
        if lease is None or lease["port"] != result["port"]:
            problems.append(f"{instance} was given port {result['port']}, not in the lease file")
    return problems
