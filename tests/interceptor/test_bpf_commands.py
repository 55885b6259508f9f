"""The kernel bind program as a user drives it (SPEC section 16): `styxy run --bpf`, `styxy
interceptor build --bpf`, `bpf status` and `doctor` before and after `attach`, the events that
explain a bind left to fail (read from the ring buffer), the lock id a move keeps, and the one
sentence `attach` says when the machine lacks what it needs.

Runs as root (CI does) on a real cgroup v2 with the real program; fixtures and skips are
tests/interceptor/bpf_support.py. Every test detaches and removes what it made in a `finally`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bpf_support import *  # the pytest fixtures: servers, prepared, attached
from bpf_support import (
    Attached,
    Servers,
    cgroup2_mount,
    detach_and_remove,
    first_line,
    held,
    our_programs,
    pin_of,
)
from support import Styxy, styxy_command

ZERO_COUNTS = {"watched": 0, "busy": 0, "moved": 0, "kept": 0, "dropped": 0, "pendingMoves": 0}
RING_BYTES = 64 * 1024  # the events map's size (styxy_bind.bpf.c)
EVENT_BYTES = 8 + 48  # a ring record: its 8-byte header and struct styxy_move


@contextlib.contextmanager
def range_full(attached: Attached) -> Iterator[None]:
    """Every port of the test range held by a listener outside the cgroup."""
    with contextlib.ExitStack() as stack:
        for port in range(attached.first, attached.last + 1):
            stack.enter_context(held(port))
        yield


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def server_argv(servers: Servers, kind: str, port: int) -> list[str]:
    if kind == "static":
        return [str(servers.static), "127.0.0.1", str(port)]
    return [str(servers.go), f"127.0.0.1:{port}"]


# ------------------------------------------------------------------------------ run --bpf


@pytest.mark.parametrize("kind", ["static", "go"])
def test_run_bpf_moves_the_server_onto_its_lease_and_releases_it_when_it_ends(
    attached: Attached, servers: Servers, kind: str
) -> None:
    busy = attached.first
    with held(busy):
        run = attached.start(
            "run", "--bpf", "-s", attached.service, "-n", "web", "--", *server_argv(servers, kind, busy)
        )
        try:
            line = first_line(run)
            # The port styxy allocated (the first free one: `busy` is held) is the run's own
            # lease, so the program moves the server there rather than one port further.
            assert line == f"listening {busy + 1}", run.stderr.read() if run.stderr else line
            with socket.create_connection(("127.0.0.1", busy + 1), timeout=5):
                pass
            server = _only_child(run.pid)
            leases = attached.leases()
            assert [(x["port"], x["source"], x["serviceType"], x["name"], x["pid"]) for x in leases] == [
                (busy + 1, "run", attached.service, "web", server)
            ]
            assert os.readlink(f"/proc/{server}/exe") == str(servers.static if kind == "static" else servers.go)
            assert run.stdin is not None
            run.stdin.close()  # the server ends when its stdin closes
            assert run.wait(timeout=30) == 0
        finally:
            stop(run)
    assert attached.leases() == []
    status = attached.status()
    assert (status["moved"], status["pendingMoves"]) == (1, 0)
    event = status["events"][-1]
    comm = "staticserver" if kind == "static" else "goserver"
    assert {k: event[k] for k in ("pid", "process", "requested", "given", "serviceType", "outcome")} == {
        "pid": server, "process": comm, "requested": busy, "given": busy + 1,
        "serviceType": attached.service, "outcome": "moved",
    }
    assert event["message"] == (
        f"{comm} (process {server}): port {busy} in use; bound {busy + 1} instead "
        f"(service {attached.service})"
    )


def _only_child(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


# ------------------------------------------------------------------------------ build --bpf


def test_build_bpf_builds_into_the_user_folder_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    styxy = Styxy(tmp_path / "PORT_MANAGEMENT.md", home)
    data = tmp_path / "data"
    binary = data / "bpf" / "styxy-bpf"
    first = styxy("interceptor", "build", "--bpf", env={"STYXY_DATA_DIR": str(data)}, doc=False, timeout=300)
    assert (first.code, first.out, first.err) == (0, f"{binary}\n", "")
    assert binary.stat().st_mode & stat.S_IXUSR
    usage = subprocess.run([str(binary)], capture_output=True, text=True, check=False)
    assert (usage.returncode, usage.stderr) == (
        1, "styxy-bpf: usage: styxy-bpf attach|detach|events --pin DIR [--cgroup DIR]\n"
    )
    before = {p.name: p.stat().st_mtime_ns for p in binary.parent.iterdir()}
    again = styxy("interceptor", "build", "--bpf", env={"STYXY_DATA_DIR": str(data)}, doc=False)
    assert (again.code, again.out, again.err) == (0, f"{binary}\n", "")
    assert {p.name: p.stat().st_mtime_ns for p in binary.parent.iterdir()} == before
    forced = styxy("interceptor", "build", "--bpf", "--force", env={"STYXY_DATA_DIR": str(data)}, doc=False, timeout=300)
    assert (forced.code, forced.out) == (0, f"{binary}\n")
    assert binary.stat().st_mtime_ns != before["styxy-bpf"]


def test_build_bpf_without_clang_is_one_sentence_and_makes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    styxy = Styxy(tmp_path / "PORT_MANAGEMENT.md", home)
    data = tmp_path / "data"
    # A machine without the tools: nothing on PATH (the styxy script names its interpreter).
    done = styxy("interceptor", "build", "--bpf", doc=False,
                 env={"STYXY_DATA_DIR": str(data), "PATH": str(tmp_path / "empty")})
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        "styxy: Building the kernel bind program needs clang; install it "
        "(`apt-get install clang libbpf-dev`) and run `styxy interceptor build --bpf` again.\n"
    )
    assert not data.exists()


# ------------------------------------------------------------------------------ status, doctor


def test_status_and_doctor_before_and_after_attach(prepared: Attached) -> None:
    styxy = prepared.styxy
    assert prepared.status() == {
        "attached": False, "cgroup": None, "pin": None, **ZERO_COUNTS, "events": [],
    }
    text = styxy("interceptor", "bpf", "status")
    assert (text.code, text.out) == (0, "not attached; run: sudo styxy interceptor bpf attach\n")
    doctor = styxy("doctor", "--json")
    assert doctor.code == 0, doctor.err
    assert doctor.json()["interceptor"]["bpf"] == prepared.status()
    assert "kernel bind program: not attached; run: sudo styxy interceptor bpf attach" in (
        styxy("doctor").out.splitlines()
    )

    prepared.attach()
    pin = pin_of(styxy)
    expected = {
        "attached": True, "cgroup": str(prepared.cgroup), "pin": str(pin), **ZERO_COUNTS, "events": [],
    }
    assert prepared.status() == expected
    words = (
        f"attached to {prepared.cgroup} (maps in {pin}); 0 binds watched, 0 busy, 0 moved, "
        "0 kept, 0 moves not folded yet"
    )
    assert styxy("interceptor", "bpf", "status").out == words + "\n"
    doctor = styxy("doctor", "--json")
    assert doctor.json()["interceptor"]["bpf"] == expected
    assert f"kernel bind program: {words}" in styxy("doctor").out.splitlines()


# ------------------------------------------------------------------------------ the ring buffer


def test_a_full_range_fails_the_bind_and_the_event_says_so(attached: Attached, servers: Servers) -> None:
    first = attached.first
    with range_full(attached):
        proc = attached.exec(str(servers.static), "127.0.0.1", str(first))
        out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (1, "error EADDRINUSE\n")
    message = (
        f"staticserver (process {proc.pid}): port {first} in use; not moved, every candidate "
        f"port of '{attached.service}' is busy; the bind failed as it would have"
    )
    status = attached.status()
    assert (status["kept"], status["moved"], status["dropped"]) == (1, 0, 0)
    [event] = status["events"]
    assert event == {
        "time": event["time"], "pid": proc.pid, "uid": 0, "process": "staticserver",
        "requested": first, "given": None, "serviceType": attached.service,
        "outcome": "range-full", "message": message,
    }
    line = f"  {event['time']} {message}"
    assert styxy_lines(attached, "interceptor", "bpf", "status")[-2:] == ["last events:", line]
    assert f"  {line}" in styxy_lines(attached, "doctor")
    log = attached.styxy.sidecar / "bpf-events"
    assert not log.exists()  # read-only commands read the ring where it stands

    # The next write drains the ring into the sidecar's log: the event stays, once.
    assert attached.styxy("cleanup").code == 0
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert attached.status()["events"] == [event]


def styxy_lines(attached: Attached, *args: str) -> list[str]:
    done = attached.styxy(*args)
    assert done.code in (0, 1), done.err
    return done.out.splitlines()


def test_a_busy_single_instance_service_is_not_moved_and_the_event_says_so(
    attached: Attached, servers: Servers
) -> None:
    doc = attached.styxy.doc
    text = doc.read_text()
    row = next(line for line in text.splitlines() if line.startswith(f"| {attached.service} |"))
    doc.write_text(text.replace(row, row.replace("| multi |", "| single |")))
    assert attached.styxy("cleanup").code == 0  # a write: the maps learn the row is single
    with held(attached.first):
        proc = attached.exec(str(servers.static), "127.0.0.1", str(attached.first))
        out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (1, "error EADDRINUSE\n")
    event = attached.status()["events"][-1]
    assert (event["outcome"], event["given"], event["message"]) == (
        "single-instance",
        None,
        f"staticserver (process {proc.pid}): port {attached.first} in use; not moved, "
        f"'{attached.service}' is a single-instance service; the bind failed as it would have",
    )


BINDS = """
import socket, sys
s = socket.socket()
refused = 0
for _ in range(int(sys.argv[1])):
    try:
        s.bind(("127.0.0.1", int(sys.argv[2])))
    except OSError:
        refused += 1
