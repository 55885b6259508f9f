"""Choosing a port inside one locked transaction (SPEC sections 4 and 5)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from styxy.document.model import Range
from styxy.engine.results import Allocation
from styxy.errors import RefusedError
from styxy.records import replace
from styxy.store import leases
from styxy.store.leases import Identity, Lease
from styxy.store.transaction import Transaction
from styxy.system import ports
from styxy.vocabulary import Asker, Notice, PortRefusal, Source

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from styxy.engine.autoalloc import Confirm, Created


def allocate_each(
    txn: Transaction,
    wanted: Sequence[tuple[str, Identity, int | None]],
    *,
    holder: tuple[int, float | None],
    yes: bool,
    confirm: Confirm | None,
    source: Source,
    asker: Asker = "person",
    new_type: bool = False,
) -> list[Allocation]:
    """A port for each (type as asked, identity, preferred port), in one transaction; the type
    is a row, an alias of one, or a new name, and the lease and its identity name the row.

    The ranges of the new types among them are placed first, in order, and written in one
    splice; the leases are then taken in order. Which service gets which port is what one
    `allocate` after another gives.
    """
    from styxy.document.typenames import resolve

    asked_types = [service_type for service_type, _, _ in wanted]
    created = _new_types(txn, asked_types, yes, confirm, asker, new_type)
    results = []
    for service_type, identity, port in wanted:
        asked = resolve(txn.document, service_type)
        row = asked.row
        assert row is not None  # every new type has its row now
        identity = (row.service_type, identity[1], identity[2])
        # The first service of a new type reports the range made for it.
        made = created.pop(row.service_type, None)
        result = _allocated(txn, row, identity, port, holder, source, made)
        results.append(replace(result, requested_type=asked.asked) if asked.alias else result)
    return results


def _new_types(
    txn: Transaction,
    asked_types: Sequence[str],
    yes: bool,
    confirm: Confirm | None,
    asker: Asker,
    new_type: bool,
) -> dict[str, Created]:
    """The ranges made for the names that are no row or alias yet, by name (nothing is
    parsed or probed when every name is known, `allocate`'s common case)."""
    from styxy.document.typenames import resolve

    if all(resolve(txn.document, name).row is not None for name in asked_types):
        return {}
    from styxy.engine import autoalloc, newtypes

    plan = autoalloc.NewRows(txn)
    notes = {}
    for name in asked_types:
        # Against the document with the rows placed before it: a second service of a new
        # type shares its range, and a name that nearly spells one just placed is a near miss.
        asked = resolve(plan.document, name)
        if asked.row is not None:
            continue
        newtypes.check_creation(plan.document, asked, asker, new_type)
        note = newtypes.detect_note(plan.document, name)
        plan.add(name, yes=yes, confirm=confirm)
        if note is not None:
            notes[name] = note
    created = plan.write()
    return {
        name: replace(made, notes=(notes[name],)) if name in notes else made
        for name, made in created.items()
    }


def _allocated(
    txn: Transaction,
    row: Range,
    identity: Identity,
    port: int | None,
    holder: tuple[int, float | None],
    source: Source,
    created: Created | None,
) -> Allocation:
    service_type = row.service_type
    same = _same_identity(txn, identity)
    if same is not None:
        return _with_port_note(Allocation(same, existing=True, reason="same-identity"), port)
    if row.single and (running := _running_single(txn, service_type)) is not None:
        return _single_instance(running)
    chosen, refusal = _choose_port(txn, row, identity, port)
    lease = Lease(
        lockId=leases.new_lock_id(),
        port=chosen,
        serviceType=service_type,
        instanceId=identity[1],
        name=identity[2],
        pid=holder[0],
        pidStartTime=holder[1],
        createdAt=time.time(),
        source=source,
    )
    txn.state = txn.state.add(lease)
    if created is None:
        return _with_port_note(Allocation(lease), port, refusal)
    return _with_port_note(_created(lease, row, created), port, refusal)


def _same_identity(txn: Transaction, identity: Identity) -> Lease | None:
    """The identity's running lease; a dead one is ended (a new start of the same service
    takes it over, and the port comes back through the identity's history)."""
    same = txn.state.find(identity)
    if same is not None and not is_running(same):
        txn.state = txn.state.remove([same])
        return None
    return same


def _running_single(txn: Transaction, service_type: str) -> Lease | None:
    """The running instance of a single-instance type, if any.

    Within its grace period a dead single instance still protects its port from other types,
    but it is not "running": the next start ends it and allocates (SPEC 10).
    """
    instances = txn.state.of_type(service_type)
    running = [lease for lease in instances if is_running(lease)]
    if running:
        return running[0]
    if instances:
        txn.state = txn.state.remove(instances)
    return None


def _created(lease: Lease, row: Range, created: Created) -> Allocation:
    return Allocation(
        lease,
        notes=created.notes,
        auto_allocated=True,
        new_range=(row.start, row.end),
        placement=created.placement,
        chunk_size=created.chunk_size,
        message=Notice(
            f"Auto-allocated range {row.start}-{row.end} for new service type "
            f"'{lease.serviceType}'"
        ),
    )


def is_running(lease: Lease) -> bool:
    """Whether a lease stands for a live service: its holder runs, or its port is listened on."""
    return ports.process_alive(lease.pid, lease.pidStartTime) or ports.is_listening(lease.port)


def _with_port_note(
    result: Allocation, requested: int | None, refusal: PortRefusal | None = None
) -> Allocation:
    """Say why `--port` was not honoured, in one line naming the port given instead."""
    given = result.lease.port
    if requested is None or requested == given:
        return result
    if result.reason == "same-identity":
        refusal = "same-identity"
    assert refusal is not None  # a requested port that is free is always the first candidate
    why = {
        "leased": "is leased to another service",
        "listening": "is in use by another process",
        "same-identity": "was not taken: this service already holds a lease",
    }[refusal]
    return replace(
        result,
        requested_port=requested,
        port_refusal=refusal,
        port_note=f"port {requested} {why}; using port {given} instead.",
    )


def _single_instance(running: Lease) -> Allocation:
    return Allocation(
        running, existing=True, reason="single-instance", message=reuse_message(running)
    )


def reuse_message(running: Lease) -> Notice:
    """SPEC 5's line for a second start of a single-instance type (also said by `styxy run`)."""
    return Notice(
        f"Blocked: service type '{running.serviceType}' only allows a single instance; "
        f"already running on port {running.port} (process {running.pid}) — reusing it. "
        f"Use: styxy use --port {running.port}"
    )


def _choose_port(
    txn: Transaction, row: Range, identity: Identity, port: int | None
) -> tuple[int, PortRefusal | None]:
    """The first usable candidate, and why the requested port (when one was given) was not."""
    if port is not None and port not in row:
        owner = txn.document.range_holding(port)
        if owner is not None:
            raise RefusedError(
                f"port {port} belongs to service type '{owner.service_type}' "
                f"({owner.start}-{owner.end}), not '{row.service_type}'."
            )
    taken = txn.state.ports()
    refusal: PortRefusal | None = None
    for candidate in _candidates(row, port, txn.state.remembered_port(identity)):
        if candidate in taken:
            why: PortRefusal = "leased"
        elif ports.is_listening(candidate):
            why = "listening"
        else:
            return candidate, refusal
        if candidate == port:
            refusal = why
    raise RefusedError(
        f"no free port for '{row.service_type}': all {row.size} ports of "
        f"{row.start}-{row.end} are leased or in use."
    )


def _candidates(row: Range, port: int | None, remembered: int | None) -> Iterator[int]:
    """`--port`, the identity's previous port, Preferred, then the range ascending; once each."""
    seen: set[int] = set()
    first = [] if port is None else [port]
    if remembered is not None and remembered in row:
        first.append(remembered)
    for candidate in (*first, *row.preferred, *range(row.start, row.end + 1)):
        if candidate not in seen:
            seen.add(candidate)
            yield candidate
