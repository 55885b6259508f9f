"""The public functions the command line, and any other tool, call in-process.

Each takes typed arguments and returns a record; none prints or exits. Human lines that a
command wants shown (a created document, a reused single instance) go to `notify`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from styxy import leases, names, paths, ports
from styxy.errors import InvalidValueError, NotFoundError, UsageError
from styxy.transaction import Transaction, transaction

if TYPE_CHECKING:
    from styxy.autoalloc import Confirm
    from styxy.leases import Identity, Lease
    from styxy.reports import LeaseStatus, PortCheck, Ranges, RangeSuggestion, Scan
    from styxy.results import Allocation

Notify = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def default_instance_id() -> str:
    return os.environ.get("STYXY_INSTANCE_ID") or os.environ.get("CLAUDE_INSTANCE_ID") or "default"


def allocate(
    service_type: str,
    *,
    instance_id: str | None = None,
    name: str = "",
    port: int | None = None,
    pid: int | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    source: str = "api",
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> Allocation:
    """Hand out a port for (type, instance, name), creating the type's range when it is new."""
    names.check_service_type(service_type)
    instance_id = names.check_identity_part("instance id", instance_id or default_instance_id())
    names.check_identity_part("name", name)
    if port is not None:
        names.check_port(port)
    _check_source(source)
    holder = _holder(pid)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        from styxy import allocation

        result = allocation.allocate(
            txn,
            service_type=service_type,
            identity=(service_type, instance_id, name),
            port=port,
            holder=holder,
            yes=yes,
            confirm=confirm,
            source=source,
        )
    if result.message:
        notify(result.message)
    return result


