"""Claude Code's settings: the two session hooks of styxy, printed, installed or removed.

Claude Code reads hooks from `.claude/settings.json` (project), `~/.claude/settings.json` (user)
and `.claude/settings.local.json` (local) as
`{"hooks": {"SessionStart": [{"matcher": "", "hooks": [{"type": "command", ...}]}]}}`.
Those files belong to the user: everything already in them is kept, ours are added once and
removed alone, and a file styxy cannot read as a JSON object is refused and left as it was.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from pathlib import Path

from styxy.api import files
from styxy.errors import InvalidValueError, RefusedError
from styxy.records import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any, Literal

    Scope = Literal["project", "user", "local"]
    Outcome = Literal["installed", "updated", "unchanged", "removed", "absent"]
else:
    Scope = Outcome = str

SCOPES: tuple[Scope, ...] = ("project", "user", "local")

# A settings file is a few kilobytes; anything this large is not one styxy should rewrite.
MAX_SETTINGS_BYTES = 1 << 20
# Seconds Claude Code gives each handler. SessionStart may compile the interceptor once
# (about a second, more on a busy machine); SessionEnd ends leases in well under a second.
START_TIMEOUT = 30
END_TIMEOUT = 5
EVENTS = {"SessionStart": "session-start", "SessionEnd": "session-end"}


@record
class SettingsChange:
    """What `styxy hooks claude-code --install/--uninstall` did to one settings file."""

    path: Path
    outcome: Outcome

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "outcome": self.outcome}


def check_scope(scope: str) -> Scope:
    for known in SCOPES:
        if scope == known:
            return known
    raise InvalidValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}.")


def settings_path(scope: Scope, *, cwd: Path | None = None, home: Path | None = None) -> Path:
    """Where Claude Code keeps the settings of a scope; project and local are per folder."""
    if check_scope(scope) == "user":
        return (home or Path.home()) / ".claude" / "settings.json"
    folder = (cwd or Path.cwd()) / ".claude"
    return folder / ("settings.json" if scope == "project" else "settings.local.json")


def styxy_words(doc: str | os.PathLike[str] | None = None) -> list[str]:
    """How a hook calls styxy without relying on PATH: this interpreter, `-m styxy`.

    Claude Code runs hooks with its own PATH, where a virtual environment's `bin` is rarely
    found; the interpreter's absolute path always is. `sys.executable` is kept as it is (not
    resolved), because a virtual environment's `python` is a symlink whose target lacks styxy.
    """
    words = [os.path.abspath(sys.executable), "-m", "styxy"]
    if doc:
        words += ["--doc", os.path.abspath(os.path.expanduser(os.fspath(doc)))]
    return words


def hook_command(event: str, *, interceptor: bool, doc: str | os.PathLike[str] | None) -> str:
    words = [*styxy_words(doc), "hook", EVENTS[event]]
    if interceptor and event == "SessionStart":
        words.append("--interceptor")
    return shlex.join(words)


def hooks_settings(
    *, interceptor: bool = False, doc: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Our hooks as a Claude Code settings object; an empty matcher runs on every source."""
    return {
        "hooks": {
            event: [
                {
                    "matcher": "",
                    "hooks": [
                        {
                            "type": "command",
                            "command": hook_command(event, interceptor=interceptor, doc=doc),
                            "timeout": START_TIMEOUT if event == "SessionStart" else END_TIMEOUT,
                        }
                    ],
                }
            ]
            for event in EVENTS
        }
    }


def is_ours(command: object) -> bool:
    """A command that runs `styxy ... hook session-start|session-end`, wherever styxy lives."""
    if not isinstance(command, str):
        return False
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    for i, word in enumerate(words[:-1]):
        if word == "hook" and words[i + 1] in EVENTS.values():
            return any(w == "styxy" or w.endswith("/styxy") for w in words[:i])
    return False


def install(
    path: Path, *, interceptor: bool = False, doc: str | os.PathLike[str] | None = None
) -> SettingsChange:
    """Merge our hooks into the settings file at `path`; a second call writes nothing."""
    found = _load(path)
    data = {} if found is None else found[0]
    wanted = hooks_settings(interceptor=interceptor, doc=doc)["hooks"]
    merged = _merge(data, wanted)
    if found is not None and merged == data:
        return SettingsChange(path, "unchanged")
    _store(path, merged, found)
    had_ours = found is not None and _without_ours(data) != data
    return SettingsChange(path, "updated" if had_ours else "installed")


def uninstall(path: Path) -> SettingsChange:
    """Remove our hooks, and only ours, from the settings file at `path`."""
    found = _load(path)
    if found is None:
        return SettingsChange(path, "absent")
    data = found[0]
    kept = _without_ours(data)
    if kept == data:
        return SettingsChange(path, "absent")
    _store(path, kept, found)
    return SettingsChange(path, "removed")


