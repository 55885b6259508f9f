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

# The tools themselves live in `styxy.agents.mcp_tools`, which imports the SDK and pydantic at
# its top: this module imports it only once the SDK is known to be there, so a missing extra
# is one sentence and the command line's hot path never loads either.

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

INSTRUCTIONS = (
    "Styxy hands out ports on this machine so that agents and people never fight over 3000 or "
    "8000. Before starting any server, call allocate_port with a service type (dev, api, ai, "
    "db, ...) and bind the port it returns. Types marked single-instance (ai by default) run "
    "once per machine: allocate_port then answers existing: true with the port of the running "
    "one, which you should use instead of starting another. Call release_port when a server "
    "you started is stopped."
)
# How an MCP client asks for a new range, in the words of `allocate_port`.
CREATE_HOW = "allocate_port's create: true"


def instructions(doc: str | os.PathLike[str] | None) -> str:
    """The fixed advice, then the document's types as they are when the server starts."""
    from styxy.agents.types_text import RUN_ADVICE, vocabulary_text

    return "\n\n".join([INSTRUCTIONS, vocabulary_text(doc, CREATE_HOW), RUN_ADVICE])


def serve(doc: str | os.PathLike[str] | None = None) -> None:
    """Run the server on stdin/stdout until the client closes it (or a signal ends it)."""
    server = build_server(doc=doc)
    import anyio

    from styxy.agents import mcp_stdio

    mcp_stdio.end_at_once_on_signals()
    anyio.run(mcp_stdio.serve, server)


def build_server(
    doc: str | os.PathLike[str] | None = None, *, holder: int | None = None
) -> MCPServer[Any]:
    """The server with its seven tools; `holder` defaults to this process's parent (the agent)."""
    try:
        from mcp.server.mcpserver import MCPServer
    except ImportError:
        from styxy.api.extras import missing_extra

        raise missing_extra("agents") from None
    from styxy import __version__
    from styxy.agents.mcp_protocol import strict_tool
    from styxy.agents.mcp_tools import TOOLS, Tools
    from styxy.agents.types_text import vocabulary_text

    tools = Tools(doc, os.getppid() if holder is None else holder)
    declared = []
    for spec in TOOLS:
        description = spec.description
        if spec.name == "allocate_port":
            # The types are read once, when the server starts; port_map has them live.
            description += "\n\n" + vocabulary_text(doc, "create: true")
        # The SDK's own Tool objects, with strict, closed arguments, annotations and output
        # schemas (styxy.agents.mcp_protocol).
        declared.append(strict_tool(getattr(tools, spec.name), spec.name, description))
    return _server_class(MCPServer)(
        "styxy",
        version=__version__,
        instructions=instructions(doc),
        log_level="WARNING",
        tools=declared,
    )


def _server_class(base: type[MCPServer[Any]]) -> type[MCPServer[Any]]:
    """The SDK's server, with arguments of the wrong type refused in one sentence too."""
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import ValidationError

    from styxy.agents.mcp_protocol import refusal_of
    from styxy.agents.mcp_tools import refusal

    class StyxyServer(base):  # type: ignore[valid-type,misc]
        async def call_tool(
            self, name: str, arguments: dict[str, Any], context: Any = None
        ) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except ToolError as exc:
                if not isinstance(exc.__cause__, ValidationError):
                    raise
                tool = next(t for t in await self.list_tools() if t.name == name)
                refused = refusal_of(exc.__cause__, list(tool.input_schema["properties"]))
                return refusal(refused.message, refused.code)

    return StyxyServer
