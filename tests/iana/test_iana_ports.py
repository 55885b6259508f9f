"""`check PORT` reads IANA's index through a table by port (styxy.api.iana_ports): the same
assignments as a whole read of the index, made again whenever the index changes."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from styxy.api import iana_ports
from styxy.system import iana


@pytest.fixture
def data(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("STYXY_DATA_DIR", str(folder))
    monkeypatch.delenv("STYXY_SHIPPED_IANA", raising=False)
    return folder


def tables(folder: Path) -> list[Path]:
    return sorted(folder.glob("iana-ports-*.bin"))


def test_the_table_answers_as_the_whole_shipped_index(data):
    whole = iana.load_index(iana.shipped_index_path(), "shipped")
    spans = [row[2] for row in whole.rows if row[3] > row[2]]
    ports = [1, 80, 5432, 6000, 6010, 6063, 8000, 49151, 65535, *spans[:20]]
    ports += random.Random(24).sample(range(1, 65536), 300)
    for port in ports:
        assert iana_ports.at_port(port) == iana.at_port(port, whole), port
    assert len(tables(data)) == 1  # made once, by the first lookup


def imported_index(folder: Path, rows: list[list[object]], updated: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / iana.INDEX_NAME
    body = {"styxyIanaIndex": 1, "updated": updated, "records": rows}
    path.write_text(json.dumps(body))
    return path


def test_an_imported_index_wins_and_a_new_one_makes_a_new_table(data):
    imported_index(data, [["alpha", "tcp", 7000, 7000, "First"]], "2025-01-01")
    assert [a.service for a in iana_ports.at_port(7000)] == ["alpha"]
    assert iana_ports.at_port(7001) == ()
    imported_index(data, [["beta", "tcp", 7000, 7002, "Second"]], "2025-02-01")
    assert [a.service for a in iana_ports.at_port(7001)] == ["beta"]
    assert [a.last_port for a in iana_ports.at_port(7000)] == [7002]


def test_a_damaged_table_is_not_believed(data):
    imported_index(data, [["alpha", "tcp", 7000, 7000, "First"]], "2025-01-01")
    expected = iana_ports.at_port(7000)
    [table] = tables(data)
    whole = table.read_bytes()
    for damage in (b"", whole[:20], whole[:-5], b"STYXYIPX" + whole[8:], whole.replace(b"alpha", b"ALPHA")):
        table.write_bytes(damage)
        assert iana_ports.at_port(7000) == expected
        assert table.read_bytes() == whole  # made again


def test_a_damaged_index_is_still_said(data):
    data.mkdir(parents=True)
    (data / iana.INDEX_NAME).write_bytes(b"{not json")
    with pytest.raises(iana.IanaError, match="damaged"):
        iana_ports.at_port(7000)


def test_without_any_index_etc_services_answers(data, tmp_path, monkeypatch):
    monkeypatch.setenv("STYXY_SHIPPED_IANA", str(tmp_path / "gone.json.gz"))
    assert iana_ports.at_port(22) == iana.at_port(22)
    assert tables(data) == []


def test_a_table_that_cannot_be_written_costs_only_the_whole_read(data, tmp_path, monkeypatch):
    shipped = tmp_path / "index.json.gz"
    body = {"styxyIanaIndex": 1, "updated": "2025-03-01", "records": [["x", "tcp", 9, 9, "X"]]}
    shipped.write_bytes(gzip.compress(json.dumps(body).encode()))
    monkeypatch.setenv("STYXY_SHIPPED_IANA", str(shipped))
    # A folder where the table would go: it can be neither read nor replaced.
    iana_ports._table_path(str(shipped.resolve())).mkdir(parents=True)
    for _ in range(2):
        assert [a.service for a in iana_ports.at_port(9)] == ["x"]
