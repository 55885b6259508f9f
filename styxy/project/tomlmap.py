"""Where each key of a TOML file is written: tomllib gives values, never line numbers.

A small scanner of table headers (`[a.b]`, `[[a.b]]`) and key lines (`a.b = ...`) maps every
dotted key path to the first line that names it, so a semantic error can say `PATH:LINE:`.
It reads only what a valid file can hold (tomllib has already accepted the text), so it need
not be a full TOML parser: inline tables and multi-line arrays map to the line of their key,
and lines inside multi-line strings are skipped.
"""

from __future__ import annotations

import re
import tomllib

KeyPath = tuple[str, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\]|\\.)*"')
_LITERAL = re.compile(r"'[^']*'")
_MULTILINE = ('"""', "'''")


def key_lines(text: str) -> dict[KeyPath, int]:
    """Every key path of `text` (and each of its prefixes) -> the first line that names it."""
    found: dict[KeyPath, int] = {}
    table: KeyPath = ()
    open_string: str | None = None
    # TOML ends lines with \n (or \r\n); str.splitlines would also split on \f, \u2028, ...
    for number, line in enumerate(text.split("\n"), start=1):
        if open_string is not None:
            if line.count(open_string) % 2 == 1:
                open_string = None
            continue
        stripped = line.lstrip(" \t")
        if stripped.startswith("["):
            header = _read_keys(stripped.lstrip("["))
            if header is not None:
                table = header[0]
                _note(found, table, number)
            continue
        entry = _read_keys(stripped)
        if entry is None or not entry[1].lstrip(" \t").startswith("="):
            continue
        _note(found, table + entry[0], number)
        open_string = _opens_multiline(entry[1].lstrip(" \t")[1:].lstrip(" \t"))
    return found


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int:
    """The line of `path`, else of its longest named prefix (an inline table), else 1."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _note(found: dict[KeyPath, int], path: KeyPath, number: int) -> None:
    for end in range(1, len(path) + 1):
        found.setdefault(path[:end], number)


def _read_keys(text: str) -> tuple[KeyPath, str] | None:
    """A dotted key at the start of `text` and what follows it; None when there is none."""
    keys: list[str] = []
    rest = text
    while True:
        rest = rest.lstrip(" \t")
        key = _read_key(rest)
        if key is None:
            return None
        keys.append(key[0])
        rest = key[1].lstrip(" \t")
        if not rest.startswith("."):
            return tuple(keys), rest
        rest = rest[1:]


def _read_key(text: str) -> tuple[str, str] | None:
    for pattern in (_BARE, _BASIC, _LITERAL):
        match = pattern.match(text)
        if match:
            token = match.group()
            return _unquote(token), text[match.end() :]
    return None


def _unquote(token: str) -> str:
    if token.startswith("'"):
        return token[1:-1]
    if token.startswith('"'):
        # tomllib already accepted the file, so it decodes the escapes of this key the same way.
        value = tomllib.loads(f"k = {token}")["k"]
        return value if isinstance(value, str) else token
    return token


def _opens_multiline(value: str) -> str | None:
    for quote in _MULTILINE:
        if value.startswith(quote) and value.count(quote) == 1:
            return quote
    return None
