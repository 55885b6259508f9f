"""Fixtures: a real document in a temporary folder and the real `styxy` command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import DEFAULT_DOC, Styxy


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    """A fresh copy of the shipped default document."""
    target = tmp_path / "project" / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    target.parent.mkdir(parents=True)
    shutil.copyfile(DEFAULT_DOC, target)
    return target


@pytest.fixture
def styxy(doc: Path, home: Path) -> Styxy:
    return Styxy(doc, home)
