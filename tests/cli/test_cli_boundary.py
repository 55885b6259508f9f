"""The error boundary, in-process: `main(argv) -> int` for every kind of outcome, as mdformat
and pre-commit test theirs; then the two that only a real process shows (Ctrl-C, a closed pipe).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import styxy_command

from styxy.cli.boundary import main, wants_json


@pytest.fixture
def env(monkeypatch, home, doc):
    """The process environment a user would have: a private HOME, no traceback switch."""
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("STYXY_DATA_DIR", str(home / "styxy-data"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for key in ("STYXY_DOC", "STYXY_INSTANCE_ID", "STYXY_TRACEBACK", "LD_PRELOAD", "STYXY_CACHE"):
        monkeypatch.delenv(key, raising=False)
    return ["--doc", str(doc)]


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


def test_success_is_0_with_the_result_on_stdout(env, capsys):
    assert main([*env, "allocate", "-s", "dev", "-i", "a"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert 3000 <= int(out) <= 3099 and out == f"{int(out)}\n"  # 3000 unless it is busy


def test_a_refusal_is_its_exit_code_and_one_sentence(env, capsys):
    assert main([*env, "release", "no-such-lock"]) == 1
    assert capsys.readouterr() == ("", "styxy: no lease with lock id 'no-such-lock'.\n")


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_refusal_with_json_is_also_one_object_on_stdout(env, capsys, where):
    words = ["release", "no-such-lock"]
    argv = ["--json", *words] if where == "before" else [*words, "--json"]
    assert main([*env, *argv]) == 1
    out, err = capsys.readouterr()
    assert err == "styxy: no lease with lock id 'no-such-lock'.\n"
    assert json.loads(out) == {"error": "no lease with lock id 'no-such-lock'.", "code": 1}


def test_a_broken_document_is_path_line_message_bare(env, doc, capsys):
    doc.write_text(doc.read_text().replace("| dev | 3000 | 3099 |", "| dev | 3000 | 2999 |"))
    assert main([*env, "allocate", "-s", "dev", "--json"]) == 1
    out, err = capsys.readouterr()
    line = next(i for i, x in enumerate(doc.read_text().splitlines(), 1) if "| dev |" in x)
    assert err == f"{doc}:{line}: Start 3000 is greater than End 2999\n"
    assert json.loads(out) == {"error": err.rstrip("\n"), "code": 1}


def test_a_usage_error_of_click_is_2_and_one_sentence(env, capsys):
    assert main([*env, "check", "abc"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    # Styxy's own words for a port (the same over MCP and HTTP), naming the argument PORT.
    assert err == "styxy: PORT must be a port number from 1 to 65535, not 'abc'.\n"


def test_a_usage_error_with_json_says_so_in_json(env, capsys):
    assert main([*env, "no-such-command", "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": err.removeprefix("styxy: ").rstrip("\n"), "code": 2}
    assert "No such command 'no-such-command'" in err


def test_bare_styxy_shows_the_help_and_exits_2(env, capsys):
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("Usage: styxy [OPTIONS] COMMAND [ARGS]...")
    assert "--install-completion" in err


def test_an_exit_code_without_a_sentence_passes_through(env, capsys):
    assert main([*env, "allocate", "-s", "dev", "-i", "a"]) == 0
    capsys.readouterr()
    assert main([*env, "check", "3000"]) == 1  # in use: an answer, not an error
    out, err = capsys.readouterr()
    assert out.startswith("port 3000 is in use (range of 'dev')\n")
    assert err == ""


def test_ctrl_c_is_130_and_one_sentence(env, doc, capsys):
    # A real SIGINT, raised in this thread by Python's own handler while allocate waits for a
    # lock this test holds.
    assert main([*env, "allocate", "-s", "dev", "-i", "a"]) == 0
    before = _files(doc.parent)
    capsys.readouterr()
    main_thread = threading.get_ident()
    timer = threading.Timer(1.0, lambda: signal.pthread_kill(main_thread, signal.SIGINT))
    with _holding_the_lock(doc.parent / ".styxy" / "lock"):
        try:
            timer.start()
            code = main([*env, "allocate", "-s", "dev", "-i", "b"])
        finally:
            timer.cancel()
    out, err = capsys.readouterr()
    assert code == 130
    assert out == ""
    assert err.endswith("styxy: interrupted.\n")
    assert _files(doc.parent) == before


def test_no_answer_at_the_prompt_is_1_and_nothing_written(env, doc, capsys, monkeypatch):
    assert main([*env, "config", "set", "auto-allocation.require-confirmation", "true"]) == 0
    capsys.readouterr()
    before = _files(doc.parent)
    # A real terminal on stdin (the prompt only asks a person), whose input ends at once.
    leader, follower = os.openpty()
    os.write(leader, b"\x04")
    with open(follower, encoding="utf-8", closefd=True) as tty:
        monkeypatch.setattr(sys, "stdin", tty)
        code = main([*env, "allocate", "-s", "grafana"])
    os.close(leader)
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.endswith("styxy: no answer on standard input; nothing was written.\n")
    assert _files(doc.parent) == before


def test_a_refusal_of_the_machine_is_1_and_says_where(env, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "PORT_MANAGEMENT.md"
    assert main(["--doc", str(target), "init"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("styxy: Not a directory (")
    assert len(err.splitlines()) == 1


def test_a_closed_stdout_is_a_quiet_0(env, capsys, monkeypatch):
    assert main([*env, "allocate", "-s", "dev", "-i", "a"]) == 0
    capsys.readouterr()
    reader, writer = os.pipe()
    os.close(reader)  # the reader went away before styxy wrote (`styxy list | head -0`)
    with open(writer, "w", encoding="utf-8") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        code = main([*env, "list"])
        monkeypatch.undo()
    assert code == 0
    assert capsys.readouterr().err == ""


def _bug(*_args, **_kwargs):
    raise RuntimeError("a bug of ours")


def test_a_bug_is_1_with_one_sentence_and_a_crash_log(env, home, capsys, monkeypatch):
    # A bug cannot be produced on purpose: this stands in for one.
    monkeypatch.setattr("styxy.api.list_leases", _bug)
    assert main([*env, "list", "--json"]) == 1
    out, err = capsys.readouterr()
    log = home / ".cache" / "styxy" / "crash.log"
    assert err == f"styxy: internal error (RuntimeError: a bug of ours); details in {log}.\n"
    assert json.loads(out) == {"error": err.removeprefix("styxy: ").rstrip("\n"), "code": 1}
    text = log.read_text()
    assert text.startswith("Traceback (most recent call last):")
    assert "RuntimeError: a bug of ours" in text


@pytest.mark.parametrize("kind", ["cache-is-a-file", "home-is-read-only"])
def test_a_crash_log_that_cannot_be_written_is_one_sentence_not_a_traceback(
    env, home, capsys, monkeypatch, kind
):
    monkeypatch.setattr("styxy.api.list_leases", _bug)
    if kind == "cache-is-a-file":
        cache = home / "not-a-folder"
        cache.write_text("")
        monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    else:
        # Tests may run as root, who ignores file modes: /sys is read-only even for root.
        monkeypatch.setenv("XDG_CACHE_HOME", "/sys")
    assert main([*env, "list"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(
        "styxy: internal error (RuntimeError: a bug of ours); no crash log could be written: "
    )
    assert err.endswith(").\n")
    assert "(" in err.split("could be written: ")[1]  # the reason names the folder
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_under_styxy_traceback_a_bug_is_raised_for_the_test_suite(env, monkeypatch):
    def bad_value(*_args, **_kwargs):
        raise ValueError("a bug of ours")

    monkeypatch.setattr("styxy.api.list_leases", bad_value)
    monkeypatch.setenv("STYXY_TRACEBACK", "1")
    with pytest.raises(ValueError, match="a bug of ours"):
        main([*env, "list"])


def test_the_last_resort_never_raises_even_without_stderr(env, capsys, monkeypatch):
    monkeypatch.setattr("styxy.api.list_leases", _bug)
    reader, writer = os.pipe()
    os.close(reader)
    closed = open(writer, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", closed)
    code = main([*env, "list"])
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    with contextlib.suppress(BrokenPipeError):
        closed.close()  # what styxy could not write is still buffered: it fails again here
    assert code == 1


def test_a_refusal_with_stderr_gone_keeps_its_exit_code(env, monkeypatch):
    reader, writer = os.pipe()
    os.close(reader)
    closed = open(writer, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", closed)
    code = main([*env, "release", "no-such-lock"])
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    with contextlib.suppress(BrokenPipeError):
        closed.close()
    assert code == 1


def test_a_result_that_cannot_be_written_is_a_failure(env, capsys, monkeypatch):
    with open("/dev/full", "w", encoding="utf-8") as full:
        monkeypatch.setattr(sys, "stdout", full)
        code = main([*env, "allocate", "-s", "dev", "-i", "a"])
        monkeypatch.undo()
        with contextlib.suppress(OSError):
            full.close()
    assert code == 1
    assert capsys.readouterr().err == "styxy: No space left on device.\n"


def test_typers_own_exit_of_a_completion_request_is_its_code(env, capsys, monkeypatch):
    # What the shell's completion script asks when a person presses Tab after `styxy ran`.
    monkeypatch.setenv("_STYXY_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "styxy ran")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert main([]) == 0
    assert capsys.readouterr() == ("ranges\n", "")


def test_json_is_read_before_the_double_dash_only():
    assert wants_json(["--json", "list"])
    assert wants_json(["list", "--json"])
    assert wants_json(["run", "-s", "api", "--json", "--", "true"])
    assert not wants_json(["run", "-s", "api", "--", "echo", "--json"])


@contextlib.contextmanager
def _holding_the_lock(lock: Path):
    """The sidecar's lock, held as any other styxy writer (or flock(1)) holds it."""
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -- real processes ---------------------------------------------------------------------------


