"""`styxy doctor`: what a person checks first when ports misbehave."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from styxy import paths
from styxy.errors import StyxyError
from styxy.paths import display
from styxy.system import ports


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
    from styxy.api import config
    from styxy.store import snapshot

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
        interceptor={**_interceptor_status(), "bpf": _bpf_status(where)},
    )


def _bpf_status(where: paths.Paths) -> dict[str, Any]:
    """The kernel bind program (SPEC section 16): attached where, binds watched and moved."""
    from styxy.api import bpf

    try:
        return bpf.status(where).to_json()
    except StyxyError as exc:
        return {"attached": True, "error": str(exc)}


def _interceptor_status() -> dict[str, Any]:
    from styxy.api import interceptor

    try:
        built = str(interceptor.library_path())
    except StyxyError:
        return {
            "status": "not built (run `styxy interceptor build`)",
            "path": None,
            "current": False,
            "active": False,
            "loads": False,
            "loadsReason": "not built",
        }
    current = interceptor.is_current()
    status = f"built at {built}"
    if not current:
        status += " from older source (run `styxy interceptor build --force`)"
    loading = interceptor_loads()
    status += f", {loading.words}"
    return {
        "status": status,
        "path": built,
        "current": current,
        "active": loading.active,
        "loads": loading.loads,
        "loadsReason": loading.reason,
    }


@dataclass(frozen=True)
class Loading:
    """Whether the interceptor really loads: in this shell, or else as `interceptor env` sets it."""

    in_shell: bool  # this shell's LD_PRELOAD names the library (tested as it is)
    loads: bool
    reason: str | None  # why not, when it does not load

    @property
    def active(self) -> bool:
        return self.in_shell and self.loads

    @property
    def words(self) -> str:
        if self.in_shell:
            if self.loads:
                return "active in this shell (loads: yes)"
            return f"set in this shell but does not load (loads: no): {self.reason}"
        if self.loads:
            return "not active in this shell (loads with `styxy interceptor env`: yes)"
        return f"does not load with `styxy interceptor env` (loads: no): {self.reason}"


def interceptor_loads() -> Loading:
    """Start a tiny real program with the LD_PRELOAD that matters and see the library mapped.

    When this shell's LD_PRELOAD names the library (any entry mentioning it, even a path that
    ld.so split at a space), that value is tested; otherwise the value `interceptor env` would
    print. Never "active" on the strength of a string that ld.so cannot load.
    """
    from styxy.api import interceptor

    library = interceptor.library_path().resolve()
    current = os.environ.get("LD_PRELOAD", "")
    named = any(interceptor.LIBRARY_STEM in entry for entry in interceptor.preload_entries(current))
    if named:
        check = interceptor.check_loads(current, library)
        return Loading(in_shell=True, loads=check.loads, reason=check.reason)
    try:
        alias = interceptor.preload_path(library, create=False)
    except StyxyError as exc:
        return Loading(in_shell=False, loads=False, reason=exc.message)
    check = interceptor.check_loads(str(alias), library)
    return Loading(in_shell=False, loads=check.loads, reason=check.reason)
