"""What each MCP tool declares beyond its signature, and strict arguments held to it.

The SDK builds a tool's argument model from the function's signature, and that model, left
as it is, coerces (`"3010"` becomes 3010, `true` becomes 1) and drops arguments it does not
know. Here each tool is registered as the SDK's own `Tool`, built by `Tool.from_function`,
with that model made strict (`strict=True`: no coercion) and closed (`extra="forbid"`, which
is `additionalProperties: false` in the input schema); the bounds and patterns come from the
signature's `Field`s. Each tool also declares a title, its hints (read-only, idempotent,
destructive) and an output schema: its result or the refusal a tool error carries
(`styxy.api.schemas`).

A call whose arguments fail the model is refused in the words of `styxy.refusals`, the same
sentence and code the command line and the HTTP API give for the same mistake.

Imported only once the SDK is known to be installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import ToolAnnotations
from pydantic import ConfigDict, Field, ValidationError, create_model

from styxy import names, refusals
from styxy.api import schemas
from styxy.errors import Param, StyxyError, UsageError
from styxy.names import SERVICE_TYPE_PATTERN
from styxy.vocabulary import MAX_PID, MAX_PORT


@dataclass(frozen=True)
class Declared:
    """A tool's title, hints and the schema of its result."""

    title: str
    output: schemas.Schema
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True


DECLARED = {
    "allocate_port": Declared(
        "Allocate a port", schemas.ALLOCATION, read_only=False, idempotent=True
    ),
    "release_port": Declared(
        "Release ports", schemas.RELEASED, read_only=False, destructive=True, idempotent=True
    ),
    "list_ports": Declared("List leased ports", schemas.LEASES),
    "check_port": Declared("Check a port", schemas.PORT_CHECK),
    "use_service": Declared("Find a running service", schemas.SERVICE),
    "suggest_range": Declared("Suggest a range for a service type", schemas.RANGE_SUGGESTION),
    "port_map": Declared("Show the port map", schemas.RANGES),
}


def strict_tool(function: Callable[..., Any], name: str, description: str) -> Tool:
    """The SDK's tool for `function`, with strict, closed arguments and its declarations."""
    declared = DECLARED[name]
    tool = Tool.from_function(
        function,
        name=name,
        title=declared.title,
        description=description,
        annotations=ToolAnnotations(
            title=declared.title,
            read_only_hint=declared.read_only,
            destructive_hint=declared.destructive,
            idempotent_hint=declared.idempotent,
            # Every tool works on this machine's files and sockets, nothing beyond.
            open_world_hint=False,
        ),
        structured_output=False,
    )
    model = strict_model(tool.fn_metadata.arg_model)
    return tool.model_copy(
        update={
            "fn_metadata": FuncMetadata(
                arg_model=model, output_schema=schemas.or_refusal(declared.output)
            ),
            "parameters": model.model_json_schema(by_alias=True),
        }
    )


# The bounds of a parameter, by its name in every tool: one rule for a port wherever it is
# asked for, written into the input schema and checked by the model.
BOUNDS: dict[str, Any] = {
    "port": Field(ge=1, le=MAX_PORT),
    "preferred_port": Field(ge=1, le=MAX_PORT),
    "pid": Field(ge=1, le=MAX_PID),
    "service_type": Field(pattern=SERVICE_TYPE_PATTERN),
}


def strict_model(model: type[ArgModelBase]) -> type[ArgModelBase]:
    """`model` with its parameters' bounds, that coerces nothing and refuses arguments it does
    not declare."""
    bounded: dict[str, Any] = {
        name: (Annotated[info.annotation, info, BOUNDS[name]], info.default)
        for name, info in model.model_fields.items()
        if name in BOUNDS
    }
    base = create_model(model.__name__, __base__=model, **bounded) if bounded else model
    config = ConfigDict(extra="forbid", strict=True)
    made: type[ArgModelBase] = type(
        model.__name__, (base,), {"model_config": config, "__module__": model.__module__}
    )
    return made


def _service_type(name: refusals.Name, value: object) -> str:
    return names.check_service_type(refusals.text(name, value))


# How each parameter is checked, by its name in every tool: the checks whose sentences a
# refusal uses (a parameter not named here is text).
CHECKS: dict[str, refusals.Check] = {
    "port": refusals.port,
    "preferred_port": refusals.port,
    "pid": refusals.pid,
    "create": refusals.boolean,
    "service_type": _service_type,
}


def refusal_of(error: ValidationError, known: list[str]) -> StyxyError:
    """The refusal for arguments the strict model did not accept: its first complaint, said
    as every front end says it."""
    first = error.errors()[0]
    where = [str(part) for part in first["loc"]]
    field = where[0] if where else "arguments"
    if first["type"] == "extra_forbidden":
        return refusals.unknown(field, known)
    if first["type"] == "missing":
        return refusals.missing(Param(field))
    try:
        CHECKS.get(field, refusals.text)(Param(field), first.get("input"))
    except StyxyError as exc:
        return exc
    message = str(first["msg"])
    return UsageError(Param(field), f" is not accepted: {message[:1].lower()}{message[1:]}.")


__all__ = ["CHECKS", "DECLARED", "Declared", "refusal_of", "strict_model", "strict_tool"]
