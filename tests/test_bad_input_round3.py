"""Bad input to what the third round added: one sentence, a non-zero exit, nothing changed.

Each case is a hand edit of a real document (or styxy.toml, or a sidecar file) and a real
`styxy` subprocess; the sentence is checked whole and every file's bytes before and after.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from support import Styxy

from styxy.store import bpfmaps

NAME_RULE = "use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
HUGE = "9" * 5000


def _edit(doc: Path, pattern: str, replacement: str) -> int:
    """Replace the first line matching `pattern`; the 1-based line it is on."""
    lines = doc.read_text().split("\n")
    index = next(i for i, line in enumerate(lines) if re.match(pattern, line))
    lines[index] = replacement
    doc.write_text("\n".join(lines))
    return index + 1


def _settled(styxy: Styxy) -> dict[str, bytes]:
    """The sidecar exists (so a refusal has nothing left to create), and every file's bytes.

    Any locked command makes the sidecar and its `.gitignore` first, before it reads its
    input; that is the folder's setup, not a change the refusal made."""
    styxy.sidecar.mkdir(exist_ok=True)
    (styxy.sidecar / ".gitignore").write_text("*\n")
    assert styxy("list").code == 0
    return styxy.snapshot()


# (front-matter line pattern, its replacement, the diagnostic after `PATH:LINE: `)
FRONT_MATTER = [
    ("  agents:", "  agents: yes", "autoAllocation.agents must be ask, allow or deny, not true"),
    ("  agents:", "  agents: ~", "autoAllocation.agents must be ask, allow or deny, not null"),
    ("  agents:", "  agents: .nan", "autoAllocation.agents must be ask, allow or deny, not .nan"),
    (
        "  maxNewPerDay:",
        "  maxNewPerDay: .inf",
        "autoAllocation.maxNewPerDay must be a whole number from 0 to 10000, not .inf",
    ),
    (
        "  maxNewPerDay:",
        "  maxNewPerDay: 1" + "0" * 400,
        "autoAllocation.maxNewPerDay must be a whole number from 0 to 10000, "
        "not a number of 401 characters",
    ),
    (
        "  maxNewPerDay:",
        "  maxNewPerDay: 0x" + "f" * 5000,
        "autoAllocation.maxNewPerDay must be a whole number from 0 to 10000, "
        "not a number of 5002 characters",
    ),
    ("  maxNewPerDay:", "  maxNewPerDay: " + HUGE, "the front matter holds a number too long to read"),
    ("leaseGraceSeconds:", "leaseGraceSeconds: " + HUGE, "the front matter holds a number too long to read"),
    ('  "\\*nuxi dev\\*":', '  "*nuxi dev*": ' + HUGE, "the front matter holds a number too long to read"),
    (
        '  "\\*nuxi dev\\*":',
        '  "*nuxi dev*": "--port {port}\\x00"',
        "runFlags '*nuxi dev*' holds a control character; write the arguments as plain text",
    ),
    (
        "  messaging: \\[queue",
        "  messaging: [{a: 1}]",
        f"an alias of 'messaging' must be a name, not a mapping: {NAME_RULE}",
    ),
    ("  messaging: \\[queue", "  messaging: [true]", f"invalid alias true of 'messaging': {NAME_RULE}"),
]


@pytest.mark.parametrize(("pattern", "line", "message"), FRONT_MATTER)
def test_a_hand_broken_front_matter_is_one_diagnostic(
    styxy: Styxy, pattern: str, line: str, message: str
) -> None:
    before = _settled(styxy)
    number = _edit(styxy.doc, pattern, line)
    before = {**before, "PORT_MANAGEMENT.md": styxy.doc.read_bytes()}
    expected = f"{styxy.doc}:{number}: {message}\n"
    for args in (("validate",), ("allocate", "-s", "dev")):
        done = styxy(*args)
        assert (done.code, done.out, done.err) == (1, "", expected)
        assert styxy.snapshot() == before


def test_a_runflags_nul_never_reaches_exec(styxy: Styxy) -> None:
    number = _edit(styxy.doc, '  "\\*flask run\\*":', '  "*flask run*": "--port {port}\\x00"')
    before = _settled(styxy)
    done = styxy("run", "-s", "api", "--", "/bin/echo", "flask", "run")
    assert done.code == 1
    assert done.err == (
        f"{styxy.doc}:{number}: runFlags '*flask run*' holds a control character; "
        "write the arguments as plain text\n"
    )
    assert styxy.snapshot() == before


