"""What a bind() costs with the kernel bind program attached, against the same call without it.

Run as root from the repository root:

    python bench/bench_bpf.py [ITERATIONS]      # default 20000

Not a test: it prints a table. It builds `styxy-bpf` and the C loop `interceptor/bench/
bindbench.c`, makes a document in a temporary folder, attaches the program to a new cgroup
with `styxy interceptor bpf attach`, and runs the same loop side by side outside the cgroup
(not attached) and inside it (attached), then detaches. Cases (bindbench's):

- zero:   port 0, which the program passes at once (the unwatched bind);
- free:   a free port >= 1024: watched (listener lookups on loopback and interface addresses);
- busy:   a held port: EADDRINUSE without the program, a move with it (lookups per candidate,
          maps, ring buffer event), after the first round the same process's replacement;
- repeat: the same held port again and again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = 64


def styxy(doc: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "styxy", "--doc", str(doc), *args],
        capture_output=True, text=True, env=env, check=False,
    )


def loop(argv: list[str], cgroup: Path | None) -> dict[str, tuple[int, int]]:
    if cgroup is not None:
        argv = ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return {name: (int(med), int(mean)) for name, med, mean in (x.split() for x in out.splitlines())}


def main(argv: list[str]) -> int:
    if os.geteuid() != 0:
        raise SystemExit("bench_bpf.py attaches a BPF program: run it as root")
    iterations = int(argv[1]) if len(argv) > 1 else 20000
    sys.path.insert(0, str(ROOT))
    from styxy.api.bpf import cgroup2_mount

    with tempfile.TemporaryDirectory(prefix="styxy-bench-bpf-") as tmp:
        out = Path(tmp)
        subprocess.run(["make", "-s", "-C", str(ROOT / "interceptor"), f"OUT={out}", "bench"], check=True)
        doc = out / "docs" / "PORT_MANAGEMENT.md"
        env = {**os.environ, "HOME": str(out), "STYXY_DATA_DIR": str(out / "data"), "PYTHONPATH": str(ROOT)}
        styxy(doc, "init", env=env)
        made = styxy(doc, "allocate", "-s", "benchbpf", "--json", env=env)
        import json

        first, _last = json.loads(made.stdout)["newRange"]
        styxy(doc, "release", "--port", str(first), env=env)
        mount = cgroup2_mount()
        if mount is None:
            raise SystemExit("no cgroup v2 hierarchy")
        cgroup = mount / f"styxy-bench-{os.getpid()}"
        attached = styxy(doc, "interceptor", "bpf", "attach", "--cgroup", str(cgroup), env=env)
        if attached.returncode != 0:
            raise SystemExit(attached.stderr.strip())
        try:
            base = 20000 + (os.getpid() % 5000)
            command = [str(out / "bindbench"), str(iterations), str(base), str(BUSY)]
            plain = loop(command, None)
            inside = loop(command, cgroup)
            status = styxy(doc, "interceptor", "bpf", "status", "--json", env=env).stdout
        finally:
            styxy(doc, "interceptor", "bpf", "detach", env=env)
            time.sleep(0.1)
    print(f"bind() cost, {iterations} calls per case, median (mean) in microseconds")
    print(f"{'case':<8} {'not attached':>16} {'attached':>16} {'added':>9} {'ratio':>7}")
    for name in ("zero", "free", "busy", "repeat"):
        (p_med, p_mean), (a_med, a_mean) = plain[name], inside[name]
        print(
            f"{name:<8} {p_med / 1000:>7.2f} ({p_mean / 1000:>6.2f}) {a_med / 1000:>7.2f} ({a_mean / 1000:>6.2f})"
            f" {(a_med - p_med) / 1000:>9.2f} {a_med / max(p_med, 1):>6.2f}x"
        )
    print(f"status: {status.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
