"""The vocabulary of service types on the command line (SPEC 15): aliases, near misses,
`--new-type`, the detect-rule note and the daily limit, with the real `styxy` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import Styxy

NEAR_MISS = (
    "styxy: unknown service type 'devv'; did you mean 'dev'? "
    "To add a new range named 'devv', pass --new-type.\n"
)


def test_db_and_postgres_land_in_database_and_name_what_was_asked(styxy: Styxy, holder) -> None:
    pid = str(holder.pid)
    first = styxy("allocate", "-s", "db", "-i", "main", "-n", "pg", "--pid", pid, "--json")
    assert first.code == 0, first.err
    got = first.json()
    assert (got["serviceType"], got["requestedType"], got["port"]) == ("database", "db", 5430)
    assert list(got)[:4] == ["port", "lockId", "serviceType", "requestedType"]
    # The identity is the row's: postgres asking with the same instance and name is that lease.
    again = styxy("allocate", "-s", "postgres", "-i", "main", "-n", "pg", "--pid", pid, "--json")
    assert again.json() == {
        **got, "requestedType": "postgres", "existing": True, "reason": "same-identity"
    }
    # The row's own name carries no requestedType.
    plain = styxy("allocate", "-s", "database", "-i", "other", "--pid", pid, "--json").json()
    assert (plain["serviceType"], plain["requestedType"], plain["port"]) == ("database", None, 5431)
    listed = styxy("list", "--json").json()["leases"]
    assert sorted(x["serviceType"] for x in listed) == ["database", "database"]
    # `release -s` takes an alias too, and ends the row's lease.
    ended = styxy("release", "-s", "pg", "-i", "main", "-n", "pg", "--json")
    assert ended.code == 0, ended.err
    assert ended.json()["lockId"] == got["lockId"]
    assert "| db |" not in styxy.doc.read_text()


def test_a_near_miss_is_refused_and_changes_no_byte(styxy: Styxy) -> None:
    styxy("cleanup")  # the sidecar and the cache exist: the refusal must leave them as they are
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "devv")
    assert (done.code, done.out, done.err) == (1, "", NEAR_MISS)
    assert styxy.snapshot() == before
    as_json = styxy("allocate", "-s", "devv", "--json")
    assert as_json.code == 1
    assert as_json.json() == {"error": NEAR_MISS.removeprefix("styxy: ").rstrip("\n"), "code": 1}
    assert styxy.snapshot() == before


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("Dev", None),  # upper case is no valid name at all: refused before any lookup
        ("devs", "'dev'"),
        ("de-v", "'dev'"),
        ("databse", "'database'"),
        ("postgress", "'postgres'"),
        ("monitorin", "'monitoring'"),
        ("aip", "'api' or 'ai'"),  # equally near: in the table's order
    ],
)
def test_near_misses_of_rows_and_aliases(styxy: Styxy, asked: str, meant: str | None) -> None:
    before = styxy.doc.read_bytes()
    done = styxy("allocate", "-s", asked)
    # A malformed name is a usage error (2); a near miss of a valid one is refused (1).
    assert done.code == (2 if meant is None else 1), done.err
    if meant is not None:
        assert done.err == (
            f"styxy: unknown service type '{asked}'; did you mean {meant}? "
            f"To add a new range named '{asked}', pass --new-type.\n"
        )
    assert styxy.doc.read_bytes() == before


def test_new_type_creates_a_near_miss_and_numbered_names_are_never_near_misses(
    styxy: Styxy,
) -> None:
    done = styxy("allocate", "-s", "devv", "--new-type", "--json")
    assert done.code == 0, done.err
    got = done.json()
    assert (got["serviceType"], got["requestedType"], got["autoAllocated"], got["newRange"]) == (
        "devv", None, True, [11510, 11519]
    )
    assert "| devv | 11510 | 11519 | multi |" in styxy.doc.read_text()
    # worker1 then worker2, api2 beside api: numbered instances of a family, not typos.
    for name in ("worker1", "worker2", "api2"):
        made = styxy("allocate", "-s", name)
        assert made.code == 0, made.err
        assert made.err.startswith("styxy: Auto-allocated range "), made.err


def test_a_new_name_that_a_detect_rule_matches_says_so(styxy: Styxy) -> None:
    done = styxy("allocate", "-s", "grafana")
    assert (done.code, done.out) == (0, "11510\n")
    assert done.err == (
        "styxy: Auto-allocated range 11510-11519 for new service type 'grafana'\n"
        "styxy: 'grafana' also matches the monitoring row's detect rule; "
        "-s monitoring would share that range\n"
    )
    plain = styxy("allocate", "-s", "temporal")
    assert plain.err == "styxy: Auto-allocated range 11530-11539 for new service type 'temporal'\n"


def test_run_and_new_type(styxy: Styxy, tmp_path: Path) -> None:
    refused = styxy("run", "-s", "devv", "--", "true")
    assert (refused.code, refused.err) == (1, NEAR_MISS)
    ran = styxy("run", "-s", "devv", "--new-type", "--", "sh", "-c", 'echo "$PORT"')
    assert ran.code == 0, ran.err
    assert ran.out == "11510\n"
    aliased = styxy("run", "-s", "redis", "--", "sh", "-c", 'echo "$PORT"')
    assert (aliased.code, aliased.out) == (0, "6370\n")


LIMIT_SENTENCE = (
    "no new range for 'type11': 10 new ranges were added in the last 24 hours, the most "
    "autoAllocation.maxNewPerDay (10) allows; remove unwanted ones with `styxy config undo-auto`, "
    "or raise the limit with `styxy config set auto-allocation.max-new-per-day N`."
)


def test_the_eleventh_new_type_of_the_day_is_refused(styxy: Styxy) -> None:
    for number in range(1, 11):
        made = styxy("allocate", "-s", f"type{number}")
        assert made.code == 0, made.err
    before = styxy.snapshot()
    refused = styxy("allocate", "-s", "type11", "--json")
    assert refused.code == 1
    assert refused.json() == {"error": LIMIT_SENTENCE, "code": 1}
    assert styxy.snapshot() == before
    # Known types still work, and undoing a range frees a place in the day's count.
    assert styxy("allocate", "-s", "db").code == 0
    assert styxy("config", "undo-auto", "--service-type", "type10", "--force").code == 0
    assert styxy("allocate", "-s", "type11").code == 0


def test_lines_older_than_a_day_do_not_count(styxy: Styxy) -> None:
    text = styxy.doc.read_text()
    rows = "".join(
        f"| old{n} | {20000 + 20 * n} | {20009 + 20 * n} | multi |  | Auto-allocated 2020-01-01 |\n"
        for n in range(12)
    )
    audit = "".join(
        f"2020-01-01T00:00:00Z auto-allocate old{n} {20000 + 20 * n}-{20009 + 20 * n} "
        "chunk=10 placement=after by=a@b\n"
        for n in range(12)
    )
    ai_row = next(line for line in text.splitlines(keepends=True) if line.startswith("| ai |"))
    text = text.replace(ai_row, ai_row + rows).replace("```text\n```", "```text\n" + audit + "```")
    styxy.doc.write_text(text)
    assert styxy("validate").code == 0
    assert styxy("allocate", "-s", "fresh").code == 0


def test_the_limit_is_a_setting_with_checked_values(styxy: Styxy) -> None:
    before = styxy.doc.read_bytes()
    for key, value, sentence in [
        ("auto-allocation.max-new-per-day", "-1",
         "auto-allocation.max-new-per-day must be a whole number from 0 to 10000, not '-1'"),
        ("auto-allocation.max-new-per-day", "10001",
         "auto-allocation.max-new-per-day must be a whole number from 0 to 10000, not '10001'"),
        ("auto-allocation.agents", "sometimes",
         "auto-allocation.agents must be ask, allow or deny, not 'sometimes'"),
    ]:
        done = styxy("config", "set", key, value)
        assert (done.code, done.err) == (1, f"styxy: {sentence}\n")
    assert styxy.doc.read_bytes() == before
    assert styxy("config", "set", "auto-allocation.max-new-per-day", "0").code == 0
    assert styxy("config", "get", "auto-allocation.max-new-per-day").out == "0\n"
    refused = styxy("allocate", "-s", "grafana")
    assert refused.code == 1
    assert "the most autoAllocation.maxNewPerDay (0) allows" in refused.err
    assert styxy("config", "set", "auto-allocation.agents", "deny").code == 0
    shown = styxy("config", "show", "--json").json()
    assert shown["autoAllocation"]["agents"] == "deny"
    assert shown["autoAllocation"]["maxNewPerDay"] == 0
    assert shown["aliases"]["database"][:3] == ["db", "postgres", "postgresql"]


def write_project(root: Path, services: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    body = "".join(f'[services.{name}]\ntype = "{kind}"\n' for name, kind in services.items())
    (root / "styxy.toml").write_text(body)
    return root


def test_styxy_toml_types_resolve_and_env_counts_toward_the_limit(
    styxy: Styxy, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "app", {"web": "frontend", "db": "postgres"})
    done = styxy("env", "--project", str(project), "--json")
    assert done.code == 0, done.err
    services = {item["name"]: item for item in done.json()["services"]}
    assert (services["web"]["type"], services["web"]["requestedType"]) == ("dev", "frontend")
    assert (services["db"]["type"], services["db"]["requestedType"]) == ("database", "postgres")
    assert 5430 <= services["db"]["port"] <= 5499

    many = write_project(tmp_path / "many", {f"svc{n}": f"kind{n}" for n in range(11)})
    before = styxy.snapshot()
    refused = styxy("env", "--project", str(many))
    assert refused.code == 1
    assert "the most autoAllocation.maxNewPerDay (10) allows" in refused.err
    assert styxy.snapshot() == before  # one transaction: none of the ten was kept


def test_a_near_miss_in_styxy_toml_is_refused_until_new_type(styxy: Styxy, tmp_path: Path) -> None:
    project = write_project(tmp_path / "app", {"web": "devv"})
    before = styxy.doc.read_bytes()
    refused = styxy("env", "--project", str(project))
    assert (refused.code, refused.err) == (1, NEAR_MISS)
    assert styxy.doc.read_bytes() == before
    made = styxy("env", "--project", str(project), "--new-type", "--json")
    assert made.code == 0, made.err
    assert made.json()["services"][0]["type"] == "devv"


def test_the_interceptor_cache_carries_detect_rules_named_by_an_alias(styxy: Styxy) -> None:
    text = styxy.doc.read_text().replace(
        '  database: ["*postgres*", "*mysqld*", "*mongod*"]\n',
        '  database: ["*postgres*", "*mysqld*", "*mongod*"]\n  redis: ["*keydb-server*"]\n',
    )
    styxy.doc.write_text(text)
    checked = styxy("validate")
    assert (checked.code, "redis" in checked.err) == (0, False), checked.err
    dumped = styxy("interceptor", "dump")
    assert dumped.code == 0, dumped.err
    line = next(x for x in dumped.out.splitlines() if "keydb-server" in x)
    assert "infrastructure" in line and "redis" not in line.replace("keydb", ""), line


def test_an_alias_resolves_on_the_hot_path_without_markdown(styxy: Styxy) -> None:
    """The cache's view carries the aliases: `-s vite` needs no parse of the document."""
    assert styxy("allocate", "-s", "dev", "-i", "a").code == 0  # builds the cache
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "styxy", "--doc", str(styxy.doc),
         "allocate", "-s", "vite", "-i", "b", "--json"],
        capture_output=True, text=True, env=styxy.env, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert not {"markdown_it", "yaml", "jinja2"} & imported
    got = json.loads(done.stdout)
    assert (got["serviceType"], got["requestedType"]) == ("dev", "vite")


