"""The one locked unit of work: lock, load, reap, change, write document, leases and cache.

Every command that reads or changes state goes through `transaction()`. Writes happen only
when the body returns normally, in the order document -> leases -> cache, each atomic, so a
process killed at any moment leaves each file as it was before or as it is after.
"""

from __future__ import annotations

import bisect
import os
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styxy import atomic, cache, fsio, leases, ports, snapshot, view
from styxy.errors import DocumentError, LockTimeoutError
from styxy.leases import Lease, LeaseFile
from styxy.paths import Paths, display

if TYPE_CHECKING:
    from styxy.document import Parsed
    from styxy.document.model import Document

LOCK_TIMEOUT_SECONDS = 30.0


@dataclass
class Transaction:
    """State loaded under the lock; the body changes `state` and may replace the text."""

    paths: Paths
    doc_bytes: bytes
    document: Document
    state: LeaseFile
    reaped: tuple[Lease, ...] = ()
    notes: list[str] = field(default_factory=list)
    new_text: str | None = None
    dry_run: bool = False  # load and reap, but write nothing (`cleanup --dry-run`)
    _parsed: Any = None
    _cache_fresh: bool = False
    _generation: int = 0
    _folding: tuple[tuple[Path, int], ...] = ()  # journal files set aside, bytes consumed
    _loaded: LeaseFile = field(default_factory=LeaseFile)
    # Set when the document has errors and the command works on the leases without it
    # (`transaction(paths, needs_document=False)`); `document` is then the last good view.
    document_problem: DocumentError | None = None
    _stamp: tuple[int, int] | None = None  # the cache's (crc, size) while the document is broken

    def parsed(self) -> Parsed:
        """The full Markdown parse, done only when a command needs to edit or read the audit."""
        if self.document_problem is not None:
            raise self.document_problem
        if self._parsed is None:
            self._parsed = snapshot.parse(self.paths, self.doc_bytes)
            self.document = self._parsed.document
        return self._parsed  # type: ignore[no-any-return]

    def new_bytes(self) -> bytes | None:
        """The edited document's bytes, None when unedited; a byte order mark the document
        started with is kept (the text the parser saw had it taken off)."""
        if self.new_text is None:
            return None
        from styxy.document.lines import BOM

        data = self.new_text.encode("utf-8")
        if self.doc_bytes.startswith(BOM) and not data.startswith(BOM):
            data = BOM + data
        return data

    def replace_text(self, text: str) -> None:
        """Adopt an edited document; it is parsed again so styxy never writes an invalid one."""
        from styxy import document as doc_module

        self._parsed = doc_module.parse(text, str(self.paths.doc))
        self.document = self._parsed.document
        self.new_text = text
        # A valid text replaces a broken one (`init --force`): the cache describes it now.
        self.document_problem = None
        self._stamp = None


@contextmanager
def transaction(paths: Paths, *, needs_document: bool = True) -> Iterator[Transaction]:
    """Lock, load, reap; commit when the body returns.

    `needs_document=False` is for commands that work on the leases alone (`release`,
    `cleanup`, handing a lease to a child): they still run while the document has errors,
    which `txn.document_problem` and a note then tell (SPEC section 10).
    """
    # Before making any folder: a mistyped --doc or a FIFO at the document must leave no trace.
    snapshot.check_document(paths)
    notes = _prepare_folders(paths)
    from filelock import FileLock, Timeout

    fsio.check_private_file(paths.lock, fsio.LOCK_FILE)
    lock = FileLock(str(paths.lock), mode=fsio.PRIVATE_FILE_MODE)
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
    except Timeout:
        raise LockTimeoutError(
            f"another styxy command has held {display(paths.lock)} for over "
            f"{LOCK_TIMEOUT_SECONDS:.0f} seconds; try again."
        ) from None
    try:
        txn = _load(paths, notes, needs_document)
        yield txn
        if not txn.dry_run:
            _commit(txn)
    finally:
        lock.release()


