"""The ranges table read from its lines: header, cell counts and cell texts.

markdown-it pads short rows and silently drops extra cells, so cells are taken from the line
itself, split exactly the way markdown-it splits them (`\\|` is not a separator), and the
count a person actually wrote is checked.
"""

from __future__ import annotations

import re

from styxy.document.lines import body
from styxy.document.markdown import Table
from styxy.errors import Diagnostic

COLUMNS = ("Service type", "Start", "End", "Instances", "Preferred", "Description")
HEADER_LINE = "| " + " | ".join(COLUMNS) + " |"
_SEPARATOR = re.compile(r"(?<!\\)\|")
_ESCAPED_PIPE = re.compile(r"\\\|")
# Whitespace markdown-it trims around a line and a cell (its CommonMark set).
_BLANKS = " \t\n\v\f\r"

Row = tuple[int, tuple[str, ...]]  # 0-based line and cell texts


def raw_cells(line: str) -> list[str]:
    """Cells of a table line as markdown-it sees them, before it pads or drops any."""
    cells = _SEPARATOR.split(body(line).strip(_BLANKS))
    if cells and cells[0] == "":
        cells.pop(0)
    if cells and cells[-1] == "":
        cells.pop()
    # markdown-it drops the backslash of an escaped pipe and trims each cell.
    return [_ESCAPED_PIPE.sub("|", cell).strip(_BLANKS) for cell in cells]


def read(table: Table, lines: list[str], path: str) -> tuple[list[Row] | None, list[Diagnostic]]:
    """Rows with exactly six cells, and a diagnostic for the header and every other row.

    None instead of rows when the header is wrong: then no cell means what it should.
    """
    if tuple(raw_cells(lines[table.start])) != COLUMNS:
        message = f"the ranges table header must be exactly {HEADER_LINE}"
        return None, [Diagnostic(path, table.start + 1, message)]
    rows: list[Row] = []
    problems: list[Diagnostic] = []
    for line in range(table.start + 2, table.end):
        cells = raw_cells(lines[line])
        if len(cells) == len(COLUMNS):
            rows.append((line, tuple(cells)))
            continue
        noun = "cell" if len(cells) == 1 else "cells"
        message = f"row has {len(cells)} {noun}; the table has {len(COLUMNS)} columns"
        problems.append(Diagnostic(path, line + 1, message))
    return rows, problems
