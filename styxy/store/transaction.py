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

import os
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from styxy import notes as words
from styxy.errors import DocumentError, RefusedError, StyxyError
from styxy.paths import Paths, display
from styxy.store import atomic, bpfpins, compiled, fsio, leases, loading, lockfile, replace
from styxy.store.leases import Lease, LeaseFile
from styxy.store.loading import CACHE_NAME, JOURNAL_NAME, LEASES_NAME
from styxy.store.sidecar import Sidecar

PROJECTS_NAME = "projects.json"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from styxy.document import Parsed
    from styxy.document.model import Document
    from styxy.store import projects as project_records

LOCK_TIMEOUT_SECONDS = 30.0
# How many times a change is applied to a document that hand edits keep changing before the
# command gives up; each try waits for the document to settle first. A try takes 0.1-0.3 s, so
# a document saved several times a second still lets one through.
CHANGE_ATTEMPTS = 20

if TYPE_CHECKING:
    T = TypeVar("T")
Notify = Callable[[str], None]


class Transaction:
    """State loaded under the lock; a change reads it, replaces `state` and may replace the text.

    Callers use `paths`, `document`, `state`, `reaped`, `loaded`, `parsed()` and
    `replace_text()`; the rest belongs to the load and the commit. (A plain class, not a
    dataclass: it is built on every command's hot path, see `styxy.records`.)
    """

    def __init__(
        self,
        *,
        paths: Paths,
        folder: Sidecar,
        doc_bytes: bytes,
        document: Document,
        state: LeaseFile,
        notes: list[str],
        parsed: Any,
        cache_fresh: bool,
        generation: int,
        cache_leases_stamp: int,
        document_problem: DocumentError | None,
        stamp: tuple[int, int] | None,
    ) -> None:
        self.paths = paths
        self.folder = folder  # the sidecar, opened once: every file in it is reached through it
        self.doc_bytes = doc_bytes
        self.document = document
        self.state = state
        self.reaped: tuple[Lease, ...] = ()
        self.notes = notes
        self.new_text: str | None = None
        self._parsed = parsed
        self._cache_fresh = cache_fresh
        self._generation = generation
        self._cache_leases_stamp = cache_leases_stamp  # the lease file the cache's table came from
        # Journal files set aside (names in the sidecar) and the bytes consumed, -1 for all.
        self._folding: tuple[tuple[str, int], ...] = ()
        self._bpf_attached = False  # the kernel bind program's maps are pinned for this cache
        self._bpf_moves: tuple[Any, ...] = ()  # the kernel program's moves folded by this transaction
        self._loaded = state
        # Set when the document has errors and the command works on the leases without it
        # (`run_change(..., needs_document=False)`); `document` is then the last good view.
        self.document_problem = document_problem
        self._stamp = stamp  # the cache's (crc, size) while the document is broken
        # The projects file, read only by a change that asks for it (`styxy env`, `env --prune`).
        self._projects: project_records.Projects | None = None
        self._projects_loaded: project_records.Projects | None = None
        self._listening: frozenset[int] | None = None
        # Set when the lease file held records that failed their checks and were left out: it
        # is then a hand edit, not a file styxy wrote, and a cache must not vouch for it.
        self.leases_dropped = False

    def projects(self) -> project_records.Projects:
        """Project id -> root folder, as recorded by `styxy env` (read on first use)."""
        if self._projects is None:
            # Imported here: only `styxy env` asks, and `allocate`'s hot path never does.
            from styxy.store import projects as project_records

            self._projects_loaded = project_records.load(
                self.folder.where(PROJECTS_NAME), dir_fd=self.folder.fd
            )
            self._projects = self._projects_loaded
        return self._projects

    def set_projects(self, projects: project_records.Projects) -> None:
        self.projects()
        self._projects = projects

    @property
    def loaded(self) -> LeaseFile:
        """The leases as the lease file held them, before the journal was folded and reaped."""
        return self._loaded

    def listening(self) -> frozenset[int]:
        """The ports something listens on, asked of the kernel once per transaction: one that
        places many new ranges (`styxy env` of a new project) does not ask once a range."""
        if self._listening is None:
            from styxy.system import ports
            from styxy.vocabulary import MAX_PORT

            self._listening = ports.listening_in(1, MAX_PORT)
        return self._listening

    def parsed(self) -> Parsed:
        """The full Markdown parse, done only when a command needs to edit or read the audit."""
        if self.document_problem is not None:
            raise self.document_problem
        if self._parsed is None:
            self._parsed = loading.parse(self.paths, self.doc_bytes)
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
    loading.check_document(paths)
    told: set[str] = set()

    def tell(text: str) -> None:
        if text not in told:
            told.add(text)
            notify(text)

    with _open_folder(paths, needs_document) as folder:
        with lockfile.hold(folder, timeout=LOCK_TIMEOUT_SECONDS, on_wait=tell):
            return _attempts(paths, folder, change, tell, dry_run, needs_document)


