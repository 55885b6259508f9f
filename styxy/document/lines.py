"""Lines of a document with their own endings, and the few splices styxy makes on them.

markdown-it splits lines on `\\r\\n`, `\\r` and `\\n` (its `normalize` rule), so the line
numbers in its token maps index exactly the list `split_lines` returns. `str.splitlines` would
also split on form feeds and Unicode separators and get out of step with the maps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A UTF-8 byte order mark some editors put first: accepted and kept (SPEC section 10). The
# parser sees the text after it; the transaction puts it back when it writes the document.
BOM = b"\xef\xbb\xbf"

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_ENDING = re.compile(r"\r\n|\r|\n")


def decode_text(data: bytes, path: str) -> str:
    """The document's text without a leading byte order mark; bytes that are not UTF-8 are a
    diagnostic on their own line."""
    from styxy.errors import Diagnostic, DocumentError

    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x})"
        raise DocumentError([Diagnostic(path, line, message)]) from None


def split_lines(text: str) -> list[str]:
    """The lines of `text`, each keeping its ending; the last one may have none."""
    return _LINE.findall(text)


def newline_of(text: str) -> str:
    """The document's newline: the ending of its first line, `\\n` for a one-line document."""
    found = _ENDING.search(text)
    return found.group() if found else "\n"


def ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def body(line: str) -> str:
    """The line without its ending."""
    return line.rstrip("\r\n")


@dataclass(frozen=True)
class Splice:
    """Replace lines [start, end) by `new` (each without ending); start == end inserts."""

    start: int
    end: int
    new: tuple[str, ...]


def apply(lines: list[str], splices: list[Splice], newline: str) -> str:
    """The text with every splice made; splices must not overlap.

    Applied from the bottom up so that earlier line numbers stay valid. Inserting after a last
    line that has no ending gives that line the ending and leaves the new last line without
    one, so that removing the line again restores the original bytes.
    """
    out = list(lines)
    for splice in sorted(splices, key=lambda s: (s.start, s.end), reverse=True):
        _apply_one(out, splice, newline)
    return "".join(out)


def _apply_one(out: list[str], splice: Splice, newline: str) -> None:
    if splice.start == splice.end and not splice.new:
        return
    at_end = splice.end == len(out)
    open_last = at_end and bool(out) and not ending(out[-1])
    new = [line + newline for line in splice.new]
    if splice.start == splice.end and open_last:
        # Appending after an unterminated last line: terminate it, leave the new one open.
        out[-1] += newline
        new[-1] = new[-1][: -len(newline)]
    elif open_last and splice.start < splice.end:
        if new:
            new[-1] = new[-1][: -len(newline)]
        elif splice.start > 0:
            # Removing the unterminated last line: the line before becomes the open last one.
            out[splice.start - 1] = body(out[splice.start - 1])
    out[splice.start : splice.end] = new
