"""All user output: results on stdout, human lines on stderr, one JSON object for `--json`."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

_RED = "\033[31m"
_YELLOW = "\033[33m"
_RESET = "\033[0m"


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
    sys.stdout.write(text + "\n")


def as_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


def note(text: str) -> None:
    """A line from styxy itself, such as a created document."""
    sys.stderr.write(f"styxy: {text}\n")


def message(text: str) -> None:
    """A line whose wording the spec fixes (`Blocked: ...`, `Auto-allocated ...`): a note like
    any other (`styxy: `, SPEC section 19), drawn in yellow on a terminal."""
    sys.stderr.write(_colour(f"styxy: {text}", _YELLOW) + "\n")


def error(text: str) -> None:
    sys.stderr.write(_colour(f"styxy: {text}", _RED) + "\n")


def diagnostic(text: str) -> None:
    sys.stderr.write(text + "\n")


def prompt(text: str) -> str:
    sys.stderr.write(text)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()
