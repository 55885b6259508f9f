"""PyYAML's node tree: values with their positions, for line numbers and in-place edits.

`yaml.safe_load` forgets where things are; the composed node tree keeps a mark (line,
column) on every key and value, which is what both the diagnostics and the splicing need.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class Tree:
    """One composed YAML document and the safe constructor that turns its leaves into values."""

    def __init__(self, text: str) -> None:
        self._loader = yaml.SafeLoader(text)
        try:
            self.root: Node | None = self._loader.get_single_node()
        except Exception:
            self._loader.dispose()
            raise

    def value(self, node: Node) -> object:
        try:
            return self._loader.construct_object(node, deep=True)
        except ValueError:
            # The one ValueError of the safe constructor: an integer longer than Python
            # converts (4,300 digits). A YAML error on its line, like any unreadable value.
            raise NumberTooLongError(
                None, None, "a number too long to read", node.start_mark
            ) from None

    def close(self) -> None:
        self._loader.dispose()


class NumberTooLongError(yaml.constructor.ConstructorError):
    """Valid YAML that holds an integer of more digits than Python converts."""


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null"))


def is_empty(node: Node) -> bool:
    """A value written as nothing at all (`key:`), whose marks point past the key's line."""
    return isinstance(node, ScalarNode) and node.value == "" and node.tag.endswith(":null")


def key_text(node: Node) -> str | None:
    """A mapping key as written, when it is a plain or quoted scalar."""
    return node.value if isinstance(node, ScalarNode) else None


def lookup(mapping: Node | None, key: str) -> tuple[Node, Node] | None:
    """The (key, value) nodes of `key` in a mapping node; the last one wins, as in PyYAML."""
    if not isinstance(mapping, MappingNode):
        return None
    found = None
    for key_node, value_node in mapping.value:
        if key_text(key_node) == key:
            found = (key_node, value_node)
    return found


def last_line(node: Node) -> int:
    """The 0-based line of the last character that belongs to `node`'s content.

    Block collections end where the next token starts (often a later line, after comments),
    so they are measured by their last child instead.
    """
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        key_node, value_node = node.value[-1]
        if is_empty(value_node):
            return last_line(key_node)
        return max(last_line(key_node), last_line(value_node))
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        return last_line(node.value[-1])
    end = node.end_mark
    if end.column == 0 and end.line > node.start_mark.line:
        # Block scalars (`|`, `>`) end at the start of the line after their text.
        return int(end.line) - 1
    return int(end.line)
