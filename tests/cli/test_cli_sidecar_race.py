"""SPEC section 18: the sidecar is opened once and every file in it reached through that
descriptor, so swapping `.styxy` for a link mid-command redirects nothing; what styxy creates
in it is 0600, the interceptor's journal included.

The swapper is a real process that trades `.styxy` and a link to another folder back and
forth with renameat2(RENAME_EXCHANGE), as fast as it can, while real `styxy` commands run.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from netutil import first_free, listen
from support import DEFAULT_DOC, Styxy, in_child, styxy_command

SWAPPER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
renameat2 = libc.renameat2
renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
AT_FDCWD, RENAME_EXCHANGE = -100, 2
first, second, stop = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2]), sys.argv[3]
swaps = 0
print("ready", flush=True)
while not os.path.exists(stop) or swaps % 2:
    if renameat2(AT_FDCWD, first, AT_FDCWD, second, RENAME_EXCHANGE) != 0:
        raise OSError(ctypes.get_errno(), "renameat2")
    swaps += 1
    time.sleep(0.0002)  # thousands of swaps a second, and a core left for styxy
print(swaps, flush=True)
"""


def _spawn(styxy: Styxy, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_swapper_racing_the_sidecar_with_a_link_redirects_nothing(styxy: Styxy, tmp_path: Path) -> None:
    assert styxy("allocate", "-s", "dev", "-i", "warm", "--json").code == 0
    theirs = tmp_path / "theirs"  # the folder the other user would like styxy to write into
    theirs.mkdir(mode=0o777)
    swap = styxy.doc.parent / ".styxy-swap"
    swap.symlink_to(theirs)
    stop = tmp_path / "stop"
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(styxy.sidecar), str(swap), str(stop)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert swapper.stdout is not None and swapper.stdout.readline() == "ready\n"
    link_sentence = (
        f"styxy: the sidecar folder {styxy.sidecar} is a symbolic link; styxy refuses a linked "
        "sidecar, which could send its writes elsewhere: replace it with a folder.\n"
    )
    outcomes = []
    try:
        for batch in range(5):
            procs = [
                _spawn(styxy, "allocate", "-s", "dev", "-i", f"r{batch}-{n}", "--json")
                for n in range(8)
            ]
            outcomes += [(p, *p.communicate(timeout=120)) for p in procs]
    finally:
        stop.touch()
        assert swapper.stdout is not None
        swaps = int(swapper.stdout.readline())
        assert swapper.wait(timeout=60) == 0
    assert swaps > 100, swaps  # the race really ran
    assert styxy.sidecar.is_dir() and not styxy.sidecar.is_symlink()
    # Nothing of styxy's ever landed in the other folder: no lock, no lease file, no cache,
    # no temporary file, no .gitignore.
    assert sorted(os.listdir(theirs)) == []
    granted = []
    for proc, out, err in outcomes:
        assert "Traceback" not in err
        if proc.returncode == 0:
            granted.append(json.loads(out))
        else:
            # Refused while the link was in place: the one sentence, nothing else.
            assert proc.returncode == 1 and err == link_sentence, err
            assert json.loads(out) == {"error": link_sentence[7:-1], "code": 1}
    assert len(granted) >= 8, len(granted)  # most commands got through between swaps
    swap.unlink()
    listed = styxy("list", "--json").json()["leases"]
    # Every port handed out is a lease in the real sidecar, and no port was given twice.
    by_lock = {x["lockId"]: x for x in listed}
    assert all(g["lockId"] in by_lock and by_lock[g["lockId"]]["port"] == g["port"] for g in granted)
    ports = [g["port"] for g in granted]
    assert len(set(ports)) == len(ports)
    assert len({x["port"] for x in listed}) == len(listed) == len(granted) + 1


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_journal_the_interceptor_creates_is_private(styxy: Styxy) -> None:
    # The dev row moved to ports nothing else on the machine uses (3000 often is).
    taken = first_free(range(20000, 30000, 7))
    text = styxy.doc.read_text()
    row = next(x for x in text.splitlines() if x.startswith("| dev |"))
    styxy.doc.write_text(text.replace(row, f"| dev | {taken} | {taken + 5} | multi |  | Dev |"))
    done = styxy("interceptor", "env")
    assert done.code == 0, done.err
    exports = dict(line.removeprefix("export ").split("=", 1) for line in done.out.splitlines())
    env = {**styxy.env, **{k: shlex.split(v)[0] for k, v in exports.items()}}
    journal = styxy.sidecar / "journal"
    assert not journal.exists()
    bind_once = (
        "import socket, sys\n"
        "s = socket.socket()\n"
        "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
        "print(s.getsockname()[1], flush=True)\n"
    )
    with listen(taken, "0.0.0.0"):
        # A umask that lets everyone read: the journal must still be its owner's alone.
        moved = subprocess.run(
            [sys.executable, "-c", bind_once, str(taken)], env=env, capture_output=True,
            text=True, timeout=60, preexec_fn=lambda: os.umask(0o022),
        )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert int(moved.stdout) != taken
    assert journal.exists() and _mode(journal) == 0o600
    # Every file styxy itself creates in the sidecar is private too.
    assert styxy("cleanup").code == 0
    for name in os.listdir(styxy.sidecar):
        assert _mode(styxy.sidecar / name) == 0o600, name


def test_a_sidecar_that_is_a_regular_file_is_named_for_what_it_is(styxy: Styxy) -> None:
    styxy.sidecar.write_bytes(b"not a folder\n")
    sentence = (
        f"styxy: the sidecar folder {styxy.sidecar} is a regular file, not a folder; move it "
        "away and styxy makes the folder again.\n"
    )
    for args in (["list"], ["allocate", "-s", "dev"], ["cleanup"]):
        done = styxy(*args)
        assert (done.code, done.err) == (1, sentence), args
    assert styxy.sidecar.read_bytes() == b"not a folder\n"


@pytest.mark.parametrize("problem", ["unreadable", "not-utf8", "broken"])
def test_a_refused_command_leaves_nothing_beside_a_document_it_could_not_read(
    styxy: Styxy, problem: str
) -> None:
    """No `.styxy/`, no `.gitignore`, no lock: the folder looks as it did."""
    if problem == "unreadable":
        styxy.doc.chmod(0o000)
    elif problem == "not-utf8":
        styxy.doc.write_bytes(b"---\nstyxy: 1\n---\n\xff\xfe broken\n")
    else:
        styxy.doc.write_text(styxy.doc.read_text().replace("<!-- styxy:ranges -->", ""))
    before = sorted(p.name for p in styxy.doc.parent.iterdir())
    # As a user who cannot read it (root reads anything): nobody, in a forked child.
    if problem == "unreadable":
        done = _as_nobody_allocating(styxy)
        assert "Permission denied" in done or "permission denied" in done, done
    else:
        refused = styxy("allocate", "-s", "dev")
        assert refused.code == 1 and refused.err, refused
    assert sorted(p.name for p in styxy.doc.parent.iterdir()) == before
    assert not styxy.sidecar.exists()


def _as_nobody_allocating(styxy: Styxy) -> str:
    """`styxy.allocate` on the document by user nobody in a forked child; its answer back."""
    import shutil

    import styxy as api

    # The same call once as root on a copy: the child, as nobody, can no longer read the
    # interpreter's folder (under /root), so every module it needs is loaded first.
    scratch = styxy.home / "scratch" / "PORT_MANAGEMENT.md"
    scratch.parent.mkdir()
    shutil.copyfile(DEFAULT_DOC, scratch)
    api.allocate("dev", instance_id="x", pid=os.getpid(), doc=scratch)
    folder = styxy.doc.parent
    for path in (folder, *folder.parents):
        if path == Path("/"):
            break
        os.chmod(path, os.stat(path).st_mode | 0o001)  # nobody may pass through
    os.chmod(folder, 0o777)  # and could make the sidecar there, if styxy let it
    def become() -> None:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
        os.environ["STYXY_DATA_DIR"] = "/nonexistent"

    def allocate() -> str:
        api.allocate("dev", instance_id="x", pid=os.getpid(), doc=styxy.doc)
        return "allocated"

    return in_child(become, allocate)


def test_the_servers_token_is_never_written_through_a_swapped_in_link(tmp_path: Path) -> None:
    """`styxy serve` creates `.styxy/token`: a swap mid-creation must not hand it to another."""
    from styxy.errors import StyxyError
    from styxy.server.token import load_or_create

    project = tmp_path / "project"
    sidecar = project / ".styxy"
    sidecar.mkdir(parents=True, mode=0o700)
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o777)
    swap = project / ".styxy-swap"
    swap.symlink_to(theirs)
    stop = tmp_path / "stop"
    real = os.open(sidecar, os.O_RDONLY | os.O_DIRECTORY)
    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(sidecar), str(swap), str(stop)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert swapper.stdout is not None and swapper.stdout.readline() == "ready\n"
    made = refused = 0
    try:
        for _ in range(300):
            try:
                load_or_create(sidecar / "token")
                made += 1
            except StyxyError:
                refused += 1
            # Create it again next time, to widen the race: removed from the real folder,
            # wherever the swapper has it now (through its descriptor, never the link).
            try:
                os.unlink("token", dir_fd=real)
            except FileNotFoundError:
                pass
    finally:
        stop.touch()
        swapper.wait(timeout=60)
        os.close(real)
    assert made > 0
    assert sorted(os.listdir(theirs)) == []  # never a token, a temporary or a .gitignore
