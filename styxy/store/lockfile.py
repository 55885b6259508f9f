"""The sidecar's lock (`.styxy/lock`): one writer at a time, a queue that never gives up on
progress, and a waiter that can say who holds it and for how long.

An advisory `flock` on the lock file, the same kind of lock other tools (and older styxy
versions, through the filelock package) take on it. The holder writes its pid, the moment it
took the lock (CLOCK_BOOTTIME, one clock for every process of the machine) and its command
line into the file, and empties it before letting go.

A waiter limits the holder, not the queue: it gives up only when one holder has kept the lock
past the limit, measured from the moment that holder took it, and its clock starts again
whenever the lock changes hands. A thousand commands queued behind each other all get their
turn however long the queue, while a holder stuck at a prompt or in a debugger is named, with
the time it has held the lock, after thirty seconds (SPEC section 18).

The wait itself is a blocking `flock` in a helper thread, so the kernel hands the lock over
the moment it is free and a thousand waiters cost no CPU while they wait; the waiter wakes a
few times a second only to look at who holds the lock. `_thread` rather than `threading`:
it is built in, so the wait costs no import on the hot path of `styxy allocate`.
"""

from __future__ import annotations

import _thread
import fcntl
import os
import sys
import time
from collections.abc import Callable

from styxy.errors import LockTimeoutError, WriteError
from styxy.paths import display
from styxy.store.sidecar import Sidecar

LOCK_NAME = "lock"
# A writer that has waited this long says once who holds the lock (SPEC section 10).
WAIT_NOTE_SECONDS = 1.0
# How often a waiter looks at who holds the lock: often enough to name a new holder and to
# give up on time, rarely enough that a thousand waiters do not keep two cores busy.
_LOOK_SECONDS = (0.05, 0.1, 0.2, 0.25)
_COMMAND_SHOWN = 300  # characters of the holder's command line in a message
_HOLDER_LIMIT = 4096  # bytes of holder text read back; a command line longer than this is cut
_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def now() -> float:
    """The clock holders stamp and waiters read: the same for every process of the machine."""
    return time.clock_gettime(_CLOCK)


class Holder:
    """What the lock file says of its holder; `since` is None when it did not say (another tool).

    A plain class, as everything on the hot path is (a dataclass costs its creation at import).
    """

    __slots__ = ("command", "pid", "since")

    def __init__(self, pid: int, since: float | None, command: str) -> None:
        self.pid = pid
        self.since = since
        self.command = command

    def words(self) -> str:
        """`process 123 (styxy allocate -s dev)`."""
        # One line, whatever the command held: blanks and control characters become a space.
        command = " ".join("".join(c if c.isprintable() else " " for c in self.command).split())
        if len(command) > _COMMAND_SHOWN:
            command = command[: _COMMAND_SHOWN - 3] + "..."
        return f"process {self.pid} ({command})" if command else f"process {self.pid}"


def hold(
    folder: Sidecar, *, timeout: float, on_wait: Callable[[str], None], name: str = LOCK_NAME
) -> Held:
    """Hold the lock `name` of the open sidecar for a `with` block.

    `on_wait` hears once who holds it after a second of waiting; LockTimeoutError when one
    holder keeps it past `timeout` seconds.
    """
    return Held(folder, name, timeout, on_wait)


class Held:
    """The lock held for a `with` block (a class rather than a `contextlib.contextmanager`,
    whose import every command would pay)."""

    def __init__(
        self, folder: Sidecar, name: str, timeout: float, on_wait: Callable[[str], None]
    ) -> None:
        self._folder = folder
        self._name = name
        self._timeout = timeout
        self._on_wait = on_wait
        self._fd = -1
        self._writable = False

    def __enter__(self) -> None:
        self._fd = _open(self._folder, self._name)
        try:
            _acquire(self._fd, self._folder, self._name, self._timeout, self._on_wait)
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


def _open(folder: Sidecar, name: str) -> int:
    path = folder.where(name)
    try:
        return folder.open(name, os.O_RDWR | os.O_CREAT)
    except PermissionError:
        # A lock file another user created (root in a user's folder): locking needs no writing.
        pass
    except OSError as exc:
        raise WriteError(f"cannot open the lock {display(path)}: {_reason(exc)}.") from None
    try:
        return folder.open(name, os.O_RDONLY)
    except OSError as exc:
        raise WriteError(f"cannot open the lock {display(path)}: {_reason(exc)}.") from None