def _attempts(
    paths: Paths,
    folder: Sidecar,
    change: Callable[[Transaction], T],
    tell: Notify,
    dry_run: bool,
    needs_document: bool,
) -> T:
    """Load, change and commit under the lock, again while hand edits keep landing."""
    if folder.stat(".gitignore") is None:
        # The sidecar holds machine-local state that must never be committed. Written under
        # the lock, since a writer that holds it sweeps the temporary files of the others.
        _stage_private(folder, ".gitignore", b"*\n").publish()
    replace.sweep_beside_target(paths.doc)
    for _ in range(CHANGE_ATTEMPTS):
        txn = _load(paths, folder, [], needs_document)
        for note in txn.notes:
            tell(note)
        seen = replace.DocumentSeen.take(paths.doc, txn.doc_bytes)
        result = change(txn)
        if dry_run or _commit(txn, seen):
            return result
        tell(
            f"{display(paths.doc)} was saved while this command ran; "
            "applying the change to the saved text."
        )
        replace.settle(paths.doc)
    raise RefusedError(
        f"{display(paths.doc)} kept changing while styxy tried to change it "
        f"({CHANGE_ATTEMPTS} tries); nothing was written, run the command again."
    )


def _open_folder(paths: Paths, needs_document: bool) -> Sidecar:
    """The sidecar, made private to its owner when missing, with a lock file that is ours; a
    link or another user's folder or file there is refused.

    Before the folder is first made, the document is read (and parsed, for a command that
    needs it): a command refused for its document leaves nothing beside it.
    """
    folder = loading.open_sidecar(paths)
    if folder is None:
        loading.read_and_load(paths, None, tolerate_errors=not needs_document)
        _refuse_roots_sidecar_for_another_user(paths)
        if not paths.doc.parent.is_dir():
            paths.doc.parent.mkdir(parents=True, exist_ok=True)  # first use at the default place
        folder = loading.open_sidecar(paths, create=True)
        assert folder is not None
    try:
        folder.check_file(lockfile.LOCK_NAME, fsio.LOCK_FILE)
    except BaseException:
        folder.close()
        raise
    return folder


def _refuse_roots_sidecar_for_another_user(paths: Paths) -> None:
    """Root does not make the sidecar of another user's document.

    The sidecar is private to whoever makes it (0700), and root's is trusted by all but
    readable by none: `sudo styxy` once would leave the document's owner shut out of their
    own leases, with no word of why. Root gives a document it rewrites back to its owner; the
    sidecar it cannot give, so it refuses before making anything.
    """
    if os.geteuid() != 0:
        return
    try:
        owner = os.stat(paths.doc).st_uid
    except OSError:
        return  # no document yet: this command makes it, as root's
    if owner != 0:
        raise RefusedError(
            f"{display(paths.doc)} belongs to {fsio.user_name(owner)}, and a sidecar made by "
            f"root ({display(paths.sidecar)}) would shut that user out of their leases, so "
            "nothing was written: run the command as that user."
        )


# The sidecar's files whose temporary files a killed writer may leave (`.NAME.*.tmp`).
_SIDECAR_FILES = (LEASES_NAME, CACHE_NAME, JOURNAL_NAME, PROJECTS_NAME, ".gitignore", "bpf-events")


def _sweep_leftovers(paths: Paths, folder: Sidecar) -> None:
    """Remove temporary files of writers that were killed mid-write; we hold the lock.

    A leftover is named `.NAME.*.tmp` beside its target (`styxy.store.atomic`). Each folder is
    listed once and the names compared as text (a glob would compile a pattern at every
    command's start); the sidecar's through its descriptor.
    """
    start = f".{paths.doc.name}."
    try:
        beside = os.listdir(paths.doc.parent)
    except OSError:
        beside = []
    for name in beside:
        if name.startswith(start) and name.endswith(".tmp"):
            try:
                os.unlink(paths.doc.parent / name)
            except OSError:
                pass
    prefixes = tuple(f".{name}." for name in _SIDECAR_FILES)
    for name in folder.names():
        if name.startswith(prefixes) and name.endswith(".tmp"):
            folder.unlink(name)


