"""Checks on names and numbers a user types, cheap enough for the hot path."""

from __future__ import annotations

import re

from styxy import refusals
from styxy.errors import ArgumentError, Param

# fullmatch, not `$`: `$` would let a trailing newline through.
SERVICE_TYPE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# The same rules as JSON Schema patterns, for the OpenAPI document and the MCP tools.
SERVICE_TYPE_PATTERN = f"^{SERVICE_TYPE.pattern}$"
NAME_RULE = (
    "use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
)
_IDENTITY_TEXT = re.compile(r"[A-Za-z0-9._@:+/=-]{0,128}")
IDENTITY_PATTERN = f"^{_IDENTITY_TEXT.pattern}$"


def is_service_type(name: str) -> bool:
    return SERVICE_TYPE.fullmatch(name) is not None


def check_service_type(name: str) -> str:
    """Refuse a name that could break the table or the audit block (`|`, newlines, `<!--`)."""
    if not isinstance(name, str) or not is_service_type(name):
        # repr() keeps newlines and control characters visible and harmless in the message.
        raise ArgumentError(f"invalid service type {name!r}: {NAME_RULE}.")
    return name


def check_identity_part(label: str, value: str) -> str:
    """Instance ids and names end up in JSON and in messages, never in Markdown; keep them tame."""
    if not _IDENTITY_TEXT.fullmatch(value):
        raise ArgumentError(
            f"invalid {label} {value!r}: use at most 128 characters of letters, digits "
            "and . _ @ : + / = -."
        )
    return value


def check_port(port: int, param: str = "port") -> int:
    """A port the caller passed as the parameter `param` (`preferred_port`, `start`, ...)."""
    return refusals.port(Param(param), port)
