"""A document that passes `mdformat --check` still passes after every kind of styxy edit.

The real, pinned mdformat runs here with the repository's own `.mdformat.toml`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from document_support import FORMATTED, REPO, copy, formatted, load, text_of, write

from styxy.document import (
    Parsed,
    add_range,
    append_audit,
    parse,
    remove_range,
    set_rule,
    set_setting,
    unset_rule,
)
from styxy.document.edit import render_row
from styxy.document.model import Range

AUDIT = "2025-09-30T12:00:00Z auto-allocate grafana 11510-11519 chunk=10 placement=after by=alice@laptop"

EDITS: dict[str, Callable[[Parsed], str]] = {
    "add row": lambda p: add_range(
        p, Range("grafana", 11510, 11519, "multi", (), "Auto-allocated 2025-09-30")
    ),
    "add row with preferred": lambda p: add_range(
        p, Range("vector-db", 6333, 6339, "single", (6333, 6334), "Qdrant")
    ),
    "add row and audit": lambda p: add_range(p, Range("grafana", 11510, 11519), audit=AUDIT),
    # A row without aliases: removing an aliased one would leave `aliases:` naming no row.
    "remove row": lambda p: remove_range(
        p, next(r for r in p.document.ranges if r.service_type not in p.document.settings.aliases).service_type
    ),
    "audit line": lambda p: append_audit(p, AUDIT),
    "set setting": lambda p: set_setting(p, "auto-allocation.placement", "before"),
    "add setting": lambda p: set_setting(p, "lease-grace-seconds", "42"),
    "set rule": lambda p: set_rule(
        p, "tracing-*", chunk_size=10, placement="smart", preferred_range_start=16686
    ),
    "replace rule": lambda p: set_rule(
        p, "database-*", chunk_size=8, placement=None, preferred_range_start=None
    ),
    "quoted rule": lambda p: set_rule(
        p, "*-cache", chunk_size=None, placement=None, preferred_range_start=None
    ),
    "unset rule": lambda p: unset_rule(p, "monitoring-*"),
}


@pytest.mark.parametrize("name", FORMATTED)
def test_fixture_passes_mdformat_check(name: str, tmp_path: Path) -> None:
    text = text_of(copy(name, tmp_path))
    assert formatted(text) == text


# Every formatted fixture with every edit it can take (the one without front matter has no rules).
CASES = [
    (name, edit)
    for name in FORMATTED
    for edit in sorted(EDITS)
    if not (name == "no-front-matter.md" and edit in ("replace rule", "unset rule"))
]


@pytest.mark.parametrize(("name", "edit"), CASES)
def test_every_edit_keeps_mdformat_check_passing(name: str, edit: str, tmp_path: Path) -> None:
    path, parsed = load(name, tmp_path)
    after = write(path, EDITS[edit](parsed))
    assert after != parsed.text
    assert formatted(after) == after
    parse(after, str(path))  # and it still parses


def test_mdformat_cli_with_the_repository_config_agrees(tmp_path: Path) -> None:
    """The command pre-commit runs, with the repository's config beside the file."""
    path, parsed = load("canonical.md", tmp_path)
    write(path, add_range(parsed, Range("grafana", 11510, 11519), audit=AUDIT))
    shutil.copyfile(REPO / ".mdformat.toml", tmp_path / ".mdformat.toml")
    result = subprocess.run(
        [sys.executable, "-m", "mdformat", "--check", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "row",
    [
        Range("grafana", 11510, 11519, "multi", (), "Auto-allocated 2025-09-30"),
        Range(
            "dev",
            3000,
            3099,
            "multi",
            (3000, 3001),
            "Frontend development servers (React, Next.js, Vite)",
        ),
        Range("x", 1, 2, "single", (1,), ""),
    ],
)
def test_row_template_renders_what_mdformat_renders(row: Range) -> None:
    line = render_row(row)
    table = "| Service type | Start | End | Instances | Preferred | Description |\n| -- | -: | -: | -- | -- | -- |\n"
    assert formatted(table + line + "\n") == table + line + "\n"