def _acquire(
    fd: int, folder: Sidecar, name: str, timeout: float, on_wait: Callable[[str], None]
) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    waiter = _Waiter(fd)
    try:
        _wait(waiter, folder, name, timeout, on_wait)
    except BaseException:
        waiter.abandon()
        raise


def _wait(
    waiter: _Waiter,
    folder: Sidecar,
    name: str,
    timeout: float,
    on_wait: Callable[[str], None],
) -> None:
    started = now()
    told = False
    seen: tuple[int, float | None] | None = None  # the holder being timed
    seen_at = started  # when that holder was first seen, for one that wrote no time
    looks = 0
    while not waiter.wait(_LOOK_SECONDS[min(looks, len(_LOOK_SECONDS) - 1)]):
        looks += 1
        holder = read_holder(folder, name)
        key = None if holder is None else (holder.pid, holder.since)
        moment = now()
        if key != seen:
            seen, seen_at = key, moment  # the lock changed hands: a new holder's clock
        since = seen_at
        if holder is not None and holder.since is not None and holder.since <= moment:
            since = holder.since  # measured by the holder's own stamp, not guessed
        held = moment - since
        if held >= timeout:
            who = holder.words() if holder is not None else "another process"
            raise LockTimeoutError(
                f"{who} has held the lock {display(folder.where(name))} for {held:.1f} "
                "seconds, longer than the limit of "
                f"{timeout:g}; nothing was changed: try again once it has finished."
            )
        if not told and moment - started >= WAIT_NOTE_SECONDS:
            told = True
            who = holder.words() if holder is not None else "another process"
            on_wait(f"waiting for the lock {display(folder.where(name))}: {who} holds it.")


class _Waiter:
    """A blocking `flock` in a helper thread, which the waiting thread may abandon.

    The helper locks a duplicate of the descriptor (the same open file, so the same lock) and
    closes only that duplicate, a number no other thread can be using: abandoned, it lets
    the lock go the moment it gets it.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._dup = os.dup(fd)
        self._mutex = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._abandoned = False
        self._failed: OSError | None = None
        try:
            _thread.start_new_thread(self._run, ())
        except BaseException:
            os.close(self._dup)
            raise

    def _run(self) -> None:
        failed = None
        try:
            fcntl.flock(self._dup, fcntl.LOCK_EX)
        except OSError as exc:
            failed = exc
        with self._mutex:
            if self._abandoned and failed is None:
                fcntl.flock(self._dup, fcntl.LOCK_UN)
            os.close(self._dup)
            if not self._abandoned:
                self._failed = failed
                self._done.release()

    def wait(self, seconds: float) -> bool:
        """True once the lock is held; False after `seconds` without it."""
        if not self._done.acquire(timeout=seconds):
            return False
        if self._failed is not None:
            raise WriteError(f"cannot take the lock: {_reason(self._failed)}.")
        return True

    def abandon(self) -> None:
        """Give up waiting; a lock the helper took meanwhile is let go."""
        with self._mutex:
            if self._done.acquire(blocking=False):
                if self._failed is None:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                return
            self._abandoned = True


def _record_holder(fd: int) -> bool:
    """Write `pid since\\ncommand line\\n`; False when it is not ours to write."""
    command = " ".join([_program(), *sys.argv[1:]])
    text = f"{os.getpid()} {now():.6f}\n{command}\n".encode("utf-8", "replace")
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


def read_holder(folder: Sidecar, name: str = LOCK_NAME) -> Holder | None:
    """The live process the lock file names, or None (another tool, or a holder since gone).

    The command line is the one the holder wrote (its program's name and arguments), else
    what /proc says of that process.
    """
    try:
        fd = folder.open(name, os.O_RDONLY | os.O_NONBLOCK)
        try:
            raw = os.read(fd, _HOLDER_LIMIT)
        finally:
            os.close(fd)
    except OSError:
        return None
    first, _, rest = raw.decode("utf-8", "replace").partition("\n")
    pid_text, _, since_text = first.partition(" ")
    if not pid_text.isdigit() or len(pid_text) > 10 or not _alive(int(pid_text)):
        return None
    pid = int(pid_text)
    return Holder(pid, _seconds(since_text), rest.rstrip("\n") or _command_line(pid))


def holder_of(folder: Sidecar, name: str = LOCK_NAME) -> str:
    """Who holds the lock, in words: `process 123 (styxy allocate -s dev)`."""
    holder = read_holder(folder, name)
    return "another process" if holder is None else holder.words()


def _seconds(text: str) -> float | None:
    """A time the holder wrote, or None when there is none or it is not one."""
    if not text or len(text) > 32 or not text.replace(".", "", 1).isdigit():
        return None
    return float(text)


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
