"""Issue 13 point 5: every lease and journal field is checked on load. A record with a bad field
is dropped and said (file, record, field); a file that is not a lease file at all is refused."""

from __future__ import annotations

import json
import os
import time

import pytest
from support import Styxy

FIELDS = ["lockId", "port", "serviceType", "instanceId", "name", "pid", "pidStartTime", "createdAt", "source"]


def _good(lock_id: str, port: int) -> list[object]:
    return [lock_id, port, "dev", "i", "", os.getpid(), None, time.time(), "cli"]


def _write(styxy: Styxy, rows: list[list[object]], history: list[object] | None = None) -> None:
    body = {"version": 1, "fields": FIELDS, "leases": rows, "history": history or []}
    styxy.sidecar.mkdir(exist_ok=True)
    # NaN and Infinity are what a broken writer (or a person) leaves; json writes them bare.
    (styxy.sidecar / "leases.json").write_text(json.dumps(body))


@pytest.mark.parametrize(
    ("index", "value", "reason"),
    [
        (7, float("nan"), "createdAt NaN is not a time between 1970 and 2100"),
        (7, float("inf"), "createdAt Infinity is not a time between 1970 and 2100"),
        (7, 1e20, "createdAt 1e+20 is not a time between 1970 and 2100"),
        (7, "2026", "createdAt '2026' is not a time between 1970 and 2100"),
        (6, -5.0, "pidStartTime -5.0 is not a time between 1970 and 2100"),
        (5, 0, "pid 0 is not a process id in 1..4194304"),
        (5, 4194305, "pid 4194305 is not a process id in 1..4194304"),
        (5, True, "pid true is not a process id in 1..4194304"),
        (1, 70000, "port 70000 is not a port in 1..65535"),
        (1, 3000.0, "port 3000.0 is not a port in 1..65535"),
        (2, "x" * 64, "serviceType must be text of 1 to 63 characters"),
        (3, "i" * 129, "instanceId must be text of 0 to 128 characters"),
        (4, ["nested"], "name must be text of 0 to 128 characters"),
        (8, "daemon", "source 'daemon' is not one of cli, run, interceptor, api"),
    ],
)
def test_a_bad_field_drops_its_record_and_says_which(
    styxy: Styxy, index: int, value: object, reason: str
) -> None:
    bad = _good("bad0", 3005)
    bad[index] = value
    _write(styxy, [_good("good", 3001), bad])
    path = styxy.sidecar / "leases.json"
    note = f"styxy: dropped lease 2 of {path}: lock id 'bad0': {reason}\n"
    listed = styxy("list", "--json")
    assert (listed.code, listed.err) == (0, note)
    assert [x["lockId"] for x in listed.json()["leases"]] == ["good"]
    # `release` of the good lease works, says the same once, and writes the file without
    # the bad record; later commands are quiet.
    released = styxy("release", "good")
    assert (released.code, released.err) == (0, note)
    assert json.loads(path.read_text())["leases"] == []
    assert styxy("list").err == ""


def test_a_bad_history_entry_is_dropped_too(styxy: Styxy) -> None:
    _write(styxy, [_good("good", 3001)], history=[["dev", "i", "", 99999], ["dev", "j", "", 3002]])
    path = styxy.sidecar / "leases.json"
    done = styxy("list")
    assert done.err == (
        f"styxy: dropped history entry 1 of {path}: port 99999 is not a port in 1..65535\n"
    )


def test_a_lease_with_a_nan_time_no_longer_breaks_release(styxy: Styxy) -> None:
    # The reproduction: `release` removed the lease, then `list` failed with an internal error.
    _write(styxy, [["nan0", 3005, "dev", "i", "", os.getpid(), None, float("nan"), "cli"]])
    assert styxy("release", "nan0").code == 1  # it was dropped: there is no such lease
    assert styxy("list", "--json").json() == {"leases": []}


def test_a_command_that_rewrites_only_the_cache_does_not_vouch_for_a_hand_edit(
    styxy: Styxy,
) -> None:
    # `cleanup` with nothing to reap rebuilt the cache stamped with the hand-edited lease file
    # as if styxy had written it; the next command read that file unchecked, listed the NaN
    # lease and failed with an internal error, and `allocate` wrote NaN back.
    assert styxy("allocate", "-s", "dev").code == 0
    _write(styxy, [["nan0", 3005, "dev", "i", "", os.getpid(), None, float("nan"), "bogus"]])
    path = styxy.sidecar / "leases.json"
    note = (
        f"styxy: dropped lease 1 of {path}: lock id 'nan0': "
        "createdAt NaN is not a time between 1970 and 2100\n"
    )
    assert styxy("cleanup").err == note
    listed = styxy("list", "--json")
    assert (listed.code, listed.err, listed.json()) == (0, note, {"leases": []})
    assert styxy("allocate", "-s", "dev", "-i", "two").code == 0
    assert "NaN" not in path.read_text()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 200_000, "it nests JSON too deeply to read"),
        (b'{"version": 1, "fields": ' + json.dumps(FIELDS).encode() + b', "leases": {}}',
         "leases and history must be lists"),
    ],
)
def test_a_file_of_the_wrong_shape_is_refused_whole(styxy: Styxy, body: bytes, reason: str) -> None:
    styxy.sidecar.mkdir()
    path = styxy.sidecar / "leases.json"
    path.write_bytes(body)
    done = styxy("allocate", "-s", "dev")
    assert (done.code, done.err) == (
        1,
        f"styxy: the lease file {path} is corrupt ({reason}); fix or remove it by hand, "
        "styxy will not overwrite it.\n",
    )
    assert path.read_bytes() == body


def test_journal_lines_with_bad_fields_are_dropped_and_said_once(styxy: Styxy) -> None:
    assert styxy("cleanup").code == 0
    journal = styxy.sidecar / "journal"
    me, now = os.getpid(), time.time()
    journal.write_bytes(
        f"1 8042 {me} 8000 api {now:.3f}\n"
        f"1 8043 {me} 8000 api nan\n"
        f"1 8044 0 8000 api {now:.3f}\n"
        f"1 8045 {me} 8000 api 1e20\n".encode()
    )
    done = styxy("cleanup")
    # The journal is set aside before it is read, so the note names the aside file.
    assert done.err.startswith("styxy: dropped 3 line(s) of the interceptor's journal ")
    assert done.err.endswith(" (line 2: time nan is not a time between 1970 and 2100)\n")
    assert done.err.count("\n") == 1
    assert [x["port"] for x in styxy("list", "--json").json()["leases"]] == [8042]


def test_the_lease_file_has_a_hard_limit_on_live_leases(styxy: Styxy) -> None:
    from styxy.store.leases import MAX_LIVE_LEASES

    rows = [
        [f"{i:016x}", 20000 + i, "bulk", f"i{i}", "", os.getpid(), None, time.time(), "cli"]
        for i in range(MAX_LIVE_LEASES)
    ]
    assert styxy("cleanup").code == 0
    _write(styxy, rows)
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "dev", "--pid", str(os.getpid()))
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"styxy: styxy already holds {MAX_LIVE_LEASES} live leases, its limit; end some with "
        "`styxy release` or `styxy cleanup` first.\n"
    )
    assert styxy.snapshot() == before
    assert styxy("release", f"{0:016x}").code == 0
    assert styxy("allocate", "-s", "dev", "--pid", str(os.getpid())).code == 0
