"""A large lease file (not a test). Run: `python bench/bench_leases.py [LEASES]` (default 10,000).

Issue 13 point 13 measured `list --json` at 14.5 s and `allocate` at 3.2 s with 200,000 leases.
The lease file is now bounded (MAX_LIVE_LEASES live leases, HISTORY_LIMIT remembered ports);
this measures the two commands on the command line at 10,000 live leases, all held by one live
process so nothing is reaped, and the same commands on an empty lease file for scale.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
STYXY = (
    [str(Path(sys.executable).parent / "styxy")]
    if (Path(sys.executable).parent / "styxy").exists()
    else [sys.executable, "-m", "styxy"]
)
# A range wide enough for every lease: 20000-39999 lies between the default rows and the
# usual ephemeral range.
BIG_ROW = "| bulk | 20000 | 39999 | multi |  | Benchmark leases |\n"


def document(folder: Path) -> Path:
    doc = folder / "PORT_MANAGEMENT.md"
    text = DEFAULT_DOC.read_text()
    anchor = next(line for line in text.splitlines(keepends=True) if line.startswith("| dev |"))
    doc.write_text(text.replace(anchor, anchor + BIG_ROW, 1))
    return doc


def lease_file(doc: Path, count: int, holder: int) -> None:
    import psutil

    started = psutil.Process(holder).create_time()
    now = time.time()
    rows = [
        [os.urandom(8).hex(), 20000 + i, "bulk", f"instance-{i}", "", holder, started, now, "cli"]
        for i in range(count)
    ]
    sidecar = doc.parent / ".styxy"
    sidecar.mkdir(mode=0o700, exist_ok=True)
    from styxy.store.leases import FIELDS

    body = {"version": 1, "fields": FIELDS, "leases": rows, "history": []}
    (sidecar / "leases.json").write_text(json.dumps(body, separators=(",", ":")) + "\n")


def timed(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - began


def measure(count: int, rounds: int) -> dict[str, float]:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            doc = document(Path(tmp))
            env = {**os.environ, "STYXY_DOC": str(doc)}
            subprocess.run([*STYXY, "cleanup"], check=True, stdout=subprocess.DEVNULL, env=env)
            lease_file(doc, count, holder.pid)
            size = (doc.parent / ".styxy" / "leases.json").stat().st_size
            # Warm the cache and the page cache once.
            subprocess.run(
                [*STYXY, "list", "--json"], check=True, stdout=subprocess.DEVNULL, env=env
            )
            listing, allocating = [], []
            for n in range(rounds):
                listing.append(timed([*STYXY, "list", "--json"], env))
                allocating.append(
                    timed(
                        [
                            *STYXY,
                            "allocate",
                            "-s",
                            "dev",
                            "-i",
                            f"bench-{n}",
                            "--pid",
                            str(holder.pid),
                        ],
                        env,
                    )
                )
                subprocess.run(
                    [*STYXY, "release", "-s", "dev", "-i", f"bench-{n}"],
                    check=True, stdout=subprocess.DEVNULL, env=env,
                )  # fmt: skip
            return {
                "list": statistics.median(listing),
                "allocate": statistics.median(allocating),
                "bytes": float(size),
            }
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = 7
    empty = measure(0, rounds)
    full = measure(count, rounds)
    print(f"lease file at {count:,} leases: {full['bytes'] / 1e6:.1f} MB")
    print(f"{'command':<24}{'0 leases':>12}{f'{count:,} leases':>16}")
    for key, label in (("list", "styxy list --json"), ("allocate", "styxy allocate")):
        print(f"{label:<24}{empty[key] * 1000:>10.0f} ms{full[key] * 1000:>14.0f} ms")


if __name__ == "__main__":
    main()
