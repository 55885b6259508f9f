"""docs/PROJECTS.md's direnv recipe, run with the real `direnv` from Debian: the `.envrc` block
as written, allowed once, gives each worktree its own ports, the same as `styxy env`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from project_support import GIT_ENV, git, repository, run_in, worktree
from support import ROOT

PAGE = (ROOT / "docs" / "PROJECTS.md").read_text()


def _envrc() -> str:
    found = re.search(r"### direnv\n.*?```sh\n(.*?)```", PAGE, re.S)
    assert found is not None, "PROJECTS.md has no .envrc block under ### direnv"
    return found.group(1)


def _direnv(styxy, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    direnv = shutil.which("direnv")
    if direnv is None:
        pytest.skip("direnv is not installed (Debian: apt-get install direnv)")
    env = {
        **styxy.env,
        **GIT_ENV,
        "STYXY_DOC": str(styxy.doc),
        # styxy first on the PATH, as an installed one is; direnv keeps its state in HOME.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "XDG_DATA_HOME": str(styxy.home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(styxy.home / ".config"),
        "XDG_CACHE_HOME": str(styxy.home / ".cache"),
    }
    for key in [k for k in env if k.startswith("DIRENV_")]:
        del env[key]
    return subprocess.run([direnv, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _ports_in(styxy, folder: Path) -> dict[str, str]:
    shown = _direnv(styxy, folder, "exec", ".", "sh", "-c", 'echo "$WEB_PORT $API_PORT"')
    assert shown.returncode == 0, shown.stderr
    web, api = shown.stdout.split()
    return {"WEB_PORT": web, "API_PORT": api}


def test_the_envrc_recipe_gives_each_worktree_its_ports(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop")
    (repo / ".envrc").write_text(_envrc())
    git(styxy, repo, "add", ".envrc")
    git(styxy, repo, "commit", "-q", "-m", ".envrc")  # so every worktree has it
    refused = _direnv(styxy, repo, "exec", ".", "true")
    assert refused.returncode != 0 and "is blocked" in refused.stderr  # not allowed yet
    assert _direnv(styxy, repo, "allow", ".").returncode == 0
    ports = _ports_in(styxy, repo)
    expected = run_in(styxy, repo, "env", "--json").json()["variables"]
    assert ports == {name: expected[name] for name in ports}
    # Again: the same ports, not new ones.
    assert _ports_in(styxy, repo) == ports

    other = worktree(styxy, repo, tmp_path / "shop-feature", "feature")
    assert _direnv(styxy, other, "allow", ".").returncode == 0
    theirs = _ports_in(styxy, other)
    assert theirs["WEB_PORT"] != ports["WEB_PORT"] and theirs["API_PORT"] != ports["API_PORT"]
