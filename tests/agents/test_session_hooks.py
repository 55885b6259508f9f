"""`styxy hook session-start|session-end` driven as Claude Code drives them: the event JSON on
stdin, a temporary CLAUDE_ENV_FILE, exit 0 whatever happens."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from agents_support import event, run_in
from support import styxy_command


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    # Claude Code's file may already hold another hook's lines, without a final newline.
    path = tmp_path / "claude-env" / "sessionstart-hook-0.sh"
    path.parent.mkdir()
    path.write_text("export OTHER_HOOK=1")
    return path


def start(styxy, env_file, stdin, *args, path=None):
    env = {"CLAUDE_ENV_FILE": str(env_file), **({"PATH": path} if path else {})}
    return run_in(styxy, styxy.home, "hook", "session-start", *args, input=stdin, env=env)


def end(styxy, stdin, *args):
    return run_in(styxy, styxy.home, "hook", "session-end", *args, input=stdin)


def context_of(done) -> str:
    out = json.loads(done.out)
    assert list(out) == ["hookSpecificOutput"]
    assert out["hookSpecificOutput"]["hookEventName"] == "SessionStart"
    return str(out["hookSpecificOutput"]["additionalContext"])


def test_session_start_exports_the_instance_id_and_tells_how_to_get_a_port(styxy, env_file):
    done = start(styxy, env_file, event("5f1c2a9e-0b7d-4c1e-9a53-2d4f6e8b1c07"))
    assert (done.code, done.err) == (0, "")
    assert env_file.read_text() == (
        "export OTHER_HOOK=1\nexport STYXY_INSTANCE_ID=claude-5f1c2a9e-0b7d-4c1e-9a53-2d4f6e8b1c07\n"
    )
    context = context_of(done)
    assert "claude-5f1c2a9e-0b7d-4c1e-9a53-2d4f6e8b1c07" in context
    assert "No single-instance service is running yet." in context
    for how in ("allocate -s TYPE", "run -s TYPE -n NAME -- CMD", "use -n NAME"):
        assert how in context
    # A resumed or compacted session runs the hook again: nothing is appended twice.
    again = start(styxy, env_file, event("5f1c2a9e-0b7d-4c1e-9a53-2d4f6e8b1c07", source="compact"))
    assert again.code == 0
    assert env_file.read_text().count("STYXY_INSTANCE_ID") == 1


def test_the_context_names_the_running_single_instance_services(styxy, env_file):
    agent = subprocess.Popen(["sleep", "300"])
    try:
        rag = styxy("allocate", "-s", "ai", "-i", "claude-other", "-n", "rag",
                    "--pid", str(agent.pid), "--json").json()
        styxy("allocate", "-s", "dev", "-i", "claude-other", "--pid", str(agent.pid))
        context = context_of(start(styxy, env_file, event("s-2")))
    finally:
        agent.kill()
        agent.wait()
    services = [line for line in context.split("To get a port:")[0].splitlines() if line[:2] == "- "]
    # The dev lease is not single-instance: only the RAG service is named.
    assert services == [
        f"- ai named rag on port {rag['port']} (process {agent.pid}, instance claude-other)"
    ]


def test_a_session_id_with_odd_characters_becomes_a_valid_quoted_instance_id(styxy, env_file):
    done = start(styxy, env_file, event("a b;$(touch x)'" + "z" * 200))
    assert done.code == 0
    instance = "claude-a-b--" + "-touch-x--" + "z" * (121 - len("a-b---touch-x--"))
    line = env_file.read_text().splitlines()[-1]
    assert line == f"export STYXY_INSTANCE_ID={instance}"
    assert len(instance) == 128
    assert "cleaned" in done.err
    sourced = subprocess.run(
        ["bash", "-c", f'source "{env_file}"; printf %s "$STYXY_INSTANCE_ID"'],
        capture_output=True, text=True, timeout=30, cwd=env_file.parent,
    )
    assert sourced.stdout == instance
    assert not (env_file.parent / "x").exists()
    allocated = styxy("allocate", "-s", "dev", env={"STYXY_INSTANCE_ID": instance}, input="")
    assert allocated.code == 0, allocated.err


@pytest.mark.parametrize(
    "stdin",
    ["", "not json", "[1, 2]", '{"hook_event_name": "SessionStart"}', '{"session_id": 7}'],
)
def test_a_bad_event_is_a_warning_and_exit_0_never_2(styxy, env_file, stdin):
    before = env_file.read_bytes()
    done = start(styxy, env_file, stdin)
    assert done.code == 0
    assert done.err.startswith("styxy: warning: hook event: ")
    assert done.err.count("\n") == 1
    assert "Ports on this machine are handed out by styxy" in context_of(done)
    assert env_file.read_bytes() == before
    ended = end(styxy, stdin)
    assert (ended.code, ended.out) == (0, "")
    assert ended.err.startswith("styxy: warning: hook event: ")


def test_unknown_arguments_do_not_block_the_agent(styxy, env_file):
    done = start(styxy, env_file, event("s-3"), "--from-a-newer-styxy", "x")
    assert done.code == 0
    assert "ignored unknown arguments: --from-a-newer-styxy x" in done.err
    assert "STYXY_INSTANCE_ID=claude-s-3" in env_file.read_text()


def test_a_broken_document_warns_and_the_session_still_gets_its_instance_id(styxy, env_file):
    styxy("allocate", "-s", "dev", "-i", "claude-s-4", "--pid", str(os.getpid()))
    text = styxy.doc.read_text()
    styxy.doc.write_text(text.replace("| dev | 3000 | 3099 |", "| dev | 3000 | 2999 |"))
    done = start(styxy, env_file, event("s-4"))
    assert done.code == 0
    assert "warning: port map: " in done.err
    assert "STYXY_INSTANCE_ID=claude-s-4" in env_file.read_text()
    assert "could not read its port map" in context_of(done)
    ended = end(styxy, event("s-4", "SessionEnd"))
    assert ended.code == 0


def test_without_claude_env_file_the_context_still_names_the_instance(styxy):
    done = run_in(styxy, styxy.home, "hook", "session-start", input=event("s-5"))
    assert done.code == 0
    assert "CLAUDE_ENV_FILE is not set" in done.err
    assert "claude-s-5" in context_of(done)


def test_session_end_ends_exactly_the_sessions_leases(styxy):
    agent = os.getpid()
    for instance, kind in [("claude-s-6", "dev"), ("claude-s-6", "api"), ("claude-s-7", "dev")]:
        assert styxy("allocate", "-s", kind, "-i", instance, "--pid", str(agent)).code == 0
    before = styxy("list", "--json").json()["leases"]
    t0 = time.monotonic()
    done = end(styxy, event("s-6", "SessionEnd"))
    elapsed = time.monotonic() - t0
    assert (done.code, done.out, done.err) == (0, "", "")
    after = styxy("list", "--json").json()["leases"]
    assert after == [x for x in before if x["instanceId"] != "claude-s-6"]
    assert [x["instanceId"] for x in after] == ["claude-s-7"]
    assert elapsed < 15  # the budget is 1.5 s; bench/bench_agents.py measures it unloaded
    again = end(styxy, event("s-6", "SessionEnd"))
    assert (again.code, again.err) == (0, "")


def test_a_handler_whose_stdin_stays_open_still_finishes(styxy, env_file):
    """Some Claude Code versions wrote the event without closing stdin."""
    process = subprocess.Popen(
        [*styxy_command(), "hook", "session-start"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**styxy.env, "STYXY_DOC": str(styxy.doc), "CLAUDE_ENV_FILE": str(env_file)},
    )
    assert process.stdin is not None
    process.stdin.write(event("s-8"))
    process.stdin.flush()
    try:
        out, err = _wait_open(process)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "claude-s-8" in json.loads(out)["hookSpecificOutput"]["additionalContext"]


def _wait_open(process: subprocess.Popen) -> tuple[str, str]:
    """Wait for the process to exit while its stdin is still open, then read what it said."""
    process.wait(timeout=60)
    assert process.stdout is not None and process.stderr is not None
    return process.stdout.read(), process.stderr.read()


def test_the_interceptor_variables_are_exported_when_installed_with_it(styxy, env_file):
    done = start(styxy, env_file, event("s-9"), "--interceptor")
    assert done.code == 0, done.err
    lines = env_file.read_text().splitlines()
    assert lines[1] == "export STYXY_INSTANCE_ID=claude-s-9"
    library = styxy.home / "styxy-data" / "lib" / "libstyxy-intercept.so"
    assert library.is_file()
    assert lines[2].startswith("export LD_PRELOAD=")
    assert lines[3].startswith("export STYXY_CACHE=")
    sourced = subprocess.run(
        ["bash", "-c", f'source "{env_file}"; printf "%s|%s" "$LD_PRELOAD" "$STYXY_CACHE"'],
        capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
    )
    preload, cache = sourced.stdout.split("|")
    assert cache == str(styxy.sidecar / "cache.bin")
    assert (styxy.sidecar / "cache.bin").is_file()  # there before the first preloaded program
    assert preload.split(":")[0] == str(library)


def test_the_context_tells_how_to_call_styxy_when_it_is_not_on_path(styxy, env_file):
    script = Path(styxy_command()[0])
    interpreter = script.read_text().splitlines()[0].removeprefix("#!")
    absolute = f"{interpreter} -m styxy"
    hidden = start(styxy, env_file, event("s-10"), path="/usr/bin:/bin")
    assert f"styxy is not on PATH here: run it as `{absolute}` where `styxy` is written." in (
        context_of(hidden).splitlines()
    )
    found = start(styxy, env_file, event("s-10"), path=f"{script.parent}:/usr/bin:/bin")
    assert "not on PATH" not in context_of(found)
