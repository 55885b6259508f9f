"""The sentences for the mistakes a caller can make, one per mistake, for every front end.

The command line, the MCP tools and the HTTP API refuse the same mistake with the same
sentence and the same `code` (the command line's exit code; HTTP derives its status from it).
The one thing a front end changes is how it spells a parameter: each sentence names its
parameters as `Param`s, spelled by their key (`preferred_port`, `lock_id`) over MCP and HTTP
and as the command line's own options (`--port`, `LOCK_ID`) there.

Each check takes the value as the caller sent it, JSON types and all: `True` is not a port
and `"3010"` is not an integer. Imported on the hot path: nothing here imports more than
`styxy.errors` and `styxy.vocabulary`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from styxy.errors import Param, RefusedError, UsageError
from styxy.vocabulary import MAX_PID, MAX_PORT

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

    Name = str | Param
    # A parameter's check: its name and the value sent, to the value, or a refusal.
    Check = Callable[[Name, Any], Any]
else:
    Name = str | Param
    Check = Callable  # its parameters are the type checker's business

# How much of a value a sentence quotes: a 5,000-digit number or a long string is cut.
_SHOWN = 40


_INFINITY = float("inf")


def shown(value: object) -> str:
    """A value as the caller wrote it, in JSON's words (`true`, `null`, `NaN`) and Python's
    quotes.

    The one way styxy quotes a value back, in refusals and in the diagnostics of a document
    or a styxy.toml alike: a string of more than 40 characters is cut to its first 40 and
    `...` inside the quotes (`'xxxx...'`), whether it is made of digits or not.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")
    elif isinstance(value, int):
        # str() of a huge integer is slow, and refused past 4,300 digits: say its size instead.
        text = str(value) if value.bit_length() <= 128 else "an integer of over 38 digits"
    elif isinstance(value, float) and (value != value or value in (_INFINITY, -_INFINITY)):
        # As JSON writers spell them (Python's nan and inf are words of no file format).
        text = "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    elif isinstance(value, list):
        text = "an array"
    elif isinstance(value, dict):
        text = "an object"
    else:
        text = repr(value)[:_SHOWN]
    return text


def port(name: Name, value: object) -> int:
    """A port number, 1..65535, of JSON's integer type (a boolean is not one)."""
    if type(value) is not int or not 1 <= value <= MAX_PORT:
        raise UsageError(name, f" must be a port number from 1 to {MAX_PORT}, not {shown(value)}.")
    return value


def pid(name: Name, value: object) -> int:
    """A process id, 1..4194304 (the most Linux can give)."""
    if type(value) is not int or not 1 <= value <= MAX_PID:
        raise UsageError(name, f" must be a process id from 1 to {MAX_PID}, not {shown(value)}.")
    return value


def text(name: Name, value: object) -> str:
    if not isinstance(value, str):
        raise UsageError(name, f" must be a string, not {shown(value)}.")
    return value


def boolean(name: Name, value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError(name, f" must be true or false, not {shown(value)}.")
    return value


def unknown(name: str, known: Iterable[str]) -> UsageError:
    """A parameter the request has no use for: refused, never dropped in silence."""
    names = sorted(known)
    if not names:
        return UsageError(f"unknown parameter {name!r}; there are no parameters here.")
    words: list[str | Param] = [f"unknown parameter {name!r}; the parameters are "]
    for index, key in enumerate(names):
        words += [", " if index else "", Param(key)]
    return UsageError(*words, ".")


def missing(name: Name) -> UsageError:
    return UsageError(name, " is required.")


def lease_selector() -> UsageError:
    """`release` was given no lease, or more than one way to name it."""
    return UsageError(
        "name one lease by ", Param("lock_id"), ", by ", Param("port"), " or by ",
        Param("service_type"), " (with ", Param("instance_id"), " and ", Param("name"),
        "), or every lease of an instance by ", Param("instance_id"), " alone.",
    )


def own_lease(port: int) -> RefusedError:
    """A server asked to end the lease of its own port: the lease of the very server that
    answers (and of the page that asked), so it ends when the server stops, not before."""
    return RefusedError(
        f"port {port} is leased by this styxy serve itself, so it cannot be released while "
        "the server runs; stop the server (Ctrl-C or SIGTERM) to end its lease."
    )


def service_selector() -> UsageError:
    """`use` was given no service, or a port together with something else."""
    return UsageError(
        "name a running service by ", Param("port"), " alone, or by ", Param("service_type"),
        " and/or ", Param("name"), " (with ", Param("instance_id"), " to narrow).",
    )


__all__ = [
    "Check",
    "boolean",
    "lease_selector",
    "missing",
    "own_lease",
    "pid",
    "port",
    "service_selector",
    "shown",
    "text",
    "unknown",
]
