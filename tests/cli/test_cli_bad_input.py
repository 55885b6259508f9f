"""Bad input of every kind: one clear sentence, a non-zero exit, nothing changed on disk."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def warm(styxy):
    """A document with its sidecar, a lease and a cache, so there is something to damage."""
    styxy("allocate", "-s", "dev", "-i", "warm")
    return styxy


def _refused(styxy, *args, code=1, timeout=60):
    before = styxy.snapshot()
    done = styxy(*args, timeout=timeout)
    assert done.code == code, (args, done)
    assert done.out == ""
    assert done.err.strip(), args
    assert styxy.snapshot() == before
    return done


def test_corrupt_lease_file_stops_every_command(warm):
    path = warm.sidecar / "leases.json"
    path.write_bytes(b'{"version": 1, "leases": [')
    for args in (["allocate", "-s", "dev"], ["list"], ["release", "--port", "3000"], ["cleanup"], ["check", "3000"]):
        # `check` follows grep: 2 when it cannot answer.
        done = _refused(warm, *args, code=2 if args[0] == "check" else 1)
        assert done.err == (
            f"styxy: the lease file {path} is corrupt (invalid JSON at line 1); fix or remove it "
            "by hand, styxy will not overwrite it.\n"
        )
    assert path.read_bytes() == b'{"version": 1, "leases": ['


@pytest.mark.parametrize(
    "body",
    [b"[]", b'{"version": 2, "leases": []}', b'{"version": 1, "leases": [{"port": 1}]}',
     b'{"version": 1, "fields": ["lockId", "port", "serviceType", "instanceId", "name", "pid", "pidStartTime", "createdAt", "source"], "leases": {}}',
     b'[' * 100000],
)
def test_lease_files_of_the_wrong_shape_are_corrupt_too(warm, body):
    (warm.sidecar / "leases.json").write_bytes(body)
    done = _refused(warm, "allocate", "-s", "dev")
    assert done.err.startswith("styxy: the lease file ") and "is corrupt" in done.err


def test_corrupt_cache_is_refused_with_a_next_step(warm):
    path = warm.sidecar / "cache.bin"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    done = _refused(warm, "allocate", "-s", "dev")
    assert done.err.startswith(f"styxy: the cache {path} is corrupt (")
    assert done.err.endswith("; delete it and styxy rebuilds it from the document.\n")
    path.unlink()
    assert warm("allocate", "-s", "dev", "-i", "again").code == 0
    assert path.read_bytes()[:8] == b"STYXYCCH"


def test_a_hand_broken_document_stops_commands_with_path_and_line(warm):
    text = warm.doc.read_text().replace("| api | 8000 | 8099 |", "| api | 8000 | 7000 |")
    warm.doc.write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("| api |"))) + 1
    done = _refused(warm, "allocate", "-s", "dev", "-i", "new")
    assert done.err.startswith(f"{warm.doc}:{line}: ")


def test_conflict_markers_are_refused(warm):
    text = warm.doc.read_text().replace("| api |", "<<<<<<< HEAD\n| api |", 1)
    warm.doc.write_text(text)
    done = _refused(warm, "allocate", "-s", "dev", "-i", "new")
    assert "conflict" in done.err


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("auto-allocation.placement", "sideways"),
        ("auto-allocation.min-port-number", "0"),
        ("auto-allocation.max-port-number", "70000"),
        ("auto-allocation.min-port-number", "60000"),
        ("auto-allocation.default-chunk-size", "0"),
        ("auto-allocation.gap-size", "-1"),
        ("auto-allocation.enabled", "perhaps"),
        ("lease-grace-seconds", "-5"),
        ("lease-grace-seconds", "soon"),
        ("auto-allocation.no-such-key", "1"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(warm, key, value):
    done = _refused(warm, "config", "set", key, value)
    assert len(done.err.strip().splitlines()) == 1


def test_usage_errors_exit_2(warm):
    _refused(warm, "allocate", code=2)
    _refused(warm, "no-such-command", code=2)
    _refused(warm, "check", "notaport", code=2)


def test_a_document_that_is_not_utf8_is_refused_with_its_line(warm):
    data = warm.doc.read_bytes().replace(b"Development proxies", b"Development \xff proxies")
    warm.doc.write_bytes(data)
    at = data.index(b"\xff")
    line = data[:at].count(b"\n") + 1
    done = _refused(warm, "allocate", "-s", "dev", "-i", "new")
    assert done.err == f"{warm.doc}:{line}: not UTF-8 text (byte {at} is 0xff)\n"


def test_a_fifo_at_the_cache_path_is_refused_without_hanging(warm):
    cache_file = warm.sidecar / "cache.bin"
    cache_file.unlink()
    os.mkfifo(cache_file)
    done = _refused(warm, "list", timeout=20)
    assert done.err == f"styxy: the cache {cache_file} is corrupt (the cache {cache_file} is a FIFO, not a regular file; styxy reads only regular files); delete it and styxy rebuilds it from the document.\n"


def test_a_cache_of_another_major_version_is_rebuilt_not_refused(warm):
    cache_file = warm.sidecar / "cache.bin"
    data = bytearray(cache_file.read_bytes())
    data[8:10] = (2).to_bytes(2, "little")
    cache_file.write_bytes(bytes(data))
    assert warm("list").code == 0
    assert warm("cleanup").code == 0
    assert cache_file.read_bytes()[8:10] == (1).to_bytes(2, "little")