def _prepare_folders(paths: Paths) -> list[str]:
    """Make the sidecar (private to its owner) and refuse one that is a link or another's."""
    if not snapshot.sidecar_exists(paths):
        paths.doc.parent.mkdir(parents=True, exist_ok=True)
        try:
            paths.sidecar.mkdir(mode=fsio.PRIVATE_FOLDER_MODE)
        except FileExistsError:
            pass  # another styxy made it meanwhile: checked below like any other
        snapshot.sidecar_exists(paths)
    ignore = paths.sidecar / ".gitignore"
    if not os.path.lexists(ignore):
        # The sidecar holds machine-local state that must never be committed.
        atomic.write_bytes(ignore, b"*\n", mode=fsio.PRIVATE_FILE_MODE)
    return []


def _sweep_leftovers(paths: Paths) -> None:
    """Remove temporary files of writers that were killed mid-write; we hold the lock."""
    for target in (paths.doc, paths.leases, paths.cache, paths.journal):
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            try:
                leftover.unlink()
            except OSError:
                pass


def _load(paths: Paths, notes: list[str], needs_document: bool) -> Transaction:
    _sweep_leftovers(paths)
    doc_bytes = snapshot.read_document(paths)
    if doc_bytes is None:
        from styxy.resources import default_document_bytes

        doc_bytes = default_document_bytes()
        # A new document follows the umask, like any file the user makes.
        atomic.write_bytes(paths.doc, doc_bytes, mode=fsio.creation_mode())
        notes.append(f"created {display(paths.doc)} from the default")
    loaded = snapshot.load_document(paths, doc_bytes, tolerate_errors=not needs_document)
    note = loaded.problem_note()
    if note is not None:
        notes.append(note)
    txn = Transaction(
        paths=paths,
        doc_bytes=doc_bytes,
        document=loaded.document,
        state=LeaseFile(),
        notes=notes,
        _parsed=loaded.parsed,
        _cache_fresh=loaded.cache_fresh,
        _generation=loaded.generation,
        document_problem=loaded.problem,
        _stamp=loaded.stamp,
    )
    txn.state = txn._loaded = snapshot.load_leases(paths, notes)
    _fold_journal(txn)
    _reap(txn)
    return txn


def _fold_journal(txn: Transaction) -> None:
    """Turn the interceptor's moves into leases so `styxy list` shows them.

    The journal is renamed aside first, so a line the interceptor appends meanwhile starts a new
    journal instead of being lost; the aside files are deleted only after the lease file is
    written, so a refused or killed command folds them again next time.
    """
    journal = txn.paths.journal
    # Refused before it is renamed: a folder, a FIFO, a link or another user's file there is
    # named as it is, and left where it is.
    if fsio.check_private_file(journal, fsio.JOURNAL) is not None:
        try:
            os.rename(journal, _aside_name(journal))
        except FileNotFoundError:
            pass
    folding = []
    chunks = []
    for aside in snapshot.journal_files(txn.paths)[:-1]:
        data = snapshot.read_journal_file(aside)
        if data is None:
            continue
        # Whole lines only: a line still being written is left for the next fold.
        folding.append((aside, data.rfind(b"\n") + 1))
        chunks.append((aside, data))
    txn.state = snapshot.journal_leases(txn.state, chunks, txn.notes)
    txn._folding = tuple(folding)


def _aside_name(journal: Path) -> Path:
    return journal.with_name(f".journal.{time.time_ns()}.folding")


def _finish_folding(txn: Transaction) -> None:
    """Delete the folded aside files, keeping any bytes written to them after they were read.

    An interceptor that opened the journal just before it was renamed writes into the aside
    file; what it wrote after the fold read it is moved to a new aside file for the next fold.
    """
    for aside, used in txn._folding:
        data = snapshot.read_journal_file(aside)
        if data is None:
            continue
        rest = data[used:]
        if rest:
            atomic.write_bytes(
                _aside_name(txn.paths.journal),
                rest,
                mode=fsio.PRIVATE_FILE_MODE,
                sync_folder=False,
            )
        aside.unlink(missing_ok=True)


