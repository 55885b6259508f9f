"""The handlers of Claude Code's SessionStart and SessionEnd hooks (SPEC section 11).

Claude Code runs `styxy hook session-start|session-end` with the event as JSON on stdin. Each
session gets a stable instance id, `claude-<session_id>`: session-start exports it through
`$CLAUDE_ENV_FILE` (so every command the agent runs allocates under it) and tells the agent
which single-instance services already run; session-end ends that instance's leases.

A handler must never block the agent (exit 2 would), so these functions never raise: every
problem becomes a warning in the returned record, and the command line exits 0.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from styxy import names
from styxy.errors import InvalidValueError
from styxy.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

INSTANCE_PREFIX = "claude-"
# A hook event is a few hundred bytes; a transcript path is the longest field in it.
MAX_EVENT_BYTES = 1 << 20
# Claude Code writes the event and closes stdin at once; some versions have left it open, so
# the read stops as soon as a whole JSON object has arrived, or after this long.
STDIN_WAIT_SECONDS = 2.0
MAX_ENV_FILE_BYTES = 4 << 20
_NOT_IDENTITY = re.compile(r"[^A-Za-z0-9._@:+=-]")


@record
class HookOutcome:
    """What a handler did: the lines it exported, the leases it ended, what went wrong."""

    instance_id: str | None
    exported: tuple[str, ...] = ()
    context: str | None = None
    released: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any] | None:
        """What Claude Code reads on stdout: SessionStart's context, nothing for SessionEnd."""
        if self.context is None:
            return None
        return {
            "hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": self.context,
            }
        }


class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []

    def guard(self, what: str, step: Callable[[], Any]) -> Any:
        """Run one step; a failure becomes a warning and the handler goes on with the next."""
        from styxy.errors import StyxyError

        try:
            return step()
        except StyxyError as exc:
            self.items.append(f"{what}: {exc.message}")
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            self.items.append(f"{what}: {exc.strerror or exc}{where}.")
        except Exception as exc:  # a bug must not block the agent either; say what it was
            self.items.append(f"{what}: internal error ({type(exc).__name__}: {exc}).")
        return None


def read_event(fd: int, *, wait: float = STDIN_WAIT_SECONDS) -> bytes:
    """The event bytes on `fd`: up to end of input, a whole JSON object, or `wait` seconds."""
    if os.isatty(fd):
        return b""
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + wait
    while size <= MAX_EVENT_BYTES:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.rstrip().endswith(b"}") and _whole(b"".join(chunks)):
            break
    return b"".join(chunks)


def _whole(raw: bytes) -> bool:
    from styxy.api.files import loads_request

    try:
        loads_request(raw, "the hook event")
    except InvalidValueError:
        return True  # complete, and refused by parse_event in the same words
    except ValueError:
        return False
    return True


def parse_event(raw: bytes) -> dict[str, Any]:
    """The event object; InvalidValueError with one sentence for anything else."""
    if not raw.strip():
        raise InvalidValueError("no hook event on standard input (Claude Code sends JSON there).")
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidValueError(f"the hook event is larger than {MAX_EVENT_BYTES} bytes.")
    from styxy.api.files import loads_request

    try:
        # Nesting and numbers bounded: a deep event is one sentence, not an internal error.
        event = loads_request(raw, "the hook event on standard input")
    except ValueError as exc:
        raise InvalidValueError(f"the hook event on standard input is not JSON ({exc}).") from None
    if not isinstance(event, dict):
        raise InvalidValueError("the hook event on standard input is not a JSON object.")
    return event


def instance_id_for(event: dict[str, Any]) -> tuple[str, str | None]:
    """`claude-<session_id>`, with characters an instance id may not hold replaced by `-`.

    Returns the id and a warning when the session id had to be changed.
    """
    session_id = event.get("session_id")
    if not isinstance(session_id, str) or not session_id.strip():
        raise InvalidValueError("the hook event has no session_id.")
    cleaned = _NOT_IDENTITY.sub("-", session_id)[: 128 - len(INSTANCE_PREFIX)]
    instance_id = names.check_identity_part("instance id", INSTANCE_PREFIX + cleaned)
    warning = None
    if cleaned != session_id:
        warning = f"session id {session_id!r} was shortened or cleaned to {instance_id!r}."
    return instance_id, warning


def session_start(
    raw: bytes,
    *,
    interceptor: bool = False,
    doc: str | os.PathLike[str] | None = None,
    env_file: str | None = None,
) -> HookOutcome:
    """Export the session's instance id (and the interceptor's variables), describe the ports."""
    warnings = _Warnings()
    identity = warnings.guard("hook event", lambda: instance_id_for(parse_event(raw)))
    instance_id = None if identity is None else identity[0]
    if identity is not None and identity[1]:
        warnings.items.append(identity[1])
    lines: list[str] = []
    if instance_id is not None:
        lines.append(f"export STYXY_INSTANCE_ID={shlex.quote(instance_id)}")
    if doc:
        lines.append(f"export STYXY_DOC={shlex.quote(os.path.abspath(os.fspath(doc)))}")
    if interceptor:
        lines += warnings.guard("interceptor", lambda: _interceptor_lines(doc)) or []
    exported: tuple[str, ...] = ()
    if lines:
        if env_file:
            exported = warnings.guard("CLAUDE_ENV_FILE", lambda: append_env(Path(env_file), lines))
            exported = exported or ()
        else:
            warnings.items.append(
                "CLAUDE_ENV_FILE is not set, so the session's commands will not carry "
                "STYXY_INSTANCE_ID; pass -i to styxy yourself."
            )
    from styxy.agents.types_text import read_types, vocabulary_text

    # The rows are read once, for the single-instance types and for the vocabulary both.
    types = read_types(doc)
    singles = None if types is None else {t.service_type for t in types.types if t.single}
    running = warnings.guard("port map", lambda: running_singles(doc, singles))
    context = describe(instance_id, running, document_ok=running is not None)
    if running is not None:
        context += "\n" + vocabulary_text(doc, None, types)
    return HookOutcome(instance_id, exported, context, (), tuple(warnings.items))


