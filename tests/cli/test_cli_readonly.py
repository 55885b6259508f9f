"""SPEC section 10: read-only commands never wait on the lock; a broken document blocks only
what needs it; a byte order mark is kept; a named document that does not exist is an error."""

from __future__ import annotations

import json
import os
import time

import pytest
from filelock import FileLock

from styxy.store import cache

# Waiting for the lock would take 30 s (LOCK_TIMEOUT_SECONDS); a command that answers well
# inside that did not wait. The bound is loose because the machine running the tests is shared.
NO_WAIT_SECONDS = 10

READ_ONLY = [
    ["list"],
    ["list", "--json"],
    ["check", "3000"],
    ["scan", "--start", "3000", "--end", "3010"],
    ["use", "-s", "dev"],
    ["config", "show"],
    ["config", "get", "lease-grace-seconds"],
    ["config", "auto-allocation"],
    ["doctor"],
]


@pytest.fixture
def warm(styxy):
    done = styxy("allocate", "-s", "dev", "-i", "warm", "--pid", str(os.getpid()))
    styxy.port = int(done.out)  # 3000 unless something on this machine listens there
    return styxy


@pytest.mark.parametrize("args", READ_ONLY, ids=" ".join)
def test_read_only_commands_answer_while_another_process_holds_the_lock(warm, args):
    lock = FileLock(str(warm.sidecar / "lock"))
    lock.acquire(timeout=5)
    try:
        before = warm.snapshot()
        began = time.monotonic()
        done = warm(*[str(warm.port) if x == "3000" else x for x in args], timeout=25)
        elapsed = time.monotonic() - began
    finally:
        lock.release()
    assert elapsed < NO_WAIT_SECONDS, (args, elapsed)
    assert done.err == "" or args[0] == "use"
    # `check 3000` answers 1 (in use: the warm lease holds it); everything else succeeds.
    assert done.code == (1 if args[0] == "check" else 0), done
    assert warm.snapshot() == before


def test_list_shows_a_stale_lease_as_not_alive_and_leaves_reaping_to_writers(warm):
    leases = warm.sidecar / "leases.json"
    body = json.loads(leases.read_bytes())
    # A lease of a process that is gone, older than the grace period, on a silent port.
    body["leases"].append(["dead0000dead0000", 3005, "dev", "gone", "", 4_000_000, None, 1.0, "cli"])
    leases.write_text(json.dumps(body))
    before = leases.read_bytes()
    shown = {x["port"]: x["alive"] for x in warm("list", "--json").json()["leases"]}
    assert shown == {warm.port: True, 3005: False}
    assert warm("check", "3005").code == 0  # stale: the next writer reaps it
    assert warm("use", "-p", "3005").code == 1
    assert leases.read_bytes() == before
    done = warm("cleanup", "--json")
    assert [x["lockId"] for x in done.json()["reaped"]] == ["dead0000dead0000"]


# ---------------------------------------------------------------------------------------------
# A broken document


def _break(styxy) -> tuple[bytes, int]:
    text = styxy.doc.read_text()
    row = next(x for x in text.splitlines() if x.startswith("| api |"))
    line = text.splitlines().index(row) + 1
    broken = text.replace("| api | 8000 | 8099 |", "| api | 8000 | 7000 |").encode()
    styxy.doc.write_bytes(broken)
    return broken, line


def _one_problem_line(err: str, doc, line: int) -> None:
    problems = [x for x in err.splitlines() if f"{doc}:" in x]
    assert len(problems) == 1, err
    assert problems[0].startswith(f"styxy: {doc}:{line}: ")
    assert problems[0].endswith(
        "; the document has errors: lease commands still work, commands that need the "
        "document refuse until it is fixed"
    )


def test_a_broken_document_still_lets_lease_commands_work(warm):
    warm("allocate", "-s", "api", "-i", "one", "--pid", str(os.getpid()))
    broken, line = _break(warm)
    for args, code in (
        (["list", "--json"], 0),
        (["check", str(warm.port)], 1),
        (["scan", "--start", "3000", "--end", "3001"], 0),
        (["use", "-s", "dev"], 0),
        (["doctor"], 1),  # doctor reports the errors and exits 1, after counting the leases
        (["cleanup"], 0),
    ):
        done = warm(*args)
        assert done.code == code, (args, done)
        _one_problem_line(done.err, warm.doc, line)
    report = warm("doctor", "--json").json()
    assert report["leases"] == {"live": 2, "stale": 0}
    assert report["document"]["valid"] is False
    leases = warm("list", "--json").json()["leases"]
    assert [x["serviceType"] for x in leases] == ["dev", "api"]
    api_port = leases[1]["port"]
    done = warm("release", "--port", str(api_port))
    assert done.code == 0 and done.out.startswith(f"released api port {api_port}")
    _one_problem_line(done.err, warm.doc, line)
    assert [x["port"] for x in warm("list", "--json").json()["leases"]] == [warm.port]
    assert warm.doc.read_bytes() == broken


