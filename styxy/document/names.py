"""Service type names: the one rule, checked before any file is touched."""

from __future__ import annotations

import re

from styxy.errors import InvalidValueError

# fullmatch, not `$`: `$` would let a trailing newline through.
SERVICE_TYPE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
NAME_RULE = (
    "use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
)


def is_service_type(name: str) -> bool:
    return SERVICE_TYPE.fullmatch(name) is not None


def check_service_type(name: str) -> None:
    """Refuse a name that could break the table or the audit block (`|`, newlines, `<!--`)."""
    if not isinstance(name, str) or not is_service_type(name):
        # repr() keeps newlines and control characters visible and harmless in the message.
        raise InvalidValueError(f"invalid service type {name!r}: {NAME_RULE}")
