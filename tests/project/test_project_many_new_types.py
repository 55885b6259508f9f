"""One `styxy env` with a thousand new types neither grows the document without bound nor
holds the lock for long (SPEC section 18; issue 20 found 45 s under the lock).

At most `autoAllocation.maxNewPerDay` new ranges are made (issue 18's cap); past it the whole
env is refused, all or none, with nothing written. And raised, the cap still costs each new
range one placement under the lock: the registry index and the kernel's listeners are read
once a transaction, not once a range.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from agents_support import run_in
from support import DEFAULT_DOC, Styxy, styxy_command


def _project(tmp_path: Path, count: int) -> Path:
    project = tmp_path / "many"
    project.mkdir()
    # Names that differ only in their digits are never near misses of each other.
    body = "".join(f'[services.s{n}]\ntype = "kind{n:04d}"\n' for n in range(count))
    (project / "styxy.toml").write_text(body)
    return project


def test_a_thousand_new_types_are_refused_at_the_cap_quickly_and_write_nothing(
    styxy: Styxy, tmp_path: Path
) -> None:
    assert styxy("allocate", "-s", "dev", "-i", "warm").code == 0
    before = styxy.snapshot()
    project = _project(tmp_path, 1000)
    started = time.monotonic()
    done = run_in(styxy, project, "env", timeout=120)
    seconds = time.monotonic() - started
    assert done.code == 1
    assert done.err == (
        "styxy: no new range for 'kind0010': 10 new ranges were added in the last 24 hours, the "
        "most autoAllocation.maxNewPerDay (10) allows; remove unwanted ones with `styxy config "
        "undo-auto`, or raise the limit with `styxy config set auto-allocation.max-new-per-day "
        "N`.\n"
    )
    assert styxy.snapshot() == before  # all or none: not one of the ten rows stays
    assert seconds < 30, seconds


def test_with_the_cap_raised_a_hundred_new_types_are_made_in_one_env(
    styxy: Styxy, tmp_path: Path
) -> None:
    assert styxy("config", "set", "auto-allocation.max-new-per-day", "1000").code == 0
    project = _project(tmp_path, 100)
    started = time.monotonic()
    env = subprocess.run(
        [*styxy_command(), "env"], cwd=project, text=True, capture_output=True, timeout=300,
        env={**styxy.env, "STYXY_DOC": str(styxy.doc)},
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert env.returncode == 0, env.stderr
    assert seconds < 60, seconds  # 100 placements; each read the registry index again before
    out = env.stdout
    assert out.count("_PORT=") == 100
    text = styxy.doc.read_text()
    assert all(f"\n| kind{n:04d} |" in text for n in range(100))
    assert styxy("validate").code == 0


def test_a_thousand_new_types_are_made_in_one_env_in_seconds(styxy: Styxy, tmp_path: Path) -> None:
    """Placed one after another and written in one splice: the document is parsed once, not
    once a row (1,000 parses of a growing document took 45 s under the lock)."""
    assert styxy("config", "set", "auto-allocation.max-new-per-day", "1000").code == 0
    project = _project(tmp_path, 1000)
    started = time.monotonic()
    done = run_in(styxy, project, "env", timeout=300)
    seconds = time.monotonic() - started
    assert done.code == 0, done.err
    ports = [line.split("=")[1] for line in done.out.splitlines() if "_PORT=" in line]
    assert len(ports) == len(set(ports)) == 1000
    assert done.err.count("styxy: Auto-allocated range ") == 1000
    text = styxy.doc.read_text()
    assert all(f"\n| kind{n:04d} |" in text for n in range(1000))
    assert styxy("validate", "--strict").code == 0
    assert seconds < 20, seconds


def _without_times(text: str) -> str:
    """The document with its audit lines' times and dates taken out (two runs differ there)."""
    return re.sub(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\dZ)?", "DATE", text)


def _both_ways(tmp_path: Path, names: list[str]) -> list[object]:
    """What `allocate_all` of `names` (one transaction) and one `allocate` after another
    leave: the document without its times, the ports, the ranges made, or the refusal."""
    from styxy import api
    from styxy.api import config
    from styxy.errors import StyxyError

    outcomes: list[object] = []
    for way in ("together", "one-by-one"):
        folder = tmp_path / way
        folder.mkdir()
        doc = folder / "PORT_MANAGEMENT.md"
        shutil.copyfile(DEFAULT_DOC, doc)
        config.set_value("auto-allocation.max-new-per-day", "100", doc=doc)
        before = doc.read_text()
        identities = [(name, f"i{n}", "") for n, name in enumerate(names)]
        try:
            if way == "together":
                got = api.allocate_all(identities, pid=os.getpid(), doc=doc)
            else:
                got = [
                    api.allocate(t, instance_id=i, name=n, pid=os.getpid(), doc=doc)
                    for t, i, n in identities
                ]
        except StyxyError as exc:
            outcomes.append((type(exc).__name__, str(exc), doc.read_text() == before))
            continue
        created = [(x.lease.serviceType, x.new_range) for x in got if x.auto_allocated]
        outcomes.append((_without_times(doc.read_text()), [x.lease.port for x in got], created))
    return outcomes


def test_one_env_writes_what_one_allocate_after_another_writes(tmp_path: Path) -> None:
    together, one_by_one = _both_ways(tmp_path, [f"kind{n:02d}" for n in range(25)] + ["kind03"])
    assert together == one_by_one
    assert isinstance(together, tuple)
    assert len(together[2]) == 25  # kind03 twice: one range, made for the first


def test_a_name_that_nearly_spells_a_type_made_before_it_is_refused_both_ways(
    tmp_path: Path,
) -> None:
    together, one_by_one = _both_ways(tmp_path, ["gizmo", "gizmos"])
    assert together == (
        "UnknownTypeError",
        "unknown service type 'gizmos'; did you mean 'gizmo'? To add a new range named "
        "'gizmos', pass --new-type.",
        True,  # all or none: not even gizmo's row
    )
    # One at a time, gizmo's row was written by the command before the refused one.
    assert one_by_one == (*together[:2], False)
