"""A bad `styxy.toml` is `PATH:LINE: message` on stderr, exit 1, and nothing on disk changes."""

from __future__ import annotations

import os

import pytest
from project_support import run_in, tree

CASES = [
    (
        b'[services.web\ntype = "dev"\n',
        "styxy.toml:1: invalid TOML: Expected ']' at the end of a table declaration (column 14)",
    ),
    (
        b'[services.web]\ntype = "dev\n',
        "styxy.toml:2: invalid TOML: Illegal character '\\n' (column 12)",
    ),
    (
        b'[services.web]\ntype = "dev"\ntype = "api"\n',
        "styxy.toml:3: invalid TOML: Cannot overwrite a value (column 13)",
    ),
    (
        b"[services.web]\ntype = ",
        "styxy.toml:2: invalid TOML: Invalid value at the end of the file",
    ),
    (
        b'[servces.web]\ntype = "dev"\n',
        "styxy.toml:1: unknown key 'servces' at the top level; did you mean 'services'?",
    ),
    (
        b'[services.web]\ntpye = "dev"\n',
        "styxy.toml:2: unknown key 'tpye' in [services.web]; did you mean 'type'?",
    ),
    (
        b'[services.web]\ntype = "dev"\nport = 70000\n',
        "styxy.toml:3: [services.web] port 70000 is not a port from 1 to 65535",
    ),
    (
        b'[services.web]\ntype = "dev"\nport = "3000"\n',
        "styxy.toml:3: [services.web] port must be an integer, not a string",
    ),
    (
        b'[services.web]\ntype = "dev"\nport = true\n',
        "styxy.toml:3: [services.web] port must be an integer, not a boolean",
    ),
    (
        b'[services.web]\ntype = "dev"\n\n[services.web.extra]\na = 1\n',
        "styxy.toml:4: unknown key 'extra' in [services.web]; the known keys are 'type', 'env', 'port'",
    ),
    (
        b'[services]\nweb = { type = "dev", tpye = "x" }\n',
        "styxy.toml:2: unknown key 'tpye' in [services.web]; did you mean 'type'?",
    ),
    (
        b'[services.web]\nenv = "WEB_PORT"\n',
        'styxy.toml:1: [services.web] has no type; add type = "SERVICE_TYPE" (e.g. "dev")',
    ),
    (
        b'[services.web]\ntype = "Web App"\n',
        "styxy.toml:2: [services.web] invalid service type 'Web App': use 1 to 63 characters "
        "from a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
    ),
    (
        b"[services.web]\ntype = 3000\n",
        "styxy.toml:2: [services.web] type must be a string, not an integer",
    ),
    (
        b"services.web.type = true\n",
        "styxy.toml:1: [services.web] type must be a string, not a boolean",
    ),
    (
        b"[services.web]\ntype = 1979-05-27\n",
        "styxy.toml:2: [services.web] type must be a string, not a date or time",
    ),
    (
        b'[services.web]\ntype = "dev"\nenv = 1.5\n',
        "styxy.toml:3: [services.web] env must be a string, not a float",
    ),
    (
        b'[services.web]\ntype = "dev"\nenv = ["WEB_PORT"]\n',
        "styxy.toml:3: [services.web] env must be a string, not an array",
    ),
    (
        b'[services.web]\ntype = "dev"\nenv = "WEB-PORT"\n',
        "styxy.toml:3: [services.web] env 'WEB-PORT' is not a valid variable name; use "
        "upper-case letters, digits and _, starting with a letter and ending in _PORT or _URL",
    ),
    (
        # A long value is quoted as every refusal quotes one: its first 40 characters, cut
        # inside the quotes.
        b'[services.web]\ntype = "dev"\nenv = "' + b"W" * 60 + b'-PORT"\n',
        f"styxy.toml:3: [services.web] env '{'W' * 40}...' is not a valid variable name; use "
        "upper-case letters, digits and _, starting with a letter and ending in _PORT or _URL",
    ),
    (
        b'[services.web]\ntype = "dev"\nenv = "3PORT"\n',
        "styxy.toml:3: [services.web] env '3PORT' is not a valid variable name; use "
        "upper-case letters, digits and _, starting with a letter and ending in _PORT or _URL",
    ),
    (
        b'[services.my-db]\ntype = "database"\n',
        "styxy.toml:1: service name 'my-db' would make the variable 'MY-DB_PORT', which is not a "
        "valid variable name; use letters, digits and _ in the name, or set env",
    ),
    (
        b'[services."a b"]\ntype = "dev"\nenv = "AB_PORT"\n',
        "styxy.toml:1: invalid service name 'a b': use at most 128 characters of letters, digits "
        "and . _ @ : + / = -",
    ),
    (
        b'[services.""]\ntype = "dev"\nenv = "X_PORT"\n',
        "styxy.toml:1: a service name cannot be empty",
    ),
    (
        b'[services.web]\ntype = "dev"\n\n[services.frontend]\ntype = "dev"\nenv = "WEB_PORT"\n',
        "styxy.toml:6: [services.frontend] exports WEB_PORT, which [services.web] (line 1) exports "
        "too; set env to another name",
    ),
    (
        b'[services.web]\ntype = "dev"\n[services.other]\ntype = "api"\nenv = "WEB_URL"\n',
        "styxy.toml:5: [services.other] exports WEB_URL, which [services.web] (line 1) exports "
        "too; set env to another name",
    ),
    (
        b"# nothing yet\n[services]\n",
        'styxy.toml:2: no services declared; add [services.NAME] with type = "SERVICE_TYPE"',
    ),
    (
        b"# nothing yet\n",
        'styxy.toml:1: no [services] declared; add [services.NAME] with type = "SERVICE_TYPE"',
    ),
    (
        b'services = "web"\n',
        "styxy.toml:1: services must be a table of [services.NAME], not a string",
    ),
    (
        b'[services]\nweb = "dev"\n',
        'styxy.toml:2: services.web must be a table with type = "...", not a string',
    ),
    (
        b'[[services.web]]\ntype = "dev"\n',
        'styxy.toml:1: services.web must be a table with type = "...", not an array',
    ),
    (b'[services.web]\ntype = "d\xffev"\n', "styxy.toml:2: styxy.toml is not UTF-8 text"),
    # SPEC section 18: a cloned repository's styxy.toml sets no variable that changes how
    # programs run, whatever `eval "$(styxy env)"` it meets.
    *(
        (
            f'[services.web]\ntype = "dev"\n\nenv = "{name}"\n'.encode(),
            f"styxy.toml:4: [services.web] env '{name}' would change how programs run (the "
            "loader, a shell, an interpreter or a tool reads it); name the service's own "
            "variable instead, such as 'WEB_PORT'",
        )
        for name in ("PATH", "LD_PRELOAD", "BASH_ENV", "ENV", "DYLD_INSERT_LIBRARIES",
                     "PYTHONSTARTUP", "NODE_OPTIONS", "LD_LIBRARY_PATH_PORT", "PIP_INDEX_URL")
    ),
    (
        b'[services.web]\ntype = "dev"\nenv = "WEB_ADDRESS"\n',
        "styxy.toml:3: [services.web] env 'WEB_ADDRESS' must end in _PORT or _URL, after a name "
        "of the service's own",
    ),
    (
        b'[services.web]\ntype = "dev"\nenv = "web_port"\n',
        "styxy.toml:3: [services.web] env 'web_port' is not a valid variable name; use "
        "upper-case letters, digits and _, starting with a letter and ending in _PORT or _URL",
    ),
    (
        b'[services.ld_preload]\ntype = "dev"\n',
        "styxy.toml:1: service name 'ld_preload' would make the variable 'LD_PRELOAD_PORT', which "
        "would change how programs run (the loader, a shell, an interpreter or a tool reads it); "
        "set env to a name of its own",
    ),
    # Bounded: nesting and numbers Python's readers refuse are a line, not an internal error.
    (
        b'[services.web]\ntype = "dev"\nx = ' + b"[" * 5000 + b"]" * 5000 + b"\n",
        "styxy.toml:1: the file nests arrays or tables too deeply to read",
    ),
    (
        b'[services.web]\ntype = "dev"\nx = 1' + b"0" * 5000 + b"\n",
        "styxy.toml:3: a number too long to read (over 4,300 digits)",
    ),
    # tomllib reads hexadecimal, octal and binary integers of any length (no 4,300-digit
    # limit for them), but showing one in decimal raised: an internal error.
    (
        b'[services.web]\ntype = "dev"\nport = 0x' + b"f" * 4000 + b"\n",
        "styxy.toml:3: [services.web] port of more than 4,300 digits is not a port from 1 to 65535",
    ),
    (
        b'[services.web]\ntype = "dev"\nport = 0b' + b"1" * 15000 + b"\n",
        "styxy.toml:3: [services.web] port of more than 4,300 digits is not a port from 1 to 65535",
    ),
    # A long number is shown by its first digits and its length, not in full.
    (
        b'[services.web]\ntype = "dev"\nport = ' + b"9" * 4000 + b"\n",
        "styxy.toml:3: [services.web] port 9999999999... (4000 digits) is not a port from 1 to "
        "65535",
    ),
    (
        # A string spanning lines holds text that looks like a header: it moves no line number.
        b'x = """\n[services.api]\n"""\n[services.web]\ntype = "dev"\ntyp = 1\n',
        "styxy.toml:1: unknown key 'x' at the top level; the only key there is 'services'\n"
        "styxy.toml:6: unknown key 'typ' in [services.web]; did you mean 'type'?",
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
def test_a_bad_styxy_toml_is_path_line_message_and_changes_nothing(styxy, tmp_path, text, expected):
    project = tmp_path / "app"
    project.mkdir()
    (project / "styxy.toml").write_bytes(text)
    (project / ".env").write_bytes(b"# mine\nKEEP=1\n")
    before = {**tree(project), **styxy.snapshot()}
    done = run_in(styxy, project, "env", "--write", ".env")
    assert (done.code, done.out, done.err) == (1, "", expected + "\n")
    assert {**tree(project), **styxy.snapshot()} == before
    assert not styxy.sidecar.exists()  # not even the lock folder: nothing was leased


def test_every_problem_is_reported_at_once_sorted_by_line(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "styxy.toml").write_bytes(
        b'[services.web]\ntype = "Dev"\n[services.api]\ntype = "api"\nenv = "A-B"\n[extra]\n'
    )
    done = run_in(styxy, project, "env")
    assert done.code == 1
    assert done.err.splitlines() == [
        "styxy.toml:2: [services.web] invalid service type 'Dev': use 1 to 63 characters from "
        "a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
        "styxy.toml:5: [services.api] env 'A-B' is not a valid variable name; use "
        "upper-case letters, digits and _, starting with a letter and ending in _PORT or _URL",
        "styxy.toml:6: unknown key 'extra' at the top level; the only key there is 'services'",
    ]


def test_the_path_is_absolute_when_the_file_is_not_below_the_current_folder(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "styxy.toml").write_bytes(b"[services.web]\ntype = 1\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_in(styxy, elsewhere, "env", "--project", str(project))
    assert (done.code, done.err) == (
        1,
        f"{project}/styxy.toml:2: [services.web] type must be a string, not an integer\n",
    )


def test_a_styxy_toml_that_is_not_a_regular_file_is_refused(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    os.mkfifo(project / "styxy.toml")
    done = run_in(styxy, project, "env", timeout=20)  # a FIFO must not hang the read
    assert (done.code, done.err) == (
        1,
        f"styxy: the configuration file {project}/styxy.toml is a FIFO, not a regular file; "
        "styxy reads only regular files.\n",
    )
    (project / "styxy.toml").unlink()
    (project / "styxy.toml").mkdir()
    done = run_in(styxy, project, "env")
    assert (done.code, done.err) == (
        1,
        f"styxy: the configuration file {project}/styxy.toml is a directory, not a regular "
        "file; styxy reads only regular files.\n",
    )


def test_no_styxy_toml_says_where_it_looked_and_stops_at_the_worktree_root(styxy, tmp_path):
    outer = tmp_path / "outer"
    inner = outer / "checkout" / "src"
    inner.mkdir(parents=True)
    # A styxy.toml above the worktree root must not be borrowed.
    (outer / "styxy.toml").write_bytes(b'[services.web]\ntype = "dev"\n')
    (outer / "checkout" / ".git").write_text("gitdir: /nowhere\n")
    done = run_in(styxy, inner, "env")
    assert done.code == 1
    assert done.err == (
        f"styxy: no styxy.toml in {inner} or above it up to the worktree root {outer / 'checkout'}; "
        'create one ([services.web] with type = "dev", see docs/PROJECTS.md) or pass --project DIR.\n'
    )
    at_root = run_in(styxy, outer / "checkout", "env")
    assert at_root.err == (
        f"styxy: no styxy.toml in {outer / 'checkout'} (the worktree root); "
        'create one ([services.web] with type = "dev", see docs/PROJECTS.md) or pass --project DIR.\n'
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    given = run_in(styxy, tmp_path, "env", "--project", str(empty))
    assert given.err == (
        f"styxy: no styxy.toml in {empty}; "
        'create one ([services.web] with type = "dev", see docs/PROJECTS.md).\n'
    )
    missing = run_in(styxy, tmp_path, "env", "--project", str(tmp_path / "nope"))
    assert (missing.code, missing.err) == (
        1,
        f"styxy: --project {tmp_path / 'nope'}: no such folder.\n",
    )


def test_a_file_too_large_is_refused(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "styxy.toml").write_bytes(b"#" * (1024 * 1024 + 1) + b"\n")
    done = run_in(styxy, project, "env")
    assert (done.code, done.err) == (
        1,
        f"styxy: the configuration file {project}/styxy.toml is larger than 1 MiB, the most "
        "styxy reads of the configuration file.\n",
    )


def test_a_byte_order_mark_and_crlf_lines_are_read_with_the_right_line_numbers(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    config = project / "styxy.toml"
    config.write_bytes(
        b'\xef\xbb\xbf# made on Windows\r\n[services.web]\r\ntype = "dev"\r\nenv = 1\r\n'
    )
    done = run_in(styxy, project, "env")
    assert (done.code, done.err) == (
        1,
        "styxy.toml:4: [services.web] env must be a string, not an integer\n",
    )
    config.write_bytes(b'\xef\xbb\xbf# made on Windows\r\n[services.web]\r\ntype = "docs"\r\n')
    done = run_in(styxy, project, "env")
    assert done.code == 0 and done.out.startswith("WEB_PORT=41")


def test_release_needs_no_valid_styxy_toml(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    config = project / "styxy.toml"
    config.write_bytes(b'[services.web]\ntype = "docs"\n')
    port = run_in(styxy, project, "env", "--json").json()["services"][0]["port"]
    config.write_bytes(b"[services.web\n")
    done = run_in(styxy, project, "env", "--release")
    assert (done.code, done.out, done.err) == (0, f"released web (docs) port {port}\n", "")


def test_with_json_the_refusal_is_one_json_object(styxy, tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "styxy.toml").write_bytes(b"[services.web]\ntype = 3\n")
    done = run_in(styxy, project, "env", "--json")
    assert done.code == 1
    assert done.json() == {
        "error": "styxy.toml:2: [services.web] type must be a string, not an integer",
        "code": 1,
    }


def test_a_preferred_port_is_tried_first_and_said_once_when_taken(styxy, tmp_path):
    from project_support import repository

    config = b'[services.web]\ntype = "dev"\nport = 3057\n'
    first = repository(styxy, tmp_path / "one", config)
    done = run_in(styxy, first, "env", "--json")
    assert (done.code, done.err) == (0, "")
    assert done.json()["variables"]["WEB_PORT"] == "3057"
    # Another worktree of the same map asks for the same port: it gets another, said once.
    second = repository(styxy, tmp_path / "two", config)
    other = run_in(styxy, second, "env", "--json")
    given = other.json()["variables"]["WEB_PORT"]
    assert given != "3057" and 3000 <= int(given) <= 3099
    assert other.err == f"styxy: web: port 3057 is leased to another service; using port {given} instead.\n"
    again = run_in(styxy, second, "env", "--json")
    assert (again.err, again.json()["variables"]["WEB_PORT"]) == ("", given)
