"""AI coding agents: `styxy mcp`, `styxy hooks claude-code` and the `styxy hook` handlers."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

import sys
from typing import Any

import typer

from styxy import output
from styxy.cli.common import (
    DocOption,
    JsonOption,
    doc_of,
    emit,
    wants_json,
)

commands = typer.Typer()


hooks_app = typer.Typer(no_args_is_help=True, help="Install styxy's hooks into an AI agent.")
hook_app = typer.Typer(
    no_args_is_help=True, help="The handlers an agent's hooks run (event JSON on stdin)."
)


@commands.command("mcp")
def mcp_command(
    doc: str | None = DocOption,
    # Accepted as everywhere: stdout is the protocol's JSON-RPC, and a refusal is one JSON object.
    json: bool = JsonOption,
) -> None:
    """Serve the Model Context Protocol on stdio (needs the extra 'agents')."""
    from styxy.agents import mcp

    mcp.serve(doc=doc_of(doc))


@hooks_app.command("claude-code")
def hooks_claude_code(
    interceptor: bool = typer.Option(
        False, "--interceptor", help="Also export LD_PRELOAD and STYXY_CACHE to the session."
    ),
    install: bool = typer.Option(False, "--install", help="Merge the hooks into a settings file."),
    uninstall: bool = typer.Option(
        False, "--uninstall", help="Remove styxy's hooks, and only those, from a settings file."
    ),
    scope: str = typer.Option(
        "project",
        "--scope",
        help="project: .claude/settings.json, user: ~/.claude/settings.json, "
        "local: .claude/settings.local.json.",
    ),
    doc: str | None = DocOption,
    json: bool = JsonOption,
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

        settings = claude_code.hooks_settings(interceptor=interceptor, doc=doc_of(doc))
        # Indented like a settings file, ready to paste into one.
        output.result(json_module.dumps(settings, indent=2, ensure_ascii=False))
        return
    path = claude_code.settings_path(claude_code.check_scope(scope))
    if install:
        change = claude_code.install(path, interceptor=interceptor, doc=doc_of(doc))
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


# Claude Code must never be blocked by a hook (exit 2 would), so the handlers accept and
# ignore unknown words and turn every problem into a warning on stderr and exit 0.
_LENIENT = {"ignore_unknown_options": True, "allow_extra_args": True}


@hook_app.command("session-start", context_settings=_LENIENT)
def hook_session_start(
    ctx: typer.Context,
    interceptor: bool = typer.Option(False, "--interceptor", help="Export the interceptor too."),
    doc: str | None = DocOption,
    json: bool = JsonOption,  # the answer is JSON already
) -> None:
    """SessionStart: export STYXY_INSTANCE_ID to $CLAUDE_ENV_FILE, print the context."""
    import os

    from styxy.agents import session_hooks

    _hook_extras(ctx.args)
    raw = _hook_stdin()
    outcome = session_hooks.session_start(
        raw, interceptor=interceptor, doc=doc_of(doc), env_file=os.environ.get("CLAUDE_ENV_FILE")
    )
    _hook_done(outcome, json)


@hook_app.command("session-end", context_settings=_LENIENT)
def hook_session_end(
    ctx: typer.Context, doc: str | None = DocOption, json: bool = JsonOption
) -> None:
    """SessionEnd: end every lease of the session's instance id."""
    from styxy.agents import session_hooks

    _hook_extras(ctx.args)
    outcome = session_hooks.session_end(_hook_stdin(), doc=doc_of(doc))
    _hook_done(outcome, json)


def _hook_extras(extra: list[str]) -> None:
    if extra:
        output.note(f"warning: ignored unknown arguments: {' '.join(extra)}")


def _hook_stdin() -> bytes:
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
    elif wants_json(json):
        output.as_json({})  # nothing for Claude Code to read; still one object for --json
