"""The loading steps the locked transaction and the lock-free snapshot share.

Reading the document and its view, the cache stamp, the lease file and the journal's records,
and deciding which leases are stale, live here, below both, so the transaction and the
snapshot see the same files the same way without importing each other.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Iterable
from pathlib import Path

from styxy.errors import CacheError, DocumentError, RefusedError, UnsafeFileError
from styxy.paths import Paths, display, missing_document
from styxy.records import record, replace
from styxy.store import cache, fsio, leases, sidecar
from styxy.store.leases import Lease, LeaseFile
from styxy.store.sidecar import Sidecar
from styxy.system import ports

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Literal

    from styxy.document import Parsed
    from styxy.document.model import Document

# The stamp a cache gets when there is no good document to describe: no document of at most
# fsio.DOCUMENT.limit bytes has this size, so the cache never counts as fresh for one.
NO_DOCUMENT_STAMP = (0, 0xFFFFFFFF)


# ------------------------------------------------------------------------------ the document


# How many times a document that a person is saving in place is read again (after it has
# settled: two reads a moment apart agree) before the command gives up on it.
READ_ATTEMPTS = 8


def changed_while_read(paths: Paths) -> RefusedError:
    return RefusedError(
        f"the document changed while it was read ({display(paths.doc)}, {READ_ATTEMPTS} "
        "tries): nothing was changed; run the command again once it is saved."
    )


def read_document(paths: Paths) -> bytes | None:
    """The document's bytes (through a link, as the user keeps it); None when there is none.

    A named document (`--doc`, `$STYXY_DOC`) that does not exist is an error; only the default
    location may be created, and then the caller creates it. A document written in place
    while it was read (its size, time or length moved under the read) is read again once the
    save has settled, and refused after READ_ATTEMPTS tries.
    """
    for _ in range(READ_ATTEMPTS):
        data = _read_once(paths)
        if data is not False:
            break
        from styxy.store.replace import settle

        settle(paths.doc)
    else:
        raise changed_while_read(paths)
    if data is not None:
        return data
    if os.path.islink(paths.doc):
        raise UnsafeFileError(
            f"the document {paths.doc} is a symbolic link to {os.readlink(paths.doc)}, which "
            "does not exist; restore the target or remove the link."
        )
    if not paths.may_create:
        raise missing_document(paths)
    return None


def _read_once(paths: Paths) -> bytes | Literal[False] | None:
    """The bytes, None when there is no document, False when it changed during the read."""
    try:
        with fsio.opened(paths.doc, fsio.DOCUMENT) as (fd, before):
            data = fsio.read_opened(paths.doc, fsio.DOCUMENT, fd)
            after = os.fstat(fd)
    except FileNotFoundError:
        return None
    steady = (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns)
    return data if steady and len(data) == after.st_size else False


def read_and_load(
    paths: Paths, folder: Sidecar | None, *, tolerate_errors: bool
) -> LoadedDocument | None:
    """`read_document` then `load_document`, telling a save in progress from a broken document.

    An editor that truncates the file and then writes it can be read in between, and a slow
    producer (`gen > PORT_MANAGEMENT.md`) can pause between its writes for longer than a
    settle. A document that parses badly is read again when it next changes, or once its last
    change is AT_REST_SECONDS old: broken then, it is broken at rest and its errors stand. A
    document that keeps changing is refused with "the document changed while it was read".
    """
    for _ in range(READ_ATTEMPTS):
        doc_bytes = read_document(paths)
        if doc_bytes is None:
            return None
        loaded = load_document(paths, folder, doc_bytes, tolerate_errors=True)
        if loaded.problem is None or not _wait_for_change(paths):
            break
    else:
        raise changed_while_read(paths)
    if loaded.problem is not None and not tolerate_errors:
        raise loaded.problem
    return loaded


# A document changed this recently may still be mid-save when a read finds it broken. Long
# enough for a producer's pause between writes, short enough that a person who saved a broken
# document hears why at once.
AT_REST_SECONDS = 0.3
_POLL_SECONDS = 0.02


def _wait_for_change(paths: Paths) -> bool:
    """Wait until the document changes (True) or its last change is AT_REST_SECONDS old
    (False: it is at rest as it is)."""
    first = _status(paths)
    while True:
        status = _status(paths)
        if status != first:
            return True
        if status is None:
            return True  # removed or being replaced: read again
        # A time in the future (a clock set back, a copied file) is no save in progress.
        age = time.time() - status[2] / 1e9
        if not 0 <= age < AT_REST_SECONDS:
            return False
        time.sleep(min(_POLL_SECONDS, AT_REST_SECONDS - age))


def _status(paths: Paths) -> tuple[int, int, int] | None:
    try:
        status = os.stat(paths.doc)
    except OSError:
        return None
    return (status.st_ino, status.st_size, status.st_mtime_ns)


def check_document(paths: Paths) -> None:
    """Refuse, before anything is created, a document that cannot be read (a FIFO, a device,
    too large, a dangling link, no permission) or a named one that does not exist.

    Only its status and permissions are looked at here; the read that follows says why.
    """
    try:
        status = os.stat(paths.doc)
    except FileNotFoundError:
        read_document(paths)  # says why: a dangling link, or no document at a named path
        return
    except OSError:
        return  # the read itself will say what is wrong
    fsio.check_status(paths.doc, fsio.DOCUMENT, status, private=False)
    if not os.access(paths.doc, os.R_OK, effective_ids=os.access in os.supports_effective_ids):
        read_document(paths)  # refused there, with the system's own words


@record
class LoadedDocument:
    """What a command learns from the document, and how it learned it."""

    doc_bytes: bytes
    document: Document
    parsed: Parsed | None = None
    # The document's errors, when it has some and the command can do without it; `document`
    # is then the last good view from the cache, or no ranges and default settings.
    problem: DocumentError | None = None
    generation: int = 0
    # Which lease file the cache's lease table was built from (0: no cache); a commit rebuilds
    # the cache when the lease file on disk is another one.
    leases_stamp: int = 0
    cache_fresh: bool = False
    # (crc, size) for the next cache while the document is broken: the last good document's
    # stamp, so the cache stays stale for the broken bytes and fresh once they are restored.
    stamp: tuple[int, int] | None = None

    def problem_note(self) -> str | None:
        """The one line a command that works on despite the errors says on stderr."""
        if self.problem is None:
            return None
        return (
            f"{self.problem.first}; the document has errors: lease commands still work, "
            "commands that need the document refuse until it is fixed"
        )


def load_document(
    paths: Paths, folder: Sidecar | None, doc_bytes: bytes, *, tolerate_errors: bool
) -> LoadedDocument:
    """The document view: from the cache while it matches the bytes, else from a full parse.

    A broken document raises DocumentError unless `tolerate_errors`; then the view is the last
    good one the cache holds (the interceptor keeps working with the ranges it had). `folder`
    is the open sidecar the cache is read from (None: there is none yet).
    """
    stamp = None if folder is None else read_cache_stamp(folder)
    loaded = _load_document(paths, doc_bytes, stamp, tolerate_errors=tolerate_errors)
    if stamp is None:
        return loaded
    return replace(loaded, leases_stamp=stamp.leases_stamp)


def _load_document(
    paths: Paths, doc_bytes: bytes, stamp: cache.CacheStamp | None, *, tolerate_errors: bool
) -> LoadedDocument:
    from styxy.store import view

    generation = stamp.generation if stamp is not None else 0
    if stamp is not None and (stamp.doc_size, stamp.doc_crc) == (
        len(doc_bytes),
        zlib.crc32(doc_bytes),
    ):
        try:
            document = view.decode(stamp.meta, str(paths.doc))
            return LoadedDocument(doc_bytes, document, generation=generation, cache_fresh=True)
        except (ValueError, KeyError, TypeError):
            pass  # an older view layout: rebuild from the document
    try:
        parsed = parse(paths, doc_bytes)
    except DocumentError as problem:
        if not tolerate_errors:
            raise
        return _fallback(paths, doc_bytes, stamp, problem)
    return LoadedDocument(doc_bytes, parsed.document, parsed, generation=generation)


def parse(paths: Paths, doc_bytes: bytes) -> Parsed:
    from styxy import document

    path = str(paths.doc)
    return document.parse(document.decode_text(doc_bytes, path), path)


def _fallback(
    paths: Paths, doc_bytes: bytes, stamp: cache.CacheStamp | None, problem: DocumentError
) -> LoadedDocument:
    from styxy.document.model import Document, Settings
    from styxy.store import view

    if stamp is not None and stamp.doc_size != NO_DOCUMENT_STAMP[1]:
        try:
            last_good = view.decode(stamp.meta, str(paths.doc))
            return LoadedDocument(
                doc_bytes,
                last_good,
                problem=problem,
                generation=stamp.generation,
                cache_fresh=True,  # it already holds this view
                stamp=(stamp.doc_crc, stamp.doc_size),
            )
        except (ValueError, KeyError, TypeError):
            pass
    generation = stamp.generation if stamp is not None else 0
    empty = Document(str(paths.doc), Settings(), ())
    return LoadedDocument(
        doc_bytes, empty, problem=problem, generation=generation, stamp=NO_DOCUMENT_STAMP
    )


def read_cache_stamp(folder: Sidecar) -> cache.CacheStamp | None:
    """The cache's stamp; None when it is missing or from another styxy (both are rebuilt)."""
    path = folder.where(CACHE_NAME)
    if folder.stat(CACHE_NAME) is None:
        return None
    try:
        return cache.read_stamp(path, dir_fd=folder.fd)
    except cache.CacheVersionError:
        return None
    except CacheError as exc:
        reason = str(exc).rstrip(".")
        raise CacheError(
            f"the cache {display(path)} is corrupt ({reason[:1].lower()}{reason[1:]}); "
            "delete it and styxy rebuilds it from the document."
        ) from None


