"""The IANA Service Name and Transport Protocol Port Number Registry, read from its XML form.

Styxy never consults this at run time: whether a port is free is a question for the OS, not for
IANA. The module feeds the reference page `docs/references/IANA_PORT_REGISTRY.md` and the tests
that keep the shipped default ranges sensible. Standard library only, and nothing in styxy
imports it, so it costs nothing at start-up.

What counts as a registration here:

- a record that has both a service name and a port number. Records without a name ("Reserved",
  "Unassigned", "De-registered") bind no service to the port; records without a number (service
  names used only for DNS-SD/SRV) name no port. Both are skipped.
- every transport protocol is kept (tcp, udp, sctp, dccp). A few old records give no protocol at
  all (e.g. `vrml-multi-use` 4200-4299); they are kept with `protocol == ""`, so they never count
  as TCP.
- a record whose `<number>` is a range (`6000-6063` for x11) is expanded to one Registration per
  port: callers then ask "what is registered at port p" without knowing about ranges. Only a
  handful of named records are ranges (at most 100 ports each), so the expansion is cheap.
"""

from __future__ import annotations

import gzip
import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os import PathLike

_NS = "{http://www.iana.org/assignments}"


@dataclass(frozen=True)
class Registration:
    name: str
    protocol: str  # lower case as IANA writes it; "" when the record names none
    port: int
    description: str  # whitespace collapsed: IANA wraps long descriptions over several lines


def _open(path: str | PathLike[str]) -> io.BufferedIOBase:
    # Decide by magic bytes, not by suffix, so a renamed copy still loads.
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def _text(record: ET.Element, tag: str) -> str:
    return " ".join((record.findtext(_NS + tag) or "").split())


def _ports(number: str) -> range:
    low, _, high = number.partition("-")
    return range(int(low), int(high or low) + 1)


def _registrations(record: ET.Element) -> Iterator[Registration]:
    name, number = _text(record, "name"), _text(record, "number")
    if not name or not number:
        return
    protocol, description = _text(record, "protocol").lower(), _text(record, "description")
    for port in _ports(number):
        yield Registration(name, protocol, port, description)


def _records(stream: io.BufferedIOBase) -> Iterator[ET.Element]:
    # iterparse and clear: the registry is ~4 MB of XML, no need to keep the whole tree.
    for _, element in ET.iterparse(stream):
        if element.tag == _NS + "record":
            yield element
            element.clear()


def load(path: str | PathLike[str]) -> tuple[Registration, ...]:
    """Every registration in the registry at `path` (`.xml` or `.xml.gz`), in registry order."""
    with _open(path) as stream:
        return tuple(reg for record in _records(stream) for reg in _registrations(record))


def updated(path: str | PathLike[str]) -> str:
    """The registry's own `<updated>` date (YYYY-MM-DD), read without parsing the records."""
    with _open(path) as stream:
        for _, element in ET.iterparse(stream):
            if element.tag == _NS + "updated":
                return (element.text or "").strip()
    return ""


def tcp_ports_of(registrations: Iterable[Registration], name: str) -> frozenset[int]:
    """The TCP ports registered under `name`; service names are case-insensitive (RFC 6335)."""
    wanted = name.casefold()
    return frozenset(
        reg.port for reg in registrations if reg.protocol == "tcp" and reg.name.casefold() == wanted
    )


def in_span(
    registrations: Iterable[Registration], start: int, end: int, protocol: str = "tcp"
) -> tuple[Registration, ...]:
    """Registrations for `protocol` at ports start..end (inclusive), by port then name."""
    found = (r for r in registrations if r.protocol == protocol and start <= r.port <= end)
    return tuple(sorted(found, key=lambda r: (r.port, r.name.casefold(), r.name)))
