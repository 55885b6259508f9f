"""`styxy mcp` as a strict protocol (SPEC 17): typed, closed, bounded arguments; annotations
and output schemas; JSON-RPC errors for what cannot be read; signals end it at once.

Driven as clients drive it: the SDK's stdio client, and raw JSON-RPC lines written to the
subprocess's stdin.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time
from typing import Any

import pytest
from agents_support import mcp_session, refusal, run_async, server_env
from support import Styxy, styxy_command

READ_ONLY = {"list_ports", "check_port", "use_service", "suggest_range", "port_map"}


def listed_tools(styxy: Styxy) -> dict[str, Any]:
    async def body() -> Any:
        async with mcp_session(styxy, "agent-a") as session:
            return (await session.list_tools()).tools

    return {tool.name: tool for tool in run_async(body)}


def test_every_tool_declares_its_title_hints_and_output_schema(styxy: Styxy) -> None:
    tools = listed_tools(styxy)
    assert len(tools) == 7
    for name, tool in tools.items():
        hints = tool.annotations
        assert tool.title and hints.title == tool.title, name
        assert hints.read_only_hint is (name in READ_ONLY), name
        assert hints.open_world_hint is False, name
        assert tool.output_schema["type"] == "object", name
        assert tool.input_schema["additionalProperties"] is False, name
    assert tools["allocate_port"].annotations.idempotent_hint is True
    assert tools["allocate_port"].annotations.destructive_hint is False
    assert tools["release_port"].annotations.destructive_hint is True


def test_bounds_and_patterns_are_in_the_input_schemas(styxy: Styxy) -> None:
    tools = listed_tools(styxy)

    def prop(tool: str, name: str) -> dict[str, Any]:
        found = tools[tool].input_schema["properties"][name]
        # An optional argument is `anyOf: [<the type>, null]`.
        for option in found.get("anyOf", [found]):
            if option.get("type") != "null":
                return dict(option)
        raise AssertionError((tool, name))

    for tool, name in [
        ("allocate_port", "preferred_port"),
        ("check_port", "port"),
        ("release_port", "port"),
        ("use_service", "port"),
    ]:
        assert (prop(tool, name)["type"], prop(tool, name)["minimum"], prop(tool, name)["maximum"]) == (
            "integer", 1, 65535,
        ), (tool, name)
    assert (prop("allocate_port", "pid")["minimum"], prop("allocate_port", "pid")["maximum"]) == (
        1, 4194304,
    )
    for tool in ("allocate_port", "suggest_range"):
        assert prop(tool, "service_type")["pattern"] == "^[a-z0-9][a-z0-9._-]{0,62}$", tool


@pytest.mark.parametrize(
    ("tool", "arguments", "sentence"),
    [
        ("check_port", {"port": True}, "port must be a port number from 1 to 65535, not true."),
        ("check_port", {"port": "3010"}, "port must be a port number from 1 to 65535, not '3010'."),
        ("check_port", {"port": 3010.5}, "port must be a port number from 1 to 65535, not 3010.5."),
        ("check_port", {"port": 70000}, "port must be a port number from 1 to 65535, not 70000."),
        ("allocate_port", {"service_type": "dev", "preferred_port": True},
         "preferred_port must be a port number from 1 to 65535, not true."),
        ("allocate_port", {"service_type": "dev", "pid": -3},
         "pid must be a process id from 1 to 4194304, not -3."),
        ("allocate_port", {"service_type": ["dev"]}, "service_type must be a string, not an array."),
        ("allocate_port", {"service_type": "Dev"},
         "invalid service type 'Dev': use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', "
         "starting with a letter or digit."),
        ("allocate_port", {"service_type": "dev", "port": 3000},
         "unknown parameter 'port'; the parameters are create, instance_id, name, pid, preferred_port, "
         "service_type."),
        ("port_map", {"verbose": True}, "unknown parameter 'verbose'; there are no parameters here."),
        ("list_ports", {"service_type": 3}, "service_type must be a string, not 3."),
        ("use_service", {"port": "3000"}, "port must be a port number from 1 to 65535, not '3000'."),
        ("release_port", {"lock_id": 12}, "lock_id must be a string, not 12."),
        ("suggest_range", {}, "service_type is required."),
    ],
)
def test_a_wrong_type_unknown_argument_or_value_out_of_range_is_a_tool_error_that_writes_nothing(
    styxy: Styxy, tool: str, arguments: dict[str, Any], sentence: str
) -> None:
    async def body() -> Any:
        async with mcp_session(styxy, "agent-a") as session:
            await session.call_tool("allocate_port", {"service_type": "dev"})
            before = styxy.snapshot()
            result = await session.call_tool(tool, arguments)
            return before, result

    before, result = run_async(body)
    assert refusal(result) == sentence
    assert result.structured_content == {"error": sentence, "code": 2}
    assert styxy.snapshot() == before


def start(styxy: Styxy) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*styxy_command(), "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(styxy, "raw"),
    )


def exchange(process: subprocess.Popen[bytes], lines: list[bytes], answers: int) -> list[Any]:
    """Write raw lines to the server's stdin; read `answers` JSON-RPC lines back."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"".join(line + b"\n" for line in lines))
    process.stdin.flush()
    found = []
    for _ in range(answers):
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, f"no answer after {found}"
        found.append(json.loads(process.stdout.readline()))
    return found


INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
).encode()


def test_lines_the_server_cannot_read_are_answered_with_json_rpc_errors(styxy: Styxy) -> None:
    process = start(styxy)
    try:
        (ready,) = exchange(process, [INITIALIZE], 1)
        assert ready["id"] == 1 and "result" in ready
        answers = exchange(
            process,
            [
                b"not json at all",
                b'{"jsonrpc": "2.0", "id": 7}',
                b"[1, 2, 3]",
                b'{"jsonrpc": "2.0", "id": "x", "method": 5}',
                b'{"jsonrpc": "2.0", "id": 8, "method": "tools/list"}',
            ],
            5,
        )
    finally:
        process.kill()
        process.wait(timeout=30)
    parse = {"code": -32700, "message": "Parse error: the line is not JSON."}
    invalid = {
        "code": -32600,
        "message": "Invalid request: not a JSON-RPC 2.0 request, notification or response object.",
    }
    assert answers[:4] == [
        {"jsonrpc": "2.0", "id": None, "error": parse},
        {"jsonrpc": "2.0", "id": 7, "error": invalid},
        {"jsonrpc": "2.0", "id": None, "error": invalid},
        {"jsonrpc": "2.0", "id": "x", "error": invalid},
    ]
    # And the server goes on answering.
    assert answers[4]["id"] == 8 and len(answers[4]["result"]["tools"]) == 7


def test_a_request_written_just_before_stdin_closes_is_answered(styxy: Styxy) -> None:
    # `printf '...' | styxy mcp`: the SDK cancelled what still ran when stdin ended, so the
    # lease was made and its port never told.
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "allocate_port", "arguments": {"service_type": "dev", "pid": 1}},
    }
    process = start(styxy)
    out, _ = process.communicate(INITIALIZE + b"\n" + json.dumps(call).encode() + b"\n", 60)
    answers = {answer["id"]: answer for answer in map(json.loads, out.splitlines())}
    assert process.returncode == 0
    port = answers[2]["result"]["structuredContent"]["port"]
    assert [lease["port"] for lease in styxy("--json", "list").json()["leases"]] == [port]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_the_server_at_once(styxy: Styxy, sig: signal.Signals) -> None:
    process = start(styxy)
    try:
        exchange(process, [INITIALIZE], 1)  # serving, stdin still open
        sent = time.monotonic()
        process.send_signal(sig)
        code = process.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        for stream in (process.stdin, process.stdout, process.stderr):
            assert stream is not None
            stream.close()
    assert code == -sig
    assert took < 1.0
