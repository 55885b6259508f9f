"""The lease commands: allocate, release, list, check, scan, cleanup, ranges, use.

Plain functions: `styxy.cli.table` declares their options, and both the fast path and typer
call them with every parameter given. Each returns its exit code (None for 0).
"""

from __future__ import annotations

from styxy import output
from styxy.cli.common import emit, notify, terminal_confirm
from styxy.errors import EXIT_FAILED


def allocate(
    service_type: str,
    instance_id: str | None,
    name: str,
    port: int | None,
    pid: int | None,
    yes: bool,
    new_type: bool,
    doc: str | None,
    json: bool,
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
        confirm=terminal_confirm(),
        source="cli",
        new_type=new_type,
        doc=doc,
        notify=notify,
    )
    emit(json, result.to_json(), str(result.lease.port))


def release(
    lock_id: str | None,
    port: int | None,
    service_type: str | None,
    instance_id: str | None,
    name: str | None,
    doc: str | None,
    json: bool,
) -> None:
    """End a lease: LOCK_ID, -p PORT, -s TYPE [-i I] [-n N]; or -i I alone for all of I's."""
    from styxy import api
    from styxy.cli.render import released_lines

    if lock_id is None and port is None and service_type is None and instance_id is not None:
        ended = api.release_instance(instance_id, name=name, doc=doc, notify=notify)
        text = released_lines(ended) or f"no leases of instance {instance_id!r}"
        emit(json, {"released": [lease.to_json() for lease in ended]}, text)
        return
    lease = api.release(
        lock_id,
        port=port,
        service_type=service_type,
        instance_id=instance_id,
        name=name or "",
        doc=doc,
        notify=notify,
    )
    emit(json, lease.to_json(), released_lines([lease]))


def list_leases(
    verbose: bool, service_type: str | None, instance_id: str | None, doc: str | None, json: bool
) -> None:
    """Live leases (-s TYPE, -i INSTANCE: only those)."""
    from styxy import api
    from styxy.cli.render import lease_table

    found = api.list_leases(
        verbose=verbose,
        service_type=service_type,
        instance_id=instance_id,
        doc=doc,
        notify=notify,
    )
    emit(
        json,
        lambda: {"leases": [item.to_json() for item in found]},
        lambda: lease_table(found, verbose),
    )


def check(port: int, doc: str | None, json: bool) -> int:
    """Is PORT free? Exit 0 free, 1 in use, 2 when styxy cannot tell (as grep)."""
    from styxy import api
    from styxy.cli.render import port_check
    from styxy.errors import StyxyError, cannot_answer, os_error_sentence

    try:
        result = api.check(port, doc=doc, notify=notify)
    except StyxyError as exc:
        raise cannot_answer(exc) from exc
    except OSError as exc:
        raise cannot_answer(StyxyError(os_error_sentence(exc))) from exc
    emit(json, result.to_json(), port_check(result))
    return 0 if result.free else EXIT_FAILED


def scan(start: int, end: int, doc: str | None, json: bool) -> None:
    """Listeners in a port span, with their processes and leases."""
    from styxy import api
    from styxy.cli.render import scan_table

    result = api.scan(start=start, end=end, doc=doc, notify=notify)
    emit(json, result.to_json(), scan_table(result))


def cleanup(dry_run: bool, doc: str | None, json: bool) -> None:
    """Reap stale leases now and say which."""
    from styxy import api
    from styxy.cli.render import reaped_lines

    reaped = api.cleanup(dry_run=dry_run, doc=doc, notify=notify)
    emit(json, {"reaped": [lease.to_json() for lease in reaped]}, reaped_lines(reaped, dry_run))


def ranges(doc: str | None, json: bool) -> None:
    """Every range: type, span, instances, leased, listening and free ports, and a bar."""
    from styxy import api
    from styxy.cli.render import ranges_map

    report = api.ranges(doc=doc, notify=notify)
    emit(json, report.to_json(), ranges_map(report, colour=output.stdout_in_colour()))


def use(
    port: int | None,
    service_type: str | None,
    name: str | None,
    instance_id: str | None,
    doc: str | None,
    json: bool,
) -> None:
    """Port and holder of a running service (-p PORT, or -s TYPE / -n NAME [-i I]); exit 1 if none."""
    from styxy import api
    from styxy.api import urls

    lease = api.use(
        port=port,
        service_type=service_type,
        name=name,
        instance_id=instance_id,
        doc=doc,
        notify=notify,
    )
    if not json:
        output.note(f"{lease.serviceType} is running on port {lease.port} (process {lease.pid})")
    # The JSON names the service's URL too, which costs a look at the proxy: only when asked.
    emit(json, urls.lease_json(lease, doc=doc) if json else {}, str(lease.port))