# ------------------------------------------------------------------------------ the sidecar

# The files of the sidecar, by name inside it (SPEC section 2).
LEASES_NAME = "leases.json"
CACHE_NAME = "cache.bin"
JOURNAL_NAME = "journal"


def open_sidecar(paths: Paths, *, create: bool = False) -> Sidecar | None:
    """The sidecar opened once for a command (see `styxy.store.sidecar`); None when missing."""
    return sidecar.open_sidecar(paths.sidecar, create=create)


def load_leases(folder: Sidecar, notes: list[str], *, written_as: int = 0) -> LeaseFile:
    """The lease file through the open sidecar; `written_as`, the cache's stamp of the lease
    file styxy last wrote (see `leases.load_checked`)."""
    state, dropped = leases.load_checked(
        folder.where(LEASES_NAME), dir_fd=folder.fd, written_as=written_as
    )
    notes.extend(dropped)
    return state


# ------------------------------------------------------------------------------ the journal


def journal_names(folder: Sidecar) -> list[str]:
    """The journal set aside by writers mid-fold, oldest first, then the live journal."""
    aside = [n for n in folder.names() if n.startswith(".journal.") and n.endswith(".folding")]
    return [*sorted(aside), JOURNAL_NAME]


def read_journal_file(folder: Sidecar, name: str) -> bytes | None:
    """A journal's whole lines, at most its limit of them; None when missing (see
    `read_journal_head`)."""
    found = read_journal_head(folder, name)
    return None if found is None else found[0]


