"""A parsed document: its text, what it means, and where each part sits, for splicing."""

from __future__ import annotations

from dataclasses import dataclass

from styxy.document.model import Document
from styxy.errors import Diagnostic


@dataclass(frozen=True)
class Layout:
    """0-based line numbers of the parts styxy edits, all within `Parsed.text`."""

    newline: str  # the ending of the document's first line; new lines use it
    front_matter: tuple[int, int] | None  # lines of the opening and closing `---`
    table: tuple[int, int]  # [header line, end) of the ranges table
    rows: tuple[int, ...]  # line of each row, in document order (same order as `ranges`)
    audit_open: int  # line of the audit block's opening fence
    audit_close: int  # line of its closing fence
    audit_indent: str  # the fence's own indentation, given to new audit lines


@dataclass(frozen=True)
class Parsed:
    """A valid document (warnings allowed) and everything needed to edit it in place."""

    text: str
    path: str
    document: Document
    layout: Layout
    warnings: tuple[Diagnostic, ...] = ()
