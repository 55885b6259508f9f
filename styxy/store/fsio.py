"""Reading a file safely: never hang on a FIFO, never read without bound, never follow a link
that must not be followed, never trust a folder or file another user planted.

Every read of the document, the lease file, the journal, the cache, `styxy.toml` and the
settings JSON files of coding agents goes through `read_bytes` (or `read_json`) with the limit
of its kind. The interceptor's C cache reader does the same (interceptor/cache_reader.c); this
module is the Python side of that promise. It sits on the hot path of `styxy allocate`, so it
imports only the standard library.
"""

from __future__ import annotations

import os
import stat

from styxy.errors import InvalidValueError, UnsafeFileError
from styxy.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

MiB = 1024 * 1024


@record
class FileKind:
    """What a file is to styxy, as messages name it, and the most styxy reads of it."""

    label: str
    limit: int

    @property
    def limit_text(self) -> str:
        if self.limit % MiB == 0:
            return f"{self.limit // MiB} MiB"
        return f"{self.limit} bytes"


# The limits are far above anything real (a 5,000-row document is 400 KB; 20,000 leases with
# the longest identities allowed are 9 MB) and far below what would hurt a machine.
DOCUMENT = FileKind("the document", 8 * MiB)
LEASE_FILE = FileKind("the lease file", 16 * MiB)
JOURNAL = FileKind("the interceptor's journal", 16 * MiB)
CACHE = FileKind("the cache", 4 * MiB)  # the C reader's STYXY_MAX_FILE_SIZE
LOCK_FILE = FileKind("the lock file", 1 * MiB)  # never read; checked before filelock opens it
CONFIG = FileKind("the configuration file", 1 * MiB)  # styxy.toml
SETTINGS_JSON = FileKind("the settings file", 4 * MiB)  # a coding agent's settings JSON

_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


def what_it_is(mode: int) -> str:
    """`a FIFO`, `a directory`, ... for a file that is not a regular one."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a folder"


def opened(
    path: str | os.PathLike[str],
    kind: FileKind,
    *,
    follow_links: bool = True,
    private: bool = False,
    dir_fd: int | None = None,
    sized: bool = True,
) -> Opened:
    """A descriptor of a checked regular file and its status, for a `with` block; see
    `read_bytes`.

    With `dir_fd` (an open sidecar folder) the file is `path`'s last part in that folder, and
    a link there is never followed: `path` only names it in messages. `sized=False` reads a
    file over its kind's limit (its head: `read_head`).
    """
    return Opened(path, kind, follow_links, private, dir_fd, sized)


class Opened:
    """`opened` for a `with` block (a class rather than a `contextlib.contextmanager`, whose
    import every command would pay): the descriptor is closed when the block ends."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        kind: FileKind,
        follow_links: bool,
        private: bool,
        dir_fd: int | None = None,
        sized: bool = True,
    ) -> None:
        self._path = path
        self._kind = kind
        self._follow_links = follow_links and dir_fd is None
        self._private = private
        self._dir_fd = dir_fd
        self._sized = sized
        self._fd = -1

    def __enter__(self) -> tuple[int, os.stat_result]:
        path, kind = self._path, self._kind
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
        if not self._follow_links:
            flags |= os.O_NOFOLLOW
        try:
            if self._dir_fd is None:
                fd = os.open(path, flags)
            else:
                fd = os.open(os.path.basename(path), flags, dir_fd=self._dir_fd)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise _open_error(path, kind, exc, self._follow_links) from None
        try:
            try:
                status = os.fstat(fd)
            except OSError as exc:
                raise _read_error(path, kind, exc) from None
            check_status(path, kind, status, private=self._private, sized=self._sized)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return fd, status

    def __exit__(self, *_: object) -> None:
        os.close(self._fd)


def read_opened(path: str | os.PathLike[str], kind: FileKind, fd: int) -> bytes:
    """Read at most `kind.limit` bytes from a descriptor `opened` gave."""
    try:
        data = _read_at_most(fd, kind.limit + 1)
    except OSError as exc:
        raise _read_error(path, kind, exc) from None
    if len(data) > kind.limit:  # it grew while being read
        raise _too_large(path, kind)
    return data


