"""Auto-allocation of unknown service types, end to end (SPEC section 6, issue 4)."""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import time

import pytest
from netutil import first_free
from support import styxy_command

AUDIT = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ auto-allocate (?P<t>\S+) (?P<a>\d+)-(?P<b>\d+) "
    r"chunk=(?P<c>\d+) placement=(?P<p>\w+) by=\S+@\S+$"
)


def _diff(before: str, after: str) -> tuple[list[str], list[str]]:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    added = [x[1:] for x in lines if x.startswith("+") and not x.startswith("+++")]
    removed = [x[1:] for x in lines if x.startswith("-") and not x.startswith("---")]
    return added, removed


def test_grafana_gets_a_new_range_as_one_row_and_one_audit_line(styxy):
    before = styxy.doc.read_text()
    done = styxy("allocate", "-s", "grafana", "-i", "main")
    assert (done.code, done.out) == (0, "11510\n")
    assert done.err == (
        "styxy: Auto-allocated range 11510-11519 for new service type 'grafana'\n"
        "styxy: 'grafana' also matches the monitoring row's detect rule; "
        "-s monitoring would share that range\n"
    )
    added, removed = _diff(before, styxy.doc.read_text())
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert removed == []
    assert added[0] == f"| grafana | 11510 | 11519 | multi |  | Auto-allocated {today} |"
    match = AUDIT.match(added[1])
    assert match and match.group("t", "a", "b", "c", "p") == ("grafana", "11510", "11519", "10", "after")
    assert len(added) == 2
    # The row sits right after ai's row, the audit line inside the text fence.
    after = styxy.doc.read_text().splitlines()
    assert after[after.index(added[0]) - 1].startswith("| ai | 11400 | 11499 |")
    assert after[after.index(added[1]) + 1] == "```"
    second = styxy("allocate", "-s", "grafana", "-i", "other", "--json").json()
    assert (second["port"], second["autoAllocated"], second["newRange"]) == (11511, False, None)
    jaeger = styxy("allocate", "-s", "jaeger", "--json").json()
    assert (jaeger["newRange"], jaeger["placement"], jaeger["chunkSize"], jaeger["autoAllocated"]) == (
        [11530, 11539], "after", 10, True
    )
    assert styxy("validate").code == 0


def test_rules_choose_chunk_and_placement(styxy):
    prom = styxy("allocate", "-s", "monitoring-prometheus", "--json").json()
    assert (prom["newRange"], prom["placement"], prom["chunkSize"]) == ([9000, 9019], "smart", 20)
    redis = styxy("allocate", "-s", "database-redis", "--json").json()
    assert (redis["newRange"], redis["placement"], redis["chunkSize"]) == ([5400, 5404], "smart", 5)


def test_placement_before_and_without_gaps(styxy):
    assert styxy("config", "set", "auto-allocation.placement", "before").code == 0
    assert styxy("allocate", "-s", "one", "--json").json()["newRange"] == [11380, 11389]
    assert styxy("config", "set", "auto-allocation.placement", "after").code == 0
    assert styxy("config", "set", "auto-allocation.preserve-gaps", "false").code == 0
    assert styxy("allocate", "-s", "two", "--json").json()["newRange"] == [11500, 11509]


def test_disabled_auto_allocation_refuses_and_writes_nothing(styxy):
    styxy("config", "set", "auto-allocation.enabled", "false")
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "grafana")
    assert done.code == 1 and done.out == ""
    assert done.err.startswith("styxy: Unknown service type 'grafana': add a row for it to the table in ")
    assert "styxy config set auto-allocation.enabled true" in done.err
    assert styxy.snapshot() == before


def test_no_room_says_so_with_the_real_numbers(styxy):
    styxy("config", "set", "auto-allocation.min-port-number", "20000")
    styxy("config", "set", "auto-allocation.max-port-number", "20005")
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "grafana")
    assert (done.code, done.err) == (1, "styxy: no room for 10 ports between 20000 and 20005\n")
    assert styxy.snapshot() == before


def test_undo_restores_the_exact_bytes_but_the_audit_lines(styxy):
    original = styxy.doc.read_text()
    lease = styxy("allocate", "-s", "grafana", "-i", "main", "--json").json()
    refused = styxy("config", "undo-auto")
    assert refused.code == 1
    assert f"grafana port 11510 (lock {lease['lockId']}, process {os.getpid()})" in refused.err
    styxy("release", lease["lockId"])
    done = styxy("config", "undo-auto", "--json")
    assert done.json() == {"removed": [{"serviceType": "grafana", "range": [11510, 11519]}], "endedLeases": []}
    added, removed = _diff(original, styxy.doc.read_text())
    assert removed == []
    assert len(added) == 2 and AUDIT.match(added[0])
    assert re.match(r"^\S+ undo-auto grafana 11510-11519 by=\S+@\S+$", added[1])
    nothing = styxy("config", "undo-auto")
    assert (nothing.code, nothing.err) == (1, "styxy: nothing auto-allocated is left to undo.\n")


