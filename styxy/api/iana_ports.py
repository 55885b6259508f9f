"""IANA's index by port: what `check PORT` and `iana PORT` look up, without reading it all.

The index (`styxy iana import`'s, or the one shipped gzipped in the wheel) holds some 12,000
records as JSON: unpacking, decoding and checking all of them costs 10-30 ms, on every
`check`, for the few records at one port. So the first lookup derives a table from the index
as `styxy.system.iana` loads it (checked, every row), and keeps it in the data folder:

    magic "STYXYIPT", u32 version, u32 n, n bytes of JSON (the index's identity and source),
    65,536 x (u32 offset, u32 length, u32 CRC-32) of the rows at each port, then the rows,
    JSON per port

A lookup reads the header, the 12 bytes of its port and its rows (checked against their
CRC): a few small reads. The table
names the file it was made from (path, size, modification time, inode) and is made again
when that file changes; a table that is missing, damaged or from another version is ignored
and made again, and one that cannot be written costs only the whole read. It is a cache of a
pure function of the index, so it is replaced atomically and needs no lock.
"""

from __future__ import annotations

import json
import os
import struct
import zlib

from styxy.system import iana

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from pathlib import Path

    from styxy.system.iana import Assignment, Registry, Row, Source

MAGIC = b"STYXYIPT"
VERSION = 2
PORTS = 65536
_HEAD = struct.Struct("<8sII")
_SLOT = struct.Struct("<III")
MAX_HEADER_JSON = 1 << 16


def at_port(port: int) -> tuple[Assignment, ...]:
    """`iana.at_port(port)` from the data `iana.current()` would choose: the imported index,
    else the shipped one (each through its table), else /etc/services."""
    sources: tuple[tuple[Path, iana.SourceKind], ...] = (
        (iana.index_path(), "index"),
        (iana.shipped_index_path(), "shipped"),
    )
    for path, kind in sources:
        try:
            _, rows = rows_at(path, kind, port)
        except FileNotFoundError:
            continue
        return iana.assignments_of(rows)
    return iana.at_port(port)


def rows_at(index: Path, kind: iana.SourceKind, port: int) -> tuple[Source, tuple[Row, ...]]:
    """The source and the rows at `port` of the index at `index`, from its table (made first
    when there is none for this very file). FileNotFoundError when there is no index there, as
    the whole read raises it, so the caller moves on to the next source; IanaError for an
    index that is damaged."""
    status = os.stat(index)
    real = os.path.realpath(index)
    identity: list[object] = [real, status.st_size, status.st_mtime_ns, status.st_ino]
    found = _read(_table_path(real), identity, port)
    if found is not None:
        return found
    registry = iana.load_index(index, kind)
    _write(_table_path(real), identity, registry)
    return registry.source, tuple(row for row in registry.rows if row[2] <= port <= row[3])


def _table_path(real_index: str) -> Path:
    from styxy.paths import data_dir

    name = f"iana-ports-{zlib.crc32(real_index.encode('utf-8', 'surrogateescape')):08x}.bin"
    return data_dir() / name


def _read(
    table: Path, identity: list[object], port: int
) -> tuple[Source, tuple[Row, ...]] | None:
    try:
        fd = os.open(table, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        head = os.pread(fd, _HEAD.size, 0)
        if len(head) != _HEAD.size:
            return None
        magic, version, size = _HEAD.unpack(head)
        if magic != MAGIC or version != VERSION or size > MAX_HEADER_JSON:
            return None
        about = json.loads(os.pread(fd, size, _HEAD.size))
        if about.get("identity") != identity:
            return None
        start = _HEAD.size + size
        offset, length, crc = _SLOT.unpack(os.pread(fd, _SLOT.size, start + port * _SLOT.size))
        blob = os.pread(fd, length, offset) if length else b"[]"
        if zlib.crc32(blob) != crc:
            return None
        rows = json.loads(blob)
        source = iana.Source(*about["source"])
        return source, tuple(iana.checked_row(row) for row in rows)
    except (OSError, ValueError, TypeError, KeyError, struct.error):
        return None
    finally:
        os.close(fd)


def _write(table: Path, identity: list[object], registry: Registry) -> None:
    """Derive the table from a whole registry; best effort (a read-only data folder is fine)."""
    from styxy.errors import StyxyError

    by_port: dict[int, list[Row]] = {}
    for row in registry.rows:
        for port in range(max(row[2], 0), min(row[3], PORTS - 1) + 1):
            by_port.setdefault(port, []).append(row)
    source = registry.source
    about = json.dumps(
        {
            "identity": identity,
            "source": [source.kind, source.path, source.updated, source.origin],
        }
    ).encode()
    start = _HEAD.size + len(about) + PORTS * _SLOT.size
    slots = bytearray(PORTS * _SLOT.size)
    empty = zlib.crc32(b"[]")
    for port in range(PORTS):
        _SLOT.pack_into(slots, port * _SLOT.size, 0, 0, empty)
    blobs = []
    offset = start
    for port in sorted(by_port):
        blob = json.dumps(by_port[port], ensure_ascii=False).encode()
        _SLOT.pack_into(slots, port * _SLOT.size, offset, len(blob), zlib.crc32(blob))
        blobs.append(blob)
        offset += len(blob)
    data = b"".join([_HEAD.pack(MAGIC, VERSION, len(about)), about, bytes(slots), *blobs])
    try:
        from styxy.store.atomic import write_bytes

        table.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(table, data, mode=0o600)
    except (OSError, StyxyError):
        pass  # the next lookup reads the whole index again
