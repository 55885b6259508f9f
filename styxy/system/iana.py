"""The IANA Service Name and Transport Protocol Port Number Registry (RFC 6335), as styxy uses it.

Where the data comes from, in order: the compact index that `styxy iana import` stored in the
user's data folder; else the index shipped inside the package (`data/iana-index.json.gz`, built
from IANA's registry by the same importer, with the registry's date:
docs/references/make_iana_index.py); else the system's `/etc/services` (netbase on Debian and
Ubuntu); else nothing, and lookups say how to get some. A lookup never reads IANA's XML:
importing (`styxy.api.iana_import`) does that once and keeps only what lookups need (name,
protocol, ports, description, the registry's date) as JSON, which loads in a few milliseconds.

Whether a port is free remains a question for the OS: the registry only says who may claim a
port, so styxy uses it for warnings (`validate`), for naming (`iana`, `check`) and to break ties
in placement, never to refuse an allocation.

What counts as an assignment: a record with both a service name and a port number. Records
without a name ("Reserved", "Unassigned") bind no service; records without a number (names used
only for DNS-SD) name no port. Every transport protocol is kept; a few old records name none and
keep `protocol == ""`, so they never count as TCP.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from styxy import refusals
from styxy.errors import InvalidValueError, NotFoundError, StyxyError
from styxy.records import record as frozen_record
from styxy.system import curated
from styxy.system.iana_formats import Record
from styxy.vocabulary import MAX_PORT

# Bounds on every read: a stray huge file fails fast instead of filling memory.
MAX_SERVICES_BYTES = 4 * 1024 * 1024
MAX_INDEX_BYTES = 64 * 1024 * 1024
SERVICES = Path("/etc/services")
INDEX_NAME = "iana-index.json"
# The index that ships in the wheel; `$STYXY_SHIPPED_IANA` names another (a test of the
# fallback to /etc/services names one that does not exist).
SHIPPED_INDEX = Path(__file__).resolve().parent / "data" / "iana-index.json.gz"
INDEX_VERSION = 1
IANA_URL = (
    "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xml"
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any, Literal

    Category = Literal["system", "user", "dynamic"]
    SourceKind = Literal["index", "shipped", "services", "none"]
else:
    Category = SourceKind = str
# RFC 6335 section 6: System Ports, User Ports, Dynamic and/or Private Ports.
CATEGORY_SPANS: dict[Category, tuple[int, int]] = {
    "system": (0, 1023),
    "user": (1024, 49151),
    "dynamic": (49152, 65535),
}
CATEGORY_NAMES: dict[Category, str] = {
    "system": "System Ports",
    "user": "User Ports",
    "dynamic": "Dynamic and/or Private Ports",
}


class IanaError(StyxyError):
    """A registry that cannot be read, downloaded or stored."""


def category(port: int) -> Category:
    if port <= CATEGORY_SPANS["system"][1]:
        return "system"
    if port <= CATEGORY_SPANS["user"][1]:
        return "user"
    return "dynamic"


def category_text(kind: Category) -> str:
    low, high = CATEGORY_SPANS[kind]
    return f"{CATEGORY_NAMES[kind]} {low}-{high}"


# ---------------------------------------------------------------------------------------------
# Records


@frozen_record
class Registration:
    """One port of one record: callers ask "what is registered at port p" without ranges."""

    name: str
    protocol: str
    port: int
    description: str


@frozen_record
class Source:
    kind: SourceKind
    path: str  # the index (imported or shipped) or /etc/services; "" for none
    updated: str  # the registry's date (YYYY-MM-DD); "" when the source has none
    origin: str = ""  # the file or URL an index was imported from

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "path": self.path,
            "updated": self.updated,
            "origin": self.origin,
        }


# One record as the index stores it: (name, protocol, low, high, description). Lookups scan
# these plain tuples; building ~12,000 frozen Records would cost more than reading the JSON.
Row = tuple[str, str, int, int, str]


@frozen_record
class Registry:
    source: Source
    rows: tuple[Row, ...]

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(Record(*row) for row in self.rows)


@frozen_record
class Assignment:
    service: str
    protocol: str
    port: int
    last_port: int  # == port unless the record covers a span (x11 is 6000-6063)
    description: str
    category: Category

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "protocol": self.protocol,
            "port": self.port,
            "lastPort": self.last_port,
            "description": self.description,
            "category": self.category,
        }


def _assignment(record: Record) -> Assignment:
    return Assignment(
        record.name,
        record.protocol,
        record.low,
        record.high,
        record.description,
        category(record.low),
    )


def registrations(records: Iterable[Record]) -> Iterator[Registration]:
    for record in records:
        for port in range(record.low, record.high + 1):
            yield Registration(record.name, record.protocol, port, record.description)


def tcp_ports_of(regs: Iterable[Registration], name: str) -> frozenset[int]:
    """The TCP ports registered under `name`; service names are case-insensitive (RFC 6335)."""
    wanted = name.casefold()
    return frozenset(r.port for r in regs if r.protocol == "tcp" and r.name.casefold() == wanted)


def in_span(
    regs: Iterable[Registration], start: int, end: int, protocol: str = "tcp"
) -> tuple[Registration, ...]:
    """Registrations for `protocol` at ports start..end (inclusive), by port then name."""
    found = (r for r in regs if r.protocol == protocol and start <= r.port <= end)
    return tuple(sorted(found, key=lambda r: (r.port, r.name.casefold(), r.name)))


def assigned_tcp_ports(rows: Iterable[Row]) -> tuple[int, ...]:
    """Every port with a TCP assignment, sorted, each once (placement counts these)."""
    return tuple(
        sorted({p for _, kind, low, high, _ in rows if kind == "tcp" for p in range(low, high + 1)})
    )


def row_of(record: Record) -> Row:
    return record.name, record.protocol, record.low, record.high, record.description


# ---------------------------------------------------------------------------------------------
# Bounded reads


def read_bounded(stream: Any, limit: int, what: str) -> bytes:
    data: bytes = stream.read(limit + 1)
    if len(data) > limit:
        raise IanaError(f"{what} is larger than {_size(limit)}; refused.")
    return data


def read_file(path: str | os.PathLike[str], limit: int) -> bytes:
    """A regular file's bytes, at most `limit`. Opened without blocking and checked with fstat:
    a FIFO or a device named by mistake must not hang the command or stream forever."""
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IanaError(f"{os.fspath(path)} is a folder, not a registry file.")
        if not stat.S_ISREG(mode):
            raise IanaError(f"{os.fspath(path)} is not a regular file.")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        return read_bounded(handle, limit, os.fspath(path))


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


# ---------------------------------------------------------------------------------------------
# The compact index


def index_path() -> Path:
    from styxy.paths import data_dir

    return data_dir() / INDEX_NAME


def _damaged(path: Path, kind: SourceKind = "index") -> IanaError:
    if kind == "shipped":
        return IanaError(
            f"the IANA index shipped with styxy ({path}) is damaged; reinstall styxy, "
            "or run `styxy iana import FILE_OR_URL`."
        )
    return IanaError(
        f"the IANA index {path} is damaged; run `styxy iana import FILE_OR_URL` again."
    )


def shipped_index_path() -> Path:
    return Path(os.environ.get("STYXY_SHIPPED_IANA") or SHIPPED_INDEX)


def load_index(path: Path, kind: SourceKind = "index") -> Registry:
    """An index as `styxy iana import` writes it, gzipped or not (the shipped one is)."""
    raw = read_file(path, MAX_INDEX_BYTES)
    try:
        if raw[:2] == b"\x1f\x8b":
            raw = _gunzipped(raw, path, kind)
        body = json.loads(raw)
        if body.get("styxyIanaIndex") != INDEX_VERSION:
            raise _damaged(path, kind)
        rows = tuple(checked_row(row) for row in body["records"])
        source = Source(kind, str(path), str(body["updated"]), str(body.get("origin", "")))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _damaged(path, kind) from None
    return Registry(source, rows)


def _gunzipped(raw: bytes, path: Path, kind: SourceKind) -> bytes:
    """A gzipped index, unpacked to at most MAX_INDEX_BYTES (no decompression bomb)."""
    import zlib

    unpack = zlib.decompressobj(wbits=31)  # 31: the gzip header and trailer
    try:
        data = unpack.decompress(raw, MAX_INDEX_BYTES + 1)
    except zlib.error:
        raise _damaged(path, kind) from None
    if len(data) > MAX_INDEX_BYTES or not unpack.eof:
        raise _damaged(path, kind)
    return data


def checked_row(row: Any) -> Row:
    """A stored row with the types lookups rely on; ValueError for anything else."""
    name, protocol, low, high, description = row
    if not (
        type(name) is str
        and type(protocol) is str
        and type(low) is int
        and type(high) is int
        and type(description) is str
    ):
        raise ValueError(row)
    return name, protocol, low, high, description


def current(*, port: int | None = None) -> Registry:
    """The registry data lookups use: the imported index, else the shipped one, else
    /etc/services, else none.

    With `port`, /etc/services is read only for the lines that can name that port (what
    `check` needs, on every call), so the rows may hold nothing else.
    """
    try:
        return load_index(index_path())
    except FileNotFoundError:
        pass
    try:
        return load_index(shipped_index_path(), "shipped")
    except FileNotFoundError:
        pass
    services = Path(os.environ.get("STYXY_SERVICES") or SERVICES)
    try:
        raw = read_file(services, MAX_SERVICES_BYTES)
    except FileNotFoundError:
        return Registry(Source("none", "", ""), ())
    from styxy.system.iana_formats import read_services

    text = raw.decode("utf-8", errors="replace")
    if port is not None:
        needle = f"{port}/"
        text = "\n".join(line for line in text.splitlines() if needle in line)
    rows = tuple(row_of(r) for r in read_services(text).records)
    return Registry(Source("services", str(services), ""), rows)


# The last answer of `assigned_ports` and the index file it came from: placing a thousand new
# ranges in one transaction (`styxy env`) read and decoded the index a thousand times.
_ASSIGNED: tuple[object, tuple[int, ...]] | None = None


def assigned_ports() -> tuple[int, ...]:
    """TCP-assigned ports for placement; a damaged index counts as none (placement still works).

    Remembered while the imported index is the same file (a long-lived `styxy serve` sees an
    import made meanwhile)."""
    global _ASSIGNED
    try:
        status = os.stat(index_path())
        key: object = (status.st_ino, status.st_size, status.st_mtime_ns)
    except OSError:
        key = os.environ.get("STYXY_SERVICES")
    if _ASSIGNED is not None and _ASSIGNED[0] == key:
        return _ASSIGNED[1]
    try:
        found = assigned_tcp_ports(current().rows)
    except IanaError:
        found = ()
    _ASSIGNED = (key, found)
    return found


# ---------------------------------------------------------------------------------------------
# Lookups


@frozen_record
class Lookup:
    query: str
    port: int | None  # the port asked about; None for a name
    category: Category | None  # of `port`
    assignments: tuple[Assignment, ...]
    developer: tuple[curated.DevPort, ...]  # curated tools at `port` (or the names' ports)
    source: Source

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "port": self.port,
            "category": self.category,
            "assignments": [a.to_json() for a in self.assignments],
            "developerPorts": [
                {"tool": d.tool, "port": d.low, "lastPort": d.high, "about": sorted(d.about)}
                for d in self.developer
            ],
            "source": self.source.to_json(),
        }


def _order(records: Iterable[Record]) -> tuple[Assignment, ...]:
    found = sorted(records, key=lambda r: (r.low, r.name.casefold(), r.protocol))
    return tuple(_assignment(r) for r in found)


def assignments_of(rows: Iterable[Row]) -> tuple[Assignment, ...]:
    """Rows as the assignments lookups answer with, by port, name and protocol."""
    return _order(Record(*row) for row in rows)


def at_port(port: int, registry: Registry | None = None) -> tuple[Assignment, ...]:
    """The assignments whose ports include `port`, by name then protocol."""
    chosen = current(port=port) if registry is None else registry
    return _order(Record(*row) for row in chosen.rows if row[2] <= port <= row[3])


def lookup(query: str) -> Lookup:
    """`styxy iana PORT` or `styxy iana NAME`: assignments with their range category."""
    query = query.strip()
    if query.isascii() and query.isdigit():
        port = int(query)
        if not 1 <= port <= MAX_PORT:
            # A usage error, as a bad port is on every command (`check 70000` included).
            refusals.port("PORT", port)
        registry = current()
        found = at_port(port, registry)
        developer = tuple(d for d in (curated.at(port),) if d is not None)
        return Lookup(query, port, category(port), found, developer, registry.source)
    _check_name(query)
    registry = current()
    wanted = query.casefold()
    named = _order(Record(*row) for row in registry.rows if row[0].casefold() == wanted)
    if not named:
        raise NotFoundError(_not_found(query, registry.source))
    ports = {a.port for a in named}
    developer = tuple(dict.fromkeys(d for p in sorted(ports) if (d := curated.at(p)) is not None))
    return Lookup(query, None, None, named, developer, registry.source)


def _check_name(name: str) -> None:
    # RFC 6335 names are 1-15 letters, digits and '-'; older records also use '_', '.', '+', '*'
    # and '/'. Anything printable without spaces, within reason, is worth a lookup.
    if not (0 < len(name) <= 63 and name.isprintable() and " " not in name):
        raise InvalidValueError(
            f"{refusals.shown(name)} is neither a port (1-{MAX_PORT}) nor a service name "
            "(up to 63 characters without spaces)."
        )


def _not_found(name: str, source: Source) -> str:
    if source.kind == "none":
        return (
            f"no registry data to look {name!r} up in: import IANA's registry with "
            f"`styxy iana import {IANA_URL}`, or install /etc/services (netbase)."
        )
    return f"no service named {name!r} in {describe(source)}."


def describe(source: Source) -> str:
    """`IANA's registry of 2024-03-18 (imported)` / `/etc/services`: for messages and output."""
    if source.kind == "index":
        return f"IANA's registry of {source.updated or 'unknown date'} (imported)"
    if source.kind == "shipped":
        return f"IANA's registry of {source.updated or 'unknown date'} (shipped with styxy)"
    if source.kind == "services":
        return source.path
    return "no registry data"


def names_at(assignments: Sequence[Assignment]) -> str:
    """`postgresql (tcp, udp)`: one entry per service, protocols merged, for human output."""
    protocols: dict[str, list[str]] = {}
    for item in assignments:
        protocols.setdefault(item.service, []).append(item.protocol or "no protocol")
    return ", ".join(f"{name} ({', '.join(dict.fromkeys(p))})" for name, p in protocols.items())
