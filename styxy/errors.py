"""The one error family of Styxy.

The core raises these; `styxy.cli.boundary` is the only place that turns them into a message on stderr
and an exit code. Every message is one sentence a user can act on.
"""

from __future__ import annotations

from styxy.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from collections.abc import Callable

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@record
class Param:
    """A parameter of the caller's request inside a sentence: each front end spells it its own
    way (`lock_id` over MCP and HTTP, `LOCK_ID` or `--port` on the command line)."""

    key: str

    def __str__(self) -> str:
        return self.key


class StyxyError(Exception):
    """A refusal or failure the user can understand; exit code 1 unless a subclass says else.

    The sentence is given in words: text, and `Param`s that name what the caller passed.
    `message` spells each parameter by its key (the spelling of MCP and HTTP, and of the
    Python API); `said` spells them as a front end's own caller knows them.
    """

    exit_code: int = EXIT_FAILED

    def __init__(self, *words: str | Param) -> None:
        self.words = words
        message = "".join(str(word) for word in words)
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> int:
        """The command line's exit code; the `code` of every front end's refusal."""
        return self.exit_code

    def said(self, spelling: Callable[[str], str]) -> str:
        return "".join(w if isinstance(w, str) else spelling(w.key) for w in self.words)

    def __str__(self) -> str:
        return self.message


class UsageError(StyxyError):
    """Arguments that do not make sense together or are out of bounds (exit 2)."""

    exit_code = EXIT_USAGE


class InvalidValueError(StyxyError):
    """A value a user gave (a name, a port, a setting) that Styxy refuses before touching disk."""


class ArgumentError(InvalidValueError):
    """A malformed value the caller passed (a service type, a name): a usage error, exit 2,
    as a malformed option is, and HTTP 400."""

    exit_code = EXIT_USAGE


class NotFoundError(StyxyError):
    """A lease, a service or a key that does not exist."""


class RefusedError(StyxyError):
    """A request Styxy understood and will not carry out (no room, leases in the way, ...)."""


class UnknownTypeError(RefusedError):
    """A service type that is neither a row nor an alias, which this caller may not create
    (a near miss on the command line, an agent that did not ask, a policy that says no)."""

    def __init__(self, message: str, service_type: str, near: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.service_type = service_type
        self.near = near


class NewRangeLimitError(RefusedError):
    """`autoAllocation.maxNewPerDay` new ranges were made in the last 24 hours already."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class Diagnostic:
    """One problem in a document, reported as `PATH:LINE: message` like compilers do."""

    __slots__ = ("line", "message", "path", "warning")

    def __init__(self, path: str, line: int, message: str, *, warning: bool = False) -> None:
        self.path = path
        self.line = line
        self.message = message
        self.warning = warning

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.path}:{self.line}: {kind}{self.message}"

    def __repr__(self) -> str:
        return f"Diagnostic({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Diagnostic) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class DocumentError(StyxyError):
    """A document that cannot be used; carries every diagnostic found, errors first."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if not d.warning]
        super().__init__("\n".join(str(d) for d in (errors or diagnostics)))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]


class LeaseFileError(StyxyError):
    """The lease file exists but cannot be read; never treated as empty."""


class CacheError(StyxyError):
    """The compiled cache is missing, foreign or corrupt (the CLI then rebuilds it)."""


class LockTimeoutError(StyxyError):
    """Another styxy process held the lock for too long."""


class InterceptorError(StyxyError):
    """The preload library cannot be built or found."""


class WriteError(StyxyError):
    """A file could not be written (a full disk, a file size limit, a folder in the way)."""


class UnsafeFileError(StyxyError):
    """A file or folder styxy will not read or use: not a regular file, too large, a link where
    none may be, or another user's."""


def cannot_answer(exc: StyxyError) -> StyxyError:
    """The same error with grep's exit 2: `check` could not tell whether the port is free."""
    exc.exit_code = EXIT_USAGE
    return exc


def os_error_sentence(exc: BaseException) -> str:
    """What the machine refused, and where: `Permission denied (/home/me/.cache/styxy).`"""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}."
    return f"{str(exc).rstrip('.') or type(exc).__name__}."
