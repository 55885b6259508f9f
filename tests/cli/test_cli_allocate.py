"""`styxy allocate` and `release` as a user runs them: real processes, real sockets."""

from __future__ import annotations

import json
import os

from netutil import first_free, listen

DEV_ORDER = [3000, 3001, 3002, 3003, *range(3004, 3100)]
ALLOCATE_KEYS = [
    "port", "lockId", "serviceType", "requestedType", "instanceId", "name", "pid", "existing",
    "reason",
    "autoAllocated", "newRange", "placement", "chunkSize", "message",
]


def test_allocate_prints_the_port_alone_and_records_a_lease(styxy):
    expected = first_free(DEV_ORDER)
    done = styxy("allocate", "-s", "dev", "-i", "demo")
    assert (done.code, done.out) == (0, f"{expected}\n")
    body = json.loads((styxy.sidecar / "leases.json").read_text())
    leases = [dict(zip(body["fields"], row)) for row in body["leases"]]
    assert [(x["port"], x["serviceType"], x["instanceId"], x["name"], x["pid"], x["source"]) for x in leases] == [
        (expected, "dev", "demo", "", os.getpid(), "cli")
    ]
    assert (styxy.sidecar / ".gitignore").read_bytes() == b"*\n"
    assert (styxy.sidecar / "cache.bin").read_bytes()[:8] == b"STYXYCCH"


def test_allocate_json_has_exactly_the_documented_fields(styxy):
    expected = first_free(DEV_ORDER)
    data = styxy("allocate", "-s", "dev", "-i", "a", "-n", "web", "--json").json()
    assert list(data) == ALLOCATE_KEYS
    assert data["port"] == expected
    assert (data["serviceType"], data["instanceId"], data["name"], data["pid"]) == ("dev", "a", "web", os.getpid())
    assert data["requestedType"] is None  # the row's own name, not an alias
    assert (data["existing"], data["reason"], data["autoAllocated"]) == (False, None, False)
    assert (data["newRange"], data["placement"], data["chunkSize"], data["message"]) == (None, None, None, None)
    assert len(data["lockId"]) == 16


def test_json_flag_is_accepted_before_the_subcommand(styxy):
    done = styxy("--json", "allocate", "-s", "dev", "-i", "a")
    assert done.json()["serviceType"] == "dev"


def test_same_identity_gets_the_same_lease(styxy):
    first = styxy("allocate", "-s", "dev", "-i", "x", "--json").json()
    again = styxy("allocate", "-s", "dev", "-i", "x", "--json").json()
    assert (again["port"], again["lockId"]) == (first["port"], first["lockId"])
    assert (again["existing"], again["reason"]) == (True, "same-identity")
    other = styxy("allocate", "-s", "dev", "-i", "y", "--json").json()
    assert other["port"] != first["port"] and other["existing"] is False


def test_instance_id_comes_from_the_environment(styxy):
    data = styxy("allocate", "-s", "dev", "--json", env={"CLAUDE_INSTANCE_ID": "agent-7"}).json()
    assert data["instanceId"] == "agent-7"
    data = styxy("allocate", "-s", "dev", "--json", env={"STYXY_INSTANCE_ID": "s1", "CLAUDE_INSTANCE_ID": "agent-7"}).json()
    assert data["instanceId"] == "s1"
    assert styxy("allocate", "-s", "dev", "--json").json()["instanceId"] == "default"


def test_a_released_identity_gets_its_old_port_back(styxy):
    a = styxy("allocate", "-s", "dev", "-i", "a", "--json").json()
    b = styxy("allocate", "-s", "dev", "-i", "b", "--json").json()
    assert styxy("release", a["lockId"]).code == 0
    assert styxy("release", "--port", str(b["port"])).code == 0
    # b asks first now; without memory it would take a's lower port.
    again_b = styxy("allocate", "-s", "dev", "-i", "b", "--json").json()
    again_a = styxy("allocate", "-s", "dev", "-i", "a", "--json").json()
    assert (again_a["port"], again_b["port"]) == (a["port"], b["port"])


def test_a_port_something_listens_on_is_skipped(styxy):
    expected = first_free(DEV_ORDER)
    with listen(expected, "127.0.0.1"):
        got = int(styxy("allocate", "-s", "dev", "-i", "a").out)
    assert got == first_free(DEV_ORDER, skip=[expected])


def test_an_ipv6_listener_is_seen_too(styxy):
    expected = first_free(DEV_ORDER)
    with listen(expected, "::1"):
        got = int(styxy("allocate", "-s", "dev", "-i", "a").out)
    assert got != expected


def test_port_option_is_tried_first(styxy):
    wanted = first_free(range(3050, 3100))
    assert styxy("allocate", "-s", "dev", "-p", str(wanted)).out == f"{wanted}\n"


def test_port_in_another_types_range_is_refused_and_nothing_written(styxy):
    styxy("allocate", "-s", "dev", "-i", "warm")
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "dev", "-p", "8000")
    assert done.code == 1
    assert done.err == "styxy: port 8000 belongs to service type 'api' (8000-8099), not 'dev'.\n"
    assert done.out == ""
    assert styxy.snapshot() == before


def test_port_outside_every_range_is_allowed(styxy):
    wanted = first_free(range(23456, 23500))
    assert styxy("allocate", "-s", "dev", "-p", str(wanted)).out == f"{wanted}\n"


def test_release_by_identity_and_unknown_lock(styxy):
    data = styxy("allocate", "-s", "dev", "-i", "a", "-n", "n1", "--json").json()
    gone = styxy("release", "-s", "dev", "-i", "a", "-n", "n1", "--json").json()
    assert gone["lockId"] == data["lockId"] and gone["port"] == data["port"]
    before = styxy.snapshot()
    done = styxy("release", "nosuchlock")
    assert (done.code, done.err) == (1, "styxy: no lease with lock id 'nosuchlock'.\n")
    assert styxy.snapshot() == before


def test_bad_names_and_ports_are_refused_before_any_file_is_touched(styxy):
    styxy("allocate", "-s", "dev", "-i", "warm")
    before = styxy.snapshot()
    for bad in ["Dev", "a|b", "a b", "", "<!--", "a\nb", "-dev", "x" * 64]:
        done = styxy("allocate", "-s", bad)
        assert done.code != 0, bad
        assert done.out == ""
        assert len(done.err.strip().splitlines()) >= 1
    done = styxy("allocate", "-s", "Dev")
    assert done.err == (
        "styxy: invalid service type 'Dev': use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', "
        "starting with a letter or digit.\n"
    )
    out_of_range = styxy("allocate", "-s", "dev", "-p", "70000")
    assert (out_of_range.code, out_of_range.err) == (
        2, "styxy: --port must be a port number from 1 to 65535, not 70000.\n"
    )
    assert styxy("allocate", "-s", "dev", "-p", "abc").code == 2
    assert styxy("allocate", "-s", "dev", "--pid", "999999999").code == 2
    assert styxy("allocate", "-s", "dev", "--pid", "4000000").code == 1  # no such process
    assert styxy.snapshot() == before
