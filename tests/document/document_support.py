"""Shared helpers of the document tests: fixtures as exact bytes, the real mdformat, diffs."""

from __future__ import annotations

import difflib
import re
import shutil
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

import mdformat

from styxy.document import Parsed, parse

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
MALFORMED = FIXTURES / "malformed"
VALID = (
    "canonical.md",
    "canonical-crlf.md",
    "hand-edited.md",
    "hand-edited-crlf.md",
    "minimal.md",
    "no-front-matter.md",
    "warnings.md",
)
# Fixtures that pass `mdformat --check` with the repository's .mdformat.toml.
FORMATTED = ("canonical.md", "canonical-crlf.md", "no-front-matter.md")


def text_of(path: Path) -> str:
    # Bytes, not text mode: text mode would turn CRLF into LF and hide what matters here.
    return path.read_bytes().decode("utf-8")


def copy(name: str, tmp_path: Path) -> Path:
    """A fixture copied to a real file named like the real document."""
    target = tmp_path / "PORT_MANAGEMENT.md"
    shutil.copyfile(FIXTURES / name, target)
    return target


def load(name: str, tmp_path: Path) -> tuple[Path, Parsed]:
    path = copy(name, tmp_path)
    return path, parse(text_of(path), str(path))


def write(path: Path, text: str) -> str:
    """Write through the disk and read back, so tests compare what a file really holds."""
    path.write_bytes(text.encode("utf-8"))
    return text_of(path)


@lru_cache(maxsize=1)
def mdformat_options() -> dict[str, Any]:
    config = tomllib.loads((REPO / ".mdformat.toml").read_text())
    options = {k: v for k, v in config.items() if k not in ("extensions", "plugin")}
    options["compact_tables"] = (
        config.get("plugin", {}).get("tables", {}).get("compact_tables", False)
    )
    return options


def mdformat_extensions() -> set[str]:
    config = tomllib.loads((REPO / ".mdformat.toml").read_text())
    return set(config["extensions"])


def formatted(text: str) -> str:
    """What `mdformat --check` compares `text` with, configured as the repository configures it.

    `mdformat.text` always answers with LF; the command line then applies `end_of_line`, which
    the repository sets to `keep`: the newline of the first line ending.
    """
    rendered = mdformat.text(text, options=mdformat_options(), extensions=mdformat_extensions())
    first = re.search(r"\r\n|\r|\n", text)
    keep = mdformat_options().get("end_of_line") == "keep"
    return (
        rendered.replace("\n", "\r\n") if keep and first and first.group() == "\r\n" else rendered
    )


def changes(before: str, after: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Removed lines (1-based line in `before`) and added lines (1-based line in `after`)."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    removed: list[tuple[int, str]] = []
    added: list[tuple[int, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            removed += [(i + 1, old[i]) for i in range(i1, i2)]
        if tag in ("insert", "replace"):
            added += [(j + 1, new[j]) for j in range(j1, j2)]
    return removed, added
