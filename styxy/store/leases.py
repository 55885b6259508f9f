"""Lease records and the lease file. Knows nothing of Markdown.

The lease file is JSON: every live lease, plus the last port each identity held so a service
that restarts gets its old port back when it is free (SPEC section 4).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from styxy.errors import LeaseFileError, RefusedError
from styxy.records import many, record, replace
from styxy.store import fsio, memo
from styxy.vocabulary import MAX_PORT, SOURCES, Source

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

FORMAT_VERSION = 1
# Enough memory of past ports for every service a person runs, small enough to stay fast.
HISTORY_LIMIT = 2000
# Live leases at most: far more than one machine runs, few enough that `list --json` and
# `allocate` stay well under a second (docs/PERFORMANCE.md measures 10,000).
MAX_LIVE_LEASES = 20_000
# The bounds a loaded record must respect (SPEC section 4 and the kernel's own limits).
PID_MAX = 4_194_304  # the most /proc/sys/kernel/pid_max can be on Linux
EARLIEST_TIME = 0.0
LATEST_TIME = 4_102_444_800.0  # 2100-01-01: a later createdAt is a corrupt record, not a date
MAX_LOCK_ID = 64
MAX_SERVICE_TYPE = 63
MAX_IDENTITY_PART = 128

Identity = tuple[str, str, str]


@record
class Lease:
    lockId: str
    port: int
    serviceType: str
    instanceId: str
    name: str
    pid: int
    pidStartTime: float | None
    createdAt: float
    source: Source

    @property
    def identity(self) -> Identity:
        return (self.serviceType, self.instanceId, self.name)

    def age(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.createdAt

    def to_json(self) -> dict[str, Any]:
        data = self.to_record()
        data["createdAt"] = iso(self.createdAt)
        return data

    def to_record(self) -> dict[str, Any]:
        # A copy of the fields, which a record keeps in order (`styxy.records`): rather than
        # dataclasses.asdict, which deep-copies; this runs for every lease on every write.
        return dict(self.__dict__)


@record
class LeaseFile:
    """What the lease file holds: live leases and the remembered port of each identity."""

    leases: tuple[Lease, ...] = ()
    history: tuple[tuple[Identity, int], ...] = ()

    def remembered_port(self, identity: Identity) -> int | None:
        for known, port in self.history:
            if known == identity:
                return port
        return None

    def find(self, identity: Identity) -> Lease | None:
        for lease in self.leases:
            if lease.identity == identity:
                return lease
        return None

    def by_lock_id(self, lock_id: str) -> Lease | None:
        for lease in self.leases:
            if lease.lockId == lock_id:
                return lease
        return None

    def of_type(self, service_type: str) -> list[Lease]:
        return [lease for lease in self.leases if lease.serviceType == service_type]

    def ports(self) -> frozenset[int]:
        return frozenset(lease.port for lease in self.leases)

    def add(self, lease: Lease) -> LeaseFile:
        if len(self.leases) >= MAX_LIVE_LEASES:
            raise RefusedError(
                f"styxy already holds {MAX_LIVE_LEASES} live leases, its limit; end some with "
                "`styxy release` or `styxy cleanup` first."
            )
        return replace(self, leases=(*self.leases, lease))

    def remove(self, ended: Iterable[Lease]) -> LeaseFile:
        """Drop leases, remembering their ports for the identity's next request."""
        gone = {lease.lockId: lease for lease in ended}
        if not gone:
            return self
        forgotten = {lease.identity for lease in gone.values()}
        history = [item for item in self.history if item[0] not in forgotten]
        history.extend((lease.identity, lease.port) for lease in gone.values())
        return LeaseFile(
            leases=tuple(lease for lease in self.leases if lease.lockId not in gone),
            history=tuple(history[-HISTORY_LIMIT:]),
        )


def new_lock_id() -> str:
    return os.urandom(8).hex()


def iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


# The last state of each lease file this process read or wrote (a few paths at most), keyed
# by the identity of the file on disk. A long-lived caller of the API (an agent's tool server,
# `styxy serve`) then decodes a file only when another process has replaced it: every write is
# a rename to a new inode, and an edit in place changes the size or the modification time.
_KNOWN_FILES = 8
_known: dict[str, tuple[tuple[str, int, int, int, int], LeaseFile, tuple[str, ...]]] = {}


def _keep(key: tuple[str, int, int, int, int], state: LeaseFile, dropped: tuple[str, ...]) -> None:
    if key[0] not in _known and len(_known) >= _KNOWN_FILES:
        _known.pop(next(iter(_known)))  # the oldest path: a process rarely uses more than one
    _known[key[0]] = (key, state, dropped)


