"""Files the front ends own (Claude Code's settings, a project's `.env`, the server's token).

They are written with the store's one atomic writer and read with its bounded, non-blocking
reader, reached through this door so that no front end imports the store itself.
"""

from __future__ import annotations

from styxy.store.atomic import fsync_folder, write_bytes
from styxy.store.fsio import CONFIG, FileKind, creation_mode, read_optional

__all__ = ["CONFIG", "FileKind", "creation_mode", "fsync_folder", "read_optional", "write_bytes"]
