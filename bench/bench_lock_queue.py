"""The lock queue under a flood (not a test). Run: `python bench/bench_lock_queue.py [SIZES...]`.

SPEC section 18: 1,000 concurrent operations, command line, HTTP and MCP mixed (and in-process
calls), new types among them, on this machine: 0 failures, 0 duplicate ports. For each size
(100, 300 and 1,000 by default) a fresh document gets the flood of `tests/mixed_load.py`:
half the operations are `styxy allocate` processes (one in five of them for a type the
document has never seen), the rest go to one `styxy serve`, four `styxy mcp` servers and
eight threads calling `styxy.allocate`, all at once. Reported per size: failures, ports given
twice (fresh leases and the lease file), wall time and operations per second.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mixed_load import check_leases, flood, flood_document

SIZES = (100, 300, 1000)


def one(total: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="styxy-flood-") as tmp:
        doc = flood_document(Path(tmp))
        home = Path(tmp) / "home"
        home.mkdir()
        outcome = flood(doc, home, total)
        problems = check_leases(doc, home, outcome)
    print(
        f"{total:>5} operations: {len(outcome.failures)} failures, "
        f"{len(outcome.duplicates())} duplicate ports, {len(problems)} lease-file problems, "
        f"{outcome.seconds:6.1f} s, {total / outcome.seconds:5.1f} operations/s"
    )
    for line in [*outcome.failures[:5], *problems[:5]]:
        print(f"      {line}")
    return not outcome.failures and not outcome.duplicates() and not problems


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or list(SIZES)
    print(f"lock queue flood on {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    results = [one(size) for size in sizes]
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
