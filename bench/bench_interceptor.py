"""What a bind() costs with libstyxy-intercept.so loaded, against the same call without it.

Run from the repository root:

    python bench/bench_interceptor.py [ITERATIONS]      # default 20000

Not a test: it prints a table. It builds the library and the C loop `interceptor/bench/
bindbench.c` into a temporary folder (`make -C interceptor`), writes a cache with one `dev`
range, and runs the same loop twice side by side, without and with LD_PRELOAD. The loop times
the bind() call alone (socket() and close() are outside the clock) for three cases:

- free:   a free port. This is what nearly every program pays: goal under 1 us added.
- busy:   a held port. Without the library: the kernel's EADDRINUSE. With it: a full move (cache
          stat, range scan, one stderr line, one journal line). Goal: under 20 us.
- repeat: the same held port again and again: the library's per-process map hands back the
          previous replacement (twin sockets, a server re-binding its port).

The library's stderr lines go to /dev/null, as they cost the same there as anywhere cheap.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from styxy.store import cache

ROOT = Path(__file__).resolve().parents[1]
BUSY = 64  # above the library's 32-slot map, so each busy bind is a new move
RANGE = 200


def free_block(size: int) -> int:
    """A base port whose whole block is free on 127.0.0.1 now (below the ephemeral range)."""
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, 30000 - size)
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise SystemExit("no free block of ports between 20000 and 30000")


def run_loop(
    binary: Path, iterations: int, base: int, env: dict[str, str]
) -> dict[str, tuple[int, int]]:
    result = subprocess.run(
        [str(binary), str(iterations), str(base), str(BUSY)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        check=True,
    )
    rows = (line.split() for line in result.stdout.splitlines())
    return {name: (int(median), int(mean)) for name, median, mean in rows}


def main(argv: list[str]) -> int:
    iterations = int(argv[1]) if len(argv) > 1 else 20000
    with tempfile.TemporaryDirectory(prefix="styxy-bench-") as tmp:
        out = Path(tmp)
        subprocess.run(
            ["make", "-s", "-C", str(ROOT / "interceptor"), f"OUT={out}", "lib", "bench"],
            check=True,
        )
        base = free_block(BUSY + 1 + RANGE)
        cache_path = out / "cache.bin"
        dev = cache.CacheRange("dev", base + BUSY + 1, base + BUSY + RANGE, False)
        cache.write_atomic(
            cache_path,
            cache.encode(
                ranges=[dev], leases=[], detect=[], meta=b"{}", doc_crc=0, doc_size=0, generation=1
            ),
        )
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("LD_PRELOAD",) and not k.startswith("STYXY_")
        }
        plain = run_loop(out / "bindbench", iterations, base, env)
        loaded = run_loop(
            out / "bindbench",
            iterations,
            base,
            {
                **env,
                "LD_PRELOAD": str(out / "libstyxy-intercept.so"),
                "STYXY_CACHE": str(cache_path),
            },
        )
        moves = len((out / "journal").read_text().splitlines()) if (out / "journal").exists() else 0
    print(f"bind() cost, {iterations} calls per case, median (mean) in microseconds")
    print(f"{'case':<8} {'without':>16} {'with library':>16} {'added':>9} {'ratio':>7}")
    for name in ("free", "busy", "repeat"):
        (p_med, p_mean), (l_med, l_mean) = plain[name], loaded[name]
        print(
            f"{name:<8} {p_med / 1000:>7.2f} ({p_mean / 1000:>6.2f}) {l_med / 1000:>7.2f} ({l_mean / 1000:>6.2f})"
            f" {(l_med - p_med) / 1000:>9.2f} {l_med / max(p_med, 1):>6.2f}x"
        )
    print(f"moves journaled: {moves}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
