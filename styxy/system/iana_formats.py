"""Readers of the three forms the port registry comes in: IANA's XML, IANA's CSV, `/etc/services`.

Each reader takes bytes already read under a size bound and returns plain `Record`s, or raises
`RegistryFormatError` with one sentence. Nothing here touches the disk or the network, and the parsers are imported only when a reader
runs: lookups import this module for `Record` alone.

The XML is read with the standard library's expat, driven directly rather than through
ElementTree, so the reader can refuse what it does not need: any document type declaration
(hence any entity declaration: no "billion laughs", no external entities fetched) is an error,
and only the few fields of a `<record>` are kept in memory.

What ElementTree alone would do (measured with Python 3.11.7 and expat 2.5.0): it never fetches
an external entity (`&x;` declared SYSTEM is "undefined entity"), and expat's amplification
limit (since expat 2.4) stops a billion-laughs document, but only after expanding it for about
a second, and an older expat has no such limit. IANA's registry has no DTD, so refusing the
DTD outright costs nothing and does not depend on the expat version. The input is bounded
before it reaches the parser (`styxy.system.iana.MAX_REGISTRY_BYTES`).
"""

from __future__ import annotations

import re

from styxy.errors import StyxyError
from styxy.records import record
from styxy.vocabulary import MAX_PORT

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from _csv import Reader as _CsvReader

_NS = "http://www.iana.org/assignments"
_SEP = "}"  # expat joins namespace and local name with this, ElementTree style
REGISTRY_ID = "service-names-port-numbers"
RECORD_FIELDS = ("name", "protocol", "description", "number")
# The CSV's columns that styxy reads; IANA's file has more (assignee, contact, notes...).
CSV_COLUMNS = ("Service Name", "Port Number", "Transport Protocol", "Description")
CSV_DATES = ("Registration Date", "Modification Date")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")


class RegistryFormatError(StyxyError):
    """Bytes that are not a complete registry in a form styxy reads."""


class NotARegistryError(RegistryFormatError):
    """Bytes that are not the registry at all (an HTML page, another XML document)."""


@record
class Record:
    """One assignment as the registry writes it: a name bound to a port (or a span of ports)."""

    name: str
    protocol: str  # lower case ("tcp", "udp", "sctp", "dccp"); "" when the record names none
    low: int
    high: int
    description: str  # whitespace collapsed: IANA wraps long descriptions over several lines


@record
class Parsed:
    """What a reader found: the records and the registry's own date (YYYY-MM-DD, or "")."""

    records: tuple[Record, ...]
    updated: str


def _words(text: str) -> str:
    return " ".join(text.split())


def _span(number: str) -> tuple[int, int] | None:
    """(low, high) of `5432` or `6000-6063`; None for a value that is not a port span."""
    found = _NUMBER.fullmatch(number)
    if found is None:
        return None
    low = int(found[1])
    high = int(found[2] or low)
    return (low, high) if low <= high <= MAX_PORT else None


def _record(name: str, protocol: str, number: str, description: str) -> Record | None:
    """A Record when the row binds a name to a port; rows without either bind nothing."""
    name, number = _words(name), _words(number)
    if not name or not number:
        return None
    span = _span(number)
    if span is None:
        return None
    return Record(name, _words(protocol).lower(), span[0], span[1], _words(description))


# ---------------------------------------------------------------------------------------------
# XML


class _XmlReader:
    """expat handlers that keep the registry's date and the fields of each record."""

    def __init__(self) -> None:
        self.depth = 0
        self.root_ok = False
        self.updated = ""
        self.records: list[Record] = []
        self.fields: dict[str, list[str]] | None = None  # the record being read
        self.field: str | None = None  # the record's child element being read
        self.in_updated = False

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        local = tag.rpartition(_SEP)[2]
        if self.depth == 1:
            self.root_ok = tag == f"{_NS}{_SEP}registry" and attrs.get("id") == REGISTRY_ID
            if not self.root_ok:
                raise NotARegistryError("the XML is not IANA's service name and port registry")
        elif self.depth == 2 and local == "updated":
            self.in_updated = True
        elif self.depth == 2 and local == "record":
            self.fields = {}
        elif self.depth == 3 and self.fields is not None and local in RECORD_FIELDS:
            self.field = local
            self.fields.setdefault(local, [])

    def end(self, tag: str) -> None:
        if self.depth == 2 and self.fields is not None:
            parts = {key: "".join(value) for key, value in self.fields.items()}
            found = _record(
                parts.get("name", ""),
                parts.get("protocol", ""),
                parts.get("number", ""),
                parts.get("description", ""),
            )
            if found is not None:
                self.records.append(found)
            self.fields = None
        elif self.depth == 3:
            self.field = None
        self.in_updated = False
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.in_updated:
            self.updated += data
        elif self.field is not None and self.fields is not None:
            # Text of nested elements (an <xref/> in a description) belongs to the field too.
            self.fields[self.field].append(data)


