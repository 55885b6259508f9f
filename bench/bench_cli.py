"""The command line against a bare interpreter and against its peers, side by side (SPEC 21).

Run: `python bench/bench_cli.py [--rounds N] [--peers-venv DIR]` (or `just bench`), with the
interpreter of the environment where styxy is installed. Not a test.

Every round runs each case once, one after the other in a rotating order, so each sees the same
moment of a shared machine; the table gives each case's median wall time, and the median over
the rounds of its ratio to the other case measured in the same round (per-pair ratios, which
carry over between machines and loads better than times do). The cases:

- `python -c pass`: a bare interpreter start, the floor of any Python command line;
- `python -c "import typer, psutil"`: the design card's own packages, imported and nothing done;
- the peers, installed from PyPI by pip into a throw-away venv: `port-for NAME` (a new name
  each round: it finds a free port and stores it in /etc/port-for.conf, which is put back as it
  was afterwards) and `portman assign SERVICE --app APP` (a new service each round, registry in a
  temporary HOME);
- styxy's hot commands on a temporary copy of the default document: `allocate` (a new instance
  each round: a new lease, two files written with fsync), `release` of that lease, `check` of a
  free and of a leased port, `list`, `env` in a project of two services (ports found again, as
  direnv's `eval "$(styxy env)"` on every `cd`), and `hook session-start` / `session-end`.

The goal (SPEC section 21): every styxy case within 3.5x the bare interpreter and at most 0.8x
the median of the peers; the ratio to each peer is shown too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
PORT_FOR_CONF = Path("/etc/port-for.conf")
GOAL_BARE = 3.5
GOAL_PEER = 0.8


def styxy_command() -> list[str]:
    """The console script, as a user runs it; `python -m styxy` when there is none."""
    script = Path(sys.executable).parent / "styxy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "styxy"]


def compile_styxy() -> None:
    """Write styxy's bytecode as `pip install` does for every dependency (and the peers).

    An editable install, or PYTHONDONTWRITEBYTECODE in the environment, would otherwise make
    every run compile styxy from source while everything it is compared with loads bytecode.
    """
    import styxy

    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(Path(styxy.__file__).parent)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def peers_venv(folder: Path) -> Path:
    """A venv holding port-for and portman from PyPI, made with pip; its bin folder."""
    bin_dir = folder / "bin"
    if not (bin_dir / "port-for").exists() or not (bin_dir / "portman").exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", "port-for", "portman"],
            check=True,
        )
        subprocess.run(
            [str(bin_dir / "python"), "-m", "compileall", "-q", str(folder / "lib")],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return bin_dir


class Case:
    """One command measured every round: `argv(round)` and what it reads on stdin."""

    def __init__(self, label: str, argv, stdin=None, env=None, cwd=None) -> None:
        self.label = label
        self.argv = argv
        self.stdin = stdin
        self.env = env
        self.cwd = cwd
        self.times: list[float] = []
        self.cpu: list[float] = []  # user + system time of the child

    def run(self, n: int, env: dict[str, str]) -> None:
        data = self.stdin(n).encode() if self.stdin else None
        before = _children_cpu()
        start = time.perf_counter()
        done = subprocess.run(
            self.argv(n),
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**env, **(self.env or {})},
            cwd=self.cwd,
        )
        elapsed = time.perf_counter() - start
        self.cpu.append(_children_cpu() - before)
        if done.returncode not in (0, 1) or (done.returncode == 1 and "check" not in self.label):
            raise SystemExit(f"{self.label} failed ({done.returncode}): {done.stderr.decode()}")
        self.times.append(elapsed)


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def cases(tmp: Path, peers: Path | None) -> tuple[list[Case], list[Case], list[Case]]:
    """(floors, peers, styxy's commands)."""
    styxy = styxy_command()
    doc = tmp / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    project = tmp / "project"
    project.mkdir()
    (project / "styxy.toml").write_text(
        '[services.web]\ntype = "dev"\n[services.api]\ntype = "api"\n', encoding="utf-8"
    )
    session = {"session_id": "bench", "cwd": str(project), "hook_event_name": "SessionStart"}
    floors = [
        Case("python -c pass", lambda n: [sys.executable, "-c", "pass"]),
        Case(
            'python -c "import typer, psutil"',
            lambda n: [sys.executable, "-c", "import typer, psutil"],
        ),
    ]
    others = []
    if peers is not None:
        if os.access(PORT_FOR_CONF.parent, os.W_OK):
            others.append(Case("port-for NAME", lambda n: [str(peers / "port-for"), f"styxy-bench-{n}"]))
        else:
            print(f"(port-for left out: it writes {PORT_FOR_CONF}, which this user cannot)")
        others.append(
            Case(
                "portman assign SERVICE --app APP",
                lambda n: [str(peers / "portman"), "assign", f"svc{n}", "--app", "styxy-bench"],
            )
        )
    mine = [
        Case("styxy allocate -s dev -i NEW", lambda n: [*styxy, "allocate", "-s", "dev", "-i", f"b{n}"]),
        Case("styxy release -s dev -i NEW", lambda n: [*styxy, "release", "-s", "dev", "-i", f"b{n}"]),
        Case("styxy check FREE_PORT", lambda n: [*styxy, "check", "3098"]),
        Case("styxy check LEASED_PORT", lambda n: [*styxy, "check", str(held_port)]),
        Case("styxy list", lambda n: [*styxy, "list"]),
        Case("styxy env (project of 2)", lambda n: [*styxy, "env"], cwd=project),
        Case(
            "styxy hook session-start",
            lambda n: [*styxy, "hook", "session-start"],
            stdin=lambda n: json.dumps(session),
            env={"CLAUDE_ENV_FILE": str(tmp / "claude-env")},
        ),
        Case(
            "styxy hook session-end",
            lambda n: [*styxy, "hook", "session-end"],
            stdin=lambda n: json.dumps({**session, "hook_event_name": "SessionEnd"}),
        ),
    ]
    # A lease held by this process (alive all along) on a port nothing listens on.
    held = subprocess.run(
        [*styxy, "allocate", "-s", "api", "-i", "held", "--pid", str(os.getpid())],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "STYXY_DOC": str(doc)},
    )
    held_port = int(held.stdout)
    return floors, others, mine


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def table(floors: list[Case], others: list[Case], mine: list[Case]) -> str:
    """Wall time (what a user waits for) and its per-pair ratios; then CPU time, which a
    shared machine's load disturbs less, and its ratio to the bare interpreter's."""
    bare = floors[0]
    peers = _peers_median(others)
    lines = [
        "| command | median | x bare | "
        + " | ".join(f"x {peer.label.split()[0]}" for peer in others)
        + (" | x peers' median" if others else "")
        + " | CPU | CPU x bare |",
        "| -- | -: | -: |" + " -: |" * (len(others) + bool(others)) + " -: | -: |",
    ]
    for case in [*floors, *others, *mine]:
        ratios = [_pair(case.times, bare.times)] + [_pair(case.times, p.times) for p in others]
        if others:
            ratios.append(_pair(case.times, peers))
        lines.append(
            f"| `{case.label}` | {statistics.median(case.times) * 1000:.1f} ms | "
            + " | ".join(f"{r:.2f}x" for r in ratios)
            + f" | {statistics.median(case.cpu) * 1000:.1f} ms"
            + f" | {_pair(case.cpu, bare.cpu):.2f}x |"
        )
    return "\n".join(lines)