def session_end(raw: bytes, *, doc: str | os.PathLike[str] | None = None) -> HookOutcome:
    """End every lease of the session's instance (`styxy release -i claude-<session_id>`)."""
    from styxy import api

    warnings = _Warnings()
    identity = warnings.guard("hook event", lambda: instance_id_for(parse_event(raw)))
    if identity is None:
        return HookOutcome(None, warnings=tuple(warnings.items))
    instance_id = identity[0]
    ended = warnings.guard(
        "ending the session's leases", lambda: api.release_instance(instance_id, doc=doc)
    )
    ports = tuple(lease.port for lease in ended or ())
    return HookOutcome(instance_id, released=ports, warnings=tuple(warnings.items))


def append_env(path: Path, lines: list[str]) -> tuple[str, ...]:
    """Append the lines not already in the file (a resumed or compacted session runs again).

    One `write` with O_APPEND, so another hook appending at the same moment cannot interleave.
    Only a regular file is read or written: a FIFO or a device there would block the hook
    (and the agent with it) forever, so it is refused with one sentence, opened without
    blocking and checked on the descriptor (SPEC section 18).
    """
    from styxy.api import files

    kind = files.FileKind("the file", MAX_ENV_FILE_BYTES)
    present = files.read_optional(path, kind) or b""
    have = set(present.decode("utf-8", "replace").splitlines())
    new = [line for line in lines if line not in have]
    if not new:
        return ()
    text = ("\n" if present and not present.endswith(b"\n") else "") + "\n".join(new) + "\n"
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidValueError(
                f"the file {path} is not a regular file; styxy writes only to one."
            )
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    return tuple(new)


def _interceptor_lines(doc: str | os.PathLike[str] | None) -> list[str]:
    """`export LD_PRELOAD=... STYXY_CACHE=...`, building the library when it is missing."""
    from styxy import api, paths
    from styxy.api import interceptor

    where = paths.resolve(doc)
    # As `styxy interceptor env`: the cache must exist before the first preloaded program runs.
    api.sync(doc=where.doc)
    interceptor.ensure_built()
    return interceptor.env_lines(where.cache)


@record
class RunningService:
    service_type: str
    name: str
    port: int
    pid: int
    instance_id: str


def running_singles(
    doc: str | os.PathLike[str] | None, singles: set[str] | None = None
) -> tuple[RunningService, ...]:
    """The running lease of every single-instance type: what a second start should reuse.

    `singles`, the single-instance types, when the caller has read the rows already."""
    from styxy import api

    if singles is None:
        singles = {r.service_type for r in api.ranges(doc=doc).ranges if r.instances == "single"}
    found: dict[str, RunningService] = {}
    statuses = api.list_leases(doc=doc)
    for status in sorted(statuses, key=lambda s: s.lease.createdAt):
        lease = status.lease
        if lease.serviceType in singles and lease.serviceType not in found:
            found[lease.serviceType] = RunningService(
                lease.serviceType, lease.name, lease.port, lease.pid, lease.instanceId
            )
    return tuple(sorted(found.values(), key=lambda s: s.service_type))


def describe(
    instance_id: str | None, running: tuple[RunningService, ...] | None, *, document_ok: bool
) -> str:
    """The context Claude reads at the start of a session: whom to ask for a port, and how."""
    lines = ["Ports on this machine are handed out by styxy; never hard-code 3000, 8000 or 5173."]
    invocation = styxy_for_agent()
    if invocation != "styxy":
        lines.append(f"styxy is not on PATH here: run it as `{invocation}` where `styxy` is written.")
    if instance_id is not None:
        lines.append(
            f"This session's styxy instance id is {instance_id} (exported as STYXY_INSTANCE_ID); "
            "its leases end when the session ends. With styxy's MCP tools, pass "
            f'instance_id "{instance_id}" for the same.'
        )
    if running:
        lines.append("Single-instance services already running (reuse them, do not start another):")
        for item in running:
            named = f" named {item.name}" if item.name else ""
            lines.append(
                f"- {item.service_type}{named} on port {item.port} "
                f"(process {item.pid}, instance {item.instance_id})"
            )
    elif document_ok:
        lines.append("No single-instance service is running yet.")
    else:
        lines.append("styxy could not read its port map just now; run `styxy doctor` to see why.")
    lines += [
        "To get a port:",
        "- `styxy run -s TYPE -n NAME -- CMD` runs CMD with $PORT set and ends the lease when "
        "CMD ends; for a single-instance type it starts nothing when one already runs and "
        "prints its port. Prefer it (or styxy's MCP tools) to a bare `styxy allocate -s TYPE` "
        "in your shell tool: that shell exits at once, so the lease's holder is already dead "
        "when the server starts;",
        "- `styxy use -n NAME` (or `-s TYPE`) prints the port of a running service;",
        "- `styxy list` shows every lease, `styxy release -p PORT` ends one.",
    ]
    return "\n".join(lines)


def styxy_for_agent() -> str:
    """`styxy` when the agent's shell finds this styxy on PATH, else the absolute form."""
    import shutil

    from styxy.agents.claude_code import styxy_words

    found = shutil.which("styxy")
    if found and Path(found).parent == Path(os.path.abspath(sys.executable)).parent:
        return "styxy"
    return shlex.join(styxy_words())
