"""The routes, status codes and JSON of SPEC section 12, over real HTTP to a real `styxy serve`."""

from __future__ import annotations

import http.client
import json
import os
import re
import threading
import time

import pytest
from server_support import *  # Server, and the module fixtures cli and server
from support import Styxy

ALLOCATE_KEYS = {
    "port", "lockId", "serviceType", "requestedType", "instanceId", "name", "pid", "existing",
    "reason",
    "autoAllocated", "newRange", "placement", "chunkSize", "message",
}
LEASE_KEYS = {
    "lockId", "port", "serviceType", "instanceId", "name", "pid", "pidStartTime", "createdAt",
    "source",
}
PROTECTED = [
    ("POST", "/allocate"),
    ("DELETE", "/allocate/abc"),
    ("GET", "/allocations"),
    ("GET", "/check/3000"),
    ("GET", "/ranges"),
    ("GET", "/audit"),
    ("GET", "/openapi.json"),
]
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def leases_of(cli: Styxy) -> list[dict[str, object]]:
    result = cli("list", "--json")
    assert result.code == 0, result.err
    leases: list[dict[str, object]] = result.json()["leases"]
    return leases


def assert_error(answer: object, status: int, sentence: str, code: int | None = None) -> None:
    """A refusal: the sentence and the command line's exit code for it (2 for the client's
    mistakes, 1 for refusals), as every front end gives them."""
    if code is None:
        code = 2 if status in (400, 405, 413) else 1
    assert answer.status == status, answer.body  # type: ignore[attr-defined]
    assert answer.headers["content-type"] == "application/json"  # type: ignore[attr-defined]
    assert answer.json() == {"error": sentence, "code": code}  # type: ignore[attr-defined]


