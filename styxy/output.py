"""All user output: results on stdout, human lines on stderr, one JSON object for `--json`.

Whatever reaches a terminal passes `printable` first: a process's command line, a lease file
and a path are other people's text, and a control character in them (an escape sequence that
retitles the window, moves the cursor or clears the screen; a carriage return that hides the
start of a line) is shown as `\\xNN` instead of acting on the terminal (SPEC section 18). Only
the colours styxy draws itself are let through.
"""

from __future__ import annotations

import json
import os
import re
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any, TextIO

_RED = "\033[31m"
_YELLOW = "\033[33m"
_RESET = "\033[0m"
# The control characters a terminal acts on (all but tab and newline, which lay lines out). The
# escape character among them: a colour code in a lease file's name is shown, not obeyed. And
# the characters that move text without being seen: the line and paragraph separators (a new
# line to some terminals) and the bidirectional controls, which can show a name reversed.
_HIDDEN_CODES = (0x61C, 0x200E, 0x200F, *range(0x2028, 0x202F), *range(0x2066, 0x206A))
_HIDDEN = "".join(map(chr, _HIDDEN_CODES))  # none of them is special inside [...]
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_HIDDEN}]")
# JSON escapes the C0 controls itself; DEL, the C1 controls and the hidden ones it leaves raw.
_JSON_CONTROLS = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), *_HIDDEN_CODES)}


class Drawn(str):
    """A result styxy drew in its own colours (`styxy ranges` on a terminal), every piece of
    data in it already escaped: written as it is."""

    __slots__ = ()


def printable(text: str) -> str:
    """`text` with every control character a terminal would act on shown as `\\xNN`, and each
    hidden one (a separator, a bidirectional control) as `\\uNNNN`."""
    if text.isprintable():
        return text  # the common case, at C speed
    return _CONTROL.sub(_escaped, text)


_CELL_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_HIDDEN}]")


def one_line(text: str) -> str:
    """`printable`, and a tab or a newline shown as `\\xNN` too: a value in a table's cell."""
    if text.isprintable():
        return text
    return _CELL_CONTROL.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _colour(text: str, code: str) -> str:
    if not _in_colour(sys.stderr):
        return text
    return f"{code}{text}{_RESET}"


def _in_colour(stream: TextIO) -> bool:
    # Colour only for a person at a terminal, and never when NO_COLOR is set (no-color.org).
    return os.environ.get("NO_COLOR") is None and stream.isatty()


def stdout_in_colour() -> bool:
    """Whether a result on stdout may be drawn in colour (`styxy ranges` on a terminal)."""
    return _in_colour(sys.stdout)


def result(text: str) -> None:
    sys.stdout.write((text if isinstance(text, Drawn) else printable(text)) + "\n")


def as_json(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    if not text.isascii():  # a flag of the string, not a scan: 10,000 leases are 2 MB
        text = text.translate(_JSON_CONTROLS)
    sys.stdout.write(text + "\n")


def note(text: str) -> None:
    """A line from styxy itself, such as a created document."""
    sys.stderr.write(f"styxy: {printable(text)}\n")


def message(text: str) -> None:
    """A line whose wording the spec fixes (`Blocked: ...`, `Auto-allocated ...`): a note like
    any other (`styxy: `, SPEC section 19), drawn in yellow on a terminal."""
    sys.stderr.write(_colour(f"styxy: {printable(text)}", _YELLOW) + "\n")


def error(text: str) -> None:
    sys.stderr.write(_colour(f"styxy: {printable(text)}", _RED) + "\n")


def diagnostic(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")


def prompt(text: str) -> str:
    sys.stderr.write(printable(text))
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()
