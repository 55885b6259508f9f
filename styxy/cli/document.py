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
    ctx: typer.Context,
    query: str = typer.Argument(..., metavar="PORT|NAME|import"),
    source: str | None = typer.Argument(None, metavar="[FILE_OR_URL]"),
    doc: str | None = DocOption,  # accepted as everywhere; the registry is not the document's
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
    if query.strip().isascii() and query.strip().isdigit():
        # A port is checked by the one port type of every command: `iana 70000` is exit 2.
        from styxy.cli.common import PORT

        param = next(p for p in ctx.command.params if p.name == "query")
        PORT.convert(query, param, ctx)
    found = iana.lookup(query)
    emit(json, found.to_json(), render.iana_lookup(found))


@commands.command()
def init(
    force: bool = typer.Option(False, "--force", help="Replace an existing document."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Write the default document."""
    from styxy import notes, paths
    from styxy.api import config

    replaced = force and paths.resolve(doc_of(doc)).doc.exists()
    written = config.init(force=force, doc=doc_of(doc))
    shown = paths.display(written)
    said = notes.replaced_document(shown) if replaced else notes.created_document(shown)
    if wants_json(json):
        output.as_json({"document": str(written), "replaced": replaced})
    else:
        output.note(said)


@commands.command()
def doctor(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Paths, document health, leases, ephemeral range, interceptor status."""
    from styxy.api import doctor as doctor_module
    from styxy.cli.render import doctor_lines

    report = doctor_module.report(doc=doc_of(doc), notify=notify)
    emit(json, report.to_json(), doctor_lines(report))
    if not report.valid:
        raise typer.Exit(EXIT_FAILED)
