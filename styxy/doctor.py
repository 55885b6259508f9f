"""`styxy doctor`: what a person checks first when ports misbehave."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from styxy import paths, ports
from styxy.paths import display


@dataclass(frozen=True)
class DoctorPaths:
    document: str
    sidecar: str
    leases: str
    cache: str


@dataclass(frozen=True)
class DoctorReport:
    """What `styxy doctor` found; `to_json()` is its `--json` shape."""

    paths: DoctorPaths
    valid: bool
    diagnostics: tuple[str, ...]
    live: int
    stale: int
    ephemeral_range: tuple[int, int] | None
    interceptor: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        eph = self.ephemeral_range
        return {
            "paths": asdict(self.paths),
            "document": {"valid": self.valid, "diagnostics": list(self.diagnostics)},
            "leases": {"live": self.live, "stale": self.stale},
            "ephemeralRange": f"{eph[0]}-{eph[1]}" if eph else None,
            "interceptor": dict(self.interceptor),
        }


def report(
    *, doc: str | os.PathLike[str] | None = None, notify: Callable[[str], None]
) -> DoctorReport:
    from styxy import config, snapshot

    where = paths.resolve(doc)
    # Read-only and lock-free; the leases are counted even while the document has errors.
    seen = snapshot.load(where)
    for note in seen.notes:
        notify(note)
    diagnostics = config.validate([], doc=doc)
    valid = not any(not d.warning for d in diagnostics)
    stale = len(seen.stale())
    live = len(seen.state.leases) - stale
    return DoctorReport(
        paths=DoctorPaths(
            document=display(where.doc),
            sidecar=display(where.sidecar),
            leases=display(where.leases),
            cache=display(where.cache),
        ),
        valid=valid,
        diagnostics=tuple(str(d) for d in diagnostics),
        live=live,
        stale=stale,
        ephemeral_range=ports.ephemeral_range(),
        interceptor=_interceptor_status(),
    )


def _interceptor_status() -> dict[str, Any]:
    from styxy import interceptor
    from styxy.errors import StyxyError

    try:
        built = str(interceptor.library_path())
    except StyxyError:
        return {
            "status": "not built (run `styxy interceptor build`)",
            "path": None,
            "current": False,
        }
    active = built in os.environ.get("LD_PRELOAD", "")
    current = interceptor.is_current()
    status = f"built at {built}"
    if not current:
        status += " from older source (run `styxy interceptor build --force`)"
    if active:
        status += ", active in this shell"
    return {"status": status, "path": built, "current": current}
