"""The IANA index shipped inside styxy: built from IANA's registry, used out of the box."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from iana_support import SAMPLE_CSV, shared_registry

from styxy.api.iana_import import shipped_index_bytes
from styxy.system.iana import IANA_URL, SHIPPED_INDEX

IRDMI = [
    {"service": "irdmi", "protocol": protocol, "port": 8000, "lastPort": 8000,
     "description": "iRDMI", "category": "user"}
    for protocol in ("tcp", "udp")
]
SHIPPED_SOURCE = {
    "kind": "shipped", "path": str(SHIPPED_INDEX), "updated": "2024-03-18", "origin": IANA_URL
}


def test_the_shipped_index_is_the_importers_index_of_iana_s_registry():
    """docs/references/make_iana_index.py wrote it; rebuilt from the same registry, the same JSON."""
    shipped = json.loads(gzip.decompress(SHIPPED_INDEX.read_bytes()))
    built = json.loads(gzip.decompress(shipped_index_bytes(str(shared_registry()))))
    assert shipped == built
    assert (shipped["updated"], shipped["origin"], len(shipped["records"])) == (
        "2024-03-18", IANA_URL, 11716
    )
    assert SHIPPED_INDEX.stat().st_size < 200_000  # compact: the XML it comes from is 3.8 MB


def test_iana_8000_says_irdmi_out_of_the_box_with_source_and_date(styxy):
    done = styxy("iana", "8000")
    assert (done.code, done.err) == (0, "")
    assert done.out == (
        "port 8000: User Ports 1024-49151\n"
        "irdmi  8000/tcp  user  iRDMI\n"
        "irdmi  8000/udp  user  iRDMI\n"
        "source: IANA's registry of 2024-03-18 (shipped with styxy)\n"
    )
    found = styxy("iana", "irdmi", "--json").json()
    # The index of the styxy that runs: the checkout's in an editable install, the wheel's
    # copy in site-packages otherwise (as CI installs it); the same bytes either way.
    source = dict(found["source"])
    path = Path(source.pop("path"))
    assert (found["assignments"], source) == (
        IRDMI, {k: v for k, v in SHIPPED_SOURCE.items() if k != "path"}
    )
    assert path.parts[-4:] == ("styxy", "system", "data", "iana-index.json.gz")
    assert path.read_bytes() == SHIPPED_INDEX.read_bytes()
    checked = styxy("check", "8000", "--json").json()
    assert checked["iana"] == IRDMI


def test_an_import_wins_over_the_shipped_index(styxy):
    assert styxy("iana", "import", str(SAMPLE_CSV)).code == 0
    found = styxy("iana", "5432", "--json").json()
    assert found["source"]["kind"] == "index"
    # The sample CSV has no irdmi: the shipped index is not consulted once the user imported.
    assert styxy("iana", "8000", "--json").json()["assignments"] == []


def test_a_damaged_shipped_index_is_said_plainly(styxy, tmp_path):
    broken = tmp_path / "iana-index.json.gz"
    broken.write_bytes(gzip.compress(b'{"styxyIanaIndex": 1, "records": [["x"]]}'))
    done = styxy("iana", "5432", env={"STYXY_SHIPPED_IANA": str(broken)})
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"styxy: the IANA index shipped with styxy ({broken}) is damaged; reinstall styxy, "
        "or run `styxy iana import FILE_OR_URL`.\n"
    )
    # A gzip bomb or a truncated file is damage too, never a hang or a traceback.
    broken.write_bytes(gzip.compress(b"x" * 1000)[:-9])
    truncated = styxy("iana", "5432", env={"STYXY_SHIPPED_IANA": str(broken)})
    assert truncated.code == 1 and "is damaged" in truncated.err
