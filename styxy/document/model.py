"""Records of a parsed document: frozen, hashable, free of I/O."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from styxy.names import whole_number
from styxy.records import record
from styxy.vocabulary import INSTANCES, PLACEMENTS, AgentPolicy, Instances, Placement

__all__ = ["INSTANCES", "PLACEMENTS", "Placement"]


@record
class Range:
    """One row of the ranges table."""

    service_type: str
    start: int
    end: int
    instances: Instances = "multi"
    preferred: tuple[int, ...] = ()
    description: str = ""
    line: int = 0  # 1-based line of the row in its document; 0 for a row not yet written

    @property
    def single(self) -> bool:
        return self.instances == "single"

    @property
    def size(self) -> int:
        return self.end - self.start + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.start <= port <= self.end


@record
class Rule:
    """One entry of `autoAllocationRules`; None means "fall back to autoAllocation"."""

    pattern: str
    chunk_size: int | None = None
    placement: Placement | None = None
    preferred_range_start: int | None = None
    line: int = 0


@record
class RunFlag:
    """One entry of `runFlags`: a glob over a command line, and the arguments `styxy run`
    appends to a matching command, `{port}` standing for the leased port (SPEC 22)."""

    pattern: str
    arguments: tuple[str, ...]
    line: int = 0


@record
class AutoAllocation:
    """The `autoAllocation` block, defaults as in SPEC section 3."""

    enabled: bool = True
    default_chunk_size: int = 10
    placement: Placement = "after"
    min_port_number: int = 10000
    max_port_number: int = 49151
    preserve_gaps: bool = True
    gap_size: int = 10
    require_confirmation: bool = False
    avoid_ephemeral: bool = True
    agents: AgentPolicy = "ask"  # may an agent's unknown type become a range (SPEC 15)
    max_new_per_day: int = 10  # new ranges in any 24 hours, counted from the audit log

    @property
    def gap(self) -> int:
        return self.gap_size if self.preserve_gaps else 0


@record
class Settings:
    """Everything the front matter says."""

    auto_allocation: AutoAllocation = AutoAllocation()
    rules: tuple[Rule, ...] = ()
    # Records are immutable, so one shared default serves every instance.
    detect: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    lease_grace_seconds: int = 300
    # Row name -> other names for it, as written (SPEC 15); `resolve` reads them.
    aliases: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    # Glob -> arguments for dev servers that ignore $PORT, in document order (first match wins).
    run_flags: tuple[RunFlag, ...] = ()

    def row_of_alias(self, name: str) -> str | None:
        """The row an alias names, or None; the first listing wins (validate refuses a second)."""
        for row, names in self.aliases.items():
            if name in names:
                return row
        return None


@record
class AuditEntry:
    """One line of the audit block, kept verbatim."""

    text: str
    line: int = 0

    @property
    def action(self) -> str:
        parts = self.text.split()
        return parts[1] if len(parts) > 1 else ""

    @property
    def service_type(self) -> str:
        parts = self.text.split()
        return parts[2] if len(parts) > 2 else ""

    @property
    def span(self) -> tuple[int, int] | None:
        """The `START-END` the line names, or None when its fourth word is not one."""
        parts = self.text.split()
        start, dash, end = parts[3].partition("-") if len(parts) > 3 else ("", "", "")
        first, last = whole_number(start), whole_number(end)
        if not dash or first is None or last is None:
            return None
        return first, last


@record
class Document:
    """A parsed, valid document: the view the rest of Styxy works with."""

    path: str
    settings: Settings
    ranges: tuple[Range, ...]
    audit: tuple[AuditEntry, ...] = ()

    def range_of(self, service_type: str) -> Range | None:
        for r in self.ranges:
            if r.service_type == service_type:
                return r
        return None

    def range_holding(self, port: int) -> Range | None:
        for r in self.ranges:
            if r.start <= port <= r.end:
                return r
        return None
