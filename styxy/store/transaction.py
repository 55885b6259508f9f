"""The one locked unit of work: lock, load, reap, change, then commit every file or none.

Every command that changes state runs its change through `run_change`: a function applied to
the state loaded under the lock. The commit prepares the bytes of every file it replaces
(document, lease file, cache) and writes each to an fsynced temporary file before it renames
any; the renames come last, in the order document -> lease file -> cache. A refusal or a write
error before the renames replaces nothing. Right before the document's rename the transaction
checks that the document on disk is still the file and the bytes it read; when a hand edit
was saved meanwhile it loads again and applies the change to the new text, so no edit is lost.
docs/ARCHITECTURE.md tells what a crash between two renames leaves and how it is repaired.
"""

from __future__ import annotations

import bisect
import os
import stat
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from styxy.errors import CacheError, DocumentError, RefusedError
from styxy.paths import Paths, display
from styxy.store import atomic, cache, fsio, leases, lockfile, memo, snapshot, view
from styxy.store.leases import Lease, LeaseFile
from styxy.system import ports

if TYPE_CHECKING:
    from styxy.document import Parsed
    from styxy.document.model import Document

LOCK_TIMEOUT_SECONDS = 30.0
# How many times a change is applied to a document that hand edits keep changing before the
# command gives up; each try waits for the document to settle first. A try takes 0.1-0.3 s, so
# a document saved several times a second still lets one through.
CHANGE_ATTEMPTS = 20
_SETTLE_SECONDS = 0.02
_SETTLE_LIMIT_SECONDS = 2.0
_DOCUMENT_LIMIT = 64 * 1024 * 1024  # what a late edit is read up to; far above any document

T = TypeVar("T")
Notify = Callable[[str], None]


@dataclass
class Transaction:
    """State loaded under the lock; a change reads it, replaces `state` and may replace the text.

    Callers use `paths`, `document`, `state`, `reaped`, `loaded`, `parsed()` and
    `replace_text()`; the rest belongs to the load and the commit.
    """

    paths: Paths
    doc_bytes: bytes
    document: Document
    state: LeaseFile
    reaped: tuple[Lease, ...] = ()
    notes: list[str] = field(default_factory=list)
    new_text: str | None = None
    _parsed: Any = None
    _cache_fresh: bool = False
    _generation: int = 0
    _cache_leases_stamp: int = 0  # the lease file the cache's lease table was built from
    _folding: tuple[tuple[Path, int], ...] = ()  # journal files set aside, bytes consumed
    _loaded: LeaseFile = field(default_factory=LeaseFile)
    # Set when the document has errors and the command works on the leases without it
    # (`run_change(..., needs_document=False)`); `document` is then the last good view.
    document_problem: DocumentError | None = None
    _stamp: tuple[int, int] | None = None  # the cache's (crc, size) while the document is broken

    @property
    def loaded(self) -> LeaseFile:
        """The leases as the lease file held them, before the journal was folded and reaped."""
        return self._loaded

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


