"""Meaning of the table rows: names, ports, instances, preferred ports, duplicates, overlaps.

Every row is read on its own first, so one bad cell never hides another; overlaps are found by
one sort and one sweep (n log n), which keeps 5,000 rows well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from styxy.document.model import Range
from styxy.document.names import NAME_RULE, is_service_type
from styxy.document.schema import MAX_PORT
from styxy.document.table import Row
from styxy.errors import Diagnostic
from styxy.names import shown_digits, whole_number
from styxy.refusals import shown
from styxy.vocabulary import Instances, is_instances


@dataclass
class _Row:
    """Problems of one row as they are found, with the row's 1-based line."""

    path: str
    line: int
    found: list[Diagnostic] = field(default_factory=list)

    def error(self, message: str, *, warning: bool = False) -> None:
        self.found.append(Diagnostic(self.path, self.line, message, warning=warning))


def read_rows(rows: list[Row], path: str) -> tuple[list[Range], list[Diagnostic]]:
    """Ranges in document order and every problem of the table's body."""
    ranges: list[Range] = []
    problems: list[Diagnostic] = []
    for line, cells in rows:
        row = _Row(path, line + 1)
        found = _read_row(row, cells)
        problems.extend(row.found)
        if found is not None:
            ranges.append(found)
    problems.extend(_duplicates(ranges, path))
    problems.extend(_overlaps(ranges, path))
    return ranges, problems


def _read_row(row: _Row, cells: tuple[str, ...]) -> Range | None:
    """The row as a Range when its ports are usable (so overlaps can still be checked)."""
    name, start_text, end_text, instances, preferred_text, description = cells
    if not is_service_type(name):
        row.error(f"invalid service type {shown(name)}: {NAME_RULE}")
    start = _port(row, "Start", start_text)
    end = _port(row, "End", end_text)
    if start is not None and end is not None and start > end:
        row.error(f"Start {start} is greater than End {end}")
        start = end = None
    kind: Instances = "multi"  # for a bad cell, reported here: the row still counts for overlaps
    if is_instances(instances):
        kind = instances
    else:
        row.error(f"Instances must be single or multi, not {shown(instances)}")
    preferred = _preferred(row, preferred_text, start, end)
    if start is None or end is None:
        return None
    return Range(name, start, end, kind, preferred, description, row.line)


def _port(row: _Row, column: str, text: str) -> int | None:
    if not (text.isascii() and text.isdigit()):
        row.error(f"{column} {shown(text)} is not a whole number")
        return None
    port = whole_number(text)
    if port is None or not 1 <= port <= MAX_PORT:
        row.error(f"{column} {shown_digits(text)} is outside 1..{MAX_PORT}")
        return None
    return port


def _preferred(row: _Row, text: str, start: int | None, end: int | None) -> tuple[int, ...]:
    if not text.strip():
        return ()
    ports: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        if not (item.isascii() and item.isdigit()):
            row.error(f"preferred port {shown(item)} is not a whole number")
            continue
        port = whole_number(item)
        if port is None:
            row.error(f"preferred port {shown_digits(item)} is outside 1..{MAX_PORT}")
        elif start is not None and end is not None and not start <= port <= end:
            row.error(f"preferred port {port} is outside the row's range {start}-{end}")
        elif not 1 <= port <= MAX_PORT:
            row.error(f"preferred port {port} is outside 1..{MAX_PORT}")
        elif port in ports:
            row.error(f"preferred port {port} is listed twice", warning=True)
        else:
            ports.append(port)
    return tuple(ports)


def _duplicates(ranges: list[Range], path: str) -> list[Diagnostic]:
    first: dict[str, int] = {}
    problems = []
    for r in ranges:
        if r.service_type in first:
            problems.append(
                Diagnostic(
                    path,
                    r.line,
                    f"duplicate service type {r.service_type!r} (first on line {first[r.service_type]})",
                )
            )
        else:
            first[r.service_type] = r.line
    return problems


def _overlaps(ranges: list[Range], path: str) -> list[Diagnostic]:
    """Each overlap once, on the later row in document order, naming the other row."""
    problems = []
    reach: Range | None = None  # among rows seen so far, the one that ends highest
    for r in sorted(ranges, key=lambda r: (r.start, r.end, r.line)):
        if reach is not None and r.start <= reach.end:
            later, other = (r, reach) if r.line > reach.line else (reach, r)
            problems.append(
                Diagnostic(
                    path,
                    later.line,
                    f"range {later.start}-{later.end} of {later.service_type!r} overlaps "
                    f"{other.service_type!r} {other.start}-{other.end} (line {other.line})",
                )
            )
        if reach is None or r.end > reach.end:
            reach = r
    return problems