def test_the_url_carries_the_token_of_the_token_file(server: Server, cli: Styxy) -> None:
    token_file = cli.sidecar / "token"
    assert server.url == f"http://127.0.0.1:{server.port}/#token={server.token}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", server.token)
    assert token_file.read_text() == server.token + "\n"
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_status_needs_no_token(server: Server) -> None:
    answer = server.request("GET", "/status", token=None)
    assert answer.status == 200
    assert answer.json() == {"status": "ok", "version": "0.1.0"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_other_route_needs_the_token(server: Server, method: str, path: str) -> None:
    sentence = (
        "missing or wrong token: send the header Authorization: Bearer <token> with the token "
        "in .styxy/token beside the document."
    )
    body = {"service_type": "dev"} if method == "POST" else None
    for token, header in ((None, None), ("wrong-" + server.token, None), (None, "Basic abc")):
        headers = {"Authorization": header} if header else None
        answer = server.request(method, path, body, token=token, headers=headers)
        assert_error(answer, 401, sentence)
        assert answer.headers["www-authenticate"] == 'Bearer realm="styxy"'
    # A token that differs in its last character only is as wrong as any other.
    near = server.token[:-1] + ("A" if server.token[-1] != "A" else "B")
    assert server.request(method, path, body, token=near).status == 401


def test_allocate_release_round_trip(server: Server, cli: Styxy) -> None:
    answer = server.request(
        "POST", "/allocate", {"service_type": "dev", "instance_id": "round", "name": "web"}
    )
    assert answer.status == 200, answer.body
    lease = answer.json()
    assert set(lease) == ALLOCATE_KEYS
    assert (lease["serviceType"], lease["instanceId"], lease["name"]) == ("dev", "round", "web")
    assert 3000 <= lease["port"] <= 3099
    assert lease["existing"] is False and lease["reason"] is None
    # Without a pid the server itself holds the lease: alive while it serves.
    assert lease["pid"] == server.process.pid
    listed = {x["lockId"]: x for x in leases_of(cli)}
    assert listed[lease["lockId"]]["source"] == "api"
    assert listed[lease["lockId"]]["alive"] is True

    again = server.request(
        "POST", "/allocate", {"service_type": "dev", "instance_id": "round", "name": "web"}
    ).json()
    assert (again["port"], again["existing"], again["reason"]) == (
        lease["port"], True, "same-identity"
    )

    ended = server.request("DELETE", f"/allocate/{lease['lockId']}")
    assert ended.status == 200
    assert set(ended.json()) == LEASE_KEYS
    assert ended.json()["lockId"] == lease["lockId"]
    assert lease["lockId"] not in {x["lockId"] for x in leases_of(cli)}
    assert_error(
        server.request("DELETE", f"/allocate/{lease['lockId']}"),
        404,
        f"no lease with lock id {lease['lockId']!r}.",
    )


def test_the_servers_own_lease_is_never_released_over_http(server: Server, cli: Styxy) -> None:
    (own,) = [
        x for x in leases_of(cli)
        if (x["serviceType"], x["name"], x["port"], x["pid"])
        == ("coordination", "serve", server.port, server.process.pid)
    ]
    assert_error(
        server.request("DELETE", f"/allocate/{own['lockId']}"),
        409,
        f"port {server.port} is leased by this styxy serve itself, so it cannot be released "
        "while the server runs; stop the server (Ctrl-C or SIGTERM) to end its lease.",
    )
    # Still held, unchanged, and marked as the server's in the list the dashboard reads.
    assert own in leases_of(cli)
    rows = {x["lockId"]: x for x in server.request("GET", "/allocations").json()["leases"]}
    assert rows[own["lockId"]]["thisServer"] is True
    assert [x for x in rows.values() if x["thisServer"]] == [rows[own["lockId"]]]
    # Any other lease ends as before.
    other = server.request("POST", "/allocate", {"service_type": "dev", "instance_id": "own"})
    assert other.status == 200, other.body
    assert server.request("DELETE", f"/allocate/{other.json()['lockId']}").status == 200


def test_allocate_with_a_holder_pid(server: Server, cli: Styxy) -> None:
    answer = server.request(
        "POST", "/allocate", {"service_type": "api", "instance_id": "held", "pid": os.getpid()}
    )
    assert answer.status == 200, answer.body
    assert answer.json()["pid"] == os.getpid()
    gone = 4_000_000  # above pid_max: never a process
    # A well-formed pid with no process behind it is a refusal (code 1), not a mistake.
    assert_error(
        server.request("POST", "/allocate", {"service_type": "api", "pid": gone}),
        409,
        f"there is no process {gone} to hold the lease.",
    )
    server.request("DELETE", f"/allocate/{answer.json()['lockId']}")


@pytest.mark.parametrize(
    ("body", "sentence"),
    [
        (b"{bad", "the body is not valid JSON (Expecting property name enclosed in double "
         "quotes at line 1 column 2)."),
        (b"", 'the body must be a JSON object, e.g. {"service_type": "dev"}.'),
        (b"[1, 2]", 'the body must be a JSON object, e.g. {"service_type": "dev"}.'),
        (b"\xff\xfe{}", "the body is not UTF-8 (byte 0)."),
        (b'{"service_type": 3}', "service_type must be a string, not 3."),
        (b'{"service_type": "dev", "preferred_port": "3005"}',
         "preferred_port must be a port number from 1 to 65535, not '3005'."),
        (b'{"service_type": "dev", "preferred_port": true}',
         "preferred_port must be a port number from 1 to 65535, not true."),
        (b'{"service_type": "dev", "pid": 1.5}',
         "pid must be a process id from 1 to 4194304, not 1.5."),
        (b'{"service_type": "dev", "pid": 0}', "pid must be a process id from 1 to 4194304, not 0."),
        (b'{"service_type": "dev", "name": ["a"]}', "name must be a string, not an array."),
        (b'{"instance_id": "x"}', "service_type is required."),
        (b'{"service_type": "dev", "port": 3000}',
         "unknown parameter 'port'; the parameters are create, instance_id, name, pid, preferred_port, "
         "service_type."),
        (b'{"service_type": "Bad Name"}',
         "invalid service type 'Bad Name': use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', "
         "starting with a letter or digit."),
        (b'{"service_type": "dev", "preferred_port": 70000}',
         "preferred_port must be a port number from 1 to 65535, not 70000."),
        (b'{"service_type": "dev", "preferred_port": ' + b"9" * 21 + b"}",
         "the body is not valid JSON (an integer longer than 20 digits)."),
        (b"[" * 65 + b"]" * 65, "the body is nested deeper than 64 levels."),
        (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "the body is nested deeper than 64 levels."),
        (b'{"service_type": "dev", "pid": NaN}',
         "the body is not valid JSON (NaN is not a number JSON allows)."),
        (b'{"service_type": "dev", "create": "yes"}', "create must be true or false, not 'yes'."),
        (b'{"service_type": "dev", "create": 1}', "create must be true or false, not 1."),
    ],
)
def test_bad_allocate_requests_are_400_and_change_nothing(
    server: Server, cli: Styxy, body: bytes, sentence: str
) -> None:
    before = cli.snapshot()
    assert_error(server.request("POST", "/allocate", raw=body), 400, sentence)
    assert cli.snapshot() == before


def test_a_body_over_64_kib_is_413(server: Server, cli: Styxy) -> None:
    before = cli.snapshot()
    padding = " " * (64 * 1024)
    big = ('{"service_type": "dev"' + padding + "}").encode()
    sentence = "the body is larger than 64 KiB."
    assert_error(server.request("POST", "/allocate", raw=big), 413, sentence)
    assert cli.snapshot() == before
    # Exactly 64 KiB is still read (and allocates).
    fits = b'{"service_type": "dev", "instance_id": "fits"}'
    fits = fits[:-1] + b" " * (64 * 1024 - len(fits)) + b"}"
    answer = server.request("POST", "/allocate", raw=fits)
    assert answer.status == 200, answer.body
    server.request("DELETE", f"/allocate/{answer.json()['lockId']}")


def test_a_chunked_body_is_counted_as_it_arrives(server: Server, cli: Styxy) -> None:
    """No Content-Length to trust: the limit holds on the bytes read."""
    before = leases_of(cli)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        chunks = (b'{"service_type": "dev",' if i == 0 else b" " * 1024 for i in range(100))
        connection.request(
            "POST",
            "/allocate",
            body=chunks,
            headers={"Authorization": f"Bearer {server.token}"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == {"error": "the body is larger than 64 KiB.", "code": 2}
    finally:
        connection.close()
    assert leases_of(cli) == before


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "", "localhost.evil.example:{port}"])
def test_a_foreign_host_is_403_even_with_the_token(server: Server, host: str) -> None:
    host = host.format(port=server.port)
    for method, path in [("GET", "/status"), ("GET", "/allocations"), ("GET", "/")]:
        answer = server.request(method, path, headers={"Host": host})
        assert answer.status == 403, answer.body
        allowed = f"127.0.0.1:{server.port}, [::1]:{server.port}, localhost:{server.port}"
        assert answer.json() == {
            "error": f"the Host {host!r} is not this server's loopback name; use one of {allowed}.",
            "code": 1,
        }


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_loopback_hosts_are_answered(server: Server, host: str) -> None:
    answer = server.request("GET", "/allocations", headers={"Host": host.format(port=server.port)})
    assert answer.status == 200


def test_no_cors_headers(server: Server) -> None:
    origin = {"Origin": "http://evil.example"}
    for method, path in [("GET", "/status"), ("GET", "/allocations"), ("OPTIONS", "/allocate")]:
        answer = server.request(method, path, headers=origin)
        assert not [k for k in answer.headers if k.startswith("access-control-")], answer.headers
    preflight = server.request(
        "OPTIONS", "/allocate", token=None,
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert_error(preflight, 405, "method not allowed on this route.")


def test_check(server: Server, cli: Styxy) -> None:
    lease = server.request("POST", "/allocate", {"service_type": "docs", "instance_id": "chk"}).json()
    answer = server.request("GET", f"/check/{lease['port']}")
    assert answer.status == 200
    assert answer.json() == cli("check", str(lease["port"]), "--json").json()
    found = answer.json()
    assert (found["port"], found["free"], found["serviceType"]) == (lease["port"], False, "docs")
    assert found["lease"]["lockId"] == lease["lockId"]
    server.request("DELETE", f"/allocate/{lease['lockId']}")
    assert server.request("GET", f"/check/{lease['port']}").json()["free"] is True
    for given, shown in (("abc", "'abc'"), ("0", "0"), ("70000", "70000"), ("-1", "'-1'")):
        assert_error(
            server.request("GET", f"/check/{given}"),
            400,
            f"port must be a port number from 1 to 65535, not {shown}.",
        )


def test_allocations_lists_what_the_command_line_lists(server: Server, cli: Styxy) -> None:
    made = cli("allocate", "-s", "hub", "-i", "listing", "--json")
    assert made.code == 0, made.err
    named = cli("allocate", "-s", "hub", "-i", "listing", "-n", "web", "--json").json()
    answer = server.request("GET", "/allocations")
    assert answer.status == 200
    # The command line's leases, each with its URLs for the dashboard (SPEC 22).
    rows = {x["lockId"]: x for x in answer.json()["leases"]}
    for lease in cli("list", "--json").json()["leases"]:
        row = rows.pop(lease["lockId"])
        urls = ("url", "directUrl", "proxied", "thisServer")
        assert {k: v for k, v in row.items() if k not in urls} == lease
        assert (row["directUrl"], row["proxied"]) == (f"http://localhost:{lease['port']}/", False)
        # Only the server's own lease of its port is marked as the server's.
        own = (lease["serviceType"], lease["name"], lease["port"], lease["pid"]) == (
            "coordination", "serve", server.port, server.process.pid
        )
        assert row["thisServer"] is own
    assert rows == {}
    urls = {x["lockId"]: x["url"] for x in answer.json()["leases"]}
    assert urls[made.json()["lockId"]] is None  # no name, no host name
    assert urls[named["lockId"]] == "http://web.listing.localhost:1355/"
    cli("release", named["lockId"])
    verbose = server.request("GET", "/allocations?verbose=1").json()["leases"]
    row = next(x for x in verbose if x["lockId"] == made.json()["lockId"])
    # The holder of a command-line lease is its parent: this test process.
    assert row["pid"] == os.getpid()
    import psutil

    me = psutil.Process()
    assert (row["process"], row["command"]) == (me.name(), " ".join(me.cmdline()))
    cli("release", made.json()["lockId"])


def test_ranges(server: Server, cli: Styxy) -> None:
    lease = server.request("POST", "/allocate", {"service_type": "ui", "instance_id": "map"}).json()
    answer = server.request("GET", "/ranges")
    assert answer.status == 200
    ranges = answer.json()["ranges"]
    assert [r["serviceType"] for r in ranges][:3] == ["dev", "monitoring", "ui"]
    ui = next(r for r in ranges if r["serviceType"] == "ui")
    assert set(ui) == {
        "serviceType", "start", "end", "instances", "leased", "listening", "free",
        "leasedPorts", "listeningPorts",
    }
    assert (ui["start"], ui["end"], ui["instances"]) == (4000, 4099, "multi")
    assert lease["port"] in ui["leasedPorts"] and ui["leased"] == len(ui["leasedPorts"])
    assert ui["free"] == 100 - len(set(ui["leasedPorts"]) | set(ui["listeningPorts"]))
    ai = next(r for r in ranges if r["serviceType"] == "ai")
    assert ai["instances"] == "single"
    server.request("DELETE", f"/allocate/{lease['lockId']}")


def test_audit_and_auto_allocation(server: Server, cli: Styxy) -> None:
    answer = server.request(
        "POST", "/allocate", {"service_type": "grafana", "instance_id": "a", "create": True}
    )
    assert answer.status == 200, answer.body
    made = answer.json()
    assert (made["autoAllocated"], made["newRange"], made["placement"], made["chunkSize"]) == (
        True, [11510, 11519], "after", 10,
    )
    audit = server.request("GET", "/audit")
    assert audit.status == 200
    lines = audit.json()["audit"]
    in_document = cli.doc.read_text().split("<!-- styxy:audit -->")[1]
    assert lines and lines[-1] in in_document
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ auto-allocate grafana 11510-11519 chunk=10 "
        r"placement=after by=\S+",
        lines[-1],
    )
    server.request("DELETE", f"/allocate/{made['lockId']}")


def test_refusals_are_409_and_write_nothing(server: Server, cli: Styxy) -> None:
    before = cli.snapshot()
    assert_error(
        server.request("POST", "/allocate", {"service_type": "dev", "preferred_port": 8000}),
        409,
        "port 8000 belongs to service type 'api' (8000-8099), not 'dev'.",
    )
    assert cli.snapshot() == before
    assert cli("config", "set", "auto-allocation.enabled", "false").code == 0
    try:
        before = cli.snapshot()
        answer = server.request(
            "POST", "/allocate", {"service_type": "newthing", "create": True}
        )
        assert answer.status == 409, answer.body
        assert answer.json()["error"].startswith("Unknown service type 'newthing'")
        assert cli.snapshot() == before
    finally:
        assert cli("config", "set", "auto-allocation.enabled", "true").code == 0


def test_unknown_routes_and_methods(server: Server) -> None:
    assert_error(server.request("GET", "/nothing"), 404, "no route /nothing.", 2)
    assert_error(server.request("PUT", "/allocations"), 405, "method not allowed on this route.")


def test_openapi_is_the_route_table(server: Server) -> None:
    answer = server.request("GET", "/openapi.json")
    assert answer.status == 200
    spec = answer.json()
    assert spec["openapi"] == "3.1.0" and spec["info"]["version"] == "0.1.0"
    operations = {
        (method.upper(), path): op for path, ops in spec["paths"].items() for method, op in ops.items()
    }
    assert set(operations) == {
        ("GET", "/"), ("GET", "/status"), ("POST", "/allocate"), ("DELETE", "/allocate/{lockId}"),
        ("GET", "/allocations"), ("GET", "/check/{port}"), ("GET", "/ranges"), ("GET", "/audit"),
        ("GET", "/openapi.json"), ("GET", "/about"),
    }
    public = {key for key, op in operations.items() if op["security"] == []}
    assert public == {("GET", "/"), ("GET", "/status")}
    for (method, path), op in operations.items():
        assert op["summary"] and op["responses"], (method, path)
        # Every documented route exists with that method: neither 404 nor 405.
        concrete = path.replace("{lockId}", "nope").replace("{port}", "3000")
        body = {"service_type": "build", "instance_id": "openapi"} if method == "POST" else None
        status = server.request(method, concrete, body).status
        assert status not in (405,) and (status != 404 or "{lockId}" in path), (method, path)
        if key_needs_token := op["security"] != []:
            assert server.request(method, concrete, body, token=None).status == 401, key_needs_token
    assert set(spec["paths"]["/allocate"]["post"]["responses"]) == {
        "200", "400", "401", "403", "405", "409", "413", "503",
    }
    schema = spec["components"]["schemas"]["AllocateRequest"]
    assert set(schema["properties"]) == {
        "service_type", "instance_id", "name", "preferred_port", "pid", "create",
    }
    lease = server.request("GET", "/allocations").json()["leases"]
    for item in lease:
        if item["instanceId"] == "openapi":
            server.request("DELETE", f"/allocate/{item['lockId']}")


def test_the_dashboard_is_served_without_a_token_under_a_strict_policy(server: Server) -> None:
    page = server.request("GET", "/", token=None)
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.body.decode()
    # No inline script or handler: the policy forbids them, and the page needs none.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert "https://" not in html and "http://" not in html.replace("http://www.w3.org", "")
    for name, kind in (("dashboard.js", "javascript"), ("dashboard.css", "text/css")):
        asset = server.request("GET", f"/static/{name}", token=None)
        assert asset.status == 200 and kind in asset.headers["content-type"]
        assert asset.headers["content-security-policy"] == CSP
        assert b"http://" not in asset.body.replace(b"http://www.w3.org/2000/svg", b"")
        assert b"https://" not in asset.body


def test_the_event_loop_answers_while_a_transaction_waits_for_the_lock(
    server: Server, cli: Styxy
) -> None:
    from filelock import FileLock

    lock = FileLock(str(cli.sidecar / "lock"))
    answers: list[int] = []
    with lock:
        waiting = threading.Thread(
            target=lambda: answers.append(
                server.request("POST", "/allocate", {"service_type": "dev", "instance_id": "w"}).status
            )
        )
        waiting.start()
        time.sleep(0.5)
        started = time.monotonic()
        assert server.request("GET", "/status", token=None).status == 200
        assert time.monotonic() - started < 2.0
        assert answers == []  # still waiting for the lock we hold
    waiting.join(timeout=60)
    assert answers == [200]
    for item in server.request("GET", "/allocations").json()["leases"]:
        if item["instanceId"] == "w":
            server.request("DELETE", f"/allocate/{item['lockId']}")


def test_a_lease_of_the_server_is_the_servers_until_it_stops(server: Server, cli: Styxy) -> None:
    """Documented choice: without `pid`, the server holds; its liveness is the lease's."""
    lease = server.request("POST", "/allocate", {"service_type": "proxy", "instance_id": "own"}).json()
    listed = next(x for x in leases_of(cli) if x["lockId"] == lease["lockId"])
    assert (listed["pid"], listed["alive"]) == (server.process.pid, True)
    server.request("DELETE", f"/allocate/{lease['lockId']}")


def test_errors_are_one_json_sentence(server: Server) -> None:
    for answer in (
        server.request("GET", "/nothing"),
        server.request("GET", "/allocations", token=None),
        server.request("POST", "/allocate", raw=b"{"),
    ):
        body = answer.json()
        assert list(body) == ["error", "code"]
        assert body["error"].endswith(".") and "\n" not in body["error"]


def test_requests_in_parallel_keep_the_server_whole(server: Server, cli: Styxy) -> None:
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(server.request("GET", "/ranges").status))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 8