def read_bytes(
    path: str | os.PathLike[str],
    kind: FileKind,
    *,
    follow_links: bool = True,
    private: bool = False,
    dir_fd: int | None = None,
) -> bytes:
    """The bytes of a regular file, at most `kind.limit` of them.

    Opened with O_NONBLOCK so a FIFO cannot hang the open, then checked with fstat on the
    descriptor (not the name, which could be swapped in between). `follow_links=False` refuses a
    symbolic link at the last component (O_NOFOLLOW); `private=True` also refuses a file owned
    by another user (root excepted), as files in the sidecar folder must be. A missing file
    raises FileNotFoundError, for the caller to treat as it means; everything else wrong with
    the file is UnsafeFileError with one sentence naming the path.
    """
    with opened(path, kind, follow_links=follow_links, private=private, dir_fd=dir_fd) as (
        fd,
        _,
    ):
        return read_opened(path, kind, fd)


def read_optional(
    path: str | os.PathLike[str],
    kind: FileKind,
    *,
    follow_links: bool = True,
    private: bool = False,
    dir_fd: int | None = None,
) -> bytes | None:
    """`read_bytes`, or None when there is no file at `path`."""
    try:
        return read_bytes(path, kind, follow_links=follow_links, private=private, dir_fd=dir_fd)
    except FileNotFoundError:
        return None


def read_head(
    path: str | os.PathLike[str], kind: FileKind, *, dir_fd: int | None = None
) -> tuple[bytes, bool] | None:
    """The first `kind.limit` bytes of a private regular file, and whether that was all of it;
    None when it is missing. For a file that only grows (the journal), too large is not a
    refusal: its head is read and the caller drops the rest."""
    try:
        with opened(path, kind, private=True, dir_fd=dir_fd, sized=False, follow_links=False) as (
            fd,
            _,
        ):
            try:
                data = _read_at_most(fd, kind.limit + 1)
            except OSError as exc:
                raise _read_error(path, kind, exc) from None
    except FileNotFoundError:
        return None
    return data[: kind.limit], len(data) <= kind.limit


def read_text(path: str | os.PathLike[str], kind: FileKind, *, follow_links: bool = True) -> str:
    """A UTF-8 text file (`styxy.toml`) read with the limit of its kind."""
    data = read_bytes(path, kind, follow_links=follow_links)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeFileError(
            f"{kind.label} {os.fspath(path)} is not UTF-8 text (byte {exc.start})."
        ) from None


def read_json(path: str | os.PathLike[str], kind: FileKind = SETTINGS_JSON) -> Any:
    """A JSON file (a coding agent's settings) read with its limit and a bounded nesting depth."""
    return loads_json(read_bytes(path, kind), f"{kind.label} {os.fspath(path)}")


def loads_json(data: bytes, where: str) -> Any:
    """Decode JSON; ValueError names what is wrong, including nesting too deep to decode.

    The standard decoder guards its recursion with the interpreter's limit, so a file of a
    million `[` raises RecursionError after a few hundred levels and a few kilobytes of stack:
    turned here into a refusal like any other malformed file.
    """
    import json

    try:
        # Decoded here, not by json.loads, which guesses UTF-16 or UTF-32 from the first
        # bytes and then complains about the guessed codec: styxy writes UTF-8 only.
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where} is not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{where} nests JSON too deeply to read") from None
    except json.JSONDecodeError:
        raise
    except ValueError:
        # The one other ValueError: an integer longer than Python converts (4,300 digits).
        raise ValueError(f"{where} holds a number too long to read") from None


# What a request from outside may hold (an HTTP body, a hook event): SPEC section 17's bounds.
MAX_JSON_DEPTH = 64
MAX_JSON_DIGITS = 20