def _peers_median(others: list[Case]) -> list[float]:
    """Per round, the median of the peers' times (SPEC 21 compares with the peers' median)."""
    return [statistics.median(times) for times in zip(*(p.times for p in others), strict=True)]


def _pair(times: list[float], base: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(times, base, strict=True))


def verdict(floors: list[Case], others: list[Case], mine: list[Case]) -> list[str]:
    found = []
    for case in mine:
        bare = _pair(case.times, floors[0].times)
        each = [f"{_pair(case.times, p.times):.2f}x {p.label.split()[0]}" for p in others]
        median = _pair(case.times, _peers_median(others)) if others else 0.0
        ok = bare <= GOAL_BARE and median <= GOAL_PEER
        found.append(
            f"{'ok  ' if ok else 'MISS'} {case.label}: {bare:.2f}x bare (goal {GOAL_BARE}x), "
            f"{median:.2f}x the peers' median (goal {GOAL_PEER}x; {', '.join(each)})"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--peers-venv", type=Path, help="reuse (or make) the peers' venv here")
    parser.add_argument("--no-peers", action="store_true", help="leave port-for and portman out")
    args = parser.parse_args()
    compile_styxy()
    with tempfile.TemporaryDirectory(prefix="styxy-bench-cli-") as name:
        tmp = Path(name)
        peers = None
        if not args.no_peers:
            peers = peers_venv(args.peers_venv or tmp / "peers")
        home = tmp / "home"
        home.mkdir()
        env = {
            **os.environ,
            "HOME": str(home),
            "STYXY_DOC": str(tmp / "PORT_MANAGEMENT.md"),
            "NO_COLOR": "1",
        }
        for key in ("STYXY_INSTANCE_ID", "CLAUDE_INSTANCE_ID", "LD_PRELOAD", "STYXY_CACHE"):
            env.pop(key, None)
        saved = PORT_FOR_CONF.read_bytes() if PORT_FOR_CONF.exists() else None
        floors, others, mine = cases(tmp, peers)
        everything = [*floors, *others, *mine]
        before = load()
        try:
            for case in everything:  # warm the page cache and the lease file once
                case.run(-1, env)
                case.times.clear()
                case.cpu.clear()
            # `release` ends the lease `allocate` made in the same round: one unit.
            units = [[case] for case in everything if case not in mine[:2]] + [mine[:2]]
            for n in range(args.rounds):
                # Rotate the order, so no case always runs right after the same neighbour.
                shift = n % len(units)
                for unit in units[shift:] + units[:shift]:
                    for case in unit:
                        case.run(n, env)
        finally:
            if saved is None:
                PORT_FOR_CONF.unlink(missing_ok=True)
            elif PORT_FOR_CONF.read_bytes() != saved:
                PORT_FOR_CONF.write_bytes(saved)
        after = load()
    print(f"machine: {machine()}")
    print(f"load average (1, 5, 15 min): {before} before, {after} after; {args.rounds} rounds")
    print()
    print(table(floors, others, mine))
    print()
    print("\n".join(verdict(floors, others, mine)))


if __name__ == "__main__":
    main()
