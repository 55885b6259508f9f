"""The pre-commit hook, for real: a git repository whose config points at this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from support import DEFAULT_DOC, ROOT


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_pre_commit_passes_a_good_document_and_names_the_line_of_a_broken_one(tmp_path):
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert head.returncode == 0, "the checkout must be a git repository with a commit"
    repo = tmp_path / "repo"
    (repo / "docs" / "CORE").mkdir(parents=True)
    shutil.copyfile(DEFAULT_DOC, repo / "docs" / "CORE" / "PORT_MANAGEMENT.md")
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head.stdout.strip()}\n    hooks:\n      - id: styxy-validate\n"
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    pre_commit = [sys.executable, "-m", "pre_commit", "run", "--all-files"]
    good = subprocess.run(pre_commit, cwd=repo, capture_output=True, text=True, env=env, timeout=900)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "styxy validate" in good.stdout and "Passed" in good.stdout

    doc = repo / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    lines = doc.read_text().splitlines(keepends=True)
    row = next(i for i, x in enumerate(lines) if x.startswith("| build |"))
    lines[row] = "| build | 8200 | 8150 | multi |  | Build tools |\n"
    doc.write_text("".join(lines))
    bad = subprocess.run(pre_commit, cwd=repo, capture_output=True, text=True, env=env, timeout=900)
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
    warned = subprocess.run(pre_commit, cwd=repo, capture_output=True, text=True, env=env, timeout=900)
    assert warned.returncode == 0, warned.stdout + warned.stderr
    config = repo / ".pre-commit-config.yaml"
    config.write_text(config.read_text() + "        args: [--strict]\n")
    strict = subprocess.run(pre_commit, cwd=repo, capture_output=True, text=True, env=env, timeout=900)
    assert strict.returncode == 1
    assert f"docs/CORE/PORT_MANAGEMENT.md:{proxy + 1}: range 9210-9239 of 'proxy' covers ports 9222-9229" in strict.stdout
