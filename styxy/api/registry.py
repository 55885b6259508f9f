"""IANA's assignments as the front ends look them up (`styxy iana`, `check`'s mention).

The lookups themselves live in the system layer; this door keeps the front ends off it.
"""

from __future__ import annotations

from styxy.system.iana import (
    IANA_URL,
    Assignment,
    Lookup,
    category_text,
    describe,
    lookup,
    names_at,
)

__all__ = [
    "IANA_URL",
    "Assignment",
    "Lookup",
    "category_text",
    "describe",
    "lookup",
    "names_at",
]