def test_a_broken_document_blocks_what_needs_it_and_changes_nothing(warm):
    _, line = _break(warm)
    before = warm.snapshot()
    for args in (
        ["allocate", "-s", "dev", "-i", "other"],
        ["run", "-s", "dev", "--", "true"],
        ["config", "set", "lease-grace-seconds", "60"],
        ["validate"],
        ["config", "show"],
    ):
        done = warm(*args)
        assert done.code == 1, (args, done)
        assert f"{warm.doc}:{line}: " in done.err
        assert warm.snapshot() == before, args


def test_the_cache_keeps_the_last_good_ranges_while_the_document_is_broken(warm):
    good = warm.doc.read_bytes()
    before = cache.read(warm.sidecar / "cache.bin")
    _break(warm)
    assert warm("release", "--port", str(warm.port)).code == 0
    after = cache.read(warm.sidecar / "cache.bin")
    # The interceptor keeps the ranges it had; the lease is gone; the stamp still names the
    # last good document, so the broken one is never taken for it.
    assert after.ranges == before.ranges
    assert after.leases == ()
    assert (after.doc_crc, after.doc_size) == (before.doc_crc, before.doc_size)
    assert after.generation == before.generation + 1
    # Put the good text back: everything works again, from the cache.
    warm.doc.write_bytes(good)
    done = warm("allocate", "-s", "dev", "-i", "again")
    assert (done.code, done.err) == (0, "")


def test_a_broken_document_without_a_cache_gives_the_interceptor_no_ranges(warm):
    (warm.sidecar / "cache.bin").unlink()
    broken, _ = _break(warm)
    assert warm("cleanup").code == 0
    view = cache.read(warm.sidecar / "cache.bin")
    assert view.ranges == ()
    assert [lease.port for lease in view.leases] == [warm.port]
    assert view.doc_size == 0xFFFFFFFF  # never fresh for any document
    assert warm.doc.read_bytes() == broken


# ---------------------------------------------------------------------------------------------
# The byte order mark

BOM = b"\xef\xbb\xbf"


def test_a_byte_order_mark_is_accepted_and_kept(styxy):
    original = styxy.doc.read_bytes().replace(b"leaseGraceSeconds: 300", b"leaseGraceSeconds: 120")
    styxy.doc.write_bytes(BOM + original)
    done = styxy("validate")
    assert (done.code, done.out) == (0, "")
    assert "warning" not in done.err and "no front matter" not in done.err
    assert styxy("config", "get", "lease-grace-seconds").out == "120\n"
    assert styxy("config", "get", "auto-allocation.chunk-size").code in (0, 1)
    done = styxy("config", "set", "lease-grace-seconds", "60")
    assert done.code == 0, done
    expected = BOM + original.replace(b"leaseGraceSeconds: 120", b"leaseGraceSeconds: 60")
    assert styxy.doc.read_bytes() == expected
    assert styxy("allocate", "-s", "brandnew", "--yes").code == 0
    written = styxy.doc.read_bytes()
    assert written.startswith(BOM + b"---\n") and written.count(BOM) == 1
    assert written.count(b"\n---\n") == 1  # one front matter, not a second one above the BOM
    assert styxy("validate").code == 0


# ---------------------------------------------------------------------------------------------
# A named document that does not exist


def test_init_makes_the_named_document_and_nothing_else_does(styxy, tmp_path):
    missing = tmp_path / "nowhere" / "ports.md"
    for args in (["list"], ["allocate", "-s", "dev"], ["release", "--port", "3000"], ["doctor"]):
        done = styxy(*args, "--doc", str(missing), doc=False)
        assert (done.code, done.err) == (
            1,
            f"styxy: no document at {missing}; create it with: styxy init --doc {missing}\n",
        ), args
    assert not missing.parent.exists()
    done = styxy("init", "--doc", str(missing), doc=False)
    assert done.code == 0
    assert styxy("allocate", "-s", "dev", "--doc", str(missing), doc=False).code == 0


def test_ranges_and_a_suggested_range_are_read_without_the_lock(warm):
    from styxy import api

    lock = FileLock(str(warm.sidecar / "lock"))
    lock.acquire(timeout=5)
    try:
        before = warm.snapshot()
        began = time.monotonic()
        usage = {r.service_type: r for r in api.ranges(doc=warm.doc).ranges}
        suggestion = api.suggest_range("grafana", doc=warm.doc)
        elapsed = time.monotonic() - began
    finally:
        lock.release()
    assert elapsed < NO_WAIT_SECONDS
    assert usage["dev"].leased_ports == (warm.port,)
    assert (suggestion.existing, suggestion.chunk_size) == (False, 10)
    assert warm.snapshot() == before
