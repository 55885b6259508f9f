"""The compiled cache (`.styxy/cache.bin`) and the interceptor's journal.

The layout is fixed by docs/CACHE_FORMAT.md; the C reader in `interceptor/cache_reader.c`
accepts exactly the files `decode` accepts (a differential test replays the same inputs through
both). This module sits on the hot path of `styxy allocate`, so it imports only the standard
library pieces it needs (struct, zlib, os, math, dataclasses).
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from styxy.errors import CacheError
from styxy.records import record
from styxy.vocabulary import MAX_PORT

MAGIC = b"STYXYCCH"
MAJOR = 1
MINOR = 0
HEADER_SIZE = 64
RANGE_SIZE = 72
LEASE_SIZE = 16
DETECT_SIZE = 256
MAX_FILE_SIZE = 4 * 1024 * 1024
NO_RANGE = 0xFFFF
NAME_FIELD = 64  # u8[64]: at most 63 bytes and a NUL
GLOB_FIELD = 192  # u8[192]: at most 191 bytes and a NUL
FLAG_SINGLE = 1
JOURNAL_VERSION = "1"

# magic, major, minor, header_size, range_size, lease_size, detect_size, range_count,
# lease_count, detect_count, meta_size, payload_crc, generation, doc_crc, doc_size, leases_stamp
_HEADER = struct.Struct("<8sHHHHHHIIIIIQIII")
_HEADER_CRC = struct.Struct("<I")
_LEASES_STAMP = struct.Struct("<I")  # at offset 56, once a reserved field
_RANGE = struct.Struct("<64sHHI")
_LEASE = struct.Struct("<HHIQ")
_DETECT = struct.Struct("<64s192s")


@record
class CacheRange:
    """A row of the ranges table: the service type and its inclusive port span."""

    name: str
    start: int
    end: int
    single: bool


@record
class CacheLease:
    """A live lease: the port, its holder and the range it lies in (NO_RANGE if none)."""

    port: int
    pid: int
    range_index: int = NO_RANGE


@record
class CacheView:
    """Everything a cache file says, decoded and checked."""

    generation: int
    doc_crc: int
    doc_size: int
    ranges: tuple[CacheRange, ...]
    leases: tuple[CacheLease, ...]
    detect: tuple[tuple[str, str], ...]
    meta: bytes


@record
class JournalEntry:
    """One move the interceptor made: a port it bound for `pid` instead of `requested_port`."""

    port: int
    pid: int
    requested_port: int
    service_type: str
    created_at: float


# --------------------------------------------------------------------------- names


def _name_ok(raw: bytes) -> bool:
    """Names travel in the space-separated journal, so printable ASCII without blanks only."""
    return 0 < len(raw) < NAME_FIELD and all(0x21 <= b <= 0x7E for b in raw)


def _encode_name(name: str, what: str) -> bytes:
    try:
        raw = name.encode("ascii")
    except UnicodeEncodeError:
        raise CacheError(f"Cannot cache {what} {name!r}: names must be ASCII.") from None
    if not _name_ok(raw):
        raise CacheError(
            f"Cannot cache {what} {name!r}: names must be 1 to 63 printable characters."
        )
    return raw


def _field(raw: bytes) -> bytes:
    """The bytes of a NUL-padded field up to its first NUL (all of it when there is none)."""
    end = raw.find(b"\0")
    return raw if end < 0 else raw[:end]


# --------------------------------------------------------------------------- encode


def _encode_ranges(ranges: Sequence[CacheRange]) -> bytes:
    out = bytearray()
    for r in ranges:
        name = _encode_name(r.name, "service type")
        if not 1 <= r.start <= r.end <= MAX_PORT:
            raise CacheError(f"Cannot cache range {r.start}-{r.end} of {r.name!r}: bad ports.")
        out += _RANGE.pack(name, r.start, r.end, FLAG_SINGLE if r.single else 0)
    return bytes(out)


def _encode_leases(leases: Sequence[CacheLease], range_count: int) -> bytes:
    return b"".join(pack_lease(lease, range_count) for lease in leases)


def pack_lease(lease: CacheLease, range_count: int) -> bytes:
    """One entry of the lease table; CacheError for a value the layout cannot hold."""
    return pack_entry(lease.port, lease.pid, lease.range_index, range_count)


def pack_entry(port: int, pid: int, range_index: int, range_count: int) -> bytes:
    """`pack_lease` of its fields: a commit packs one entry a lease, without a record each."""
    if not 1 <= port <= MAX_PORT:
        raise CacheError(f"Cannot cache a lease on port {port}: bad port.")
    if not 0 <= pid <= 0xFFFFFFFF:
        raise CacheError(f"Cannot cache a lease held by pid {pid}: bad pid.")
    if range_index != NO_RANGE and not 0 <= range_index < range_count:
        raise CacheError(
            f"Cannot cache the lease on port {port}: range index {range_index} does not exist."
        )
    return _LEASE.pack(port, range_index, pid, 0)


# The bounds `styxy validate` puts on detect globs (styxy/document/schema.py), kept here too so
# that no cache asks the preload library for more work per bind than they allow.
MAX_DETECT = 256
MAX_GLOB_BYTES = 120


def _encode_detect(detect: Sequence[tuple[str, str]]) -> tuple[bytes, int]:
    """Entries whose type or glob does not fit the fixed fields or the bounds are left out."""
    out = bytearray()
    count = 0
    for service_type, glob in detect:
        if count == MAX_DETECT:
            break
        if not service_type.isascii():
            continue
        name = service_type.encode("ascii")
        pattern = glob.encode("utf-8", "surrogateescape")
        if not _name_ok(name) or not 0 < len(pattern) <= MAX_GLOB_BYTES or b"\0" in pattern:
            continue
        out += _DETECT.pack(name, pattern)
        count += 1
    return bytes(out), count


def encode(
    *,
    ranges: Sequence[CacheRange],
    leases: Sequence[CacheLease],
    detect: Sequence[tuple[str, str]],
    meta: bytes,
    doc_crc: int,
    doc_size: int,
    generation: int,
    leases_stamp: int = 0,
    lease_entries: Sequence[bytes] | None = None,
) -> bytes:
    """The bytes of a cache file; raises CacheError for a value the layout cannot hold.

    `lease_entries`, when given, is the lease table already packed (`pack_lease`, one entry a
    lease) and stands for `leases`: the transaction remembers each lease's entry.
    """
    range_bytes = _encode_ranges(ranges)
    if lease_entries is None:
        lease_bytes = _encode_leases(leases, len(ranges))
        lease_count = len(leases)
    else:
        lease_bytes = b"".join(lease_entries)
        lease_count = len(lease_entries)
    detect_bytes, detect_count = _encode_detect(detect)
    payload = range_bytes + lease_bytes + detect_bytes + bytes(meta)
    if HEADER_SIZE + len(payload) > MAX_FILE_SIZE:
        raise CacheError("Cannot write the cache: it would exceed 4 MiB.")
    if not (
        0 <= generation < 2**64
        and 0 <= doc_crc < 2**32
        and 0 <= doc_size < 2**32
        and 0 <= leases_stamp < 2**32
    ):
        raise CacheError(
            "Cannot write the cache: generation, doc_crc, doc_size or leases_stamp is out of range."
        )
    head = _HEADER.pack(
        MAGIC, MAJOR, MINOR, HEADER_SIZE, RANGE_SIZE, LEASE_SIZE, DETECT_SIZE,
        len(ranges), lease_count, detect_count, len(meta), zlib.crc32(payload),
        generation, doc_crc, doc_size, leases_stamp,
    )  # fmt: skip
    return head + _HEADER_CRC.pack(zlib.crc32(head)) + payload


# --------------------------------------------------------------------------- decode


@record
class _Header:
    """The header's fields after the magic and version."""

    header_size: int
    range_size: int
    lease_size: int
    detect_size: int
    range_count: int
    lease_count: int
    detect_count: int
    meta_size: int
    payload_crc: int
    generation: int
    doc_crc: int
    doc_size: int


