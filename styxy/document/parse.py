"""Text in, a valid document (`parse`) or the list of everything wrong with it (`check`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from styxy.document import conflicts, frontmatter, markdown, table, validate
from styxy.document.audit import Fence, entries, fence_of, is_text_fence
from styxy.document.layout import Layout, Parsed
from styxy.document.lines import body, newline_of, split_lines
from styxy.document.markdown import AUDIT, MARKER_TEXT, RANGES, Blocks
from styxy.document.model import AuditEntry, Document, Range, Settings
from styxy.errors import Diagnostic, DocumentError


def parse(text: str, path: str) -> Parsed:
    """The document, or DocumentError carrying every problem found (errors first)."""
    result = _read(text, path)
    errors = [d for d in result.diagnostics if not d.warning]
    if errors or result.layout is None:
        warnings = [d for d in result.diagnostics if d.warning]
        raise DocumentError(_ordered(errors) + _ordered(warnings))
    document = Document(path, result.settings, tuple(result.ranges), result.audit)
    return Parsed(text, path, document, result.layout, tuple(_ordered(result.diagnostics)))


def check(text: str, path: str) -> list[Diagnostic]:
    """Every error and warning, in line order; never raises for a problem in the document."""
    return _ordered(_read(text, path).diagnostics)


def check_rows(text: str, path: str) -> tuple[list[Diagnostic], tuple[Range, ...]]:
    """`check`, plus every row whose ports could be read (even when other rows have errors)."""
    result = _read(text, path)
    return _ordered(result.diagnostics), tuple(result.ranges)


def _ordered(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: (d.line, d.warning))


@dataclass
class _Result:
    """What one reading found; `layout` stays None when a part to edit is missing."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    ranges: list[Range] = field(default_factory=list)
    audit: tuple[AuditEntry, ...] = ()
    layout: Layout | None = None
    detect_lines: dict[str, int] = field(default_factory=dict)
    alias_rows: dict[str, int] = field(default_factory=dict)
    alias_lines: dict[str, int] = field(default_factory=dict)
    row_names: frozenset[str] | None = None  # every name in the table, None when unread


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a document is read.

    A 5,000-row table makes some 100,000 markdown-it tokens, none of them in a cycle; left
    running, the collector walks them again and again as they pile up, which costs more than
    the parse itself. Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read(text: str, path: str) -> _Result:
    with collector_paused():
        return _read_all(text, path)


def _read_all(text: str, path: str) -> _Result:
    lines = split_lines(text)
    blocks = markdown.scan(text)
    result = _Result(conflicts.find(text, lines, _code_outside_audit(blocks), path))
    if result.diagnostics:
        return result
    front = _front_matter(blocks, lines, path, result)
    markers = _markers(blocks, path, result.diagnostics)
    table_lines, rows = _table(blocks, markers.get(RANGES), lines, path, result)
    fence = _audit(blocks, markers.get(AUDIT), lines, path, result)
    _check_aliases(result, path)
    _cross_check(result, path)
    if table_lines is not None and fence is not None:
        result.layout = Layout(
            newline_of(text), front, table_lines, rows, fence.open, fence.close, fence.indent
        )
    return result


def _front_matter(
    blocks: Blocks, lines: list[str], path: str, result: _Result
) -> tuple[int, int] | None:
    token = blocks.front_matter
    if token is None or token.map is None:
        if lines and body(lines[0]).rstrip() == "---":
            result.diagnostics.append(
                Diagnostic(path, 1, "the front matter opened on line 1 is never closed by '---'")
            )
        else:
            result.diagnostics.append(
                Diagnostic(path, 1, "no front matter; using the default settings", warning=True)
            )
        return None
    start, end = token.map
    yaml_text = "\n".join(body(line) for line in lines[start + 1 : end - 1])
    read = frontmatter.read(yaml_text, path, start + 2)
    result.diagnostics.extend(read.diagnostics)
    result.settings = read.settings
    result.detect_lines = read.detect_lines
    result.alias_rows = read.alias_rows
    result.alias_lines = read.alias_lines
    return (start, end - 1)


