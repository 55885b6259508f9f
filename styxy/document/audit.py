"""The audit block: a fenced `text` block after its marker, one line per change."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it.token import Token

from styxy.document.lines import body
from styxy.document.model import AuditEntry


@dataclass(frozen=True)
class Fence:
    """0-based lines of the opening and closing fence, and the fence's own indentation."""

    open: int
    close: int
    indent: str


def fence_of(token: Token, lines: list[str]) -> Fence | None:
    """The fence's lines, or None when it runs to the end of the document unclosed."""
    assert token.map is not None
    start, end = token.map
    last = end - 1
    closing = re.compile(re.escape(token.markup[0]) + f"{{{len(token.markup)},}}[ \\t]*")
    if last <= start or last >= len(lines) or not closing.fullmatch(body(lines[last]).lstrip(" ")):
        return None
    opening = body(lines[start])
    return Fence(start, last, opening[: len(opening) - len(opening.lstrip(" "))])


def entries(fence: Fence, lines: list[str]) -> tuple[AuditEntry, ...]:
    return tuple(
        AuditEntry(body(lines[i]).strip(), i + 1)
        for i in range(fence.open + 1, fence.close)
        if body(lines[i]).strip()
    )


def is_text_fence(token: Token) -> bool:
    words = token.info.split()
    return bool(words) and words[0] == "text"
