"""The hot path's records (`styxy.records`): `many` builds what the constructor builds, and a
record's fields stay in order however a call names them, since a lease's JSON copies them."""

from __future__ import annotations

import json

import pytest

from styxy import records
from styxy.api.reports import LeaseStatus
from styxy.store.leases import Lease

ROW = ("0123456789abcdef", 3000, "dev", "web", "", 4242, 12.5, 1796601600.0, "cli")


def test_many_builds_the_records_the_constructor_builds():
    rows = [ROW, (*ROW[:1], 3001, *ROW[2:]), [*ROW]]  # tuples and lists alike
    built = records.many(Lease, rows)
    assert built == [Lease(*row) for row in rows]
    assert [type(item) for item in built] == [Lease] * 3
    assert repr(built[0]) == repr(Lease(*ROW))
    assert hash(built[1]) == hash(Lease(*rows[1]))
    with pytest.raises(records.FrozenRecordError):
        built[0].port = 1  # type: ignore[misc]


@pytest.mark.parametrize("row", [ROW[:-1], (*ROW, "extra")], ids=["short", "long"])
def test_a_row_of_another_length_is_a_value_error(row):
    with pytest.raises(ValueError):
        records.many(Lease, [ROW, row])


def test_a_records_fields_keep_their_order_whatever_order_a_call_names_them():
    names = dict(zip(records.fields(Lease), ROW, strict=True))
    backwards = Lease(**dict(reversed(names.items())))
    assert list(records.as_dict(backwards)) == list(records.fields(Lease))
    assert list(records.replace(Lease(*ROW), source="mcp", lockId="f" * 16).to_record()) == list(
        records.fields(Lease)
    )
    status = LeaseStatus(lease=backwards, alive=True)
    assert json.dumps(status.to_json()) == (
        '{"lockId": "0123456789abcdef", "port": 3000, "serviceType": "dev", "instanceId": "web", '
        '"name": "", "pid": 4242, "pidStartTime": 12.5, "createdAt": "2026-12-07T00:00:00Z", '
        '"source": "cli", "alive": true}'
    )
