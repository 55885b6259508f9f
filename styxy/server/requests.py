"""Reading what a client sends: the body (at most 64 KiB, counted while it arrives), its JSON,
and the typed fields of each route. Every refusal is an `HttpError` with one sentence."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

MAX_BODY = 64 * 1024


class HttpError(Exception):
    """A request refused before the core is called: a status code and one sentence."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def json_object(request: Request) -> dict[str, Any]:
    body = await _body(request)
    try:
        # UTF-8 only (RFC 8259); json.loads would guess UTF-16 or UTF-32 from the first bytes.
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"the body is not UTF-8 (byte {exc.start}).") from None
    from styxy.api.files import loads_request
    from styxy.errors import InvalidValueError

    try:
        # Nesting and integer sizes bounded before anything is built (SPEC section 17).
        value = loads_request(text, "the body") if text.strip() else None
    except InvalidValueError as exc:
        raise HttpError(400, exc.message) from None
    except ValueError as exc:
        raise HttpError(400, f"the body is not valid JSON ({_reason(exc)}).") from None
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object, e.g. {\"service_type\": \"dev\"}.")
    return value


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    # Counted as it arrives too: a chunked body has no Content-Length to trust.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large()
    return bytes(body)


def _too_large() -> HttpError:
    return HttpError(413, f"the body is larger than {MAX_BODY // 1024} KiB.")


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)


def fields(value: dict[str, Any], known: dict[str, tuple[type, bool]]) -> dict[str, Any]:
    """The fields of `value`, each of its declared type (`bool` is not an integer here).

    `known` maps a field to (type, required); a missing optional field or a null is None.
    """
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise HttpError(
            400, f"unknown field {unknown[0]!r}; the fields are {', '.join(sorted(known))}."
        )
    found: dict[str, Any] = {}
    for key, (kind, required) in known.items():
        item = value.get(key)
        if item is None:
            if required:
                raise HttpError(400, f"the field {key!r} is required.")
        elif (isinstance(item, bool) and kind is not bool) or not isinstance(item, kind):
            raise HttpError(
                400, f"the field {key!r} must be {_kind_name(kind)}, not {_json_kind(item)}."
            )
        found[key] = item
    return found


def _kind_name(kind: type) -> str:
    return {int: "an integer", str: "a string", bool: "true or false"}.get(kind, kind.__name__)


def _json_kind(item: Any) -> str:
    if isinstance(item, bool):
        return "a boolean"
    if isinstance(item, (int, float)):
        return "a number"
    if isinstance(item, str):
        return "a string"
    if isinstance(item, list):
        return "an array"
    return "an object"


def port_in_path(text: str) -> int:
    from styxy.names import shown, whole_number

    if not text.isascii() or not text.isdigit():
        raise HttpError(400, f"port {shown(text)} is not a whole number.")
    port = whole_number(text)
    if port is None:  # longer than any number styxy reads: surely not a port
        raise HttpError(400, f"port {shown(text)} is outside 1..65535.")
    return port
