"""Records of the inspecting commands (`check`, `scan`, `config undo-auto`), kept apart from
`results` so the hot path of `allocate` does not build classes it never uses."""

from __future__ import annotations

from styxy.records import record
from styxy.store.leases import Lease
from styxy.vocabulary import AgentPolicy, ChosenPlacement, Instances

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

    from styxy.document.model import Settings
    from styxy.system.iana import Assignment


@record
class LeaseStatus:
    lease: Lease
    alive: bool
    process: str | None = None
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = self.lease.to_json()
        data["alive"] = self.alive
        return data


@record
class ListenerInfo:
    port: int
    pid: int | None
    process: str | None
    address: str
    lease: Lease | None = None


@record
class PortCheck:
    port: int
    free: bool
    service_type: str | None
    lease: Lease | None
    listeners: tuple[ListenerInfo, ...]
    iana: tuple[Assignment, ...] = ()  # IANA's assignments at the port (SPEC section 13)

    def to_json(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "free": self.free,
            "serviceType": self.service_type,
            "lease": self.lease.to_json() if self.lease else None,
            "listeners": [
                {"pid": item.pid, "process": item.process, "address": item.address}
                for item in self.listeners
            ],
            "iana": [item.to_json() for item in self.iana],
        }


@record
class Scan:
    listeners: tuple[ListenerInfo, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "listeners": [
                {
                    "port": item.port,
                    "pid": item.pid,
                    "process": item.process,
                    "address": item.address,
                    "lease": item.lease.to_json() if item.lease else None,
                }
                for item in self.listeners
            ]
        }


@record
class Undo:
    removed: tuple[tuple[str, tuple[int, int]], ...]
    ended: tuple[Lease, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "removed": [{"serviceType": t, "range": list(r)} for t, r in self.removed],
            "endedLeases": [lease.to_json() for lease in self.ended],
        }


@record
class RangeUsage:
    """One row of the port map with what occupies it (`styxy ranges`, the dashboard)."""

    service_type: str
    start: int
    end: int
    instances: Instances
    leased_ports: tuple[int, ...]
    listening_ports: tuple[int, ...]

    @property
    def free(self) -> int:
        return self.end - self.start + 1 - len(set(self.leased_ports) | set(self.listening_ports))

    def to_json(self) -> dict[str, Any]:
        return {
            "serviceType": self.service_type,
            "start": self.start,
            "end": self.end,
            "instances": self.instances,
            "leased": len(self.leased_ports),
            "listening": len(self.listening_ports),
            "free": self.free,
        }


@record
class Ranges:
    ranges: tuple[RangeUsage, ...]

    def to_json(self) -> dict[str, Any]:
        return {"ranges": [item.to_json() for item in self.ranges]}


@record
class RangeSuggestion:
    """The range a type has, or would get from auto-allocation; nothing is written for it."""

    service_type: str
    start: int
    end: int
    placement: ChosenPlacement | None
    chunk_size: int
    existing: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "serviceType": self.service_type,
            "range": [self.start, self.end],
            "placement": self.placement,
            "chunkSize": self.chunk_size,
            "existing": self.existing,
        }


@record
class SettingsReport:
    """`config show`: every setting of the front matter, defaults included."""

    settings: Settings

    def to_json(self) -> dict[str, Any]:
        from styxy.document.settings import settings_as_dict

        return settings_as_dict(self.settings)


@record
class AutoRange:
    """A range an auto-allocation created and no undo removed."""

    service_type: str
    start: int
    end: int
    date: str


@record
class AutoAllocationReport:
    """`config auto-allocation`: settings, rules, the ranges still present, recent audit lines."""

    settings: Settings
    ranges: tuple[AutoRange, ...]
    audit: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        from styxy.document.settings import settings_as_dict

        values = settings_as_dict(self.settings)
        return {
            "autoAllocation": values["autoAllocation"],
            "autoAllocationRules": values["autoAllocationRules"],
            "ranges": [
                {
                    "serviceType": item.service_type,
                    "range": [item.start, item.end],
                    "date": item.date,
                }
                for item in self.ranges
            ],
            "audit": list(self.audit),
        }


@record
class TypeInfo:
    """One row of the port map as an agent is told it: what to call it and what it is for."""

    service_type: str
    start: int
    end: int
    single: bool
    description: str
    aliases: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "serviceType": self.service_type,
            "range": [self.start, self.end],
            "single": self.single,
            "description": self.description,
            "aliases": list(self.aliases),
        }


@record
class TypeVocabulary:
    """Every row with its aliases, and who may add rows (SPEC 15)."""

    types: tuple[TypeInfo, ...]
    agents: AgentPolicy
    max_new_per_day: int

    def to_json(self) -> dict[str, Any]:
        return {
            "types": [item.to_json() for item in self.types],
            "agents": self.agents,
            "maxNewPerDay": self.max_new_per_day,
        }
