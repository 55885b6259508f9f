"""Tried as a new user would: two worktrees of one project serve side by side, no port typed."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request

from project_support import git, repository, worktree
from support import ROOT, Styxy, styxy_command

CONFIG = b"""# Ports of the sample site, one set per worktree.
[services.web]
type = "dev"

[services.api]
type = "api"
env = "API_PORT"
"""
# The page's own start script, as a user copies it into the project.
PAGE = (ROOT / "docs" / "PROJECTS.md").read_text()
DEV_SH = re.findall(r"```sh\n(.*?)```", PAGE, re.S)[0]


def _fetch(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bytes(answer.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _env_port(folder, deadline: float) -> int:
    while True:
        env = folder / ".env"
        text = env.read_text() if env.exists() else ""
        found = [line for line in text.splitlines() if line.startswith("WEB_PORT=")]
        if found:
            return int(found[0].split("=", 1)[1])
        assert time.monotonic() < deadline, "styxy env never wrote .env"
        time.sleep(0.1)


def test_two_worktrees_serve_side_by_side(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "site", CONFIG)
    (repo / "who.txt").write_text("main\n")
    git(styxy, repo, "add", "who.txt")
    git(styxy, repo, "commit", "-q", "-m", "who")
    feature = worktree(styxy, repo, tmp_path / "site-feature", "feature")
    (feature / "who.txt").write_text("feature\n")
    for folder in (repo, feature):
        (folder / "dev.sh").write_text(DEV_SH)
    # No --doc and no port anywhere: the default document in the (private) home folder.
    env = {**styxy.env, "PATH": f"{os.path.dirname(styxy_command()[0])}:{os.environ['PATH']}"}
    servers = [
        subprocess.Popen(["sh", "dev.sh"], cwd=folder, env=env, stderr=subprocess.PIPE)
        for folder in (repo, feature)
    ]
    try:
        deadline = time.monotonic() + 120
        ports = [_env_port(folder, deadline) for folder in (repo, feature)]
        assert ports[0] != ports[1]
        assert [_fetch(f"http://127.0.0.1:{p}/who.txt", deadline) for p in ports] == [
            b"main\n",
            b"feature\n",
        ]
        # Each server holds its worktree's leases: `sh` became the server with exec.
        default = Styxy(styxy.home / "docs" / "CORE" / "PORT_MANAGEMENT.md", styxy.home)
        found = default("list", "--json").json()["leases"]
        leases = {(x["instanceId"], x["name"]): x for x in found}
        assert {x["pid"] for x in leases.values()} == {s.pid for s in servers}
        assert len(leases) == 4
    finally:
        for server in servers:
            server.terminate()
            server.communicate(timeout=60)
