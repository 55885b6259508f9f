"""Human text for results: tables and lines a person reads on a terminal."""

from __future__ import annotations

import time

from styxy import output

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from styxy.api.doctor import DoctorReport
    from styxy.api.records import Lease
    from styxy.api.reports import (
        AutoAllocationReport,
        LeaseStatus,
        PortCheck,
        Ranges,
        RangeUsage,
        Scan,
    )

# The bar of `styxy ranges`: at most this many cells, each standing for a run of ports.
BAR_CELLS = 40
_CELL_COLOURS = {"#": "\033[32m", "!": "\033[31m", ".": "\033[2m"}

if TYPE_CHECKING:
    from styxy.api.iana_import import Imported
    from styxy.api.registry import Assignment, Lookup


def lease_table(found: Sequence[LeaseStatus], verbose: bool) -> str:
    if not found:
        return "no leases"
    now = time.time()
    rows = [["PORT", "TYPE", "INSTANCE", "NAME", "LOCK ID"]]
    if verbose:
        rows[0] += ["PID", "ALIVE", "AGE", "SOURCE", "COMMAND"]
    for item in found:
        lease = item.lease
        row = [
            str(lease.port),
            lease.serviceType,
            lease.instanceId,
            lease.name or "-",
            lease.lockId,
        ]
        if verbose:
            row += [
                str(lease.pid),
                "yes" if item.alive else "no",
                _age(now - lease.createdAt),
                lease.source,
                item.command or item.process or "-",
            ]
        rows.append(row)
    return _columns(rows)


def port_check(result: PortCheck) -> str:
    where = f" (range of '{result.service_type}')" if result.service_type else " (in no range)"
    lines = [f"port {result.port} is {'free' if result.free else 'in use'}{where}"]
    if result.lease:
        lease = result.lease
        lines.append(
            f"leased to {lease.serviceType}/{lease.instanceId} by process {lease.pid} ({lease.lockId})"
        )
    for item in result.listeners:
        lines.append(f"listening on {item.address} by {_owner(item.pid, item.process)}")
    if result.iana:
        lines.append(f"assigned by IANA to {_assigned(result.iana)}")
    return "\n".join(lines)


def _assigned(found: Sequence[Assignment]) -> str:
    from styxy.api.registry import names_at

    described = dict.fromkeys(item.description for item in found if item.description)
    return names_at(found) + (f": {'; '.join(described)}" if described else "")


def iana_lookup(result: Lookup) -> str:
    """`styxy iana PORT|NAME`: one line per assignment, then the developer ports and the source."""
    from styxy.api.registry import category_text, describe

    lines = []
    if result.port is not None and result.category is not None:
        lines.append(f"port {result.port}: {category_text(result.category)}")
        if not result.assignments:
            lines.append("no IANA assignment")
    rows = [
        [
            item.service,
            _ports(item.port, item.last_port) + (f"/{item.protocol}" if item.protocol else ""),
            item.category,
            item.description,
        ]
        for item in result.assignments
    ]
    if rows:
        lines.append(_columns(rows))
    for tool in result.developer:
        lines.append(
            f"well-known developer port {_ports(tool.low, tool.high)}: {tool.tool} "
            f"(about: {', '.join(sorted(tool.about))})"
        )
    lines.append(f"source: {describe(result.source)}")
    return "\n".join(lines)