def _holding(pid: int, lock: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(lock) for fd in fds.iterdir())
    except OSError:
        return False


def test_sigint_to_a_waiting_styxy_is_130_and_interrupted(styxy):
    styxy("allocate", "-s", "dev", "-i", "a")
    before = styxy.snapshot()
    lock = styxy.sidecar / "lock"
    with _holding_the_lock(lock):
        child = subprocess.Popen(
            [*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", "dev", "-i", "b"],
            env=styxy.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not _holding(child.pid, lock):  # it has opened the lock: it waits for it now
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    assert child.returncode == 130
    assert out == ""
    assert err.endswith("styxy: interrupted.\n")
    assert "Traceback" not in err
    assert styxy.snapshot() == before


def test_a_reader_that_went_away_is_exit_0_and_silence(styxy):
    styxy("allocate", "-s", "dev", "-i", "a")
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [*styxy_command(), "--doc", str(styxy.doc), "list"],
            env=styxy.env, stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (0, "")


def test_piped_into_head_0_the_pipeline_succeeds(styxy):
    for i in range(30):
        styxy("allocate", "-s", "dev", "-i", f"i{i}")
    line = " ".join(f"'{w}'" for w in [*styxy_command(), "--doc", str(styxy.doc), "list", "-v"])
    done = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {line} | head -0"],
        env=styxy.env, capture_output=True, text=True, timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
