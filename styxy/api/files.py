"""Files the front ends own (Claude Code's settings, a project's `.env`, the server's token),
and what clients send them (an HTTP body, a hook event).

They are written with the store's one atomic writer and read with its bounded, non-blocking
reader, and requests are decoded with its bounded JSON reader, reached through this door so
that no front end imports the store itself.
"""

from __future__ import annotations

from styxy.store.atomic import fsync_folder, stage_in, write_bytes
from styxy.store.fsio import (
    CONFIG,
    MAX_JSON_DEPTH,
    MAX_JSON_DIGITS,
    FileKind,
    creation_mode,
    loads_request,
    read_optional,
)
from styxy.store.sidecar import Sidecar, open_sidecar

__all__ = [
    "CONFIG",
    "MAX_JSON_DEPTH",
    "MAX_JSON_DIGITS",
    "FileKind",
    "Sidecar",
    "creation_mode",
    "fsync_folder",
    "loads_request",
    "open_sidecar",
    "read_optional",
    "stage_in",
    "write_bytes",
]
