"""The hooks never block the agent and never crash on what they are sent (SPEC section 18):
a FIFO or a device as `$CLAUDE_ENV_FILE` is refused with a warning at once, exit 0; JSON nested
beyond 64 levels or holding a 5,000-digit number is a warning, exit 0."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from agents_support import event, run_in
from support import Styxy


def _start(styxy: Styxy, env_file: str, stdin: str) -> tuple[int, str, str, float]:
    started = time.monotonic()
    done = run_in(
        styxy, styxy.home, "hook", "session-start", input=stdin,
        env={"CLAUDE_ENV_FILE": env_file}, timeout=30,
    )  # fmt: skip
    return done.code, done.out, done.err, time.monotonic() - started


def test_a_fifo_as_the_env_file_is_refused_at_once(styxy: Styxy, tmp_path: Path) -> None:
    fifo = tmp_path / "env-fifo"
    os.mkfifo(fifo)
    code, out, err, seconds = _start(styxy, str(fifo), event("s-fifo"))
    assert code == 0
    assert seconds < 20  # it used to wait for a writer on the FIFO for ever
    assert err == (
        f"styxy: warning: CLAUDE_ENV_FILE: the file {fifo} is a FIFO, not a regular file; "
        "styxy reads only regular files.\n"
    )
    # The context still reaches the agent, with the instance id it should use.
    context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
    assert "claude-s-fifo" in context


def test_a_device_as_the_env_file_is_refused(styxy: Styxy) -> None:
    code, _, err, _ = _start(styxy, "/dev/zero", event("s-dev"))
    assert code == 0
    assert err == (
        "styxy: warning: CLAUDE_ENV_FILE: the file /dev/zero is a character device, not a "
        "regular file; styxy reads only regular files.\n"
    )


@pytest.mark.parametrize(
    ("stdin", "warning"),
    [
        ("[" * 100000, "the hook event on standard input is nested deeper than 64 levels."),
        ('{"session_id": "x", "n": ' + "[" * 70 + "]" * 70 + "}",
         "the hook event on standard input is nested deeper than 64 levels."),
        ('{"session_id": "x", "n": 1' + "0" * 5000 + "}",
         "the hook event on standard input is not JSON (an integer longer than 20 digits)."),
        ('{"session_id": "x", "n": NaN}',
         "the hook event on standard input is not JSON (NaN is not a number JSON allows)."),
    ],
    ids=["100000-brackets", "70-levels", "5001-digits", "NaN"],
)  # fmt: skip
def test_an_unbounded_event_is_a_warning_and_exit_0(
    styxy: Styxy, tmp_path: Path, stdin: str, warning: str
) -> None:
    env_file = tmp_path / "env"
    code, _, err, _ = _start(styxy, str(env_file), stdin)
    assert code == 0
    assert err.splitlines()[0] == f"styxy: warning: hook event: {warning}"
    assert "Traceback" not in err and "internal error" not in err