def run_change(
    paths: Paths,
    change: Callable[[Transaction], T],
    *,
    notify: Notify,
    dry_run: bool = False,
    needs_document: bool = True,
) -> T:
    """Apply `change` to the state loaded under the lock and commit what it changed.

    `change` may run more than once: when a hand edit is saved to the document while it runs,
    the state is loaded again and `change` applied to the new text, so it must act only through
    the transaction it is given (a refusal it raises on the new text is the command's answer).
    With `dry_run` the change only looks: nothing is written. Lines for the user (a created
    document, a lock held by another process, a redone change) go to `notify`, each once.

    `needs_document=False` is for changes that work on the leases alone (`release`,
    `cleanup`, handing a lease to a child): they still run while the document has errors,
    which `txn.document_problem` and a note then tell (SPEC section 10).
    """
    atomic.target_of(paths.doc)  # a dangling link is refused before anything is created
    # Before making any folder: a mistyped --doc or a FIFO at the document must leave no trace.
    snapshot.check_document(paths)
    told: set[str] = set()

    def tell(text: str) -> None:
        if text not in told:
            told.add(text)
            notify(text)

    notes = _prepare_folders(paths)
    fsio.check_private_file(paths.lock, fsio.LOCK_FILE)
    with lockfile.hold(paths.lock, timeout=LOCK_TIMEOUT_SECONDS, on_wait=tell):
        _sweep_beside_target(paths.doc)
        for _ in range(CHANGE_ATTEMPTS):
            txn = _load(paths, list(notes), needs_document)
            for note in txn.notes:
                tell(note)
            seen = _DocumentSeen.take(paths.doc, txn.doc_bytes)
            result = change(txn)
            if dry_run or _commit(txn, seen):
                return result
            tell(
                f"{display(paths.doc)} was saved while this command ran; "
                "applying the change to the saved text."
            )
            _settle(paths.doc)
    raise RefusedError(
        f"{display(paths.doc)} kept changing while styxy tried to change it "
        f"({CHANGE_ATTEMPTS} tries); nothing was written, run the command again."
    )


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
        _cache_leases_stamp=loaded.leases_stamp,
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

    What becomes a lease, and when an interceptor lease ends, is `styxy.store.moves` (issue 13,
    point 8): one lease per port, none for a move whose process is gone and whose port is silent.
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
    txn.state, ended = snapshot.journal_leases(txn.state, chunks, txn.notes)
    if ended:
        txn.reaped = ended  # dead moves end at once; `cleanup` lists them among the reaped
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
        txn.reaped = (*txn.reaped, *stale)  # after the dead moves the fold ended


def stale_leases(state: LeaseFile, grace_seconds: int, now: float | None = None) -> list[Lease]:
    """Leases whose holder is gone, whose port is silent, and that are old enough to end."""
    now = time.time() if now is None else now
    alive_by_pid: dict[tuple[int, float | None], bool] = {}
    stale = []
    # Cheapest test first, at C speed: a young lease is never stale, whatever its holder does.
    born_before = now - grace_seconds
    for lease in [x for x in state.leases if x.createdAt <= born_before]:
        key = (lease.pid, lease.pidStartTime)
        if key not in alive_by_pid:
            alive_by_pid[key] = ports.process_alive(lease.pid, lease.pidStartTime)
        if alive_by_pid[key] or ports.is_listening(lease.port):
            continue
        stale.append(lease)
    return stale


# A temporary file beside a linked document's target may belong to a styxy working through
# another link (with another sidecar and lock); only one this old is surely a leftover.
_FOREIGN_LEFTOVER_SECONDS = 60.0


def _sweep_beside_target(doc: Path) -> None:
    """Remove temporary files a killed writer left beside the final target of a linked document.

    The sidecar and the document's own folder are swept by the load; a link's target may live
    in another folder (a dotfiles repository), where a leftover would show in `git status`.
    """
    target = atomic.target_of(doc)
    if target.parent == doc.parent:
        return
    cutoff = time.time() - _FOREIGN_LEFTOVER_SECONDS
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        try:
            if leftover.lstat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass


@dataclass(frozen=True)
class _DocumentSeen:
    """The document file a transaction read: which file it was and the bytes it held."""

    device: int
    inode: int
    data: bytes

    @classmethod
    def take(cls, path: Path, data: bytes) -> _DocumentSeen:
        # Taken right after the load read the bytes. A rename landing between the two makes
        # the inode newer than the bytes; the byte comparison at commit still sees the change.
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return cls(-1, -1, data)  # removed meanwhile: the commit's check fails and reloads
        return cls(status.st_dev, status.st_ino, data)

    def matches(self, fd: int) -> bool:
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) != (self.device, self.inode):
            return False
        return _read_all(fd, len(self.data) + 1) == self.data


