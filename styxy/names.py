"""Checks on names and numbers a user types, cheap enough for the hot path."""

from __future__ import annotations

import re

from styxy.errors import InvalidValueError

SERVICE_TYPE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_IDENTITY_TEXT = re.compile(r"[A-Za-z0-9._@:+/=-]{0,128}")


def check_service_type(name: str) -> str:
    if not SERVICE_TYPE.fullmatch(name):
        raise InvalidValueError(
            f"invalid service type {name!r}: use 1 to 63 characters of a-z, 0-9, '.', '_' "
            "and '-', starting with a letter or digit."
        )
    return name


def check_identity_part(label: str, value: str) -> str:
    """Instance ids and names end up in JSON and in messages, never in Markdown; keep them tame."""
    if not _IDENTITY_TEXT.fullmatch(value):
        raise InvalidValueError(
            f"invalid {label} {value!r}: use at most 128 characters of letters, digits "
            "and . _ @ : + / = -."
        )
    return value


def check_port(port: int, label: str = "port") -> int:
    if not 1 <= port <= 65535:
        raise InvalidValueError(f"{label} {port} is outside 1..65535.")
    return port
