"""`styxy hooks claude-code`: printed, installed into and removed from a user's settings file."""

from __future__ import annotations

import json
import os
import shlex
import stat
from pathlib import Path

import pytest
from agents_support import event, run_hook_command, run_in

# A user's settings as they wrote them: their own hooks (one on SessionStart), other keys,
# indented by four spaces, non-ASCII text kept as it is.
USER_SETTINGS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run test:*)"], "deny": []},
    "env": {"GREETING": "grüß dich"},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "~/bin/audit.sh"}]}
        ],
        "SessionStart": [
            {"matcher": "startup", "hooks": [{"type": "command", "command": "cat NOTES.md"}]}
        ],
    },
}
USER_BYTES = (json.dumps(USER_SETTINGS, indent=4, ensure_ascii=False) + "\n").encode()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project-root"
    path.mkdir()
    return path


def hooks(styxy, project, *args):
    return run_in(styxy, project, "hooks", "claude-code", *args)


def ours(settings: dict, event_name: str) -> list[dict]:
    return [
        h
        for group in settings["hooks"].get(event_name, [])
        for h in group["hooks"]
        if "styxy hook" in h["command"]
    ]


def test_printed_hooks_are_claude_code_settings_with_a_path_independent_command(styxy, project):
    done = hooks(styxy, project)
    assert done.code == 0, done.err
    printed = json.loads(done.out)
    assert list(printed) == ["hooks"]
    assert list(printed["hooks"]) == ["SessionStart", "SessionEnd"]
    for name, verb, timeout in (
        ("SessionStart", "session-start", 30),
        ("SessionEnd", "session-end", 5),
    ):
        [group] = printed["hooks"][name]
        assert group["matcher"] == ""  # every source: startup, resume, clear, compact
        [hook] = group["hooks"]
        assert (hook["type"], hook["timeout"]) == ("command", timeout)
        words = shlex.split(hook["command"])
        assert words[1:] == ["-m", "styxy", "hook", verb]
        assert os.path.isabs(words[0]) and os.access(words[0], os.X_OK)
    with_interceptor = json.loads(hooks(styxy, project, "--interceptor").out)
    start = with_interceptor["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    assert shlex.split(start)[-2:] == ["session-start", "--interceptor"]


def test_the_printed_command_runs_without_styxy_on_path(styxy, project, tmp_path):
    command = json.loads(hooks(styxy, project).out)["hooks"]["SessionStart"][0]["hooks"][0]
    env_file = tmp_path / "claude-env"
    env = {**styxy.env, "PATH": "/usr/bin:/bin", "CLAUDE_ENV_FILE": str(env_file),
           "STYXY_DOC": str(styxy.doc)}
    done = run_hook_command(command["command"], event("s-1"), env, project)
    assert done.returncode == 0, done.stderr
    assert env_file.read_text() == "export STYXY_INSTANCE_ID=claude-s-1\n"


def test_install_keeps_the_users_settings_adds_ours_once_and_uninstall_gives_them_back(
    styxy, project
):
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_bytes(USER_BYTES)
    os.chmod(settings, 0o600)

    first = hooks(styxy, project, "--install")
    assert (first.code, first.err) == (0, "")
    assert first.out == f"added styxy's SessionStart and SessionEnd hooks to {settings}\n"
    installed = settings.read_bytes()
    data = json.loads(installed)
    # Every key and every hook of the user is still there, in its place.
    for key in ("model", "permissions", "env"):
        assert data[key] == USER_SETTINGS[key]
    assert data["hooks"]["PreToolUse"] == USER_SETTINGS["hooks"]["PreToolUse"]
    assert data["hooks"]["SessionStart"][0] == USER_SETTINGS["hooks"]["SessionStart"][0]
    assert len(ours(data, "SessionStart")) == 1 and len(ours(data, "SessionEnd")) == 1
    assert installed.startswith(b'{\n    "model"')  # the user's four-space indentation
    assert "grüß dich".encode() in installed
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600

    second = hooks(styxy, project, "--install", "--json")
    assert second.code == 0
    assert second.json() == {"path": str(settings), "outcome": "unchanged"}
    assert settings.read_bytes() == installed  # byte-identical

    removed = hooks(styxy, project, "--uninstall")
    assert removed.code == 0
    assert removed.out == f"removed styxy's hooks from {settings}\n"
    assert settings.read_bytes() == USER_BYTES
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600

    again = hooks(styxy, project, "--uninstall", "--json")
    assert again.json()["outcome"] == "absent"
    assert settings.read_bytes() == USER_BYTES


def test_installing_with_the_interceptor_replaces_ours_and_keeps_one(styxy, project):
    settings = project / ".claude" / "settings.json"
    assert hooks(styxy, project, "--install").code == 0
    done = hooks(styxy, project, "--install", "--interceptor", "--json")
    assert done.json()["outcome"] == "updated"
    data = json.loads(settings.read_text())
    [start] = ours(data, "SessionStart")
    assert start["command"].endswith("hook session-start --interceptor")
    assert len(ours(data, "SessionEnd")) == 1
    hooks(styxy, project, "--uninstall")
    assert json.loads(settings.read_text()) == {}


def test_a_new_file_is_created_and_an_absent_one_is_not_created_by_uninstall(styxy, project):
    done = hooks(styxy, project, "--uninstall")
    settings = project / ".claude" / "settings.json"
    assert (done.code, done.out) == (0, f"there are no styxy hooks in {settings}\n")
    assert not (project / ".claude").exists()
    assert hooks(styxy, project, "--install").code == 0
    created = project / ".claude" / "settings.json"
    assert created.read_bytes().endswith(b"}\n")
    assert json.loads(created.read_text()) == json.loads(hooks(styxy, project).out)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b'{"model": "opus",\n', "is not valid JSON (line 2, column 1: "),
        (b"[1, 2]\n", "holds a JSON list, not an object; nothing was changed."),
        (b'{"hooks": "none"}\n', '"hooks" is a JSON string, not an object; nothing was changed.'),
        (b'{"hooks": {"SessionEnd": {}}}\n', '"hooks.SessionEnd" is a JSON object, not a list'),
        (b"\xff\xfe{}", "is not UTF-8 text; nothing was changed."),
        (b"", "is not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_settings_object_is_refused_and_left_as_it_was(
    styxy, project, content, says
):
    for settings, err in _refused_both_ways(styxy, project, content):
        assert err.startswith(f"styxy: {settings}")
        assert says in err