LIST_NEAR_MISS = "styxy: unknown service type 'devv'; did you mean 'dev'?\n"
LIST_UNKNOWN = (
    "styxy: unknown service type 'grafana': it is not a row or an alias of the document.\n"
)


def test_list_of_a_type_says_when_the_name_is_no_row_or_alias(styxy: Styxy, holder) -> None:
    """`list -s` never fails on a name (leases can outlive rows), but a name the document does
    not know gets one note on stderr; stdout, text or JSON, is what it was without it."""
    made = styxy("allocate", "-s", "dev", "-i", "main", "-n", "web", "--pid", str(holder.pid))
    assert made.code == 0, made.err
    lock_id = styxy("list", "--json").json()["leases"][0]["lockId"]
    table = (
        "PORT  TYPE  INSTANCE  NAME  LOCK ID\n"
        f"3000  dev   main      web   {lock_id}\n"
    )
    for asked, err in (("devv", LIST_NEAR_MISS), ("grafana", LIST_UNKNOWN)):
        done = styxy("list", "-s", asked)
        assert (done.code, done.out, done.err) == (0, "no leases\n", err)
        as_json = styxy("list", "-s", asked, "--json")
        assert (as_json.code, as_json.out, as_json.err) == (0, '{"leases": []}\n', err)
    for asked in ("frontend", "dev"):  # an alias of the row, and the row
        done = styxy("list", "-s", asked)
        assert (done.code, done.out, done.err) == (0, table, "")
        as_json = styxy("list", "-s", asked, "--json")
        assert (as_json.code, as_json.err) == (0, "")
        assert [x["lockId"] for x in as_json.json()["leases"]] == [lock_id]
    # Several equally near names, as allocate offers them.
    both = styxy("list", "-s", "aip")
    assert (both.code, both.out, both.err) == (
        0, "no leases\n", "styxy: unknown service type 'aip'; did you mean 'api' or 'ai'?\n"
    )


def test_a_lease_that_outlived_its_row_is_listed_with_the_note(styxy: Styxy, holder) -> None:
    made = styxy("allocate", "-s", "grafana", "--pid", str(holder.pid), "--json")
    assert made.code == 0, made.err
    text = styxy.doc.read_text()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| grafana |"))
    styxy.doc.write_text(text.replace(row, ""))  # the row removed by hand; its lease lives on
    done = styxy("list", "-s", "grafana", "--json")
    assert (done.code, done.err) == (0, LIST_UNKNOWN)
    assert [x["lockId"] for x in done.json()["leases"]] == [made.json()["lockId"]]
