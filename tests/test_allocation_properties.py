"""Random sequences of in-process allocations and releases keep the lease invariants."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import DEFAULT_DOC

import styxy
from styxy.document import parse
from styxy.store import leases

# Two new types that are no near misses of each other (`fresh-a` and `fresh-b` would be: the
# second is refused, SPEC 15), and an alias, whose leases are its row's.
TYPES = ["dev", "api", "ai", "docs", "db", "fresh-a", "tracing"]
ROW_OF = {"db": "database"}

step = st.one_of(
    st.tuples(st.just("allocate"), st.sampled_from(TYPES), st.sampled_from(["a", "b", "c"]), st.sampled_from(["", "web"])),
    st.tuples(st.just("release"), st.integers(min_value=0, max_value=20)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_leases_never_share_a_port_and_stay_in_their_ranges(tmp_path: Path, steps) -> None:
    folder = tmp_path / f"run{os.urandom(4).hex()}"
    folder.mkdir()
    doc = folder / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    for action in steps:
        if action[0] == "allocate":
            _, kind, instance, name = action
            result = styxy.allocate(kind, instance_id=instance, name=name, doc=doc, pid=os.getpid())
            assert result.lease.serviceType == ROW_OF.get(kind, kind)
        else:
            live = leases.load(doc.parent / ".styxy" / "leases.json").leases
            if live:
                styxy.release(live[action[1] % len(live)].lockId, doc=doc)
        _check_invariants(doc)


def _check_invariants(doc: Path) -> None:
    document = parse(doc.read_text(), str(doc)).document
    state = leases.load(doc.parent / ".styxy" / "leases.json")
    ports = [lease.port for lease in state.leases]
    assert len(ports) == len(set(ports)), "a port was handed out twice"
    identities = [lease.identity for lease in state.leases]
    assert len(identities) == len(set(identities)), "an identity holds two leases"
    for lease in state.leases:
        row = document.range_of(lease.serviceType)
        assert row is not None and row.start <= lease.port <= row.end
        if row.single:
            assert len(state.of_type(lease.serviceType)) == 1
    created = [r.service_type for r in document.ranges if r.description.startswith("Auto-allocated")]
    assert len(created) == len(set(created)), "a new type got two rows"
