"""What the vocabulary tests share: an MCP session that keeps what the server said first."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from agents_support import server_env
from support import Styxy, styxy_command


@contextlib.asynccontextmanager
async def session_of(styxy: Styxy, instance_id: str = "agent") -> AsyncIterator[tuple[Any, Any]]:
    """An initialized session with a real `styxy mcp`, and what the server said at initialize."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    command = styxy_command()
    params = StdioServerParameters(
        command=command[0], args=[*command[1:], "mcp"], env=server_env(styxy, instance_id)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        hello = await session.initialize()
        yield session, hello
