"""The registry reader on IANA's real registry, and the reference page built from it.

The registry copy lives in ../shared/data next to the checkout (it is not committed here);
without it these tests fail and say where they looked.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from iana_support import ROOT, SCRIPT, report_script, shared_registry

from styxy.api import iana_import
from styxy.system import iana
from styxy.system.iana import Registration

REFERENCE = ROOT / "docs" / "references" / "IANA_PORT_REGISTRY.md"
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"

USER_PORTS = (1024, 49151)


@pytest.fixture(scope="module")
def registrations() -> tuple[Registration, ...]:
    # Parsing ~4 MB of XML takes most of a second: once for the whole module.
    return iana_import.load(shared_registry())


def test_postgresql_is_registered_for_tcp_and_udp(registrations: tuple[Registration, ...]) -> None:
    assert Registration("postgresql", "tcp", 5432, "PostgreSQL Database") in registrations
    assert Registration("postgresql", "udp", 5432, "PostgreSQL Database") in registrations
    assert iana.tcp_ports_of(registrations, "postgresql") == frozenset({5432})


def test_redis_is_registered_for_tcp_only(registrations: tuple[Registration, ...]) -> None:
    # IANA's udp record at 6379 has no name ("Reserved"), so it is no registration.
    expected = Registration("redis", "tcp", 6379, "An advanced key-value cache and store")
    assert iana.in_span(registrations, 6379, 6379) == (expected,)
    assert iana.in_span(registrations, 6379, 6379, protocol="udp") == ()


def test_port_range_records_expand_to_every_port(registrations: tuple[Registration, ...]) -> None:
    assert iana.tcp_ports_of(registrations, "x11") == frozenset(range(6000, 6064))


def test_service_names_are_case_insensitive(registrations: tuple[Registration, ...]) -> None:
    assert iana.tcp_ports_of(registrations, "xmlipcregsvc") == frozenset({9092})
    assert iana.tcp_ports_of(registrations, "no-such-service") == frozenset()


def test_records_without_protocol_are_kept_apart(registrations: tuple[Registration, ...]) -> None:
    vrml = {r for r in registrations if r.name == "vrml-multi-use"}
    assert {r.protocol for r in vrml} == {""}
    assert {r.port for r in vrml} == set(range(4200, 4300))
    assert iana.tcp_ports_of(registrations, "vrml-multi-use") == frozenset()


def test_descriptions_keep_the_text_around_nested_elements(
    registrations: tuple[Registration, ...],
) -> None:
    # <description>whois++<br/><br/>IANA assigned ...</description>: both halves, one space.
    whoispp = next(r for r in registrations if r.name == "whoispp" and r.protocol == "tcp")
    assert whoispp.description == (
        'whois++ IANA assigned this well-formed service name as a replacement for "whois++".'
    )


def test_in_span_is_inclusive_and_sorted(registrations: tuple[Registration, ...]) -> None:
    found = iana.in_span(registrations, 5430, 5433)
    assert [(r.port, r.name) for r in found] == [
        (5430, "radec-corp"),
        (5431, "park-agent"),
        (5432, "postgresql"),
        (5433, "pyrrho"),
    ]


def test_gzipped_xml_loads_like_plain(
    registrations: tuple[Registration, ...], tmp_path: Path
) -> None:
    import gzip

    packed = tmp_path / "registry.bin"  # no suffix: the form is told by content
    packed.write_bytes(gzip.compress(shared_registry().read_bytes()))
    assert iana_import.load(packed) == registrations
    assert iana_import.updated(packed) == "2024-03-18"


def test_committed_reference_matches_the_script(tmp_path: Path) -> None:
    page = tmp_path / "IANA_PORT_REGISTRY.md"
    shutil.copyfile(REFERENCE, page)
    subprocess.run(
        [sys.executable, str(SCRIPT), str(page), "--registry", str(shared_registry())],
        check=True,
        cwd=tmp_path,
    )
    assert page.read_bytes() == REFERENCE.read_bytes(), (
        "docs/references/IANA_PORT_REGISTRY.md is stale: run "
        "`python docs/references/make_iana_report.py`"
    )


def test_reference_covers_what_spec_section_13_asks() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    for heading in (
        "## The three ranges (RFC 6335, section 6)",
        "## How the default ranges follow them",
        "## The ephemeral hazard",
        "## The curated developer ports",
        "## Where the registry data comes from",
        "## How a team proposes its conventions upstream",
        "## Draft: a proposal to IANA on development-port coordination",
    ):
        assert f"\n{heading}\n" in text, heading


def test_reference_lists_every_curated_port() -> None:
    from styxy.system import curated

    text = REFERENCE.read_text(encoding="utf-8")
    for entry in curated.DEV_PORTS:
        span = str(entry.low) if entry.low == entry.high else f"{entry.low}-{entry.high}"
        row = f"| {span} | {entry.tool} | "
        assert row in text, row
        listed = text.split(row, 1)[1].split(" |", 1)[0]
        assert set(listed.split(", ")) == entry.about, entry.tool


def test_default_ranges_lie_in_user_ports() -> None:
    ranges = report_script().read_ranges(DEFAULT_DOC.read_text(encoding="utf-8").splitlines())
    assert ranges, "no rows read from the default document's table"
    outside = [r for r in ranges if not USER_PORTS[0] <= r.start <= r.end <= USER_PORTS[1]]
    assert outside == []


def test_reference_passes_mdformat() -> None:
    # From the repository root, so mdformat picks up .mdformat.toml (gfm, compact tables).
    done = subprocess.run(
        [sys.executable, "-m", "mdformat", "--check", str(REFERENCE.relative_to(ROOT))],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
