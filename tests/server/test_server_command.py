"""`styxy serve` as a user starts and stops it: loopback only, the token file, signals."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest
from server_support import Server, free_port, wait_until
from support import DEFAULT_DOC, Styxy, styxy_command


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", "127.0.0.2", ""])
def test_a_host_beyond_loopback_is_refused(styxy: Styxy, host: str) -> None:
    before = styxy.snapshot()
    result = styxy("serve", "--host", host, "--port", str(free_port()))
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"styxy: --host must be 127.0.0.1, ::1 or localhost, not {host!r}: "
        "styxy serve listens on this machine only.\n"
    )
    assert styxy.snapshot() == before
    assert not (styxy.sidecar / "token").exists()


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_a_port_out_of_bounds_is_a_usage_error(styxy: Styxy, port: str) -> None:
    result = styxy("serve", "--port", port)
    assert result.code == 2
    # The same words as every other port of the command line (one click type parses them all).
    assert result.err == (
        f"styxy: --port must be a port number from 1 to 65535, not {port}.\n"
    )


def test_a_port_in_use_is_one_sentence(styxy: Styxy) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = styxy("serve", "--port", str(port))
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        f"styxy: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "choose another port with --port.\n"
    )


def test_the_token_is_made_once_and_reused(styxy: Styxy, tmp_path: Path) -> None:
    first = Server(styxy, tmp_path / "one.log")
    try:
        token_file = styxy.sidecar / "token"
        status = token_file.stat()
        assert stat.S_IMODE(status.st_mode) == 0o600
        assert len(first.token) >= 43
        wait_until(lambda: first.stderr())
        assert first.stderr() == (
            f"styxy: serving {styxy.doc}; token in {token_file}; Ctrl-C stops\n"
        )
    finally:
        first.stop()
    second = Server(styxy, tmp_path / "two.log")
    try:
        assert second.token == first.token
        assert token_file.stat().st_ino == status.st_ino
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda p: p.chmod(0o640), "is open to other users (mode 0640; chmod 600 it)"),
        (lambda p: p.chmod(0o604), "is open to other users (mode 0604; chmod 600 it)"),
        (lambda p: p.chmod(0o620), "is open to other users (mode 0620; chmod 600 it)"),
        (lambda p: (p.unlink(), p.mkdir()), "is not a regular file"),
        (lambda p: (p.unlink(), p.symlink_to(p.parent / "elsewhere")), "is a symbolic link"),
        (lambda p: (p.unlink(), os.mkfifo(p, 0o600)), "is not a regular file"),
        (lambda p: p.write_text("short\n"), "does not hold a token of at least 43 URL-safe characters"),
    ],
)
def test_a_token_file_others_could_read_or_swap_is_refused(
    styxy: Styxy, tmp_path: Path, spoil: object, why: str
) -> None:
    assert styxy("cleanup").code == 0  # a writer: makes the sidecar and its .gitignore
    token_file = styxy.sidecar / "token"
    (styxy.sidecar / "elsewhere").write_text("x" * 43 + "\n")
    token_file.write_text("A" * 43 + "\n")
    token_file.chmod(0o600)
    spoil(token_file)  # type: ignore[operator]
    before = styxy.snapshot() if not token_file.is_fifo() else None
    result = styxy("serve", "--port", str(free_port()), timeout=60)
    assert result.code == 1
    assert result.out == ""
    assert result.err == (
        f"styxy: the token file {token_file} {why}; fix or remove it and start again.\n"
    )
    if before is not None:
        assert styxy.snapshot() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_token_file_of_another_user_is_refused(styxy: Styxy) -> None:
    assert styxy("cleanup").code == 0  # a writer: makes the sidecar and its .gitignore
    token_file = styxy.sidecar / "token"
    token_file.write_text("A" * 43 + "\n")
    token_file.chmod(0o600)
    os.chown(token_file, 4242, -1)
    result = styxy("serve", "--port", str(free_port()))
    assert result.code == 1
    assert result.err == (
        f"styxy: the token file {token_file} belongs to user id 4242, not to you; "
        "fix or remove it and start again.\n"
    )


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_a_signal_stops_the_server_cleanly(
    styxy: Styxy, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    server = Server(styxy, tmp_path / "serve.log")
    assert server.request("GET", "/status", token=None).status == 200
    server.process.send_signal(sig)
    assert server.process.wait(timeout=30) == code
    assert server.stop() == code  # no traceback in its log
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()


@pytest.mark.parametrize("host", ["localhost", "::1"])
def test_other_loopback_names(styxy: Styxy, tmp_path: Path, host: str) -> None:
    port = free_port()
    server = Server(styxy, tmp_path / "serve.log", "--host", host, port=port)
    try:
        shown = "[::1]" if host == "::1" else host
        assert server.url == f"http://{shown}:{port}/#token={server.token}"
        with socket.create_connection(("::1" if host == "::1" else "127.0.0.1", port), timeout=5):
            pass
    finally:
        server.stop()


def test_first_use_makes_the_default_document(home: Path, tmp_path: Path) -> None:
    """Like `allocate`, the server is a writer: the default location is created on first use."""
    default = home / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    cli = Styxy(default, home)
    argv = [*styxy_command(), "serve", "--port", str(free_port())]
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=cli.env)
        try:
            assert process.stdout is not None
            assert process.stdout.readline().decode().startswith("http://127.0.0.1:")
            assert default.read_bytes() == DEFAULT_DOC.read_bytes()
            assert (cli.sidecar / ".gitignore").read_bytes() == b"*\n"
            assert stat.S_IMODE((cli.sidecar / "token").stat().st_mode) == 0o600
        finally:
            process.terminate()
            process.wait(timeout=30)
            process.stdout.close()  # type: ignore[union-attr]
    assert log.read_text().startswith(
        "styxy: created ~/docs/CORE/PORT_MANAGEMENT.md from the default\n"
    )


def test_a_missing_doc_is_refused_before_listening(styxy: Styxy) -> None:
    missing = styxy.doc.parent / "nothere.md"
    result = styxy("serve", "--port", str(free_port()), "--doc", str(missing))
    assert result.code == 1
    assert result.err == (
        f"styxy: no document at {missing}; create it with: styxy init --doc {missing}\n"
    )
    assert not (styxy.sidecar / "token").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_server_holds_a_lease_of_its_own_port_until_it_stops(
    styxy: Styxy, tmp_path: Path, sig: signal.Signals
) -> None:
    """SPEC 17: `styxy serve` is a service like any other."""
    server = Server(styxy, tmp_path / "serve.log")
    try:
        listed = styxy("list", "--json")
        assert listed.code == 0, listed.err
        assert [
            (x["serviceType"], x["name"], x["instanceId"], x["port"], x["pid"], x["source"], x["alive"])
            for x in listed.json()["leases"]
        ] == [("coordination", "serve", "default", server.port, server.process.pid, "api", True)]
        # A second server of the same instance is told where the first one runs.
        before = styxy.snapshot()
        second = styxy("serve", "--port", str(free_port()), timeout=60)
        assert (second.code, second.out) == (1, "")
        assert second.err == (
            f"styxy: styxy serve already runs for this document on port {server.port} "
            f"(process {server.process.pid}); stop it first, or give this one its own "
            "STYXY_INSTANCE_ID.\n"
        )
        assert styxy.snapshot() == before
    finally:
        server.process.send_signal(sig)
        server.stop()
    assert styxy("list", "--json").json() == {"leases": []}


def test_a_sigterm_as_soon_as_it_answers_still_ends_its_lease(styxy: Styxy, tmp_path: Path) -> None:
    """The URL is printed a moment before Uvicorn takes the signals over: a SIGTERM in that
    moment (a supervisor or a test that stops it at once) ends the lease too, and the process
    ends as SIGTERM ends it. Repeated, since the moment is short."""
    for attempt in range(8):
        server = Server(styxy, tmp_path / f"serve-{attempt}.log")
        server.process.send_signal(signal.SIGTERM)
        assert server.stop() == -signal.SIGTERM
        assert styxy("list", "--json").json() == {"leases": []}, attempt


def test_ctrl_c_as_soon_as_it_answers_stops_it_when_the_parent_ignored_sigint(styxy: Styxy) -> None:
    """A job started with `&` from a script inherits SIGINT ignored. Uvicorn stops on SIGINT
    once it serves; the moment before must not lose it (the server would run on for good)."""
    for attempt in range(8):
        server = subprocess.Popen(
            [*styxy_command(), "--doc", str(styxy.doc), "serve", "--port", str(free_port())],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=styxy.env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        try:
            assert server.stdout is not None and server.stdout.readline().startswith("http://")
            server.send_signal(signal.SIGINT)
            _out, err = server.communicate(timeout=30)
        finally:
            server.kill()  # a no-op once it ended; never left running when the test fails
            server.communicate()
        assert (server.returncode, err.splitlines()[-1]) == (130, "styxy: interrupted."), attempt
        assert "Traceback" not in err, err  # nothing raised inside the event loop's start
        assert styxy("list", "--json").json() == {"leases": []}, attempt


def test_a_port_another_lease_holds_is_refused_and_writes_nothing(styxy: Styxy) -> None:
    made = styxy("allocate", "-s", "dev", "--json")
    assert made.code == 0, made.err
    port = made.json()["port"]
    before = styxy.snapshot()
    result = styxy("serve", "--port", str(port), timeout=60)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"styxy: cannot listen on 127.0.0.1:{port} (another lease holds it); "
        "choose another port with --port.\n"
    )
    assert styxy.snapshot() == before


def test_a_server_started_again_after_sigkill_takes_over_its_own_lease(
    styxy: Styxy, tmp_path: Path
) -> None:
    """A crashed server's lease is within its grace period (300 s), but its holder is dead and
    nothing listens: the same server started again is the same service, and takes over its
    lease and its port at once, as `allocate` does for the same identity."""
    crashed = Server(styxy, tmp_path / "crashed.log")
    port = crashed.port
    crashed.process.send_signal(signal.SIGKILL)
    assert crashed.stop() == -signal.SIGKILL
    left = styxy("list", "--json").json()["leases"]
    assert [(x["name"], x["port"], x["pid"], x["alive"]) for x in left] == [
        ("serve", port, crashed.process.pid, False)
    ]
    again = Server(styxy, tmp_path / "again.log", port=port)
    try:
        assert again.url == f"http://127.0.0.1:{port}/#token={again.token}"
        assert again.token == crashed.token
        assert again.request("GET", "/status", token=None).status == 200
        listed = styxy("list", "--json")
        assert listed.code == 0, listed.err
        assert [
            (x["serviceType"], x["name"], x["instanceId"], x["port"], x["pid"], x["alive"])
            for x in listed.json()["leases"]
        ] == [("coordination", "serve", "default", port, again.process.pid, True)]
        assert again.stderr() == (
            f"styxy: serving {styxy.doc}; token in {styxy.sidecar / 'token'}; Ctrl-C stops\n"
        )
    finally:
        assert again.stop() == -signal.SIGTERM
    assert styxy("list", "--json").json() == {"leases": []}


def test_a_crashed_server_of_another_instance_still_holds_its_port(
    styxy: Styxy, tmp_path: Path
) -> None:
    """Only the same identity takes a dead lease over: another instance's server (another
    STYXY_INSTANCE_ID) is another service, whose port stays leased for its grace period."""
    other = Styxy(styxy.doc, styxy.home)
    other.env["STYXY_INSTANCE_ID"] = "other"
    crashed = Server(other, tmp_path / "crashed.log")
    crashed.process.send_signal(signal.SIGKILL)
    assert crashed.stop() == -signal.SIGKILL
    before = styxy.snapshot()
    result = styxy("serve", "--port", str(crashed.port), timeout=60)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"styxy: cannot listen on 127.0.0.1:{crashed.port} (another lease holds it); "
        "choose another port with --port.\n"
    )
    assert styxy.snapshot() == before
