"""Shared helpers of the CLI tests: the real `styxy` command on a document in a temporary folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DOC = ROOT / "docs" / "CORE" / "PORT_MANAGEMENT.md"
FIXTURES = ROOT / "tests" / "fixtures"


def styxy_command() -> list[str]:
    """The installed console script when there is one, so tests run what a user runs."""
    script = Path(sys.executable).parent / "styxy"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "styxy"]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


class Styxy:
    """Runs `styxy --doc DOC ...` as a real subprocess with a private HOME."""

    def __init__(self, doc: Path, home: Path) -> None:
        self.doc = doc
        self.home = home
        self.env = {
            **os.environ,
            "HOME": str(home),
            "NO_COLOR": "1",
            "STYXY_DATA_DIR": str(home / "styxy-data"),
            # Bugs must surface as tracebacks in tests, which then fail on them.
            "STYXY_TRACEBACK": "1",
        }
        for key in ("STYXY_DOC", "STYXY_INSTANCE_ID", "CLAUDE_INSTANCE_ID", "LD_PRELOAD", "STYXY_CACHE"):
            self.env.pop(key, None)

    @property
    def sidecar(self) -> Path:
        return self.doc.parent / ".styxy"

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None,
                 doc: bool = True, timeout: float = 60) -> Result:
        argv = [*styxy_command(), *(["--doc", str(self.doc)] if doc else []), *args]
        done = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return Result(done.returncode, done.stdout, done.stderr)

    def snapshot(self) -> dict[str, bytes]:
        """Every file of the document's folder, for "changed nothing on disk" assertions."""
        found = {}
        for path in sorted(self.doc.parent.rglob("*")):
            if path.is_file() and path.name != "lock":
                found[str(path.relative_to(self.doc.parent))] = path.read_bytes()
        return found


def in_child(become: Callable[[], None], body: Callable[[], str]) -> str:
    """Run `body` in a forked child after `become` (dropping root for another user, say); what
    it returns, or the exception it raised as `Name: message`, comes back through a pipe.

    A fork rather than a new process: the interpreter lives under /root, which another user
    cannot enter, but a forked child has every module it needs loaded already.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            become()
            answer = body()
        except BaseException as exc:  # everything goes back to the parent
            answer = f"{type(exc).__name__}: {exc}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@contextlib.contextmanager
def shared_folder(mode: int) -> Iterator[Path]:
    """A folder of its own that other users can reach (pytest's are private to root): `0o755`
    to read it, `0o777` for a team's checkout everyone may write."""
    folder = Path(tempfile.mkdtemp(prefix="styxy-shared-"))
    folder.chmod(mode)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)
