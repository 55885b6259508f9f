"""`styxy mcp` as an agent meets it: a real stdio subprocess driven by the MCP SDK's client."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from agents_support import answer, mcp_session, refusal, run_async, server_env
from support import ROOT, styxy_command

TOOLS = {
    "allocate_port": ["service_type"],
    "release_port": [],
    "list_ports": [],
    "check_port": ["port"],
    "use_service": [],
    "suggest_range": ["service_type"],
    "port_map": [],
}


def test_the_seven_tools_with_their_required_arguments_and_descriptions(styxy):
    async def body():
        async with mcp_session(styxy, "agent-a") as session:
            return (await session.list_tools()).tools

    tools = run_async(body)
    assert {t.name: sorted(t.input_schema.get("required", [])) for t in tools} == TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 40, tool.name
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), (tool.name, name)
    allocate = next(t for t in tools if t.name == "allocate_port")
    assert sorted(allocate.input_schema["properties"]) == [
        "create",
        "instance_id",
        "name",
        "pid",
        "preferred_port",
        "service_type",
    ]


def test_allocate_answers_the_command_lines_json_held_by_the_agent(styxy):
    async def body():
        async with mcp_session(styxy, "agent-a") as session:
            got = answer(await session.call_tool("allocate_port", {"service_type": "dev"}))
            listed = answer(await session.call_tool("list_ports", {}))
            checked = await session.call_tool("check_port", {"port": got["port"]})
            return got, listed, checked

    got, listed, checked = run_async(body)
    assert 3000 <= got["port"] <= 3099
    assert got["serviceType"] == "dev"
    assert got["instanceId"] == "agent-a"  # the server's own $STYXY_INSTANCE_ID
    assert got["pid"] == os.getpid()  # the process that started the server holds the lease
    assert (got["existing"], got["reason"], got["autoAllocated"]) == (False, None, False)
    # The same JSON, byte for byte, as the command line's --json.
    cli_list = styxy("list", "--json")
    assert cli_list.code == 0
    assert listed == cli_list.json()
    assert checked.content[0].text == styxy("check", str(got["port"]), "--json").out.strip()
    assert [lease["lockId"] for lease in listed["leases"]] == [got["lockId"]]


def test_a_single_instance_type_from_two_agents_runs_once(styxy):
    async def first():
        async with mcp_session(styxy, "agent-a") as session:
            return answer(
                await session.call_tool("allocate_port", {"service_type": "ai", "name": "rag"})
            )

    async def second():
        async with mcp_session(styxy, "agent-b") as session:
            got = answer(await session.call_tool("allocate_port", {"service_type": "ai"}))
            used = answer(await session.call_tool("use_service", {"name": "rag"}))
            return got, used

    one = run_async(first)
    two, used = run_async(second)
    assert (one["existing"], one["instanceId"]) == (False, "agent-a")
    assert 11400 <= one["port"] <= 11499
    assert two["existing"] is True
    assert two["reason"] == "single-instance"
    assert (two["port"], two["lockId"], two["instanceId"]) == (
        one["port"],
        one["lockId"],
        "agent-a",
    )
    assert (used["port"], used["name"]) == (one["port"], "rag")
    # The name's URL behind `styxy proxy` (none runs here), and the port's own (SPEC 22).
    assert (used["url"], used["directUrl"], used["proxied"]) == (
        "http://rag.agent-a.localhost:1355/",
        f"http://localhost:{one['port']}/",
        False,
    )


def test_release_by_instance_ends_exactly_that_instances_leases(styxy):
    async def body():
        async with mcp_session(styxy, "agent-a") as a, mcp_session(styxy, "agent-b") as b:
            mine = [
                answer(await a.call_tool("allocate_port", {"service_type": t}))
                for t in ("dev", "api")
            ]
            theirs = answer(await b.call_tool("allocate_port", {"service_type": "dev"}))
            released = answer(await b.call_tool("release_port", {"instance_id": "agent-a"}))
            again = answer(await b.call_tool("release_port", {"instance_id": "agent-a"}))
            left = answer(await a.call_tool("list_ports", {"instance_id": "agent-b"}))
            return mine, theirs, released, again, left

    mine, theirs, released, again, left = run_async(body)
    assert sorted(x["lockId"] for x in released["released"]) == sorted(x["lockId"] for x in mine)
    assert again == {"released": []}  # none left is not an error
    assert [x["lockId"] for x in left["leases"]] == [theirs["lockId"]]
    assert [x["lockId"] for x in styxy("list", "--json").json()["leases"]] == [theirs["lockId"]]


def test_release_by_port_and_by_type_of_the_servers_instance(styxy):
    async def body():
        async with mcp_session(styxy, "agent-a") as session:
            dev = answer(await session.call_tool("allocate_port", {"service_type": "dev"}))
            api = answer(await session.call_tool("allocate_port", {"service_type": "api"}))
            by_port = answer(await session.call_tool("release_port", {"port": dev["port"]}))
            by_type = answer(await session.call_tool("release_port", {"service_type": "api"}))
            return dev, api, by_port, by_type

    dev, api, by_port, by_type = run_async(body)
    assert [x["lockId"] for x in by_port["released"]] == [dev["lockId"]]
    assert [x["lockId"] for x in by_type["released"]] == [api["lockId"]]
    assert styxy("list", "--json").json() == {"leases": []}


def test_bad_arguments_are_tool_errors_in_one_sentence_and_change_no_file(styxy):
    async def body():
        async with mcp_session(styxy, "agent-a") as session:
            answer(await session.call_tool("allocate_port", {"service_type": "dev"}))
            before = styxy.snapshot()
            results = [
                await session.call_tool("check_port", {"port": 70000}),
                await session.call_tool("allocate_port", {"service_type": "a|b"}),
                await session.call_tool(
                    "allocate_port", {"service_type": "dev", "preferred_port": 70000}
                ),
                await session.call_tool("allocate_port", {"service_type": "dev", "name": "x y"}),
                await session.call_tool("check_port", {"port": "abc"}),
                await session.call_tool("release_port", {}),
                await session.call_tool("use_service", {"name": "nothing"}),
                await session.call_tool("suggest_range", {"service_type": "Bad Type"}),
                await session.call_tool("release_port", {"port": 3000, "instance_id": "agent-a"}),
                await session.call_tool("allocate_port", {}),
            ]
            return before, results

    before, results = run_async(body)
    texts = [refusal(result) for result in results]
    assert texts[0] == "port must be a port number from 1 to 65535, not 70000."
    assert texts[1] == (
        "invalid service type 'a|b': use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', "
        "starting with a letter or digit."
    )
    assert texts[2] == "preferred_port must be a port number from 1 to 65535, not 70000."
    assert texts[3].startswith("invalid name 'x y': ")
    assert texts[4] == "port must be a port number from 1 to 65535, not 'abc'."
    assert texts[5].startswith("name one lease by lock_id, by port or by service_type")
    assert texts[6] == "nothing styxy knows of is running named 'nothing'."
    assert texts[7].startswith("invalid service type 'Bad Type'")
    assert texts[8] == (
        "name one lease by lock_id, by port or by service_type (with instance_id and name), "
        "or every lease of an instance by instance_id alone."
    )
    assert texts[9] == "service_type is required."
    for text, result in zip(texts, results):
        assert "\n" not in text and "Traceback" not in text
        assert result.structured_content["error"] == text
        assert result.structured_content["code"] in (1, 2)
    assert styxy.snapshot() == before


def test_suggest_range_and_port_map_write_nothing(styxy):
    async def body():
        async with mcp_session(styxy, "agent-a") as session:
            new = answer(await session.call_tool("suggest_range", {"service_type": "grafana"}))
            known = answer(await session.call_tool("suggest_range", {"service_type": "ai"}))
            ports = answer(await session.call_tool("port_map", {}))
            return new, known, ports

    before = styxy.doc.read_bytes()
    new, known, ports = run_async(body)
    assert new["serviceType"] == "grafana" and new["existing"] is False
    assert new["range"][1] - new["range"][0] + 1 == new["chunkSize"]
    assert known == {
        "serviceType": "ai",
        "range": [11400, 11499],
        "placement": None,
        "chunkSize": 100,
        "existing": True,
    }
    ai = next(row for row in ports["ranges"] if row["serviceType"] == "ai")
    assert (ai["start"], ai["end"], ai["instances"], ai["leased"]) == (11400, 11499, "single", 0)
    assert styxy.doc.read_bytes() == before


def test_without_the_sdk_the_server_says_which_extra_to_install(styxy, tmp_path: Path):
    # The SDK cannot be absent from the test environment, so a package that fails to import
    # stands in front of it on the path, as a missing one would.
    shadow = tmp_path / "shadow" / "mcp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no mcp here')\n")
    env = {**styxy.env, "PYTHONPATH": str(shadow.parent)}
    done = subprocess.run(
        [*styxy_command(), "--doc", str(styxy.doc), "mcp"],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1
    # The line fits this installation: pip in the test's virtual environment, from this
    # checkout (tests/test_docs_examples.py runs the line for pipx, uv and a venv).
    said = re.fullmatch(
        r"styxy: styxy mcp needs the MCP SDK \(the extra 'agents'\); install it with `(.+)`\.\n",
        done.stderr,
    )
    assert said is not None, done.stderr
    words = shlex.split(said.group(1))
    assert Path(words[0]).parent == Path(sys.executable).parent  # this venv's python
    assert words[1:4] == ["-m", "pip", "install"]
    assert words[-1] == f"{ROOT}[agents,server]"
    assert done.stdout == ""


def test_the_command_line_module_does_not_import_the_sdk(styxy):
    probe = (
        "import sys, styxy.cli.app\n"
        "print(sorted(m for m in ('mcp', 'pydantic', 'anyio', 'starlette') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
        env=server_env(styxy, "x"),
    )
    assert (done.returncode, done.stdout) == (0, "[]\n"), done.stderr


def test_every_answer_is_the_command_lines_json(styxy):
    """Text for text where nothing else moves; field for field where other processes on the
    machine may change a listening count between the two calls."""

    async def body():
        async with mcp_session(styxy, "agent-a") as session:
            rag = answer(
                await session.call_tool("allocate_port", {"service_type": "ai", "name": "rag"})
            )
            answer(await session.call_tool("allocate_port", {"service_type": "dev"}))
            used = await session.call_tool("use_service", {"name": "rag"})
            cli_use = styxy("use", "-n", "rag", "--json").out
            ports = answer(await session.call_tool("port_map", {}))
            cli_ranges = styxy("ranges", "--json").json()
            before = styxy("list", "--json").json()["leases"]
            released = await session.call_tool("release_port", {"instance_id": "agent-a"})
            none = await session.call_tool("release_port", {"instance_id": "agent-a"})
            cli_none = styxy("release", "-i", "agent-a", "--json").out
            refused = await session.call_tool("release_port", {"port": 3999})
            cli_refused = styxy("release", "-p", "3999", "--json")
            return (rag, used, cli_use, ports, cli_ranges, before, released, none, cli_none,
                    refused, cli_refused)

    (rag, used, cli_use, ports, cli_ranges, before, released, none, cli_none, refused,
     cli_refused) = run_async(body)
    assert used.content[0].text + "\n" == cli_use
    assert answer(used)["lockId"] == rag["lockId"]

    def steady(rows):
        return [{k: v for k, v in row.items() if k not in ("listening", "free")} for row in rows]

    assert steady(ports["ranges"]) == steady(cli_ranges["ranges"])
    expected = {
        "released": [
            {k: v for k, v in lease.items() if k != "alive"}
            for lease in sorted(before, key=lambda x: (x["port"], x["lockId"]))
        ]
    }
    assert answer(released) == expected
    assert none.content[0].text + "\n" == cli_none == '{"released": []}\n'
    assert cli_refused.code == 1
    assert refused.structured_content == cli_refused.json() == {
        "error": "no lease with port 3999.",
        "code": 1,
    }
