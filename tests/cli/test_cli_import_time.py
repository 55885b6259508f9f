"""The hot commands import nothing they do not need (`python -X importtime`, SPEC section 21).

Each hot command runs as the console script runs it (`import re, sys`, then
`styxy.__main__.main`), on a document whose cache is fresh, and the modules it imports beyond
what that script imports by itself are held to a list named here: the standard library modules
the hot path uses, and styxy's own modules command by command. Anything else fails the test,
with the chain of imports that brought it in. typer, click, psutil, dataclasses, typing,
inspect, tempfile, socket, subprocess, platformdirs, markdown-it, YAML and Jinja2 are not on
any list.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CONSOLE_SCRIPT = "import re, sys; from styxy.__main__ import main; sys.exit(main())"
HEAVY = ("markdown_it", "mdformat", "jinja2", "yaml", "mdit_py_plugins", "rich")

# The standard library the hot path uses, by top-level name: json and the lease file; pathlib
# (with what it imports: fnmatch, ntpath and the nt/_winapi it tries, urllib.parse, ipaddress,
# warnings) for paths; the lock (fcntl), the cache (struct, zlib), sock_diag (_socket), bisect,
# math, contextlib, collections.abc, and `from __future__`.
STDLIB = {
    "__future__", "_bisect", "_json", "_socket", "_struct", "_winapi", "bisect", "collections",
    "contextlib", "errno", "fcntl", "fnmatch", "gc", "ipaddress", "json", "math", "nt", "ntpath",
    "pathlib", "struct", "urllib", "warnings", "zlib",
}  # fmt: skip

# styxy's modules every command that takes the lock loads: the command line's entry, the
# table and the fast path, the one door, the store, the document's model and the system view.
CORE = {
    "styxy", "styxy.__main__", "styxy.api", "styxy.cli", "styxy.cli.boundary",
    "styxy.cli.common", "styxy.cli.fast", "styxy.cli.table",
    "styxy.document", "styxy.document.model", "styxy.document.typenames", "styxy.errors",
    "styxy.names", "styxy.notes", "styxy.output", "styxy.refusals", "styxy.store.bpfpins",
    "styxy.paths", "styxy.records", "styxy.store", "styxy.store.atomic", "styxy.store.bpfmaps",
    "styxy.store.cache", "styxy.store.compiled", "styxy.store.fsio", "styxy.store.leases",
    "styxy.store.loading", "styxy.store.lockfile", "styxy.store.memo", "styxy.store.moves",
    "styxy.store.replace", "styxy.store.sidecar", "styxy.store.transaction", "styxy.store.view",
    "styxy.system",
    "styxy.system.ports", "styxy.vocabulary",
}  # fmt: skip
ENGINE = {"styxy.engine", "styxy.engine.allocation", "styxy.engine.results"}
READ = {"styxy.store.snapshot", "styxy.api.reports", "styxy.cli.render"}
HOOKS = {"styxy.agents", "styxy.agents.session_hooks", "styxy.cli.agents", "select", "shlex"}

# Each hot command: its words, and what it may import beyond STDLIB.
ALLOWED = {
    "allocate": (["allocate", "-s", "dev", "-i", "a"], CORE | ENGINE | {"styxy.cli.leases"}),
    "release": (["release", "-s", "dev", "-i", "warm"], CORE | {"styxy.cli.leases", "styxy.cli.render"}),
    "check": (
        ["check", "3098"],
        CORE | READ | {"styxy.cli.leases"}
        # IANA's assignments at the port: the index's table by port, or /etc/services.
        | {"styxy.api.iana_ports", "styxy.api.registry", "styxy.system.iana",
           "styxy.system.iana_formats",
           "styxy.system.curated"},
    ),
    "list": (["list"], CORE | READ | {"styxy.cli.leases"}),
    "env": (
        ["env"],
        CORE | ENGINE
        # styxy.toml's services come from the memo while the file is unchanged: no tomllib.
        # The project's ids and folders (`env --prune`), its services' URLs (NAME_PUBLIC_URL).
        | {"styxy.store.projects", "styxy.api.urls"}
        | {"styxy.cli.projects", "styxy.api.files", "styxy.project", "styxy.project.config",
           "styxy.project.envfile",
           "styxy.project.files", "styxy.project.memo", "styxy.project.root"},
    ),
    "hook session-start": (
        ["hook", "session-start"],
        CORE | READ | HOOKS
        # `styxy` on PATH or not (shutil.which), and the hook command's own words.
        | {"styxy.agents.claude_code", "styxy.agents.types_text", "styxy.api.files", "shutil", "bz2", "_bz2", "lzma",
           "_lzma", "_compression"},
    ),
    # The event's JSON is read with bounds (nesting, digits) by the door's decoder, api.files.
    "hook session-end": (["hook", "session-end"], CORE | HOOKS | {"styxy.api.files"}),
}  # fmt: skip


def imports(args: list[str], **run: object) -> list[tuple[int, str]]:
    """(depth, module) of every import `python -X importtime` reports, in its order."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True, text=True, timeout=60, **run,
    )
    assert done.returncode in (0, 1), done.stderr
    found = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "imported package" not in line:
            name = line.rsplit("|", 1)[1]
            found.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    return found


