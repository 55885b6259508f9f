"""`styxy doctor`: what a person checks first when ports misbehave."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from styxy import paths, ports
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