def _reap(txn: Transaction) -> None:
    stale = stale_leases(txn.state, txn.document.settings.lease_grace_seconds)
    if stale:
        txn.state = txn.state.remove(stale)
        txn.reaped = tuple(stale)


def stale_leases(state: LeaseFile, grace_seconds: int, now: float | None = None) -> list[Lease]:
    """Leases whose holder is gone, whose port is silent, and that are old enough to end."""
    now = time.time() if now is None else now
    alive_by_pid: dict[tuple[int, float | None], bool] = {}
    stale = []
    for lease in state.leases:
        # Cheapest test first: a young lease is never stale, whatever its holder does.
        if lease.age(now) < grace_seconds:
            continue
        key = (lease.pid, lease.pidStartTime)
        if key not in alive_by_pid:
            alive_by_pid[key] = ports.process_alive(lease.pid, lease.pidStartTime)
        if alive_by_pid[key] or ports.is_listening(lease.port):
            continue
        stale.append(lease)
    return stale


def _commit(txn: Transaction) -> None:
    new_bytes = txn.new_bytes()
    doc_changed = new_bytes is not None and new_bytes != txn.doc_bytes
    if doc_changed:
        assert new_bytes is not None
        txn.doc_bytes = new_bytes
        atomic.write_bytes(txn.paths.doc, txn.doc_bytes, mode=_mode_of(txn.paths.doc))
    leases_changed = txn.state != txn._loaded
    if leases_changed:
        written = atomic.write_bytes(
            txn.paths.leases,
            leases.dump(txn.state),
            mode=fsio.PRIVATE_FILE_MODE,
            sync_folder=False,
        )
        leases.remember(txn.paths.leases, written, txn.state)
    if doc_changed or leases_changed or not txn._cache_fresh:
        write_cache(txn)
    _finish_folding(txn)
    # One folder sync for the sidecar's renames instead of one per file: the renames are
    # atomic either way; this only makes them durable, and it costs as much as a file fsync.
    if leases_changed or doc_changed or not txn._cache_fresh or txn._folding:
        atomic.fsync_folder(txn.paths.sidecar)


def _mode_of(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return fsio.creation_mode()


def write_cache(txn: Transaction) -> None:
    document = txn.document
    ranges = [cache.CacheRange(r.service_type, r.start, r.end, r.single) for r in document.ranges]
    index_of = _range_indexer(document)
    live = [
        cache.CacheLease(lease.port, lease.pid, index_of(lease.port)) for lease in txn.state.leases
    ]
    detect = [(kind, glob) for kind, globs in document.settings.detect.items() for glob in globs]
    data = cache.encode(
        ranges=ranges,
        leases=live,
        detect=detect,
        meta=view.encode(document),
        doc_crc=txn._stamp[0] if txn._stamp else zlib.crc32(txn.doc_bytes),
        doc_size=txn._stamp[1] if txn._stamp else len(txn.doc_bytes),
        generation=txn._generation + 1,
    )
    atomic.write_bytes(txn.paths.cache, data, mode=fsio.PRIVATE_FILE_MODE, sync_folder=False)


def _range_indexer(document: Document) -> Callable[[int], int]:
    """Port -> index of the row holding it (0xFFFF for none), by bisection: ranges never overlap."""
    order = sorted(range(len(document.ranges)), key=lambda i: document.ranges[i].start)
    starts = [document.ranges[i].start for i in order]

    def index_of(port: int) -> int:
        at = bisect.bisect_right(starts, port) - 1
        if at >= 0 and port <= document.ranges[order[at]].end:
            return order[at]
        return 0xFFFF

    return index_of
