"""Lease records and the lease file. Knows nothing of Markdown.

The lease file is JSON: every live lease, plus the last port each identity held so a service
that restarts gets its old port back when it is free (SPEC section 4).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from styxy.errors import LeaseFileError
from styxy.vocabulary import MAX_PORT, SOURCES, Source

FORMAT_VERSION = 1
# Enough memory of past ports for every service a person runs, small enough to stay fast.
HISTORY_LIMIT = 2000

Identity = tuple[str, str, str]


@dataclass(frozen=True)
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
        # By hand rather than dataclasses.asdict, which deep-copies: this runs for every lease
        # on every write.
        return {
            "lockId": self.lockId,
            "port": self.port,
            "serviceType": self.serviceType,
            "instanceId": self.instanceId,
            "name": self.name,
            "pid": self.pid,
            "pidStartTime": self.pidStartTime,
            "createdAt": self.createdAt,
            "source": self.source,
        }


@dataclass(frozen=True)
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


# The last lease file this process read or wrote, keyed by its path and the identity of the
# file on disk. A long-lived caller of the API (an agent's tool server) then decodes the file
# only when another process has replaced it: every write is a rename to a new inode, and an
# edit in place changes the size or the modification time.
_last: tuple[tuple[str, int, int, int, int], LeaseFile] | None = None


def _file_key(path: Path, status: os.stat_result) -> tuple[str, int, int, int, int]:
    return (str(path), status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def remember(path: Path, status: os.stat_result, state: LeaseFile) -> None:
    """Note that the file `status` describes holds `state` (called right after writing it)."""
    global _last
    _last = (_file_key(path, status), state)


def load(path: Path) -> LeaseFile:
    """Read the lease file; a missing file is empty, a broken one is an error, never empty."""
    global _last
    try:
        with open(path, "rb") as handle:
            key = _file_key(path, os.fstat(handle.fileno()))
            if _last is not None and _last[0] == key:
                return _last[1]
            raw = handle.read()
    except FileNotFoundError:
        return LeaseFile()
    except OSError as exc:
        raise LeaseFileError(f"cannot read the lease file {path}: {exc.strerror}.") from None
    try:
        state = _decode(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise LeaseFileError(
            f"the lease file {path} is corrupt ({_reason(exc)}); fix or remove it by hand, "
            "styxy will not overwrite it."
        ) from None
    _last = (key, state)
    return state


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


def dump(state: LeaseFile) -> bytes:
    body = {
        "version": FORMAT_VERSION,
        "fields": FIELDS,
        "leases": [
            (
                x.lockId,
                x.port,
                x.serviceType,
                x.instanceId,
                x.name,
                x.pid,
                x.pidStartTime,
                x.createdAt,
                x.source,
            )
            for x in state.leases
        ],
        "history": [[*identity, port] for identity, port in state.history],
    }
    return (json.dumps(body, separators=(",", ":")) + "\n").encode()


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno}"
    return str(exc).strip("'\"") or type(exc).__name__


def _decode(body: Any) -> LeaseFile:
    if not isinstance(body, dict):
        raise ValueError("top level is not an object")
    if body.get("version") != FORMAT_VERSION:
        raise ValueError(f"unknown version {body.get('version')!r}")
    if body.get("fields") != list(FIELDS):
        raise ValueError("unexpected lease fields")
    leases = tuple(_decode_lease(row) for row in body["leases"])
    history = tuple(_decode_history(item) for item in body.get("history", []))
    return LeaseFile(leases=leases, history=history)


def _decode_lease(row: Any) -> Lease:
    lock_id, port, kind, instance, name, pid, started, created, source = row
    # One flat test instead of a loop per field: this runs for every lease of every command.
    if not (
        type(lock_id) is str
        and type(port) is int
        and 1 <= port <= MAX_PORT
        and type(kind) is str
        and type(instance) is str
        and type(name) is str
        and type(pid) is int
        and (started is None or type(started) in (float, int))
        and type(created) in (float, int)
        and source in SOURCES
    ):
        raise ValueError(
            f"lease {lock_id!r} has a field of the wrong type or a port outside 1..{MAX_PORT}"
        )
    return Lease(lock_id, port, kind, instance, name, pid, started, created, source)


def _decode_history(item: Any) -> tuple[Identity, int]:
    if not (isinstance(item, list) and len(item) == 4):
        raise ValueError("a history entry is not [type, instance, name, port]")
    service_type, instance_id, name, port = item
    if not all(isinstance(x, str) for x in (service_type, instance_id, name)):
        raise ValueError("a history entry has a non-text identity")
    if not isinstance(port, int) or isinstance(port, bool):
        raise ValueError("a history entry has a non-integer port")
    return (service_type, instance_id, name), port
