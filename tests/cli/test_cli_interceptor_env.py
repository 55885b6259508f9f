"""`styxy interceptor env` keeps LD_PRELOAD and survives spaces; `doctor` says if it loads (SPEC 10)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from netutil import first_free, listen
from support import DEFAULT_DOC, Styxy, styxy_command

NEEDS_CC = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
MOVED = re.compile(r"^styxy: port (\d+) in use; bound (\d+) instead \(service dev\)$")
BIND = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "print(s.getsockname()[1])\n"
)


@pytest.fixture
def spaced(tmp_path: Path, doc: Path) -> Styxy:
    """A user whose HOME (and so the data folder the library is built in) has a space."""
    home = tmp_path / "my home"
    home.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    styxy = Styxy(doc, home)
    assert " " in styxy.env["STYXY_DATA_DIR"]
    styxy.env["XDG_RUNTIME_DIR"] = str(runtime)
    return styxy


def _other_library(tmp_path: Path) -> Path:
    """Another real preload library the user already had in LD_PRELOAD."""
    source = tmp_path / "other.c"
    source.write_text("int styxy_test_other_marker(void) { return 42; }\n")
    library = tmp_path / "libother.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


@NEEDS_CC
@pytest.mark.parametrize("where", ["home", "xdg"])
def test_env_in_a_real_bash_keeps_ld_preload_and_moves_a_busy_port(spaced, tmp_path, where):
    if where == "xdg":
        # No STYXY_DATA_DIR: the data folder comes from XDG_DATA_HOME, whose path has a space.
        del spaced.env["STYXY_DATA_DIR"]
        spaced.env["XDG_DATA_HOME"] = str(tmp_path / "my data")
        library = tmp_path / "my data" / "styxy" / "lib" / "libstyxy-intercept.so"
    else:
        library = spaced.home / "styxy-data" / "lib" / "libstyxy-intercept.so"
    other = _other_library(tmp_path)
    styxy_cmd = " ".join(shlex.quote(x) for x in [*styxy_command(), "--doc", str(spaced.doc)])
    busy_port = first_free(range(3050, 3100))
    script = f"""
set -e
export LD_PRELOAD={shlex.quote(str(other))}
eval "$({styxy_cmd} interceptor env)"
eval "$({styxy_cmd} interceptor env)"
printf '%s\\n' "$LD_PRELOAD"
python3 -c {shlex.quote(BIND)} {busy_port}
grep -c libother.so /proc/self/maps
"""
    with listen(busy_port, "0.0.0.0"):
        done = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, env=spaced.env, timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    preload, bound, other_maps = done.stdout.splitlines()
    alias = Path(spaced.env["XDG_RUNTIME_DIR"]) / "styxy" / preload.split(":")[0].rsplit("/", 1)[1]
    # The library first, once, through a link ld.so can carry; the user's library kept.
    assert preload == f"{alias}:{other}"
    assert alias.is_symlink() and alias.resolve() == library
    assert int(other_maps) >= 1
    moves = [m for m in map(MOVED.match, done.stderr.splitlines()) if m]
    assert [(int(m.group(1)), int(m.group(2))) for m in moves] == [(busy_port, int(bound))]
    assert int(bound) != busy_port and 3000 <= int(bound) <= 3099
    assert "cannot be preloaded" not in done.stderr


@NEEDS_CC
def test_env_values_are_quoted_and_the_library_is_already_there_once(spaced):
    first = spaced("interceptor", "env")
    assert first.code == 0
    lines = first.out.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["export LD_PRELOAD", "export STYXY_CACHE"]
    cache = str(spaced.sidecar / "cache.bin")
    assert lines[1] == f"export STYXY_CACHE={shlex.quote(cache)}"
    preload = shlex.split(lines[0].split("=", 1)[1])[0]
    again = spaced("interceptor", "env", env={"LD_PRELOAD": f"/lib/none.so {preload}"})
    # Already named: the value is kept as it is (ld.so also splits on spaces), quoted.
    assert again.out.splitlines()[0] == f"export LD_PRELOAD={shlex.quote(f'/lib/none.so {preload}')}"


@NEEDS_CC
def test_doctor_says_whether_the_library_really_loads(spaced):
    assert spaced("interceptor", "build").code == 0
    library = spaced.home / "styxy-data" / "lib" / "libstyxy-intercept.so"
    # The raw path with its space: ld.so splits it and loads nothing.
    broken = spaced("doctor", "--json", env={"LD_PRELOAD": str(library)}).json()["interceptor"]
    assert (broken["active"], broken["loads"]) == (False, False)
    assert broken["loadsReason"].startswith("ERROR: ld.so: object ")
    assert "cannot be preloaded" in broken["loadsReason"]
    text = spaced("doctor", env={"LD_PRELOAD": str(library)}).out
    assert "set in this shell but does not load (loads: no): ERROR: ld.so" in text
    assert "active in this shell (loads: yes)" not in text
    # Not set: whether `interceptor env` would work (its link does not exist yet: no).
    unset = spaced("doctor", "--json").json()["interceptor"]
    assert (unset["active"], unset["loads"]) == (False, False)
    preload = shlex.split(spaced("interceptor", "env").out.splitlines()[0].split("=", 1)[1])[0]
    unset = spaced("doctor", "--json").json()["interceptor"]
    assert (unset["active"], unset["loads"], unset["loadsReason"]) == (False, True, None)
    good = spaced("doctor", "--json", env={"LD_PRELOAD": preload}).json()["interceptor"]
    assert (good["active"], good["loads"], good["loadsReason"]) == (True, True, None)
    assert "active in this shell (loads: yes)" in spaced("doctor", env={"LD_PRELOAD": preload}).out


def test_doctor_on_a_document_never_cached_reports(styxy):
    # Validating first imports styxy.document.parse, which used to hide the parse function.
    done = styxy("doctor", "--json")
    assert (done.code, done.err) == (0, "")
    report = done.json()
    assert (report["document"]["valid"], report["interceptor"]["loads"]) == (True, False)


@NEEDS_CC
def test_a_path_with_control_characters_is_exact_under_eval_and_never_raw_on_the_terminal(
    tmp_path, home
):
    # A folder named with an escape sequence (a cloned repository may be): the lines are for
    # eval, so the path must arrive whole; shown as `\xNN` inside '...', it named no file.
    folder = tmp_path / "p\x1b]0;title\x07\x1b[2J'q\\"
    folder.mkdir()
    doc = folder / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, doc)
    styxy = Styxy(doc, home)
    assert styxy("interceptor", "build").code == 0
    done = styxy("interceptor", "env")
    assert (done.code, done.err) == (0, "")
    assert all(line.isprintable() for line in done.out.splitlines())
    cache = done.out.splitlines()[1]
    assert cache == (
        "export STYXY_CACHE=$'" + str(tmp_path).replace("\\", "\\\\").replace("'", "\\'")
        + "/p\\x1b]0;title\\x07\\x1b[2J\\'q\\\\/.styxy/cache.bin'"
    )
    shown = subprocess.run(
        ["bash", "-c", 'eval "$1"; printf "%s" "$STYXY_CACHE"', "-", cache],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert shown.stdout == str(folder / ".styxy" / "cache.bin")
    assert Path(shown.stdout).is_file()
