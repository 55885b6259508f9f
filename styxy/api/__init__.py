"""The public functions the command line, and any other tool, call in-process.

Each takes typed arguments and returns a record; none prints or exits. Human lines that a
command wants shown (a created document, a reused single instance) go to `notify`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from styxy import names, paths, refusals
from styxy.errors import InvalidValueError, NotFoundError, Param, UsageError
from styxy.store import leases
from styxy.system import ports
from styxy.system.ports import is_listening
from styxy.vocabulary import ASKERS, MAX_PORT, SOURCES, Asker, Source, is_asker, is_source

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import TypeVar

    from styxy.api.reports import (
        LeaseStatus,
        PortCheck,
        Ranges,
        RangeSuggestion,
        Scan,
        TypeVocabulary,
    )
    from styxy.document.model import Document
    from styxy.engine.autoalloc import Confirm
    from styxy.engine.results import Allocation
    from styxy.store.leases import Identity, Lease
    from styxy.store.snapshot import Snapshot
    from styxy.store.transaction import Transaction
    from styxy.system.iana import Assignment

    T = TypeVar("T")

Notify = Callable[[str], None]


def run_change(
    where: paths.Paths,
    change: Callable[[Transaction], T],
    *,
    notify: Notify,
    dry_run: bool = False,
    needs_document: bool = True,
) -> T:
    """`styxy.store.transaction.run_change`, imported by the commands that write only: a
    command that reads (`list`, `check`, `ranges`) never loads the lock and the writers."""
    from styxy.store import transaction

    return transaction.run_change(
        where, change, notify=notify, dry_run=dry_run, needs_document=needs_document
    )


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
    asker: Asker = "person",
    new_type: bool = False,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> Allocation:
    """Hand out a port for (type, instance, name), creating the type's range when it is new.

    `service_type` is a row, an alias of one (the lease names the row; `requested_type` the
    alias) or a new name. Who asks decides whether a new name becomes a range (SPEC 15):
    `asker="person"` creates it unless it is a near miss of a known name, `asker="agent"` only
    with `new_type=True` and as `autoAllocation.agents` allows; `new_type=True` lets a person's
    near miss through too. Either way at most `autoAllocation.maxNewPerDay` a day.
    """
    identity = (service_type, instance_id or default_instance_id(), name)
    _check_identities([identity])  # before the port, as every front end says them
    if port is not None:
        names.check_port(port, "preferred_port")
    (result,) = _allocate_each(
        [identity], [port], pid, yes, confirm, source, asker, new_type, None, doc, notify
    )
    if result.message:
        notify(result.message)
    for note in result.notes:
        notify(note)
    if result.port_note:
        notify(result.port_note)
    return result


def allocate_all(
    identities: Sequence[Identity],
    *,
    ports: Sequence[int | None] | None = None,
    pid: int | None = None,
    yes: bool = False,
    confirm: Confirm | None = None,
    source: str = "api",
    asker: Asker = "person",
    new_type: bool = False,
    project: tuple[str, str] | None = None,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> list[Allocation]:
    """One port per (type, instance, name) in one locked transaction: all of them or none.

    A project's set of services (`styxy env`) is allocated this way, so a refused service
    (a full range, a declined new range) leaves no half of the set behind. Each result's
    `message` is left to the caller, who knows which service it speaks of. `ports[i]`, when
    given, is tried first for identity i, as `allocate`'s `port` is. `project` is the
    (project id, root folder) to record for `styxy env --prune`, in the same transaction.
    """
    wanted = list(ports) if ports is not None else [None] * len(identities)
    if len(wanted) != len(identities):
        raise UsageError("give one preferred port (or None) per identity.")
    for port in wanted:
        if port is not None and not 1 <= port <= MAX_PORT:
            raise UsageError(f"port {port} is not a port from 1 to {MAX_PORT}.")
    return _allocate_each(
        identities, wanted, pid, yes, confirm, source, asker, new_type, project, doc, notify
    )


def _allocate_each(
    identities: Sequence[Identity],
    wanted: Sequence[int | None],
    pid: int | None,
    yes: bool,
    confirm: Confirm | None,
    source: str,
    asker: Asker,
    new_type: bool,
    project: tuple[str, str] | None,
    doc: str | os.PathLike[str] | None,
    notify: Notify,
) -> list[Allocation]:
    """`allocate` and `allocate_all` past their own checks of the ports: the identities, who
    asks and who holds checked, then one transaction."""
    _check_identities(identities)
    checked = _check_source(source)
    who = _check_asker(asker)
    holder = _holder(pid)
    from styxy.engine import allocation

    def change(txn: Transaction) -> list[Allocation]:
        if project is not None:
            txn.set_projects(txn.projects().with_root(*project))
        return allocation.allocate_each(
            txn,
            [(x[0], x, port) for x, port in zip(identities, wanted, strict=True)],
            holder=holder,
            yes=yes,
            confirm=confirm,
            source=checked,
            asker=who,
            new_type=new_type,
        )

    return run_change(paths.resolve(doc), change, notify=notify)


def _check_identities(identities: Sequence[Identity]) -> None:
    for service_type, instance_id, name in identities:
        names.check_service_type(service_type)
        names.check_identity_part("instance id", instance_id)
        names.check_identity_part("name", name)


def _check_source(source: str) -> Source:
    if not is_source(source):
        raise InvalidValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}.")
    return source


def _check_asker(asker: str) -> Asker:
    if not is_asker(asker):
        raise InvalidValueError(f"asker must be one of {', '.join(ASKERS)}, not {asker!r}.")
    return asker


def _holder(pid: int | None) -> tuple[int, float | None]:
    """The holder is the given process, else the parent of this one (the shell or the script)."""
    chosen = os.getppid() if pid is None else refusals.pid(Param("pid"), pid)
    start = ports.process_start_time(chosen)
    if start is None:
        raise InvalidValueError(f"there is no process {chosen} to hold the lease.")
    return chosen, start


def _read(doc: str | os.PathLike[str] | None, notify: Notify) -> Snapshot:
    """The state for a read-only command: no lock, no reaping, no write (SPEC section 10)."""
    from styxy.store import snapshot

    seen = snapshot.load(paths.resolve(doc))
    for note in seen.notes:
        notify(note)
    return seen


def set_holder(lock_id: str, pid: int, *, doc: str | os.PathLike[str] | None = None) -> Lease:
    """Make `pid` the holder of a lease (`styxy run` hands its lease to the child)."""
    holder = _holder(pid)
    from styxy.records import replace

    def change(txn: Transaction) -> Lease:
        lease = txn.state.by_lock_id(lock_id)
        if lease is None:
            raise NotFoundError(f"no lease with lock id {lock_id!r}.")
        moved = replace(lease, pid=holder[0], pidStartTime=holder[1])
        txn.state = leases.LeaseFile(
            leases=tuple(moved if x.lockId == lock_id else x for x in txn.state.leases),
            history=txn.state.history,
        )
        return moved

    return run_change(paths.resolve(doc), change, notify=_quiet, needs_document=False)


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
        raise refusals.lease_selector()
    _check_selector(port, service_type)

    def change(txn: Transaction) -> Lease:
        lease = _find_lease(txn, lock_id, port, service_type, instance_id, name)
        txn.state = txn.state.remove([lease])
        return lease

    return run_change(paths.resolve(doc), change, notify=notify, needs_document=False)


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
        row_name = resolve_type(txn.document, service_type)
        identity = (row_name, instance_id or default_instance_id(), name)
        found = txn.state.find(identity)
        what = f"service type {service_type!r}, instance {identity[1]!r}, name {name!r}"
    if found is None:
        raise NotFoundError(f"no lease with {what}.")
    return found


def list_leases(
    *,
    verbose: bool = False,
    service_type: str | None = None,
    instance_id: str | None = None,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> list[LeaseStatus]:
    """Live leases by port; `service_type` (a row's name or an alias of it) and `instance_id`
    keep only those of the type and of the instance (both: of both). A `service_type` that is
    neither is still asked for as written, and `notify` is told so (with its near misses)."""
    from operator import attrgetter

    from styxy.api.reports import LeaseStatus
    from styxy.records import many

    if service_type is not None:
        names.check_service_type(service_type)
    if instance_id is not None:
        names.check_identity_part("instance id", instance_id)
    seen = _read(doc, notify)
    row_name = None
    if service_type is not None:
        from styxy.document.typenames import resolve, unknown_note

        asked = resolve(seen.document, service_type)
        row_name = asked.service_type
        if not asked.known:
            # Not an error: a lease can outlive its row, and is listed by the name it has. The
            # note says why the list is most likely empty (a typo, or a type that has no row).
            notify(unknown_note(asked))
    chosen = [
        lease
        for lease in seen.state.leases
        if (row_name is None or lease.serviceType == row_name)
        and (instance_id is None or lease.instanceId == instance_id)
    ]
    # One look per holder, not per lease: a process holding many leases is asked once
    # (10,000 leases of one holder took 6 s of psutil calls otherwise).
    alive_by: dict[tuple[int, float | None], bool] = {}
    info_by: dict[int, tuple[str | None, str | None]] = {}
    rows = []
    for lease in sorted(chosen, key=attrgetter("port", "lockId")):
        key = (lease.pid, lease.pidStartTime)
        if key not in alive_by:
            alive_by[key] = ports.process_alive(lease.pid, lease.pidStartTime)
        if verbose and lease.pid not in info_by:
            info_by[lease.pid] = ports.process_info(lease.pid)
        process, command = info_by[lease.pid] if verbose else (None, None)
        rows.append((lease, alive_by[key], process, command))
    return many(LeaseStatus, rows)


def check(
    port: int, *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> PortCheck:
    from styxy.api.reports import ListenerInfo, PortCheck

    names.check_port(port)
    seen = _read(doc, notify)
    holder = seen.document.range_holding(port)
    # A stale lease is one the next writer reaps: it does not make the port taken.
    lease = next((x for x in seen.live() if x.port == port), None)
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
        iana=_iana_at(port, notify),
    )


def _iana_at(port: int, notify: Notify) -> tuple[Assignment, ...]:
    """IANA's assignments at `port`; a damaged index is said, and costs only the names."""
    from styxy.api import iana_ports
    from styxy.system import iana

    try:
        return iana_ports.at_port(port)  # the index's table: a few reads, not 12,000 records
    except iana.IanaError as exc:
        notify(exc.message)
        return ()


def scan(
    *,
    start: int = 1,
    end: int = MAX_PORT,
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> Scan:
    names.check_port(start, "start")
    names.check_port(end, "end")
    if start > end:
        raise UsageError(Param("start"), f" {start} is after ", Param("end"), f" {end}.")
    from styxy.api.reports import ListenerInfo, Scan

    by_port = {lease.port: lease for lease in _read(doc, notify).state.leases}
    return Scan(
        tuple(
            ListenerInfo(item.port, item.pid, item.process, item.address, by_port.get(item.port))
            for item in ports.listeners(start, end)
        )
    )


def sync(*, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet) -> None:
    """Take the lock once: reap, fold the journal, and bring the cache up to date with the
    document (what `styxy interceptor env` needs before the first preloaded program runs)."""
    run_change(paths.resolve(doc), lambda txn: None, notify=notify, needs_document=False)


def describe_cache(*, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet) -> str:
    """The compiled cache in words (`styxy interceptor dump`), brought up to date first."""
    from styxy.store import cache, loading

    sync(doc=doc, notify=notify)
    folder = loading.open_sidecar(paths.resolve(doc))
    assert folder is not None  # the sync made it
    with folder:
        path = folder.where(loading.CACHE_NAME)
        return cache.describe(cache.read(path, dir_fd=folder.fd))


def cleanup(
    *, dry_run: bool = False, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> list[Lease]:
    """Every writer reaps; this one exists to reap now and say what went."""
    return run_change(
        paths.resolve(doc),
        lambda txn: list(txn.reaped),
        notify=notify,
        dry_run=dry_run,
        needs_document=False,
    )


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
            raise refusals.service_selector()
    elif service_type is None and name is None:
        raise refusals.service_selector()
    _check_selector(port, service_type)
    if name is not None:
        names.check_identity_part("name", name)
    if instance_id is not None:
        names.check_identity_part("instance id", instance_id)
    from styxy.engine.allocation import is_running

    seen = _read(doc, notify)
    if service_type is not None:
        service_type = resolve_type(seen.document, service_type)
    # Nothing is reaped without the lock: leave out what the next writer would reap, and a
    # lease in its grace period whose holder died and whose port is silent, which is no
    # service to connect to either (SPEC 10).
    found = [
        x
        for x in seen.live()
        if (port is None or x.port == port)
        and (service_type is None or x.serviceType == service_type)
        and (name is None or x.name == name)
        and (instance_id is None or x.instanceId == instance_id)
        and is_running(x)
    ]
    if not found:
        raise NotFoundError(
            f"nothing styxy knows of is running {_use_what(port, service_type, name)}."
        )
    return sorted(found, key=lambda x: x.createdAt)[0]


def resolve_type(document: Document, service_type: str) -> str:
    """The row a type name means (itself, when it is a row or unknown): SPEC 15's one rule."""
    from styxy.document.typenames import resolve

    return resolve(document, service_type).service_type


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

    def change(txn: Transaction) -> list[Lease]:
        row_name = None if service_type is None else resolve_type(txn.document, service_type)
        ended = [
            x
            for x in txn.state.leases
            if x.instanceId == instance_id
            and (row_name is None or x.serviceType == row_name)
            and (name is None or x.name == name)
        ]
        if ended:
            txn.state = txn.state.remove(ended)
        return ended

    ended = run_change(paths.resolve(doc), change, notify=notify, needs_document=False)
    return sorted(ended, key=lambda x: (x.port, x.lockId))


def ranges(*, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet) -> Ranges:
    """Every range of the document with the ports leased and listened on inside it."""
    import bisect

    from styxy.api.reports import Ranges, RangeUsage

    seen = _read(doc, notify)  # read-only: no lock (SPEC section 10)
    rows = sorted(seen.require().ranges, key=lambda r: r.start)
    leased = sorted({lease.port for lease in seen.live()})
    listening = sorted(ports.listening_in(1, MAX_PORT))

    def inside(found: list[int], start: int, end: int) -> tuple[int, ...]:
        # By bisection: a thousand rows and ten thousand leases were ten million tests.
        return tuple(found[bisect.bisect_left(found, start) : bisect.bisect_right(found, end)])

    return Ranges(
        tuple(
            RangeUsage(
                service_type=row.service_type,
                start=row.start,
                end=row.end,
                instances=row.instances,
                leased_ports=inside(leased, row.start, row.end),
                listening_ports=inside(listening, row.start, row.end),
            )
            for row in rows
        )
    )


def type_vocabulary(
    *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> TypeVocabulary:
    """The rows of the port map with their aliases: what agents are told to choose from."""
    from styxy.api.reports import TypeInfo, TypeVocabulary
    from styxy.document.typenames import aliases_of

    document = _read(doc, notify).require()  # read-only: no lock (SPEC section 10)
    auto = document.settings.auto_allocation
    return TypeVocabulary(
        tuple(
            TypeInfo(
                row.service_type,
                row.start,
                row.end,
                row.single,
                row.description,
                aliases_of(document, row.service_type),
            )
            for row in document.ranges
        ),
        auto.agents,
        auto.max_new_per_day,
    )


def suggest_range(
    service_type: str, *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> RangeSuggestion:
    """The range `service_type` has, or the one auto-allocation would give it now; writes nothing."""
    from styxy.api.reports import RangeSuggestion
    from styxy.document.typenames import resolve
    from styxy.engine.autoalloc import propose_new, used_ports

    names.check_service_type(service_type)
    seen = _read(doc, notify)  # read-only: no lock (SPEC section 10)
    document = seen.parsed().document
    row = resolve(document, service_type).row
    if row is not None:
        return RangeSuggestion(row.service_type, row.start, row.end, None, row.size, True)
    proposal = propose_new(
        document,
        service_type,
        seen.paths.doc,
        listening=used_ports(seen.live()),
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
    "describe_cache",
    "is_listening",
    "list_leases",
    "ranges",
    "release",
    "release_instance",
    "scan",
    "set_holder",
    "suggest_range",
    "sync",
    "type_vocabulary",
    "use",
]
