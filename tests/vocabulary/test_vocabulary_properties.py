"""Property tests of the vocabulary (SPEC 15) over random documents and names.

The core's answer (`styxy.document.typenames.resolve`) is what every front end does: the real
command line, the real `styxy mcp` (driven with the SDK's client) and the real `styxy serve`.
No sequence of agent calls without `create` changes a byte of the document.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from server_support import Server
from support import Styxy
from vocabulary_support import session_of

from styxy import api
from styxy.document import parse
from styxy.document.typenames import fold, is_near_miss, near_miss_distance, resolve

# A small alphabet, so rows, aliases and asked names often nearly spell each other.
NAME = st.text(alphabet="abdes1-", min_size=1, max_size=7).filter(
    lambda s: s[0] != "-" and not s.endswith("-")
)


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[str], dict[str, list[str]]]:
    rows = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    pool = draw(st.lists(NAME, max_size=8, unique=True))
    aliases: dict[str, list[str]] = {}
    for alias in pool:
        if alias in rows and not draw(st.booleans()):
            continue  # an alias that is a row's name: a warning, sometimes
        aliases.setdefault(draw(st.sampled_from(rows)), []).append(alias)
    front = ["---", "styxy: 1"]
    if aliases:
        front.append("aliases:")
        # Quoted: a name of digits alone (`11`) is a valid type, but a number in plain YAML.
        front += [
            f"  {json.dumps(row)}: [{', '.join(json.dumps(n) for n in names)}]"
            for row, names in aliases.items()
        ]
    table = [
        f"| {row} | {20000 + 100 * n} | {20009 + 100 * n} | multi |  | row {n} |"
        for n, row in enumerate(rows)
    ]
    text = "\n".join([
        *front, "---", "", "<!-- styxy:ranges -->", "",
        "| Service type | Start | End | Instances | Preferred | Description |",
        "| -- | -: | -: | -- | -- | -- |", *table, "", "<!-- styxy:audit -->", "",
        "```text", "```", "",
    ])
    return text, rows, aliases


def asked_names(rows: list[str], aliases: dict[str, list[str]]) -> st.SearchStrategy[list[str]]:
    known = [*rows, *(a for names in aliases.values() for a in names)]
    mutated = st.sampled_from(known).flatmap(
        lambda k: st.sampled_from([k + "s", k + "1", k[:-1] or k, k + k[-1], k.replace("a", "e")])
    )
    valid = st.one_of(st.sampled_from(known), mutated, NAME).filter(
        lambda s: s[0] != "-" and not s.endswith("-")
    )
    return st.lists(valid, min_size=1, max_size=3, unique=True)


class McpWorker:
    """One `styxy mcp` session for a whole property test, served from its own thread: the
    SDK's session must be entered and left in one task, so calls reach it through a queue."""

    def __init__(self, styxy: Styxy) -> None:
        self.styxy = styxy
        self.calls: queue.Queue[Any] = queue.Queue()
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(120), self.failed

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # shown by the waiting test
            self.failed = exc
            self.ready.set()

    async def _serve(self) -> None:
        async with session_of(self.styxy, "prop") as (session, _):
            self.ready.set()
            while True:
                item = await asyncio.to_thread(self.calls.get)
                if item is None:
                    return
                name, arguments, done = item
                try:
                    done.set_result(await session.call_tool(name, arguments))
                except Exception as exc:
                    done.set_exception(exc)

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.calls.put((name, arguments, done))
        return done.result(timeout=120)

    def close(self) -> None:
        self.calls.put(None)
        self.thread.join(60)


@pytest.fixture
def mcp(styxy: Styxy) -> Iterator[McpWorker]:
    worker = McpWorker(styxy)
    yield worker
    worker.close()


