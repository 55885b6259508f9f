"""Jinja2 templates for everything styxy writes into a document, and their filters.

The filters are the last line of defence for the table and the audit block: a newline would
split a row in two, an unescaped `|` would add a cell. They refuse or escape, never guess.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jinja2
import yaml

from styxy.errors import InvalidValueError
from styxy.resources import shipped

# C0 controls but the tab, and DEL: nothing a person means to put in a table or a log line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(shipped("templates"))),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters.update(
        audit_value=audit_value, cell=cell, one_line=one_line, word=word, yaml_scalar=yaml_scalar
    )
    return env


def render_lines(name: str, **values: Any) -> list[str]:
    """The template's output as lines without endings (the caller adds the document's)."""
    text = environment().get_template(name).render(**values)
    return text.removesuffix("\n").split("\n")


def render_line(name: str, **values: Any) -> str:
    lines = render_lines(name, **values)
    if len(lines) != 1:
        raise InvalidValueError(f"{name} must render as one line")
    return lines[0]


def one_line(value: object) -> str:
    """Text for one line of a document: no line break, no other control character."""
    text = str(value)
    if "\n" in text or "\r" in text:
        raise InvalidValueError(f"{text!r} must fit on one line")
    if _CONTROL.search(text):
        raise InvalidValueError(f"{text!r} must not hold control characters")
    return text


def cell(value: object) -> str:
    """A table cell: one line, `|` escaped so it stays inside its cell."""
    return one_line(value).strip().replace("|", "\\|")


# What an audit value may hold as it is: a key=value line is split on blanks and `=`, the log
# sits in a Markdown code fence (a backquote could close it), and `|` and `%` are kept for
# escapes. Everything else is percent-encoded from its UTF-8 bytes, as in a URL.
_AUDIT_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+@:/,")


def audit_value(value: object) -> str:
    """A value of an audit line's `key=value`: one word, whatever it held (`by=$USER@host`)."""
    text = str(value)
    if all(c in _AUDIT_SAFE for c in text):
        return text
    return "".join(
        c if c in _AUDIT_SAFE else "".join(f"%{b:02X}" for b in c.encode("utf-8", "replace"))
        for c in text
    )


def word(value: object) -> str:
    text = one_line(value)
    if not text or text.split() != [text]:
        raise InvalidValueError(f"{text!r} must be one word without spaces")
    return text


def yaml_scalar(value: object) -> str:
    """A YAML scalar as PyYAML writes it: plain when it can be, quoted when it must be."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = one_line(value)
    dumped = yaml.safe_dump(text, default_flow_style=True, allow_unicode=True, width=1 << 30)
    return str(dumped).removesuffix("\n...\n").removesuffix("\n")
