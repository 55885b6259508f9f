"""Which arguments `styxy run` appends for a dev server that ignores `PORT`, and when it
appends none (`styxy.api.runflags`, pure)."""

from __future__ import annotations

import pytest

from styxy.api.runflags import choose, port_options

TABLE = [
    ("*astro dev*", ("--port", "{port}")),
    ("*vite", ("--port", "{port}", "--strictPort")),
    ("*vite *", ("--port", "{port}", "--strictPort")),
    ("*next dev*", ("-p", "{port}")),
    ("*manage.py runserver*", ("127.0.0.1:{port}",)),
    ("*gunicorn*", ("--bind", "127.0.0.1:{port}")),
    ("*mkdocs serve*", ("--dev-addr", "127.0.0.1:{port}")),
    ("*uvicorn*", ("--port", "{port}")),
]


@pytest.mark.parametrize(
    ("command", "arguments", "program"),
    [
        (["npx", "vite"], ("--port", "3001", "--strictPort"), "vite"),
        (["vite", "--host"], ("--port", "3001", "--strictPort"), "vite"),
        (["npx", "astro", "dev"], ("--port", "3001"), "astro dev"),
        (["npx", "next", "dev"], ("-p", "3001"), "next dev"),
        (["python", "manage.py", "runserver"], ("127.0.0.1:3001",), "manage.py runserver"),
        (["gunicorn", "-w", "4", "app:app"], ("--bind", "127.0.0.1:3001"), "gunicorn"),
        (["uvicorn", "main:app", "--workers", "4"], ("--port", "3001"), "uvicorn"),
    ],
)
def test_the_first_matching_glob_gives_the_arguments(command, arguments, program):
    found = choose(command, TABLE, 3001)
    assert found is not None
    assert (found.arguments, found.program) == (arguments, program)
    assert found.note == f"appended {' '.join(arguments)} to {program}"


@pytest.mark.parametrize(
    "command",
    [
        ["npx", "vite", "--port", "4000"],
        ["npx", "vite", "--port=4000"],
        ["npx", "next", "dev", "-p", "4000"],
        ["python", "manage.py", "runserver", "8001"],
        ["python", "manage.py", "runserver", "0.0.0.0:8001"],
        ["gunicorn", "-b", ":8000", "app:app"],
        ["mkdocs", "serve", "--dev-addr=localhost:8000"],
        ["uvicorn", "main:app", "--bind", "[::1]:8000"],
    ],
)
def test_a_command_that_names_its_port_gets_nothing(command):
    assert choose(command, TABLE, 3001) is None


@pytest.mark.parametrize(
    "command",
    [
        ["sh", "-c", "exec npx vite"],  # words after the script would be the shell's, not vite's
        ["/bin/bash", "-c", "vite"],
        ["npx", "vitest"],  # not a server: `*vite` and `*vite *` both miss it
        ["python3", "-m", "http.server"],
        [],
    ],
)
def test_no_match_or_a_shell_gets_nothing(command):
    assert choose(command, TABLE, 3001) is None


def test_the_options_that_carry_the_port():
    assert port_options(("--port", "{port}", "--strictPort")) == ["--port"]
    assert port_options(("--bind", "127.0.0.1:{port}")) == ["--bind"]
    assert port_options(("--dev-addr={port}",)) == ["--dev-addr"]
    assert port_options(("127.0.0.1:{port}",)) == []