def test_undo_force_ends_leases_and_never_touches_hand_written_rows(styxy):
    lease = styxy("allocate", "-s", "grafana", "--json").json()
    styxy("allocate", "-s", "jaeger")
    done = styxy("config", "undo-auto", "--service-type", "grafana", "--force", "--json").json()
    assert done["removed"] == [{"serviceType": "grafana", "range": [11510, 11519]}]
    assert [x["lockId"] for x in done["endedLeases"]] == [lease["lockId"]]
    # A lease of the type on a port outside its range goes with the range.
    far = first_free(range(23456, 23500))
    outside = styxy("allocate", "-s", "jaeger", "-i", "far", "-p", str(far), "--json").json()
    assert outside["port"] == far
    assert styxy("config", "undo-auto", "--all", "-s", "jaeger").code == 2
    all_done = styxy("config", "undo-auto", "--all", "--force", "--json").json()
    assert outside["lockId"] in [x["lockId"] for x in all_done["endedLeases"]]
    assert [x["serviceType"] for x in all_done["removed"]] == ["jaeger"]
    assert "| dev | 3000 | 3099 |" in styxy.doc.read_text()
    # A person's row that merely says "Auto-allocated" is not styxy's to remove.
    text = styxy.doc.read_text().replace(
        "| ai | 11400 |", "| hand | 20000 | 20009 | multi |  | Auto-allocated 2020-01-01 |\n| ai | 11400 |"
    )
    styxy.doc.write_text(text)
    assert styxy("config", "undo-auto").code == 1
    assert styxy.doc.read_text() == text


def test_ten_parallel_new_services_never_overlap(styxy):
    procs = [
        subprocess.Popen([*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", f"svc{n}", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
        for n in range(10)
    ]
    data = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    spans = sorted(tuple(d["newRange"]) for d in data)
    assert len(spans) == 10
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 > a1 + 10
    assert styxy("validate").code == 0


def test_same_new_type_concurrently_creates_one_row(styxy):
    procs = [
        subprocess.Popen([*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", "grafana", "-i", f"i{n}", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
        for n in range(6)
    ]
    data = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert sum(d["autoAllocated"] for d in data) == 1
    assert styxy.doc.read_text().count("| grafana |") == 1


def test_confirmation_without_a_terminal_refuses_and_yes_accepts(styxy):
    styxy("config", "set", "auto-allocation.require-confirmation", "true")
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "newservice")
    assert done.code == 1
    assert "needs confirmation" in done.err and "--yes" in done.err
    assert styxy.snapshot() == before
    accepted = styxy("allocate", "-s", "newservice", "--yes", "--json").json()
    assert accepted["newRange"] == [11510, 11519]


def _on_terminal(styxy, answers: list[str], *args: str) -> tuple[int, str]:
    """Run styxy on a real pseudo-terminal and answer its prompts."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        os.environ.clear()
        os.environ.update(styxy.env)
        argv = [*styxy_command(), "--doc", str(styxy.doc), *args]
        os.execv(argv[0], argv)
    seen = b""
    pending = list(answers)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if pending and seen.rstrip().endswith((b"customize]", b"port:", b"size:")):
            os.write(fd, pending.pop(0).encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


@pytest.mark.parametrize("answer", ["y", "N"])
def test_confirmation_prompt_on_a_terminal(styxy, answer):
    styxy("config", "set", "auto-allocation.require-confirmation", "true")
    code, screen = _on_terminal(styxy, [answer], "allocate", "-s", "newservice")
    assert "Unknown service type 'newservice'. Proposed range 11510-11519 (placement after). Proceed? [y/N/customize]" in screen
    if answer == "y":
        assert code == 0 and "11510" in screen
        assert "| newservice | 11510 | 11519 |" in styxy.doc.read_text()
    else:
        assert code == 1 and "| newservice |" not in styxy.doc.read_text()


def test_customize_asks_again_until_the_range_is_admissible(styxy):
    styxy("config", "set", "auto-allocation.require-confirmation", "true")
    answers = ["customize", "8000", "10", "customize", "20000", "5", "y"]
    code, screen = _on_terminal(styxy, answers, "allocate", "-s", "newservice", "--json")
    assert code == 0, screen
    assert "8000-8009" in screen  # the refusal names the clash with api
    assert "Proposed range 20000-20004 (placement custom)" in screen
    assert "| newservice | 20000 | 20004 |" in styxy.doc.read_text()


@pytest.mark.parametrize(
    ("user", "escaped"),
    [
        ("x y=z", "x%20y%3Dz"),
        ("evil\nline", "evil%0Aline"),
        ("a|b`c", "a%7Cb%60c"),
        ("```", "%60%60%60"),
        ("100%", "100%25"),
        ("José", "Jos%C3%A9"),
    ],
)
def test_a_hostile_user_name_stays_one_word_of_one_audit_line(styxy, user, escaped):
    import socket

    host = socket.gethostname().split(".")[0]
    env = {"USER": user, "LOGNAME": user, "LNAME": user, "USERNAME": user}
    done = styxy("allocate", "-s", "newtype", env=env)
    assert done.code == 0, done
    audit = [x for x in styxy.doc.read_text().splitlines() if " auto-allocate newtype " in x]
    assert len(audit) == 1
    assert audit[0].endswith(f" by={escaped}@{host}")
    assert AUDIT.match(audit[0])
    assert styxy("validate").code == 0
    # The line is read back as one entry: undo finds the range by it.
    shown = styxy("config", "auto-allocation", "--json").json()
    assert [x["serviceType"] for x in shown["ranges"]] == ["newtype"]
    assert styxy("config", "undo-auto", "-s", "newtype", "--force", env=env).code == 0
    assert styxy.doc.read_text().splitlines()[-2].endswith(f" by={escaped}@{host}")