def _merge(data: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """Keep an entry of ours that is already exactly right; replace ours that differ."""
    present = _hooks_of(data)
    if all(_has_exactly(present.get(event), groups[0]) for event, groups in wanted.items()):
        return data
    merged = _without_ours(data)
    hooks = dict(merged.get("hooks", {}))
    for event, groups in wanted.items():
        hooks[event] = [*hooks.get(event, []), *groups]
    return {**merged, "hooks": hooks}


def _has_exactly(groups: Any, group: dict[str, Any]) -> bool:
    """Ours is present once, as we would write it, and no other entry of ours is."""
    if not isinstance(groups, list):
        return False
    ours = [h for g in groups if isinstance(g, dict) for h in _entries(g) if _mine(h)]
    return ours == group["hooks"] and group in groups


def _entries(group: dict[str, Any]) -> list[Any]:
    entries = group.get("hooks")
    return entries if isinstance(entries, list) else []


def _mine(entry: Any) -> bool:
    return isinstance(entry, dict) and is_ours(entry.get("command"))


def _without_ours(data: dict[str, Any]) -> dict[str, Any]:
    """The settings with our hook entries gone; what they leave empty goes with them."""
    hooks = _hooks_of(data)
    if not hooks:
        return data
    kept_hooks: dict[str, Any] = {}
    for event, groups in hooks.items():
        if event not in EVENTS or not isinstance(groups, list):
            kept_hooks[event] = groups
            continue
        kept_groups = []
        for group in groups:
            if not isinstance(group, dict) or not any(_mine(h) for h in _entries(group)):
                kept_groups.append(group)
                continue
            rest = [h for h in _entries(group) if not _mine(h)]
            if rest:
                kept_groups.append({**group, "hooks": rest})
        if kept_groups or not groups:
            kept_hooks[event] = kept_groups
    if kept_hooks or not hooks:
        return {**data, "hooks": kept_hooks}
    return {key: value for key, value in data.items() if key != "hooks"}


def _hooks_of(data: dict[str, Any]) -> dict[str, Any]:
    hooks = data.get("hooks", {})
    return hooks if isinstance(hooks, dict) else {}


def _load(path: Path) -> tuple[dict[str, Any], bytes, os.stat_result] | None:
    """The settings object, its bytes and status; None when there is no file yet."""
    try:
        # Without blocking: opening a FIFO to read waits for a writer, forever. A folder opens
        # too; fstat on the descriptor then refuses both, and a device, before any read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise RefusedError(f"{path} is not a regular file; nothing was changed.")
        with open(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_SETTINGS_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_SETTINGS_BYTES:
        raise RefusedError(
            f"{path} is larger than {MAX_SETTINGS_BYTES // 1024} KiB, too large for a settings "
            "file; nothing was changed."
        )
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float
        )
    except UnicodeDecodeError:
        raise RefusedError(f"{path} is not UTF-8 text; nothing was changed.") from None
    except json.JSONDecodeError as exc:
        raise RefusedError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix it and try again, nothing was changed."
        ) from None
    except _NotWritable as exc:
        raise RefusedError(f"{path} {exc}") from None
    except RecursionError:
        # The decoder recurses per level: a file of a hundred thousand `[` exhausts the stack.
        raise RefusedError(f"{path} nests JSON too deeply to read; nothing was changed.") from None
    except ValueError:
        # The decoder's one other ValueError: an integer longer than Python converts (4,300
        # digits).
        raise RefusedError(
            f"{path} holds a number too long to read; nothing was changed."
        ) from None
    if not isinstance(data, dict):
        raise RefusedError(f"{path} holds a JSON {_kind(data)}, not an object; nothing was changed.")
    if "hooks" in data and not isinstance(data["hooks"], dict):
        raise RefusedError(
            f'{path}: "hooks" is a JSON {_kind(data["hooks"])}, not an object; '
            "nothing was changed."
        )
    for event in EVENTS:
        groups = _hooks_of(data).get(event)
        if groups is not None and not isinstance(groups, list):
            raise RefusedError(
                f'{path}: "hooks.{event}" is a JSON {_kind(groups)}, not a list; '
                "nothing was changed."
            )
    return data, raw, status


class _NotWritable(ValueError):
    """A number styxy could read but would not write back as JSON Claude Code reads."""


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (Claude Code's JSON.parse refuses them), and written back
    # they would stay in the file.
    raise _NotWritable(
        f"is not valid JSON ({name} is not a number JSON allows); fix it and try again, "
        "nothing was changed."
    )


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        # 1e400 is JSON, but json.dumps would write it back as `Infinity`, which is not.
        shown = text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"
        raise _NotWritable(
            f"holds the number {shown}, too large to write back; nothing was changed."
        )
    return value


def _kind(value: Any) -> str:
    names = {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), "object")


def _store(
    path: Path,
    data: dict[str, Any],
    found: tuple[dict[str, Any], bytes, os.stat_result] | None,
) -> None:
    """Write in the file's own indentation and mode, through its symlink, atomically."""
    raw = b"" if found is None else found[1]
    text = json.dumps(data, indent=_indent(raw), ensure_ascii=False)
    if found is None or raw.endswith(b"\n"):
        text += "\n"
    # A settings file kept in a dotfiles repository is often a symlink: write its target.
    target = Path(os.path.realpath(path))
    mode = 0o644 if found is None else stat.S_IMODE(found[2].st_mode)
    if found is None:
        target.parent.mkdir(parents=True, exist_ok=True)
    files.write_bytes(target, text.encode("utf-8"), mode=mode)


def _indent(raw: bytes) -> str | int:
    """The indentation of the first indented line, so a user's formatting survives a round trip."""
    for line in raw.decode("utf-8", "replace").splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) < len(line):
            return line[: len(line) - len(stripped)]
    return 2