def _read_all(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from the start of the file, whatever the descriptor's offset."""
    chunks = []
    total = 0
    while total < limit:
        chunk = os.pread(fd, limit - total, total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _commit(txn: Transaction, seen: _DocumentSeen) -> bool:
    """Replace every changed file, or none; False when the document changed since it was read.

    Every output is computed (a cache over its size limit refuses here) and written to an
    fsynced temporary file before the first rename; any failure until then removes the
    temporaries and leaves every file as it was.
    """
    new_bytes = txn.new_bytes()
    doc_bytes = txn.doc_bytes if new_bytes is None else new_bytes
    staged: dict[str, atomic.Staged] = {}
    try:
        if doc_bytes != txn.doc_bytes:
            staged["doc"] = atomic.stage(txn.paths.doc, doc_bytes, mode=_mode_of(txn.paths.doc))
        if txn.state != txn._loaded:
            staged["leases"] = atomic.stage(
                txn.paths.leases, leases.dump(txn.state), mode=fsio.PRIVATE_FILE_MODE
            )
        # The cache names the lease file it goes with, so it is built once that file exists.
        lease_file = staged["leases"].status if "leases" in staged else _status(txn.paths.leases)
        stamp = leases_stamp(lease_file)
        if staged or not txn._cache_fresh or stamp != txn._cache_leases_stamp:
            data = cache_bytes(txn, doc_bytes, stamp)
            staged["cache"] = atomic.stage(txn.paths.cache, data, mode=fsio.PRIVATE_FILE_MODE)
        if "doc" in staged and not _replace_document(staged["doc"], seen):
            return False
        # Lease file, then cache: the order docs/ARCHITECTURE.md explains.
        for key in ("leases", "cache"):
            if key in staged:
                staged[key].publish()
    finally:
        for item in staged.values():
            item.discard()  # a no-op for those already renamed
    if "leases" in staged:
        leases.remember(txn.paths.leases, staged["leases"].status, txn.state)
    _finish_folding(txn)
    # One folder sync for the sidecar's renames instead of one per file: the renames are
    # atomic either way; this only makes them durable, and it costs as much as a file fsync.
    if "leases" in staged or "cache" in staged or txn._folding:
        atomic.fsync_folder(txn.paths.sidecar)
    return True


def _status(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def leases_stamp(status: os.stat_result | None) -> int:
    """Which lease file a cache goes with: a CRC-32 of its identity, 0 when there is none.

    Every write of the lease file is a new inode with its own size and modification time, so
    a cache whose stamp differs from the file on disk was built from another lease file (a
    crash between the two renames) and is rebuilt.
    """
    if status is None:
        return 0
    identity = f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"
    return zlib.crc32(identity.encode()) or 1


def _replace_document(staged: atomic.Staged, seen: _DocumentSeen) -> bool:
    """Put the new document at its path only if the old one is still what was read.

    Three checks, so that no saved edit is lost:

    1. Before: the file at the path is still the one read, with the same bytes.
    2. The swap itself: where Linux allows it, the new file and the old one trade places in one
       step (`renameat2` RENAME_EXCHANGE), so the file displaced is known exactly; if a save by
       rename landed after check 1, that file is swapped back and the change is redone on it.
       Elsewhere a plain rename follows check 1 at once.
    3. After: an editor that writes in place and had opened the old file before the swap
       writes into the displaced file; a moment later it is read once more through the
       descriptor kept open on it, and if it changed it goes back to the path.

    False means the document changed: the caller loads it again and redoes the change.
    """
    try:
        fd = os.open(staged.target, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return False  # moved away by hand: load again, which says what is there now
    try:
        if not seen.matches(fd):
            return False
        swapped = atomic.exchange(staged.temporary, staged.target)
        if swapped:
            # The temporary name now holds what was at the path at the instant of the swap.
            displaced = os.lstat(staged.temporary)
            if (displaced.st_dev, displaced.st_ino) != (seen.device, seen.inode):
                atomic.exchange(staged.temporary, staged.target)
                return False
        else:
            staged.publish()
        time.sleep(_SETTLE_SECONDS)  # an edit in place started before the swap lands now
        if _read_all(fd, len(seen.data) + 1) == seen.data:
            atomic.fsync_folder(staged.target.parent)
            return True
        _put_back(staged, fd, swapped)
        return False
    finally:
        os.close(fd)


def _put_back(staged: atomic.Staged, fd: int, swapped: bool) -> None:
    """Return the old document, with the edit written into it in place, to its path."""
    if swapped:
        # The old file itself goes back, so the editor's descriptor points at the path again.
        atomic.exchange(staged.temporary, staged.target)
        return
    restore = atomic.stage(staged.target, _settled(fd), mode=staged.status.st_mode & 0o7777)
    try:
        current = os.stat(staged.target)
        # Unless yet another save replaced ours meanwhile: that one stays.
        if (current.st_dev, current.st_ino) == (staged.status.st_dev, staged.status.st_ino):
            restore.publish()
    finally:
        restore.discard()


def _settled(fd: int) -> bytes:
    """The bytes of an open file once a save into it has finished."""
    return _still(lambda: _read_all(fd, _DOCUMENT_LIMIT))


def _settle(path: Path) -> None:
    """Wait until a save to the document in progress has finished."""
    _still(lambda: _snapshot(path))


R = TypeVar("R")


def _still(read: Callable[[], R]) -> R:
    """What `read` gives once two reads a moment apart agree (at most a couple of seconds)."""
    deadline = time.monotonic() + _SETTLE_LIMIT_SECONDS
    before = read()
    while time.monotonic() < deadline:
        time.sleep(_SETTLE_SECONDS)
        now = read()
        if now == before:
            break
        before = now
    return before


def _snapshot(path: Path) -> tuple[int, int, int, bytes] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        data = _read_all(fd, _DOCUMENT_LIMIT) if stat.S_ISREG(status.st_mode) else b""
        return (status.st_ino, status.st_size, status.st_mtime_ns, data)
    except OSError:
        return None
    finally:
        os.close(fd)


def _mode_of(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return fsio.creation_mode()


_CACHE_ENTRIES: memo.Encodings[Lease, bytes] = memo.Encodings()


def cache_bytes(txn: Transaction, doc_bytes: bytes, stamp: int) -> bytes:
    """The cache for the transaction's document and leases; CacheError when it cannot hold them."""
    document = txn.document
    ranges = [cache.CacheRange(r.service_type, r.start, r.end, r.single) for r in document.ranges]
    index_of = _range_indexer(document)
    detect = [(kind, glob) for kind, globs in document.settings.detect.items() for glob in globs]

    def entry(lease: Lease) -> bytes:
        return cache.pack_lease(
            cache.CacheLease(lease.port, lease.pid, index_of(lease.port)), len(ranges)
        )

    try:
        # A lease's entry depends on the lease and on which row holds its port: remembered
        # while the rows stay the same (`styxy.store.memo`), so the cost does not grow with leases.
        spans = tuple((r.start, r.end) for r in document.ranges)
        return cache.encode(
            ranges=ranges,
            leases=(),
            lease_entries=_CACHE_ENTRIES.of_all(txn.state.leases, entry, spans),
            detect=detect,
            meta=view.encode(document),
            # While the document is broken the cache keeps the last good document's stamp, so
            # it is never taken as fresh for the broken bytes (docs/GUIDE.md).
            doc_crc=txn._stamp[0] if txn._stamp else zlib.crc32(doc_bytes),
            doc_size=txn._stamp[1] if txn._stamp else len(doc_bytes),
            generation=txn._generation + 1,
            leases_stamp=stamp,
        )
    except CacheError as exc:
        reason = str(exc).removeprefix("Cannot write the cache: ").removeprefix("Cannot cache ")
        raise CacheError(
            f"nothing was changed: the cache {display(txn.paths.cache)} cannot hold the result "
            f"({reason.rstrip('.')})."
        ) from None


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
