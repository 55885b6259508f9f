"""`styxy mcp`: the Model Context Protocol server on stdio (SPEC section 11).

Built on the official `mcp` SDK's high-level server (`MCPServer`, called FastMCP before mcp 2),
imported only when the server starts, so the command line's hot path never pays for it. Every
tool calls the same `styxy.api` function as the command line and answers with the same JSON as
its `--json`: as structured content, and as text that is exactly that JSON. A refused call is a
tool error (`isError: true`) whose text is the one-sentence message.

Defaults: the instance id is the server's own (`$STYXY_INSTANCE_ID`, as the command line's);
the holder of a lease is the process that started the server, the agent, so a lease lives as
long as the agent does unless released.
"""

# No `from __future__ import annotations` here, on purpose: the SDK reads each tool's
# signature to build its input schema, and the tools' annotations name types that exist only
# inside `build_server` (imported there so the SDK loads only when the server starts). The
# module-level functions spell their SDK types as strings instead.

import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from styxy.errors import EXIT_USAGE, InvalidValueError, StyxyError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import CallToolResult

    from styxy.store.leases import Lease

INSTRUCTIONS = (
    "Styxy hands out ports on this machine so that agents and people never fight over 3000 or "
    "8000. Before starting any server, call allocate_port with a service type (dev, api, ai, "
    "db, ...) and bind the port it returns. Types marked single-instance (ai by default) run "
    "once per machine: allocate_port then answers existing: true with the port of the running "
    "one, which you should use instead of starting another. Call release_port when a server "
    "you started is stopped."
)


def serve(doc: str | os.PathLike[str] | None = None) -> None:
    """Run the server on stdin/stdout until the client closes it."""
    build_server(doc=doc).run("stdio")


def build_server(
    doc: str | os.PathLike[str] | None = None, *, holder: int | None = None
) -> "MCPServer[Any]":
    """The server with its seven tools; `holder` defaults to this process's parent (the agent)."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp_types import CallToolResult
        from pydantic import Field
    except ImportError:
        raise StyxyError(
            "the MCP server needs the MCP SDK: install it with pip install 'styxy[agents]'."
        ) from None
    from styxy import __version__, api

    agent = os.getppid() if holder is None else holder
    server = _server_class(MCPServer)(
        "styxy", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )

    ServiceType = Annotated[
        str,
        Field(
            description="Service type: a row of the port map such as dev, api, ai, db; a new "
            "type gets a range of its own. 1-63 characters of a-z, 0-9, '.', '_', '-'."
        ),
    ]
    OptionalType = Annotated[str | None, Field(description="Service type, e.g. dev or ai.")]
    InstanceId = Annotated[
        str | None,
        Field(
            description="Who the lease is for (a session, a worktree); default: this server's "
            "instance id ($STYXY_INSTANCE_ID)."
        ),
    ]
    Name = Annotated[
        str | None,
        Field(description="Name of the service inside its instance, e.g. web or rag."),
    ]
    Port = Annotated[int | None, Field(description="A port number, 1-65535.")]

    @server.tool(description="Hand out a free port of a service type and lease it. Returns the "
                 "allocate JSON: port, lockId, existing (true when a running single-instance "
                 "service or this identity's lease is reused), reason, autoAllocated, newRange.")
    def allocate_port(
        service_type: ServiceType,
        instance_id: InstanceId = None,
        name: Name = None,
        preferred_port: Annotated[
            int | None, Field(description="Try this port first, if free and in the range.")
        ] = None,
        pid: Annotated[
            int | None,
            Field(
                description="Process that holds the lease; it ends when that process dies. "
                "Default: the agent that started this server."
            ),
        ] = None,
    ) -> CallToolResult:
        return _answer(
            lambda: api.allocate(
                service_type,
                instance_id=instance_id,
                name=name or "",
                port=preferred_port,
                pid=agent if pid is None else pid,
                source="api",
                doc=doc,
                notify=_notify,
            ).to_json()
        )

    @server.tool(description="End leases: give lock_id, or port, or instance_id (optionally "
                 "narrowed by service_type and name) to end all of that instance's leases, or "
                 "service_type [+ name] for this server's instance. Returns "
                 '{"released": [lease, ...]}.')
    def release_port(
        lock_id: Annotated[str | None, Field(description="Lock id from allocate_port.")] = None,
        port: Port = None,
        instance_id: Annotated[
            str | None, Field(description="End every lease of this instance.")
        ] = None,
        service_type: OptionalType = None,
        name: Name = None,
    ) -> CallToolResult:
        return _answer(
            lambda: {
                "released": [
                    lease.to_json()
                    for lease in _release(doc, lock_id, port, instance_id, service_type, name)
                ]
            }
        )

    @server.tool(description='Live leases, optionally of one service type or instance: '
                 '{"leases": [...]}, as `styxy list --json`.')
    def list_ports(
        service_type: OptionalType = None,
        instance_id: Annotated[str | None, Field(description="Only this instance's leases.")] = None,
    ) -> CallToolResult:
        def leases() -> dict[str, Any]:
            found = api.list_leases(doc=doc, notify=_notify)
            return {
                "leases": [
                    item.to_json()
                    for item in found
                    if (service_type is None or item.lease.serviceType == service_type)
                    and (instance_id is None or item.lease.instanceId == instance_id)
                ]
            }

        return _answer(leases)

    @server.tool(description="Is a port free? Returns free, the service type whose range holds "
                 "it, its lease and the processes listening on it, as `styxy check --json`.")
    def check_port(port: Annotated[int, Field(description="A port number, 1-65535.")]) -> CallToolResult:
        return _answer(lambda: api.check(port, doc=doc, notify=_notify).to_json())

    @server.tool(description="Find a running service: by port, or by service_type and/or name "
                 "(optionally of one instance_id). Returns its lease (port, pid, lockId); an "
                 "error when nothing runs.")
    def use_service(
        service_type: OptionalType = None,
        name: Name = None,
        port: Port = None,
        instance_id: Annotated[str | None, Field(description="Only this instance.")] = None,
    ) -> CallToolResult:
        return _answer(
            lambda: api.use(
                port=port,
                service_type=service_type,
                name=name,
                instance_id=instance_id,
                doc=doc,
                notify=_notify,
            ).to_json()
        )

    @server.tool(description="The range a service type has, or the one it would get if "
                 "allocated now (existing: false); writes nothing.")
    def suggest_range(service_type: ServiceType) -> CallToolResult:
        return _answer(lambda: api.suggest_range(service_type, doc=doc, notify=_notify).to_json())

    @server.tool(description="The whole port map: every range with its type, span, instances "
                 "(single or multi), leased, listening and free counts, as `styxy ranges --json`.")
    def port_map() -> CallToolResult:
        return _answer(lambda: api.ranges(doc=doc, notify=_notify).to_json())

    return server


def _server_class(base: type["MCPServer[Any]"]) -> type["MCPServer[Any]"]:
    """The SDK's server, with arguments of the wrong type refused in one sentence too."""
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import ValidationError

    class StyxyServer(base):  # type: ignore[valid-type,misc]
        async def call_tool(
            self, name: str, arguments: dict[str, Any], context: Any = None
        ) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                if not isinstance(exc.__cause__, ValidationError):
                    raise
                return _refusal(_argument_sentence(exc.__cause__), EXIT_USAGE)

    return StyxyServer


