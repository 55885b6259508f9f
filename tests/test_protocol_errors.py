"""One protocol (SPEC 17): the same mistake gets the same sentence and the same `code` on the
command line's `--json`, in an MCP tool error and in an HTTP error body, each naming the
caller's own parameters; the HTTP status follows from the code.

Real front ends: `styxy` subprocesses, `styxy mcp` driven by the SDK's stdio client, and
`styxy serve` on loopback. None of the refusals changes a file.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.server_support import Server
from support import Styxy, styxy_command

TYPE_RULE = "use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"


@dataclass(frozen=True)
class Mistake:
    """One mistake as each front end is told it; `None` where a front end cannot make it.

    `sentence` names parameters as `{key}`; each front end fills in its own spelling.
    """

    what: str
    sentence: str
    code: int
    cli: tuple[str, ...] | None
    mcp: tuple[str, dict[str, Any]] | None
    http: tuple[str, str, Any] | None
    cli_names: dict[str, str] = field(default_factory=dict)
    http_status: int | None = None


MISTAKES = [
    Mistake(
        "a preferred port out of range",
        "{preferred_port} must be a port number from 1 to 65535, not 70000.",
        2,
        ("allocate", "-s", "dev", "-p", "70000"),
        ("allocate_port", {"service_type": "dev", "preferred_port": 70000}),
        ("POST", "/allocate", {"service_type": "dev", "preferred_port": 70000}),
        {"preferred_port": "--port"},
    ),
    Mistake(
        "a preferred port that is not a number",
        "{preferred_port} must be a port number from 1 to 65535, not 'abc'.",
        2,
        ("allocate", "-s", "dev", "-p", "abc"),
        ("allocate_port", {"service_type": "dev", "preferred_port": "abc"}),
        ("POST", "/allocate", {"service_type": "dev", "preferred_port": "abc"}),
        {"preferred_port": "--port"},
    ),
    Mistake(
        "a port given as a string of digits",
        "{preferred_port} must be a port number from 1 to 65535, not '3010'.",
        2,
        None,
        ("allocate_port", {"service_type": "dev", "preferred_port": "3010"}),
        ("POST", "/allocate", {"service_type": "dev", "preferred_port": "3010"}),
    ),
    Mistake(
        "a boolean for a port",
        "{port} must be a port number from 1 to 65535, not true.",
        2,
        None,
        ("check_port", {"port": True}),
        None,
    ),
    Mistake(
        "port 0 to check",
        "{port} must be a port number from 1 to 65535, not 0.",
        2,
        ("check", "0"),
        ("check_port", {"port": 0}),
        ("GET", "/check/0", None),
        {"port": "PORT"},
    ),
    Mistake(
        "pid 0",
        "{pid} must be a process id from 1 to 4194304, not 0.",
        2,
        ("allocate", "-s", "dev", "--pid", "0"),
        ("allocate_port", {"service_type": "dev", "pid": 0}),
        ("POST", "/allocate", {"service_type": "dev", "pid": 0}),
        {"pid": "--pid"},
    ),
    Mistake(
        "a malformed service type",
        f"invalid service type 'a|b': {TYPE_RULE}.",
        2,
        ("allocate", "-s", "a|b"),
        ("allocate_port", {"service_type": "a|b"}),
        ("POST", "/allocate", {"service_type": "a|b"}),
    ),
    Mistake(
        "a malformed name",
        "invalid name 'x y': use at most 128 characters of letters, digits and . _ @ : + / = -.",
        2,
        ("allocate", "-s", "dev", "-n", "x y"),
        ("allocate_port", {"service_type": "dev", "name": "x y"}),
        ("POST", "/allocate", {"service_type": "dev", "name": "x y"}),
    ),
    Mistake(
        "an unknown parameter",
        "unknown parameter 'port'; the parameters are {create}, {instance_id}, {name}, {pid}, "
        "{preferred_port}, {service_type}.",
        2,
        None,
        ("allocate_port", {"service_type": "dev", "port": 3000}),
        ("POST", "/allocate", {"service_type": "dev", "port": 3000}),
    ),
    Mistake(
        "no service type",
        "{service_type} is required.",
        2,
        None,
        ("allocate_port", {"name": "web"}),
        ("POST", "/allocate", {"name": "web"}),
    ),
    Mistake(
        "no lease named",
        "name one lease by {lock_id}, by {port} or by {service_type} (with {instance_id} and "
        "{name}), or every lease of an instance by {instance_id} alone.",
        2,
        ("release",),
        ("release_port", {}),
        None,
        {"lock_id": "LOCK_ID", "port": "--port"},
    ),
    Mistake(
        "a lock id that names no lease",
        "no lease with lock id 'nope'.",
        1,
        ("release", "nope"),
        ("release_port", {"lock_id": "nope"}),
        ("DELETE", "/allocate/nope", None),
        http_status=404,
    ),
    Mistake(
        "a preferred port in another type's range",
        "port 8000 belongs to service type 'api' (8000-8099), not 'dev'.",
        1,
        ("allocate", "-s", "dev", "-p", "8000"),
        ("allocate_port", {"service_type": "dev", "preferred_port": 8000}),
        ("POST", "/allocate", {"service_type": "dev", "preferred_port": 8000}),
        http_status=409,
    ),
]

KEYS = (
    "preferred_port", "port", "pid", "lock_id", "service_type", "instance_id", "name", "create"
)


def said(mistake: Mistake, front_end: str) -> str:
    """The sentence with each parameter spelled as `front_end` spells it."""
    spelling = {key: key for key in KEYS}
    if front_end == "cli":
        spelling.update({key: "--" + key.replace("_", "-") for key in KEYS})
        spelling.update(mistake.cli_names)
    return mistake.sentence.format(**spelling)


def mcp_refusals(styxy: Styxy) -> list[Any]:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    command = styxy_command()
    env = {
        "HOME": str(styxy.home),
        "PATH": os.environ.get("PATH", ""),
        "STYXY_DOC": str(styxy.doc),
        "STYXY_DATA_DIR": styxy.env["STYXY_DATA_DIR"],
    }
    params = StdioServerParameters(command=command[0], args=[*command[1:], "mcp"], env=env)

    async def talk() -> list[Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return [
                await session.call_tool(*m.mcp) if m.mcp else None for m in MISTAKES
            ]

    return asyncio.run(asyncio.wait_for(talk(), 120))


def test_the_same_mistake_is_the_same_sentence_and_code_everywhere(
    styxy: Styxy, tmp_path: Path
) -> None:
    server = Server(styxy, tmp_path / "serve.log")
    try:
        before = styxy.snapshot()
        answers = mcp_refusals(styxy)
        for mistake, answer in zip(MISTAKES, answers, strict=True):
            if mistake.cli is not None:
                done = styxy(*mistake.cli, "--json")
                sentence = said(mistake, "cli")
                assert (done.code, done.json(), done.err) == (
                    mistake.code,
                    {"error": sentence, "code": mistake.code},
                    f"styxy: {sentence}\n",
                ), mistake.what
            if answer is not None:
                sentence = said(mistake, "mcp")
                assert answer.is_error is True, mistake.what
                assert [c.text for c in answer.content] == [sentence], mistake.what
                assert answer.structured_content == {"error": sentence, "code": mistake.code}
            if mistake.http is not None:
                method, path, body = mistake.http
                got = server.request(method, path, body)
                status = mistake.http_status or (400 if mistake.code == 2 else 409)
                assert (got.status, got.json()) == (
                    status,
                    {"error": said(mistake, "http"), "code": mistake.code},
                ), mistake.what
        # The server's own lease is the only thing in the folder that differs from before.
        assert styxy.snapshot() == before
    finally:
        server.stop()
