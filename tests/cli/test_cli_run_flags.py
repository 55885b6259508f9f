"""`runFlags:` in the front matter: checked with PATH:LINE, and `styxy run` appends the port
arguments to a dev server that ignores PORT, says so, and leaves a command that names its
port alone (a real Vite: tests/proxy/test_proxy_vite.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest


def _with_run_flags(styxy, block: str) -> None:
    text = styxy.doc.read_text()
    start_of = text.index("runFlags:")
    end_of = text.index("leaseGraceSeconds:")
    styxy.doc.write_text(text[:start_of] + block + text[end_of:])


def _line_of(styxy, glob: str) -> int:
    """The line of a runFlags entry (the detect block above holds the same globs, unquoted)."""
    key = f'  "{glob}":'
    return next(i for i, line in enumerate(styxy.doc.read_text().splitlines(), 1) if line.startswith(key))


def test_bad_run_flags_are_reported_on_their_lines(styxy):
    _with_run_flags(
        styxy,
        "runFlags:\n"
        '  "*vite": "--port"\n'
        '  "*next dev*": ["-p", "{port}"]\n'
        "  \"*flask run*\": \"--port '{port}\"\n"
        '  "*hugo server*": "--port {port} --bind {host}"\n'
        '  "**": "--port {port}"\n',
    )
    done = styxy("validate")
    assert done.code == 1
    path = str(styxy.doc)
    assert done.err.splitlines() == [
        f"{path}:{_line_of(styxy, '*vite')}: runFlags '*vite' must contain {{port}}, where the "
        "leased port goes",
        f"{path}:{_line_of(styxy, '*next dev*')}: runFlags '*next dev*' must give the arguments "
        'to append as one string, such as "--port {port}"',
        f"{path}:{_line_of(styxy, '*flask run*')}: runFlags '*flask run*' cannot be split into "
        "arguments (no closing quotation)",
        f"{path}:{_line_of(styxy, '*hugo server*')}: runFlags '*hugo server*' may use {{port}} "
        "and no other placeholder",
        f"{path}:{_line_of(styxy, '**')}: runFlags '**' must be a glob over a command line of "
        "at most 200 characters, such as '*vite'",
    ]
    # A document with a bad runFlags entry runs nothing, like any broken document.
    refused = styxy("run", "-s", "dev", "--", "true")
    assert refused.code == 1


def test_config_show_lists_the_run_flags(styxy):
    shown = styxy("config", "show", "--json").json()
    assert shown["runFlags"]["*vite"] == "--port {port} --strictPort"
    assert shown["runFlags"]["*manage.py runserver*"] == "127.0.0.1:{port}"


@pytest.fixture
def fake_servers(tmp_path: Path) -> Path:
    """Programs named like dev servers that print the arguments they were given as JSON."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("uvicorn", "vite"):
        program = folder / name
        program.write_text(
            f"#!{shutil.which('python3')}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n"
        )
        program.chmod(0o755)
    return folder


def test_run_appends_the_port_arguments_and_says_so(styxy, fake_servers):
    done = styxy("run", "-s", "api", "-i", "flags", "--", str(fake_servers / "uvicorn"), "main:app")
    assert done.code == 0
    given = json.loads(done.out)
    port = int(given[-1])
    assert given == ["main:app", "--port", str(port)] and 8000 <= port <= 8099
    assert done.err == (
        f"styxy: appended --port {port} to uvicorn\nstyxy: running uvicorn on port {port} (api)\n"
    )

    vite = styxy("run", "-s", "dev", "-i", "flags", "--", str(fake_servers / "vite"))
    port = int(json.loads(vite.out)[1])
    assert json.loads(vite.out) == ["--port", str(port), "--strictPort"]
    assert vite.err == (
        f"styxy: appended --port {port} --strictPort to vite\n"
        f"styxy: running vite on port {port} (dev)\n"
    )


@pytest.mark.parametrize(
    "words",
    [
        ["main:app", "--port", "8123"],
        ["main:app", "--port=8123"],
        ["main:app", "--bind", "127.0.0.1:8123"],
    ],
)
def test_a_command_that_names_its_port_is_left_alone(styxy, fake_servers, words):
    done = styxy("run", "-s", "api", "--", str(fake_servers / "uvicorn"), *words)
    assert (done.code, json.loads(done.out)) == (0, words)
    assert re.fullmatch(r"styxy: running uvicorn on port 80\d\d \(api\)\n", done.err)


def test_a_shell_command_is_left_alone(styxy, fake_servers):
    script = f"exec {fake_servers / 'vite'}"
    done = styxy("run", "-s", "dev", "--", "sh", "-c", script)
    assert (done.code, json.loads(done.out)) == (0, [])
    assert re.fullmatch(r"styxy: running sh on port 30\d\d \(dev\)\n", done.err)
