"""AI coding agents: `styxy mcp`, `styxy hooks claude-code` and the `styxy hook` handlers.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any


def mcp(doc: str | None, json: bool) -> None:
    """Serve the Model Context Protocol on stdio (needs the extra 'agents')."""
    from styxy.agents import mcp

    mcp.serve(doc=doc)


def hooks_claude_code(
    interceptor: bool,
    install: bool,
    uninstall: bool,
    scope: str,
    doc: str | None,
    json: bool,
) -> None:
    """Print Claude Code's SessionStart/SessionEnd hooks as settings JSON, or install them."""
    from styxy.agents import claude_code
    from styxy.errors import UsageError
    from styxy.paths import display

    if install and uninstall:
        raise UsageError("--install and --uninstall go alone: choose one.")
    if not (install or uninstall):
        if scope != "project":
            raise UsageError("--scope goes with --install or --uninstall.")
        import json as json_module

        settings = claude_code.hooks_settings(interceptor=interceptor, doc=doc)
        # Indented like a settings file, ready to paste into one.
        output.result(json_module.dumps(settings, indent=2, ensure_ascii=False))
        return
    path = claude_code.settings_path(claude_code.check_scope(scope))
    if install:
        change = claude_code.install(path, interceptor=interceptor, doc=doc)
    else:
        change = claude_code.uninstall(path)
    said = {
        "installed": "added styxy's SessionStart and SessionEnd hooks to",
        "updated": "updated styxy's SessionStart and SessionEnd hooks in",
        "unchanged": "styxy's hooks are already in",
        "removed": "removed styxy's hooks from",
        "absent": "there are no styxy hooks in",
    }[change.outcome]
    emit(json, change.to_json(), f"{said} {display(change.path)}")


def session_start(interceptor: bool, doc: str | None, json: bool, extra: list[str]) -> None:
    """SessionStart: export STYXY_INSTANCE_ID to $CLAUDE_ENV_FILE, print the context."""
    import os

    from styxy.agents import session_hooks

    _hook_extras(extra)
    raw = _hook_stdin()
    outcome = session_hooks.session_start(
        raw, interceptor=interceptor, doc=doc, env_file=os.environ.get("CLAUDE_ENV_FILE")
    )
    _hook_done(outcome, json)


def session_end(doc: str | None, json: bool, extra: list[str]) -> None:
    """SessionEnd: end every lease of the session's instance id."""
    from styxy.agents import session_hooks

    _hook_extras(extra)
    outcome = session_hooks.session_end(_hook_stdin(), doc=doc)
    _hook_done(outcome, json)


def _hook_extras(extra: list[str]) -> None:
    if extra:
        output.note(f"warning: ignored unknown arguments: {' '.join(extra)}")


def _hook_stdin() -> bytes:
    import sys

    from styxy.agents import session_hooks

    try:
        return session_hooks.read_event(sys.stdin.fileno())
    except (OSError, ValueError) as exc:
        output.note(f"warning: cannot read the hook event on standard input ({exc}).")
        return b""


def _hook_done(outcome: Any, json: bool) -> None:
    for warning in outcome.warnings:
        output.note(f"warning: {warning}")
    value = outcome.to_json()
    if value is not None:
        output.as_json(value)
    elif json:
        output.as_json({})  # nothing for Claude Code to read; still one object for --json
