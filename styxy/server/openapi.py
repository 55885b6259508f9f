"""The OpenAPI document, generated from the route table and each handler's docstring YAML.

Only the shared shapes (`components`) are written here; the paths, their methods and which of
them need the token come from `routes.ENDPOINTS`, the same table the app is built from.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, get_args

import yaml

from styxy import __version__
from styxy.vocabulary import MAX_PORT, Reason

if TYPE_CHECKING:
    from styxy.server.endpoint import Endpoint

_NULLABLE_INT = {"type": ["integer", "null"]}
_NULLABLE_STR = {"type": ["string", "null"]}
_LEASE = {
    "lockId": {"type": "string"},
    "port": {"type": "integer"},
    "serviceType": {"type": "string"},
    "instanceId": {"type": "string"},
    "name": {"type": "string"},
    "pid": {"type": "integer"},
    "pidStartTime": {"type": ["number", "null"]},
    "createdAt": {"type": "string", "format": "date-time"},
    "source": {"type": "string", "enum": ["cli", "run", "interceptor", "api"]},
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
    "schemas": {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string", "description": "One sentence."}},
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
                "service_type": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$"},
                "instance_id": _NULLABLE_STR,
                "name": _NULLABLE_STR,
                "preferred_port": {**_NULLABLE_INT, "minimum": 1, "maximum": MAX_PORT},
                "pid": {
                    **_NULLABLE_INT,
                    "description": "The holder; without it, the server process holds the lease.",
                },
                "create": {
                    "type": ["boolean", "null"],
                    "description": "Add a new range when service_type is neither a row nor an "
                    "alias (default false: such a type is refused with the list of types).",
                },
            },
        },
        "Allocation": {
            "type": "object",
            "properties": {
                **{key: _LEASE[key] for key in ("port", "lockId", "serviceType")},
                "requestedType": {
                    **_NULLABLE_STR,
                    "description": "The alias asked for, when service_type was one.",
                },
                "instanceId": _LEASE["instanceId"],
                "name": {"type": "string"},
                "pid": {"type": "integer"},
                "existing": {"type": "boolean"},
                "reason": {"enum": [None, *get_args(Reason)]},
                "autoAllocated": {"type": "boolean"},
                "newRange": {"type": ["array", "null"], "items": {"type": "integer"}},
                "placement": _NULLABLE_STR,
                "chunkSize": _NULLABLE_INT,
                "message": _NULLABLE_STR,
            },
        },
        "Lease": {"type": "object", "properties": _LEASE},
        "LeaseStatus": {
            "type": "object",
            "properties": {
                **_LEASE,
                "alive": {"type": "boolean"},
                "process": {**_NULLABLE_STR, "description": "With ?verbose=1 only."},
                "command": {**_NULLABLE_STR, "description": "With ?verbose=1 only."},
            },
        },
        "PortCheck": {
            "type": "object",
            "properties": {
                "port": {"type": "integer"},
                "free": {"type": "boolean"},
                "serviceType": _NULLABLE_STR,
                "lease": {"oneOf": [{"$ref": "#/components/schemas/Lease"}, {"type": "null"}]},
                "listeners": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "pid": _NULLABLE_INT,
                            "process": _NULLABLE_STR,
                            "address": {"type": "string"},
                        },
                    },
                },
            },
        },
        "RangeUsage": {
            "type": "object",
            "properties": {
                "serviceType": {"type": "string"},
                "start": {"type": "integer"},
                "end": {"type": "integer"},
                "instances": {"enum": ["single", "multi"]},
                "leased": {"type": "integer"},
                "listening": {"type": "integer"},
                "free": {"type": "integer"},
                "leasedPorts": {"type": "array", "items": {"type": "integer"}},
                "listeningPorts": {"type": "array", "items": {"type": "integer"}},
            },
        },
    },
    "responses": {
        "BadRequest": _error("Bad JSON, a field of the wrong type, or a bad value or port."),
        "Unauthorized": _error("No token, or not the token in .styxy/token."),
        "NotFound": _error("No such lease."),
        "Refused": _error("Refused: no room, auto-allocation off, a port of another type."),
        "TooLarge": _error("The body is larger than 64 KiB."),
    },
}


def operation(endpoint: Endpoint) -> dict[str, Any]:
    """The handler's docstring YAML (after `---`), plus the token requirement from the table."""
    text = inspect.getdoc(endpoint.handler) or ""
    found = yaml.safe_load(text.split("---", 1)[1]) if "---" in text else None
    result: dict[str, Any] = dict(found) if isinstance(found, dict) else {}
    result.setdefault("summary", text.split("\n", 1)[0])
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
