"""Settings, rules, undo of auto-allocations, init, validate and doctor."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from styxy import paths
from styxy.api.reports import AutoAllocationReport, AutoRange, SettingsReport, Undo
from styxy.errors import Diagnostic, DocumentError, NotFoundError, RefusedError, UsageError
from styxy.records import replace
from styxy.store.leases import Lease
from styxy.store.transaction import Transaction, run_change

if TYPE_CHECKING:
    from styxy.document.model import Document
    from styxy.store.snapshot import Snapshot

Doc = str | os.PathLike[str] | None
Notify = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def show(*, doc: Doc = None, notify: Notify = _quiet) -> SettingsReport:
    return SettingsReport(_read(doc, notify).parsed().document.settings)


def get(key: str, *, doc: Doc = None, notify: Notify = _quiet) -> object:
    from styxy import document

    return document.get_setting(_read(doc, notify).parsed().document, key)


def _read(doc: Doc, notify: Notify) -> Snapshot:
    """Read-only: no lock (SPEC section 10); the notes are said before any refusal."""
    from styxy.store import snapshot

    seen = snapshot.load(paths.resolve(doc))
    for note in seen.notes:
        notify(note)
    return seen


def set_value(key: str, value: str, *, doc: Doc = None, notify: Notify = _quiet) -> object:
    from styxy import document

    def change(txn: Transaction) -> object:
        txn.replace_text(document.set_setting(txn.parsed(), key, value))
        return document.get_setting(txn.document, key)

    return run_change(paths.resolve(doc), change, notify=notify)


def set_rule(
    pattern: str,
    *,
    chunk_size: int | None = None,
    placement: str | None = None,
    preferred_range_start: int | None = None,
    doc: Doc = None,
    notify: Notify = _quiet,
) -> None:
    from styxy import document

    def change(txn: Transaction) -> None:
        text = document.set_rule(
            txn.parsed(),
            pattern,
            chunk_size=chunk_size,
            placement=placement,
            preferred_range_start=preferred_range_start,
        )
        txn.replace_text(text)

    run_change(paths.resolve(doc), change, notify=notify)


def unset_rule(pattern: str, *, doc: Doc = None, notify: Notify = _quiet) -> None:
    from styxy import document

    def change(txn: Transaction) -> None:
        txn.replace_text(document.unset_rule(txn.parsed(), pattern))

    run_change(paths.resolve(doc), change, notify=notify)


def auto_allocated(*, doc: Doc = None, notify: Notify = _quiet) -> AutoAllocationReport:
    """Settings, rules, the auto-allocated ranges still present, and the last audit lines."""
    current = _read(doc, notify).parsed().document
    return AutoAllocationReport(
        settings=current.settings,
        ranges=tuple(_auto_ranges(current)),
        audit=tuple(entry.text for entry in current.audit[-10:]),
    )


def _auto_ranges(current: Document) -> list[AutoRange]:
    """Rows an auto-allocation created and no undo removed, oldest first.

    A row counts only when the audit log says styxy created it with exactly this span: a
    person's row of the same name (written after removing styxy's, or merely described as
    "Auto-allocated") is not styxy's to remove.
    """
    created: dict[str, tuple[str, tuple[int, int] | None]] = {}
    for entry in current.audit:
        if entry.action == "auto-allocate":
            created[entry.service_type] = (entry.text.split()[0][:10], entry.span)
        elif entry.action == "undo-auto":
            created.pop(entry.service_type, None)
    found = []
    for name, (date, span) in created.items():
        row = current.range_of(name)
        if row is not None and span == (row.start, row.end):
            found.append(AutoRange(name, row.start, row.end, date))
    return found


def undo_auto(
    *,
    service_type: str | None = None,
    all_ranges: bool = False,
    force: bool = False,
    doc: Doc = None,
    notify: Notify = _quiet,
) -> Undo:
    from styxy import document, names
    from styxy.engine import autoalloc

    if service_type is not None:
        names.check_service_type(service_type)
        if all_ranges:
            raise UsageError("choose --service-type or --all, not both.")

    def change(txn: Transaction) -> Undo:
        targets = _undo_targets(_auto_ranges(txn.parsed().document), service_type, all_ranges)
        # The transaction has reaped stale leases already: every one left is live. A lease of
        # the type outside its range (`--port`) goes with the range too, or it would outlive
        # its row.
        kinds = {t.service_type for t in targets}
        inside = [
            lease
            for lease in txn.state.leases
            if lease.serviceType in kinds or any(t.start <= lease.port <= t.end for t in targets)
        ]
        if inside and not force:
            raise RefusedError(_leases_in_the_way(inside))
        for target in targets:
            line = document.audit_line(
                "undo-auto", target.service_type, target.start, target.end, by=autoalloc.who()
            )
            txn.replace_text(document.remove_range(txn.parsed(), target.service_type, audit=line))
        if inside:
            txn.state = txn.state.remove(inside)
        return Undo(
            removed=tuple((t.service_type, (t.start, t.end)) for t in targets),
            ended=tuple(inside),
        )

    return run_change(paths.resolve(doc), change, notify=notify)


def _undo_targets(
    found: list[AutoRange], service_type: str | None, all_ranges: bool
) -> list[AutoRange]:
    if not found:
        raise RefusedError("nothing auto-allocated is left to undo.")
    if all_ranges:
        return list(reversed(found))
    if service_type is None:
        return [found[-1]]
    chosen = [item for item in found if item.service_type == service_type]
    if not chosen:
        raise NotFoundError(f"service type '{service_type}' has no auto-allocated range to undo.")
    return chosen


def _leases_in_the_way(inside: list[Lease]) -> str:
    listed = ", ".join(
        f"{x.serviceType} port {x.port} (lock {x.lockId}, process {x.pid})" for x in inside
    )
    return f"live leases sit in the range: {listed}; release them first or pass --force."


def init(*, force: bool = False, doc: Doc = None) -> Path:
    from styxy.resources import default_document_bytes
    from styxy.store import atomic

    # `init` is the one command that makes a named document that does not exist yet.
    where = replace(paths.resolve(doc), may_create=True)
    atomic.target_of(where.doc)  # a dangling link is refused before anything is created
    if os.path.lexists(where.doc) and not force:
        raise RefusedError(
            f"{paths.display(where.doc)} already exists; pass --force to replace it with the default."
        )
    # Through a transaction, so the cache is rebuilt under the lock like any other change.
    text = default_document_bytes().decode("utf-8")
    run_change(where, lambda txn: txn.replace_text(text), notify=_quiet, needs_document=False)
    return where.doc


def validation_targets(files: Sequence[str], *, doc: Doc = None) -> list[Path]:
    """The files `validate` reads: those named, else the resolved document (which must exist:
    only the default location is created on first use, and `validate` creates nothing)."""
    if files:
        return [Path(f) for f in files]
    where = paths.resolve(doc)
    if not where.may_create and not os.path.lexists(where.doc):
        raise paths.missing_document(where)
    return [where.doc]


def validate(files: Sequence[str], *, doc: Doc = None, strict: bool = False) -> list[Diagnostic]:
    """Every diagnostic for each file; the resolved document when no file is named.

    Registry and ephemeral-range warnings included (`port_hazards`); `strict` makes every
    warning an error."""
    from styxy import document
    from styxy.engine import hazards as port_hazards
    from styxy.errors import UnsafeFileError
    from styxy.store import fsio

    found: list[Diagnostic] = []
    for target in validation_targets(files, doc=doc):
        try:
            raw = fsio.read_bytes(target, fsio.DOCUMENT)
        except UnsafeFileError as exc:
            found.append(Diagnostic(str(target), 1, exc.message.rstrip(".")))
            continue
        except OSError as exc:
            found.append(Diagnostic(str(target), 1, f"cannot read the file: {exc.strerror}"))
            continue
        try:
            text = document.decode_text(raw, str(target))
        except DocumentError as exc:
            found.extend(exc.diagnostics)
            continue
        found.extend(port_hazards.check_document(text, str(target), strict=strict))
    return found


# ------------------------------------------------------------------------------ completion


def service_type_names(*, doc: Doc = None) -> list[str]:
    """The rows' service types and their aliases, for shell completion: read without the lock,
    and nothing at all (never an error, never a document created) when the document cannot be
    read."""
    from styxy.errors import StyxyError
    from styxy.store import snapshot

    where = paths.resolve(doc)
    if not where.doc.is_file():
        return []
    try:
        document = snapshot.load(where).document
    except (StyxyError, OSError, ValueError):
        return []
    rows = [row.service_type for row in document.ranges]
    aliases = [alias for names in document.settings.aliases.values() for alias in names]
    return rows + [alias for alias in aliases if alias not in rows]


def setting_names() -> tuple[str, ...]:
    """The keys `config get` and `config set` take, for shell completion."""
    from styxy.document.schema import SETTING_KEYS

    return SETTING_KEYS