def _file_key(path: Path, status: os.stat_result) -> tuple[str, int, int, int, int]:
    return (str(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def remember(path: Path, status: os.stat_result, state: LeaseFile) -> None:
    """Note that the file `status` describes holds `state` (called right after writing it)."""
    _keep(_file_key(path, status), state, ())


def identity_stamp(status: os.stat_result | None) -> int:
    """Which lease file this is: a CRC-32 of its identity, 0 when there is none.

    Every write of the lease file is a new inode with its own size and modification time; the
    cache records the stamp of the lease file it was built with (docs/CACHE_FORMAT.md).
    """
    if status is None:
        return 0
    import zlib

    identity = f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"
    return zlib.crc32(identity.encode()) or 1


def load(path: Path, *, dir_fd: int | None = None) -> LeaseFile:
    """The lease file's state (see `load_checked`); records that fail their checks left out."""
    return load_checked(path, dir_fd=dir_fd)[0]


def load_checked(
    path: Path, *, dir_fd: int | None = None, written_as: int = 0
) -> tuple[LeaseFile, tuple[str, ...]]:
    """Read the lease file: its state, and one sentence per record left out.

    A missing file is empty. A file that is not a lease file at all (not JSON, another
    version, another shape) is an error, never empty: styxy refuses to overwrite it. A single
    record with a bad field (a NaN time, a pid no kernel hands out, a port outside 1..65535, a
    value of the wrong type) is dropped and said, and the next change rewrites the file
    without it: one corrupt line must not hide every other lease. With `dir_fd` (the open
    sidecar) the file is read through that folder.

    `written_as` is the stamp (`identity_stamp`) the cache recorded for the lease file styxy
    last wrote: when the file on disk is still that one, its records are the ones styxy wrote
    and checked, and they are read without checking each field again (a third of the time of
    a command at 10,000 leases). Any other file, a hand edit included, is checked record by
    record.
    """
    kind = fsio.LEASE_FILE
    try:
        with fsio.opened(path, kind, follow_links=False, private=True, dir_fd=dir_fd) as (
            fd,
            status,
        ):
            key = _file_key(path, status)
            known = _known.get(key[0])
            if known is not None and known[0] == key:
                return known[1], known[2]
            raw = fsio.read_opened(path, fsio.LEASE_FILE, fd)
    except FileNotFoundError:
        return LeaseFile(), ()
    trusted = written_as != 0 and identity_stamp(status) == written_as
    try:
        state, dropped = _decode(fsio.loads_json(raw, "it"), path, trusted=trusted)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise LeaseFileError(
            f"the lease file {path} is corrupt ({_reason(exc)}); fix or remove it by hand, "
            "styxy will not overwrite it."
        ) from None
    _keep(key, state, dropped)
    return state, dropped


# Leases are stored as rows in this field order: a thousand of them load and dump in about a
# millisecond, where objects with repeated keys took several. `styxy list --json` is the
# readable view.
FIELDS = (
    "lockId",
    "port",
    "serviceType",
    "instanceId",
    "name",
    "pid",
    "pidStartTime",
    "createdAt",
    "source",
)


_LEASE_ROWS: memo.Encodings[Lease, str] = memo.Encodings()
_HISTORY_ROWS: memo.Encodings[tuple[Identity, int], str] = memo.Encodings()


_dumps = 0  # lease files this process has written


def dump(state: LeaseFile) -> bytes:
    """The lease file's bytes: one JSON object, each lease a row under `fields`.

    Built from each record's remembered row (`styxy.store.memo`), so rewriting a file of a thousand
    leases costs about what rewriting one does; the bytes are those `json.dumps` gives for
    the whole object. A process's first write has nothing remembered yet, and most write only
    once (a command): that write encodes every row in one `json.dumps`, twice as fast.
    """
    global _dumps
    _dumps += 1
    if _dumps == 1:
        rows = json.dumps([_lease_fields(x) for x in state.leases], separators=(",", ":"))[1:-1]
    else:
        rows = ",".join(_LEASE_ROWS.of_all(state.leases, _lease_row))
    remembered = _HISTORY_ROWS.of_all(state.history, _history_row)
    head = json.dumps({"version": FORMAT_VERSION, "fields": FIELDS}, separators=(",", ":"))
    text = f'{head[:-1]},"leases":[{rows}],"history":[{",".join(remembered)}]}}\n'
    return text.encode()


def _lease_fields(x: Lease) -> tuple[object, ...]:
    return (x.lockId, x.port, x.serviceType, x.instanceId, x.name, x.pid, x.pidStartTime,
            x.createdAt, x.source)  # fmt: skip


def _lease_row(x: Lease) -> str:
    row = (x.lockId, x.port, x.serviceType, x.instanceId, x.name, x.pid, x.pidStartTime)
    return json.dumps((*row, x.createdAt, x.source), separators=(",", ":"))


def _history_row(item: tuple[Identity, int]) -> str:
    identity, port = item
    return json.dumps([*identity, port], separators=(",", ":"))


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}"
    return str(exc).strip("'\"") or type(exc).__name__


def _decode(body: Any, path: Path, *, trusted: bool = False) -> tuple[LeaseFile, tuple[str, ...]]:
    if not isinstance(body, dict):
        raise ValueError("top level is not an object")
    if body.get("version") != FORMAT_VERSION:
        from styxy.refusals import shown

        raise ValueError(f"unknown version {shown(body.get('version'))}")
    if body.get("fields") != list(FIELDS):
        raise ValueError("unexpected lease fields")
    rows, items = body["leases"], body.get("history", [])
    if type(rows) is not list or type(items) is not list:
        raise ValueError("leases and history must be lists")
    if trusted:
        try:
            fast = many(Lease, rows)
            history_fast = tuple(((a, b, c), d) for a, b, c, d in items)
            return LeaseFile(leases=tuple(fast), history=history_fast), ()
        except (TypeError, ValueError):
            pass  # not the shape styxy writes after all: check every record
    dropped: list[str] = []
    kept = []
    for number, row in enumerate(rows, 1):
        lease = _decode_lease(row)
        if isinstance(lease, Lease):
            kept.append(lease)
        else:
            dropped.append(f"dropped lease {number} of {path}: {lease}")
    history = []
    for number, item in enumerate(items, 1):
        entry = _decode_history(item)
        if isinstance(entry, str):
            dropped.append(f"dropped history entry {number} of {path}: {entry}")
        else:
            history.append(entry)
    return LeaseFile(leases=tuple(kept), history=tuple(history)), tuple(dropped)


def _decode_lease(row: Any) -> Lease | str:
    """The lease a row holds, or why it holds none (naming the record and the field)."""
    if type(row) is not list or len(row) != len(FIELDS):
        return f"the record is not a list of {len(FIELDS)} fields"
    lock_id, port, kind, instance, name, pid, started, created, source = row
    # One flat test first: this runs for every lease of every command, and almost every
    # record passes; only a failing one pays for finding out which field is wrong.
    if (
        type(lock_id) is str
        and 0 < len(lock_id) <= MAX_LOCK_ID
        and type(port) is int
        and 1 <= port <= MAX_PORT
        and type(kind) is str
        and 0 < len(kind) <= MAX_SERVICE_TYPE
        and type(instance) is str
        and len(instance) <= MAX_IDENTITY_PART
        and type(name) is str
        and len(name) <= MAX_IDENTITY_PART
        and type(pid) is int
        and 1 <= pid <= PID_MAX
        and (started is None or (type(started) in (float, int) and _sane_time(started)))
        and type(created) in (float, int)
        and _sane_time(created)
        and source in SOURCES
    ):
        return Lease(lock_id, port, kind, instance, name, pid, started, created, source)
    from styxy.refusals import shown

    return f"lock id {shown(lock_id)}: {_bad_field(row, shown)}"


def _sane_time(value: float) -> bool:
    # The bounds are finite, so NaN and the infinities fail the comparison (without `math`,
    # whose import the hot path spares).
    return EARLIEST_TIME <= value <= LATEST_TIME


def _bad_field(row: list[Any], shown: Callable[[object], str]) -> str:
    """What is wrong with a lease row, each value quoted back in JSON's words (`true`)."""
    lock_id, port, kind, instance, name, pid, started, created, source = row
    texts = (
        ("lockId", lock_id, MAX_LOCK_ID, 1),
        ("serviceType", kind, MAX_SERVICE_TYPE, 1),
        ("instanceId", instance, MAX_IDENTITY_PART, 0),
        ("name", name, MAX_IDENTITY_PART, 0),
    )
    for label, value, longest, shortest in texts:
        if type(value) is not str or not shortest <= len(value) <= longest:
            return f"{label} must be text of {shortest} to {longest} characters"
    if type(port) is not int or not 1 <= port <= MAX_PORT:
        return f"port {shown(port)} is not a port in 1..{MAX_PORT}"
    if type(pid) is not int or not 1 <= pid <= PID_MAX:
        return f"pid {shown(pid)} is not a process id in 1..{PID_MAX}"
    for label, value in (("pidStartTime", started), ("createdAt", created)):
        if label == "pidStartTime" and value is None:
            continue
        if type(value) not in (float, int) or not _sane_time(value):
            return f"{label} {shown(value)} is not a time between 1970 and 2100"
    return f"source {shown(source)} is not one of {', '.join(SOURCES)}"


def _decode_history(item: Any) -> tuple[Identity, int] | str:
    if not (type(item) is list and len(item) == 4):
        return "not [type, instance, name, port]"
    service_type, instance_id, name, port = item
    if not all(
        type(x) is str and len(x) <= MAX_IDENTITY_PART for x in (service_type, instance_id, name)
    ):
        return "the identity is not text of at most 128 characters"
    if type(port) is not int or not 1 <= port <= MAX_PORT:
        from styxy.refusals import shown

        return f"port {shown(port)} is not a port in 1..{MAX_PORT}"
    return (service_type, instance_id, name), port
