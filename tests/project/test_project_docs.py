"""docs/PROJECTS.md as written: its styxy.toml and its worktree walk-through work."""

from __future__ import annotations

import os
import re
import subprocess

from project_support import GIT_ENV, repository, run_in
from support import ROOT, styxy_command

PAGE = (ROOT / "docs" / "PROJECTS.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, re.S)


def test_the_pages_styxy_toml_gives_every_variable(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", _blocks("toml")[0].encode())
    done = run_in(styxy, repo, "env", "--json")
    assert done.code == 0, done.err
    assert list(done.json()["variables"]) == [
        "WEB_PORT",
        "WEB_URL",
        "WEB_PUBLIC_URL",
        "API_PORT",
        "API_URL",
        "API_PUBLIC_URL",
        "RAG_PORT",
        "RAG_URL",
        "RAG_PUBLIC_URL",
    ]


def test_the_walk_through_as_written(styxy, tmp_path):
    walk = next(block for block in _blocks("bash") if "git worktree add" in block)
    shop = styxy.home / "src" / "shop"
    shop.mkdir(parents=True)
    env = {
        **styxy.env,
        **GIT_ENV,
        "PATH": f"{os.path.dirname(styxy_command()[0])}:{os.environ['PATH']}",
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=shop, env=env, check=True)
    # The page's commands, in a shell that stops at the first failure; the document is the
    # default one in the (private) home folder, as for a new user.
    done = subprocess.run(
        ["bash", "-e", "-c", walk], cwd=shop, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    ports = []
    for folder in (shop, styxy.home / "src" / "shop-feature"):
        lines = (folder / ".env").read_text().splitlines()
        ports.append({k: v for k, _, v in (x.partition("=") for x in lines if "=" in x)})
    assert ports[0].keys() == ports[1].keys() == {
        "WEB_PORT",
        "WEB_URL",
        "WEB_PUBLIC_URL",
        "API_PORT",
        "API_URL",
        "API_PUBLIC_URL",
    }
    assert ports[0]["WEB_PUBLIC_URL"] != ports[1]["WEB_PUBLIC_URL"]
    assert ports[0]["WEB_PORT"] != ports[1]["WEB_PORT"]
    assert ports[0]["API_PORT"] != ports[1]["API_PORT"]
    assert (styxy.home / "docs" / "CORE" / "PORT_MANAGEMENT.md").exists()
