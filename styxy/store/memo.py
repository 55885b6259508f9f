"""Encodings remembered per record, so a write costs what changed, not what is stored.

Every transaction rewrites the whole lease file and the whole cache (that is what keeps both
atomic and the interceptor's reader simple), but between two transactions of one process
almost every lease is the same frozen object: the lease file is remembered per process
(`leases.remember`) and each change builds a new tuple around the old records. So each
record's bytes are computed once and joined afterwards, at C speed.

Keys are `id(record)` with the record kept in the value: hashing a nine-field dataclass costs
more than encoding it, and keeping the record alive means its id cannot be reused while the
entry exists. The table is dropped whole when it grows past its bound (records of earlier
states pile up in a long-lived process such as `styxy serve`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Generic, TypeVar

    K = TypeVar("K")
    V = TypeVar("V")

    class _Generic(Generic[K, V]):
        pass

else:
    # Generic in the type checker's eyes only: `typing` is not imported on the hot path.
    K = V = object

    class _Generic:
        def __class_getitem__(cls, item: object) -> type:
            return cls

# Twice the most live leases a lease file may hold, plus the remembered identities.
_BOUND = 50_000


class Encodings(_Generic[K, V]):
    """The encoding of each record seen, under one context (a document's ranges, say)."""

    def __init__(self) -> None:
        self._table: dict[int, tuple[K, V]] = {}
        self._context: object = None

    def of_all(
        self, records: Sequence[K], encode: Callable[[K], V], context: object = None
    ) -> list[V]:
        """The encodings of `records`, in order; a new `context` forgets every earlier one.

        `encode` must depend only on the record and the context.
        """
        if context != self._context or len(self._table) > _BOUND:
            self._table = {}
            self._context = context
        table = self._table
        get = table.get
        # Comprehensions rather than one loop: the common case, every record known, then runs
        # at C speed; the misses (one or two a transaction) are filled in afterwards.
        found = [get(id(record)) for record in records]
        out = [
            known[1] if known is not None and known[0] is record else None
            for known, record in zip(found, records, strict=True)
        ]
        if None in out:
            for index, value in enumerate(out):
                if value is None:
                    record = records[index]
                    value = encode(record)
                    table[id(record)] = (record, value)
                    out[index] = value
        return out  # type: ignore[return-value]
