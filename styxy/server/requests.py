"""Reading what a client sends: the body (at most 64 KiB, counted while it arrives), its JSON
(at most 64 levels deep, integers of at most 20 digits), and the typed fields of each route.
A malformed request is a `UsageError` (400, code 2) in the words of `styxy.refusals`; one
refused before it is read (too large, no token) an `HttpError` with its own status."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from styxy import refusals
from styxy.api.files import MAX_JSON_DEPTH, MAX_JSON_DIGITS, loads_request
from styxy.errors import EXIT_USAGE, InvalidValueError, Param, UsageError

MAX_BODY = 64 * 1024
MAX_DEPTH = MAX_JSON_DEPTH
MAX_DIGITS = MAX_JSON_DIGITS


class HttpError(Exception):
    """A request refused before its fields are read: a status, one sentence and the `code`
    the command line would exit with for it."""

    def __init__(self, status: int, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


async def json_object(request: Request) -> dict[str, Any]:
    body = await _body(request)
    try:
        # UTF-8 only (RFC 8259); json.loads would guess UTF-16 or UTF-32 from the first bytes.
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the body is not UTF-8 (byte {exc.start}).") from None
    value = parse(text) if text.strip() else None
    if not isinstance(value, dict):
        raise UsageError("the body must be a JSON object, e.g. {\"service_type\": \"dev\"}.")
    return value


def parse(text: str) -> Any:
    """JSON with bounds: nesting that would exhaust the parser's stack and numbers that would
    cost seconds to convert are refused before they are built (the store's one bounded reader
    of what clients send, as the hooks read their events)."""
    try:
        return loads_request(text, "the body")
    except InvalidValueError as exc:
        raise UsageError(exc.message) from None
    except ValueError as exc:
        raise UsageError(f"the body is not valid JSON ({_reason(exc)}).") from None


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    # Counted as it arrives too: a chunked body has no Content-Length to trust.
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise _too_large()
    except ClientDisconnect:
        # Closed half-way, by the client or by the deadline of `styxy.server.guard`: the
        # answer reaches no one, but it is an answer, not an internal error.
        raise UsageError("the connection closed before the body arrived whole.") from None
    return bytes(body)


def _too_large() -> HttpError:
    return HttpError(413, f"the body is larger than {MAX_BODY // 1024} KiB.")


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def fields(value: dict[str, Any], known: dict[str, tuple[refusals.Check, bool]]) -> dict[str, Any]:
    """The fields of `value`, each passed through its check (`bool` is not an integer here).

    `known` maps a field to (check, required); a missing optional field or a null is None.
    """
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise refusals.unknown(unknown[0], known)
    found: dict[str, Any] = {}
    for key, (check, required) in known.items():
        item = value.get(key)
        if item is None:
            if required:
                raise refusals.missing(Param(key))
        else:
            item = check(Param(key), item)
        found[key] = item
    return found


def port_in_path(text: str) -> int:
    digits = text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS
    return refusals.port(Param("port"), int(text) if digits else text)
