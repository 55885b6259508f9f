"""Git conflict markers left in a document after a merge.

A conflicted document is refused outright: its other problems are mostly the conflict's echo,
so only the markers are reported. `=======` alone is also a setext heading underline, so it
counts only in a document that has an opening or closing marker as well.
"""

from __future__ import annotations

import re

from styxy.document.lines import body
from styxy.errors import Diagnostic

_SIDE = re.compile(r"(?:<{7}|>{7}|\|{7})(?:[ \t].*)?")
_MIDDLE = re.compile(r"={7}[ \t]*")
_QUICK = re.compile(r"^(?:<{7}|>{7})", re.MULTILINE)
MESSAGE = "the document has git conflict markers; resolve the merge conflict first"


def find(text: str, lines: list[str], code: list[tuple[int, int]], path: str) -> list[Diagnostic]:
    if not _QUICK.search(text):
        return []  # the common case costs one regex search
    in_code = _code_lines(code)
    sides = [i for i, line in enumerate(lines) if i not in in_code and _SIDE.fullmatch(body(line))]
    if not sides:
        return []
    middles = [
        i for i, line in enumerate(lines) if i not in in_code and _MIDDLE.fullmatch(body(line))
    ]
    return [Diagnostic(path, i + 1, MESSAGE) for i in sorted(sides + middles)]


def _code_lines(code: list[tuple[int, int]]) -> set[int]:
    return {line for start, end in code for line in range(start, end)}
