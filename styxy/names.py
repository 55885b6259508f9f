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
        # repr() keeps newlines and control characters visible and harmless in the message;
        # shown() cuts a long value, so 5,000 characters typed are not 5,000 said back.
        raise ArgumentError(f"invalid service type {refusals.shown(name)}: {NAME_RULE}.")
    return name


def check_identity_part(label: str, value: str) -> str:
    """Instance ids and names end up in JSON and in messages, never in Markdown; keep them tame."""
    if not _IDENTITY_TEXT.fullmatch(value):
        raise ArgumentError(
            f"invalid {label} {refusals.shown(value)}: use at most 128 characters of letters, digits "
            "and . _ @ : + / = -."
        )
    return value


# The most digits a number styxy reads may have (the largest it needs, a lease's pid or a
# time, has 10): Python refuses to convert more than 4,300 at all, and a number that long is
# never a port, a count or a process id.
MAX_DIGITS = 20


def whole_number(text: str) -> int | None:
    """The value of `text` when it is a whole number of ASCII digits (at most MAX_DIGITS)."""
    if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS:
        return int(text)
    return None


def shown_digits(text: str) -> str:
    """A number as written, or its first digits and how many there are when it is too long."""
    if len(text) <= MAX_DIGITS:
        return text
    return f"{text[:10]}... ({len(text)} digits)"


def check_port(port: int, param: str = "port") -> int:
    """A port the caller passed as the parameter `param` (`preferred_port`, `start`, ...)."""
    return refusals.port(Param(param), port)
