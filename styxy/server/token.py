"""The bearer token of the HTTP API, kept in `.styxy/token` beside the document.

The file is created once, mode 0600, without ever replacing one that exists (two servers that
start together agree on one token), and reused afterwards. A token file that someone else could
read or swap is refused rather than trusted: the token is the only thing between a local web page
and the leases.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
from pathlib import Path

from styxy.api.files import fsync_folder, write_bytes
from styxy.errors import RefusedError
from styxy.paths import display

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything shorter was not written by styxy.
MIN_LENGTH = 43
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def load_or_create(path: Path) -> str:
    """The token in `path`, created first when the file does not exist."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    _keep_out_of_git(path.parent)
    _create(path)
    return _read(path)


def _keep_out_of_git(sidecar: Path) -> None:
    """The sidecar's `.gitignore` (`*`) before any token is written into it.

    Every transaction makes it too; this does not rely on one having run first, since a token
    committed by accident would be a secret published.
    """
    sidecar.mkdir(parents=True, exist_ok=True)
    ignore = sidecar / ".gitignore"
    if not ignore.exists():
        write_bytes(ignore, b"*\n")


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, "is a symbolic link") from None
        if isinstance(exc, FileNotFoundError):
            raise
        raise RefusedError(f"cannot read the token file {display(path)}: {exc.strerror}.") from None
    try:
        _check_status(path, os.fstat(fd))
        raw = os.read(fd, 4096)
    finally:
        os.close(fd)
    text = raw.decode("ascii", errors="replace").strip()
    if len(text) < MIN_LENGTH or not set(text) <= _ALPHABET:
        raise _refuse(path, f"does not hold a token of at least {MIN_LENGTH} URL-safe characters")
    return text


def _check_status(path: Path, status: os.stat_result) -> None:
    # Checked on the open descriptor, so the file judged is the file read.
    if not stat.S_ISREG(status.st_mode):
        raise _refuse(path, "is not a regular file")
    if status.st_uid != os.geteuid():
        raise _refuse(path, f"belongs to user id {status.st_uid}, not to you")
    if status.st_mode & 0o077:
        raise _refuse(
            path, f"is open to other users (mode {stat.S_IMODE(status.st_mode):04o}; chmod 600 it)"
        )


def _refuse(path: Path, why: str) -> RefusedError:
    return RefusedError(
        f"the token file {display(path)} {why}; fix or remove it and start again."
    )


def _create(path: Path) -> None:
    """Write a new token beside `path` and link it into place only if nobody did first."""
    data = (secrets.token_urlsafe(TOKEN_BYTES) + "\n").encode("ascii")
    # mkstemp creates the file with mode 0600 from the start: the token is never readable by
    # others, not even for a moment.
    fd, tmp = tempfile.mkstemp(prefix=".token.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() fails when the name exists, where rename() would replace a token that a
            # server started a moment earlier already handed out.
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    fsync_folder(path.parent)
