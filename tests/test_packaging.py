"""What the wheel carries: the marker that makes `styxy.allocate` typed for its callers, and the
IANA index that lookups use out of the box."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from support import ROOT


def test_the_wheel_ships_py_typed_and_the_iana_index(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("styxy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "styxy/py.typed" in names
    assert zipfile.ZipFile(wheel).read("styxy/py.typed") == b""
    shipped = ROOT / "styxy" / "system" / "data" / "iana-index.json.gz"
    assert zipfile.ZipFile(wheel).read("styxy/system/data/iana-index.json.gz") == shipped.read_bytes()
