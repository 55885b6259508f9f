"""The OpenAPI document, generated from the route table and each handler's docstring YAML.

Only the shared shapes (`components`) are written here; the paths, their methods and which of
them need the token come from `routes.ENDPOINTS`, the same table the app is built from.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml

from styxy import __version__
from styxy.api import schemas
from styxy.names import IDENTITY_PATTERN
from styxy.vocabulary import MAX_PID, MAX_PORT

if TYPE_CHECKING:
    from styxy.server.endpoint import Endpoint

_NULLABLE_INT = {"type": ["integer", "null"]}
_NULLABLE_STR = {"type": ["string", "null"]}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
    "schemas": {
        # The records' JSON, shared with the MCP tools' output schemas (styxy.api.schemas).
        "Error": schemas.REFUSAL,
        "Lease": schemas.LEASE,
        "LeaseStatus": schemas.SERVED_LEASE_STATUS,
        "Allocation": schemas.ALLOCATION,
        "PortCheck": schemas.PORT_CHECK,
        "RangeUsage": {
            **schemas.RANGE_USAGE,
            "properties": {
                **schemas.RANGE_USAGE["properties"],
                "leasedPorts": {"type": "array", "items": schemas.PORT},
                "listeningPorts": {"type": "array", "items": schemas.PORT},
            },
        },
        "Status": {
            "type": "object",
            "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
        },
        "AllocateRequest": {
            "type": "object",
            "required": ["service_type"],
            "additionalProperties": False,
            "properties": {
                "service_type": schemas.SERVICE_TYPE,
                "instance_id": {**_NULLABLE_STR, "pattern": IDENTITY_PATTERN},
                "name": {**_NULLABLE_STR, "pattern": IDENTITY_PATTERN},
                "preferred_port": {**_NULLABLE_INT, "minimum": 1, "maximum": MAX_PORT},
                "pid": {
                    **_NULLABLE_INT,
                    "minimum": 1,
                    "maximum": MAX_PID,
                    "description": "The holder; without it, the server process holds the lease.",
                },
                "create": {
                    "type": ["boolean", "null"],
                    "description": "Add a new range when service_type is neither a row nor an "
                    "alias (default false: such a type is refused with the list of types).",
                },
            },
        },
    },
    "responses": {
        "BadRequest": _error(
            "Code 2: bad JSON (over 64 levels deep, an integer over 20 digits), an unknown "
            "field or query parameter, a field of the wrong type, or a bad value or port."
        ),
        "Unauthorized": _error("Code 1: no token, or not the token in .styxy/token."),
        "Forbidden": _error("Code 1: a Host that is not this server's loopback name."),
        "NotFound": _error("Code 1: no such lease."),
        "MethodNotAllowed": _error("Code 2: the route exists, with another method."),
        "Refused": _error(
            "Code 1: refused: no room, auto-allocation off, a port of another type, a document "
            "or lease file that cannot be used, the server's own lease."
        ),
        "TooLarge": _error("Code 2: the body is larger than 64 KiB."),
        "Busy": _error("Code 1: another process held styxy's lock for too long."),
    },
}

# What every route can answer besides its own: a foreign Host (before anything else), another
# method than its own, and, unless it is public, a missing token.
_EVERY_ROUTE = {
    "403": {"$ref": "#/components/responses/Forbidden"},
    "405": {"$ref": "#/components/responses/MethodNotAllowed"},
}
_WITH_TOKEN = {"401": {"$ref": "#/components/responses/Unauthorized"}}
_CHECKED_QUERY = {"400": {"$ref": "#/components/responses/BadRequest"}}


def operation(endpoint: Endpoint) -> dict[str, Any]:
    """The handler's docstring YAML (after `---`), plus the token requirement from the table."""
    text = inspect.getdoc(endpoint.handler) or ""
    found = yaml.safe_load(text.split("---", 1)[1]) if "---" in text else None
    result: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
    result.setdefault("summary", text.split("\n", 1)[0])
    result["responses"] = {
        # A query parameter the route does not read is refused (styxy.server.app._with_query).
        **({} if endpoint.query is None else _CHECKED_QUERY),
        **result.get("responses", {}),
        **_EVERY_ROUTE,
        **({} if endpoint.public else _WITH_TOKEN),
    }
    result["operationId"] = endpoint.handler.__name__
    result["security"] = [] if endpoint.public else [{"token": []}]
    return result


def document(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Styxy",
            "version": __version__,
            "description": "Port leases on this machine. Loopback only; every route but "
            "/status and the dashboard needs `Authorization: Bearer <token>`.",
        },
        "security": [{"token": []}],
        "paths": paths,
        "components": COMPONENTS,
    }
