"""Splices of the front matter: one value, one new key, one rule, located by YAML marks.

Lines here are document lines (0-based); a YAML mark's line plus `offset` gives one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode

from styxy.document.layout import Parsed
from styxy.document.lines import Splice, body, split_lines
from styxy.document.templates import render_line, render_lines, yaml_scalar
from styxy.document.yamlnodes import Tree, is_empty, is_null, last_line, lookup
from styxy.errors import RefusedError

_COMMENT = re.compile(r"([ \t]+)(#.*)")
STEP = "  "  # indentation of a new nested block, as the shipped default has it
Entry = tuple[Node, Node]
# Renders the lines of new entries for a given indentation and nesting step.
LinesFor = Callable[[str, str], list[str]]


@dataclass
class Front:
    """The front matter of a parsed document, composed again for its marks."""

    lines: list[str]
    offset: int  # document line of YAML line 0
    close: int  # document line of the closing `---`
    root: Node | None

    def line(self, node: Node) -> int:
        return int(node.start_mark.line) + self.offset

    def last(self, node: Node) -> int:
        return last_line(node) + self.offset


def load(parsed: Parsed) -> Front | None:
    span = parsed.layout.front_matter
    if span is None:
        return None
    lines = split_lines(parsed.text)
    tree = Tree("\n".join(body(line) for line in lines[span[0] + 1 : span[1]]))
    tree.close()
    return Front(lines, span[0] + 1, span[1], tree.root)


def set_value(front: Front, path: tuple[str, ...], value: object) -> list[Splice]:
    """Replace the value at `path` (one or two keys deep) on its line, or add the key."""
    name = ".".join(path)
    if len(path) == 1:
        leaf = lookup(front.root, path[0])
        if leaf is not None:
            return [_replace_scalar(front, leaf, value, name)]
        return [Splice(front.close, front.close, (entry_line("", path[0], value),))]
    section, key = path
    found = lookup(front.root, section)
    leaf = lookup(found[1], key) if found is not None else None
    if leaf is not None:
        return [_replace_scalar(front, leaf, value, name)]
    return append_to(front, section, lambda indent, _: [entry_line(indent, key, value)])


def append_to(front: Front, section: str, make: LinesFor) -> list[Splice]:
    """New entries at the end of the top-level mapping `section`, created if it is absent."""
    found = lookup(front.root, section)
    if found is None:
        lines = (entry_line("", section, None), *make(STEP, STEP))
        return [Splice(front.close, front.close, lines)]
    key_node, value = found
    if isinstance(value, MappingNode) and value.flow_style:
        if value.value:
            raise RefusedError(_flow(section))
        return [_open_empty_flow(front, found, make)]
    if is_null(value):
        # `section:` with nothing under it: the entries go right below the key.
        at = front.line(key_node) + 1
        return [Splice(at, at, tuple(make(_column(key_node) + STEP, STEP)))]
    indent, step = _indents(found)
    at = front.last(value) + 1
    return [Splice(at, at, tuple(make(indent, step)))]


def replace_entry(front: Front, section: Entry, key: str, make: LinesFor | None) -> list[Splice]:
    """The lines of one entry of a block mapping swapped for new ones (None removes them)."""
    if isinstance(section[1], MappingNode) and section[1].flow_style:
        raise RefusedError(_flow(str(section[0].value)))
    found = lookup(section[1], key)
    assert found is not None
    key_node, value_node = found
    start = front.line(key_node)
    end = start if is_empty(value_node) else max(start, front.last(value_node))
    new = make(*_indents(section)) if make is not None else []
    return [Splice(start, end + 1, tuple(new))]


def entry_line(indent: str, key: str, value: object) -> str:
    return render_line("entry.yaml.j2", indent=indent, key=key, value=value)


def rule_lines(pattern: str, fields: list[tuple[str, object]]) -> LinesFor:
    def make(indent: str, step: str) -> list[str]:
        return render_lines(
            "rule.yaml.j2", indent=indent, step=step, pattern=pattern, fields=fields
        )

    return make


# -- helpers ----------------------------------------------------------------------------------


def _flow(section: str) -> str:
    return f"{section} is written in flow style {{...}}; write it as an indented block to edit it"


def _column(node: Node) -> str:
    return " " * int(node.start_mark.column)


def _indents(entry: Entry) -> tuple[str, str]:
    """Indentation of the entries under `entry`, and the step their own children use."""
    key_node, value = entry
    if not (isinstance(value, MappingNode) and value.value and not value.flow_style):
        return _column(key_node) + STEP, STEP
    indent = _column(value.value[0][0])
    for _, child in value.value:
        if isinstance(child, MappingNode) and child.value and not child.flow_style:
            step = int(child.value[0][0].start_mark.column) - len(indent)
            if step > 0:
                return indent, " " * step
    return indent, STEP


def _replace_scalar(front: Front, leaf: Entry, value: object, name: str) -> Splice:
    """The value swapped in place: indentation, spacing and trailing comment kept."""
    key_node, node = leaf
    at = front.line(key_node)
    text = body(front.lines[at])
    if is_empty(node):
        colon = text.index(":", int(key_node.end_mark.column))
        new = text[: colon + 1] + " " + yaml_scalar(value) + text[colon + 1 :]
    elif (
        isinstance(node, ScalarNode) and front.line(node) == at == node.end_mark.line + front.offset
    ):
        start, end = int(node.start_mark.column), int(node.end_mark.column)
        written = yaml_scalar(value)
        new = text[:start] + written + _aligned(text[end:], len(written) - (end - start))
    else:
        raise RefusedError(f"{name} is not a one-line value beside its key; change it by hand")
    return Splice(at, at + 1, (new,))


def _aligned(rest: str, shift: int) -> str:
    """Keep a trailing comment in its column when the value grows or shrinks, if there is room."""
    found = _COMMENT.fullmatch(rest)
    if found is None:
        return rest
    spaces = max(1, len(found.group(1)) - shift)
    return " " * spaces + found.group(2)


def _open_empty_flow(front: Front, entry: Entry, make: LinesFor) -> Splice:
    """`key: {}` becomes `key:` followed by the new entries (the line keeps its comment)."""
    key_node, value = entry
    at = front.line(key_node)
    text = body(front.lines[at])
    head = text[: value.start_mark.column].rstrip()
    lines = make(_column(key_node) + STEP, STEP)
    return Splice(at, at + 1, (head + text[value.end_mark.column :], *lines))
