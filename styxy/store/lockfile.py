"""The sidecar's lock (`.styxy/lock`): one writer at a time, and a waiter can say who holds it.

An advisory `flock` on the lock file, the same kind of lock other tools (and older styxy
versions, through the filelock package) take on it. The holder writes its pid and command line
into the file once it has the lock, and empties it before letting go, so a writer that has
waited a second can name the process in its way. The standard library does this in about a
tenth of a millisecond; the filelock package cost 80 ms of import on every command.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from styxy.errors import LockTimeoutError, WriteError
from styxy.paths import display

# A writer that has waited this long says once who holds the lock (SPEC section 10).
WAIT_NOTE_SECONDS = 1.0
# Polling backs off from 1 ms to this: short enough that a freed lock is taken at once under
# load, long enough that a hundred waiters do not keep two cores busy.
_MAX_POLL_SECONDS = 0.025
_COMMAND_SHOWN = 300  # characters of the holder's command line in a message
_HOLDER_LIMIT = 4096  # bytes of holder text read back; a command line longer than this is cut


def hold(path: Path, *, timeout: float, on_wait: Callable[[str], None]) -> Held:
    """Hold the lock at `path` for a `with` block; `on_wait` hears once who holds it after a
    second."""
    return Held(path, timeout, on_wait)


class Held:
    """The lock held for a `with` block (a class rather than a `contextlib.contextmanager`,
    whose import every command would pay)."""

    def __init__(self, path: Path, timeout: float, on_wait: Callable[[str], None]) -> None:
        self._path = path
        self._timeout = timeout
        self._on_wait = on_wait
        self._fd = -1
        self._writable = False

    def __enter__(self) -> None:
        self._fd = _open(self._path)
        try:
            _acquire(self._fd, self._path, self._timeout, self._on_wait)
            self._writable = _record_holder(self._fd)
        except BaseException:
            os.close(self._fd)
            raise

    def __exit__(self, *_: object) -> None:
        try:
            if self._writable:
                # Emptied before unlocking, so the text always names the current holder.
                _forget_holder(self._fd)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)


def _open(path: Path) -> int:
    flags = os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        return os.open(path, os.O_RDWR | flags, 0o600)
    except PermissionError:
        # A lock file another user created (root in a user's folder): locking needs no writing.
        pass
    except OSError as exc:
        raise WriteError(f"cannot open the lock {display(path)}: {_reason(exc)}.") from None
    try:
        return os.open(path, os.O_RDONLY | flags)
    except OSError as exc:
        raise WriteError(f"cannot open the lock {display(path)}: {_reason(exc)}.") from None


def _acquire(fd: int, path: Path, timeout: float, on_wait: Callable[[str], None]) -> None:
    started = time.monotonic()
    pause = 0.001
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waited = time.monotonic() - started
        if waited >= timeout:
            raise LockTimeoutError(
                f"{holder_of(path)} has held {display(path)} for over {timeout:.0f} seconds; "
                "try again."
            )
        if not told and waited >= WAIT_NOTE_SECONDS:
            told = True
            on_wait(f"waiting for the lock {display(path)}: {holder_of(path)} holds it.")
        time.sleep(pause)
        pause = min(pause * 2, _MAX_POLL_SECONDS)


def _record_holder(fd: int) -> bool:
    """Write `pid\\ncommand line\\n` into the lock file; False when it is not ours to write."""
    text = f"{os.getpid()}\n{' '.join([_program(), *sys.argv[1:]])}\n".encode("utf-8", "replace")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
    except OSError:
        return False  # opened read-only, or a full disk: locking works, naming the holder not
    return True


def _program() -> str:
    """How this process was started, short: `styxy`, `python -m styxy`, or the interpreter."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name == "__main__.py":
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        module = spec.name.removesuffix(".__main__") if spec is not None else "?"
        return f"python -m {module}"
    return name if name and name != "-c" else sys.executable


def _forget_holder(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
    except OSError:
        pass


def holder_of(path: Path) -> str:
    """Who holds the lock, in words: `process 123 (styxy allocate -s dev)`.

    The command line is the one the holder wrote (its program's name and arguments), else what
    /proc says of that process. A holder that wrote nothing (another tool, an older styxy) or
    has died since is "another process".
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            raw = os.read(fd, _HOLDER_LIMIT)
        finally:
            os.close(fd)
    except OSError:
        return "another process"
    first, _, rest = raw.decode("utf-8", "replace").partition("\n")
    if not first.isdigit() or not _alive(int(first)):
        return "another process"
    pid = int(first)
    # One line, whatever the command held: blanks and control characters become one space.
    raw_command = rest or _command_line(pid)
    command = " ".join("".join(c if c.isprintable() else " " for c in raw_command).split())
    if len(command) > _COMMAND_SHOWN:
        command = command[: _COMMAND_SHOWN - 3] + "..."
    return f"process {pid} ({command})" if command else f"process {pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read(_HOLDER_LIMIT)
    except OSError:
        return ""
    return " ".join(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def _reason(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    return reason[:1].lower() + reason[1:]