def _decode_header(data: bytes) -> _Header:
    """Check the fixed part in the same order as the C reader, so both name the same fault."""
    if len(data) < HEADER_SIZE:
        raise CacheError(f"The cache is truncated: {len(data)} bytes, less than a header.")
    if len(data) > MAX_FILE_SIZE:
        raise CacheError("The cache is larger than 4 MiB.")
    fields = _HEADER.unpack_from(data)
    if fields[0] != MAGIC:
        raise CacheError("The file is not a styxy cache (bad magic).")
    (stored_crc,) = _HEADER_CRC.unpack_from(data, 60)
    if zlib.crc32(data[:60]) != stored_crc:
        raise CacheError("The cache header is corrupt (CRC mismatch).")
    if fields[1] != MAJOR:
        raise CacheError(f"The cache has version {fields[1]}.{fields[2]}; this styxy reads 1.x.")
    head = _Header(*fields[3:15])
    if (
        head.header_size < HEADER_SIZE
        or head.range_size < RANGE_SIZE
        or head.lease_size < LEASE_SIZE
        or head.detect_size < DETECT_SIZE
    ):
        raise CacheError("The cache declares entry sizes smaller than the format allows.")
    expected = (
        head.header_size
        + head.range_count * head.range_size
        + head.lease_count * head.lease_size
        + head.detect_count * head.detect_size
        + head.meta_size
    )
    if expected != len(data):
        raise CacheError(f"The cache is {len(data)} bytes but its header says {expected}.")
    if zlib.crc32(memoryview(data)[head.header_size :]) != head.payload_crc:
        raise CacheError("The cache payload is corrupt (CRC mismatch).")
    return head