def _markers(blocks: Blocks, path: str, problems: list[Diagnostic]) -> dict[str, int]:
    """Token index of each kind's first marker; duplicates, strays and missing ones reported."""
    first: dict[str, int] = {}
    first_line: dict[str, int] = {}
    for marker in blocks.markers:
        if marker.kind not in MARKER_TEXT:
            problems.append(
                Diagnostic(
                    path,
                    marker.line + 1,
                    f"unknown styxy marker 'styxy:{marker.kind}'",
                    warning=True,
                )
            )
        elif marker.kind in first:
            problems.append(
                Diagnostic(
                    path,
                    marker.line + 1,
                    f"duplicate marker {MARKER_TEXT[marker.kind]} (first on line {first_line[marker.kind]})",
                )
            )
        else:
            first[marker.kind] = marker.index
            first_line[marker.kind] = marker.line + 1
    for line in blocks.stray_markers:
        problems.append(
            Diagnostic(
                path,
                line + 1,
                "this looks like a styxy marker but does not count: "
                "a marker stands alone on its own line, outside lists and quotes",
                warning=True,
            )
        )
    for kind, marker_text in MARKER_TEXT.items():
        if kind not in first:
            problems.append(Diagnostic(path, 1, f"missing marker {marker_text}"))
    return first


def _table(
    blocks: Blocks, index: int | None, lines: list[str], path: str, result: _Result
) -> tuple[tuple[int, int] | None, tuple[int, ...]]:
    if index is None:
        return None, ()
    found = markdown.table_after(blocks.tokens, index)
    if found is None:
        line = _line_of(blocks, index)
        result.diagnostics.append(
            Diagnostic(
                path,
                line,
                f"{MARKER_TEXT[RANGES]} must be directly followed by the ranges table "
                f"(header {table.HEADER_LINE} and a delimiter row)",
            )
        )
        return None, ()
    rows, problems = table.read(found, lines, path)
    result.diagnostics.extend(problems)
    if rows is None:
        return None, ()
    result.row_names = frozenset(cells[0] for _, cells in rows)
    ranges, problems = validate.read_rows(rows, path)
    result.ranges = ranges
    result.diagnostics.extend(problems)
    # One line per range, in the same order, which is what the edits zip together.
    return (found.start, found.end), tuple(r.line - 1 for r in ranges)


def _audit(
    blocks: Blocks, index: int | None, lines: list[str], path: str, result: _Result
) -> Fence | None:
    if index is None:
        return None
    token = markdown.fence_after(blocks.tokens, index)
    line = _line_of(blocks, index)
    if token is None or not is_text_fence(token):
        result.diagnostics.append(
            Diagnostic(
                path,
                line,
                f"{MARKER_TEXT[AUDIT]} must be directly followed by a fenced text block (```text)",
            )
        )
        return None
    fence = fence_of(token, lines)
    if fence is None:
        assert token.map is not None
        result.diagnostics.append(
            Diagnostic(path, token.map[0] + 1, "the audit block is never closed by its fence")
        )
        return None
    result.audit = entries(fence, lines)
    return fence


def _check_aliases(result: _Result, path: str) -> None:
    """What `aliases` needs the table for: each entry names a row, and an alias that is also a
    row's name is a warning (the row wins, so a row added by hand always works; SPEC 15)."""
    names = result.row_names
    if names is None:
        return
    for row, line in result.alias_rows.items():
        if row not in names:
            result.diagnostics.append(
                Diagnostic(path, line, f"aliases names service type {row!r}, which has no row")
            )
    for row, aliases in result.settings.aliases.items():
        for alias in aliases:
            if alias in names:
                result.diagnostics.append(
                    Diagnostic(
                        path,
                        result.alias_lines[alias],
                        f"alias {alias!r} of {row!r} is also the name of a row; "
                        f"-s {alias} means that row",
                        warning=True,
                    )
                )


def _cross_check(result: _Result, path: str) -> None:
    """Warnings that need both the settings and the table; noise beside real errors."""
    if any(not d.warning for d in result.diagnostics):
        return
    # A detect rule may name a row by an alias: the interceptor resolves it as allocate does.
    known = {r.service_type for r in result.ranges}
    known.update(a for row in result.settings.aliases.values() for a in row)
    for name, line in result.detect_lines.items():
        if name not in known:
            result.diagnostics.append(
                Diagnostic(
                    path,
                    line,
                    f"detect names service type {name!r}, which has no row",
                    warning=True,
                )
            )


def _code_outside_audit(blocks: Blocks) -> list[tuple[int, int]]:
    """Code blocks where conflict markers are examples; the audit block is styxy's own text,
    so markers there are a real conflict (two branches each appended a line)."""
    audit = [m for m in blocks.markers if m.kind == AUDIT]
    fence = markdown.fence_after(blocks.tokens, audit[0].index) if audit else None
    span = tuple(fence.map) if fence is not None and fence.map else None
    return [c for c in blocks.code if c != span]


def _line_of(blocks: Blocks, index: int) -> int:
    token_map = blocks.tokens[index].map
    return token_map[0] + 1 if token_map else 1
