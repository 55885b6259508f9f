"""Placement time against table size, next to the cost of writing the document once.

Run from the repository root:

    python bench/bench_placement.py            # or: PYTHONPATH=. python bench/bench_placement.py

Not a test: it prints a table. For tables of 10, 100, 1,000 and 5,000 rows it times `propose`
with each placement (after, before, smart) and `window_problem`, and in the same run an atomic
write of a document with that many rows (write a temporary file in the same folder, fsync,
rename), the step every auto-allocation pays anyway. The last column is the worst placement
time as a fraction of that write: placement must stay far below it.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from styxy.document.model import Range, Rule, Settings
from styxy.engine.placement import propose, window_problem
from styxy.errors import RefusedError
from styxy.store import atomic
from styxy.system.ports import listening_in

SIZES = (10, 100, 1_000, 5_000)
EPHEMERAL = (32768, 60999)
# Rows fill 1024..31000, below the ephemeral range, so every placement still finds room above.
TABLE_LOW, TABLE_HIGH = 1024, 31000
LISTENING_COUNT = 300
WRITE_REPEATS = 15
FRONT_MATTER = """---
styxy: 1
autoAllocation:
  enabled: true
  defaultChunkSize: 10
  placement: after
  minPortNumber: 10000
  maxPortNumber: 49151
  preserveGaps: true
  gapSize: 10
  requireConfirmation: false
  avoidEphemeral: true
leaseGraceSeconds: 300
---

# Port management

<!-- styxy:ranges -->

| Service type | Start | End | Instances | Preferred | Description |
| -- | -: | -: | -- | -- | -- |
"""


@dataclass(frozen=True)
class Row:
    rows: int
    doc_bytes: int
    after_us: float
    before_us: float
    smart_us: float
    check_us: float
    write_us: float

    @property
    def worst_ratio(self) -> float:
        return max(self.after_us, self.before_us, self.smart_us) / self.write_us


def make_table(rows: int) -> tuple[Range, ...]:
    """`rows` ranges spread evenly over two blocks, half of each slot used.

    One block lies below minPortNumber (its gaps still count), the other from just above it to
    31000; the hole in between gives `before` room, the space above gives `after` room.
    """
    below = rows // 2
    return _block(0, below, TABLE_LOW, 9000) + _block(below, rows - below, 10100, TABLE_HIGH)


def _block(first: int, count: int, low: int, high: int) -> tuple[Range, ...]:
    if count == 0:
        return ()
    slot = (high - low) // count
    width = max(1, slot // 2)
    families = ("svc", "db", "cache", "monitoring", "web")
    return tuple(
        Range(
            f"{families[i % len(families)]}-{first + i}",
            low + i * slot,
            low + i * slot + width - 1,
        )
        for i in range(count)
    )


def render(ranges: tuple[Range, ...]) -> str:
    lines = [
        f"| {r.service_type} | {r.start} | {r.end} | multi | {r.start} | Bench row |\n"
        for r in ranges
    ]
    return FRONT_MATTER + "".join(lines) + "\n<!-- styxy:audit -->\n\n```text\n```\n"


def best_time_us(call: Callable[[], object], budget_s: float = 0.3) -> float:
    """Best per-call time: repeat batches until the budget is spent, keep the fastest batch."""
    call()  # warm up
    batch = 1
    while True:  # grow the batch until one takes >= 5 ms, so the timer's resolution is irrelevant
        began = time.perf_counter()
        for _ in range(batch):
            call()
        elapsed = time.perf_counter() - began
        if elapsed >= 0.005:
            break
        batch *= 2
    best = elapsed / batch
    deadline = time.perf_counter() + budget_s
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        for _ in range(batch):
            call()
        best = min(best, (time.perf_counter() - began) / batch)
    return best * 1e6


def median_write_us(data: bytes, folder: Path) -> float:
    path = folder / "PORT_MANAGEMENT.md"
    samples = []
    for _ in range(WRITE_REPEATS):
        began = time.perf_counter()
        atomic.write_bytes(path, data)  # what styxy does for every document change
        samples.append((time.perf_counter() - began) * 1e6)
    return statistics.median(samples)


def placement_call(
    ranges: tuple[Range, ...], listening: frozenset[int], mode: str
) -> Callable[[], object]:
    settings = Settings(rules=(Rule("monitoring-*", chunk_size=20, preferred_range_start=20000),))
    name = "monitoring-new" if mode == "smart" else "newservice"

    def call() -> object:
        return propose(
            name, ranges, settings, listening=listening, ephemeral=EPHEMERAL, placement=mode
        )

    try:
        call()
    except RefusedError as refused:  # the table is built so that every placement finds room
        raise SystemExit(f"bench table of {len(ranges)} rows refused {mode}: {refused}") from None
    return call


def measure(rows: int, folder: Path, rng: random.Random) -> Row:
    ranges = make_table(rows)
    listening = frozenset(rng.sample(range(TABLE_LOW, 49151), LISTENING_COUNT))
    data = render(ranges).encode()
    settings = Settings()
    return Row(
        rows=rows,
        doc_bytes=len(data),
        after_us=best_time_us(placement_call(ranges, listening, "after")),
        before_us=best_time_us(placement_call(ranges, listening, "before")),
        smart_us=best_time_us(placement_call(ranges, listening, "smart")),
        check_us=best_time_us(
            lambda: window_problem(
                31500, 31509, ranges, settings, listening=listening, ephemeral=EPHEMERAL
            )
        ),
        write_us=median_write_us(data, folder),
    )


def main() -> None:
    rng = random.Random(4)
    header = (
        f"{'rows':>6} {'doc KiB':>8} {'after us':>9} {'before us':>10} {'smart us':>9} "
        f"{'check us':>9} {'write us':>9} {'worst/write':>12}"
    )
    print(
        f"placement with {LISTENING_COUNT} listening ports, "
        f"ephemeral range {EPHEMERAL[0]}-{EPHEMERAL[1]}"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="styxy-bench-") as folder:
        for rows in SIZES:
            r = measure(rows, Path(folder), rng)
            print(
                f"{r.rows:>6} {r.doc_bytes / 1024:>8.1f} {r.after_us:>9.1f} {r.before_us:>10.1f} "
                f"{r.smart_us:>9.1f} {r.check_us:>9.1f} {r.write_us:>9.1f} {r.worst_ratio:>12.3f}"
            )
    # For scale: the transaction also asks the OS which ports listen, once per auto-allocation.
    scan_us = best_time_us(lambda: listening_in(1, 65535), budget_s=0.5)
    print(f"for scale: styxy.system.ports.listening_in(1, 65535) takes {scan_us:.0f} us on this machine")


if __name__ == "__main__":
    main()
