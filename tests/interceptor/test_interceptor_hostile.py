"""Hostile caches: the library never crashes, hangs or writes to stdout; it binds plainly."""

from __future__ import annotations

import os
import pwd
import random
import re
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest
from interceptor_support import *  # the pytest fixtures: built, ports, workdir, cache_file
from interceptor_support import (
    Built,
    Ports,
    child_env,
    first_free,
    hold,
    make_cache,
    moved_line,
    run,
    stderr_lines,
)

from styxy.store import cache

MIB4 = 4 * 1024 * 1024


def recrc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, 36, zlib.crc32(bytes(data[64:])))
    struct.pack_into("<I", data, 60, zlib.crc32(bytes(data[:60])))
    return bytes(data)


def hostile_file(kind: str, path: Path, valid: bytes) -> None:
    """Put a hostile object of `kind` at `path`."""
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random-bytes":
        path.write_bytes(random.Random(5).randbytes(1000))
    elif kind == "wrong-version":
        data = bytearray(valid)
        struct.pack_into("<H", data, 8, 2)
        path.write_bytes(recrc(data))
    elif kind == "wrong-header-crc":
        path.write_bytes(valid[:60] + bytes([valid[60] ^ 0xFF]) + valid[61:])
    elif kind == "wrong-payload-crc":
        path.write_bytes(valid[:-1] + bytes([valid[-1] ^ 0xFF]))
    elif kind == "too-large":
        path.write_bytes(valid + b"\0" * (MIB4 + 1 - len(valid)))
    elif kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        target = path.with_name("real-cache.bin")
        target.write_bytes(valid)
        path.symlink_to(target)
    elif kind == "foreign-owner":
        path.write_bytes(valid)
        nobody = pwd.getpwnam("nobody")
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    else:
        raise AssertionError(kind)


HOSTILE = {
    "empty": "truncated (shorter than a header)",
    "random-bytes": "bad magic",
    "wrong-version": "unknown major version",
    "wrong-header-crc": "header CRC mismatch",
    "wrong-payload-crc": "payload CRC mismatch",
    "too-large": "larger than 4 MiB",
    "directory": "not a regular file",
    "fifo": "not a regular file",
    "symlink": "not a regular file",
    "foreign-owner": "owned by another user",
}