def _decode_ranges(data: bytes, offset: int, head: _Header) -> tuple[CacheRange, ...]:
    out = []
    for i in range(head.range_count):
        raw, start, end, flags = _RANGE.unpack_from(data, offset + i * head.range_size)
        name = _field(raw)
        if len(name) == len(raw) or not _name_ok(name):
            raise CacheError(f"Range {i} of the cache has an invalid name.")
        if not 1 <= start <= end:
            raise CacheError(f"Range {i} of the cache has an invalid span {start}-{end}.")
        out.append(CacheRange(name.decode("ascii"), start, end, bool(flags & FLAG_SINGLE)))
    return tuple(out)


def _decode_leases(data: bytes, offset: int, head: _Header) -> tuple[CacheLease, ...]:
    out = []
    for i in range(head.lease_count):
        port, index, pid, _ = _LEASE.unpack_from(data, offset + i * head.lease_size)
        if port == 0:
            raise CacheError(f"Lease {i} of the cache has port 0.")
        if index != NO_RANGE and index >= head.range_count:
            raise CacheError(f"Lease {i} of the cache points at a range that does not exist.")
        out.append(CacheLease(port, pid, index))
    return tuple(out)


def _decode_detect(data: bytes, offset: int, head: _Header) -> tuple[tuple[str, str], ...]:
    out = []
    for i in range(head.detect_count):
        raw_type, raw_glob = _DETECT.unpack_from(data, offset + i * head.detect_size)
        name, glob = _field(raw_type), _field(raw_glob)
        if len(name) == len(raw_type) or not _name_ok(name):
            raise CacheError(f"Detect entry {i} of the cache has an invalid service type.")
        if len(glob) == len(raw_glob) or not glob:
            raise CacheError(f"Detect entry {i} of the cache has an invalid glob.")
        out.append((name.decode("ascii"), glob.decode("utf-8", "surrogateescape")))
    return tuple(out)


def decode(data: bytes) -> CacheView:
    """Decode and check a whole cache file; any fault raises CacheError with one sentence."""
    data = bytes(data)
    head = _decode_header(data)
    offset = head.header_size
    ranges = _decode_ranges(data, offset, head)
    offset += head.range_count * head.range_size
    leases = _decode_leases(data, offset, head)
    offset += head.lease_count * head.lease_size
    detect = _decode_detect(data, offset, head)
    offset += head.detect_count * head.detect_size
    return CacheView(
        generation=head.generation,
        doc_crc=head.doc_crc,
        doc_size=head.doc_size,
        ranges=ranges,
        leases=leases,
        detect=detect,
        meta=data[offset:],
    )


# --------------------------------------------------------------------------- files


