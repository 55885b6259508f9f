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
from pathlib import Path

from styxy.api.files import Sidecar, open_sidecar, stage_in
from styxy.errors import RefusedError
from styxy.paths import display

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything shorter was not written by styxy.
MIN_LENGTH = 43
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def load_or_create(path: Path) -> str:
    """The token in `path`, created first when the file does not exist.

    The folder (the sidecar) is opened once, without following a link, and the token read
    and written through it (styxy.store.sidecar): swapping `.styxy` for a link to another
    user's folder while the server starts cannot hand them the token.
    """
    path.parent.parent.mkdir(parents=True, exist_ok=True)  # the document's folder, normally there
    folder = open_sidecar(path.parent, create=True)
    assert folder is not None
    with folder:
        try:
            return _read(folder, path)
        except FileNotFoundError:
            pass
        _keep_out_of_git(folder)
        _create(folder, path)
        return _read(folder, path)


def _keep_out_of_git(folder: Sidecar) -> None:
    """The sidecar's `.gitignore` (`*`) before any token is written into it.

    Every transaction makes it too; this does not rely on one having run first, since a token
    committed by accident would be a secret published.
    """
    if folder.stat(".gitignore") is None:
        stage_in(folder.fd, folder.where(".gitignore"), b"*\n", mode=0o600).publish()


def _read(folder: Sidecar, path: Path) -> str:
    try:
        fd = folder.open(path.name, os.O_RDONLY | os.O_NONBLOCK)
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


def _create(folder: Sidecar, path: Path) -> None:
    """Write a new token beside `path` and link it into place only if nobody did first."""
    data = (secrets.token_urlsafe(TOKEN_BYTES) + "\n").encode("ascii")
    # Created with mode 0600 from the start: the token is never readable by others, not even
    # for a moment.
    temporary = f".token.{os.urandom(6).hex()}.tmp"
    fd = folder.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # link() fails when the name exists, where rename() would replace a token that a
            # server started a moment earlier already handed out.
            os.link(temporary, path.name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)
        except FileExistsError:
            pass
    finally:
        folder.unlink(temporary)
    folder.sync()