def _argument_sentence(error: Any) -> str:
    """`port: input should be a valid integer (got 'abc').` for pydantic's first complaint."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "arguments"
    message = str(first["msg"])
    text = f"{field}: {message[:1].lower()}{message[1:]}"
    if first.get("type") != "missing":
        text += f" (got {first.get('input')!r})"
    return text + "."


def _release(
    doc: str | os.PathLike[str] | None,
    lock_id: str | None,
    port: int | None,
    instance_id: str | None,
    service_type: str | None,
    name: str | None,
) -> "list[Lease]":
    """`styxy release -i I [-s T] [-n N]` for an instance, else `styxy release` of one lease."""
    from styxy import api

    if instance_id is None:
        return [
            api.release(
                lock_id, port=port, service_type=service_type, name=name or "", doc=doc,
                notify=_notify,
            )
        ]
    if lock_id is not None or port is not None:
        raise InvalidValueError(
            "give one of lock_id, port or instance_id (with service_type and name)."
        )
    return api.release_instance(
        instance_id, service_type=service_type, name=name, doc=doc, notify=_notify
    )


def _answer(work: Callable[[], dict[str, Any]]) -> "CallToolResult":
    """The command line's JSON as structured content and as text; a refusal as a tool error."""
    from mcp_types import CallToolResult, TextContent

    try:
        value = work()
    except StyxyError as exc:
        return _refusal(exc.message, exc.exit_code)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return _refusal(f"{exc.strerror or exc}{where}.", 1)
    text = json.dumps(value, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=value)


def _refusal(message: str, code: int) -> "CallToolResult":
    from mcp_types import CallToolResult, TextContent

    return CallToolResult(
        content=[TextContent(type="text", text=message)],
        structured_content={"error": message, "code": code},
        is_error=True,
    )


def _notify(text: str) -> None:
    # stdout carries the protocol: styxy's own lines go to stderr, which clients log.
    from styxy import output

    output.note(text)
