"""Helpers of the project tests: real git repositories, worktrees and `styxy` run inside them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support import Result, Styxy, styxy_command

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}

SAMPLE = b"""# The services of the sample project.
[services.web]
type = "dev"

[services.api]
type = "api"
env = "API_PORT"
"""


def git(styxy: Styxy, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**styxy.env, **GIT_ENV},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def repository(styxy: Styxy, folder: Path, config: bytes = SAMPLE) -> Path:
    """A real repository with `styxy.toml` committed on its main branch."""
    folder.mkdir(parents=True)
    git(styxy, folder, "init", "-q", "-b", "main")
    (folder / "styxy.toml").write_bytes(config)
    git(styxy, folder, "add", "styxy.toml")
    git(styxy, folder, "commit", "-q", "-m", "styxy.toml")
    return folder


def worktree(styxy: Styxy, repo: Path, folder: Path, branch: str) -> Path:
    git(styxy, repo, "worktree", "add", "-q", "-b", branch, str(folder))
    return folder


def run_in(styxy: Styxy, cwd: Path, *args: str, timeout: float = 60) -> Result:
    """`styxy --doc DOC ARGS` started in `cwd`, as a user types it there."""
    done = subprocess.run(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        cwd=cwd,
        env=styxy.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return Result(done.returncode, done.stdout, done.stderr)


def popen_in(styxy: Styxy, cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        cwd=cwd,
        env=styxy.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (the lock file aside)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "lock"
    }
