"""`styxy doctor`: what a person checks first when ports misbehave."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from styxy import paths, ports
from styxy.errors import StyxyError
from styxy.paths import display


def report(
    *, doc: str | os.PathLike[str] | None = None, notify: Callable[[str], None]
) -> dict[str, Any]:
    from styxy import config
    from styxy.transaction import stale_leases, transaction

    where = paths.resolve(doc)
    diagnostics = config.validate([], doc=where.doc) if where.doc.exists() else []
    valid = not any(not d.warning for d in diagnostics)
    live = stale = 0
    if valid:
        with transaction(where) as txn:
            for note in txn.notes:
                notify(note)
            txn.dry_run = True  # doctor looks; it does not reap
            state = txn._loaded
            grace = txn.document.settings.lease_grace_seconds
            stale = len(stale_leases(state, grace))
            live = len(state.leases) - stale
    eph = ports.ephemeral_range()
    return {
        "paths": {
            "document": display(where.doc),
            "sidecar": display(where.sidecar),
            "leases": display(where.leases),
            "cache": display(where.cache),
        },
        "document": {"valid": valid, "diagnostics": [str(d) for d in diagnostics]},
        "leases": {"live": live, "stale": stale},
        "ephemeralRange": f"{eph[0]}-{eph[1]}" if eph else None,
        "interceptor": _interceptor_status(),
    }


def _interceptor_status() -> dict[str, Any]:
    from styxy import interceptor

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
    from styxy import interceptor

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
