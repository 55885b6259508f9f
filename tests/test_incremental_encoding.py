"""The lease file and the cache are written from remembered per-record encodings (`styxy.store.memo`):
the bytes must be exactly those of encoding everything afresh, whatever records come and go."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from styxy.store import cache, leases, memo
from styxy.store.leases import Lease, LeaseFile

names = st.text(alphabet="abcdefgh-._é\"\\", min_size=0, max_size=6)
lease_records = st.builds(
    Lease,
    lockId=st.text(alphabet="0123456789abcdef", min_size=16, max_size=16),
    port=st.integers(1, 65535),
    serviceType=st.sampled_from(["dev", "api", "ai"]),
    instanceId=names,
    name=names,
    pid=st.integers(1, 4_194_304),
    pidStartTime=st.one_of(st.none(), st.floats(0, 4e9, allow_nan=False)),
    createdAt=st.floats(0, 4e9, allow_nan=False).filter(math.isfinite),
    source=st.sampled_from(["cli", "run", "interceptor", "api"]),
)
history_items = st.tuples(st.tuples(st.sampled_from(["dev", "api"]), names, names), st.integers(1, 65535))


def _afresh(state: LeaseFile) -> bytes:
    """The lease file as one json.dumps of the whole object (what styxy wrote before)."""
    body = {
        "version": leases.FORMAT_VERSION,
        "fields": leases.FIELDS,
        "leases": [
            (x.lockId, x.port, x.serviceType, x.instanceId, x.name, x.pid, x.pidStartTime,
             x.createdAt, x.source)
            for x in state.leases
        ],
        "history": [[*identity, port] for identity, port in state.history],
    }
    return (json.dumps(body, separators=(",", ":")) + "\n").encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(lease_records, max_size=8), st.lists(history_items, max_size=4)), min_size=1, max_size=6))
def test_dump_gives_the_bytes_of_a_fresh_encoding_across_changes(steps) -> None:
    kept: tuple[Lease, ...] = ()
    for added, remembered in steps:
        # Each state keeps half of the previous records (the same objects) and adds new ones.
        kept = kept[::2] + tuple(added)
        state = LeaseFile(leases=kept, history=tuple(remembered))
        assert leases.dump(state) == _afresh(state)


def test_cache_entries_follow_the_rows_that_hold_each_port() -> None:
    table: memo.Encodings[Lease, bytes] = memo.Encodings()
    lease = Lease("0" * 16, 3005, "dev", "i", "", 42, None, 1.0, "cli")

    def entry_for(index: int):
        return lambda x: cache.pack_lease(cache.CacheLease(x.port, x.pid, index), 5)

    first = table.of_all([lease], entry_for(0), ((3000, 3099),))
    # Same rows: the remembered entry is used even if the encoder would now say otherwise.
    assert table.of_all([lease], entry_for(1), ((3000, 3099),)) == first
    # Other rows: every entry is encoded again.
    moved = table.of_all([lease], entry_for(1), ((2000, 2099), (3000, 3099)))
    assert moved != first
    assert moved == [cache.pack_lease(cache.CacheLease(3005, 42, 1), 5)]