def _refuse_doctype(*_: object) -> None:
    raise RegistryFormatError("the XML declares a document type; IANA's registry has none")


def read_xml(data: bytes) -> Parsed:
    """IANA's `service-names-port-numbers.xml`; refuses a DTD, entities and a truncated file."""
    # Imported here: lookups import this module for `Record` and must not pay for a parser.
    from xml.parsers import expat

    reader = _XmlReader()
    parser = expat.ParserCreate(namespace_separator=_SEP)
    # No DTD at all: entity declarations (internal or external) can only come from one.
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        if not reader.root_ok:  # broken before the registry even began: an HTML page, say
            raise NotARegistryError("not XML") from None
        # A cut-off download ends inside an element: expat says "no element found" or similar.
        raise RegistryFormatError(
            f"the XML is incomplete or malformed ({expat.errors.messages[exc.code]}, "
            f"line {exc.lineno})"
        ) from None
    updated = _words(reader.updated)
    if not _DATE.fullmatch(updated):
        raise RegistryFormatError("the registry XML has no <updated> date")
    return Parsed(tuple(reader.records), updated)


# ---------------------------------------------------------------------------------------------
# CSV


def looks_like_csv(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    return all(column in first for column in CSV_COLUMNS)


def read_csv(text: str) -> Parsed:
    """IANA's `service-names-port-numbers.csv`.

    The CSV carries no registry date of its own; the newest registration or modification date
    in it stands in for one. A file cut off part-way is refused: every row must have as many
    fields as the header, quotes must close, and the file must end with a line break.
    """
    import csv
    import io

    if not text.endswith("\n"):
        raise RegistryFormatError("the CSV is incomplete: it does not end with a line break")
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), strict=True)
    try:
        header = next(rows)
        missing = [column for column in CSV_COLUMNS if column not in header]
        if missing:
            raise RegistryFormatError(f"the CSV has no column {missing[0]!r}")
        records, dates = _csv_rows(rows, header)
    except csv.Error as exc:
        raise RegistryFormatError(f"the CSV is incomplete or malformed ({exc})") from None
    if not records:
        raise RegistryFormatError("the CSV holds no port assignments")
    return Parsed(tuple(records), max(dates, default=""))


def _csv_rows(rows: _CsvReader, header: list[str]) -> tuple[list[Record], list[str]]:
    at = {column: header.index(column) for column in (*CSV_COLUMNS, *CSV_DATES) if column in header}
    records: list[Record] = []
    dates: list[str] = []
    for row in rows:
        if len(row) != len(header):
            raise RegistryFormatError(
                f"the CSV is incomplete: line {rows.line_num} has {len(row)} fields, "
                f"the header {len(header)}"
            )
        name, number, protocol, description = (row[at[column]] for column in CSV_COLUMNS)
        found = _record(name, protocol, number, description)
        if found is not None:
            records.append(found)
        dates.extend(row[at[c]] for c in CSV_DATES if c in at and _DATE.fullmatch(row[at[c]]))
    return records, dates


# ---------------------------------------------------------------------------------------------
# /etc/services


def read_services(text: str) -> Parsed:
    """The system's `services(5)` file: `name port/protocol [aliases...] [# comment]`.

    The comment, when there is one, serves as the description. Lines that do not parse are
    skipped, as the C library's own reader skips them.
    """
    records: list[Record] = []
    for line in text.splitlines():
        entry, _, comment = line.partition("#")
        fields = entry.split()
        if len(fields) < 2:
            continue
        port, _, protocol = fields[1].partition("/")
        if port.isascii() and port.isdigit() and int(port) <= MAX_PORT and protocol:
            number = int(port)
            records.append(Record(fields[0], protocol.lower(), number, number, _words(comment)))
    return Parsed(tuple(records), "")