SLOW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SLOW
@given(data=st.data())
def test_resolution_is_the_same_in_the_core_and_every_front_end(
    styxy: Styxy, mcp: McpWorker, http: Server, holder, data: st.DataObject
) -> None:
    text, rows, aliases = data.draw(documents())
    names = data.draw(asked_names(rows, aliases))
    styxy.doc.write_text(text)
    core = parse(text, str(styxy.doc)).document
    for name in names:
        want = resolve(core, name)
        args = {"service_type": name, "instance_id": "prop", "pid": holder.pid}
        answers = [mcp.call("allocate_port", args), http.request("POST", "/allocate", args)]
        mcp_result, http_result = answers
        if want.known:
            got_mcp = mcp_result.structured_content
            assert mcp_result.is_error is False, got_mcp
            assert http_result.status == 200, http_result.body
            for got in (got_mcp, http_result.json()):
                assert (got["serviceType"], got["requestedType"]) == (
                    want.service_type, want.requested_type
                )
        else:
            sentence = http_result.json()["error"]
            assert http_result.status == 409
            assert mcp_result.is_error is True
            assert mcp_result.content[0].text == sentence
            guess = "" if not want.near else " (did you mean " + _either(want.near) + "?)"
            assert sentence.startswith(f"unknown service type '{name}'{guess}; use one of ")
        assert styxy.doc.read_text() == text  # no agent call without create wrote anything
        cli = styxy("allocate", "-s", name, "-i", "prop", "--pid", str(holder.pid), "--json")
        if want.known:
            assert cli.code == 0, cli.err
            assert (cli.json()["serviceType"], cli.json()["requestedType"]) == (
                want.service_type, want.requested_type
            )
        elif want.near:
            assert cli.code == 1
            assert cli.json()["error"] == (
                f"unknown service type '{name}'; did you mean {_either(want.near)}? "
                f"To add a new range named '{name}', pass --new-type."
            )
        else:
            assert cli.code == 0, cli.err
            assert (cli.json()["serviceType"], cli.json()["autoAllocated"]) == (name, True)
        styxy.doc.write_text(text)  # a range the command line made: gone for the next name
    api.release_instance("prop", doc=styxy.doc)


def _either(names: tuple[str, ...]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


CALL = st.tuples(
    st.sampled_from(["mcp", "http"]),
    st.one_of(
        st.sampled_from(["db", "dev", "grafana", "devv", "postgress", "worker1", "kafka", "web"]),
        NAME,
    ),
    st.sampled_from([None, False]),
)


@SLOW
@given(calls=st.lists(CALL, min_size=1, max_size=8))
def test_no_sequence_of_agent_calls_without_create_changes_the_document(
    styxy: Styxy, mcp: McpWorker, http: Server, holder, calls: list[tuple[str, str, Any]]
) -> None:
    before = styxy.doc.read_bytes()
    for front, name, create in calls:
        args: dict[str, Any] = {"service_type": name, "instance_id": "seq", "pid": holder.pid}
        if create is not None:
            args["create"] = create
        if front == "mcp":
            mcp.call("allocate_port", args)
        else:
            assert http.request("POST", "/allocate", args).status in (200, 409)
        assert styxy.doc.read_bytes() == before
    api.release_instance("seq", doc=styxy.doc)


@settings(max_examples=500, deadline=None)
@given(a=NAME, b=NAME)
@example(a="s", b="1s")  # folding drops the `s` of `1s`: digits-only as written still wins
def test_the_near_miss_rule(a: str, b: str) -> None:
    assert is_near_miss(a, b) == is_near_miss(b, a)
    if a == b:
        assert not is_near_miss(a, b)
    digits_only = a != b and [c for c in a if not c.isdigit()] == [c for c in b if not c.isdigit()]
    if digits_only:
        assert not is_near_miss(a, b)  # worker1 / worker2, api / api2
    if fold(a) == fold(b) and a != b and not digits_only:
        assert is_near_miss(a, b)  # devs / dev, de-v / dev
    distance = near_miss_distance(fold(a), fold(b))
    if distance is not None:
        shorter = min(len(fold(a)), len(fold(b)))
        assert distance <= (1 if shorter <= 5 else 2)
