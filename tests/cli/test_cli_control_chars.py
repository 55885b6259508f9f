"""Control characters from process command lines, lease files and paths are escaped before
they reach a terminal (SPEC section 18): an escape sequence in someone else's text is shown as
`\\xNN`, never acted on (a window retitled, a screen cleared, a line rewritten by `\\r`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support import Styxy

ESC = "\x1b"
RAW = (ESC, "\x07", "\r", "\x9b", "\x7f")


def _no_raw_controls(text: str) -> bool:
    return not any(c in text for c in RAW)


def test_a_holders_command_line_is_shown_escaped(styxy: Styxy) -> None:
    hostile = [f"{ESC}]0;owned{chr(7)}", f"{ESC}[2J", "new\nline"]
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *hostile])
    try:
        assert styxy("allocate", "-s", "dev", "-i", "x", "--pid", str(holder.pid)).code == 0
        done = styxy("list", "-v")
    finally:
        holder.kill()
        holder.wait()
    assert done.code == 0
    assert _no_raw_controls(done.out), repr(done.out)
    assert len(done.out.splitlines()) == 2  # the header and one row: a newline is no new row
    assert r"\x1b]0;owned\x07 \x1b[2J new\x0aline" in done.out


def test_lease_file_text_is_escaped_on_the_terminal_and_in_json(styxy: Styxy) -> None:
    assert styxy("allocate", "-s", "dev", "-i", "plain").code == 0
    leases = styxy.sidecar / "leases.json"
    body = json.loads(leases.read_text())
    body["leases"][0][3] = f"a{ESC}[2Jb\x9bc\rd"  # the instance id, edited by hand
    leases.write_text(json.dumps(body))
    shown = styxy("list")
    assert shown.code == 0 and _no_raw_controls(shown.out), repr(shown.out)
    assert r"a\x1b[2Jb\x9bc\x0dd" in shown.out
    as_json = styxy("list", "--json")
    assert _no_raw_controls(as_json.out), repr(as_json.out)
    assert r'"instanceId": "a\u001b[2Jb\u009bc\rd"' in as_json.out
    assert as_json.json()["leases"][0]["instanceId"] == f"a{ESC}[2Jb\x9bc\rd"  # the same value


def test_a_path_is_escaped_in_messages(styxy: Styxy, tmp_path: Path) -> None:
    odd = tmp_path / f"x{ESC}]0;owned{chr(7)}y" / "PORT_MANAGEMENT.md"
    done = styxy("--doc", str(odd), "list", doc=False)
    assert done.code == 1
    assert _no_raw_controls(done.err), repr(done.err)
    assert r"x\x1b]0;owned\x07y" in done.err


def test_a_colour_code_in_a_lease_file_is_shown_not_obeyed(styxy: Styxy) -> None:
    # Styxy writes its own colour codes; the same codes from a lease file are someone else's
    # text and were let through, so a name turned the terminal red.
    made = styxy("allocate", "-s", "dev", "-i", "plain", "--json")
    assert made.code == 0
    leases = styxy.sidecar / "leases.json"
    body = json.loads(leases.read_text())
    body["leases"][0][3] = f"red{ESC}[31mtext{ESC}[0m"
    leases.write_text(json.dumps(body))
    port = str(made.json()["port"])
    for args, code in ((["list"], 0), (["list", "-v"], 0), (["check", port], 1)):
        shown = styxy(*args)
        assert shown.code == code, (args, shown.err)
        assert ESC not in shown.out + shown.err, (args, shown.out)
        assert r"red\x1b[31mtext\x1b[0m" in shown.out + shown.err, (args, shown.out)


def test_separators_and_bidirectional_controls_are_shown_escaped(styxy: Styxy) -> None:
    # U+2028 starts a new line on some terminals and threw the table out of line; U+202E shows
    # the rest of a name reversed. Both are invisible, so both are shown by their numbers.
    assert styxy("allocate", "-s", "dev", "-i", "plain").code == 0
    leases = styxy.sidecar / "leases.json"
    body = json.loads(leases.read_text())
    body["leases"][0][3] = "a\u2028b\u202ec\u2066d"
    leases.write_text(json.dumps(body))
    hidden = ("\u2028", "\u202e", "\u2066")
    for args in (["list"], ["list", "-v"]):
        shown = styxy(*args)
        assert shown.code == 0 and not any(c in shown.out for c in hidden), repr(shown.out)
        assert r"a\u2028b\u202ec\u2066d" in shown.out
        assert len(shown.out.splitlines()) == 2
    as_json = styxy("list", "--json")
    assert not any(c in as_json.out for c in hidden), repr(as_json.out)
    assert as_json.json()["leases"][0]["instanceId"] == "a\u2028b\u202ec\u2066d"
