"""Exit codes as a script sees them: 2 for every usage error whoever detects it, `check` as
grep, and `--json` refusals as one JSON object, before or after the subcommand."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def warm(styxy):
    styxy("allocate", "-s", "dev", "-i", "warm")
    return styxy


USAGE = [
    ["allocate", "-s", "dev", "-p", "0"],
    ["allocate", "-s", "dev", "-p", "abc"],
    ["allocate", "-s", "dev", "-p", "70000"],
    ["allocate", "-s", "dev", "--pid", "0"],
    ["allocate"],
    ["release"],
    ["release", "abc", "--port", "3000"],
    ["release", "-p", "0"],
    ["use"],
    ["use", "-p", "3000", "-s", "dev"],
    ["use", "-p", "-1"],
    ["check"],
    ["check", "0"],
    ["check", "abc"],
    ["check", "70000"],
    ["scan", "--start", "10", "--end", "5"],
    ["scan", "--end", "65536"],
    ["run", "-s", "api"],
    ["run", "-s", "api", "--"],
    ["config", "undo-auto", "--all", "-s", "dev"],
    ["serve", "--port", "0"],
    ["serve", "--port", "70000"],
    ["env", "--pid", "0"],
    ["no-such-command"],
    ["list", "--no-such-option"],
]


@pytest.mark.parametrize("args", USAGE, ids=[" ".join(a) or "bare" for a in USAGE])
def test_every_usage_error_exits_2_with_one_sentence(warm, args):
    before = warm.snapshot()
    done = warm(*args)
    assert done.code == 2, done
    assert done.out == ""
    assert done.err.startswith("styxy: ")
    assert len(done.err.splitlines()) == 1
    assert warm.snapshot() == before


@pytest.mark.parametrize("args", USAGE, ids=[" ".join(a) or "bare" for a in USAGE])
def test_every_usage_error_with_json_is_one_object(warm, args):
    done = warm(*args[:1], "--json", *args[1:])
    assert done.code == 2, done
    assert json.loads(done.out) == {
        "error": done.err.removeprefix("styxy: ").rstrip("\n"),
        "code": 2,
    }


def test_ports_out_of_bounds_are_named_in_one_sentence(warm):
    done = warm("allocate", "-s", "dev", "-p", "70000")
    assert done.code == 2
    assert done.err == "styxy: --port must be a port number from 1 to 65535, not 70000.\n"


def test_check_answers_like_grep(warm):
    assert warm("check", "3001").code == 0
    assert warm("check", "3000").code == 1
    assert warm("check", "0").code == 2


def test_check_that_cannot_read_the_leases_exits_2(warm):
    (warm.sidecar / "leases.json").write_bytes(b'{"version": 1, "leases": [')
    done = warm("check", "3000", "--json")
    assert done.code == 2
    assert done.err.startswith("styxy: ")
    assert json.loads(done.out) == {"error": done.err.removeprefix("styxy: ").rstrip("\n"), "code": 2}


def test_check_of_a_port_in_use_with_json_is_the_answer_not_an_error(warm):
    done = warm("check", "3000", "--json")
    assert done.code == 1
    assert done.json()["free"] is False
    assert "error" not in done.json()


@pytest.mark.parametrize(
    "args",
    [
        ["release", "no-such-lock"],
        ["use", "-s", "api"],
        ["config", "undo-auto"],
        ["config", "get", "no-such-key"],
    ],
)
def test_a_refusal_with_json_is_one_object_with_the_same_sentence(warm, args):
    for where in ("before", "after"):
        argv = ["--json", *args] if where == "before" else [*args, "--json"]
        done = warm(*argv)
        assert done.code == 1, done
        assert len(done.out.splitlines()) == 1
        assert json.loads(done.out) == {
            "error": done.err.removeprefix("styxy: ").rstrip("\n"),
            "code": 1,
        }


REPORTING = [
    ["list"],
    ["check", "3001"],
    ["scan", "--start", "1", "--end", "2"],
    ["cleanup", "--dry-run"],
    ["use", "-s", "dev"],
    ["ranges"],
    ["doctor"],
    ["validate"],
    ["config", "show"],
    ["config", "get", "lease-grace-seconds"],
    ["config", "auto-allocation"],
    ["release", "-i", "nobody"],
]


@pytest.mark.parametrize("args", REPORTING, ids=[" ".join(a) for a in REPORTING])
def test_json_before_or_after_the_subcommand_gives_the_same_object(warm, args):
    before = warm("--json", *args)
    after = warm(*args, "--json")
    assert before.code == after.code == 0, (before, after)
    assert json.loads(before.out) == json.loads(after.out)


def test_run_takes_json_before_the_double_dash_only(warm):
    done = warm("run", "-s", "api", "--json", "--", "true")
    assert (done.code, done.out) == (0, "")
    echoed = warm("run", "-s", "api", "--", "echo", "--json")
    assert (echoed.code, echoed.out) == (0, "--json\n")


def test_run_with_json_refused_is_one_object_and_runs_nothing(warm, tmp_path):
    marker = tmp_path / "ran"
    done = warm("run", "-s", "no such type", "--json", "--", "touch", str(marker))
    assert done.code == 2  # a malformed service type is a usage error
    assert json.loads(done.out)["code"] == done.code
    assert not marker.exists()
