"""Agents and the vocabulary (SPEC 15): the real `styxy mcp` driven with the SDK's client and the
real `styxy serve` on loopback resolve aliases as the command line does, create a range only
when asked, and are told the rows."""

from __future__ import annotations

import json
from typing import Any

from agents_support import answer, refusal, run_async
from server_support import Server
from support import Styxy
from vocabulary_support import session_of

ROWS = (
    "dev (frontend, web, vite, next, nextjs, react, vue, svelte), monitoring, ui, docs "
    "(documentation, mkdocs, docusaurus, sphinx), hub, functions, database (db, postgres, "
    "postgresql, pg, mysql, mariadb, mongo, mongodb), storybook, infrastructure (redis, "
    "memcached, cache, valkey), api (backend, server, fastapi, express, django, flask, rails), "
    "proxy, build, messaging (queue, broker, rabbitmq, nats), auth, test (e2e, playwright, "
    "selenium, cypress), coordination, ai (llm, rag, embeddings, ollama, vllm, chroma, chromadb)"
)


def unknown_sentence(name: str, guess: str = "", rows: str = ROWS) -> str:
    return (
        f"unknown service type '{name}'{guess}; use one of {rows}; or, only if none of them "
        f"fits, call again with create: true to add a new range named '{name}'."
    )


DATABASE_LINE = (
    "- database 5430-5499: PostgreSQL, MySQL and other databases; aliases db, postgres, "
    "postgresql, pg, mysql, mariadb, mongo, mongodb"
)
AI_LINE = (
    "- ai 11400-11499, single instance: AI inference servers, LLMs, RAG, embeddings; aliases "
    "llm, rag, embeddings, ollama, vllm, chroma, chromadb"
)


