"""The IANA registry module, and the reference page generated from it.

The page docs/references/IANA_PORT_REGISTRY.md is regenerated here and compared byte for byte,
so it cannot drift from the default document or the registry copy it describes.
"""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from styxy import iana
from styxy.iana import Registration

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = ROOT / "tests" / "fixtures" / "iana-service-names-port-numbers.xml.gz"
SCRIPT = ROOT / "docs" / "references" / "make_iana_report.py"
REFERENCE = ROOT / "docs" / "references" / "IANA_PORT_REGISTRY.md"
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"

USER_PORTS = (1024, 49151)


@pytest.fixture(scope="module")
def registrations() -> tuple[Registration, ...]:
    # Parsing ~4 MB of XML takes a quarter of a second: once for the whole module.
    return iana.load(REGISTRY)


@pytest.fixture(scope="module")
def script() -> ModuleType:
    # docs/references is not a package; load the script as a module to reuse its table reader.
    spec = importlib.util.spec_from_file_location("make_iana_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the defining module up in sys.modules while building the class.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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


def test_in_span_is_inclusive_and_sorted(registrations: tuple[Registration, ...]) -> None:
    found = iana.in_span(registrations, 5430, 5433)
    assert [(r.port, r.name) for r in found] == [
        (5430, "radec-corp"),
        (5431, "park-agent"),
        (5432, "postgresql"),
        (5433, "pyrrho"),
    ]


def test_plain_xml_loads_like_gzip(registrations: tuple[Registration, ...], tmp_path: Path) -> None:
    plain = tmp_path / "registry.xml"
    plain.write_bytes(gzip.decompress(REGISTRY.read_bytes()))
    assert iana.load(plain) == registrations
    assert iana.updated(plain) == "2024-03-18"


def test_committed_reference_matches_the_script(tmp_path: Path) -> None:
    out = tmp_path / "IANA_PORT_REGISTRY.md"
    subprocess.run([sys.executable, str(SCRIPT), str(out)], check=True, cwd=tmp_path)
    assert out.read_bytes() == REFERENCE.read_bytes(), (
        "docs/references/IANA_PORT_REGISTRY.md is stale: run "
        "`python docs/references/make_iana_report.py`"
    )


def test_default_ranges_lie_in_user_ports(script: ModuleType) -> None:
    ranges = script.read_ranges(DEFAULT_DOC.read_text(encoding="utf-8").splitlines())
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
