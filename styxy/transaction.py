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

from styxy import atomic, cache, leases, ports, view
from styxy.errors import CacheError, LockTimeoutError
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

    def parsed(self) -> Parsed:
        """The full Markdown parse, done only when a command needs to edit or read the audit."""
        if self._parsed is None:
            from styxy import document as doc_module

            self._parsed = doc_module.parse(
                doc_module.decode_text(self.doc_bytes, str(self.paths.doc)), str(self.paths.doc)
            )
            self.document = self._parsed.document
        return self._parsed  # type: ignore[no-any-return]

    def replace_text(self, text: str) -> None:
        """Adopt an edited document; it is parsed again so styxy never writes an invalid one."""
        from styxy import document as doc_module

        self._parsed = doc_module.parse(text, str(self.paths.doc))
        self.document = self._parsed.document
        self.new_text = text


@contextmanager
def transaction(paths: Paths) -> Iterator[Transaction]:
    notes = _prepare_folders(paths)
    from filelock import FileLock, Timeout

    lock = FileLock(str(paths.lock), mode=0o644)
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_SECONDS)
    except Timeout:
        raise LockTimeoutError(
            f"another styxy command has held {display(paths.lock)} for over "
            f"{LOCK_TIMEOUT_SECONDS:.0f} seconds; try again."
        ) from None
    try:
        txn = _load(paths, notes)
        yield txn
        if not txn.dry_run:
            _commit(txn)
    finally:
        lock.release()


def _prepare_folders(paths: Paths) -> list[str]:
    paths.sidecar.mkdir(parents=True, exist_ok=True)
    ignore = paths.sidecar / ".gitignore"
    if not ignore.exists():
        # The sidecar holds machine-local state that must never be committed.
        atomic.write_bytes(ignore, b"*\n")
    return []


def _sweep_leftovers(paths: Paths) -> None:
    """Remove temporary files of writers that were killed mid-write; we hold the lock."""
    for target in (paths.doc, paths.leases, paths.cache, paths.journal):
        for leftover in target.parent.glob(f".{target.name}.*.tmp"):
            try:
                leftover.unlink()
            except OSError:
                pass


def _load(paths: Paths, notes: list[str]) -> Transaction:
    _sweep_leftovers(paths)
    if not paths.doc.exists():
        from styxy.resources import default_document_bytes

        atomic.write_bytes(paths.doc, default_document_bytes())
        notes.append(f"created {display(paths.doc)} from the default")
    doc_bytes = paths.doc.read_bytes()
    # The document view is filled in by _load_view right away; None only until then.
    txn = Transaction(
        paths=paths,
        doc_bytes=doc_bytes,
        document=None,  # type: ignore[arg-type]
        state=LeaseFile(),
        notes=notes,
    )
    _load_view(txn)
    txn.state = txn._loaded = leases.load(paths.leases)
    _fold_journal(txn)
    _reap(txn)
    return txn


def _load_view(txn: Transaction) -> None:
    """Take the document view from the cache while it matches the bytes on disk."""
    cached = _read_cache(txn.paths)
    if cached is not None:
        txn._generation = cached.generation
        fresh = cached.doc_size == len(txn.doc_bytes) and cached.doc_crc == zlib.crc32(
            txn.doc_bytes
        )
        if fresh:
            try:
                txn.document = view.decode(cached.meta, str(txn.paths.doc))
                txn._cache_fresh = True
                return
            except (ValueError, KeyError, TypeError):
                pass  # an older view layout: rebuild from the document
    txn.parsed()


def _read_cache(paths: Paths) -> cache.CacheStamp | None:
    """The cache's stamp; None when it is missing or from another styxy (both are rebuilt)."""
    if not paths.cache.exists():
        return None
    try:
        return cache.read_stamp(paths.cache)
    except cache.CacheVersionError:
        return None
    except CacheError as exc:
        reason = str(exc).rstrip(".")
        raise CacheError(
            f"the cache {display(paths.cache)} is corrupt ({reason[:1].lower()}{reason[1:]}); "
            "delete it and styxy rebuilds it from the document."
        ) from None


def _fold_journal(txn: Transaction) -> None:
    """Turn the interceptor's moves into leases so `styxy list` shows them.

    The journal is renamed aside first, so a line the interceptor appends meanwhile starts a new
    journal instead of being lost; the aside files are deleted only after the lease file is
    written, so a refused or killed command folds them again next time.

    What becomes a lease (issue 13, point 8): at most one lease per port, and only a move whose
    process still runs or whose port is still listened on. A move's lease ends as soon as both
    are gone, grace period or not: the interceptor bound the port itself, so there is no start-up
    gap to protect, and a dead move left in the cache would push the next program to the next port.
    """
    journal = txn.paths.journal
    if journal.exists():
        try:
            os.rename(journal, _aside_name(journal))
        except FileNotFoundError:
            pass
    folding = []
    entries: list[cache.JournalEntry] = []
    for aside in sorted(journal.parent.glob(".journal.*.folding")):
        data = aside.read_bytes()
        # Whole lines only: a line still being written is left for the next fold.
        used = data.rfind(b"\n") + 1
        folding.append((aside, used))
        for line in data[:used].decode("utf-8", "replace").splitlines():
            entry = cache.parse_journal_line(line)
            if entry is not None:
                entries.append(entry)
    txn._folding = tuple(folding)
    _adopt_moves(txn, entries)


