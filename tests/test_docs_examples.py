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
- An install line (`pipx install`, `uv tool install`, `pip install`, `pip wheel`), in any
  block of README or any page under docs/, runs as written in a fresh copy of this checkout
  with an empty home, pipx and uv on the PATH (from PyPI, in a throw-away environment, when
  the machine has none). The styxy it installed must run, carry the IANA index, have the
  extras the line names, and, asked for an extra the line left out, name a line that adds it;
  that line is run too, and then the extra works. Lines in `bash` blocks that the session
  tests run are left to this test.
- README's own examples, in order, as a new user meets them: the first command's allocation,
  then "Everyday use", on one document.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import DEFAULT_DOC, ROOT

PAGES = ["README.md", "docs/GUIDE.md", "docs/PLACEMENT.md"]
# Console sessions are run wherever they appear; bash blocks only on PAGES (the integration
# pages' blocks call programs this machine does not have: claude, codex, npm).
ALL_PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))]
RUN = {"console", "bash"}
SERVER_SECONDS = 8.0
INSTALL = re.compile(r"\b(pipx install|uv tool install|pip install|pip wheel)\b")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _fences(pages: list[str]) -> list[Block]:
    from markdown_it import MarkdownIt

    found = []
    for page in pages:
        tokens = MarkdownIt("commonmark").parse((ROOT / page).read_text(encoding="utf-8"))
        fences = [t for t in tokens if t.type == "fence" and t.map]
        for index, token in enumerate(fences):
            if page == "README.md" and index < 2:
                continue  # the fresh-machine commands: .ci/run runs them
            assert token.map is not None
            lang = token.info.strip().split(" ")[0]
            found.append(Block(page, token.map[0] + 1, lang, token.content))
    return found


def _blocks() -> list[Block]:
    return [
        block
        for block in _fences(ALL_PAGES)
        if (block.lang == "console") or (block.lang == "bash" and block.page in PAGES)
    ]


def _install_lines() -> dict[str, list[str]]:
    """Every distinct install line of the docs, with the places that show it."""
    found: dict[str, list[str]] = {}
    for block in _fences(ALL_PAGES):
        for offset, line in enumerate(block.text.splitlines()):
            command = line.split("  #")[0].strip()
            if INSTALL.search(command):
                found.setdefault(command, []).append(f"{block.page}:{block.line + 1 + offset}")
    return found


BLOCKS = _blocks()
INSTALL_LINES = _install_lines()


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
    pages = {block.page for block in BLOCKS if block.lang == "bash"}
    assert pages == set(PAGES)
    assert "docs/references/IANA_PORT_REGISTRY.md" in {b.page for b in BLOCKS}


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
        if INSTALL.search(line.split("  #")[0]):
            continue  # an install line: test_install_line_works_as_written runs it
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
        # The ^C below must reach it also when this test runs with SIGINT ignored (`pytest &`).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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
        err = _ended(proc, lambda: os.killpg(proc.pid, signal.SIGKILL))
    assert proc.returncode in (0, 128 + signal.SIGINT), (line, proc.returncode, err)


def _ended(proc: subprocess.Popen[str], kill: Callable[[], None]) -> str:
    """Its stderr once it ended; one that does not end after a signal is killed, then fails,
    so no test leaves a process running."""
    try:
        return proc.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        kill()
        proc.communicate()
        raise AssertionError(f"{proc.args!r} did not stop on its signal") from None


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


# ----------------------------------------------------------------------------- install lines

HINT = re.compile(r"styxy: styxy \S+ needs .* \(the extra '(\w+)'\); install it with `(.+)`\.\n")
SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
_NOT_INHERITED = ("STYXY_", "XDG_", "VIRTUAL_ENV", "PIPX_", "UV_", "PYTHON", "CLAUDE_", "LD_PRELOAD")


@pytest.fixture(scope="module")
def installers(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """Folders that hold pipx and uv (the machine's, else a throw-away environment with both from
    PyPI), and download caches the install lines share (a fresh machine downloads the same)."""
    base = tmp_path_factory.mktemp("installers")
    folders: list[str] = []
    if not (shutil.which("pipx", path=os.pathsep.join(SYSTEM_PATH))
            and shutil.which("uv", path=os.pathsep.join(SYSTEM_PATH))):
        venv = base / "tools"
        subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=120)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pipx", "uv"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        folders.append(str(venv / "bin"))
    return folders, base / "cache"


