"""`styxy.paths.data_dir` finds platformdirs' folder without importing platformdirs on Linux."""

from __future__ import annotations

from pathlib import Path

import pytest
from platformdirs import user_data_dir

from styxy import paths


@pytest.mark.parametrize(
    ("xdg", "home"),
    [
        (None, "/home/alice"),
        ("/srv/data", "/home/alice"),
        ("relative/data", "/home/alice"),  # XDG says a relative value is to be ignored
        ("", "/home/alice"),
        ("/srv/data/", "/root"),
        (None, "relative-home"),  # left to platformdirs
    ],
)
def test_the_data_folder_is_platformdirs_own(monkeypatch, xdg, home):
    monkeypatch.delenv("STYXY_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", home)
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    assert paths.data_dir() == Path(user_data_dir("styxy")).resolve()


def test_styxy_data_dir_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("STYXY_DATA_DIR", str(tmp_path))
    assert paths.data_dir() == tmp_path.resolve()
