"""Choosing a port inside one locked transaction (SPEC sections 4 and 5)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from styxy import leases, ports
from styxy.document.model import Range
from styxy.errors import RefusedError
from styxy.leases import Identity, Lease
from styxy.results import Allocation
from styxy.transaction import Transaction
from styxy.vocabulary import Notice, Source

if TYPE_CHECKING:
    from styxy.autoalloc import Confirm


def allocate(
    txn: Transaction,
    *,
    service_type: str,
    identity: Identity,
    port: int | None,
    holder: tuple[int, float | None],
    yes: bool,
    confirm: Confirm | None,
    source: Source,
) -> Allocation:
    row = txn.document.range_of(service_type)
    created = None
    if row is None:
        from styxy import autoalloc

        created = autoalloc.create_range(txn, service_type, yes=yes, confirm=confirm)
        row = created.row
    same = txn.state.find(identity)
    if same is not None:
        return Allocation(same, existing=True, reason="same-identity")
    if row.single:
        running = txn.state.of_type(service_type)
        if running:
            return _single_instance(running[0])
    chosen = _choose_port(txn, row, identity, port)
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
        return Allocation(lease)
    return Allocation(
        lease,
        auto_allocated=True,
        new_range=(row.start, row.end),
        placement=created.placement,
        chunk_size=created.chunk_size,
        message=Notice(
            f"Auto-allocated range {row.start}-{row.end} for new service type '{service_type}'"
        ),
    )


def _single_instance(running: Lease) -> Allocation:
    message = Notice(
        f"Blocked: service type '{running.serviceType}' only allows a single instance; "
        f"already running on port {running.port} (process {running.pid}) — reusing it. "
        f"Use: styxy use --port {running.port}"
    )
    return Allocation(running, existing=True, reason="single-instance", message=message)


def _choose_port(txn: Transaction, row: Range, identity: Identity, port: int | None) -> int:
    if port is not None and port not in row:
        owner = txn.document.range_holding(port)
        if owner is not None:
            raise RefusedError(
                f"port {port} belongs to service type '{owner.service_type}' "
                f"({owner.start}-{owner.end}), not '{row.service_type}'."
            )
    taken = txn.state.ports()
    for candidate in _candidates(row, port, txn.state.remembered_port(identity)):
        if candidate in taken or ports.is_listening(candidate):
            continue
        return candidate
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
