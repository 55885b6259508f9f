"""Allocation benchmarks (not tests). Run: `python bench/bench_allocate.py` (or `just bench`).

Every figure is a ratio or a rate measured side by side in this one run, so it carries over
between machines better than a bare time would:

1. `styxy allocate` wall time against `python -c "import typer, psutil"` with the same
   interpreter: the floor any typer command with these dependencies pays (goal: <= 1.3x).
2. In-process `styxy.allocate` with 1,000 live leases in the file (goal: median < 2 ms).
3. Allocations per second with 1, 4 and 16 concurrent processes, with a duplicate check.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
STYXY = [str(Path(sys.executable).parent / "styxy")] if (Path(sys.executable).parent / "styxy").exists() else [sys.executable, "-m", "styxy"]


def fresh_doc(folder: Path) -> Path:
    doc = folder / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    return doc


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def compile_styxy() -> None:
    """Write styxy's bytecode like `pip install` does for the dependencies.

    An editable install, or PYTHONDONTWRITEBYTECODE in the environment, would otherwise make
    every run compile styxy from source while the floor loads its dependencies' bytecode.
    """
    import styxy

    package = str(Path(styxy.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)


def cli_against_floor(rounds: int = 15) -> None:
    compile_styxy()
    with tempfile.TemporaryDirectory() as tmp:
        doc = fresh_doc(Path(tmp))
        env = {**os.environ, "STYXY_DOC": str(doc)}
        subprocess.run([*STYXY, "allocate", "-s", "dev", "-i", "warm"], check=True, stdout=subprocess.DEVNULL, env=env)
        floor, cli = [], []
        for n in range(rounds):
            # Interleaved, so both see the same machine load.
            floor.append(wall([sys.executable, "-c", "import typer, psutil"], env))
            cli.append(wall([*STYXY, "allocate", "-s", "dev", "-i", f"b{n % 40}"], env))
    f, c = statistics.median(floor), statistics.median(cli)
    print(f"cli allocate: median {c * 1000:.1f} ms; import floor {f * 1000:.1f} ms; ratio {c / f:.2f}x (goal <= 1.3x)")


def doc_with_leases(folder: Path, count: int) -> Path:
    """A default document in `folder` whose lease file holds `count` young leases of this process."""
    import styxy
    from styxy.records import replace
    from styxy.store import leases

    doc = fresh_doc(folder)
    styxy.allocate("dev", instance_id="warm", doc=doc, pid=os.getpid())
    sidecar = doc.parent / ".styxy" / "leases.json"
    state = leases.load(sidecar)
    now = time.time()
    filler = tuple(
        leases.Lease(leases.new_lock_id(), 20000 + n, "filler", f"f{n}", "", os.getpid(), None, now, "api")
        for n in range(count)
    )
    sidecar.write_bytes(leases.dump(replace(state, leases=state.leases + filler)))
    return doc


def in_process_with_leases(count: int = 1000, rounds: int = 200, *, fsync: bool = True) -> float:
    import styxy

    with tempfile.TemporaryDirectory() as tmp:
        doc = doc_with_leases(Path(tmp), count)
        times = []
        real_fsync = os.fsync
        if not fsync:
            # Only to show how much of the time is the disk's: styxy itself always fsyncs.
            os.fsync = lambda fd: None
        for n in range(rounds):
            start = time.perf_counter()
            result = styxy.allocate("dev", instance_id=f"i{n}", doc=doc, pid=os.getpid())
            times.append(time.perf_counter() - start)
            styxy.release(result.lease.lockId, doc=doc)
        os.fsync = real_fsync
    med = statistics.median(times)
    label = "" if fsync else " (fsync skipped)"
    print(f"in-process allocate with {count} leases{label}: median {med * 1000:.2f} ms (goal < 2 ms), p90 {sorted(times)[int(rounds * 0.9)] * 1000:.2f} ms")
    return med


def flat_cost(count: int = 1000, rounds: int = 150) -> float:
    """In-process allocate+release with `count` leases against none, interleaved (goal <= 1.5).

    Two documents side by side, one round on each in turn, so both see the same machine load.
    """
    import styxy

    with tempfile.TemporaryDirectory() as tmp:
        docs = []
        for n_leases in (0, count):
            folder = Path(tmp) / f"with-{n_leases}"
            folder.mkdir()
            docs.append(doc_with_leases(folder, n_leases))
        times: list[list[float]] = [[], []]
        for n in range(rounds):
            for which, doc in enumerate(docs):
                start = time.perf_counter()
                result = styxy.allocate("dev", instance_id=f"i{n}", doc=doc, pid=os.getpid())
                styxy.release(result.lease.lockId, doc=doc)
                times[which].append(time.perf_counter() - start)
    none, many = (statistics.median(x) for x in times)
    print(
        f"in-process allocate+release: {none * 1000:.2f} ms with 0 leases, {many * 1000:.2f} ms "
        f"with {count}; ratio {many / none:.2f} (goal <= 1.5)"
    )
    return many / none


def throughput(workers: int, per_worker: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        doc = fresh_doc(Path(tmp))
        env = {**os.environ, "STYXY_DOC": str(doc)}
        subprocess.run([*STYXY, "allocate", "-s", "api", "-i", "warm"], check=True, stdout=subprocess.DEVNULL, env=env)
        script = (
            "import styxy, os, sys\n"
            f"for n in range({per_worker}):\n"
            "    print(styxy.allocate('api', instance_id=f'w{sys.argv[1]}-{n}', pid=os.getppid()).lease.port)\n"
        )
        start = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", script, str(w)], stdout=subprocess.PIPE, text=True, env=env) for w in range(workers)]
        ports = [int(p) for proc in procs for p in proc.communicate()[0].split()]
        elapsed = time.perf_counter() - start
        assert all(proc.returncode == 0 for proc in procs)
    dupes = len(ports) - len(set(ports))
    print(f"throughput with {workers:2d} processes: {len(ports) / elapsed:7.1f} allocations/s, {dupes} duplicates")


if __name__ == "__main__":
    cli_against_floor()
    with_disk = in_process_with_leases()
    compute = in_process_with_leases(fsync=False)
    print(f"  share of the median spent in fsync: {(with_disk - compute) / with_disk:.0%}")
    in_process_with_leases(0, 100)
    flat_cost()
    for w in (1, 4, 16):
        throughput(w, per_worker=max(2, 80 // w) if w > 1 else 40)
