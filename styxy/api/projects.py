"""Forgetting projects: `styxy env --release` for one, `styxy env --prune` for every
worktree whose folder is gone (SPEC sections 14 and 22).

Each works in one locked transaction: the leases of the project's instance end, the ports
its identities remembered are forgotten, and so is its record in the projects file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from styxy import names, paths
from styxy.store.leases import Lease, LeaseFile
from styxy.store.transaction import Transaction, run_change

Notify = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Pruned:
    """One project whose folder is gone, and the leases that ended with it."""

    project_id: str
    root: str
    released: tuple[Lease, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project_id,
            "root": self.root,
            "released": [lease.to_json() for lease in self.released],
        }


def prune(*, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet) -> list[Pruned]:
    """End the leases and forget the ids of recorded projects whose root folder is gone.

    The folders are looked at under the lock, so a worktree made again meanwhile at the same
    path (the same id) keeps what it has.
    """

    def change(txn: Transaction) -> list[Pruned]:
        gone = [(pid, root) for pid, root in txn.projects().roots if not os.path.isdir(root)]
        found = [
            Pruned(pid, root, tuple(sorted(_of(txn.state, pid), key=lambda x: (x.port, x.lockId))))
            for pid, root in gone
        ]
        _forget(txn, [pid for pid, _ in gone])
        return found

    return run_change(paths.resolve(doc), change, notify=notify, needs_document=False)


def release(
    project_id: str, *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> list[Lease]:
    """End every lease of one project and forget its record (`styxy env --release`)."""
    names.check_identity_part("instance id", project_id)

    def change(txn: Transaction) -> list[Lease]:
        ended = _of(txn.state, project_id)
        if ended:
            txn.state = txn.state.remove(ended)
        if txn.projects().root_of(project_id) is not None:
            txn.set_projects(txn.projects().without([project_id]))
        return ended

    ended = run_change(paths.resolve(doc), change, notify=notify, needs_document=False)
    return sorted(ended, key=lambda x: (x.port, x.lockId))


def _of(state: LeaseFile, project_id: str) -> list[Lease]:
    return [x for x in state.leases if x.instanceId == project_id]


def _forget(txn: Transaction, project_ids: Iterable[str]) -> None:
    """End the projects' leases and drop every port their identities remembered."""
    gone = set(project_ids)
    if not gone:
        return
    ended = [x for x in txn.state.leases if x.instanceId in gone]
    state = txn.state.remove(ended)
    txn.state = LeaseFile(
        leases=state.leases,
        history=tuple(item for item in state.history if item[0][1] not in gone),
    )
    txn.set_projects(txn.projects().without(gone))