def _ports(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def iana_imported(result: Imported) -> str:
    replaced = f", replacing the one of {result.replaced}" if result.replaced else ""
    return (
        f"imported {result.records} assignments from IANA's {result.format.upper()} registry "
        f"of {result.updated or 'unknown date'} into {result.path}{replaced}"
    )


def scan_table(result: Scan) -> str:
    if not result.listeners:
        return "no listeners"
    rows = [["PORT", "ADDRESS", "PID", "PROCESS", "LEASE"]]
    for item in result.listeners:
        lease = f"{item.lease.serviceType}/{item.lease.instanceId}" if item.lease else "-"
        rows.append(
            [str(item.port), item.address, str(item.pid or "-"), item.process or "-", lease]
        )
    return _columns(rows)


def released_lines(ended: Sequence[Lease]) -> str:
    return "\n".join(f"released {x.serviceType} port {x.port} ({x.lockId})" for x in ended)


def ranges_map(report: Ranges, *, colour: bool) -> str:
    """The port map as a table with one bar per range: `#` leased, `!` listening, `.` free."""
    if not report.ranges:
        return "no ranges"
    rows = [["TYPE", "RANGE", "INSTANCES", "LEASED", "LISTENING", "FREE", "MAP"]]
    for item in report.ranges:
        rows.append(
            [
                item.service_type,
                f"{item.start}-{item.end}",
                item.instances,
                str(len(item.leased_ports)),
                str(len(item.listening_ports)),
                str(item.free),
                _bar(item, colour),
            ]
        )
    legend = "# leased   ! listening without a lease   . free"
    table = _columns(rows, drawn=len(rows[0]) - 1) + "\n" + legend
    # The bars' colours are styxy's own; every other cell was escaped by _columns.
    return output.Drawn(table) if colour else table


def _bar(item: RangeUsage, colour: bool) -> str:
    size = item.end - item.start + 1
    cells = min(size, BAR_CELLS)
    leased, listening = set(item.leased_ports), set(item.listening_ports)
    drawn = []
    for i in range(cells):
        # Cell i stands for the ports [first, last]; every port falls in exactly one cell.
        first = item.start + i * size // cells
        last = item.start + (i + 1) * size // cells - 1
        span = range(first, last + 1)
        mark = (
            "#"
            if any(p in leased for p in span)
            else "!"
            if any(p in listening for p in span)
            else "."
        )
        drawn.append(f"{_CELL_COLOURS[mark]}{mark}\033[0m" if colour else mark)
    return "".join(drawn)


def reaped_lines(reaped: Sequence[Lease], dry_run: bool) -> str:
    from styxy import notes

    if not reaped:
        return notes.NOTHING_STALE
    return "\n".join(
        notes.reaped(x.serviceType, x.port, x.lockId, x.pid, dry_run=dry_run) for x in reaped
    )


def settings_text(settings: dict[str, Any], prefix: str = "") -> str:
    lines = []
    for key, value in settings.items():
        if isinstance(value, dict):
            lines.append(f"{prefix}{key}:")
            lines.append(settings_text(value, prefix + "  "))
        else:
            lines.append(f"{prefix}{key}: {value_text(value)}")
    return "\n".join(line for line in lines if line)


def value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def auto_allocation_text(info: AutoAllocationReport) -> str:
    values = info.to_json()
    parts = [
        settings_text(
            {
                "autoAllocation": values["autoAllocation"],
                "autoAllocationRules": values["autoAllocationRules"],
            }
        )
    ]
    parts.append("auto-allocated ranges:")
    parts += [f"  {r.service_type} {r.start}-{r.end} ({r.date})" for r in info.ranges] or ["  none"]
    parts.append("recent audit lines:")
    parts += [f"  {line}" for line in info.audit] or ["  none"]
    return "\n".join(parts)


def doctor_lines(report: DoctorReport) -> str:
    eph = report.ephemeral_range
    lines = [
        f"document: {report.paths.document} ({'valid' if report.valid else 'INVALID'})",
        *[f"  {d}" for d in report.diagnostics],
        f"sidecar: {report.paths.sidecar}",
        f"leases: {report.live} live, {report.stale} stale",
        f"ephemeral range: {f'{eph[0]}-{eph[1]}' if eph else 'unknown'}",
        f"interceptor: {report.interceptor['status']}",
        *_kernel_lines(report.interceptor["bpf"]),
    ]
    return "\n".join(lines)


def bpf_lines(status: Mapping[str, Any]) -> list[str]:
    """The kernel bind program in words (`interceptor bpf status`, doctor): where, the counters,
    the last events; `status` is its JSON."""
    if "error" in status:
        return [f"attached, but its maps cannot be read: {status['error']}"]
    if not status["attached"]:
        return ["not attached; run: sudo styxy interceptor bpf attach"]
    lines = [
        f"attached to {status['cgroup']} (maps in {status['pin']}); "
        f"{status['watched']} binds watched, {status['busy']} busy, {status['moved']} moved, "
        f"{status['kept']} kept, {status['pendingMoves']} moves not folded yet"
    ]
    if status["dropped"]:
        lines.append(f"{status['dropped']} events did not fit in the ring buffer")
    if status["events"]:
        lines.append("last events:")
        lines += [f"  {_event_line(e)}" for e in status["events"]]
    return lines


def _event_line(event: Mapping[str, Any]) -> str:
    # The process name in it is made printable where it is read (styxy/store/bpfmaps.py).
    return f"{event['time']} {event['message']}"


def _kernel_lines(bpf: Mapping[str, Any]) -> list[str]:
    """doctor's lines for the kernel bind program (SPEC section 16)."""
    first, *rest = bpf_lines(bpf)
    return [f"kernel bind program: {first}", *(f"  {line}" for line in rest)]


def _owner(pid: int | None, process: str | None) -> str:
    if pid is None:
        return "a process styxy may not inspect"
    return f"process {pid} ({process or '?'})"


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _columns(rows: list[list[str]], drawn: int | None = None) -> str:
    """The rows as a table; column `drawn` holds only styxy's own drawing (the ranges' bars),
    the others data, escaped."""
    # Column by column, so that a table of 10,000 leases costs a few C-speed passes per column.
    columns = [list(column) for column in zip(*rows, strict=True)]
    for index, column in enumerate(columns):
        # A cell is one line whatever it holds (a command line's newline, a lease file's escape).
        if index != drawn and not "".join(column).isprintable():
            columns[index] = [output.one_line(cell) for cell in column]
    padded = [
        list(map(str.ljust, column, [max(map(len, column))] * len(column))) for column in columns
    ]
    return "\n".join("  ".join(cells).rstrip() for cells in zip(*padded, strict=True))
