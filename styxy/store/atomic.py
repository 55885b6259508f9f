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
from styxy.store import fsio


def target_of(path: Path) -> Path:
    """The file a write to `path` replaces: `path` itself, or the end of its chain of links.

    A link whose final target does not exist is refused: writing a fresh file there would either
    replace the link by a copy or create a file somewhere the user may not expect.
    """
    if not os.path.islink(path):
        return path
    try:
        final = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        final = Path(os.path.realpath(path))
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise RefusedError(
            f"{display(path)} is a symbolic link that leads back to itself (a loop of links); "
            "point the link at the real document."
        ) from None
    if not final.exists():
        raise RefusedError(
            f"{display(path)} is a symbolic link to {display(final)}, which does not exist; "
            "create that file or point the link at the real document."
        )
    return final


@record
class Staged:
    """New bytes written and fsynced beside their target, not yet renamed over it.

    With `folder_fd` (an open sidecar folder) both names are files of that folder, renamed
    through its descriptor; `target` and `temporary` then only name them in messages.
    """

    target: Path
    temporary: Path
    status: os.stat_result  # of the temporary file, which the rename keeps (same inode)
    folder_fd: int | None = None

    def publish(self) -> None:
        """Rename the temporary file over the target: readers see the old file or the new."""
        try:
            if self.folder_fd is None:
                os.replace(self.temporary, self.target)
            else:
                fd = self.folder_fd
                os.replace(self.temporary.name, self.target.name, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError as exc:
            self.discard()
            raise _write_error(self.target, exc) from None

    def discard(self) -> None:
        """Remove the temporary name: unused new bytes, or after `exchange` the old file.

        Nothing to do once `publish` renamed it; a failure here must not hide the error that
        led to it, and a leftover is swept by the next command.
        """
        try:
            if self.folder_fd is None:
                os.unlink(self.temporary)
            else:
                os.unlink(self.temporary.name, dir_fd=self.folder_fd)
        except OSError:
            pass


def stage(
    path: Path, data: bytes, *, mode: int = 0o644, like: os.stat_result | None = None
) -> Staged:
    """Write `data` to a new temporary file beside the file `path` names, fsynced, with `mode`.

    The temporary file lives in the target's own folder so the later rename stays on one file
    system. `like`, the status of the file being replaced, gives the new file that file's
    owner, group and mode (see `_keep_owner`). Any error removes it and is raised as one
    sentence naming the path.
    """
    target = target_of(path)
    if os.path.isdir(target):
        raise WriteError(f"cannot write {display(path)}: it is a folder.")
    if like is not None:
        _check_giveable(target, like)
    return _stage(target, target.parent, None, data, mode, like)


def stage_in(folder_fd: int, target: Path, data: bytes, *, mode: int) -> Staged:
    """`stage` for a file of an open folder (the sidecar): created and renamed through it."""
    return _stage(target, target.parent, folder_fd, data, mode, None)


def _stage(
    target: Path,
    folder: Path,
    folder_fd: int | None,
    data: bytes,
    mode: int,
    like: os.stat_result | None,
) -> Staged:
    # What `tempfile.mkstemp` does, without its imports (about 3 ms of every command's start).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        name = f".{target.name}.{os.urandom(6).hex()}.tmp"
        try:
            if folder_fd is None:
                fd = os.open(folder / name, flags, 0o600)
            else:
                fd = os.open(name, flags, 0o600, dir_fd=folder_fd)
            break
        except FileExistsError:
            continue  # one chance in 2**48: draw another name
        except OSError as exc:
            raise _write_error(target, exc) from None
    staged = Staged(target, folder / name, os.fstat(fd), folder_fd)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
            if like is not None:
                _keep_owner(fd, target, like)
                mode = like.st_mode & 0o7777
            # After any chown, which clears the set-id bits a mode may carry.
            os.fchmod(fd, mode)
            status = os.fstat(fd)
        finally:
            os.close(fd)
    except BaseException as exc:
        staged.discard()
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from None
        raise
    return Staged(target, staged.temporary, status, folder_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _check_giveable(target: Path, like: os.stat_result) -> None:
    """Refuse, before anything is written, a file of another user that we could not give back.

    A rename puts a new inode at the path, owned by whoever wrote it: replacing alice's
    document as bob would make it bob's, and alice could no longer save it. Root gives the
    new file back (`_keep_owner`); anyone else leaves another user's file alone.
    """
    uid = os.geteuid()
    if uid != 0 and like.st_uid != uid:
        raise RefusedError(
            f"{display(target)} belongs to {fsio.user_name(like.st_uid)}, and styxy cannot give a new "
            "file back to another user, so nothing was written: run the command as that user."
        )


def _keep_owner(fd: int, target: Path, like: os.stat_result) -> None:
    """Give the new file the replaced file's owner and group (root), or its group (anyone).

    A user may give a file they own to any group they belong to; one they do not belong to
    is refused rather than silently dropped, since the group is how others reach the file.
    """
    status = os.fstat(fd)
    if (status.st_uid, status.st_gid) == (like.st_uid, like.st_gid):
        return
    try:
        os.fchown(fd, like.st_uid, like.st_gid)
    except PermissionError:
        group = _group(like.st_gid)
        raise RefusedError(
            f"{display(target)} belongs to {group}, and styxy cannot give a new file to a "
            "group you are not in, so nothing was written: run the command as a member."
        ) from None


def _group(gid: int) -> str:
    try:
        import grp

        return f"group {grp.getgrgid(gid).gr_name} (gid {gid})"
    except (KeyError, ImportError):
        return f"gid {gid}"


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