def _load(paths: Paths, folder: Sidecar, notes: list[str], needs_document: bool) -> Transaction:
    _sweep_leftovers(paths, folder)
    loaded = loading.read_and_load(paths, folder, tolerate_errors=not needs_document)
    if loaded is None:
        from styxy.resources import default_document_bytes

        # A new document follows the umask, like any file the user makes.
        atomic.write_bytes(paths.doc, default_document_bytes(), mode=fsio.creation_mode())
        notes.append(words.created_document(display(paths.doc)))
        loaded = loading.read_and_load(paths, folder, tolerate_errors=not needs_document)
        assert loaded is not None
    doc_bytes = loaded.doc_bytes
    note = loaded.problem_note()
    if note is not None:
        notes.append(note)
    noted = len(notes)
    state = loading.load_leases(folder, notes, written_as=loaded.leases_stamp)
    txn = Transaction(
        paths=paths,
        folder=folder,
        doc_bytes=doc_bytes,
        document=loaded.document,
        state=state,
        notes=notes,
        parsed=loaded.parsed,
        cache_fresh=loaded.cache_fresh,
        generation=loaded.generation,
        cache_leases_stamp=loaded.leases_stamp,
        document_problem=loaded.problem,
        stamp=loaded.stamp,
    )
    txn.leases_dropped = len(notes) > noted
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
    folder = txn.folder
    # Refused before it is renamed: a folder, a FIFO, a link or another user's file there is
    # named as it is, and left where it is.
    if folder.check_file(JOURNAL_NAME, fsio.JOURNAL, sized=False) is not None:
        try:
            folder.rename(JOURNAL_NAME, _aside_name())
        except FileNotFoundError:
            pass
    folding = []
    chunks = []
    for aside in loading.journal_names(folder)[:-1]:
        found = loading.read_journal_head(folder, aside)
        if found is None:
            continue
        data, whole = found
        if not whole:
            # Folded up to its limit and the rest dropped: never a lock-out (SPEC section 18).
            lines = data.count(b"\n")
            txn.notes.append(
                f"the interceptor's journal {display(folder.where(aside))} was larger than "
                f"{fsio.JOURNAL.limit_text}; its first {lines} lines were folded and the rest "
                "dropped"
            )
        # Whole lines only: a line still being written is left for the next fold. Of a
        # journal over its limit nothing is left (-1): it is removed once folded.
        folding.append((aside, data.rfind(b"\n") + 1 if whole else -1))
        chunks.append((folder.where(aside), data))
    txn._bpf_moves = _bpf_moves(txn, chunks)
    txn.state, ended = loading.journal_leases(txn.state, chunks, txn.notes)
    if ended:
        txn.reaped = ended  # dead moves end at once; `cleanup` lists them among the reaped
    txn._folding = tuple(folding)


def _bpf_moves(txn: Transaction, chunks: list[tuple[Path, bytes]]) -> tuple[Any, ...]:
    """The kernel program's moves (SPEC section 16), as journal lines after the journal's."""
    # One stat() and no import when nothing is attached: the allocate path pays no more.
    txn._bpf_attached = bpfpins.attached(txn.paths.cache)
    if not txn._bpf_attached:
        return ()
    from styxy.store import bpfmaps

    folder = bpfpins.pin_folder(txn.paths.cache)
    try:
        with bpfmaps.Maps(folder) as maps:
            found = tuple(maps.moves())
    except (OSError, bpfmaps.BpfMapError) as exc:
        txn.notes.append(f"the kernel bind program's moves cannot be read ({exc})")
        return ()
    if found:
        chunks.append((folder / "moves", b"".join(m.journal_line() for m in found)))
    return found


def _sync_bpf(txn: Transaction) -> None:
    """Write the ranges and live leases into the kernel program's maps, forget folded moves,
    and drain its ring buffer's events into the sidecar's log."""
    if not txn._bpf_attached:
        return
    from styxy.store import bpfmaps

    ranges = [bpfmaps.Range(r.service_type, r.start, r.end, r.single) for r in txn.document.ranges]
    try:
        with bpfmaps.Maps(bpfpins.pin_folder(txn.paths.cache)) as maps:
            maps.write(ranges, ((x.port, x.pid) for x in txn.state.leases), txn._generation + 1)
            maps.forget(txn._bpf_moves)
            maps.drain_events(txn.folder.where(bpfmaps.EVENTS_FILE), dir_fd=txn.folder.fd)
    except (OSError, StyxyError) as exc:
        txn.notes.append(f"the kernel bind program's maps cannot be updated ({exc})")


