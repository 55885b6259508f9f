"""The interceptor's journal, folded into leases by the next command that takes the lock.

Read-only commands (`list`) show the journal's moves without folding them; writers
(`cleanup` here) fold.
"""

from __future__ import annotations

import os
import time


def _line(port: int, requested: int, service: str = "api") -> bytes:
    return f"1 {port} {os.getpid()} {requested} {service} {time.time():.3f}\n".encode()


def _asides(styxy):
    return sorted(p.name for p in styxy.sidecar.glob(".journal.*.folding"))


def test_journal_lines_become_interceptor_leases(styxy):
    styxy("cleanup")
    journal = styxy.sidecar / "journal"
    journal.write_bytes(_line(8042, 8000) + b"garbage that does not parse\n" + _line(3011, 3000, "dev"))
    shown = styxy("list", "--json").json()["leases"]
    assert styxy("cleanup").code == 0
    leases = styxy("list", "--json").json()["leases"]
    assert [(x["port"], x["source"]) for x in shown] == [(x["port"], x["source"]) for x in leases]
    assert [(x["port"], x["serviceType"], x["source"], x["pid"], x["instanceId"], x["name"]) for x in leases] == [
        (3011, "dev", "interceptor", os.getpid(), f"pid-{os.getpid()}", "bind-3000"),
        (8042, "api", "interceptor", os.getpid(), f"pid-{os.getpid()}", "bind-8000"),
    ]
    assert not journal.exists() and _asides(styxy) == []
    # Folding again (the same move journaled twice) does not lease it twice.
    journal.write_bytes(_line(8042, 8000))
    assert len(styxy("list", "--json").json()["leases"]) == 2
    styxy("cleanup")
    assert len(styxy("list", "--json").json()["leases"]) == 2


def test_a_line_still_being_written_waits_for_the_next_fold(styxy):
    styxy("cleanup")
    journal = styxy.sidecar / "journal"
    whole, partial = _line(8043, 8000), _line(8044, 8001)
    journal.write_bytes(whole + partial[:10])
    styxy("cleanup")
    assert [x["port"] for x in styxy("list", "--json").json()["leases"]] == [8043]
    kept = _asides(styxy)
    assert len(kept) == 1 and (styxy.sidecar / kept[0]).read_bytes() == partial[:10]
    # The rest of the line arrives in the aside file the writer still had open.
    with open(styxy.sidecar / kept[0], "ab") as handle:
        handle.write(partial[10:])
    styxy("cleanup")
    assert [x["port"] for x in styxy("list", "--json").json()["leases"]] == [8043, 8044]
    assert _asides(styxy) == []


def test_a_refused_command_keeps_the_journal_for_the_next_one(styxy):
    styxy("cleanup")
    (styxy.sidecar / "journal").write_bytes(_line(8045, 8000))
    refused = styxy("allocate", "-s", "dev", "-p", "8000")
    assert refused.code == 1
    assert len(_asides(styxy)) == 1
    styxy("cleanup")
    assert [x["port"] for x in styxy("list", "--json").json()["leases"]] == [8045]
    assert _asides(styxy) == []


def test_a_moves_lock_id_is_the_same_before_and_after_the_fold(styxy):
    """`list` and `check` show an unfolded move with the lock id the fold will keep, so the id a
    person copies from `list` is the one `release` takes (issue 21)."""
    styxy("cleanup")
    (styxy.sidecar / "journal").write_bytes(_line(8046, 8000) + _line(8047, 8001))
    first = {x["port"]: x["lockId"] for x in styxy("list", "--json").json()["leases"]}
    again = {x["port"]: x["lockId"] for x in styxy("list", "--json").json()["leases"]}
    assert sorted(first) == [8046, 8047] and first == again
    assert len(set(first.values())) == 2
    checked = styxy("check", "8046", "--json")
    assert checked.code == 1 and checked.json()["lease"]["lockId"] == first[8046]
    # A writer folds the journal; the ids stay what they were.
    assert styxy("cleanup").code == 0
    assert not (styxy.sidecar / "journal").exists()
    folded = {x["port"]: x["lockId"] for x in styxy("list", "--json").json()["leases"]}
    assert folded == first


def test_release_takes_the_lock_id_list_showed_for_an_unfolded_move(styxy):
    styxy("cleanup")
    (styxy.sidecar / "journal").write_bytes(_line(8048, 8000))
    [shown] = styxy("list", "--json").json()["leases"]
    released = styxy("release", shown["lockId"], "--json")
    assert released.code == 0, released.err
    assert released.json()["lockId"] == shown["lockId"] and released.json()["port"] == 8048
    assert released.out.count("\n") == 1
    assert styxy("list", "--json").json()["leases"] == []
