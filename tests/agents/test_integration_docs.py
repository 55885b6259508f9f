"""The set-ups in docs/integrations work as written: each configuration block there, with its
absolute path replaced by this checkout's styxy, starts a server the SDK's client can use, and
the hooks page shows exactly what `styxy hooks claude-code` prints."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
from agents_support import run_async, run_in
from support import ROOT, styxy_command

DOCS = ROOT / "docs" / "integrations"


def blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def server_of(page: str) -> tuple[str, list[str], dict[str, str]]:
    if page == "codex.md":
        [block] = blocks(page, "toml")
        entry = tomllib.loads(block)["mcp_servers"]["styxy"]
    else:
        [block] = blocks(page, "json")
        entry = json.loads(block)["mcpServers"]["styxy"]
    return entry["command"], entry["args"], entry.get("env", {})


@pytest.mark.parametrize("page", ["claude-code-mcp.md", "codex.md", "cursor.md"])
def test_each_documented_mcp_configuration_starts_a_working_server(styxy, page):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    command, args, env = server_of(page)
    assert command.endswith("/bin/styxy") and args == ["mcp"]
    real = styxy_command()
    params = StdioServerParameters(
        command=real[0],
        args=[*real[1:], *args],
        env={**env, "HOME": str(styxy.home), "STYXY_DOC": str(styxy.doc)},
    )

    async def body():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = sorted(t.name for t in (await session.list_tools()).tools)
            got = await session.call_tool("allocate_port", {"service_type": "dev"})
            return names, got.structured_content

    names, got = run_async(body)
    assert len(names) == 7 and "allocate_port" in names
    assert got["instanceId"] == env.get("STYXY_INSTANCE_ID", "default")


def test_the_hooks_page_shows_what_the_command_prints(styxy, tmp_path: Path):
    printed = json.loads(run_in(styxy, tmp_path, "hooks", "claude-code").out)
    shown = json.loads(blocks("claude-code-hooks.md", "json")[0])
    for event in ("SessionStart", "SessionEnd"):
        for hooks in (printed, shown):
            entry = hooks["hooks"][event][0]["hooks"][0]
            entry["command"] = shlex.split(entry["command"])[1:]  # the interpreter's path differs
    assert shown == printed
