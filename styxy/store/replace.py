"""Replacing a document a person may be saving at the same moment.

The transaction reads the document, changes it, and replaces it only if the file at the path
is still the one it read with the same bytes; an edit saved meanwhile (by rename or in place)
is never lost: the caller loads again and redoes its change on the saved text.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from styxy.records import record
from styxy.store import atomic, fsio

_SETTLE_SECONDS = 0.02
_SETTLE_LIMIT_SECONDS = 2.0
_DOCUMENT_LIMIT = 64 * 1024 * 1024  # what a late edit is read up to; far above any document
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import TypeVar

    R = TypeVar("R")


# A temporary file beside a linked document's target may belong to a styxy working through
# another link (with another sidecar and lock); only one this old is surely a leftover.
_FOREIGN_LEFTOVER_SECONDS = 60.0


def sweep_beside_target(doc: Path) -> None:
    """Remove temporary files a killed writer left beside the final target of a linked document.

    The sidecar and the document's own folder are swept by the load; a link's target may live
    in another folder (a dotfiles repository), where a leftover would show in `git status`.
    """
    target = atomic.target_of(doc)
    if target.parent == doc.parent:
        return
    cutoff = time.time() - _FOREIGN_LEFTOVER_SECONDS
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if leftover.lstat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass


@record
class DocumentSeen:
    """The document file a transaction read: which file it was and the bytes it held."""

    device: int
    inode: int
    data: bytes

    @classmethod
    def take(cls, path: Path, data: bytes) -> DocumentSeen:
        # Taken right after the load read the bytes. A rename landing between the two makes
        # the inode newer than the bytes; the byte comparison at commit still sees the change.
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return cls(-1, -1, data)  # removed meanwhile: the commit's check fails and reloads
        return cls(status.st_dev, status.st_ino, data)

    def matches(self, fd: int) -> bool:
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) != (self.device, self.inode):
            return False
        return _read_all(fd, len(self.data) + 1) == self.data


def _read_all(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from the start of the file, whatever the descriptor's offset."""
    chunks = []
    total = 0
    while total < limit:
        chunk = os.pread(fd, limit - total, total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def replace_document(staged: atomic.Staged, seen: DocumentSeen) -> bool:
    """Put the new document at its path only if the old one is still what was read.

    Three checks, so that no saved edit is lost:

    1. Before: the file at the path is still the one read, with the same bytes.
    2. The swap itself: where Linux allows it, the new file and the old one trade places in one
       step (`renameat2` RENAME_EXCHANGE), so the file displaced is known exactly; if a save by
       rename landed after check 1, that file is swapped back and the change is redone on it.
       Elsewhere a plain rename follows check 1 at once.
    3. After: an editor that writes in place and had opened the old file before the swap
       writes into the displaced file; a moment later it is read once more through the
       descriptor kept open on it, and if it changed it goes back to the path.

    False means the document changed: the caller loads it again and redoes the change.
    """
    try:
        fd = os.open(staged.target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return False  # moved away by hand: load again, which says what is there now
    try:
        if not seen.matches(fd):
            return False
        swapped = atomic.exchange(staged.temporary, staged.target)
        if swapped:
            # The temporary name now holds what was at the path at the instant of the swap.
            displaced = os.lstat(staged.temporary)
            if (displaced.st_dev, displaced.st_ino) != (seen.device, seen.inode):
                atomic.exchange(staged.temporary, staged.target)
                return False
        else:
            staged.publish()
        time.sleep(_SETTLE_SECONDS)  # an edit in place started before the swap lands now
        if _read_all(fd, len(seen.data) + 1) == seen.data:
            atomic.fsync_folder(staged.target.parent)
            return True
        _put_back(staged, fd, swapped)
        return False
    finally:
        os.close(fd)


def _put_back(staged: atomic.Staged, fd: int, swapped: bool) -> None:
    """Return the old document, with the edit written into it in place, to its path."""
    if swapped:
        # The old file itself goes back, so the editor's descriptor points at the path again.
        atomic.exchange(staged.temporary, staged.target)
        return
    restore = atomic.stage(staged.target, _settled(fd), like=os.fstat(fd))
    try:
        current = os.stat(staged.target)
        # Unless yet another save replaced ours meanwhile: that one stays.
        if (current.st_dev, current.st_ino) == (staged.status.st_dev, staged.status.st_ino):
            restore.publish()
    finally:
        restore.discard()


def _settled(fd: int) -> bytes:
    """The bytes of an open file once a save into it has finished."""
    return _still(lambda: _read_all(fd, _DOCUMENT_LIMIT))


def settle(path: Path) -> None:
    """Wait until a save to the document in progress has finished."""
    _still(lambda: _snapshot(path))




def _still(read: Callable[[], R]) -> R:
    """What `read` gives once two reads a moment apart agree (at most a couple of seconds)."""
    deadline = time.monotonic() + _SETTLE_LIMIT_SECONDS
    before = read()
    while time.monotonic() < deadline:
        time.sleep(_SETTLE_SECONDS)
        now = read()
        if now == before:
            break
        before = now
    return before


def _snapshot(path: Path) -> tuple[int, int, int, bytes] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        data = _read_all(fd, _DOCUMENT_LIMIT) if stat.S_ISREG(status.st_mode) else b""
        return (status.st_ino, status.st_size, status.st_mtime_ns, data)
    except OSError:
        return None
    finally:
        os.close(fd)


def stage_document(path: Path, data: bytes) -> atomic.Staged:
    """The new document staged with the old one's owner, group and mode (SPEC section 18).

    Root gives a document it replaces back to its owner; anyone else replaces only a document
    they could give back, and is refused otherwise before anything is written.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return atomic.stage(path, data, mode=fsio.creation_mode())
    return atomic.stage(path, data, like=status)
