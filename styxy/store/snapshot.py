"""State as the files on disk hold it, read without the lock (SPEC section 10).

Writers replace the document, the lease file and the cache by rename, so a reader that opens
each file once sees all of an old version or all of a new one, never a mix. Read-only commands
(`list`, `check`, `scan`, `use`, `config show|get|auto-allocation`, `doctor`, `ranges`) load a
`Snapshot` and never wait on the lock: they do not reap, fold the journal or write anything.
Liveness is theirs to compute (`Snapshot.stale`); a stale lease stays in the file until the
next writer reaps it.

The loading steps it shares with the locked transaction live in `styxy.store.loading`.
"""

from __future__ import annotations

import time
from pathlib import Path

from styxy.errors import DocumentError
from styxy.paths import Paths, missing_document
from styxy.records import record
from styxy.store.leases import Lease, LeaseFile
from styxy.store.loading import (
    LoadedDocument,
    journal_leases,
    journal_names,
    load_leases,
    open_sidecar,
    parse,
    read_and_load,
    read_journal_file,
    stale_leases,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from styxy.document import Parsed
    from styxy.document.model import Document


# ------------------------------------------------------------------------------ snapshots


@record
class Snapshot:
    """The document view and the leases (with the journal's moves not yet folded)."""

    paths: Paths
    loaded: LoadedDocument
    state: LeaseFile
    notes: tuple[str, ...] = ()
    _now: float = 0.0  # when it was read: `load` sets it

    @property
    def document(self) -> Document:
        """The view; while the document has errors, the last good one (see `require`)."""
        return self.loaded.document

    @property
    def problem(self) -> DocumentError | None:
        return self.loaded.problem

    def require(self) -> Document:
        """The document, for a command that cannot work without a valid one."""
        if self.loaded.problem is not None:
            raise self.loaded.problem
        return self.loaded.document

    def parsed(self) -> Parsed:
        """The full parse (settings as written, audit log); raises while the document is broken."""
        if self.loaded.problem is not None:
            raise self.loaded.problem
        if self.loaded.parsed is not None:
            return self.loaded.parsed
        return parse(self.paths, self.loaded.doc_bytes)

    def stale(self) -> list[Lease]:
        """Leases the next writer will reap: holder gone, port silent, older than the grace."""
        grace = self.loaded.document.settings.lease_grace_seconds
        return stale_leases(self.state, grace, self._now)

    def live(self) -> list[Lease]:
        """Leases that are not stale, as a writer would see them after reaping."""
        gone = {lease.lockId for lease in self.stale()}
        return [lease for lease in self.state.leases if lease.lockId not in gone]


def load(paths: Paths) -> Snapshot:
    """Everything a read-only command needs, without the lock.

    The one exception is first use at the default location: the document does not exist yet,
    and creating it is a write, done by a transaction as every write is.
    """
    notes: list[str] = []
    # Opened once, and every file of it read through the descriptor (styxy.store.sidecar).
    folder = open_sidecar(paths)
    try:
        loaded = read_and_load(paths, folder, tolerate_errors=True)
        if loaded is None:
            from styxy.store.transaction import run_change

            run_change(paths, lambda txn: None, notify=notes.append)
            if folder is None:
                folder = open_sidecar(paths)
            loaded = read_and_load(paths, folder, tolerate_errors=True)
            if loaded is None:
                raise missing_document(paths)  # removed again since it was made
        note = loaded.problem_note()
        if note is not None:
            notes.append(note)
        state = LeaseFile()
        if folder is not None:
            state = load_leases(folder, notes, written_as=loaded.leases_stamp)
            chunks = []
            for name in journal_names(folder):
                data = read_journal_file(folder, name)
                if data:
                    chunks.append((folder.where(name), data))
            _add_bpf_moves(paths, chunks)
            state, _ = journal_leases(state, chunks, notes)
    finally:
        if folder is not None:
            folder.close()
    return Snapshot(paths, loaded, state, tuple(notes), time.time())


def _add_bpf_moves(paths: Paths, chunks: list[tuple[Path, bytes]]) -> None:
    """The kernel program's moves not folded yet, shown at once as the journal's are, as the
    same journal lines the next writer folds (so with the lock ids it will keep)."""
    from styxy.store import bpfpins

    if not bpfpins.attached(paths.cache):
        return
    from styxy.store import bpfmaps

    folder = bpfpins.pin_folder(paths.cache)
    try:
        with bpfmaps.Maps(folder) as maps:
            found = maps.moves()
    except (OSError, bpfmaps.BpfMapError):
        return  # a reader never fails on them; the next writer says why
    if found:
        chunks.append((folder / "moves", b"".join(m.journal_line() for m in found)))
