"""What the dashboard shows beyond the command line's records (SPEC section 20): which document
and which IANA data it reads, and who listens on a port of a range without holding a lease.

Read-only, no lock, like `list` and `ranges` (SPEC section 10).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from styxy import paths
from styxy.system import iana, ports
from styxy.vocabulary import MAX_PORT


@dataclass(frozen=True)
class About:
    document: Path
    iana: iana.Source
    # How messages name the data (`IANA's registry of 2024-03-18 (imported)`, `/etc/services`),
    # or what is wrong with a damaged index.
    iana_description: str

    def to_json(self) -> dict[str, Any]:
        return {
            "document": str(self.document),
            "iana": {**self.iana.to_json(), "description": self.iana_description},
        }


def about(*, doc: str | os.PathLike[str] | None = None) -> About:
    """The document the page shows, and the IANA data styxy names ports from (with its date)."""
    try:
        source = iana.current().source
    except iana.IanaError as exc:
        # A damaged index costs the date, not the page.
        return About(paths.resolve(doc).doc, iana.Source("none", "", ""), exc.message)
    return About(paths.resolve(doc).doc, source, iana.describe(source))


@dataclass(frozen=True)
class Listening:
    """A port something listens on without a lease: its process, as far as it can be read."""

    port: int
    pid: int | None
    process: str | None
    command: str | None
    started_at: float | None  # the process's start, seconds since the epoch

    def to_json(self) -> dict[str, Any]:
        started = (
            datetime.fromtimestamp(self.started_at, UTC).isoformat()
            if self.started_at is not None
            else None
        )
        return {
            "port": self.port,
            "pid": self.pid,
            "process": self.process,
            "command": self.command,
            "startedAt": started,
        }


def listening_without_lease(
    *, doc: str | os.PathLike[str] | None = None, start: int = 1, end: int = MAX_PORT
) -> tuple[Listening, ...]:
    """Every port in [start, end] that something listens on and no live lease holds, once per
    port (its first socket's process: IPv4 and IPv6 twins are one program)."""
    from styxy.store import snapshot

    leased = {lease.port for lease in snapshot.load(paths.resolve(doc)).live()}
    found: dict[int, Listening] = {}
    for item in ports.listeners(start, end):
        if item.port in leased or item.port in found:
            continue
        process, command = ports.process_info(item.pid) if item.pid else (item.process, None)
        started = ports.process_start_time(item.pid) if item.pid else None
        found[item.port] = Listening(item.port, item.pid, process or item.process, command, started)
    return tuple(found.values())


__all__ = ["About", "Listening", "about", "listening_without_lease"]
