"""Helpers of the agent tests: `styxy mcp` driven by the MCP SDK's own stdio client, and Claude
Code's hook events.

No conftest.py here (it would shadow the top-level one); tests import from this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from support import Result, Styxy, styxy_command

MCP_TIMEOUT = 120  # seconds for a whole conversation with a server, on a loaded machine


def server_env(styxy: Styxy, instance_id: str) -> dict[str, str]:
    """What the SDK's client passes to the server: a private HOME, the document, the instance."""
    return {
        "HOME": str(styxy.home),
        "PATH": os.environ.get("PATH", ""),
        "NO_COLOR": "1",
        "STYXY_DOC": str(styxy.doc),
        "STYXY_DATA_DIR": styxy.env["STYXY_DATA_DIR"],
        "STYXY_INSTANCE_ID": instance_id,
    }


@contextlib.asynccontextmanager
async def mcp_session(styxy: Styxy, instance_id: str) -> AsyncIterator[Any]:
    """A real `styxy mcp` subprocess and an initialized `ClientSession` talking to it, whose
    every tool result is checked against the tool's output schema."""
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    command = styxy_command()
    params = StdioServerParameters(
        command=command[0], args=[*command[1:], "mcp"], env=server_env(styxy, instance_id)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield CheckedSession(session)


class CheckedSession:
    """A `ClientSession` whose `call_tool` validates each structured result, refusals
    included, against the output schema the tool declares in `tools/list` (jsonschema)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.schemas: dict[str, Any] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    async def call_tool(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        import jsonschema

        if self.schemas is None:
            tools = (await self.session.list_tools()).tools
            self.schemas = {tool.name: tool.output_schema for tool in tools}
        result = await self.session.call_tool(name, arguments)
        schema = self.schemas.get(name)
        assert schema is not None, f"{name} declares no output schema"
        assert result.structured_content is not None, f"{name} answered no structured content"
        jsonschema.validate(result.structured_content, schema)
        return result


def run_async(body: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(body(), MCP_TIMEOUT)

    return asyncio.run(bounded())


def text_of(result: Any) -> str:
    assert len(result.content) == 1, result
    return str(result.content[0].text)


def answer(result: Any) -> dict[str, Any]:
    """A successful tool result: its text is exactly the JSON of its structured content."""
    assert result.is_error is False, text_of(result)
    text = text_of(result)
    assert result.structured_content == json.loads(text)
    assert text == json.dumps(result.structured_content, ensure_ascii=False)
    return dict(result.structured_content)


def refusal(result: Any) -> str:
    assert result.is_error is True, result
    return text_of(result)


def event(session_id: str, name: str = "SessionStart", **extra: Any) -> str:
    """A hook event as Claude Code writes it on the handler's stdin."""
    body = {
        "session_id": session_id,
        "transcript_path": f"/tmp/claude/{session_id}.jsonl",
        "cwd": os.getcwd(),
        "hook_event_name": name,
        **extra,
    }
    if name == "SessionStart":
        body.setdefault("source", "startup")
    else:
        body.setdefault("reason", "prompt_input_exit")
    return json.dumps(body)


def run_in(
    styxy: Styxy,
    cwd: Path,
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Result:
    """`styxy ARGS` as a user runs it in the folder `cwd` (without --doc: the env names it)."""
    done = subprocess.run(
        [*styxy_command(), *args],
        input=input,
        capture_output=True,
        text=True,
        env={**styxy.env, "STYXY_DOC": str(styxy.doc), **(env or {})},
        cwd=cwd,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


def run_hook_command(
    command: str, stdin: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a hook command as Claude Code does: through the shell, the event on stdin."""
    return subprocess.run(
        ["bash", "-c", command],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )
