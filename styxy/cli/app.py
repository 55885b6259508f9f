"""The command line: typer lives here and nowhere else.

Each command parses its arguments, calls one plain function of the core, and hands the result
to `output`. `styxy.cli.boundary` is the one place where errors become messages and exit codes.
"""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each
# (about 4 ms on every run of the hot path).


import typer

from styxy import __version__, output
from styxy.cli import agents, document, interceptor, leases, projects, server, settings
from styxy.cli.common import DocOption, JsonOption, Options

app = typer.Typer(
    add_completion=False,  # added by the boundary only when asked for: see boundary._command
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Styxy: ends port conflicts on this machine.",
    epilog="Exit codes: 0 success, 1 refused or failed, 2 usage error, 130 interrupted; "
    "check: 0 free, 1 in use, 2 cannot tell.",
)
for group in (leases, projects, document, server, agents):
    app.registered_commands.extend(group.commands.registered_commands)
app.add_typer(settings.config_app, name="config")
app.add_typer(interceptor.interceptor_app, name="interceptor")
app.add_typer(agents.hooks_app, name="hooks")
app.add_typer(agents.hook_app, name="hook")


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
