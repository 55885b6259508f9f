"""Find the parts of a document styxy cares about, through markdown-it-py's block tokens.

Only block structure matters here: cell texts are the `inline` tokens' raw content, so the
inline parser (the costly part, run once per cell) is switched off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

RANGES = "ranges"
AUDIT = "audit"
MARKER_TEXT = {RANGES: "<!-- styxy:ranges -->", AUDIT: "<!-- styxy:audit -->"}
# Spaces inside the comment are a matter of taste; mdformat keeps either spelling.
_MARKER = re.compile(r"<!--\s*styxy:([a-z]+)\s*-->")


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    md = MarkdownIt("commonmark").enable("table").use(front_matter_plugin)
    md.disable(["inline", "text_join"], ignoreInvalid=True)
    return md


@dataclass(frozen=True)
class Marker:
    kind: str  # ranges | audit | anything else after `styxy:`
    index: int  # position in the token stream
    line: int  # 0-based


@dataclass(frozen=True)
class Table:
    """0-based lines of the table after the ranges marker: [start, end).

    markdown-it makes every line from `start + 2` up to `end` one body row, without
    exception, so the rows are read from those lines; the row tokens are never walked.
    """

    start: int
    end: int


@dataclass
class Blocks:
    """What one pass over the tokens found."""

    tokens: list[Token]
    front_matter: Token | None = None
    markers: list[Marker] = field(default_factory=list)
    stray_markers: list[int] = field(default_factory=list)  # 0-based lines, not counted
    code: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of code blocks


def scan(text: str) -> Blocks:
    blocks = Blocks(parser().parse(text))
    for index, token in enumerate(blocks.tokens):
        if token.type == "front_matter":
            blocks.front_matter = token
        elif token.type in ("fence", "code_block") and token.map:
            blocks.code.append((token.map[0], token.map[1]))
        elif token.type == "html_block" and token.map and "styxy:" in token.content:
            _html(blocks, index, token)
    return blocks


def _html(blocks: Blocks, index: int, token: Token) -> None:
    found = _MARKER.fullmatch(token.content.strip())
    assert token.map is not None
    if found and token.level == 0:
        blocks.markers.append(Marker(found.group(1), index, token.map[0]))
    else:
        # Nested in a list or quote, or sharing its block with other HTML: looks like a marker
        # but is not one. Worth a warning, never worth counting.
        blocks.stray_markers.append(token.map[0])


def table_after(tokens: list[Token], index: int) -> Table | None:
    """The table that starts right after token `index`."""
    if index + 1 >= len(tokens) or tokens[index + 1].type != "table_open":
        return None
    token_map = tokens[index + 1].map
    assert token_map is not None
    return Table(token_map[0], token_map[1])


def fence_after(tokens: list[Token], index: int) -> Token | None:
    if index + 1 >= len(tokens) or tokens[index + 1].type != "fence":
        return None
    return tokens[index + 1]