def _refused_both_ways(styxy, project, content: bytes) -> list[tuple[Path, str]]:
    """--install and --uninstall on a settings file holding `content`: each refused in one
    line of stderr, the file and its folder left as they were; the file and each stderr."""
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_bytes(content)
    said = []
    for action in ("--install", "--uninstall"):
        done = hooks(styxy, project, action)
        assert (done.code, done.out) == (1, "")
        assert done.err.count("\n") == 1
        assert settings.read_bytes() == content
        assert sorted(p.name for p in settings.parent.iterdir()) == ["settings.json"]
        said.append((settings, done.err))
    return said


AGAIN = "fix it and try again, nothing was changed."


@pytest.mark.parametrize(
    ("content", "says"),
    [
        # Python converts no integer of more than 4,300 digits, and recurses per level of
        # nesting: both were internal errors.
        (b'{"n": ' + b"9" * 4400 + b"}\n", "holds a number too long to read; nothing was changed."),
        (
            b'{"n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
            "nests JSON too deeply to read; nothing was changed.",
        ),
        # Not JSON (Claude Code's JSON.parse refuses them); Python's decoder accepts them, and
        # writing them back left a file Claude Code could no longer read.
        (b'{"n": NaN}\n', "is not valid JSON (NaN is not a number JSON allows); " + AGAIN),
        (b'{"n": -Infinity}\n', "is not valid JSON (-Infinity is not a number JSON allows); " + AGAIN),
        # JSON, but too large for a double: written back it became `Infinity`, which is not.
        (
            b'{"n": 1e400}\n',
            "holds the number 1e400, too large to write back; nothing was changed.",
        ),
    ],
)
def test_numbers_and_nesting_a_settings_file_cannot_hold_are_one_sentence(
    styxy, project, content, says
):
    for settings, err in _refused_both_ways(styxy, project, content):
        assert err.startswith(f"styxy: {settings} ") and err.endswith(says + "\n")


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_settings_file_that_is_not_a_regular_file_is_refused_at_once(styxy, project, kind):
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(settings)  # opening it to read blocked until a writer came: forever
    elif kind == "directory":
        settings.mkdir()
    else:
        settings.symlink_to("/dev/zero")
    for action in ("--install", "--uninstall"):
        done = run_in(styxy, project, "hooks", "claude-code", action, timeout=20)
        assert (done.code, done.out) == (1, "")
        assert done.err == f"styxy: {settings} is not a regular file; nothing was changed.\n"
    assert sorted(p.name for p in settings.parent.iterdir()) == ["settings.json"]


def test_a_file_too_large_for_settings_is_refused(styxy, project):
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir()
    content = b'{"padding": "' + b"x" * (1 << 20) + b'"}\n'
    settings.write_bytes(content)
    done = hooks(styxy, project, "--install")
    assert done.code == 1
    assert "is larger than 1024 KiB" in done.err
    assert settings.read_bytes() == content


def test_scopes_user_and_local(styxy, project):
    user = hooks(styxy, project, "--install", "--scope", "user", "--json")
    assert user.json() == {
        "path": str(styxy.home / ".claude" / "settings.json"),
        "outcome": "installed",
    }
    local = hooks(styxy, project, "--install", "--scope", "local", "--json")
    assert local.json()["path"] == str(project / ".claude" / "settings.local.json")
    assert not (project / ".claude" / "settings.json").exists()
    bad = hooks(styxy, project, "--install", "--scope", "team")
    assert bad.code == 1
    assert bad.err == "styxy: scope must be one of project, user, local, not 'team'.\n"
    both = hooks(styxy, project, "--install", "--uninstall")
    assert (both.code, both.err) == (2, "styxy: --install and --uninstall go alone: choose one.\n")
    alone = hooks(styxy, project, "--scope", "user")
    assert (alone.code, alone.err) == (2, "styxy: --scope goes with --install or --uninstall.\n")


def test_a_symlinked_settings_file_stays_a_symlink(styxy, project, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "settings.json").write_bytes(USER_BYTES)
    link = project / ".claude" / "settings.json"
    link.parent.mkdir()
    link.symlink_to(dotfiles / "settings.json")
    assert hooks(styxy, project, "--install").code == 0
    assert link.is_symlink()
    assert len(ours(json.loads((dotfiles / "settings.json").read_text()), "SessionEnd")) == 1
    assert hooks(styxy, project, "--uninstall").code == 0
    assert (dotfiles / "settings.json").read_bytes() == USER_BYTES
