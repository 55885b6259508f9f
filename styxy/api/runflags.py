"""Dev servers that ignore `PORT`: the arguments `styxy run` appends (SPEC section 22).

Vite, Astro, Next.js, Django's runserver, uvicorn and the rest read their port from their own
command line, not from `$PORT`. The front matter's `runFlags:` maps a glob over the command
line to the arguments that name the port (`"*vite": "--port {port} --strictPort"`); the first
glob that matches, in document order, gives them, unless the command already names a port.
Pure functions over words: no file, no process.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

PLACEHOLDER = "{port}"
# Options that name a port for most servers, whatever the table says: a command that carries
# one of them chose its port itself.
PORT_OPTIONS = frozenset({"--port", "-p", "--bind", "-b"})
# `sh -c 'vite'`: words after the script become the shell's $0, $1..., not the server's.
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "fish", "busybox"})
_HOST_PORT = re.compile(r"(?:[\w.-]*|\[[0-9a-fA-F:.]*\]):(\d{1,5})")


@dataclass(frozen=True)
class Appended:
    """What `styxy run` adds to the command, and what to call the server in its message."""

    arguments: tuple[str, ...]
    program: str

    @property
    def note(self) -> str:
        return f"appended {' '.join(self.arguments)} to {self.program}"


def command_line(command: Sequence[str]) -> str:
    """The text the globs are matched against: the words joined by spaces, as `ps` shows them."""
    return " ".join(command)


def choose(
    command: Sequence[str], table: Sequence[tuple[str, tuple[str, ...]]], port: int
) -> Appended | None:
    """The arguments to append to `command` for `port`, or None.

    None when no glob matches, when the command already names a port, or when it runs a shell
    (`sh -c '...'`), to which appended words would mean nothing.
    """
    if not command or os.path.basename(command[0]) in SHELLS:
        return None
    line = command_line(command)
    for pattern, arguments in table:
        if fnmatch.fnmatchcase(line, pattern):
            if names_a_port(command, arguments):
                return None
            given = tuple(word.replace(PLACEHOLDER, str(port)) for word in arguments)
            return Appended(given, program_of(pattern))
    return None


def names_a_port(command: Sequence[str], arguments: Sequence[str]) -> bool:
    """Whether the command chose its port already: the table's own option for it, a usual port
    option, or a port-like argument (`8001`, `127.0.0.1:8001`, `--port=8001`)."""
    options = PORT_OPTIONS | set(port_options(arguments))
    words = [token for word in command[1:] for token in word.split()]
    for index, word in enumerate(words):
        flag = word.split("=", 1)[0]
        if flag in options:
            return True
        previous = words[index - 1] if index else ""
        # A bare number is a port unless it is another option's value (`--workers 4`).
        if word.isdigit() and 1 <= int(word) <= 65535 and not previous.startswith("-"):
            return True
        found = _HOST_PORT.fullmatch(word)
        if found and 1 <= int(found[1]) <= 65535:
            return True
    return False


def port_options(arguments: Sequence[str]) -> list[str]:
    """The options of a table entry that carry the port: `--port` of `--port {port}`,
    `--bind` of `--bind 127.0.0.1:{port}`, `--dev-addr` of `--dev-addr={port}`."""
    found = []
    for index, word in enumerate(arguments):
        if word.startswith("-") and "=" in word and PLACEHOLDER in word:
            found.append(word.split("=", 1)[0])
        elif PLACEHOLDER in word and index and arguments[index - 1].startswith("-"):
            found.append(arguments[index - 1])
    return found


def program_of(pattern: str) -> str:
    """`*next dev*` -> `next dev`: the server a glob stands for, for the message."""
    return pattern.replace("*", " ").replace("?", " ").strip() or pattern


def table(*, doc: str | os.PathLike[str] | None = None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The document's `runFlags`, read without the lock (from the cache's view when fresh)."""
    from styxy import paths
    from styxy.store import snapshot

    settings = snapshot.load(paths.resolve(doc)).document.settings
    return tuple((flag.pattern, flag.arguments) for flag in settings.run_flags)