def read(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> CacheView:
    """Read and decode the cache at `path`; raises CacheError if missing, too large or corrupt."""
    return decode(_read_bytes(path, dir_fd))


@record
class CacheStamp:
    """What the `allocate` fast path needs: what the cache was built from, and the meta blob."""

    generation: int
    doc_crc: int
    doc_size: int
    meta: bytes
    leases_stamp: int = 0  # which lease file the lease table was built from (CACHE_FORMAT.md)


class CacheVersionError(CacheError):
    """A cache of another major version: stale rather than corrupt, so it is rebuilt."""


def read_stamp(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> CacheStamp:
    """Check the whole file (sizes, both CRCs) but build no entry objects.

    The Python side reads only the meta blob; skipping a thousand lease records it never uses
    is a millisecond off every command.
    """
    data = _read_bytes(path, dir_fd)
    # Checked before the checksums: another major version may lay its header out differently.
    if data[:8] == MAGIC and len(data) >= 10 and struct.unpack_from("<H", data, 8)[0] != MAJOR:
        raise CacheVersionError(f"The cache {os.fspath(path)} was written by another styxy.")
    head = _decode_header(data)
    (leases_stamp,) = _LEASES_STAMP.unpack_from(data, 56)
    return CacheStamp(
        head.generation,
        head.doc_crc,
        head.doc_size,
        data[len(data) - head.meta_size :],
        leases_stamp,
    )


def _read_bytes(path: str | os.PathLike[str], dir_fd: int | None = None) -> bytes:
    """The cache's bytes, refused as the C reader refuses them: not a regular file, a symbolic
    link, another user's file (root excepted) or more than 4 MiB. O_NONBLOCK: a FIFO planted
    at the path must not hang us. With `dir_fd`, read through that open folder."""
    from styxy.errors import UnsafeFileError
    from styxy.store import fsio

    try:
        return fsio.read_bytes(path, fsio.CACHE, follow_links=False, private=True, dir_fd=dir_fd)
    except FileNotFoundError:
        raise CacheError(f"The cache {os.fspath(path)} does not exist.") from None
    except UnsafeFileError as exc:
        raise CacheError(exc.message) from None


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data`: readers see the old file or the new one, never a torn one."""
    from styxy.store import atomic

    atomic.write_bytes(Path(path), data)


# --------------------------------------------------------------------------- journal


def journal_path(cache_path: str | os.PathLike[str]) -> Path:
    """The journal the interceptor appends to: `journal` beside the cache."""
    return Path(cache_path).parent / "journal"


def parse_journal_line(line: str) -> JournalEntry | None:
    """One journal line, or None when it does not parse (a torn or foreign line)."""
    entry = check_journal_line(line)
    return None if isinstance(entry, str) else entry


# A pid no Linux kernel hands out (pid_max is at most 2**22); a time past 2100 is corruption.
_PID_MAX = 4_194_304
_LATEST_TIME = 4_102_444_800.0


def check_journal_line(line: str) -> JournalEntry | str:
    """One journal line, or why it is not a valid move (naming the field)."""
    parts = line.split()
    if len(parts) != 6 or parts[0] != JOURNAL_VERSION:
        return "not a journal record of version 1 with six fields"
    try:
        port, pid, requested = int(parts[1]), int(parts[2]), int(parts[3])
        created_at = float(parts[5])
    except ValueError:
        return "a number field does not hold a number"
    if not 1 <= port <= MAX_PORT:
        return f"port {port} is not a port in 1..{MAX_PORT}"
    if not 1 <= requested <= MAX_PORT:
        return f"requested port {requested} is not a port in 1..{MAX_PORT}"
    if not 1 <= pid <= _PID_MAX:
        return f"pid {pid} is not a process id in 1..{_PID_MAX}"
    name = parts[4]
    if not (name.isascii() and _name_ok(name.encode("ascii"))):
        return "the service type is not 1 to 63 printable ASCII characters"
    if not 0 <= created_at <= _LATEST_TIME:  # NaN and the infinities fail it too
        return f"time {parts[5]} is not a time between 1970 and 2100"
    return JournalEntry(port, pid, requested, name, created_at)


def read_journal(path: str | os.PathLike[str]) -> list[JournalEntry]:
    """Every entry of the journal at `path` in order; a missing journal is empty."""
    from styxy.store import fsio

    try:
        data = fsio.read_bytes(path, fsio.JOURNAL, follow_links=False, private=True)
    except FileNotFoundError:
        return []
    text = data.decode("utf-8", "replace")
    entries = (parse_journal_line(line) for line in text.splitlines())
    return [entry for entry in entries if entry is not None]


# --------------------------------------------------------------------------- describe


def describe(view: CacheView) -> str:
    """The cache in words, for `styxy interceptor dump`."""
    lines = [
        f"generation {view.generation}",
        f"document   crc32 {view.doc_crc:08x}, {view.doc_size} bytes",
        f"ranges     {len(view.ranges)}",
    ]
    for index, r in enumerate(view.ranges):
        kind = "single" if r.single else "multi"
        label = f"[{index}]"
        lines.append(f"  {label:<5} {r.name:<20} {r.start:>5}-{r.end:<5} {kind}")
    lines.append(f"leases     {len(view.leases)}")
    for lease in view.leases:
        where = (
            view.ranges[lease.range_index].name
            if lease.range_index < len(view.ranges)
            else "(no range)"
        )
        lines.append(f"  port {lease.port:>5}  pid {lease.pid:<8} {where}")
    lines.append(f"detect     {len(view.detect)}")
    for service_type, glob in view.detect:
        lines.append(f"  {service_type:<20} {glob}")
    lines.append(f"meta       {len(view.meta)} bytes")
    return "\n".join(lines)