def chain(found: list[tuple[int, str]], index: int) -> str:
    """`styxy.api -> styxy.store.cache -> dataclasses`: who imported the module at `index`.

    importtime prints a module after everything it imported, one level deeper."""
    depth, names = found[index][0], [found[index][1]]
    for level, name in found[index + 1 :]:
        if level < depth:
            names.append(name)
            depth = level
    return " -> ".join(reversed(names))


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.fixture
def warm(styxy, tmp_path):
    """A document with a fresh cache and a lease, a project of two services, a hook event."""
    assert styxy("allocate", "-s", "dev", "-i", "warm").code == 0
    project = tmp_path / "web-project"
    project.mkdir()
    (project / "styxy.toml").write_text('[services.web]\ntype = "dev"\n[services.api]\ntype = "api"\n')
    done = subprocess.run(
        [sys.executable, "-c", CONSOLE_SCRIPT, "--doc", str(styxy.doc), "env"],
        cwd=project, env=styxy.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return project


@pytest.mark.parametrize("command", sorted(ALLOWED))
def test_a_hot_command_imports_only_what_it_needs(styxy, warm, tmp_path, command):
    words, allowed = ALLOWED[command]
    baseline = {name for _, name in imports(["-c", "import re, sys"], env=styxy.env)}
    event = json.dumps({"session_id": "s1", "cwd": str(warm), "hook_event_name": "x"})
    found = imports(
        ["-c", CONSOLE_SCRIPT, "--doc", str(styxy.doc), *words],
        env={**styxy.env, "CLAUDE_ENV_FILE": str(tmp_path / "claude-env")},
        cwd=warm,
        input=event if command.startswith("hook") else "",
    )
    names = {name for _, name in found}
    assert {"styxy.cli.fast", *allowed & {"styxy.cli.leases"}} <= names  # it ran, on the fast path
    unexpected = [
        chain(found, index)
        for index, (_, name) in enumerate(found)
        if name not in baseline
        and name not in allowed
        and not (not name.startswith("styxy") and (_top(name) in STDLIB or _top(name) in allowed))
    ]
    assert unexpected == [], "\n".join(unexpected)


def _imported(styxy, *args):
    found = imports(["-c", CONSOLE_SCRIPT, "--doc", str(styxy.doc), *args], env=styxy.env)
    return {name.split(".")[0] for _, name in found}


def test_allocate_with_an_unchanged_document_skips_markdown(styxy):
    first = _imported(styxy, "allocate", "-s", "dev", "-i", "a")
    assert "markdown_it" in first  # no cache yet: the document is parsed once
    again = _imported(styxy, "allocate", "-s", "dev", "-i", "b")
    assert sorted(again & set(HEAVY)) == []
    # Neither the command line's framework nor psutil is on the hot path (SPEC section 21).
    assert sorted(again & {"typer", "click", "psutil", "dataclasses", "typing"}) == []
    # The lock is a bare flock from the standard library: the filelock package cost 80 ms.
    assert "filelock" not in again


def test_help_is_still_typers(styxy):
    assert "typer" in _imported(styxy, "allocate", "--help")


def test_a_changed_document_is_parsed_again(styxy):
    _imported(styxy, "allocate", "-s", "dev", "-i", "a")
    styxy.doc.write_text(styxy.doc.read_text().replace("Development proxies", "Dev proxies"))
    assert "markdown_it" in _imported(styxy, "allocate", "-s", "dev", "-i", "b")
    assert "markdown_it" not in _imported(styxy, "allocate", "-s", "dev", "-i", "c")