def mcp_calls(styxy: Styxy, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    async def body() -> list[Any]:
        async with session_of(styxy) as (session, _):
            return [await session.call_tool(name, arguments) for name, arguments in calls]

    return list(run_async(body))


def test_db_and_postgres_land_in_database_on_every_front_end_with_the_same_json(
    styxy: Styxy, http: Server, holder
) -> None:
    pid = holder.pid
    for asked in ("db", "postgres"):
        seen = []
        for front in ("cli", "mcp", "http"):
            if front == "cli":
                done = styxy("allocate", "-s", asked, "-i", "fe", "-n", "x", "--pid", str(pid),
                             "--json")
                assert done.code == 0, done.err
                got = done.json()
            elif front == "mcp":
                (result,) = mcp_calls(styxy, [("allocate_port", {
                    "service_type": asked, "instance_id": "fe", "name": "x", "pid": pid,
                })])
                got = answer(result)
            else:
                reply = http.request("POST", "/allocate", {
                    "service_type": asked, "instance_id": "fe", "name": "x", "pid": pid,
                })
                assert reply.status == 200, reply.body
                got = reply.json()
            assert styxy("release", got["lockId"]).code == 0
            got.pop("lockId")
            seen.append(got)
        assert seen[0] == seen[1] == seen[2]
        assert (seen[0]["serviceType"], seen[0]["requestedType"], seen[0]["port"]) == (
            "database", asked, 5430
        )


def test_an_agents_unknown_type_without_create_changes_no_byte_and_lists_the_types(
    styxy: Styxy, http: Server
) -> None:
    assert styxy("cleanup").code == 0
    before = styxy.snapshot()
    results = mcp_calls(styxy, [
        ("allocate_port", {"service_type": "grafana"}),
        ("allocate_port", {"service_type": "devv"}),
        ("allocate_port", {"service_type": "grafana", "create": False}),
    ])
    assert refusal(results[0]) == unknown_sentence("grafana")
    assert results[0].structured_content == {"error": unknown_sentence("grafana"), "code": 1}
    assert refusal(results[1]) == unknown_sentence("devv", " (did you mean 'dev'?)")
    assert refusal(results[2]) == unknown_sentence("grafana")
    for body in ({"service_type": "grafana"}, {"service_type": "grafana", "create": None}):
        reply = http.request("POST", "/allocate", body)
        assert (reply.status, reply.json()) == (409, {"error": unknown_sentence("grafana"), "code": 1})
    assert styxy.snapshot() == before
    # The command line, a person, still gets the seed's flow for the same name.
    assert styxy("allocate", "-s", "grafana", "--json").json()["autoAllocated"] is True


def test_create_true_adds_the_range_on_mcp_and_http(styxy: Styxy, http: Server) -> None:
    (made,) = mcp_calls(styxy, [("allocate_port", {"service_type": "grafana", "create": True})])
    got = answer(made)
    assert (got["serviceType"], got["autoAllocated"], got["newRange"]) == (
        "grafana", True, [11510, 11519]
    )
    reply = http.request("POST", "/allocate", {"service_type": "devv", "create": True})
    assert reply.status == 200, reply.body
    assert (reply.json()["serviceType"], reply.json()["newRange"]) == ("devv", [11530, 11539])
    text = styxy.doc.read_text()
    assert "| grafana | 11510 | 11519 |" in text and "| devv | 11530 | 11539 |" in text


def test_the_agents_policy(styxy: Styxy, http: Server) -> None:
    assert styxy("config", "set", "auto-allocation.agents", "deny").code == 0
    before = styxy.snapshot()
    denied = (
        "unknown service type 'grafana'; agents may not add ranges to this port map "
        f"(autoAllocation.agents: deny): use one of {ROWS}."
    )
    (result,) = mcp_calls(styxy, [("allocate_port", {"service_type": "grafana", "create": True})])
    assert refusal(result) == denied
    reply = http.request("POST", "/allocate", {"service_type": "grafana", "create": True})
    assert (reply.status, reply.json()) == (409, {"error": denied, "code": 1})
    assert styxy.snapshot() == before
    # Aliases and rows still work under deny.
    assert http.request("POST", "/allocate", {"service_type": "redis"}).json()["port"] == 6370

    assert styxy("config", "set", "auto-allocation.agents", "allow").code == 0
    made = http.request("POST", "/allocate", {"service_type": "grafana"})
    assert made.status == 200 and made.json()["autoAllocated"] is True
    # A near miss is still refused under allow, unless asked for.
    near = http.request("POST", "/allocate", {"service_type": "devv"})
    assert (near.status, near.json()) == (409, {"error": unknown_sentence(
        "devv", " (did you mean 'dev'?)", ROWS + ", grafana"
    ), "code": 1})


def test_the_eleventh_new_range_of_the_day_over_http_is_refused(styxy: Styxy, http: Server) -> None:
    for number in range(10):
        reply = http.request("POST", "/allocate", {"service_type": f"job{number}", "create": True})
        assert reply.status == 200, reply.body
    before = styxy.snapshot()
    reply = http.request("POST", "/allocate", {"service_type": "job10", "create": True})
    assert (reply.status, reply.json()) == (409, {"error": (
        "no new range for 'job10': 10 new ranges were added in the last 24 hours, the most "
        "autoAllocation.maxNewPerDay (10) allows; remove unwanted ones with `styxy config "
        "undo-auto`, or raise the limit with `styxy config set auto-allocation.max-new-per-day N`."
    ), "code": 1})
    assert styxy.snapshot() == before


def test_mcp_instructions_and_the_allocate_description_list_the_rows(styxy: Styxy) -> None:
    ai_row = next(x for x in styxy.doc.read_text().splitlines() if x.startswith("| ai |"))
    styxy.doc.write_text(styxy.doc.read_text().replace(
        ai_row, ai_row + "\n| search | 12000 | 12009 | multi |  | Meilisearch and friends |"
    ))

    async def body() -> tuple[Any, Any]:
        async with session_of(styxy) as (session, hello):
            return hello, (await session.list_tools()).tools

    hello, tools = run_async(body)
    allocate = next(t for t in tools if t.name == "allocate_port")
    for text in (hello.instructions, allocate.description):
        assert DATABASE_LINE in text and AI_LINE in text
        # Read from the document when the server was built: a row added by hand is there.
        assert "- search 12000-12009: Meilisearch and friends" in text
        assert "create: true" in text
    assert "`styxy run -s TYPE -n NAME -- CMD`" in hello.instructions
    assert "avoid a bare `styxy allocate`" in hello.instructions
    schema = allocate.input_schema["properties"]["create"]
    assert schema["type"] == "boolean" and schema["default"] is False


def test_the_session_start_context_lists_the_rows(styxy: Styxy, tmp_path) -> None:
    event = json.dumps({"session_id": "s1", "cwd": str(tmp_path), "hook_event_name": "SessionStart",
                        "source": "startup"})
    done = styxy("hook", "session-start", input=event)
    assert done.code == 0, done.err
    context = json.loads(done.out)["hookSpecificOutput"]["additionalContext"]
    assert DATABASE_LINE in context and AI_LINE in context
    assert "`styxy run -s TYPE -n NAME -- CMD`" in context
    assert "bare `styxy allocate -s TYPE`" in context


def test_the_other_mcp_tools_resolve_aliases_too(styxy: Styxy, holder) -> None:
    results = mcp_calls(styxy, [
        ("allocate_port", {"service_type": "mysql", "name": "main", "pid": holder.pid}),
        ("list_ports", {"service_type": "db"}),
        ("use_service", {"service_type": "pg"}),
        ("suggest_range", {"service_type": "mongo"}),
        ("release_port", {"service_type": "postgres", "name": "main"}),
        ("list_ports", {"service_type": "database"}),
    ])
    made = answer(results[0])
    assert (made["serviceType"], made["requestedType"]) == ("database", "mysql")
    assert [x["lockId"] for x in answer(results[1])["leases"]] == [made["lockId"]]
    assert answer(results[2])["lockId"] == made["lockId"]
    assert answer(results[3]) == {
        "serviceType": "database", "range": [5430, 5499], "placement": None, "chunkSize": 70,
        "existing": True,
    }
    assert [x["lockId"] for x in answer(results[4])["released"]] == [made["lockId"]]
    assert answer(results[5]) == {"leases": []}
