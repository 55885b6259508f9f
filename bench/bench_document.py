"""Parse+validate and render time of the document against its size (not a test).

    python bench/bench_document.py [--repeat N]

For 10, 100, 1,000 and 5,000 rows it prints the best of N runs of:
- markdown-it: its block parse alone, the floor under everything else,
- parse+validate: `styxy.document.parse` (markdown-it, YAML, every row check, overlaps),
- render: one new row and one audit line spliced in (`add_range(..., audit=...)`),
and the time per row, so that linear growth shows as a flat per-row column.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from styxy.document import add_range, parse
from styxy.document.markdown import parser
from styxy.document.model import Range
from styxy.document.parse import collector_paused
from styxy.resources import default_document_bytes

SIZES = (10, 100, 1_000, 5_000)
BUDGET = 1.0  # seconds for parse+validate of 5,000 rows (issue 2, item 8)
AUDIT = "2025-09-30T12:00:00Z auto-allocate bench-new 65000-65009 chunk=10 placement=after by=bench@host"


def document(rows: int) -> str:
    """The shipped default with its table replaced by `rows` generated, valid rows."""
    text = default_document_bytes().decode()
    lines = text.split("\n")
    first = next(i for i, line in enumerate(lines) if line.startswith("| dev |"))
    last = max(i for i, line in enumerate(lines) if line.startswith("| ai |"))
    body = [
        f"| svc-{n} | {12000 + n * 10} | {12000 + n * 10 + 9} | multi | "
        f"{12000 + n * 10}, {12000 + n * 10 + 1} | Generated service {n} |"
        for n in range(rows)
    ]
    return "\n".join(lines[:first] + body + lines[last + 1 :])


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _bare_markdown_it(text: str) -> None:
    with collector_paused():  # as parse() runs it, so the column is a fair floor
        parser().parse(text)


def measure(rows: int, repeat: int) -> tuple[float, float, float]:
    """Best times of the bare markdown-it parse, parse+validate, and one render."""
    text = document(rows)
    parsed = parse(text, "bench.md")
    assert len(parsed.document.ranges) == rows
    new_row = Range("bench-new", 65000, 65009, "multi", (), "Auto-allocated 2025-09-30")
    return (
        best(lambda: _bare_markdown_it(text), repeat),
        best(lambda: parse(text, "bench.md"), repeat),
        best(lambda: add_range(parsed, new_row, audit=AUDIT), repeat),
    )


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--repeat", type=int, default=5)
    repeat = options.parse_args().repeat
    parse(document(10), "warm-up")  # imports and the cached parser are not what is measured
    print(
        f"{'rows':>6} {'markdown-it':>12} {'parse+validate':>15} {'per row':>9} {'render':>9}",
        end="",
    )
    print(f" {'per row':>9}")
    reading = 0.0
    for rows in SIZES:
        block, reading, render = measure(rows, repeat)
        print(
            f"{rows:>6} {block * 1e3:>10.1f}ms {reading * 1e3:>13.1f}ms "
            f"{reading / rows * 1e6:>7.1f}us {render * 1e3:>7.2f}ms {render / rows * 1e6:>7.2f}us"
        )
    verdict = "well within" if reading < BUDGET / 2 else "NOT well within"
    print(f"parse+validate of {SIZES[-1]} rows: {reading:.3f}s, {verdict} the {BUDGET:.0f}s budget")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
