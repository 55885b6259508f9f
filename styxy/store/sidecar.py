"""The sidecar folder (`.styxy/`), opened once; every file in it is reached through that descriptor.

Anyone who can write the document's folder can rename `.styxy` and put a link, or a folder of
theirs, in its place at any moment. A command that looked the path up again for each file
would follow such a swap halfway through: its lock in one folder, its leases written into
another, a lease lost and a port given twice. So a command opens the folder once
(`O_DIRECTORY | O_NOFOLLOW`), checks on that descriptor that it is a folder and ours (or
root's), and from then on opens, renames, lists, stats and removes every file relative to it
(`openat`, `renameat`, `fstatat` without following links, `unlinkat`). A swap after the open
changes nothing the command touches; what was swapped in before it is a link (refused, ELOOP)
or another user's folder (refused by its owner).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from styxy.errors import UnsafeFileError
from styxy.store import fsio

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from types import TracebackType

LABEL = "the sidecar folder"
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Sidecar:
    """An open sidecar folder: `path` names it in messages, `fd` is what every call goes through."""

    __slots__ = ("fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def __enter__(self) -> Sidecar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def where(self, name: str) -> Path:
        """How messages name a file of the folder."""
        return self.path / name

    def open(self, name: str, flags: int, mode: int = fsio.PRIVATE_FILE_MODE) -> int:
        """A descriptor of `name` in this folder; a link there is never followed."""
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=self.fd)

    def stat(self, name: str) -> os.stat_result | None:
        """`lstat` of `name` in this folder; None when there is none."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def check_file(
        self, name: str, kind: fsio.FileKind, *, sized: bool = True
    ) -> os.stat_result | None:
        """The status of a file styxy is about to read, rename or replace; None if missing.

        A link, a FIFO, a folder or another user's file there is refused before it is touched
        (and one over the limit of its kind, unless not `sized`).
        """
        status = self.stat(name)
        if status is not None:
            fsio.check_status(self.where(name), kind, status, private=True, sized=sized)
        return status

    def rename(self, old: str, new: str) -> None:
        os.rename(old, new, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def names(self) -> list[str]:
        return os.listdir(self.fd)

    def read(self, name: str, kind: fsio.FileKind) -> bytes | None:
        """A private regular file's bytes, at most the limit of its kind; None when missing."""
        return fsio.read_optional(self.where(name), kind, private=True, dir_fd=self.fd)

    def read_head(self, name: str, kind: fsio.FileKind) -> tuple[bytes, bool] | None:
        """`fsio.read_head` of a file of this folder."""
        return fsio.read_head(self.where(name), kind, dir_fd=self.fd)

    def sync(self) -> None:
        """Make the folder's renames durable; some file systems refuse, the renames stand."""
        try:
            os.fsync(self.fd)
        except OSError:
            pass


def open_sidecar(path: Path, *, create: bool, label: str = LABEL) -> Sidecar | None:
    """The sidecar at `path`, opened and checked; None when it does not exist and not `create`.

    With `create`, a missing folder is made private to its owner (0700) first; the folder
    beside the document must already exist (the document is in it). `label` names the folder
    in messages (another private folder, such as the data folder, is opened the same way).
    """
    fd = _open(path, label)
    if fd is None and create:
        try:
            os.mkdir(path, fsio.PRIVATE_FOLDER_MODE)
        except FileExistsError:
            pass  # another styxy made it meanwhile: opened and checked like any other
        except OSError as exc:
            raise UnsafeFileError(f"cannot make {label} {path}: {fsio.reason(exc)}.") from None
        fd = _open(path, label)
    if fd is None:
        return None
    try:
        status = os.fstat(fd)
        fsio.check_owner(path, label, status)
    except BaseException:
        os.close(fd)
        raise
    return Sidecar(path, fd)


def exists(path: Path) -> bool:
    """Whether the sidecar exists, checked as `open_sidecar` checks it."""
    found = open_sidecar(path, create=False)
    if found is None:
        return False
    found.close()
    return True


def _open(path: Path, label: str) -> int | None:
    for _ in range(3):
        try:
            return os.open(path, _FOLDER_FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafeFileError(
                    f"cannot open {label} {path}: {fsio.reason(exc)}."
                ) from None
            failure = exc
        # O_NOFOLLOW | O_DIRECTORY on a link says ENOTDIR or ELOOP: lstat tells which it is,
        # unless the folder was swapped back meanwhile, and then it is opened again.
        try:
            what = fsio.what_it_is(os.lstat(path).st_mode)
        except FileNotFoundError:
            return None
        except OSError:
            raise failure from None  # the folder above is not one: the system's own words
        if what != "a directory":
            raise UnsafeFileError(_not_a_folder(path, label, what))
    raise UnsafeFileError(f"{label} {path} keeps being replaced; styxy cannot use it.")


def _not_a_folder(path: Path, label: str, what: str) -> str:
    if what == "a symbolic link":
        return (
            f"{label} {path} is a symbolic link; styxy refuses a linked sidecar, which could "
            "send its writes elsewhere: replace it with a folder."
        )
    if what == "not a folder":
        return f"{label} {path} is not a folder; remove it and styxy makes the folder again."
    hint = "move it away" if what == "a regular file" else "remove it"
    return f"{label} {path} is {what}, not a folder; {hint} and styxy makes the folder again."
