"""Reading registry bytes safely: XML without DTDs or entities, CSV, /etc/services, size bounds."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from iana_support import SAMPLE_CSV

from styxy.api import iana_import
from styxy.errors import InvalidValueError
from styxy.system.iana import IanaError
from styxy.system.iana_formats import Record, read_csv, read_services

HEAD = b"<?xml version='1.0' encoding='UTF-8'?>\n"
OPEN = b'<registry xmlns="http://www.iana.org/assignments" id="service-names-port-numbers">'
RECORD = (
    b"<record><name>postgresql</name><protocol>tcp</protocol>"
    b"<description>PostgreSQL Database</description><number>5432</number></record>"
)
SMALL = HEAD + OPEN + b"<updated>2024-03-18</updated>" + RECORD + b"</registry>\n"


def refusal(data: bytes) -> str:
    with pytest.raises(IanaError) as caught:
        iana_import.parse(data, "reg")
    return caught.value.message


def test_a_small_registry_reads() -> None:
    kind, found = iana_import.parse(SMALL, "reg")
    assert kind == "xml"
    assert found.updated == "2024-03-18"
    assert found.records == (Record("postgresql", "tcp", 5432, 5432, "PostgreSQL Database"),)


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    lol = (
        b'<?xml version="1.0"?>\n<!DOCTYPE registry [\n <!ENTITY a "lol">\n'
        + b"".join(
            b' <!ENTITY %s "%s">\n' % (bytes([98 + i]), (b"&%s;" % bytes([97 + i])) * 10)
            for i in range(9)
        )
        + b"]>\n"
        + OPEN
        + b"<updated>2024-03-18</updated><record><name>&j;</name><number>1</number></record>"
        + b"</registry>\n"
    )
    assert refusal(lol) == "reg was refused: the XML declares a document type; IANA's registry has none."


def test_external_entities_are_refused() -> None:
    xxe = (
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        + OPEN
        + b"<updated>2024-03-18</updated><record><name>&x;</name><number>1</number></record>"
        + b"</registry>\n"
    )
    assert refusal(xxe) == (
        "reg was refused: the XML declares a document type; IANA's registry has none."
    )


def test_an_undeclared_entity_is_malformed_xml() -> None:
    data = SMALL.replace(b"PostgreSQL Database", b"&x;")
    assert refusal(data) == "reg was refused: the XML is incomplete or malformed (undefined entity, line 2)."


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (SMALL[: len(SMALL) // 2], "reg was refused: the XML is incomplete or malformed (unclosed token, line 2)."),
        (SMALL[: SMALL.index(b"</registry>")], "reg was refused: the XML is incomplete or malformed (no element found, line 2)."),
        (HEAD + b"<html><body>Not found</body></html>\n", "reg is neither IANA's XML nor its CSV registry."),
        (b"<!doctype html><html><body>Moved</body></html>\n", "reg is neither IANA's XML nor its CSV registry."),
        (HEAD + OPEN + RECORD + b"</registry>\n", "reg was refused: the registry XML has no <updated> date."),
        (HEAD + OPEN + b"<updated>2024-03-18</updated></registry>\n", "reg was refused: it holds no port assignments."),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "reg is neither IANA's XML nor its CSV registry."),
        (b"port,service\n5432,postgresql\n", "reg is neither IANA's XML nor its CSV registry."),
        (b"", "reg is neither IANA's XML nor its CSV registry."),
    ],
)
def test_what_is_not_a_complete_registry_is_refused(data: bytes, message: str) -> None:
    assert refusal(data) == message


def test_the_csv_sample_reads_with_its_newest_date() -> None:
    found = read_csv(SAMPLE_CSV.read_text(encoding="utf-8"))
    assert found.updated == "2023-05-10"
    assert found.records == (
        Record(
            "whoispp",
            "tcp",
            63,
            63,
            'whois++ IANA assigned this well-formed service name as a replacement for "whois++".',
        ),
        Record("http", "tcp", 80, 80, "World Wide Web HTTP"),
        Record("postgresql", "tcp", 5432, 5432, "PostgreSQL Database"),
        Record("postgresql", "udp", 5432, 5432, "PostgreSQL Database"),
        Record("x11", "tcp", 6000, 6063, "X Window System"),
        Record("x11", "udp", 6000, 6063, "X Window System"),
        Record("redis", "tcp", 6379, 6379, "An advanced key-value cache and store"),
        Record("teamcoherence", "tcp", 9222, 9222, "QSC Team Coherence"),
        Record("vrml-multi-use", "", 4200, 4299, "VRML Multi User Systems"),
    )


def test_a_truncated_csv_is_refused() -> None:
    text = SAMPLE_CSV.read_bytes()
    # Cut inside the quoted, multi-line description of whoispp, inside a row, and at a row's end
    # but without its line break.
    inside_quotes = text[: text.index(b"IANA assigned")]
    inside_row = text[: text.index(b"PostgreSQL Database")]
    no_break = text[: text.index(b"\nhttp,")]
    assert inside_quotes.endswith(b"whois++\n")  # a line break, but inside an open quote
    assert refusal(inside_quotes) == "reg was refused: the CSV is incomplete or malformed (unexpected end of data)."
    assert refusal(inside_quotes[:-1]) == "reg was refused: the CSV is incomplete: it does not end with a line break."
    assert refusal(inside_row + b"\n") == "reg was refused: the CSV is incomplete: line 6 has 4 fields, the header 12."
    assert refusal(no_break) == "reg was refused: the CSV is incomplete: it does not end with a line break."


def test_services_file_reads_names_ports_and_comments() -> None:
    text = (
        "# Network services, Internet style\n"
        "tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer\n"
        "postgresql\t5432/tcp\tpostgres\t# PostgreSQL Database\n"
        "redis\t\t6379/tcp\n"
        "broken line\n"
        "bad\t\t99999/tcp\n"
    )
    assert read_services(text).records == (
        Record("tcpmux", "tcp", 1, 1, "TCP port service multiplexer"),
        Record("postgresql", "tcp", 5432, 5432, "PostgreSQL Database"),
        Record("redis", "tcp", 6379, 6379, ""),
    )


def test_reads_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iana_import, "MAX_REGISTRY_BYTES", 1024)
    big = tmp_path / "big.xml"
    big.write_bytes(SMALL + b" " * 1024)
    with pytest.raises(IanaError) as caught:
        iana_import.fetch(str(big))
    assert caught.value.message == f"{big} is larger than 1 KB; refused."
    # A small gzip that unpacks past the bound (a decompression bomb) is refused the same way.
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\0" * 100_000))
    assert bomb.stat().st_size < 1024
    with pytest.raises(IanaError) as caught:
        iana_import.fetch(str(bomb))
    assert caught.value.message == f"{bomb} (unzipped) is larger than 1 KB; refused."


def test_only_http_urls_are_fetched() -> None:
    with pytest.raises(InvalidValueError) as caught:
        iana_import.fetch("file:///etc/passwd")
    assert caught.value.message == "only http:// and https:// URLs can be imported, not 'file:///etc/passwd'."
