"""Write docs/references/IANA_PORT_REGISTRY.md: the shipped default ranges against IANA's registry.

Usage (from anywhere; paths default to the checkout this script lives in):

    python docs/references/make_iana_report.py [OUTPUT] [--registry PATH] [--document PATH]

The output is a pure function of the default document, the registry copy in tests/fixtures and
`styxy.placement.CONVENTIONS`, so tests/test_iana_reference.py regenerates it and compares bytes:
the committed page can never drift from what it describes.

The default document is read with a regex over its table lines on purpose: this page must not
depend on styxy's own document parser, which it would otherwise be checking itself against.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    # Run straight from a checkout, without installing styxy.
    sys.path.insert(0, str(ROOT))

from styxy import iana

DEFAULT_DOCUMENT = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
DEFAULT_REGISTRY = ROOT / "tests" / "fixtures" / "iana-service-names-port-numbers.xml.gz"
DEFAULT_OUTPUT = ROOT / "docs" / "references" / "IANA_PORT_REGISTRY.md"

RANGES_MARKER = "<!-- styxy:ranges -->"
# Service type | Start | End | Instances | Preferred | ...: compact cells, one space each side.
ROW = re.compile(
    r"^\| (?P<name>[^|]+?) \| (?P<start>\d+) \| (?P<end>\d+) \|[^|]*\|(?P<pref>[^|]*)\|"
)
SETTING = re.compile(r"^\s+(?P<key>minPortNumber|maxPortNumber):\s*(?P<value>\d+)")

USER_PORTS = (1024, 49151)
NOTABLE_PER_RANGE = 4
RANGES_HEADER = "| Service type | Range | IANA TCP registrations | Ports without one | Notable registered names |"
WIDTH = 92  # prose line length, close to the rest of docs/

# Used only when styxy.placement (or its CONVENTIONS) is not there yet.
FALLBACK_CONVENTIONS: Mapping[str, int] = {
    "database": 5432,
    "postgres": 5432,
    "mysql": 3306,
    "cache": 6379,
    "redis": 6379,
    "web": 8080,
    "monitoring": 9090,
    "prometheus": 9090,
    "tracing": 16686,
    "jaeger": 16686,
    "messaging": 5672,
    "rabbitmq": 5672,
    "kafka": 9092,
    "elasticsearch": 9200,
    "mongodb": 27017,
}


@dataclass(frozen=True)
class DefaultRange:
    name: str
    start: int
    end: int
    preferred: tuple[int, ...]


def conventions() -> Mapping[str, int]:
    try:
        from styxy.placement import CONVENTIONS
    except ImportError:
        return FALLBACK_CONVENTIONS
    return CONVENTIONS


def read_ranges(lines: Sequence[str]) -> tuple[DefaultRange, ...]:
    """The rows of the table that follows the ranges marker, in document order."""
    after = lines[lines.index(RANGES_MARKER) + 1 :]
    rows = (ROW.match(line) for line in after if line.startswith("| "))
    return tuple(
        DefaultRange(
            m["name"],
            int(m["start"]),
            int(m["end"]),
            tuple(int(p) for p in m["pref"].split(",") if p.strip()),
        )
        for m in rows
        if m  # the header and delimiter rows have no numeric Start/End
    )


def read_settings(lines: Iterable[str]) -> dict[str, int]:
    found = (SETTING.match(line) for line in lines)
    return {m["key"]: int(m["value"]) for m in found if m}


def code(text: str) -> str:
    # IANA names contain `_`, `*` and `+`; inside backticks Markdown leaves them alone.
    return f"`{text}`"


def cell(text: str) -> str:
    # Free text goes into a table cell: a bare `|` would end the cell.
    return text.replace("|", "\\|")


def alias_key(reg: iana.Registration) -> tuple[int, str]:
    # IANA keeps old `_` spellings (`broker_service`) as records of their own: same service.
    return reg.port, reg.name.replace("_", "-").casefold()


def runs(ports: Iterable[int]) -> str:
    """`6006-6029` rather than 24 numbers: x11 alone registers 6000-6063."""
    spans: list[list[int]] = []
    for port in sorted(set(ports)):
        if spans and port == spans[-1][1] + 1:
            spans[-1][1] = port
        else:
            spans.append([port, port])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def notable(row: DefaultRange, tcp: Sequence[iana.Registration], wanted: Iterable[int]) -> str:
    """Up to NOTABLE_PER_RANGE names: those at well-known ports first, then at Preferred ports
    (the ones styxy hands out first), then the rest from the bottom of the range up."""
    first_spelling: dict[tuple[int, str], iana.Registration] = {}
    for reg in tcp:
        first_spelling.setdefault(alias_key(reg), reg)
    unique = list(first_spelling.values())
    first_at: dict[int, str] = {}
    for reg in unique:
        first_at.setdefault(reg.port, reg.name)
    order = [*sorted(p for p in set(wanted) if row.start <= p <= row.end), *row.preferred]
    order += sorted(first_at)
    names = list(dict.fromkeys(first_at[p] for p in order if p in first_at))
    picked = names[:NOTABLE_PER_RANGE]
    ports = {name: [r.port for r in unique if r.name == name] for name in picked}
    ordered = sorted(picked, key=lambda name: min(ports[name]))
    return ", ".join(f"{code(name)} {runs(ports[name])}" for name in ordered) or "none"


def ranges_table(
    ranges: Sequence[DefaultRange], regs: Sequence[iana.Registration], wanted: Iterable[int]
) -> list[str]:
    lines = [RANGES_HEADER, "| -- | -- | -: | -: | -- |"]
    for row in ranges:
        tcp = iana.in_span(regs, row.start, row.end)
        free = (row.end - row.start + 1) - len({r.port for r in tcp})
        names = notable(row, tcp, wanted)
        lines.append(f"| {row.name} | {row.start}-{row.end} | {len(tcp)} | {free} | {names} |")
    return lines


def conventions_table(convs: Mapping[str, int], regs: Sequence[iana.Registration]) -> list[str]:
    families: dict[int, list[str]] = {}
    for family, port in convs.items():
        families.setdefault(port, []).append(family)
    lines = [
        "| Port | Families | IANA TCP name | IANA description |",
        "| -: | -- | -- | -- |",
    ]
    for port in sorted(families):
        tcp = iana.in_span(regs, port, port)
        names = ", ".join(code(r.name) for r in tcp) or "none"
        described = "; ".join(dict.fromkeys(cell(r.description) for r in tcp if r.description))
        fams = ", ".join(families[port])
        lines.append(f"| {port} | {fams} | {names} | {described or '-'} |")
    return lines


def para(text: str) -> list[str]:
    # Wrap prose once here, so the sentences below can be written without minding line length.
    # No breaks at hyphens: port spans like 1024-49151 stay whole.
    return [*textwrap.wrap(text, WIDTH, break_on_hyphens=False, break_long_words=False), ""]


def intro(
    updated: str, settings: Mapping[str, int], regs: Sequence[iana.Registration]
) -> list[str]:
    user_tcp = iana.in_span(regs, *USER_PORTS)
    user_size = USER_PORTS[1] - USER_PORTS[0] + 1
    low = settings.get("minPortNumber", 10000)
    high = settings.get("maxPortNumber", 49151)
    return [
        "# The IANA port registry and styxy's default ranges",
        "",
        "<!-- Generated by docs/references/make_iana_report.py; do not edit by hand. -->",
        "",
        *para(
            "IANA's Service Name and Transport Protocol Port Number Registry (RFC 6335) splits "
            "the 16-bit port space in three:"
        ),
        "- System Ports, 0-1023: assigned through IETF review; binding one usually needs root.",
        "- User Ports, 1024-49151: assigned by IANA on request, after expert review.",
        "- Dynamic and/or Private Ports, 49152-65535: never assigned; for local and temporary use.",
        "",
        *para(
            "Every range of the shipped default document lies in the User Ports, where the tools "
            "it serves already listen: React and Next.js dev servers at 3000, Storybook at 6006, "
            "PostgreSQL at 5432, Redis at 6379, Django and FastAPI near 8000, the Firebase "
            "emulators at 4000, 4400, 5001 and 9099, Ollama at 11434. Keeping a service near its "
            "usual port means its default configuration often works unchanged. All of them also stay below 32768, "
            "where Linux's default ephemeral range (`ip_local_port_range`, 32768-60999) begins, "
            "so the kernel does not hand these ports out as the source ports of outgoing "
            f"connections. Auto-allocated ranges go to {low}-{high} (`minPortNumber`, "
            "`maxPortNumber`), still in the User Ports, and `avoidEphemeral` keeps them out of "
            "the kernel's actual ephemeral range."
        ),
        *para(
            "An IANA registration does not mean a port is in use on this machine: most "
            "registered services are rare, and many popular dev tools are not registered at all. "
            "Styxy never consults the registry to decide; it asks the OS which ports something "
            "listens on. This page shows which registered services a default range could meet, "
            "nothing more."
        ),
        *para(
            f"The registry copy in `tests/fixtures` was last updated by IANA on {updated}. It "
            f"holds {len(iana.in_span(regs, 0, 65535))} TCP registrations; {len(user_tcp)} of "
            f"them are in the User Ports, where {user_size - len({r.port for r in user_tcp})} of "
            f"{user_size} ports have none. A port can carry more than one registration: IANA "
            "also keeps old spellings of names with `_` as records of their own."
        ),
    ]


def render(document: Path, registry: Path) -> str:
    lines = document.read_text(encoding="utf-8").splitlines()
    regs = iana.load(registry)
    convs = conventions()
    out = [
        *intro(iana.updated(registry), read_settings(lines), regs),
        "## Default ranges",
        "",
        *para(
            "TCP registrations inside each default range. Notable names are those at the "
            "well-known ports of the next table first, then at the row's Preferred ports, then "
            "the lowest ones."
        ),
        *ranges_table(read_ranges(lines), regs, convs.values()),
        "",
        "## Well-known families of `smart` placement",
        "",
        *para(
            "A new service type of one of these families is placed near its conventional port "
            "(`styxy.placement.CONVENTIONS`). What IANA has registered at that port:"
        ),
        *conventions_table(convs, regs),
    ]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    parser.add_argument("--document", type=Path, default=DEFAULT_DOCUMENT)
    args = parser.parse_args(argv)
    # Bytes, not text mode: the page is compared byte for byte, so no newline translation.
    args.output.write_bytes(render(args.document, args.registry).encode("utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