def loads_request(data: bytes | str, where: str) -> Any:
    """JSON from a client (an HTTP body, a hook event on stdin), with its size of nesting and
    of numbers bounded before anything is built.

    Nesting deeper than MAX_JSON_DEPTH levels is InvalidValueError, one sentence starting
    with `where`; malformed JSON, an integer of more than MAX_JSON_DIGITS digits, NaN and
    Infinity are ValueError, in the words the HTTP API uses for them (styxy.server.requests).
    """
    import json

    depth = _deepest(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
    if depth > MAX_JSON_DEPTH:
        raise InvalidValueError(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels.")
    return json.loads(data, parse_int=_bounded_int, parse_constant=_no_constant)


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_JSON_DIGITS:
        raise ValueError(f"an integer longer than {MAX_JSON_DIGITS} digits")
    return int(text)


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python's decoder accepts them unless told not to.
    raise ValueError(f"{name} is not a number JSON allows")


_STRINGS: Any = None  # the compiled pattern of a JSON string, made on first use


def _deepest(data: bytes) -> int:
    """The deepest nesting of `[` and `{` outside strings, counting no further than one past
    the limit (a megabyte of `[` costs a few dozen steps)."""
    import re

    global _STRINGS
    if _STRINGS is None:
        _STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in (0x5B, 0x7B) else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def check_status(
    path: str | os.PathLike[str],
    kind: FileKind,
    status: os.stat_result,
    *,
    private: bool,
    sized: bool = True,
) -> None:
    """Refuse what is not a regular file, is too large (unless not `sized`), or (private)
    belongs to another user."""
    if not stat.S_ISREG(status.st_mode):
        raise UnsafeFileError(
            f"{kind.label} {os.fspath(path)} is {what_it_is(status.st_mode)}, not a regular "
            "file; styxy reads only regular files."
        )
    if private:
        check_owner(path, kind.label, status)
    if sized and status.st_size > kind.limit:
        raise _too_large(path, kind)


def check_owner(path: str | os.PathLike[str], label: str, status: os.stat_result) -> None:
    """A file or folder of the sidecar must be ours or root's, as the C reader demands."""
    if status.st_uid not in (os.geteuid(), 0):
        raise UnsafeFileError(
            f"{label} {os.fspath(path)} belongs to {user_name(status.st_uid)}, not to you; "
            "styxy refuses another user's files, which could plant leases or redirect its "
            "writes: remove it, or use a document of your own."
        )


def user_name(uid: int) -> str:
    """`user alice (uid 1001)`, or `uid 1001` for a uid with no name."""
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (KeyError, ImportError):
        return f"uid {uid}"


def _open_error(
    path: str | os.PathLike[str], kind: FileKind, exc: OSError, follow_links: bool
) -> UnsafeFileError:
    import errno

    if not follow_links and exc.errno == errno.ELOOP:
        return UnsafeFileError(
            f"{kind.label} {os.fspath(path)} is a symbolic link; styxy does not follow links "
            "inside its sidecar folder: remove it."
        )
    return UnsafeFileError(f"cannot open {kind.label} {os.fspath(path)}: {exc.strerror or exc}.")


def reason(exc: OSError) -> str:
    """What the system said, as the end of a sentence: `permission denied`."""
    text = exc.strerror or type(exc).__name__
    return text[:1].lower() + text[1:]


def _read_error(path: str | os.PathLike[str], kind: FileKind, exc: OSError) -> UnsafeFileError:
    return UnsafeFileError(f"cannot read {kind.label} {os.fspath(path)}: {exc.strerror or exc}.")


def _too_large(path: str | os.PathLike[str], kind: FileKind) -> UnsafeFileError:
    return UnsafeFileError(
        f"{kind.label} {os.fspath(path)} is larger than {kind.limit_text}, the most styxy "
        f"reads of {kind.label}."
    )


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks = []
    total = 0
    while total < limit:
        chunk = os.read(fd, min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def creation_mode() -> int:
    """The mode a new file gets under this process's umask (0o666 minus the umask).

    Read from /proc where it exists, since setting the umask to learn it is not thread safe.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


# Files styxy creates in the sidecar are its owner's alone: the lease file shows pids and
# instance ids, the journal what ran where.
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700
