"""One `styxy env` with a thousand new types neither grows the document without bound nor
holds the lock for long (SPEC section 18; issue 20 found 45 s under the lock).

At most `autoAllocation.maxNewPerDay` new ranges are made (issue 18's cap); past it the whole
env is refused, all or none, with nothing written. And raised, the cap still costs each new
range one placement under the lock: the registry index and the kernel's listeners are read
once a transaction, not once a range.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from agents_support import run_in
from support import Styxy, styxy_command


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
