"""JSON Schemas of what the front ends answer: the records' JSON (the command line's `--json`)
and the one shape of a refusal. The OpenAPI document and the MCP tools' output schemas are
both built from these, so a field is described once.

The schemas of results name every field they always carry (`required`) and leave room for
fields a later version adds; the refusal is closed.
"""

from __future__ import annotations

from typing import Any

from styxy.names import SERVICE_TYPE_PATTERN
from styxy.vocabulary import CHOSEN_PLACEMENTS, INSTANCES, MAX_PID, MAX_PORT, REASONS, SOURCES

Schema = dict[str, Any]

PORT: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_PORT}
PID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_PID}
SERVICE_TYPE: Schema = {"type": "string", "pattern": SERVICE_TYPE_PATTERN}
_TEXT: Schema = {"type": "string"}
_NULLABLE_TEXT: Schema = {"type": ["string", "null"]}
_NULLABLE_INT: Schema = {"type": ["integer", "null"]}


def _object(properties: Schema, required: list[str] | None = None) -> Schema:
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
    }


LEASE = _object(
    {
        "lockId": _TEXT,
        "port": PORT,
        "serviceType": _TEXT,
        "instanceId": _TEXT,
        "name": _TEXT,
        "pid": PID,
        "pidStartTime": {"type": ["number", "null"]},
        "createdAt": {"type": "string", "format": "date-time"},
        "source": {"enum": list(SOURCES)},
    }
)
_NULLABLE_LEASE: Schema = {"anyOf": [LEASE, {"type": "null"}]}

LEASE_STATUS = _object(
    {
        **LEASE["properties"],
        "alive": {"type": "boolean"},
        "process": {**_NULLABLE_TEXT, "description": "HTTP with ?verbose=1 only."},
        "command": {**_NULLABLE_TEXT, "description": "HTTP with ?verbose=1 only."},
    },
    required=[*LEASE["required"], "alive"],
)

# A lease's URLs (SPEC 22): its name behind `styxy proxy` and its port as it is now.
URLS: Schema = {
    "url": {
        **_NULLABLE_TEXT,
        "description": "The name's URL behind `styxy proxy` "
        "(http://NAME.INSTANCE.localhost:1355/); null for a lease without a name.",
    },
    "directUrl": {**_TEXT, "description": "http://localhost:PORT/"},
    "proxied": {"type": "boolean", "description": "Whether a styxy proxy runs now."},
}
# `styxy use --json` and MCP `use_service`: the running service's lease with its URLs.
SERVICE = _object({**LEASE["properties"], **URLS})
# A row of the dashboard's `GET /allocations`: the lease's status with its URLs, and whether
# it is the lease of the server answering (which that server will not release).
_THIS_SERVER: Schema = {
    "thisServer": {
        "type": "boolean",
        "description": "Whether this is the answering styxy serve's lease of its own port.",
    }
}
SERVED_LEASE_STATUS = _object(
    {**LEASE_STATUS["properties"], **URLS, **_THIS_SERVER},
    required=[*LEASE_STATUS["required"], *URLS, *_THIS_SERVER],
)

ALLOCATION = _object(
    {
        "port": PORT,
        "lockId": _TEXT,
        "serviceType": _TEXT,
        "requestedType": {
            **_NULLABLE_TEXT,
            "description": "The alias asked for, when service_type was one.",
        },
        "instanceId": _TEXT,
        "name": _TEXT,
        "pid": PID,
        "existing": {"type": "boolean"},
        "reason": {"enum": [None, *REASONS]},
        "autoAllocated": {"type": "boolean"},
        "newRange": {
            "type": ["array", "null"],
            "items": PORT,
            "minItems": 2,
            "maxItems": 2,
        },
        "placement": {"enum": [None, *CHOSEN_PLACEMENTS]},
        "chunkSize": _NULLABLE_INT,
        "message": _NULLABLE_TEXT,
    }
)

LISTENER = _object({"pid": _NULLABLE_INT, "process": _NULLABLE_TEXT, "address": _TEXT})
IANA_ASSIGNMENT = _object(
    {
        "service": _TEXT,
        "protocol": _TEXT,
        "port": {"type": "integer", "minimum": 0, "maximum": MAX_PORT},
        "lastPort": {"type": "integer", "minimum": 0, "maximum": MAX_PORT},
        "description": _TEXT,
        "category": _TEXT,
    }
)

PORT_CHECK = _object(
    {
        "port": PORT,
        "free": {"type": "boolean"},
        "serviceType": _NULLABLE_TEXT,
        "lease": _NULLABLE_LEASE,
        "listeners": {"type": "array", "items": LISTENER},
        "iana": {"type": "array", "items": IANA_ASSIGNMENT},
    }
)

RANGE_USAGE = _object(
    {
        "serviceType": _TEXT,
        "start": PORT,
        "end": PORT,
        "instances": {"enum": list(INSTANCES)},
        "leased": {"type": "integer", "minimum": 0},
        "listening": {"type": "integer", "minimum": 0},
        "free": {"type": "integer", "minimum": 0},
    }
)

RANGES = _object({"ranges": {"type": "array", "items": RANGE_USAGE}})
LEASES = _object({"leases": {"type": "array", "items": LEASE_STATUS}})
RELEASED = _object({"released": {"type": "array", "items": LEASE}})

RANGE_SUGGESTION = _object(
    {
        "serviceType": SERVICE_TYPE,
        "range": {"type": "array", "items": PORT, "minItems": 2, "maxItems": 2},
        "placement": {"enum": [None, *CHOSEN_PLACEMENTS]},
        "chunkSize": {"type": "integer", "minimum": 1},
        "existing": {"type": "boolean"},
    }
)

REFUSAL: Schema = {
    "type": "object",
    "required": ["error", "code"],
    "additionalProperties": False,
    "properties": {
        "error": {"type": "string", "description": "One sentence."},
        "code": {
            "enum": [1, 2],
            "description": "The command line's exit code for the same refusal: 2 the "
            "caller's mistake (a usage error), 1 refused.",
        },
    },
}


def or_refusal(result: Schema) -> Schema:
    """A tool's output schema: its result, or the refusal a tool error carries."""
    return {"type": "object", "anyOf": [result, REFUSAL]}


__all__ = [
    "ALLOCATION",
    "LEASE",
    "LEASES",
    "LEASE_STATUS",
    "PID",
    "PORT",
    "PORT_CHECK",
    "RANGES",
    "RANGE_SUGGESTION",
    "RANGE_USAGE",
    "REFUSAL",
    "RELEASED",
    "SERVED_LEASE_STATUS",
    "SERVICE",
    "SERVICE_TYPE",
    "URLS",
    "or_refusal",
]
