"""Where the shipped files are: inside the wheel (`styxy/_data`) or, in a checkout, at the top.

The wheel force-includes `templates/`, `interceptor/` and the default document under
`styxy/_data/`; an editable install or a plain checkout reads them from the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_IN_WHEEL = _PACKAGE / "_data"
_IN_CHECKOUT = {
    "templates": _PACKAGE.parent / "templates",
    "interceptor": _PACKAGE.parent / "interceptor",
    "PORT_MANAGEMENT.md": _PACKAGE.parent / "docs" / "CORE" / "PORT_MANAGEMENT.md",
}


def shipped(name: str) -> Path:
    """Path of a shipped resource: `templates`, `interceptor` or `PORT_MANAGEMENT.md`."""
    packaged = _IN_WHEEL / name
    if packaged.exists():
        return packaged
    return _IN_CHECKOUT[name]


def default_document_bytes() -> bytes:
    return shipped("PORT_MANAGEMENT.md").read_bytes()