def read_journal_head(folder: Sidecar, name: str) -> tuple[bytes, bool] | None:
    """A journal's bytes and whether that is all of it; None when missing.

    Not a regular file, a link, or another user's: refused with a sentence naming it (a folder
    at `.styxy/journal` is a mistake to point at, not a mystery). Larger than its limit: its
    first whole lines up to the limit, and False, so the fold drops the rest and says so
    instead of refusing every command until someone deletes it by hand.
    """
    found = folder.read_head(name, fsio.JOURNAL)
    if found is None or found[1]:
        return found
    data = found[0]
    return data[: data.rfind(b"\n") + 1], False


def journal_leases(
    state: LeaseFile, chunks: Iterable[tuple[Path, bytes]], notes: list[str]
) -> tuple[LeaseFile, tuple[Lease, ...]]:
    """The state with the journal's live moves as leases, and the dead moves' leases it ended.

    What becomes a lease, and when it ends, is `styxy.store.moves`: one lease per port, none for a
    move whose process is gone and whose port is silent. Only whole lines count (a line being
    written is left for later). A line that does not hold a valid move is dropped and said,
    once per file: the interceptor writes each line with one write(), so a bad one is a torn
    line of a killed process or a hand edit.
    """
    from styxy.store.moves import Moves

    moves = Moves()
    state, ended = moves.end_dead(state)
    by_port = {lease.port for lease in state.leases}
    for path, data in chunks:
        bad: list[tuple[int, str]] = []
        text = data[: data.rfind(b"\n") + 1].decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), 1):
            entry = cache.check_journal_line(line)
            if isinstance(entry, str):
                bad.append((number, entry))
                continue
            if entry.port in by_port:
                continue  # one lease per port: the first move (or the allocation) holds it
            lease = moves.lease_of(entry, line)
            if lease is None:
                continue  # the mover is gone and the port silent: nothing to protect
            if len(state.leases) >= leases.MAX_LIVE_LEASES:
                bad.append((number, f"the lease file is full ({leases.MAX_LIVE_LEASES} leases)"))
                continue
            by_port.add(entry.port)
            state = state.add(lease)
        if bad:
            first_line, reason = bad[0]
            notes.append(
                f"dropped {len(bad)} line(s) of the interceptor's journal {display(path)} "
                f"(line {first_line}: {reason})"
            )
    return state, ended


# ------------------------------------------------------------------------------ reaping

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
