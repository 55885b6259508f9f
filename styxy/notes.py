"""The words of the notes styxy says in more than one place, each worded once.

A note is a line on stderr from styxy itself; the command line prefixes it with `styxy: `
(`styxy.output.note`). A note that two commands, or a command and a front end, both say comes
from here, so it reads the same wherever it appears.
"""

from __future__ import annotations

from pathlib import Path


def created_document(shown: str) -> str:
    """First use at the default location, and `styxy init`."""
    return f"created {shown} from the default"


def replaced_document(shown: str) -> str:
    """`styxy init --force` over an existing document."""
    return f"replaced {shown} with the default"


def built_interceptor(library: Path | str) -> str:
    """`interceptor env`, `run --intercept` and the session hook build the library when missing."""
    return f"built the interceptor at {library}"


def reaped(service_type: str, port: int, lock_id: str, pid: int, *, dry_run: bool) -> str:
    """One stale lease `cleanup` ended, or (`--dry-run`) would end: the same words but the verb."""
    verb = "would reap" if dry_run else "reaped"
    return f"{verb} {service_type} port {port} ({lock_id}, process {pid})"


# `cleanup` and `cleanup --dry-run` with nothing to reap: one sentence for both.
NOTHING_STALE = "no stale leases"


def running_on(program: str, port: int, service_type: str) -> str:
    """`styxy run`: the port the command runs with, said once before it starts. The program's
    own name only, escaped: one short line whatever the command line holds."""
    name = program.rsplit("/", 1)[-1] or program
    name = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)
    return f"running {name} on port {port} ({service_type})"