def _aside_name() -> str:
    return f".journal.{time.time_ns()}.folding"


def _finish_folding(txn: Transaction) -> None:
    """Delete the folded aside files, keeping any bytes written to them after they were read.

    An interceptor that opened the journal just before it was renamed writes into the aside
    file; what it wrote after the fold read it is moved to a new aside file for the next fold.
    """
    folder = txn.folder
    for aside, used in txn._folding:
        data = loading.read_journal_file(folder, aside) if used >= 0 else b""
        if data is None:
            continue
        rest = data[used:] if used >= 0 else b""
        if rest:
            target = folder.where(_aside_name())
            atomic.stage_in(folder.fd, target, rest, mode=fsio.PRIVATE_FILE_MODE).publish()
        folder.unlink(aside)


def _reap(txn: Transaction) -> None:
    stale = loading.stale_leases(txn.state, txn.document.settings.lease_grace_seconds)
    if stale:
        txn.state = txn.state.remove(stale)
        txn.reaped = (*txn.reaped, *stale)  # after the dead moves the fold ended




def _commit(txn: Transaction, seen: replace.DocumentSeen) -> bool:
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
            staged["doc"] = replace.stage_document(txn.paths.doc, doc_bytes)
        if txn.state != txn._loaded:
            staged["leases"] = _stage_private(txn.folder, LEASES_NAME, leases.dump(txn.state))
        if txn._projects is not None and txn._projects != txn._projects_loaded:
            from styxy.store import projects as project_records

            staged["projects"] = _stage_private(
                txn.folder, PROJECTS_NAME, project_records.dump(txn._projects)
            )
        # The cache names the lease file it goes with, so it is built once that file exists.
        lease_file = (
            staged["leases"].status if "leases" in staged else txn.folder.stat(LEASES_NAME)
        )
        stamp = leases_stamp(lease_file)
        if txn.leases_dropped and "leases" not in staged:
            # A lease file with records left out is not one styxy wrote: a cache stamped with
            # it would have the next command read it unchecked (a NaN time, an unknown source).
            stamp = 0
        if staged or not txn._cache_fresh or stamp != txn._cache_leases_stamp:
            # While the document is broken the cache keeps the last good document's stamp, so
            # it is never taken as fresh for the broken bytes (docs/GUIDE.md).
            doc_stamp = txn._stamp or (zlib.crc32(doc_bytes), len(doc_bytes))
            data = compiled.cache_bytes(
                txn.document,
                txn.state.leases,
                txn.folder.where(CACHE_NAME),
                doc_stamp,
                txn._generation + 1,
                stamp,
            )
            staged["cache"] = _stage_private(txn.folder, CACHE_NAME, data)
        if "doc" in staged and not replace.replace_document(staged["doc"], seen):
            return False
        # Lease file, then cache: the order docs/ARCHITECTURE.md explains. The projects file
        # only tells `env --prune` where to look, so it may land on either side of them.
        for key in ("leases", "projects", "cache"):
            if key in staged:
                staged[key].publish()
    finally:
        for item in staged.values():
            item.discard()  # a no-op for those already renamed
    if "leases" in staged:
        leases.remember(txn.folder.where(LEASES_NAME), staged["leases"].status, txn.state)
    _finish_folding(txn)
    _sync_bpf(txn)
    # One folder sync for the sidecar's renames instead of one per file: the renames are
    # atomic either way; this only makes them durable, and it costs as much as a file fsync.
    if staged.keys() & {"leases", "cache", "projects"} or txn._folding:
        txn.folder.sync()
    return True


def _stage_private(folder: Sidecar, name: str, data: bytes) -> atomic.Staged:
    """A file of the sidecar, its own owner's alone, staged through the open folder."""
    return atomic.stage_in(folder.fd, folder.where(name), data, mode=fsio.PRIVATE_FILE_MODE)


def leases_stamp(status: os.stat_result | None) -> int:
    """Which lease file a cache goes with (`leases.identity_stamp`): a cache whose stamp differs
    from the file on disk was built from another lease file (a crash between the two renames)
    and is rebuilt."""
    return leases.identity_stamp(status)


