"""The document: validate, init, doctor, and IANA lookups that validate warns with."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

from typing import Any

import typer

from styxy import output
from styxy.cli.common import (
    DocOption,
    JsonOption,
    doc_of,
    emit,
    notify,
    wants_json,
)
from styxy.errors import EXIT_FAILED

commands = typer.Typer()


@commands.command()
def validate(
    files: list[str] | None = typer.Argument(None, metavar="[FILE]..."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Check documents; PATH:LINE: message per problem; exit 1 on any error."""
    from styxy.api import config

    found = config.validate(files or [], doc=doc_of(doc), strict=strict)
    errors = [d for d in found if not d.warning]
    if wants_json(json):
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
    output.note(_validated(config.validation_targets(files or [], doc=doc_of(doc)), len(found)))


def _validated(targets: list[Any], warnings: int) -> str:
    """What `validate` checked when nothing is wrong, so silence is never the only answer."""
    from styxy.paths import display

    names = ", ".join(display(target) for target in targets)
    what = "front matter, ranges table and audit block"
    tail = f"; {warnings} warning{'s' * (warnings != 1)} above" if warnings else ""
    return f"checked {names}: {what} are valid{tail}."


@commands.command("iana")
def iana_command(
    query: str = typer.Argument(..., metavar="PORT|NAME|import"),
    source: str | None = typer.Argument(None, metavar="[FILE_OR_URL]"),
    json: bool = JsonOption,
) -> None:
    """IANA's assignments at PORT or for NAME; `iana import FILE_OR_URL` stores the registry."""
    from styxy.api import registry as iana
    from styxy.cli import render
    from styxy.errors import UsageError

    if query == "import":
        if source is None:
            raise UsageError(f"name the registry to import: a file, or {iana.IANA_URL}")
        from styxy.api.iana_import import import_registry

        imported = import_registry(source)
        emit(json, imported.to_json(), render.iana_imported(imported))
        return
    if source is not None:
        raise UsageError(f"unexpected argument {source!r}: only `iana import` takes a second one.")
    found = iana.lookup(query)
    emit(json, found.to_json(), render.iana_lookup(found))


@commands.command()
def init(
    force: bool = typer.Option(False, "--force", help="Replace an existing document."),
    doc: str | None = DocOption,
) -> None:
    """Write the default document."""
    from styxy.api import config
    from styxy.paths import display

    written = config.init(force=force, doc=doc_of(doc))
    output.note(f"wrote {display(written)} from the default")


@commands.command()
def doctor(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Paths, document health, leases, ephemeral range, interceptor status."""
    from styxy.api import doctor as doctor_module
    from styxy.cli.render import doctor_lines

    report = doctor_module.report(doc=doc_of(doc), notify=notify)
    emit(json, report.to_json(), doctor_lines(report))
    if not report.valid:
        raise typer.Exit(EXIT_FAILED)
