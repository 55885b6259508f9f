"""The stdio transport of `styxy mcp`: the SDK's own, with its two silences filled.

- A line that is not JSON, or JSON that is not a JSON-RPC message, reaches the SDK's server
  as an exception it logs and drops, so the client waits for an answer that never comes.
  Here it is answered with a JSON-RPC error: -32700 (parse error) or -32600 (invalid
  request), with the request's id when one can be read from it, else null.
- The SDK cancels the requests still running when stdin ends, so a client that writes its
  requests and closes stdin (`printf ... | styxy mcp`) got no answer to the last one, whose
  change (a lease) was made all the same. Here the end of stdin reaches the SDK only once
  every request read has been answered (or after `DRAIN_SECONDS`).
- SIGINT and SIGTERM end the server at once. The SDK reads stdin in a worker thread that a
  cancellation cannot interrupt, so Python's KeyboardInterrupt would wait for the next line;
  the default action of both signals ends the process where it stands. That is safe here:
  every change is a transaction whose files are replaced atomically under a lock the kernel
  releases with the process, and a temporary file left behind is swept by the next command.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from pydantic import ValidationError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

# Once stdin has ended, how long the requests still running may take to answer: a change
# waits at most 30 seconds for the lock, then answers either way.
DRAIN_SECONDS = 60.0


def end_at_once_on_signals() -> None:
    """SIGINT and SIGTERM take their default action (unless the parent chose to ignore them)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, signal.SIG_DFL)


async def serve(server: MCPServer[Any]) -> None:
    """Serve `server` on stdin and stdout until the client closes stdin."""
    lowlevel = server._lowlevel_server  # the SDK's run_stdio_async does the same
    async with stdio_server() as (read_stream, write_stream):
        relay, relayed = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        answers, answered = anyio.create_memory_object_stream[SessionMessage](0)
        running: set[object] = set()  # the ids of requests read and not answered yet

        async def answer_what_cannot_be_read() -> None:
            async with relay:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(refusal(item)))
                        continue
                    message = item.message
                    if isinstance(message, JSONRPCRequest):
                        running.add(message.id)
                    elif isinstance(message, JSONRPCNotification) and (
                        message.method == "notifications/cancelled"
                    ):
                        running.discard((message.params or {}).get("requestId"))
                    await relay.send(item)
                with anyio.move_on_after(DRAIN_SECONDS):
                    while running:
                        await anyio.sleep(0.01)

        async def write_answers() -> None:
            async with write_stream, answered:
                async for item in answered:
                    if isinstance(item.message, JSONRPCResponse | JSONRPCError):
                        running.discard(item.message.id)
                    await write_stream.send(item)

        async with anyio.create_task_group() as group:
            group.start_soon(answer_what_cannot_be_read)
            group.start_soon(write_answers)
            await lowlevel.run(relayed, answers, lowlevel.create_initialization_options())


def refusal(problem: Exception) -> JSONRPCError:
    """The JSON-RPC error for a line the SDK could not read as a message.

    The SDK's reader raises pydantic's ValidationError: `json_invalid` for a line that is not
    JSON, else one error per kind of message it tried, each holding the value it looked at.
    """
    errors = problem.errors() if isinstance(problem, ValidationError) else []
    if not errors or any(error["type"] == "json_invalid" for error in errors):
        return _error(None, PARSE_ERROR, "Parse error: the line is not JSON.")
    found = next(
        (error["input"]["id"] for error in errors
         if isinstance(error.get("input"), dict) and "id" in error["input"]),
        None,
    )
    request_id = found if isinstance(found, str | int) and not isinstance(found, bool) else None
    return _error(
        request_id,
        INVALID_REQUEST,
        "Invalid request: not a JSON-RPC 2.0 request, notification or response object.",
    )


def _error(request_id: str | int | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))
