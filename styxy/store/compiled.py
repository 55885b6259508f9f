"""The compiled cache's bytes for a transaction's document and leases."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from styxy.errors import CacheError
from styxy.paths import display
from styxy.store import cache, memo, view
from styxy.store.leases import Lease

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from pathlib import Path

    from styxy.document.model import Document

_CACHE_ENTRIES: memo.Encodings[Lease, bytes] = memo.Encodings()


def cache_bytes(
    document: Document,
    leases: Sequence[Lease],
    cache_path: Path,
    doc_stamp: tuple[int, int],
    generation: int,
    leases_stamp: int,
) -> bytes:
    """The cache for a document and its leases; CacheError when it cannot hold them.

    `doc_stamp` is (CRC-32, size) of the document the view describes; while the document is
    broken that is the last good document's, so the cache is never taken as fresh for it.
    """
    ranges = [cache.CacheRange(r.service_type, r.start, r.end, r.single) for r in document.ranges]
    index_of = _range_indexer(document)
    # A detect rule may name its row by an alias (`db: [...]`); the interceptor looks rows up
    # by name, so the cache carries the row's own (SPEC 15: one resolution everywhere).
    from styxy.document.typenames import resolve

    detect = [
        (resolve(document, kind).service_type, glob)
        for kind, globs in document.settings.detect.items()
        for glob in globs
    ]

    count = len(ranges)
    pack = cache.pack_entry

    def entry(lease: Lease) -> bytes:
        port = lease.port
        return pack(port, lease.pid, index_of(port), count)

    try:
        # A lease's entry depends on the lease and on which row holds its port: remembered
        # while the rows stay the same (`styxy.store.memo`), so the cost does not grow with leases.
        spans = tuple((r.start, r.end) for r in document.ranges)
        return cache.encode(
            ranges=ranges,
            leases=(),
            lease_entries=_CACHE_ENTRIES.of_all(leases, entry, spans),
            detect=detect,
            meta=view.encode(document),
            doc_crc=doc_stamp[0],
            doc_size=doc_stamp[1],
            generation=generation,
            leases_stamp=leases_stamp,
        )
    except CacheError as exc:
        reason = str(exc).removeprefix("Cannot write the cache: ").removeprefix("Cannot cache ")
        raise CacheError(
            f"nothing was changed: the cache {display(cache_path)} cannot hold the result "
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