@pytest.mark.parametrize("debug", ["0", "1"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_cache_means_plain_bind(
    built: Built, ports: Ports, workdir: Path, kind: str, debug: str
) -> None:
    if kind == "foreign-owner" and os.geteuid() != 0:
        pytest.skip("chown to another user needs root")
    path = workdir / "cache.bin"
    hostile_file(kind, path, make_cache(ports))
    requested = ports.dev[0] + 21
    with hold(("127.0.0.1", requested)):
        result = run(
            [built.helper("bindstress"), "loop", "3", str(requested)],
            child_env(built.library, path, {"STYXY_DEBUG": debug}),
            timeout=20,
        )
    assert result.returncode == 0
    assert result.stdout == b""
    expected = ["loop moved 0 kept 3"]
    if debug == "1":
        # The file is examined once; the next binds see the same stat() and do not re-read it.
        refused = f"styxy: debug: cache refused: {HOSTILE[kind]}"
        unusable = f"styxy: debug: no usable cache: {path}"
        expected = [refused, unusable, unusable, unusable, *expected]
    assert stderr_lines(result) == expected
    assert not (workdir / "journal").exists()


def test_missing_cache_means_plain_bind(built: Built, ports: Ports, workdir: Path) -> None:
    requested = ports.dev[0] + 22
    with hold(("127.0.0.1", requested)):
        result = run(
            [built.helper("bindstress"), "loop", "2", str(requested)],
            child_env(built.library, workdir / "absent.bin"),
        )
    assert (result.returncode, result.stdout) == (0, b"")
    assert stderr_lines(result) == ["loop moved 0 kept 2"]


def walk(
    built: Built, cache_path: Path, port: int, files: list[Path]
) -> subprocess.CompletedProcess[bytes]:
    return run(
        [built.helper("cachewalk"), str(cache_path), str(port), *map(str, files)],
        child_env(built.library, cache_path),
        timeout=60,
    )


def test_truncated_at_every_length_then_whole(built: Built, ports: Ports, workdir: Path) -> None:
    """One process sees the cache cut at every length, then whole: only the whole one counts."""
    valid = make_cache(ports)
    variants = workdir / "variants"
    variants.mkdir()
    files = []
    for length in [*range(len(valid)), len(valid)]:
        file = variants / f"{length:05d}"
        file.write_bytes(valid[:length])
        files.append(file)
    cache_path = workdir / "cache.bin"
    requested = ports.dev[0] + 23
    with hold(("127.0.0.1", requested)):
        expected = first_free(*ports.dev)
        result = walk(built, cache_path, requested, files)
    assert (result.returncode, result.stdout) == (0, b"")
    assert stderr_lines(result) == [
        *(f"walk {i} 0 EADDRINUSE" for i in range(len(valid))),
        moved_line(requested, expected, "dev"),
        f"walk {len(valid)} {expected} -",
    ]


def test_last_good_table_survives_bad_replacements(
    built: Built, ports: Ports, workdir: Path
) -> None:
    valid = make_cache(ports)
    moved_dev = (ports.dev[0] + 30, ports.dev[1])
    second = make_cache(ports, ranges=[cache.CacheRange("dev", *moved_dev, False)], generation=2)
    contents = [valid, b"", random.Random(1).randbytes(2000), valid[:-3], valid[:100], second]
    variants = workdir / "variants"
    variants.mkdir()
    files = []
    for i, data in enumerate(contents):
        files.append(variants / f"{i}")
        files[-1].write_bytes(data)
    cache_path = workdir / "cache.bin"
    requested = ports.dev[0] + 24
    with hold(("127.0.0.1", requested)):
        first = first_free(*ports.dev)
        later = first_free(*moved_dev)
        result = walk(built, cache_path, requested, files)
    assert (result.returncode, result.stdout) == (0, b"")
    lines = stderr_lines(result)
    # Each walk step closes its socket, so the same port is free again; the per-process map
    # hands it out silently (one move, one line) until the new table moves the range.
    assert lines == [
        moved_line(requested, first, "dev"),
        f"walk 0 {first} -",
        *(f"walk {i} {first} -" for i in range(1, 5)),
        moved_line(requested, later, "dev"),
        f"walk 5 {later} -",
    ]


ALLOWED_STDERR = re.compile(
    r"styxy: port \d+ in use; (bound \d+ instead \(service dev\)"
    r"|not moved: no free port in the range \(service dev \d+-\d+\))"
    r"|loop moved \d+ kept \d+"
)


def test_cache_replaced_1000_times_while_8_processes_bind(
    built: Built, ports: Ports, workdir: Path
) -> None:
    cache_path = workdir / "cache.bin"
    good = [
        make_cache(
            ports,
            ranges=[
                cache.CacheRange("dev", ports.dev[0] + k * 10, ports.dev[0] + k * 10 + 9, False)
            ],
            generation=k,
        )
        for k in range(3)
    ]
    bad = [b"", good[0][:77], random.Random(2).randbytes(300), good[1][:-1] + b"!"]
    cache.write_atomic(cache_path, good[0])
    stop = workdir / "stop"
    requested = ports.dev[0] + 45
    env = child_env(built.library, cache_path)
    with hold(("127.0.0.1", requested)):
        procs = [
            subprocess.Popen(
                [built.helper("bindstress"), "loop", "50", str(requested), str(stop)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(8)
        ]
        try:
            for i in range(1000):
                data = good[i % 3] if i % 2 == 0 else bad[i % 4]
                tmp = workdir / f".tmp{i}"
                tmp.write_bytes(data)
                os.replace(tmp, cache_path)
                if i % 20 == 0:
                    time.sleep(0.002)
        finally:
            stop.touch()
            outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
        assert out == b""
        lines = err.decode().splitlines()
        assert all(ALLOWED_STDERR.fullmatch(line) for line in lines), lines[:5]
        moved = int(re.fullmatch(r"loop moved (\d+) kept (\d+)", lines[-1]).group(1))  # type: ignore[union-attr]
        assert moved >= 50
