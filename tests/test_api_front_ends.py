"""The API the front ends stand on (MCP, hooks, HTTP, `styxy env`): bulk release, lookup by
name, the port map, and a range suggestion that writes nothing. Real files, real listeners."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from netutil import first_free, listen
from support import DEFAULT_DOC

import styxy


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    target = tmp_path / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, target)
    return target


def _files(doc: Path) -> dict[str, bytes]:
    found = {doc.name: doc.read_bytes()}
    for item in sorted((doc.parent / ".styxy").glob("*")):
        if item.is_file() and item.name != "lock":
            found[item.name] = item.read_bytes()
    return found


def test_release_instance_ends_every_lease_of_that_instance_and_no_other(doc: Path) -> None:
    me = os.getpid()
    web = styxy.allocate("dev", instance_id="sess-1", name="web", doc=doc, pid=me).lease
    api = styxy.allocate("api", instance_id="sess-1", name="api", doc=doc, pid=me).lease
    other = styxy.allocate("dev", instance_id="sess-2", name="web", doc=doc, pid=me).lease
    ended = styxy.release_instance("sess-1", doc=doc)
    assert sorted(x.lockId for x in ended) == sorted([web.lockId, api.lockId])
    assert [x.lease.lockId for x in styxy.list_leases(doc=doc)] == [other.lockId]
    assert styxy.release_instance("sess-1", doc=doc) == []  # none left: not an error


def test_release_instance_narrows_by_type_and_name(doc: Path) -> None:
    me = os.getpid()
    web = styxy.allocate("dev", instance_id="s", name="web", doc=doc, pid=me).lease
    styxy.allocate("dev", instance_id="s", name="admin", doc=doc, pid=me)
    styxy.allocate("api", instance_id="s", name="web", doc=doc, pid=me)
    ended = styxy.release_instance("s", service_type="dev", name="web", doc=doc)
    assert [x.lockId for x in ended] == [web.lockId]
    assert len(styxy.list_leases(doc=doc)) == 2


def test_release_instance_refuses_a_bad_instance_id_and_writes_nothing(doc: Path) -> None:
    styxy.allocate("dev", instance_id="s", doc=doc, pid=os.getpid())
    before = _files(doc)
    with pytest.raises(styxy.StyxyError) as refused:
        styxy.release_instance("bad\nid", doc=doc)
    assert refused.value.exit_code == 2  # a malformed argument: a usage error
    assert _files(doc) == before


def test_use_finds_a_running_service_by_name(doc: Path) -> None:
    me = os.getpid()
    rag = styxy.allocate("ai", instance_id="rag", name="chroma", doc=doc, pid=me).lease
    styxy.allocate("dev", instance_id="web", name="vite", doc=doc, pid=me)
    assert styxy.use(name="chroma", doc=doc).lockId == rag.lockId
    assert styxy.use(name="chroma", service_type="ai", doc=doc).lockId == rag.lockId
    with pytest.raises(styxy.StyxyError) as missing:
        styxy.use(name="chroma", service_type="dev", doc=doc)
    assert str(missing.value) == (
        "nothing styxy knows of is running of service type 'dev' named 'chroma'."
    )
    with pytest.raises(styxy.StyxyError) as usage:
        styxy.use(port=rag.port, name="chroma", doc=doc)
    assert usage.value.exit_code == 2


def test_ranges_counts_leased_and_listening_ports(doc: Path) -> None:
    me = os.getpid()
    lease = styxy.allocate("storybook", instance_id="a", doc=doc, pid=me).lease
    busy = first_free(range(6010, 6030), skip=[lease.port])
    with listen(busy):
        report = styxy.ranges(doc=doc)
    row = next(r for r in report.ranges if r.service_type == "storybook")
    assert row.to_json() == {
        "serviceType": "storybook",
        "start": 6006,
        "end": 6029,
        "instances": "multi",
        "leased": 1,
        "listening": len(row.listening_ports),
        "free": 24 - len({lease.port, *row.listening_ports}),
    }
    assert lease.port in row.leased_ports and busy in row.listening_ports
    assert [r.start for r in report.ranges] == sorted(r.start for r in report.ranges)
    assert len(report.ranges) == 17


def test_suggest_range_names_an_existing_range_or_proposes_one_and_writes_nothing(
    doc: Path,
) -> None:
    styxy.list_leases(doc=doc)  # create the sidecar and cache first
    before = _files(doc)
    assert styxy.suggest_range("ai", doc=doc).to_json() == {
        "serviceType": "ai",
        "range": [11400, 11499],
        "placement": None,
        "chunkSize": 100,
        "existing": True,
    }
    assert styxy.suggest_range("grafana", doc=doc).to_json() == {
        "serviceType": "grafana",
        "range": [11510, 11519],
        "placement": "after",
        "chunkSize": 10,
        "existing": False,
    }
    assert _files(doc) == before
    allocated = styxy.allocate("grafana", instance_id="x", doc=doc, pid=os.getpid())
    assert allocated.new_range == (11510, 11519)


def test_suggest_range_refuses_when_auto_allocation_is_off(doc: Path) -> None:
    text = doc.read_text().replace("  enabled: true", "  enabled: false", 1)
    doc.write_text(text)
    with pytest.raises(styxy.StyxyError, match="Unknown service type 'grafana'"):
        styxy.suggest_range("grafana", doc=doc)
