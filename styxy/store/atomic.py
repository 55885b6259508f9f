"""The one way Styxy replaces a file: temporary file beside the target, fsync, rename.

A path that is a symbolic link is written through: the temporary file goes beside the link's
final target and is renamed over that target, so the link stays a link and the file it points
at (the one a dotfiles repository tracks) gets the new bytes. Writing is split in two steps,
`stage` and `Staged.publish`, so the transaction can prepare every file it changes before it
replaces any of them.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from styxy.errors import RefusedError, WriteError
from styxy.paths import display
from styxy.records import record


def target_of(path: Path) -> Path:
    """The file a write to `path` replaces: `path` itself, or the end of its chain of links.

    A link whose final target does not exist is refused: writing a fresh file there would either
    replace the link by a copy or create a file somewhere the user may not expect.
    """
    if not os.path.islink(path):
        return path
    final = Path(os.path.realpath(path))
    if not final.exists():
        raise RefusedError(
            f"{display(path)} is a symbolic link to {display(final)}, which does not exist; "
            "create that file or point the link at the real document."
        )
    return final


@record
class Staged:
    """New bytes written and fsynced beside their target, not yet renamed over it."""

    target: Path
    temporary: Path
    status: os.stat_result  # of the temporary file, which the rename keeps (same inode)

    def publish(self) -> None:
        """Rename the temporary file over the target: readers see the old file or the new."""
        try:
            os.replace(self.temporary, self.target)
        except OSError as exc:
            self.discard()
            raise _write_error(self.target, exc) from None

    def discard(self) -> None:
        """Remove the temporary name: unused new bytes, or after `exchange` the old file.

        Nothing to do once `publish` renamed it; a failure here must not hide the error that
        led to it, and a leftover is swept by the next command.
        """
        try:
            os.unlink(self.temporary)
        except OSError:
            pass


def stage(path: Path, data: bytes, *, mode: int = 0o644) -> Staged:
    """Write `data` to a new temporary file beside the file `path` names, fsynced, with `mode`.

    The temporary file lives in the target's own folder so the later rename stays on one file
    system. Any error removes it and is raised as one sentence naming the path.
    """
    target = target_of(path)
    if os.path.isdir(target):
        raise WriteError(f"cannot write {display(path)}: it is a folder.")
    try:
        fd, temporary = _new_temporary(target)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
            status = os.fstat(handle.fileno())
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from None
        raise
    return Staged(target, temporary, status)


def _new_temporary(target: Path) -> tuple[int, Path]:
    """A new file `.NAME.RANDOM.tmp` beside `target`, created exclusively with mode 0600.

    What `tempfile.mkstemp` does, without its imports (shutil, random and the compression
    modules: about 3 ms of every command's start).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        temporary = target.parent / f".{target.name}.{os.urandom(6).hex()}.tmp"
        try:
            return os.open(temporary, flags, 0o600), temporary
        except FileExistsError:
            continue  # 48 random bits taken already: try another name
    raise FileExistsError(f"no free temporary name beside {target}")


def write_bytes(
    path: Path, data: bytes, *, mode: int = 0o644, sync_folder: bool = True
) -> os.stat_result:
    """Replace the file `path` names with `data` so a reader sees the old file or the new one.

    The folder is fsynced too, or a crash right after the rename could forget it. Returns the
    new file's status, taken from the descriptor, so it describes what this call wrote even if
    someone replaces the path right after.
    """
    staged = stage(path, data, mode=mode)
    staged.publish()
    if sync_folder:
        fsync_folder(staged.target.parent)
    return staged.status


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_renameat2: object = None  # looked up once, on the first exchange


def exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux `renameat2(RENAME_EXCHANGE)`); False if unsupported.

    Unlike a rename, the swap keeps the file it displaces: the caller can look at what was
    really at `second` at the instant of the swap, and swap back when it was not what it read.
    Only the document uses it, so its price (ctypes, about 10 ms to import) is paid only when
    the document changes.
    """
    global _renameat2
    if _renameat2 is None:
        try:
            import ctypes

            function = ctypes.CDLL(None, use_errno=True).renameat2
            function.argtypes = [
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_uint,
            ]
            function.restype = ctypes.c_int
            _renameat2 = function
        except (ImportError, OSError, AttributeError):  # no ctypes, or a libc without it
            _renameat2 = False
    if _renameat2 is False:
        return False
    import ctypes

    done = _renameat2(  # type: ignore[operator]
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a file system or kernel without the flag: the caller renames instead
    raise _write_error(second, OSError(code, os.strerror(code)))


def _write_error(path: Path, exc: OSError) -> WriteError:
    reason = exc.strerror or type(exc).__name__
    return WriteError(f"cannot write {display(path)}: {reason[:1].lower()}{reason[1:]}.")


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
