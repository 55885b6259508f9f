"""A bounded, safe read of the small files a project owns (`styxy.toml`, `.env`).

One function on purpose: when `styxy.fsio` (the shared safe-read helper) lands, this is the
only place to swap. O_NONBLOCK keeps a FIFO from hanging the open; the status of the opened
descriptor (not of the path) decides whether it is a regular file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from styxy.errors import InvalidValueError

READ_LIMIT = 1024 * 1024


def read_small(path: Path, *, limit: int = READ_LIMIT) -> bytes | None:
    """The bytes of `path`, or None when there is none; refuses all but a small regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise InvalidValueError(f"{path} is a folder, not a file.")
        if not stat.S_ISREG(status.st_mode):
            raise InvalidValueError(f"{path} is not a regular file.")
        # Read one byte past the limit: a file that grows while it is read is caught too.
        chunks = []
        total = 0
        while total <= limit and (chunk := os.read(fd, min(65536, limit + 1 - total))):
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise InvalidValueError(
                f"{path} is larger than {limit // 1024} KiB; styxy will not read it."
            )
        return b"".join(chunks)
    finally:
        os.close(fd)


def shown(path: Path) -> str:
    """How messages name a project's file: relative to the current folder when inside it,
    as compilers do, so `styxy.toml:3:` opens in an editor from where the user stands."""
    try:
        return str(path.relative_to(os.getcwd()))
    except ValueError:
        return str(path)
