"""The confirmation prompt of auto-allocation: a person at a terminal accepts, declines or
customizes the proposed range of a new service type (`autoAllocation.requireConfirmation`)."""

from __future__ import annotations

from styxy import output

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from styxy.api.records import ProblemOf, Proposal


def confirm(service_type: str, proposal: Proposal, problem_of: ProblemOf) -> Proposal | None:
    """The terminal prompt of confirmation mode; None declines."""
    from dataclasses import replace

    while True:
        answer = output.prompt(
            f"Unknown service type '{service_type}'. Proposed range {proposal.start}-{proposal.end} "
            f"(placement {proposal.placement}). Proceed? [y/N/customize] "
        ).lower()
        if answer in ("y", "yes"):
            return proposal
        if answer in ("c", "customize"):
            custom = _customize(problem_of)
            if custom is not None:
                start, size = custom
                proposal = replace(
                    proposal, start=start, end=start + size - 1, placement="custom", chunk_size=size
                )
            continue
        return None


def _customize(problem_of: ProblemOf) -> tuple[int, int] | None:
    try:
        start = int(output.prompt("Start port: "))
        size = int(output.prompt("Chunk size: "))
    except ValueError:
        output.error("start and chunk size must be whole numbers.")
        return None
    problem = problem_of(start, size)
    if problem:
        output.error(f"cannot use {start}-{start + size - 1}: {problem}")
        return None
    return start, size
