"""The interceptor's moves: which journaled moves become leases, and when those leases end.

The rules of issue 13, point 8, shared by the fold under the lock (`transaction`) and the view
of a read-only command (`snapshot`), so both show the same leases:

- at most one lease per port: a move onto a port that already has a lease (an allocation or an
  earlier move) makes none, and the first holder keeps it;
- only a move that is alive: its process still runs (the same process: one that started after
  the move reuses the pid) or something listens on its port;
- a move's lease has a lock id derived from its journal record (`journal_lock_id`), so a
  read-only command that shows the journal as it is (`list`, `check`) and the writer that folds
  it later name the same lease with the same id, and `release LOCK_ID` finds it either way;
- an interceptor lease ends as soon as its holder is gone and its port silent, without waiting
  for `leaseGraceSeconds`: the grace period covers the gap between `allocate` and a server's
  `bind()`, and a move has no such gap (the library bound the port itself). Left in the cache,
  a dead move would push the next program moved from the same port one port further on.
"""

from __future__ import annotations

from styxy.store.cache import JournalEntry
from styxy.store.leases import Lease, LeaseFile
from styxy.system import ports

# Journal times are whole seconds and a start time read from /proc may be a little off: a
# process that started this long after the time on a line is another process with that pid.
REUSED_PID_SLACK_SECONDS = 2


def journal_lock_id(record: str) -> str:
    """The lock id of the lease a journal record becomes: the same for the same record in every
    process that reads it, before and after the fold (the line holds the mover's pid, both
    ports, the service type and the time, so two moves never share it). 16 hex digits, like
    the random lock id of any other lease (`leases.new_lock_id`)."""
    import hashlib  # here: OpenSSL's start-up costs 2 ms, and most commands fold no journal

    digest = hashlib.sha256(b"styxy-journal\0" + record.strip().encode("utf-8")).hexdigest()
    return digest[:16]


class Moves:
    """Liveness of moves, each process and port asked once per load."""

    def __init__(self) -> None:
        self._started: dict[int, float | None] = {}
        self._listening: dict[int, bool] = {}

    def _start_time(self, pid: int) -> float | None:
        if pid not in self._started:
            self._started[pid] = ports.process_start_time(pid)
        return self._started[pid]

    def _port_listened(self, port: int) -> bool:
        if port not in self._listening:
            self._listening[port] = ports.is_listening(port)
        return self._listening[port]

    def end_dead(self, state: LeaseFile) -> tuple[LeaseFile, tuple[Lease, ...]]:
        """The state without interceptor leases whose holder is gone and whose port is silent.

        They leave no history entry: their identity (`pid-N`) never asks again.
        """
        ended = tuple(
            lease
            for lease in state.leases
            if lease.source == "interceptor"
            and not ports.process_alive(lease.pid, lease.pidStartTime)
            and not self._port_listened(lease.port)
        )
        if not ended:
            return state, ()
        gone = {lease.lockId for lease in ended}
        kept = tuple(lease for lease in state.leases if lease.lockId not in gone)
        return LeaseFile(leases=kept, history=state.history), ended

    def lease_of(self, entry: JournalEntry, record: str) -> Lease | None:
        """The lease of a journaled move (`record` is its line), or None when its mover is gone
        and its port silent."""
        started = self._start_time(entry.pid)
        if started is not None and started > entry.created_at + REUSED_PID_SLACK_SECONDS:
            started = None  # the pid now names a later process: the mover is gone
        if started is None and not self._port_listened(entry.port):
            return None
        return Lease(
            lockId=journal_lock_id(record),
            port=entry.port,
            serviceType=entry.service_type,
            instanceId=f"pid-{entry.pid}",
            name=f"bind-{entry.requested_port}",
            pid=entry.pid,
            pidStartTime=started,
            createdAt=entry.created_at,
            source="interceptor",
        )
