"""The command line: typer lives here and nowhere else.

Each command parses its arguments, calls one plain function of the core, and hands the result
to `output`. `styxy.cli.boundary` is the one place where errors become messages and exit codes.
"""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each
# (about 4 ms on every run of the hot path).

import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import typer
from typer._click.core import Context, Parameter
from typer._click.globals import get_current_context
from typer._click.types import ParamType

from styxy import __version__, output
from styxy.cli import prompt
from styxy.errors import EXIT_FAILED
from styxy.vocabulary import MAX_PORT

app = typer.Typer(
    add_completion=False,  # added by the boundary only when asked for: see boundary._command
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Styxy: ends port conflicts on this machine.",
    epilog="Exit codes: 0 success, 1 refused or failed, 2 usage error, 130 interrupted; "
    "check: 0 free, 1 in use, 2 cannot tell.",
)
config_app = typer.Typer(no_args_is_help=True, help="Read and change settings and rules.")
interceptor_app = typer.Typer(no_args_is_help=True, help="The bind() interceptor (LD_PRELOAD).")
hooks_app = typer.Typer(no_args_is_help=True, help="Install styxy's hooks into an AI agent.")
hook_app = typer.Typer(
    no_args_is_help=True, help="The handlers an agent's hooks run (event JSON on stdin)."
)
app.add_typer(config_app, name="config")
app.add_typer(interceptor_app, name="interceptor")
app.add_typer(hooks_app, name="hooks")
app.add_typer(hook_app, name="hook")


class PortType(ParamType):
    """A port number, checked where it is parsed: `-p 0`, `-p 70000` and `-p abc` are all
    usage errors (exit 2), in the same words."""

    name = "port"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> int:
        try:
            port = int(value)
        except (TypeError, ValueError):
            port = 0
        if isinstance(value, bool) or not 1 <= port <= MAX_PORT or str(port) != str(value).strip():
            self.fail(f"{value!r} is not a port number from 1 to {MAX_PORT}", param, ctx)
        return port


PORT = PortType()
PortOption = typer.Option(None, "-p", "--port", click_type=PORT)
DocOption = typer.Option(
    None, "--doc", help="The document (default: $STYXY_DOC, ~/docs/CORE/PORT_MANAGEMENT.md)."
)
JsonOption = typer.Option(False, "--json", help="One JSON object on stdout.")


@dataclass(frozen=True)
class Options:
    """The options given before the subcommand: the root context's `obj`."""

    doc: str | None = None
    json: bool = False


def _root() -> Options:
    obj = get_current_context().find_root().obj
    return obj if isinstance(obj, Options) else Options()


def _doc(doc: str | None) -> str | None:
    """`--doc` after the subcommand wins over `--doc` before it."""
    return doc or _root().doc


def _json(flag: bool) -> bool:
    return flag or _root().json