# (argv after `styxy`, exit code, stderr)
ARGUMENTS = [
    (
        ("config", "set", "auto-allocation.max-new-per-day", HUGE),
        1,
        "styxy: auto-allocation.max-new-per-day must be a whole number from 0 to 10000, "
        f"not '{'9' * 40}...'\n",
    ),
    (
        ("config", "set", "auto-allocation.enabled", "x" * 100),
        1,
        "styxy: auto-allocation.enabled must be true or false (or yes/no, on/off, 1/0), "
        f"not '{'x' * 40}...'\n",
    ),
    (
        ("iana", HUGE),
        2,
        "styxy: PORT must be a port number from 1 to 65535, not an integer of over 38 digits.\n",
    ),
    (
        ("allocate", "-s", "dev", "-p", "1" * 40),
        2,
        "styxy: --port must be a port number from 1 to 65535, not an integer of over 38 digits.\n",
    ),
    (
        ("iana", "a" * 5000),
        1,
        f"styxy: '{'a' * 40}...' is neither a port (1-65535) nor a service name "
        "(up to 63 characters without spaces).\n",
    ),
    (
        ("list", "-s", "a" * 5000),
        2,
        f"styxy: invalid service type '{'a' * 40}...': {NAME_RULE}.\n",
    ),
    (
        ("url", "x", "-i", "a" * 5000),
        2,
        f"styxy: invalid instance id '{'a' * 40}...': use at most 128 characters of "
        "letters, digits and . _ @ : + / = -.\n",
    ),
]


@pytest.mark.parametrize(("args", "code", "err"), ARGUMENTS)
def test_a_bad_argument_is_one_short_sentence(
    styxy: Styxy, args: tuple[str, ...], code: int, err: str
) -> None:
    before = _settled(styxy)
    done = styxy(*args)
    assert (done.code, done.out, done.err) == (code, "", err)
    assert styxy.snapshot() == before


# (styxy.toml, its diagnostic)
PROJECT_FILES = [
    (f'[services.web]\ntype = "dev"\nport = {HUGE}\n', "3: a number too long to read (over 4,300 digits)"),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "1: the file nests arrays or tables too deeply to read"),
    (
        '[services.web]\ntype = "dev"\nenv = "PATH"\n',
        "3: [services.web] env 'PATH' would change how programs run (the loader, a shell, an "
        "interpreter or a tool reads it); name the service's own variable instead, such as "
        "'WEB_PORT'",
    ),
    (
        '[services.ld]\ntype = "dev"\nenv = "LD_PRELOAD"\n',
        "3: [services.ld] env 'LD_PRELOAD' would change how programs run (the loader, a shell, "
        "an interpreter or a tool reads it); name the service's own variable instead, such as "
        "'APP_PORT'",
    ),
    (
        '[services.styxy]\ntype = "dev"\nenv = "STYXY_DOC"\n',
        "3: [services.styxy] env 'STYXY_DOC' would change how programs run (the loader, a "
        "shell, an interpreter or a tool reads it); name the service's own variable instead, "
        "such as 'APP_PORT'",
    ),
]


@pytest.mark.parametrize(("text", "message"), PROJECT_FILES)
def test_a_broken_styxy_toml_is_one_diagnostic(
    styxy: Styxy, tmp_path: Path, text: str, message: str
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "styxy.toml").write_text(text)
    before = _settled(styxy)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        done = styxy("env")
    finally:
        os.chdir(cwd)
    assert (done.code, done.out, done.err) == (1, "", f"styxy.toml:{message}\n")
    assert styxy.snapshot() == before
    assert sorted(p.name for p in project.iterdir()) == ["styxy.toml"]


# (bytes of the sidecar file, the reason inside the sentence)
SIDECAR_FILES = [
    (b"\x00\xffnot json{", "it is not UTF-8 text (byte 1)"),
    (b'{"a": ' + HUGE.encode() + b"}", "it holds a number too long to read"),
]


@pytest.mark.parametrize(("data", "reason"), SIDECAR_FILES)
def test_a_corrupt_projects_file_is_one_sentence(styxy: Styxy, data: bytes, reason: str) -> None:
    _settled(styxy)
    projects = styxy.sidecar / "projects.json"
    projects.write_bytes(data)
    before = styxy.snapshot()
    done = styxy("env", "--prune")
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"styxy: the projects file {projects} is corrupt ({reason}); remove it and run "
        "`styxy env` in each worktree again.\n"
    )
    assert styxy.snapshot() == before


@pytest.mark.parametrize(("data", "reason"), SIDECAR_FILES)
def test_a_corrupt_lease_file_is_one_sentence(styxy: Styxy, data: bytes, reason: str) -> None:
    _settled(styxy)
    leases = styxy.sidecar / "leases.json"
    leases.write_bytes(data)
    before = styxy.snapshot()
    done = styxy("allocate", "-s", "dev")
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"styxy: the lease file {leases} is corrupt ({reason}); fix or remove it by hand, "
        "styxy will not overwrite it.\n"
    )
    assert styxy.snapshot() == before


def test_a_deeply_nested_line_of_the_bpf_event_log_is_skipped(tmp_path: Path) -> None:
    # The log only explains: a damaged line is dropped, and the good one after it still read.
    log = tmp_path / "bpf-events"
    good = bpfmaps.Event(
        boot_ns=1, at=1.0, pid=7, uid=0, requested=3000, given=3001, service_type="dev",
        outcome="redirected", comm="node",
    )
    log.write_text("[" * 200_000 + "]" * 200_000 + "\n" + json.dumps(good.to_json()) + "\n")
    assert bpfmaps.read_events(log) == [good]
