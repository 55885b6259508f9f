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
    from styxy.transaction import Transaction, run_change, stale_leases

    where = paths.resolve(doc)
    diagnostics = config.validate([], doc=where.doc) if where.doc.exists() else []
    valid = not any(not d.warning for d in diagnostics)
    live = stale = 0
    if valid:

        def look(txn: Transaction) -> tuple[int, int]:
            # The leases as stored, before this transaction reaped: doctor looks, it does not.
            grace = txn.document.settings.lease_grace_seconds
            gone = len(stale_leases(txn.loaded, grace))
            return len(txn.loaded.leases) - gone, gone

        live, stale = run_change(where, look, notify=notify, dry_run=True)
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
