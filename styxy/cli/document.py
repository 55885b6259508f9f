"""The document: validate, init, doctor, and IANA lookups that validate warns with.

Plain functions: `styxy.cli.table` declares their options (see `styxy.cli.leases`).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit, notify
from styxy.errors import EXIT_FAILED

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any


def validate(files: list[str], strict: bool, doc: str | None, json: bool) -> int:
    """Check documents; PATH:LINE: message per problem; exit 1 on any error."""
    from styxy.api import config

    found = config.validate(files, doc=doc, strict=strict)
    errors = [d for d in found if not d.warning]
    if json:
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
        return EXIT_FAILED
    output.note(_validated(config.validation_targets(files, doc=doc), len(found)))
    return 0


def _validated(targets: list[Any], warnings: int) -> str:
    """What `validate` checked when nothing is wrong, so silence is never the only answer."""
    from styxy.paths import display

    names = ", ".join(display(target) for target in targets)
    what = "front matter, ranges table and audit block"
    tail = f"; {warnings} warning{'s' * (warnings != 1)} above" if warnings else ""
    return f"checked {names}: {what} are valid{tail}."


def iana(query: str, source: str | None, doc: str | None, json: bool) -> None:
    """IANA's assignments at PORT or for NAME; `iana import FILE_OR_URL` stores the registry.

    `doc` is accepted as on every command; the registry is not the document's.
    """
    from styxy.api import registry
    from styxy.cli import render
    from styxy.errors import UsageError

    if query == "import":
        if source is None:
            raise UsageError(f"name the registry to import: a file, or {registry.IANA_URL}")
        from styxy.api.iana_import import import_registry

        imported = import_registry(source)
        emit(json, imported.to_json(), render.iana_imported(imported))
        return
    if source is not None:
        raise UsageError(f"unexpected argument {source!r}: only `iana import` takes a second one.")
    if query.strip().isascii() and query.strip().isdigit():
        # A port is checked as every port argument is: `iana 70000` is exit 2, as `check`.
        from styxy import refusals
        from styxy.cli.common import as_number

        refusals.port("PORT", as_number(query))
    found = registry.lookup(query)
    emit(json, found.to_json(), render.iana_lookup(found))


def init(force: bool, doc: str | None, json: bool) -> None:
    """Write the default document."""
    from styxy import notes, paths
    from styxy.api import config

    replaced = force and paths.resolve(doc).doc.exists()
    written = config.init(force=force, doc=doc)
    shown = paths.display(written)
    said = notes.replaced_document(shown) if replaced else notes.created_document(shown)
    if json:
        output.as_json({"document": str(written), "replaced": replaced})
    else:
        output.note(said)


def doctor(doc: str | None, json: bool) -> int:
    """Paths, document health, leases, ephemeral range, interceptor status."""
    from styxy.api import doctor as doctor_module
    from styxy.cli.render import doctor_lines

    report = doctor_module.report(doc=doc, notify=notify)
    emit(json, report.to_json(), doctor_lines(report))
    return 0 if report.valid else EXIT_FAILED
