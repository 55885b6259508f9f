"""The lock queue never fails a command that is making progress (SPEC section 18, issue 20).

Three hundred operations at once on one document, through the command line, `styxy serve`,
`styxy mcp` and in-process calls, with new types among them: on a two-core machine the queue
behind the lock lasts far longer than the thirty-second limit, yet each holder keeps the lock
for a moment only, so none may give up. `bench/bench_lock_queue.py` runs the same flood at
100, 300 and 1,000 operations.
"""

from __future__ import annotations

from pathlib import Path

from mixed_load import NEW_TYPES, SINGLE, check_leases, flood, flood_document
from support import Styxy

TOTAL = 300


def test_three_hundred_mixed_operations_at_once_all_succeed_and_no_port_is_given_twice(
    tmp_path: Path,
) -> None:
    doc = flood_document(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    outcome = flood(doc, home, TOTAL)
    assert outcome.failures == []
    assert len(outcome.results) == TOTAL
    assert outcome.duplicates() == []
    assert check_leases(doc, home, outcome) == []
    # Every new type became exactly one row, and every request for it got a port in it.
    text = doc.read_text()
    for name in NEW_TYPES:
        assert text.count(f"\n| {name} |") == 1, name
        created = [r for r in outcome.results.values() if r["serviceType"] == name]
        assert sum(r["autoAllocated"] for r in created) == 1, name
        start, end = next(r["newRange"] for r in created if r["autoAllocated"])
        assert all(start <= r["port"] <= end for r in created), name
    # The single-instance type ran once: one fresh lease, every other request shares it.
    single = [r for r in outcome.results.values() if r["serviceType"] == SINGLE]
    assert len({r["port"] for r in single}) == 1
    assert sum(not r["existing"] for r in single) == 1
    assert Styxy(doc, home)("validate").code == 0