def allocate_all(
    identities: Sequence[Identity],
    *,
    pid: int | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    source: str = "api",
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> list[Allocation]:
    """One port per (type, instance, name) in one locked transaction: all of them or none.

    A project's set of services (`styxy env`) is allocated this way, so a refused service
    (a full range, a declined new range) leaves no half of the set behind. Each result's
    `message` is left to the caller, who knows which service it speaks of.
    """
    for service_type, instance_id, name in identities:
        names.check_service_type(service_type)
        names.check_identity_part("instance id", instance_id)
        names.check_identity_part("name", name)
    _check_source(source)
    holder = _holder(pid)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        from styxy import allocation

        results = [
            allocation.allocate(
                txn,
                service_type=identity[0],
                identity=identity,
                port=None,
                holder=holder,
                yes=yes,
                confirm=confirm,
                source=source,
            )
            for identity in identities
        ]
    return results


def _check_source(source: str) -> None:
    if source not in leases.SOURCES:
        raise InvalidValueError(
            f"source must be one of {', '.join(leases.SOURCES)}, not {source!r}."
        )


def _holder(pid: int | None) -> tuple[int, float | None]:
    """The holder is the given process, else the parent of this one (the shell or the script)."""
    chosen = os.getppid() if pid is None else pid
    if chosen <= 0:
        raise InvalidValueError(f"pid {chosen} is not a process id.")
    start = ports.process_start_time(chosen)
    if start is None:
        raise InvalidValueError(f"there is no process {chosen} to hold the lease.")
    return chosen, start


def _tell(txn: Transaction, notify: Notify) -> None:
    for note in txn.notes:
        notify(note)


def set_holder(lock_id: str, pid: int, *, doc: str | os.PathLike[str] | None = None) -> Lease:
    """Make `pid` the holder of a lease (`styxy run` hands its lease to the child)."""
    holder = _holder(pid)
    with transaction(paths.resolve(doc)) as txn:
        lease = txn.state.by_lock_id(lock_id)
        if lease is None:
            raise NotFoundError(f"no lease with lock id {lock_id!r}.")
        from dataclasses import replace

        moved = replace(lease, pid=holder[0], pidStartTime=holder[1])
        txn.state = leases.LeaseFile(
            leases=tuple(moved if x.lockId == lock_id else x for x in txn.state.leases),
            history=txn.state.history,
        )
        return moved


def release(
    lock_id: str | None = None,
    *,
    port: int | None = None,
    service_type: str | None = None,
    instance_id: str | None = None,
    name: str = "",
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> Lease:
    """End one lease, chosen by lock id, by port, or by identity."""
    chosen = [x for x in (lock_id, port, service_type) if x is not None]
    if len(chosen) != 1:
        raise InvalidValueError(
            "name exactly one lease: a LOCK_ID, --port P, or -s TYPE [-i INSTANCE] [-n NAME]."
        )
    _check_selector(port, service_type)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        lease = _find_lease(txn, lock_id, port, service_type, instance_id, name)
        txn.state = txn.state.remove([lease])
        return lease


def _check_selector(port: int | None, service_type: str | None) -> None:
    if port is not None:
        names.check_port(port)
    if service_type is not None:
        names.check_service_type(service_type)


def _find_lease(
    txn: Transaction,
    lock_id: str | None,
    port: int | None,
    service_type: str | None,
    instance_id: str | None,
    name: str,
) -> Lease:
    if lock_id is not None:
        found = txn.state.by_lock_id(lock_id)
        what = f"lock id {lock_id!r}"
    elif port is not None:
        found = next((x for x in txn.state.leases if x.port == port), None)
        what = f"port {port}"
    else:
        assert service_type is not None
        identity = (service_type, instance_id or default_instance_id(), name)
        found = txn.state.find(identity)
        what = f"service type {service_type!r}, instance {identity[1]!r}, name {name!r}"
    if found is None:
        raise NotFoundError(f"no lease with {what}.")
    return found


def list_leases(
    *, verbose: bool = False, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> list[LeaseStatus]:
    from styxy.reports import LeaseStatus

    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        state = txn.state
    result = []
    for lease in sorted(state.leases, key=lambda x: (x.port, x.lockId)):
        alive = ports.process_alive(lease.pid, lease.pidStartTime)
        process, command = ports.process_info(lease.pid) if verbose else (None, None)
        result.append(LeaseStatus(lease, alive, process, command))
    return result


def check(
    port: int, *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> PortCheck:
    from styxy.reports import ListenerInfo, PortCheck

    names.check_port(port)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        holder = txn.document.range_holding(port)
        lease = next((x for x in txn.state.leases if x.port == port), None)
    found = tuple(
        ListenerInfo(item.port, item.pid, item.process, item.address)
        for item in ports.listeners_on(port)
    )
    busy = bool(found) or ports.is_listening(port)
    return PortCheck(
        port=port,
        free=lease is None and not busy,
        service_type=holder.service_type if holder else None,
        lease=lease,
        listeners=found,
    )


def scan(
    *,
    start: int = 1,
    end: int = 65535,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> Scan:
    names.check_port(start, "start")
    names.check_port(end, "end")
    if start > end:
        raise InvalidValueError(f"start {start} is after end {end}.")
    from styxy.reports import ListenerInfo, Scan

    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        by_port = {lease.port: lease for lease in txn.state.leases}
    return Scan(
        tuple(
            ListenerInfo(item.port, item.pid, item.process, item.address, by_port.get(item.port))
            for item in ports.listeners(start, end)
        )
    )


def cleanup(
    *, dry_run: bool = False, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> list[Lease]:
    """Every command reaps; this one exists to reap now and say what went."""
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        reaped = list(txn.reaped)
        if dry_run:
            txn.dry_run = True
    return reaped


def use(
    *,
    port: int | None = None,
    service_type: str | None = None,
    name: str | None = None,
    instance_id: str | None = None,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> Lease:
    """The running service on a port, of a type, or by name: what a second start should use.

    `port` stands alone; otherwise `service_type` and/or `name` choose, and `instance_id`
    narrows further. The oldest matching lease wins (the one a single-instance type keeps).
    """
    if port is not None:
        if service_type is not None or name is not None or instance_id is not None:
            raise UsageError("--port stands alone: name either --port P, or -s TYPE / -n NAME.")
    elif service_type is None and name is None:
        raise UsageError("name either --port P, -s TYPE or -n NAME.")
    _check_selector(port, service_type)
    if name is not None:
        names.check_identity_part("name", name)
    if instance_id is not None:
        names.check_identity_part("instance id", instance_id)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        # Stale leases were reaped on the way in: what is left is running or about to.
        found = [
            x
            for x in txn.state.leases
            if (port is None or x.port == port)
            and (service_type is None or x.serviceType == service_type)
            and (name is None or x.name == name)
            and (instance_id is None or x.instanceId == instance_id)
        ]
    if not found:
        raise NotFoundError(
            f"nothing styxy knows of is running {_use_what(port, service_type, name)}."
        )
    return sorted(found, key=lambda x: x.createdAt)[0]


def _use_what(port: int | None, service_type: str | None, name: str | None) -> str:
    if port is not None:
        return f"on port {port}"
    parts = [f"of service type {service_type!r}"] if service_type is not None else []
    if name is not None:
        parts.append(f"named {name!r}")
    return " ".join(parts)


def release_instance(
    instance_id: str,
    *,
    service_type: str | None = None,
    name: str | None = None,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> list[Lease]:
    """End every lease of one instance (an agent session that ended); none is not an error."""
    names.check_identity_part("instance id", instance_id)
    if service_type is not None:
        names.check_service_type(service_type)
    if name is not None:
        names.check_identity_part("name", name)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        ended = [
            x
            for x in txn.state.leases
            if x.instanceId == instance_id
            and (service_type is None or x.serviceType == service_type)
            and (name is None or x.name == name)
        ]
        if ended:
            txn.state = txn.state.remove(ended)
    return sorted(ended, key=lambda x: (x.port, x.lockId))


def ranges(*, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet) -> Ranges:
    """Every range of the document with the ports leased and listened on inside it."""
    from styxy.reports import Ranges, RangeUsage

    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        rows = sorted(txn.document.ranges, key=lambda r: r.start)
        leased = sorted(txn.state.ports())
    listening = sorted(ports.listening_in(1, 65535))
    return Ranges(
        tuple(
            RangeUsage(
                service_type=row.service_type,
                start=row.start,
                end=row.end,
                instances=row.instances,
                leased_ports=tuple(p for p in leased if p in row),
                listening_ports=tuple(p for p in listening if p in row),
            )
            for row in rows
        )
    )


def suggest_range(
    service_type: str, *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> RangeSuggestion:
    """The range `service_type` has, or the one auto-allocation would give it now; writes nothing."""
    from styxy.autoalloc import propose_new
    from styxy.reports import RangeSuggestion

    names.check_service_type(service_type)
    with transaction(paths.resolve(doc)) as txn:
        _tell(txn, notify)
        document = txn.parsed().document
        row = document.range_of(service_type)
        if row is not None:
            return RangeSuggestion(service_type, row.start, row.end, None, row.size, True)
        proposal = propose_new(
            document,
            service_type,
            txn.paths.doc,
            listening=ports.listening_in(1, 65535),
            ephemeral=ports.ephemeral_range(),
        )
    return RangeSuggestion(
        service_type, proposal.start, proposal.end, proposal.placement, proposal.chunk_size, False
    )


__all__ = [
    "allocate",
    "allocate_all",
    "check",
    "cleanup",
    "list_leases",
    "ranges",
    "release",
    "release_instance",
    "scan",
    "set_holder",
    "suggest_range",
    "use",
]
