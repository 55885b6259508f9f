"""What the public functions return: frozen records with the JSON shapes docs/GUIDE.md shows."""

from __future__ import annotations

from styxy.records import record
from styxy.store.leases import Lease
from styxy.vocabulary import ChosenPlacement, Notice, PortRefusal, Reason

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any


@record
class Allocation:
    lease: Lease
    existing: bool = False
    reason: Reason | None = None
    auto_allocated: bool = False
    new_range: tuple[int, int] | None = None
    placement: ChosenPlacement | None = None
    chunk_size: int | None = None
    message: Notice | None = None
    notes: tuple[str, ...] = ()
    requested_port: int | None = None  # set only when `--port` was asked for and not given
    port_refusal: PortRefusal | None = None
    port_note: str | None = None  # the one stderr line that says so
    requested_type: str | None = None  # the alias asked for, when the type was one (SPEC 15)

    def to_json(self) -> dict[str, Any]:
        lease = self.lease
        return {
            "port": lease.port,
            "lockId": lease.lockId,
            "serviceType": lease.serviceType,
            "requestedType": self.requested_type,
            "instanceId": lease.instanceId,
            "name": lease.name,
            "pid": lease.pid,
            "existing": self.existing,
            "reason": self.reason,
            "autoAllocated": self.auto_allocated,
            "newRange": list(self.new_range) if self.new_range else None,
            "placement": self.placement,
            "chunkSize": self.chunk_size,
            "message": self.message,
        }
