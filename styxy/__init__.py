"""Styxy: port coordination for a developer machine.

The public API, for tools that call Styxy in-process::

    import styxy
    lease = styxy.allocate("dev", instance_id="me").lease
    styxy.release(lease.lockId)

Names are loaded on first use so that `import styxy` stays as cheap as the command line needs.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any


__version__ = "0.1.0"

_API = {
    "allocate": "styxy.api",
    "release": "styxy.api",
    "list_leases": "styxy.api",
    "check": "styxy.api",
    "scan": "styxy.api",
    "cleanup": "styxy.api",
    "use": "styxy.api",
    "release_instance": "styxy.api",
    "ranges": "styxy.api",
    "suggest_range": "styxy.api",
    "set_holder": "styxy.api",
    "run": "styxy.api.runner",
    "undo_auto": "styxy.api.config",
    "validate": "styxy.api.config",
    "init": "styxy.api.config",
    "StyxyError": "styxy.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'styxy' has no attribute {name!r}")