print(refused)
"""


def test_a_ring_nobody_drained_counts_what_it_dropped_and_a_write_frees_it(attached: Attached) -> None:
    fits = RING_BYTES // EVENT_BYTES
    binds = fits + 100
    with range_full(attached):
        proc = attached.exec(sys.executable, "-c", BINDS, str(binds), str(attached.first))
        out, err = proc.communicate(timeout=60)
        assert (proc.returncode, out) == (0, f"{binds}\n"), err
        status = attached.status()
        assert (status["kept"], status["dropped"]) == (binds, 100)
        assert "100 events did not fit in the ring buffer" in styxy_lines(
            attached, "interceptor", "bpf", "status"
        )
        assert attached.styxy("cleanup").code == 0  # drains the ring: its room is free again
        proc = attached.exec(sys.executable, "-c", BINDS, "1", str(attached.first))
        proc.communicate(timeout=60)
    status = attached.status()
    assert (status["kept"], status["dropped"]) == (binds + 1, 100)
    assert status["events"][-1]["pid"] == proc.pid
    assert len(status["events"]) == 5


# ------------------------------------------------------------------------------ lock ids


def test_a_moved_lease_keeps_its_lock_id_before_and_after_the_fold(
    attached: Attached, servers: Servers
) -> None:
    busy = attached.first
    with held(busy):
        proc = attached.exec(str(servers.static), "127.0.0.1", str(busy))
        try:
            assert first_line(proc) == f"listening {busy + 1}"
            [lease] = attached.leases()
            lock_id = str(lease["lockId"])
            assert (lease["port"], lease["source"], lease["pid"]) == (busy + 1, "interceptor", proc.pid)
            assert attached.leases() == [lease]  # a second read: the same id
            check = attached.styxy("check", str(busy + 1), "--json")
            assert check.json()["lease"]["lockId"] == lock_id
            assert attached.status()["pendingMoves"] == 1
            assert attached.styxy("cleanup").code == 0  # a write folds the move into the file
            assert attached.status()["pendingMoves"] == 0
            assert [x["lockId"] for x in attached.leases()] == [lock_id]
            assert lock_id in (attached.styxy.sidecar / "leases.json").read_text()
            released = attached.styxy("release", str(lock_id))
            assert released.code == 0, released.err
            assert attached.leases() == []
        finally:
            stop(proc)


# ------------------------------------------------------------------------------ refusals


def _nothing_attached(prepared: Attached, programs: set[int]) -> None:
    assert not pin_of(prepared.styxy).exists()
    assert not prepared.cgroup.exists()
    assert our_programs() == programs
    assert prepared.status()["attached"] is False


def test_attach_to_a_folder_outside_cgroup_v2_is_one_sentence(prepared: Attached, tmp_path: Path) -> None:
    programs = our_programs()
    before = prepared.styxy.snapshot()
    mount = cgroup2_mount()
    for folder in (tmp_path / "not-a-cgroup", tmp_path):
        done = prepared.styxy("interceptor", "bpf", "attach", "--cgroup", str(folder))
        assert (done.code, done.out) == (1, "")
        assert done.err == (
            f"styxy: {folder} is not in a cgroup v2 hierarchy; pass --cgroup a folder under "
            f"{mount}, or leave --cgroup out.\n"
        )
    assert not (tmp_path / "not-a-cgroup").exists()
    assert prepared.styxy.snapshot() == before
    _nothing_attached(prepared, programs)


def test_attach_with_a_pin_root_that_is_not_a_bpffs_is_one_sentence(
    prepared: Attached, tmp_path: Path
) -> None:
    programs = our_programs()
    root = tmp_path / "pins"
    root.mkdir()
    (root / "notes.txt").write_text("someone's file\n")
    done = prepared.styxy("interceptor", "bpf", "attach", "--cgroup", str(prepared.cgroup),
                          env={"STYXY_BPF_ROOT": str(root)})
    assert (done.code, done.out) == (1, "")
    assert done.err == (
        f"styxy: The pin folder {root} is not on a bpffs and is not empty; mount one there "
        f"(sudo mount -t bpf bpf {root}) or remove the folder, then attach again.\n"
    )
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    _nothing_attached(prepared, programs)


# ------------------------------------------------------------------------------ one root step


NOBODY = 65534


def test_one_root_step_then_the_user_updates_the_maps_and_reads_the_ring(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A user's own document, in a folder that user can reach (pytest's folders are root's).
    home = Path(tempfile.mkdtemp(prefix="styxy-bpf-user-"))
    os.chown(home, NOBODY, NOBODY)
    home.chmod(0o755)
    server = home / "staticserver"
    shutil.copy(servers.static, server)
    server.chmod(0o755)
    doc = home / "docs" / "PORT_MANAGEMENT.md"
    root = Styxy(doc, home)
    root.env["STYXY_DATA_DIR"] = str(tmp_path_factory.getbasetemp() / "bpf-data")
    cgroup = (cgroup2_mount() or Path("/sys/fs/cgroup")) / f"styxy-test-user-{os.getpid()}"
    nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]

    user_env = {**root.env, "STYXY_DATA_DIR": str(home / "data")}

    def as_user(*args: str) -> Any:
        done = subprocess.run([*nobody, *styxy_command(), "--doc", str(doc), *args],
                              capture_output=True, text=True, env=user_env,
                              stdin=subprocess.DEVNULL, timeout=60, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    try:
        (home / "docs").mkdir()
        os.chown(home / "docs", NOBODY, NOBODY)
        assert as_user("init").returncode == 0
        made = as_user("allocate", "-s", "bpfuser", "--json")
        assert made.returncode == 0, made.stderr
        first = json.loads(made.stdout)["newRange"][0]
        assert as_user("release", "--port", str(first)).returncode == 0

        attached = root("interceptor", "bpf", "attach", "--user", "nobody", "--cgroup", str(cgroup))
        pin = pin_of(root)
        assert (attached.code, attached.out) == (0, f"attached to {cgroup} (maps pinned in {pin})\n"), attached.err
        for name in ("settings", "ranges", "leases", "moves", "events", "stats"):
            status = (pin / name).stat()
            assert (status.st_uid, stat.S_IMODE(status.st_mode)) == (NOBODY, 0o660)
        # The first commit ran as the user: nothing in the sidecar became root's.
        assert {p.stat().st_uid for p in root.sidecar.iterdir()} == {NOBODY}

        with held(first):
            proc = subprocess.Popen(
                ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$@"', "sh",
                 *nobody, str(server), "127.0.0.1", str(first)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            try:
                assert first_line(proc) == f"listening {first + 1}"
                listed = json.loads(as_user("list", "--json").stdout)["leases"]
                assert [(x["port"], x["source"], x["pid"]) for x in listed] == [
                    (first + 1, "interceptor", proc.pid)
                ]
                # A write by the user folds the move, updates the maps and drains the ring.
                cleaned = as_user("cleanup")
                assert (cleaned.returncode, cleaned.stderr) == (0, "")
                status = json.loads(as_user("interceptor", "bpf", "status", "--json").stdout)
                assert (status["moved"], status["pendingMoves"]) == (1, 0)
                assert [(e["uid"], e["given"], e["outcome"]) for e in status["events"]] == [
                    (NOBODY, first + 1, "moved")
                ]
                assert (root.sidecar / "bpf-events").stat().st_uid == NOBODY
                # Another user may not read them: one sentence.
                stranger = subprocess.run(
                    ["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups", *styxy_command(),
                     "--doc", str(doc), "interceptor", "bpf", "status"],
                    capture_output=True, text=True, env=user_env, stdin=subprocess.DEVNULL,
                    timeout=60, check=False,
                )
                assert (stranger.returncode, stranger.stdout) == (1, "")
                assert stranger.stderr == (
                    f"styxy: cannot open the pinned map {pin}/stats: Permission denied; they "
                    "belong to the user `styxy interceptor bpf attach --user` named.\n"
                )
            finally:
                stop(proc)
    finally:
        detach_and_remove(root, cgroup)
        shutil.rmtree(home)
    assert not pin.exists()
