"""Warnings about where a row's range lies, from the registry's and the kernel's point of view.

`styxy validate` adds these to the document's own diagnostics (SPEC section 13): a range in the
System Ports or the Dynamic Ports, a range over the kernel's ephemeral range, and a range over
a well-known developer port (`styxy.system.curated`) that the row's type is not about. Each is a
warning on the row's line that names the port and the assignment; `--strict` makes them errors.

Pure: the caller passes the ranges, the kernel's ephemeral range and the registry records.
"""

from __future__ import annotations

from collections.abc import Sequence

from styxy.document.model import Range
from styxy.errors import Diagnostic
from styxy.system import curated
from styxy.system.iana import CATEGORY_SPANS, category_text
from styxy.system.iana_formats import Record


def _span(low: int, high: int) -> str:
    return f"port {low}" if low == high else f"ports {low}-{high}"


def _assigned(records: Sequence[Record], low: int, high: int) -> str:
    """`; port 80 is assigned to 'http' (World Wide Web HTTP)` for the first TCP assignment."""
    found = [r for r in records if r.protocol == "tcp" and r.low <= high and low <= r.high]
    if not found:
        return ""
    first = min(found, key=lambda r: (max(r.low, low), r.name.casefold()))
    port = max(first.low, low)
    described = f" ({first.description})" if first.description else ""
    return f"; port {port} is assigned to '{first.name}'{described}"


def _system(row: Range, records: Sequence[Record]) -> str | None:
    high = CATEGORY_SPANS["system"][1]
    if row.start > high:
        return None
    top = min(row.end, high)
    return (
        f"range {row.start}-{row.end} of '{row.service_type}' lies in the {category_text('system')}, "
        f"which IANA assigns by IETF review and only root can bind{_assigned(records, row.start, top)}"
    )


def _dynamic(row: Range) -> str | None:
    low, _ = CATEGORY_SPANS["dynamic"]
    if row.end < low:
        return None
    first = max(row.start, low)
    return (
        f"range {row.start}-{row.end} of '{row.service_type}' puts {_span(first, row.end)} in the "
        f"{category_text('dynamic')}, which IANA never assigns and systems hand out for "
        "outgoing connections"
    )


def _ephemeral(row: Range, ephemeral: tuple[int, int] | None) -> str | None:
    if ephemeral is None or row.end < ephemeral[0] or ephemeral[1] < row.start:
        return None
    low, high = max(row.start, ephemeral[0]), min(row.end, ephemeral[1])
    return (
        f"range {row.start}-{row.end} of '{row.service_type}' overlaps the kernel's ephemeral "
        f"range {ephemeral[0]}-{ephemeral[1]} (ip_local_port_range) at {_span(low, high)}, "
        "which the kernel may give to any outgoing connection"
    )


def _developer(row: Range, records: Sequence[Record]) -> list[str]:
    found = []
    for entry in curated.covered(row.start, row.end):
        if curated.is_about(entry, row.service_type):
            continue
        low, high = max(entry.low, row.start), min(entry.high, row.end)
        iana = [r.name for r in records if r.protocol == "tcp" and r.low <= low <= r.high]
        registered = f", IANA: '{iana[0]}'" if iana else ""
        found.append(
            f"range {row.start}-{row.end} of '{row.service_type}' covers {_span(low, high)} "
            f"({entry.tool}{registered}), a well-known developer port that "
            f"'{row.service_type}' is not about"
        )
    return found


def warnings(
    ranges: Sequence[Range],
    path: str,
    *,
    ephemeral: tuple[int, int] | None,
    records: Sequence[Record],
) -> list[Diagnostic]:
    """Every hazard warning, in row order; several per row when several apply."""
    found: list[Diagnostic] = []
    for row in ranges:
        messages = [_system(row, records), _dynamic(row), _ephemeral(row, ephemeral)]
        messages += _developer(row, records)
        found.extend(
            Diagnostic(path, row.line, message, warning=True) for message in messages if message
        )
    return found


def check_document(text: str, path: str, *, strict: bool = False) -> list[Diagnostic]:
    """The document's own diagnostics and the hazard warnings, by line; `strict` makes every
    warning an error (`validate --strict`)."""
    from styxy import document
    from styxy.system import iana, ports

    found, ranges = document.check_rows(text, path)
    try:
        # The warnings name TCP assignments only: no need to build the other half.
        records = [Record(*row) for row in iana.current().rows if row[1] == "tcp"]
    except iana.IanaError:
        records = []  # a damaged index only costs the warnings their IANA names
    found += warnings(ranges, path, ephemeral=ports.ephemeral_range(), records=records)
    found.sort(key=lambda d: (d.line, d.warning))
    if strict:
        return [Diagnostic(d.path, d.line, d.message) for d in found]
    return found
