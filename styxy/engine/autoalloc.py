"""A range for a service type the document has never seen (SPEC section 6).

Runs inside the allocation's transaction, so the range is computed against the document as it
is on disk under the lock: concurrent requests can never place overlapping ranges.
"""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from styxy.document.model import Range
from styxy.errors import RefusedError
from styxy.paths import display
from styxy.store.transaction import Transaction
from styxy.system import ports
from styxy.vocabulary import MAX_PORT, ChosenPlacement

if TYPE_CHECKING:
    from pathlib import Path

    from styxy.document.model import Document
    from styxy.engine.placement import Proposal, RegistryHints
    from styxy.store.leases import Lease


@dataclass(frozen=True)
class Created:
    row: Range
    placement: ChosenPlacement
    chunk_size: int
    notes: tuple[str, ...] = ()  # lines for the person who asked (a detect rule that matches)


ProblemOf = Callable[[int, int], str | None]
# The terminal prompt of confirmation mode: the accepted (maybe customized) proposal, or None.
Confirm = Callable[[str, "Proposal", ProblemOf], "Proposal | None"]


def create_range(
    txn: Transaction, service_type: str, *, yes: bool, confirm: Confirm | None
) -> Created:
    plan = NewRows(txn)
    plan.add(service_type, yes=yes, confirm=confirm)
    return plan.write()[service_type]


class NewRows:
    """New ranges placed one after another and written in one splice (`write`).

    Each is placed against the document with the rows placed before it, as if each were
    written at once; the text is then spliced and parsed once. A project of hundreds of new
    types (`styxy env`) parsed its growing document once a row: 1,000 types held the lock
    for 45 s (issue 20).
    """

    def __init__(self, txn: Transaction) -> None:
        from styxy.engine.newtypes import new_in_last_day

        self.txn = txn
        self.parsed = txn.parsed()
        # The document as it will be: the rows placed so far in it (their audit lines not yet).
        self.document = self.parsed.document
        self._made = new_in_last_day(self.document)
        self._used: tuple[frozenset[int], tuple[int, int] | None] | None = None
        self._rows: list[tuple[Range, ChosenPlacement, int, str]] = []

    def _ports(self) -> tuple[frozenset[int], tuple[int, int] | None]:
        """The ports in use and the ephemeral range, asked once, after the daily limit."""
        if self._used is None:
            leased = {lease.port for lease in self.txn.state.leases}
            self._used = (self.txn.listening() | leased, ports.ephemeral_range())
        return self._used

    def add(self, service_type: str, *, yes: bool, confirm: Confirm | None) -> Range:
        """Place the range of `service_type` after those already placed; refused as
        `create_range` refuses (the daily limit counts the rows placed before it)."""
        from styxy import document
        from styxy.engine.newtypes import check_daily_limit

        check_daily_limit(self.document, service_type, self._made + len(self._rows))
        listening, ephemeral = self._ports()
        where = self.txn.paths.doc
        proposal = propose_new(
            self.document, service_type, where, listening=listening, ephemeral=ephemeral
        )
        problem_of = _window_check(self.document, service_type, listening, ephemeral)
        if self.document.settings.auto_allocation.require_confirmation and not yes:
            proposal = _confirmed(service_type, proposal, problem_of, confirm)
        # The write-time check: the window must still be admissible in the document under the lock.
        problem = problem_of(proposal.start, proposal.end - proposal.start + 1)
        if problem is not None:
            raise RefusedError(
                f"cannot place '{service_type}' at {proposal.start}-{proposal.end}: {problem}"
            )
        row = Range(
            service_type=service_type,
            start=proposal.start,
            end=proposal.end,
            instances="multi",
            preferred=(),
            description=f"Auto-allocated {time.strftime('%Y-%m-%d', time.gmtime())}",
        )
        chunk = proposal.end - proposal.start + 1
        line = document.audit_line(
            "auto-allocate",
            service_type,
            row.start,
            row.end,
            chunk=chunk,
            placement=proposal.placement,
            by=who(),
        )
        self._rows.append((row, proposal.placement, chunk, line))
        self.document = document.with_row(self.document, row)
        return row

    def write(self) -> dict[str, Created]:
        """The rows and their audit lines spliced into the transaction's document (parsed
        once); what each new type got, by its name."""
        from styxy import document

        if not self._rows:
            return {}
        rows = [row for row, _, _, _ in self._rows]
        lines = [line for _, _, _, line in self._rows]
        self.txn.replace_text(document.add_ranges(self.parsed, rows, audit=lines))
        by_name = {row.service_type: row for row in self.txn.document.ranges}
        return {
            row.service_type: Created(by_name[row.service_type], placement, chunk)
            for row, placement, chunk, _ in self._rows
        }


def _window_check(
    doc: Document,
    service_type: str,
    listening: frozenset[int],
    ephemeral: tuple[int, int] | None,
) -> ProblemOf:
    """Why a window of `size` ports from `start` cannot be the type's new range (None: it can)."""
    from styxy.engine import placement

    settings = doc.settings
    lo, hi = placement.user_ports(*placement.bounds(service_type, settings))

    def problem_of(start: int, size: int) -> str | None:
        if size < 1:
            return "the chunk size must be at least 1."
        if not 1 <= start <= MAX_PORT or start + size - 1 > MAX_PORT:
            return f"{start}-{start + size - 1} is outside 1..{MAX_PORT}."
        return placement.window_problem(
            start,
            start + size - 1,
            doc.ranges,
            settings,
            listening=listening,
            ephemeral=ephemeral,
            lo=lo,
            hi=hi,
        )

    return problem_of


def used_ports(leased: Iterable[Lease]) -> frozenset[int]:
    """Ports a new range must not cover: those listened on, and those live leases hold.

    A lease is a used port even where no range holds it any more (its row was removed by hand).
    """
    return ports.listening_in(1, MAX_PORT) | {lease.port for lease in leased}


def propose_new(
    document: Document,
    service_type: str,
    doc_path: Path,
    *,
    listening: Collection[int],
    ephemeral: tuple[int, int] | None,
) -> Proposal:
    """The range a new type would get; writes nothing (`allocate` and `suggest_range` share it)."""
    from styxy.engine import placement

    if not document.settings.auto_allocation.enabled:
        raise RefusedError(
            f"Unknown service type '{service_type}': add a row for it to the table in "
            f"{display(doc_path)}, or turn auto-allocation on with "
            "`styxy config set auto-allocation.enabled true`."
        )
    return placement.propose(
        service_type,
        document.ranges,
        document.settings,
        listening=listening,
        ephemeral=ephemeral,
        registry=registry_hints(service_type),
    )


def registry_hints(service_type: str) -> RegistryHints:
    """The registry's say on a new range (SPEC section 13). Read only here, when a range is
    placed: allocating from an existing range never loads the index."""
    from styxy.engine.placement import RegistryHints
    from styxy.system import curated, iana

    return RegistryHints(iana.assigned_ports(), curated.foreign_ports(service_type))


def _confirmed(
    service_type: str, proposal: Proposal, problem_of: ProblemOf, confirm: Confirm | None
) -> Proposal:
    if confirm is None:
        raise RefusedError(
            f"Unknown service type '{service_type}' needs confirmation "
            "(autoAllocation.requireConfirmation is on); run on a terminal, or pass --yes."
        )
    answer = confirm(service_type, proposal, problem_of)
    if answer is None:
        raise RefusedError(f"declined: no range was created for '{service_type}'.")
    return answer


def who() -> str:
    """`user@host` for the audit line: who made the change, as git blame would want to know."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        user = "unknown"
    return f"{user}@{socket.gethostname().split('.')[0]}"
