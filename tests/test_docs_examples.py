"""Every example command the docs show, run as written against a temporary document.

- A `console` block is one session on a fresh copy of the shipped default document: each
  `$ command` line runs in bash, and the lines below it are its output (stderr, then stdout,
  as a terminal shows a styxy command's lines), compared exactly.
- A `bash` block is run line by line, each line as written, on one fresh document; every line
  must exit 0, and an `export` line holds for the lines after it. A line that is still running after a while is a server (`styxy run ... --
  http.server`): it must be listening on the port styxy leased it, and it is then stopped with
  Ctrl-C as a person would.
- `text`, `yaml`, `toml`, `json` and `python` blocks are shown, not run. README's first two
  blocks are the fresh-machine commands that `.ci/run` runs itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import DEFAULT_DOC, ROOT

PAGES = ["README.md", "docs/GUIDE.md", "docs/PLACEMENT.md"]
RUN = {"console", "bash"}
SERVER_SECONDS = 8.0


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks() -> list[Block]:
    from markdown_it import MarkdownIt

    found = []
    for page in PAGES:
        tokens = MarkdownIt("commonmark").parse((ROOT / page).read_text(encoding="utf-8"))
        fences = [t for t in tokens if t.type == "fence" and t.map]
        for index, token in enumerate(fences):
            lang = token.info.strip().split(" ")[0]
            if page == "README.md" and index < 2:
                continue  # the fresh-machine commands: .ci/run runs them
            if lang in RUN:
                assert token.map is not None
                found.append(Block(page, token.map[0] + 1, lang, token.content))
    return found


BLOCKS = _blocks()


@pytest.fixture
def session(tmp_path: Path) -> dict[str, str]:
    """A private HOME, a fresh default document as $STYXY_DOC, styxy first on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    doc = tmp_path / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    doc.parent.mkdir(parents=True)
    shutil.copyfile(DEFAULT_DOC, doc)
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "HOME": str(home),
        "STYXY_DOC": str(doc),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def test_the_pages_show_examples() -> None:
    pages = {block.page for block in BLOCKS}
    assert pages == set(PAGES)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "console"], ids=lambda b: b.id)
def test_console_session_prints_what_the_page_shows(block: Block, session: dict[str, str]) -> None:
    cwd = Path(session["HOME"])
    for command, expected in _console_steps(block.text):
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=session,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shown = (done.stderr + done.stdout).splitlines()
        assert (command, shown) == (command, expected)


def _console_steps(text: str) -> list[tuple[str, list[str]]]:
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line)
    return steps


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "bash"], ids=lambda b: b.id)
def test_bash_example_runs_as_written(block: Block, session: dict[str, str]) -> None:
    cwd = Path(session["HOME"])
    exported: list[str] = []  # `export` lines hold for the lines after them, as in a shell
    for line in block.text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("export "):
            exported.append(line)
        _run_line(
            "; ".join([*exported, line]) if not line.startswith("export ") else line, cwd, session
        )


def _run_line(line: str, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        ["bash", "-c", line],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _out, err = proc.communicate(timeout=SERVER_SECONDS)
    except subprocess.TimeoutExpired:
        _stop_server(line, proc, env, cwd)
        return
    assert (line, proc.returncode, err) == (line, 0, err)


def _stop_server(line: str, proc: subprocess.Popen[str], env: dict[str, str], cwd: Path) -> None:
    """A line still running is a server: it must serve the port styxy leased, then stop on ^C."""
    try:
        assert "styxy run" in line, f"{line!r} did not finish"
        listed = subprocess.run(
            ["styxy", "list", "--json"], cwd=cwd, env=env, capture_output=True, text=True
        )
        leases = json.loads(listed.stdout)["leases"]
        assert _serving(leases), (line, leases)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 128 + signal.SIGINT), (line, proc.returncode, err)


def _serving(leases: list[dict[str, object]]) -> bool:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for lease in leases:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", int(str(lease["port"])))) == 0:
                    return True
        time.sleep(0.2)
    return False
