"""IANA registry benchmarks (not tests). Run: `python bench/bench_iana.py [REGISTRY.xml]`.

All figures are measured side by side in this one run against `styxy --version` (the cost of
starting the command at all), so the ratios carry over between machines:

1. `styxy iana import` of IANA's registry copy (../shared/data, 3.8 MB of XML).
2. `styxy iana 5432` and `styxy iana postgresql` reading the imported index, and `styxy iana 5432`
   reading the index shipped inside styxy (no import). None of them reads the XML.
3. In process: parsing the XML, and loading the compact index, each alone.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_allocate import ROOT, STYXY, compile_styxy, wall

NAME = "iana-service-names-port-numbers.xml"
CANDIDATES = (ROOT.parent / "shared" / "data" / NAME, ROOT.parent.parent / "shared" / "data" / NAME)


def registry() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    found = next((path for path in CANDIDATES if path.is_file()), None)
    if found is None:
        raise SystemExit(f"no registry copy at {' or '.join(map(str, CANDIDATES))}; name one")
    return found


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def cli(source: Path, rounds: int = 9) -> None:
    compile_styxy()
    with tempfile.TemporaryDirectory() as tmp:
        imported = {**os.environ, "STYXY_DATA_DIR": str(Path(tmp) / "imported")}
        bare = {**os.environ, "STYXY_DATA_DIR": str(Path(tmp) / "bare")}
        runs: dict[str, list[float]] = {}
        cases = {
            "styxy --version": ([*STYXY, "--version"], imported),
            "styxy iana import REGISTRY": ([*STYXY, "iana", "import", str(source)], imported),
            "styxy iana 5432 (index)": ([*STYXY, "iana", "5432"], imported),
            "styxy iana postgresql (index)": ([*STYXY, "iana", "postgresql"], imported),
            "styxy iana 5432 (shipped index)": ([*STYXY, "iana", "5432"], bare),
        }
        for _ in range(rounds):
            # Interleaved, so every command sees the same machine load.
            for label, (argv, env) in cases.items():
                runs.setdefault(label, []).append(wall(argv, env))
    floor = median_ms(runs["styxy --version"])
    for label, times in runs.items():
        ms = median_ms(times)
        print(f"{label:34s} median {ms:7.1f} ms  {ms / floor:5.2f}x styxy --version")


def in_process(source: Path, rounds: int = 5) -> None:
    from styxy.api import iana_import
    from styxy.system import iana

    data = source.read_bytes()
    parse = []
    for _ in range(rounds):
        start = time.perf_counter()
        iana_import.parse(data, str(source))
        parse.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STYXY_DATA_DIR"] = tmp
        iana_import.import_registry(str(source))
        load, by_port, by_name = [], [], []
        for _ in range(rounds * 4):
            for times, call in ((load, iana.current), (by_port, lambda: iana.lookup("5432")), (by_name, lambda: iana.lookup("postgresql"))):
                start = time.perf_counter()
                call()
                times.append(time.perf_counter() - start)
        size = iana.index_path().stat().st_size
    print(f"in process: parse the XML {median_ms(parse):.0f} ms; load the index ({size / 1e6:.2f} MB) {median_ms(load):.1f} ms")
    print(f"in process: lookup 5432 {median_ms(by_port):.1f} ms; lookup postgresql {median_ms(by_name):.1f} ms (index load included)")


if __name__ == "__main__":
    source = registry()
    cli(source)
    in_process(source)