def _adopt_moves(txn: Transaction, entries: list[cache.JournalEntry]) -> None:
    """What becomes a lease: dead moves end, and each port gets at most one (issue 13, 8)."""
    moves = _Moves()
    kept = [x for x in txn.state.leases if x.source != "interceptor" or moves.live(x)]
    if len(kept) != len(txn.state.leases):
        # Reaped at once (`cleanup` lists them), with no history: their identity (`pid-N`)
        # never asks again.
        txn.reaped = tuple(x for x in txn.state.leases if x not in kept)
        txn.state = LeaseFile(leases=tuple(kept), history=txn.state.history)
    by_port = {lease.port for lease in txn.state.leases}
    for entry in entries:
        if entry.port in by_port:
            continue  # one lease per port: the first move (or the allocation) holds it
        lease = _journal_lease(entry, moves)
        if lease is not None:
            by_port.add(entry.port)
            txn.state = txn.state.add(lease)


class _Moves:
    """Liveness of the interceptor's moves, each process and port asked once per fold."""

    def __init__(self) -> None:
        self._started: dict[int, float | None] = {}
        self._listening: dict[int, bool] = {}

    def start_time(self, pid: int) -> float | None:
        if pid not in self._started:
            self._started[pid] = ports.process_start_time(pid)
        return self._started[pid]

    def listening(self, port: int) -> bool:
        if port not in self._listening:
            self._listening[port] = ports.is_listening(port)
        return self._listening[port]

    def live(self, lease: Lease) -> bool:
        return ports.process_alive(lease.pid, lease.pidStartTime) or self.listening(lease.port)


def _aside_name(journal: Path) -> Path:
    return journal.with_name(f".journal.{time.time_ns()}.folding")


def _finish_folding(txn: Transaction) -> None:
    """Delete the folded aside files, keeping any bytes written to them after they were read.

    An interceptor that opened the journal just before it was renamed writes into the aside
    file; what it wrote after the fold read it is moved to a new aside file for the next fold.
    """
    for aside, used in txn._folding:
        try:
            rest = aside.read_bytes()[used:]
        except FileNotFoundError:
            continue
        if rest:
            atomic.write_bytes(_aside_name(txn.paths.journal), rest, sync_folder=False)
        aside.unlink(missing_ok=True)


def _journal_lease(entry: cache.JournalEntry, moves: _Moves) -> Lease | None:
    """The lease of a journaled move, or None when its process is gone and its port silent."""
    started = moves.start_time(entry.pid)
    # A process that started after the move reuses the pid of the one that moved: the mover is
    # gone. Journal times are whole seconds, and a start time read from /proc may be a little
    # off; two seconds of slack keep a live mover from being taken for a stranger.
    if started is not None and started > entry.created_at + 2:
        started = None
    if started is None and not moves.listening(entry.port):
        return None
    return Lease(
        lockId=leases.new_lock_id(),
        port=entry.port,
        serviceType=entry.service_type,
        instanceId=f"pid-{entry.pid}",
        name=f"bind-{entry.requested_port}",
        pid=entry.pid,
        pidStartTime=started,
        createdAt=entry.created_at,
        source="interceptor",
    )


def _reap(txn: Transaction) -> None:
    stale = stale_leases(txn.state, txn.document.settings.lease_grace_seconds)
    if stale:
        txn.state = txn.state.remove(stale)
        txn.reaped = (*txn.reaped, *stale)  # after the dead moves the fold ended


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
    doc_changed = txn.new_text is not None and txn.new_text.encode("utf-8") != txn.doc_bytes
    if doc_changed:
        assert txn.new_text is not None
        txn.doc_bytes = txn.new_text.encode("utf-8")
        atomic.write_bytes(txn.paths.doc, txn.doc_bytes, mode=_mode_of(txn.paths.doc))
    leases_changed = txn.state != txn._loaded
    if leases_changed:
        written = atomic.write_bytes(txn.paths.leases, leases.dump(txn.state), sync_folder=False)
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
        return 0o644


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
        doc_crc=zlib.crc32(txn.doc_bytes),
        doc_size=len(txn.doc_bytes),
        generation=txn._generation + 1,
    )
    atomic.write_bytes(txn.paths.cache, data, sync_folder=False)


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