def _version(value: bool) -> None:
    if value:
        output.result(f"styxy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    doc: str | None = DocOption,
    json: bool = JsonOption,
    version: bool = typer.Option(
        False, "-V", "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    ctx.obj = Options(doc, json)


@app.command()
def allocate(
    service_type: str = typer.Option(..., "-s", "--service-type", help="Service type, e.g. dev."),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    name: str = typer.Option("", "-n", "--name"),
    port: int | None = typer.Option(
        None, "-p", "--port", click_type=PORT, help="Try this port first."
    ),
    pid: int | None = typer.Option(
        None, "--pid", min=1, help="Holder process (default: the parent)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Accept a proposed new range."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Allocate a port; stdout is the port alone, or JSON."""
    from styxy import api

    result = api.allocate(
        service_type,
        instance_id=instance_id,
        name=name,
        port=port,
        pid=pid,
        yes=yes,
        confirm=prompt.confirm if sys.stdin.isatty() else None,
        source="cli",
        doc=_doc(doc),
        notify=_notify,
    )
    _report(json, result.to_json(), str(result.lease.port))


@app.command()
def release(
    lock_id: str | None = typer.Argument(None, metavar="[LOCK_ID]"),
    port: int | None = PortOption,
    service_type: str | None = typer.Option(None, "-s", "--service-type"),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    name: str | None = typer.Option(None, "-n", "--name"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """End a lease: LOCK_ID, -p PORT, -s TYPE [-i I] [-n N]; or -i I alone for all of I's."""
    from styxy import api
    from styxy.cli.render import released_lines

    if lock_id is None and port is None and service_type is None and instance_id is not None:
        ended = api.release_instance(instance_id, name=name, doc=_doc(doc), notify=_notify)
        text = released_lines(ended) or f"no leases of instance {instance_id!r}"
        _report(json, {"released": [lease.to_json() for lease in ended]}, text)
        return
    lease = api.release(
        lock_id,
        port=port,
        service_type=service_type,
        instance_id=instance_id,
        name=name or "",
        doc=_doc(doc),
        notify=_notify,
    )
    _report(json, lease.to_json(), released_lines([lease]))


@app.command("list")
def list_(
    verbose: bool = typer.Option(
        False, "-v", "--verbose", help="Holder, command line, age, source."
    ),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Live leases."""
    from styxy import api
    from styxy.cli.render import lease_table

    found = api.list_leases(verbose=verbose, doc=_doc(doc), notify=_notify)
    _report(json, {"leases": [item.to_json() for item in found]}, lease_table(found, verbose))


@app.command()
def check(
    port: int = typer.Argument(..., click_type=PORT),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Is PORT free? Exit 0 free, 1 in use, 2 when styxy cannot tell (as grep)."""
    from styxy import api
    from styxy.cli.render import port_check
    from styxy.errors import StyxyError, cannot_answer, os_error_sentence

    try:
        result = api.check(port, doc=_doc(doc), notify=_notify)
    except StyxyError as exc:
        raise cannot_answer(exc) from exc
    except OSError as exc:
        raise cannot_answer(StyxyError(os_error_sentence(exc))) from exc
    _report(json, result.to_json(), port_check(result))
    if not result.free:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def scan(
    start: int = typer.Option(1, "--start", click_type=PORT),
    end: int = typer.Option(MAX_PORT, "--end", click_type=PORT),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Listeners in a port span, with their processes and leases."""
    from styxy import api
    from styxy.cli.render import scan_table

    result = api.scan(start=start, end=end, doc=_doc(doc), notify=_notify)
    _report(json, result.to_json(), scan_table(result))


@app.command()
def cleanup(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; change nothing."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Reap stale leases now and say which."""
    from styxy import api
    from styxy.cli.render import reaped_lines

    reaped = api.cleanup(dry_run=dry_run, doc=_doc(doc), notify=_notify)
    _report(json, {"reaped": [lease.to_json() for lease in reaped]}, reaped_lines(reaped, dry_run))


@app.command()
def ranges(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Every range: type, span, instances, leased, listening and free ports, and a bar."""
    from styxy import api
    from styxy.cli.render import ranges_map

    report = api.ranges(doc=_doc(doc), notify=_notify)
    _report(json, report.to_json(), ranges_map(report, colour=output.stdout_in_colour()))


@app.command()
def use(
    port: int | None = PortOption,
    service_type: str | None = typer.Option(None, "-s", "--service-type"),
    name: str | None = typer.Option(None, "-n", "--name"),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Port and holder of a running service (-p PORT, or -s TYPE / -n NAME [-i I]); exit 1 if none."""
    from styxy import api

    lease = api.use(
        port=port,
        service_type=service_type,
        name=name,
        instance_id=instance_id,
        doc=_doc(doc),
        notify=_notify,
    )
    if not _json(json):
        output.note(f"{lease.serviceType} is running on port {lease.port} (process {lease.pid})")
    _report(json, lease.to_json(), str(lease.port))


ProjectOption = typer.Option(
    None,
    "--project",
    metavar="[DIR]",
    help="The project in DIR (default: the nearest styxy.toml above the current folder).",
)


def project_default(argv: list[str]) -> list[str]:
    """`--project` without DIR (at the end, or before `--` or an option) means "find it".

    typer has no options with an optional value, so an empty DIR stands for the project
    around the current folder. Only words before the first `--` are looked at: the child's
    command is never touched.
    """
    words = list(argv)
    stop = words.index("--") if "--" in words else len(words)
    command = next((i for i, word in enumerate(words[:stop]) if word in ("env", "run")), stop)
    for index in range(stop - 1, command, -1):
        if words[index] == "--project" and (index + 1 >= stop or words[index + 1].startswith("-")):
            words.insert(index + 1, "")
    return words


class EnvFormat(StrEnum):
    dotenv = "dotenv"
    sh = "sh"
    json = "json"


@app.command("env")
def env_command(
    project: str | None = ProjectOption,
    format_: EnvFormat | None = typer.Option(
        None, "--format", help="dotenv (NAME=value, the default), sh (export lines) or json."
    ),
    write: str | None = typer.Option(
        None, "--write", metavar="FILE", help="Put the variables in styxy's block of FILE (.env)."
    ),
    release_: bool = typer.Option(False, "--release", help="End the project's leases."),
    pid: int | None = typer.Option(
        None, "--pid", min=1, help="Holder process (default: the parent)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Accept a proposed new range."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """One port per service of styxy.toml: NAME_PORT and NAME_URL for each."""
    import styxy.project as project_module
    from styxy.project import envfile
    from styxy.project.files import shown

    if release_:
        if write is not None or format_ is not None or pid is not None:
            from styxy.errors import UsageError

            raise UsageError(
                "--release ends the project's leases; it takes no --write, --format or --pid."
            )
        ended = project_module.release(project or None, doc=_doc(doc), notify=_notify)
        if not ended.released and not _json(json):
            output.note(f"project {ended.project_id} holds no leases.")
        lines = [f"released {x.name} ({x.serviceType}) port {x.port}" for x in ended.released]
        _report(json, ended.to_json(), "\n".join(lines))
        return
    found = project_module.env(
        project or None,
        write=write,
        pid=pid,
        yes=yes,
        confirm=prompt.confirm if sys.stdin.isatty() else None,
        doc=_doc(doc),
        notify=_notify,
    )
    if found.written is not None and not _json(json):
        done = "wrote" if found.write_outcome == "written" else "unchanged:"
        output.note(f"{done} {shown(found.written)} ({len(found.variables)} variables)")
    if _json(json) or format_ is EnvFormat.json:
        output.as_json(found.to_json())
    elif format_ is EnvFormat.sh:
        output.result("\n".join(envfile.sh_lines(found.variables)))
    elif format_ is EnvFormat.dotenv or write is None:
        output.result("\n".join(envfile.dotenv_lines(found.variables)))


@app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_command(
    service_type: str | None = typer.Option(None, "-s", "--service-type"),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    name: str = typer.Option("", "-n", "--name"),
    intercept: bool = typer.Option(False, "--intercept", help="Preload the bind() interceptor."),
    project: str | None = ProjectOption,
    doc: str | None = DocOption,
    # Only styxy's before `--` (errors as JSON); stdout is the child's. After `--` every word,
    # `--json` included, is the command's.
    json: bool = JsonOption,
    command: list[str] = typer.Argument(None, metavar="-- CMD [ARGS]..."),
) -> None:
    """Run CMD with a port in $PORT (or a project's ports); release when CMD ends; exit with CMD's code."""
    from styxy.api import runner
    from styxy.errors import UsageError

    if project is not None:
        if service_type is not None or instance_id is not None or name or intercept:
            raise UsageError(
                "--project runs with the project's own services; it takes no -s, -i, -n or --intercept."
            )
        import styxy.project as project_module

        raise typer.Exit(
            project_module.run(project or None, command or [], doc=_doc(doc), notify=_notify)
        )
    if service_type is None:
        raise UsageError("give -s TYPE, or --project [DIR] to run with a project's ports.")
    code = runner.run(
        service_type,
        command or [],
        instance_id=instance_id,
        name=name,
        intercept=intercept,
        doc=_doc(doc),
        notify=_notify,
    )
    raise typer.Exit(code)


@app.command()
def validate(
    files: list[str] | None = typer.Argument(None, metavar="[FILE]..."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Check documents; PATH:LINE: message per problem; exit 1 on any error."""
    from styxy.api import config

    found = config.validate(files or [], doc=_doc(doc), strict=strict)
    errors = [d for d in found if not d.warning]
    if _json(json):
        output.as_json(
            {
                "valid": not errors,
                "diagnostics": [
                    {"path": d.path, "line": d.line, "message": d.message, "warning": d.warning}
                    for d in found
                ],
            }
        )
    else:
        for item in found:
            output.diagnostic(str(item))
    if errors:
        raise typer.Exit(EXIT_FAILED)
    output.note(_validated(config.validation_targets(files or [], doc=_doc(doc)), len(found)))


def _validated(targets: list[Any], warnings: int) -> str:
    """What `validate` checked when nothing is wrong, so silence is never the only answer."""
    from styxy.paths import display

    names = ", ".join(display(target) for target in targets)
    what = "front matter, ranges table and audit block"
    tail = f"; {warnings} warning{'s' * (warnings != 1)} above" if warnings else ""
    return f"checked {names}: {what} are valid{tail}."


@app.command("iana")
def iana_command(
    query: str = typer.Argument(..., metavar="PORT|NAME|import"),
    source: str | None = typer.Argument(None, metavar="[FILE_OR_URL]"),
    json: bool = JsonOption,
) -> None:
    """IANA's assignments at PORT or for NAME; `iana import FILE_OR_URL` stores the registry."""
    from styxy.cli import render
    from styxy.errors import UsageError
    from styxy.system import iana

    if query == "import":
        if source is None:
            raise UsageError(f"name the registry to import: a file, or {iana.IANA_URL}")
        from styxy.api.iana_import import import_registry

        imported = import_registry(source)
        _report(json, imported.to_json(), render.iana_imported(imported))
        return
    if source is not None:
        raise UsageError(f"unexpected argument {source!r}: only `iana import` takes a second one.")
    found = iana.lookup(query)
    _report(json, found.to_json(), render.iana_lookup(found))


@app.command()
def init(
    force: bool = typer.Option(False, "--force", help="Replace an existing document."),
    doc: str | None = DocOption,
) -> None:
    """Write the default document."""
    from styxy.api import config
    from styxy.paths import display

    written = config.init(force=force, doc=_doc(doc))
    output.note(f"wrote {display(written)} from the default")


@app.command()
def doctor(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Paths, document health, leases, ephemeral range, interceptor status."""
    from styxy.api import doctor as doctor_module
    from styxy.cli.render import doctor_lines

    report = doctor_module.report(doc=_doc(doc), notify=_notify)
    _report(json, report.to_json(), doctor_lines(report))
    if not report.valid:
        raise typer.Exit(EXIT_FAILED)


@config_app.command("show")
def config_show(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """All settings."""
    from styxy.api import config
    from styxy.cli.render import settings_text

    settings = config.show(doc=_doc(doc), notify=_notify).to_json()
    _report(json, settings, settings_text(settings))


@config_app.command("get")
def config_get(
    key: str = typer.Argument(..., metavar="KEY"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """One setting, e.g. auto-allocation.placement."""
    from styxy.api import config
    from styxy.cli.render import value_text

    value = config.get(key, doc=_doc(doc), notify=_notify)
    _report(json, {"key": key, "value": value}, value_text(value))


# Negative numbers are values here (`lease-grace-seconds -5` must be refused for its meaning,
# not mistaken for an option), so unknown dash words pass through as arguments.
@config_app.command("set", context_settings={"ignore_unknown_options": True})
def config_set(
    key: str = typer.Argument(..., metavar="KEY"),
    value: str = typer.Argument(..., metavar="VALUE"),
    chunk_size: int | None = typer.Option(None, "--chunk-size"),
    placement: str | None = typer.Option(None, "--placement"),
    preferred_range: int | None = typer.Option(None, "--preferred-range"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Change a setting (KEY VALUE), or add a rule: auto-allocation-rule PATTERN [options]."""
    from styxy.api import config
    from styxy.cli.render import value_text
    from styxy.errors import UsageError

    if key == "auto-allocation-rule":
        config.set_rule(
            value,
            chunk_size=chunk_size,
            placement=placement,
            preferred_range_start=preferred_range,
            doc=_doc(doc),
            notify=_notify,
        )
        _report(
            json,
            {
                "rule": value,
                "chunkSize": chunk_size,
                "placement": placement,
                "preferredRangeStart": preferred_range,
            },
            f"rule {value} set",
        )
        return
    if chunk_size is not None or placement is not None or preferred_range is not None:
        raise UsageError(
            "--chunk-size, --placement and --preferred-range go with `auto-allocation-rule PATTERN`."
        )
    new = config.set_value(key, value, doc=_doc(doc), notify=_notify)
    _report(json, {"key": key, "value": new}, f"{key} = {value_text(new)}")


@config_app.command("unset")
def config_unset(
    key: str = typer.Argument(..., metavar="auto-allocation-rule"),
    pattern: str = typer.Argument(..., metavar="PATTERN"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Remove a rule: auto-allocation-rule PATTERN."""
    from styxy.api import config
    from styxy.errors import UsageError

    if key != "auto-allocation-rule":
        raise UsageError("only `config unset auto-allocation-rule PATTERN` exists.")
    config.unset_rule(pattern, doc=_doc(doc), notify=_notify)
    _report(json, {"removed": pattern}, f"rule {pattern} removed")


@config_app.command("auto-allocation")
def config_auto_allocation(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Settings, rules, auto-allocated ranges, recent audit lines."""
    from styxy.api import config
    from styxy.cli.render import auto_allocation_text

    info = config.auto_allocated(doc=_doc(doc), notify=_notify)
    _report(json, info.to_json(), auto_allocation_text(info))


@config_app.command("undo-auto")
def config_undo_auto(
    service_type: str | None = typer.Option(None, "-s", "--service-type"),
    all_ranges: bool = typer.Option(False, "--all"),
    force: bool = typer.Option(False, "--force", help="Also end live leases in the range."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Remove the newest auto-allocated range (or T's, or all)."""
    from styxy.api import config

    undo = config.undo_auto(
        service_type=service_type, all_ranges=all_ranges, force=force, doc=_doc(doc), notify=_notify
    )
    lines = [f"removed {t} {a}-{b}" for t, (a, b) in undo.removed]
    lines += [f"ended lease {x.lockId} on port {x.port}" for x in undo.ended]
    _report(json, undo.to_json(), "\n".join(lines))


@app.command()
def serve(
    port: int = typer.Option(9876, "--port", click_type=PORT, help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="127.0.0.1, ::1 or localhost."),
    doc: str | None = DocOption,
) -> None:
    """Serve the HTTP API and the dashboard on loopback (extra styxy[server])."""
    from styxy.paths import display
    from styxy.server.serve import serve as run_server

    def announce(listening: Any) -> None:
        # The URL is the result (stdout), printed once the server can answer it.
        output.result(listening.url)
        sys.stdout.flush()
        output.note(
            f"serving {display(listening.doc)}; token in {display(listening.token_file)}; "
            "Ctrl-C stops"
        )

    run_server(host=host, port=port, doc=_doc(doc), announce=announce, notify=_notify)


@interceptor_app.command("build")
def interceptor_build(
    force: bool = typer.Option(False, "--force", help="Rebuild even if present."),
) -> None:
    """Compile the preload library with the system C compiler."""
    from styxy.api import interceptor

    output.result(str(interceptor.build(force=force)))


@interceptor_app.command("path")
def interceptor_path() -> None:
    """Print the path of the built library."""
    from styxy.api import interceptor

    output.result(str(interceptor.library_path()))


@interceptor_app.command("env")
def interceptor_env(doc: str | None = DocOption) -> None:
    """Print `export` lines for eval: LD_PRELOAD and STYXY_CACHE."""
    from styxy import api, paths
    from styxy.api import interceptor

    where = paths.resolve(_doc(doc))
    # Any command that takes the lock writes the cache, so this creates it when missing.
    api.sync(doc=_doc(doc), notify=_notify)
    library, fresh = interceptor.ensure_built()
    if fresh:
        output.note(f"built the interceptor at {library}")
    for line in interceptor.env_lines(where.cache):
        output.result(line)


@interceptor_app.command("dump")
def interceptor_dump(doc: str | None = DocOption) -> None:
    """Show the compiled cache in words."""
    from styxy import api, paths
    from styxy.store import cache

    where = paths.resolve(_doc(doc))
    api.sync(doc=_doc(doc), notify=_notify)
    output.result(cache.describe(cache.read(where.cache)))


@app.command("mcp")
def mcp_command(doc: str | None = DocOption) -> None:
    """Serve the Model Context Protocol on stdio (needs styxy[agents])."""
    from styxy.agents import mcp

    mcp.serve(doc=_doc(doc))


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

        settings = claude_code.hooks_settings(interceptor=interceptor, doc=_doc(doc))
        # Indented like a settings file, ready to paste into one.
        output.result(json_module.dumps(settings, indent=2, ensure_ascii=False))
        return
    path = claude_code.settings_path(claude_code.check_scope(scope))
    if install:
        change = claude_code.install(path, interceptor=interceptor, doc=_doc(doc))
    else:
        change = claude_code.uninstall(path)
    said = {
        "installed": "added styxy's SessionStart and SessionEnd hooks to",
        "updated": "updated styxy's SessionStart and SessionEnd hooks in",
        "unchanged": "styxy's hooks are already in",
        "removed": "removed styxy's hooks from",
        "absent": "there are no styxy hooks in",
    }[change.outcome]
    _report(json, change.to_json(), f"{said} {display(change.path)}")


# Claude Code must never be blocked by a hook (exit 2 would), so the handlers accept and
# ignore unknown words and turn every problem into a warning on stderr and exit 0.
_LENIENT = {"ignore_unknown_options": True, "allow_extra_args": True}


@hook_app.command("session-start", context_settings=_LENIENT)
def hook_session_start(
    ctx: typer.Context,
    interceptor: bool = typer.Option(False, "--interceptor", help="Export the interceptor too."),
    doc: str | None = DocOption,
) -> None:
    """SessionStart: export STYXY_INSTANCE_ID to $CLAUDE_ENV_FILE, print the context."""
    import os

    from styxy.agents import session_hooks

    _hook_extras(ctx.args)
    raw = _hook_stdin()
    outcome = session_hooks.session_start(
        raw, interceptor=interceptor, doc=_doc(doc), env_file=os.environ.get("CLAUDE_ENV_FILE")
    )
    _hook_done(outcome)


@hook_app.command("session-end", context_settings=_LENIENT)
def hook_session_end(ctx: typer.Context, doc: str | None = DocOption) -> None:
    """SessionEnd: end every lease of the session's instance id."""
    from styxy.agents import session_hooks

    _hook_extras(ctx.args)
    outcome = session_hooks.session_end(_hook_stdin(), doc=_doc(doc))
    _hook_done(outcome)


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


def _hook_done(outcome: Any) -> None:
    for warning in outcome.warnings:
        output.note(f"warning: {warning}")
    value = outcome.to_json()
    if value is not None:
        output.as_json(value)


def _report(json_flag: bool, value: Any, text: str) -> None:
    if _json(json_flag):
        output.as_json(value)
    elif text:
        output.result(text)


def _notify(text: str) -> None:
    from styxy.vocabulary import Notice

    # A line whose wording the spec fixes is shown as it is; any other is a `styxy:` note.
    if isinstance(text, Notice):
        output.message(text)
    else:
        output.note(text)
