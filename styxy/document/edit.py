"""Edit, don't regenerate: rows and audit lines spliced into the original text.

Each function returns the new text and leaves every other byte alone. `add_range` and
`remove_range` take the audit line of the same change, so the transaction splices both from
one parse instead of parsing the document twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from styxy.document.layout import Parsed
from styxy.document.lines import Splice, apply, split_lines
from styxy.document.model import INSTANCES, Document, Range
from styxy.document.names import check_service_type
from styxy.document.schema import MAX_PORT
from styxy.errors import InvalidValueError, NotFoundError, RefusedError
from styxy.records import replace


def add_range(parsed: Parsed, row: Range, *, audit: str | None = None) -> str:
    """Insert `row` before the first row whose Start is greater (else after the last row)."""
    return add_ranges(parsed, [row], audit=() if audit is None else (audit,))


def add_ranges(parsed: Parsed, rows: Sequence[Range], *, audit: Sequence[str] = ()) -> str:
    """`add_range` of each row in turn, and the audit lines appended in order: one splice of
    the text parsed once, so that a project of hundreds of new types (`styxy env`) parses its
    document once, not once a row. The text is the one the rows added one by one would give.
    """
    document = parsed.document
    for row in rows:
        _check_row(row)
        _check_fits(document, row)
        document = with_row(document, row)
    # Rows meant for the same line go there together, in the order of their Starts: what
    # inserting each before the first row with a greater Start gives, one at a time.
    at_line: dict[int, list[Range]] = {}
    for row in rows:
        at_line.setdefault(_insertion_line(parsed, row.start), []).append(row)
    splices = [
        Splice(at, at, tuple(render_row(row) for row in sorted(group, key=_start)))
        for at, group in at_line.items()
    ]
    return _splice(parsed, splices, audit)


def with_row(document: Document, row: Range) -> Document:
    """The model `add_range` gives `document`: `row` before the first row whose Start is
    greater. The row's line is the one it was given; a parse of the text tells the true one."""
    ranges = document.ranges
    at = next((i for i, other in enumerate(ranges) if other.start > row.start), len(ranges))
    return replace(document, ranges=(*ranges[:at], row, *ranges[at:]))


def _start(row: Range) -> int:
    return row.start


def render_row(row: Range) -> str:
    """The compact table line of `row`, as `mdformat --compact-tables` writes it."""
    from styxy.document.templates import render_line

    return render_line(
        "row.md.j2",
        service_type=row.service_type,
        start=row.start,
        end=row.end,
        instances=row.instances,
        preferred=row.preferred,
        description=row.description,
    )


def remove_range(parsed: Parsed, service_type: str, *, audit: str | None = None) -> str:
    """Remove the row of `service_type`: exactly one line."""
    for r, line in zip(parsed.document.ranges, parsed.layout.rows, strict=True):
        if r.service_type == service_type:
            return _splice(parsed, [Splice(line, line + 1, ())], audit)
    raise NotFoundError(f"no row for service type {service_type!r} in {parsed.path}")


def append_audit(parsed: Parsed, line: str) -> str:
    """Append one line at the end of the audit block."""
    return _splice(parsed, [], line)


def audit_line(
    action: str,
    service_type: str,
    start: int,
    end: int,
    *,
    when: datetime | None = None,
    **fields: object,
) -> str:
    """`<UTC time> <action> <type> <start>-<end> key=value ...`, as SPEC section 6 shows."""
    from styxy.document.templates import render_line

    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return render_line(
        "audit_line.txt.j2",
        when=moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        action=action,
        service_type=service_type,
        start=start,
        end=end,
        fields=list(fields.items()),
    )


def _splice(parsed: Parsed, splices: list[Splice], audit: str | Sequence[str] | None) -> str:
    lines = (audit,) if isinstance(audit, str) else tuple(audit or ())
    if lines:
        close = parsed.layout.audit_close
        indent = parsed.layout.audit_indent
        splices = [*splices, Splice(close, close, tuple(indent + _audit_text(x) for x in lines))]
    return apply(split_lines(parsed.text), splices, parsed.layout.newline)


def _audit_text(line: str) -> str:
    from styxy.document.templates import one_line

    text = one_line(line).strip()
    if not text:
        raise InvalidValueError("an audit line cannot be empty")
    if text.startswith(("```", "~~~")):
        # It would close the fence and spill the rest of the log into the prose.
        raise InvalidValueError(f"audit line {text!r} cannot start with a code fence")
    return text


def _insertion_line(parsed: Parsed, start: int) -> int:
    for r, line in zip(parsed.document.ranges, parsed.layout.rows, strict=True):
        if r.start > start:
            return line
    rows = parsed.layout.rows
    # No rows at all: right below the delimiter row.
    return rows[-1] + 1 if rows else parsed.layout.table[0] + 2


def _check_row(row: Range) -> None:
    check_service_type(row.service_type)
    for port in (row.start, row.end, *row.preferred):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= MAX_PORT:
            raise InvalidValueError(f"port {port!r} is outside 1..{MAX_PORT}")
    if row.start > row.end:
        raise InvalidValueError(f"Start {row.start} is greater than End {row.end}")
    if row.instances not in INSTANCES:
        raise InvalidValueError(f"Instances must be single or multi, not {row.instances!r}")
    if "\n" in row.description or "\r" in row.description:
        raise InvalidValueError(f"a description must fit on one line, not {row.description!r}")
    if any((ord(c) < 32 and c != "\t") or c == "\x7f" for c in row.description):
        raise InvalidValueError(
            f"a description must not hold control characters: {row.description!r}"
        )
    outside = [p for p in row.preferred if p not in row]
    if outside:
        raise InvalidValueError(
            f"preferred port {outside[0]} is outside the row's range {row.start}-{row.end}"
        )


def _check_fits(document: Document, row: Range) -> None:
    """A row that would break the document is refused before anything is written."""
    for other in document.ranges:
        if other.service_type == row.service_type:
            raise RefusedError(
                f"service type {row.service_type!r} already has a row (line {other.line})"
            )
        if other.start <= row.end and row.start <= other.end:
            raise RefusedError(
                f"range {row.start}-{row.end} overlaps {other.service_type!r} "
                f"{other.start}-{other.end} (line {other.line})"
            )
