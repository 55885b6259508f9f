"""Agent integration benchmarks (not tests). Run: `python bench/bench_agents.py` (or `just bench`).

Figures measured side by side in this one run:

1. `styxy hook session-end` ending the 20 leases of a session, against `styxy allocate`, both
   on the command line, interleaved (goal: median under 0.5 s, a third of the 1.5 s Claude Code
   gives a SessionEnd hook).
2. One `allocate_port` round trip through `styxy mcp` (the MCP SDK's stdio client and server)
   against an in-process `styxy.allocate`, as a ratio.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

# Run as `python bench/bench_agents.py`: this folder is on the path, and with it the helpers
# of the allocation benchmark.
from bench_allocate import STYXY, fresh_doc


def timed(argv: list[str], env: dict[str, str], stdin: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, input=stdin, text=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def session_end_against_allocate(rounds: int = 11, leases: int = 20) -> None:
    import styxy

    with tempfile.TemporaryDirectory() as tmp:
        doc = fresh_doc(Path(tmp))
        env = {**os.environ, "STYXY_DOC": str(doc)}
        subprocess.run([*STYXY, "allocate", "-s", "dev", "-i", "warm"], check=True, stdout=subprocess.DEVNULL, env=env)
        ends, allocs = [], []
        for n in range(rounds):
            for k in range(leases):
                kind = ("build", "docs", "proxy", "hub")[k % 4]
                styxy.allocate(kind, instance_id=f"claude-s{n}", name=f"n{k}", doc=doc, pid=os.getpid())
            event = json.dumps({"session_id": f"s{n}", "hook_event_name": "SessionEnd", "reason": "other"})
            # Interleaved, so both see the same machine load.
            ends.append(timed([*STYXY, "hook", "session-end"], env, event))
            allocs.append(timed([*STYXY, "allocate", "-s", "monitoring", "-i", f"b{n}"], env))
            left = [x for x in styxy.list_leases(doc=doc) if x.lease.instanceId == f"claude-s{n}"]
            assert not left, "session-end left leases behind"
    e, a = statistics.median(ends), statistics.median(allocs)
    print(
        f"hook session-end ({leases} leases): median {e * 1000:.0f} ms (goal < 500 ms, budget 1500 ms); "
        f"allocate median {a * 1000:.0f} ms; ratio {e / a:.2f}x"
    )


async def _mcp_round_trips(doc: Path, rounds: int) -> list[float]:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=STYXY[0], args=[*STYXY[1:], "mcp"],
        env={"HOME": os.environ.get("HOME", "/tmp"), "PATH": os.environ.get("PATH", ""), "STYXY_DOC": str(doc), "STYXY_INSTANCE_ID": "bench"},
    )
    times = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for n in range(rounds):
            start = time.perf_counter()
            result = await session.call_tool("allocate_port", {"service_type": "build", "name": f"m{n}"})
            times.append(time.perf_counter() - start)
            assert not result.is_error, result
            await session.call_tool("release_port", {"lock_id": result.structured_content["lockId"]})
    return times


def mcp_against_in_process(rounds: int = 100) -> None:
    import styxy

    with tempfile.TemporaryDirectory() as tmp:
        doc = fresh_doc(Path(tmp))
        styxy.allocate("build", instance_id="warm", doc=doc, pid=os.getpid())
        local = []
        for n in range(rounds):
            start = time.perf_counter()
            result = styxy.allocate("build", instance_id="bench", name=f"p{n}", doc=doc, pid=os.getpid())
            local.append(time.perf_counter() - start)
            styxy.release(result.lease.lockId, doc=doc)
        remote = asyncio.run(_mcp_round_trips(doc, rounds))
    m, p = statistics.median(remote), statistics.median(local)
    print(
        f"MCP allocate_port round trip: median {m * 1000:.2f} ms; in-process styxy.allocate "
        f"median {p * 1000:.2f} ms; ratio {m / p:.2f}x"
    )


if __name__ == "__main__":
    session_end_against_allocate()
    mcp_against_in_process()
