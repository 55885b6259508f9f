"""Placement with the registry's hints: User Ports only, foreign developer ports avoided, ties
broken by how many assigned and curated ports a window covers (SPEC section 13)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from iana_support import shared_registry

from styxy.api import iana_import
from styxy.document.model import AutoAllocation, Range, Rule, Settings
from styxy.engine.placement import CONVENTIONS, Proposal, RegistryHints, propose
from styxy.errors import RefusedError
from styxy.system import curated, iana

DEFAULT_DOC = Path(__file__).resolve().parents[2] / "docs" / "CORE" / "PORT_MANAGEMENT.md"
EPHEMERAL = (32768, 60999)


@pytest.fixture(scope="module")
def assigned() -> tuple[int, ...]:
    _, found = iana_import.parse(shared_registry().read_bytes(), "registry")
    return iana.assigned_tcp_ports(iana.row_of(r) for r in found.records)


def default_document() -> tuple[tuple[Range, ...], Settings]:
    from styxy import document

    parsed = document.parse(DEFAULT_DOC.read_text(encoding="utf-8"), str(DEFAULT_DOC))
    return parsed.document.ranges, parsed.document.settings


def hints(service_type: str, assigned: tuple[int, ...]) -> RegistryHints:
    return RegistryHints(assigned, curated.foreign_ports(service_type))


def auto(**changes: object) -> Settings:
    return Settings(auto_allocation=AutoAllocation(**changes))  # type: ignore[arg-type]


def test_spec_section_6_examples_hold_with_the_real_registry(assigned: tuple[int, ...]) -> None:
    ranges, settings = default_document()
    after = propose("grafana", ranges, settings, ephemeral=EPHEMERAL, registry=hints("grafana", assigned))
    assert after == Proposal(11510, 11519, "after", 10, None)
    grown = (*ranges, Range("grafana", 11510, 11519))
    big = propose("big", grown, settings, ephemeral=EPHEMERAL, chunk_size=20, registry=hints("big", assigned))
    assert (big.start, big.end) == (11530, 11549)
    before = propose(
        "lowone", ranges, settings, ephemeral=EPHEMERAL, placement="before", registry=hints("lowone", assigned)
    )
    assert (before.start, before.end) == (11380, 11389)


def test_never_into_system_or_dynamic_ports() -> None:
    wide = auto(min_port_number=100, max_port_number=65535, gap_size=0)
    assert propose("x", (), wide, registry=RegistryHints()).start == 1024
    # Without the registry's hints (the pure engine, as the property tests use it) lo stays.
    assert propose("x", (), wide).start == 100
    full = (Range("a", 1024, 49145),)
    with pytest.raises(RefusedError) as caught:
        propose("x", full, wide, registry=RegistryHints())
    assert str(caught.value) == "no room for 10 ports between 49146 and 49151"
    far = Settings(
        auto_allocation=AutoAllocation(min_port_number=1024, max_port_number=65535),
        rules=(Rule("x", preferred_range_start=60000),),
    )
    assert propose("x", (), far, registry=RegistryHints()) == Proposal(49142, 49151, "smart", 10, 60000)


def test_smart_ties_go_to_the_window_covering_fewer_registered_ports() -> None:
    settings = Settings(
        auto_allocation=AutoAllocation(placement="smart", gap_size=0, min_port_number=1000),
        rules=(Rule("x", preferred_range_start=1100),),
    )
    ranges = (Range("a", 1100, 1109),)
    # 1090 and 1110 are both 10 from T = 1100; without hints, or with the cost equal, the lower.
    assert propose("x", ranges, settings).start == 1090
    assert propose("x", ranges, settings, registry=RegistryHints()).start == 1090
    assert propose("x", ranges, settings, registry=RegistryHints(assigned=(1095,))).start == 1110
    assert propose("x", ranges, settings, registry=RegistryHints(assigned=(1115,))).start == 1090
    # A curated port counts as well as an assigned one: here it is avoided before the tie.
    cost = RegistryHints(assigned=(1091, 1092), foreign=(1111,)).cost
    assert (cost(1090, 1099), cost(1110, 1119)) == (2, 1)


def test_a_foreign_developer_port_is_stepped_over_unless_nothing_else_fits() -> None:
    settings = auto(min_port_number=10000)
    ranges = (Range("late", 26990, 27000),)
    # `after` would give 27011-27020, over MongoDB's 27017.
    assert propose("grafana", ranges, settings).start == 27011
    grafana = propose("grafana", ranges, settings, registry=hints("grafana", ()))
    assert (grafana.start, grafana.end) == (27018, 27027)
    mongo = propose("mongodb", ranges, settings, registry=hints("mongodb", ()))
    assert mongo.start == 27011  # about 27017: the port is the point of the range
    only = auto(min_port_number=27010, max_port_number=27019)
    assert propose("grafana", (), only, registry=hints("grafana", ())).start == 27010


def test_the_curated_list_is_sorted_and_agrees_with_the_conventions() -> None:
    spans = [(e.low, e.high) for e in curated.DEV_PORTS]
    assert spans == sorted(spans)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))
    # smart places a family near its convention port; that family must be about the port.
    for family, port in CONVENTIONS.items():
        entry = curated.at(port)
        if entry is not None:
            assert curated.is_about(entry, family), (family, port, entry.tool)
            assert curated.is_about(entry, f"{family}-extra"), (family, port)


def test_auto_allocation_keeps_validate_strict_green(styxy) -> None:
    lines = styxy.doc.read_text().splitlines(keepends=True)
    at = next(i for i, x in enumerate(lines) if x.startswith("| ai |"))
    lines.insert(at + 1, "| late | 26990 | 27000 | multi |  | Late services |\n")
    styxy.doc.write_text("".join(lines))
    done = styxy("allocate", "-s", "grafana", "--json")
    assert done.code == 0, done.err
    assert done.json()["newRange"] == [27018, 27027]
    assert styxy("validate", "--strict").code == 0


def test_allocating_from_an_existing_range_never_loads_the_registry(styxy) -> None:
    styxy("allocate", "-s", "dev", "-i", "a")  # builds the cache
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "styxy", "--doc", str(styxy.doc), "allocate", "-s", "dev", "-i", "b"],
        capture_output=True, text=True, env=styxy.env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {"styxy.system.iana", "styxy.system.curated", "styxy.system.iana_formats"} & modules
