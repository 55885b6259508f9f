"""The one way Styxy replaces a file: temporary file in the same folder, fsync, rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes(
    path: Path, data: bytes, *, mode: int = 0o644, sync_folder: bool = True
) -> os.stat_result:
    """Replace `path` with `data` so a reader sees the old file or the new one, never a mix.

    The temporary file lives in the same folder so `os.replace` is a rename on one file system;
    the folder is fsynced too, or a crash right after the rename could forget it. Returns the
    new file's status, taken from the descriptor, so it describes what this call wrote even if
    someone replaces the path right after.
    """
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
            written = os.fstat(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if sync_folder:
        fsync_folder(folder)
    return written


def fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename itself is still atomic
    finally:
        os.close(fd)