def _fresh_checkout(dest: Path) -> Path:
    """This checkout's files as git sees them (tracked, and new ones not ignored): no .venv, no
    build output, no caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout
    for name in filter(None, listed.split(b"\0")):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def _version() -> str:
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def _installed_styxy(line: str, home: Path, checkout: Path) -> Path:
    """Where the line put the command: a virtual environment whose pip it ran, else ~/.local/bin
    (pipx and uv tool)."""
    venv = re.search(r"(\S+)/bin/pip\b", line)
    if venv is None:
        return home / ".local" / "bin" / "styxy"
    folder = venv.group(1)
    if folder.startswith("~/"):
        return home / folder[2:] / "bin" / "styxy"
    return checkout / folder / "bin" / "styxy"


@pytest.mark.parametrize("line", sorted(INSTALL_LINES), ids=lambda line: line[:60])
def test_install_line_works_as_written(
    line: str, tmp_path: Path, installers: tuple[list[str], Path]
) -> None:
    folders, cache = installers
    home = tmp_path / "home"
    home.mkdir()
    checkout = _fresh_checkout(tmp_path / "styxy")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(home / ".local" / "bin"), *folders, *SYSTEM_PATH]),
        NO_COLOR="1",
        PIP_CACHE_DIR=str(cache / "pip"),
        UV_CACHE_DIR=str(cache / "uv"),
    )
    where = ", ".join(INSTALL_LINES[line])
    done = subprocess.run(["bash", "-c", line], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, (where, line, done.stdout[-2000:], done.stderr[-3000:])

    styxy = _installed_styxy(line, home, checkout)
    version = subprocess.run([str(styxy), "--version"], env=env, capture_output=True, text=True)
    assert (version.returncode, version.stdout) == (0, f"styxy {_version()}\n"), (where, version)
    iana = subprocess.run([str(styxy), "iana", "8000"], env=env, capture_output=True, text=True)
    assert "irdmi  8000/tcp  user  iRDMI" in iana.stdout, (where, iana)
    assert iana.stdout.endswith("source: IANA's registry of 2024-03-18 (shipped with styxy)\n")

    # Each extra works; one the line left out is refused with a line for this installation,
    # which works. The server first: the MCP SDK brings the server's packages too, so after the
    # agents' line the server would no longer be missing.
    hinted = []
    for extra in ("server", "agents"):
        refused = _try_extra(styxy, extra, env, where)
        if refused is not None:
            hint = HINT.fullmatch(refused)
            assert hint is not None and hint.group(1) == extra, (where, extra, refused)
            fix = subprocess.run(["bash", "-c", hint.group(2)], cwd=home, env=env,
                                 capture_output=True, text=True, timeout=900)
            assert fix.returncode == 0, (where, hint.group(2), fix.stderr[-3000:])
            assert _try_extra(styxy, extra, env, where) is None, (where, extra)
            hinted.append(extra)
    if re.search(r"\[([a-z,]+)\]", line) is None:
        assert hinted == ["server", "agents"], (where, hinted)


def _try_extra(styxy: Path, extra: str, env: dict[str, str], where: str) -> str | None:
    """None when the command that needs `extra` runs; else what it said on stderr (exit 1)."""
    if extra == "agents":
        # The MCP server on stdio: at end of input it ends, exit 0, without a word.
        done = subprocess.run([str(styxy), "mcp"], env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode == 1:
            return done.stderr
        assert (done.returncode, done.stderr) == (0, ""), (where, done.stderr)
        return None
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # SIGINT as at a terminal, also when this test runs with SIGINT ignored (`pytest &`).
    server = subprocess.Popen([str(styxy), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 120)
        first = server.stdout.readline() if ready else ""
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
        err = _ended(server, server.kill)
    if not first:
        assert server.returncode == 1, (where, err)
        return err
    assert first.startswith(f"http://127.0.0.1:{port}/#token="), (where, first)
    return None


def test_every_install_line_installs_from_a_checkout() -> None:
    """styxy is not on PyPI: no page tells anyone to install it by name."""
    assert INSTALL_LINES, "the docs show no install line"
    by_name = [line for line in INSTALL_LINES if re.search(r"(^|\s)['\"]?styxy(\[|\s|$)", line)]
    assert by_name == []
    pages = {place.split(":")[0] for places in INSTALL_LINES.values() for place in places}
    assert {"README.md", "docs/integrations/mcp.md", "docs/integrations/http-api.md"} <= pages


def test_readme_in_order_as_a_new_user(session: dict[str, str]) -> None:
    """README's first command (its styxy part) and then "Everyday use", on one document: the
    demo lease of the first command lives on (its holder's grace), and every later line must
    still do what it says."""
    fences = _fences(["README.md"])
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = text.split("```bash\n", 1)[1].split("\n```", 1)[0]
    styxy_part = first.split("pip install -q . && ", 1)[1].replace(".venv/bin/styxy", "styxy")
    cwd = Path(session["HOME"])
    _run_line(styxy_part, cwd, session)
    everyday = next(b for b in fences if "PORT=$(styxy allocate -s dev -i my-app)" in b.text)
    for line in everyday.text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        _run_line(line, cwd, session)
    listed = subprocess.run(["styxy", "list", "--json"], cwd=cwd, env=session,
                            capture_output=True, text=True)
    owners = {x["instanceId"] for x in json.loads(listed.stdout)["leases"]}
    assert "my-app" not in owners and "demo" in owners, owners
