"""The pre-commit hook, for real: git repositories whose config points at this checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import DEFAULT_DOC, ROOT, Styxy


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the module: each hook environment is installed once."""
    return tmp_path_factory.mktemp("pre-commit-cache")


def _head() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert head.returncode == 0, "the checkout must be a git repository with a commit"
    return head.stdout.strip()


def _repo_with_default_document(tmp_path: Path, config: str) -> tuple[Path, Path]:
    repo = tmp_path / "repo"
    (repo / "docs" / "CORE").mkdir(parents=True)
    doc = repo / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    (repo / ".pre-commit-config.yaml").write_text(config)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    return repo, doc


def _pre_commit(repo: Path, home: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(cache), "HOME": str(home)}
    command = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    return subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env, timeout=900)


def test_pre_commit_passes_a_good_document_and_names_the_line_of_a_broken_one(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    config = (
        f"repos:\n  - repo: {ROOT}\n    rev: {_head()}\n    hooks:\n      - id: styxy-validate\n"
    )
    repo, doc = _repo_with_default_document(tmp_path, config)
    good = _pre_commit(repo, tmp_path, pre_commit_home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "styxy validate" in good.stdout and "Passed" in good.stdout

    lines = doc.read_text().splitlines(keepends=True)
    row = next(i for i, x in enumerate(lines) if x.startswith("| build |"))
    lines[row] = "| build | 8200 | 8150 | multi |  | Build tools |\n"
    doc.write_text("".join(lines))
    bad = _pre_commit(repo, tmp_path, pre_commit_home)
    assert bad.returncode == 1
    assert "Failed" in bad.stdout
    assert f"docs/CORE/PORT_MANAGEMENT.md:{row + 1}: " in bad.stdout

    # `args: [--strict]` in the user's config makes warnings fail the commit (SPEC section 13):
    # a hand-edited row over Chrome DevTools' 9222 passes without it and fails with it.
    lines[row] = "| build | 8200 | 8299 | multi |  | Build tools |\n"
    proxy = next(i for i, x in enumerate(lines) if x.startswith("| proxy |"))
    test_row = next(i for i, x in enumerate(lines) if x.startswith("| test |"))
    lines[test_row] = "| test | 9300 | 9399 | multi |  | Browser testing |\n"
    lines[proxy] = "| proxy | 9210 | 9239 | multi |  | Development proxies |\n"
    doc.write_text("".join(lines))
    warned = _pre_commit(repo, tmp_path, pre_commit_home)
    assert warned.returncode == 0, warned.stdout + warned.stderr
    (repo / ".pre-commit-config.yaml").write_text(config + "        args: [--strict]\n")
    strict = _pre_commit(repo, tmp_path, pre_commit_home)
    assert strict.returncode == 1
    assert (
        f"docs/CORE/PORT_MANAGEMENT.md:{proxy + 1}: range 9210-9239 of 'proxy' covers ports 9222-9229"
        in strict.stdout
    )


def _documented_config() -> str:
    """The YAML block of docs/PRE_COMMIT.md, exactly as a user copies it."""
    page = (ROOT / "docs" / "PRE_COMMIT.md").read_text()
    found = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert found is not None
    return found.group(1)


def test_the_documented_configuration_keeps_styxy_s_bytes_and_fixes_hand_padding(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    config = _documented_config()
    assert config.count("<styxy repository URL>") == 1 and config.count("<tag or commit>") == 1
    config = config.replace("<styxy repository URL>", str(ROOT)).replace(
        "<tag or commit>", _head()
    )
    # No .mdformat.toml here: the documented flags alone must give styxy's formatting.
    repo, doc = _repo_with_default_document(tmp_path, config)
    shipped = doc.read_bytes()
    first = _pre_commit(repo, tmp_path, pre_commit_home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert doc.read_bytes() == shipped  # not one table line rewritten

    # What styxy writes (a new row and an audit line) passes both hooks untouched.
    home = tmp_path / "styxy-home"
    home.mkdir()
    assert Styxy(doc, home)("allocate", "-s", "grafana", "-i", "ci").code == 0
    written = doc.read_bytes()
    assert written != shipped
    second = _pre_commit(repo, tmp_path, pre_commit_home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert doc.read_bytes() == written

    # A hand-padded row is put back in the compact form, so the next diff is one line again.
    padded = written.replace(b"| dev | 3000 | 3099 |", b"| dev  |  3000 |  3099 |")
    doc.write_bytes(padded)
    fixed = _pre_commit(repo, tmp_path, pre_commit_home)
    assert fixed.returncode == 1 and "files were modified by this hook" in fixed.stdout
    assert doc.read_bytes() == written


def _documented_output() -> list[str]:
    """The `text` block of docs/PRE_COMMIT.md: what a hand-broken row makes pre-commit print."""
    page = (ROOT / "docs" / "PRE_COMMIT.md").read_text()
    found = re.search(r"```text\n(.*?)```", page, re.S)
    assert found is not None
    return found.group(1).splitlines()


def test_the_documented_configuration_shows_the_real_diagnostic_for_a_broken_row(
    tmp_path: Path, pre_commit_home: Path
) -> None:
    """styxy's check runs before mdformat and stops the run: the person sees the missing cell,
    not what mdformat's padding of the row would make of it, and the file stays as saved."""
    config = _documented_config()
    config = config.replace("<styxy repository URL>", str(ROOT)).replace(
        "<tag or commit>", _head()
    )
    repo, doc = _repo_with_default_document(tmp_path, config)
    lines = doc.read_text().splitlines(keepends=True)
    row = next(i for i, x in enumerate(lines) if x.startswith("| build |"))
    lines[row] = "| build | 8200 | 8299 | multi | Build tools and bundlers |\n"
    doc.write_text("".join(lines))
    broken = doc.read_bytes()
    done = _pre_commit(repo, tmp_path, pre_commit_home)
    assert done.returncode == 1
    shown = [line for line in done.stdout.splitlines() if line.strip()]
    assert shown == [line for line in _documented_output() if line.strip()]
    assert "mdformat" not in done.stdout
    assert doc.read_bytes() == broken
