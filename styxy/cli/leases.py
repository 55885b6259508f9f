"""The lease commands: allocate, release, list, check, scan, cleanup, ranges, use."""

# No `from __future__ import annotations` here, on purpose: typer reads every command's
# annotations at start-up, and string annotations would cost an eval and a compile each.

import sys

import typer

from styxy import output
from styxy.cli import prompt
from styxy.cli.common import (
    PID,
    PORT,
    DocOption,
    JsonOption,
    NewTypeOption,
    PortOption,
    complete_service_type,
    doc_of,
    emit,
    notify,
    wants_json,
)
from styxy.errors import EXIT_FAILED
from styxy.vocabulary import MAX_PORT

commands = typer.Typer()


@commands.command()
def allocate(
    service_type: str = typer.Option(
        ..., "-s", "--service-type", help="Service type, e.g. dev.",
        autocompletion=complete_service_type,
    ),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    name: str = typer.Option("", "-n", "--name"),
    port: int | None = typer.Option(
        None, "-p", "--port", click_type=PORT, help="Try this port first."
    ),
    pid: int | None = typer.Option(
        None, "--pid", click_type=PID, help="Holder process (default: the parent)."
    ),
    yes: bool = typer.Option(False, "--yes", help="Accept a proposed new range."),
    new_type: bool = NewTypeOption,
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
        new_type=new_type,
        doc=doc_of(doc),
        notify=notify,
    )
    emit(json, result.to_json(), str(result.lease.port))


@commands.command()
def release(
    lock_id: str | None = typer.Argument(None, metavar="[LOCK_ID]"),
    port: int | None = PortOption,
    service_type: str | None = typer.Option(None, "-s", "--service-type", autocompletion=complete_service_type),
    instance_id: str | None = typer.Option(None, "-i", "--instance-id"),
    name: str | None = typer.Option(None, "-n", "--name"),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """End a lease: LOCK_ID, -p PORT, -s TYPE [-i I] [-n N]; or -i I alone for all of I's."""
    from styxy import api
    from styxy.cli.render import released_lines

    if lock_id is None and port is None and service_type is None and instance_id is not None:
        ended = api.release_instance(instance_id, name=name, doc=doc_of(doc), notify=notify)
        text = released_lines(ended) or f"no leases of instance {instance_id!r}"
        emit(json, {"released": [lease.to_json() for lease in ended]}, text)
        return
    lease = api.release(
        lock_id,
        port=port,
        service_type=service_type,
        instance_id=instance_id,
        name=name or "",
        doc=doc_of(doc),
        notify=notify,
    )
    emit(json, lease.to_json(), released_lines([lease]))


@commands.command("list")
def list_(
    verbose: bool = typer.Option(
        False, "-v", "--verbose", help="Holder, command line, age, source."
    ),
    service_type: str | None = typer.Option(
        None, "-s", "--service-type", help="Only this type's leases.",
        autocompletion=complete_service_type,
    ),
    instance_id: str | None = typer.Option(
        None, "-i", "--instance-id", help="Only this instance's leases."
    ),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Live leases (-s TYPE, -i INSTANCE: only those)."""
    from styxy import api
    from styxy.cli.render import lease_table

    found = api.list_leases(
        verbose=verbose,
        service_type=service_type,
        instance_id=instance_id,
        doc=doc_of(doc),
        notify=notify,
    )
    emit(json, {"leases": [item.to_json() for item in found]}, lease_table(found, verbose))


@commands.command()
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
        result = api.check(port, doc=doc_of(doc), notify=notify)
    except StyxyError as exc:
        raise cannot_answer(exc) from exc
    except OSError as exc:
        raise cannot_answer(StyxyError(os_error_sentence(exc))) from exc
    emit(json, result.to_json(), port_check(result))
    if not result.free:
        raise typer.Exit(EXIT_FAILED)


@commands.command()
def scan(
    start: int = typer.Option(1, "--start", click_type=PORT),
    end: int = typer.Option(MAX_PORT, "--end", click_type=PORT),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Listeners in a port span, with their processes and leases."""
    from styxy import api
    from styxy.cli.render import scan_table

    result = api.scan(start=start, end=end, doc=doc_of(doc), notify=notify)
    emit(json, result.to_json(), scan_table(result))


@commands.command()
def cleanup(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would go; change nothing."),
    doc: str | None = DocOption,
    json: bool = JsonOption,
) -> None:
    """Reap stale leases now and say which."""
    from styxy import api
    from styxy.cli.render import reaped_lines

    reaped = api.cleanup(dry_run=dry_run, doc=doc_of(doc), notify=notify)
    emit(json, {"reaped": [lease.to_json() for lease in reaped]}, reaped_lines(reaped, dry_run))


@commands.command()
def ranges(doc: str | None = DocOption, json: bool = JsonOption) -> None:
    """Every range: type, span, instances, leased, listening and free ports, and a bar."""
    from styxy import api
    from styxy.cli.render import ranges_map

    report = api.ranges(doc=doc_of(doc), notify=notify)
    emit(json, report.to_json(), ranges_map(report, colour=output.stdout_in_colour()))


@commands.command()
def use(
    port: int | None = PortOption,
    service_type: str | None = typer.Option(None, "-s", "--service-type", autocompletion=complete_service_type),
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
        doc=doc_of(doc),
        notify=notify,
    )
    if not wants_json(json):
        output.note(f"{lease.serviceType} is running on port {lease.port} (process {lease.pid})")
    emit(json, lease.to_json(), str(lease.port))
