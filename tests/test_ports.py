"""The OS view: real sockets, real processes, no mocks of the kernel."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from styxy.errors import InvalidValueError
from styxy.system import ports
from styxy.system.ports import Listener

HAS_IPV6 = socket.has_ipv6
try:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as _probe:
        _probe.bind(("::1", 0))
except OSError:
    HAS_IPV6 = False

needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="this machine has no IPv6 loopback")
MY_NAME = psutil.Process().name()


@contextmanager
def listening_socket(address: str, port: int = 0) -> Iterator[int]:
    """A real listener on `address`, on a port the kernel picks; yields the port."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6 and address == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen()
        yield sock.getsockname()[1]
    finally:
        sock.close()


def free_port() -> int:
    """A port nothing listens on right now (the kernel just gave it out and took it back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# is_listening


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "0.0.0.0",
        pytest.param("::1", marks=needs_ipv6),
        pytest.param("::", marks=needs_ipv6),
    ],
)
def test_is_listening_sees_a_listener_on_each_probed_address(address: str) -> None:
    with listening_socket(address) as port:
        assert ports.is_listening(port) is True
    assert ports.is_listening(port) is False


def test_is_listening_sees_a_listener_on_another_loopback_address() -> None:
    # 127.0.0.2 is not probed, but binding 0.0.0.0 conflicts with it.
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.2", 0))
    except OSError:
        pytest.skip("only 127.0.0.1 is a loopback address here")
    with listening_socket("127.0.0.2") as port:
        assert ports.is_listening(port) is True


def test_is_listening_false_on_a_free_port() -> None:
    assert ports.is_listening(free_port()) is False


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_is_listening_refuses_impossible_ports(port: int) -> None:
    with pytest.raises(InvalidValueError, match=f"port must be between 1 and 65535, got {port}"):
        ports.is_listening(port)


def test_time_wait_does_not_count_as_listening() -> None:
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end of the connection enters TIME_WAIT
    client.close()
    server.close()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        states = {
            c.status for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port
        }
        if psutil.CONN_TIME_WAIT in states:
            break
        time.sleep(0.01)
    assert psutil.CONN_TIME_WAIT in states
    assert ports.is_listening(port) is False


def test_is_listening_does_not_import_psutil() -> None:
    code = textwrap.dedent(
        """
        import sys
        from styxy.system import ports
        ports.is_listening(1)
        ports.is_listening(65000)
        print('psutil' in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert out.stdout.strip() == "False"


def test_is_listening_is_fast() -> None:
    port = free_port()
    began = time.perf_counter()
    for _ in range(200):
        ports.is_listening(port)
    # One sock_diag dump per family: well under a millisecond, where psutil would take tens.
    assert (time.perf_counter() - began) / 200 < 0.002


@pytest.mark.parametrize(
    "backend", ["_netlink_listening", "_proc_listening", "_psutil_listening", "_probe_listening"]
)
def test_each_way_of_asking_sees_a_real_listener(backend: str) -> None:
    # is_listening asks sock_diag, then /proc, then psutil's table, then (where none of those
    # answers: macOS, unprivileged) binds to probe. Each is asked here directly, about a real
    # listener, so each answers on this machine without any of them being switched off.
    ask = getattr(ports, backend)
    with listening_socket("127.0.0.1") as port:
        assert ask(port) is True
    assert ask(port) is False


def test_is_listening_never_binds_where_the_kernel_can_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("bound a port to probe it")

    monkeypatch.setattr(ports, "_bind_probe", refuse)
    with listening_socket("127.0.0.1") as port:
        assert ports.is_listening(port) is True
    assert ports.is_listening(port) is False


_BINDER = textwrap.dedent(
    """
    import errno, os, socket, sys
    port, stop = int(sys.argv[1]), sys.argv[2]
    binds = clashes = 0
    print("ready", flush=True)
    while not os.path.exists(stop):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
            binds += 1
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            clashes += 1
        finally:
            s.close()
    print(binds, clashes, flush=True)
    """
)


def test_a_program_binding_in_a_tight_loop_never_clashes_with_styxy(tmp_path: Path) -> None:
    """Issue 13 point 12: `check` probed by binding, and 79 of 97 checks made a program that
    bound the same port at that moment fail with EADDRINUSE."""
    from support import DEFAULT_DOC, Styxy

    doc = tmp_path / "PORT_MANAGEMENT.md"
    doc.write_bytes(DEFAULT_DOC.read_bytes())
    home = tmp_path / "home"
    home.mkdir()
    cli = Styxy(doc, home)
    port, stop = free_port(), tmp_path / "stop"
    binder = subprocess.Popen(
        [sys.executable, "-c", _BINDER, str(port), str(stop)], stdout=subprocess.PIPE, text=True
    )
    assert binder.stdout is not None
    try:
        assert binder.stdout.readline() == "ready\n"
        for _ in range(8):
            assert cli("check", str(port)).code in (0, 1)
        # In-process too, as fast as the loop: the hot path of allocation and reaping.
        for _ in range(3000):
            ports.is_listening(port)
    finally:
        stop.touch()
        out, _ = binder.communicate(timeout=30)
    binds, clashes = (int(x) for x in out.split())
    assert binds > 0 and clashes == 0


# ---------------------------------------------------------------------------------------------
# listeners


def test_listeners_on_names_this_process() -> None:
    with listening_socket("127.0.0.1") as port:
        assert ports.listeners_on(port) == [Listener(port, "127.0.0.1", os.getpid(), MY_NAME)]
    assert ports.listeners_on(port) == []


@needs_ipv6
def test_listeners_on_both_families_sorted_by_address() -> None:
    with listening_socket("::1") as port, listening_socket("127.0.0.1", port):
        assert ports.listeners_on(port) == [
            Listener(port, "127.0.0.1", os.getpid(), MY_NAME),
            Listener(port, "::1", os.getpid(), MY_NAME),
        ]


def test_listeners_in_a_span_sorted_by_port() -> None:
    with listening_socket("127.0.0.1") as a, listening_socket("127.0.0.1") as b:
        low, high = sorted((a, b))
        mine = [item for item in ports.listeners(low, high) if item.pid == os.getpid()]
        assert mine == [
            Listener(low, "127.0.0.1", os.getpid(), MY_NAME),
            Listener(high, "127.0.0.1", os.getpid(), MY_NAME),
        ]
        assert all(low <= item.port <= high for item in ports.listeners(low, high))
        assert ports.listeners(low, low) == ports.listeners_on(low)


def test_listeners_of_another_process() -> None:
    code = textwrap.dedent(
        """
        import socket, sys
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
        print(s.getsockname()[1], flush=True)
        sys.stdin.read()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        name = psutil.Process(child.pid).name()
        assert ports.listeners_on(port) == [Listener(port, "127.0.0.1", child.pid, name)]
        assert ports.is_listening(port) is True
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
    assert ports.is_listening(port) is False


def test_listening_in_finds_our_listener_and_respects_the_span() -> None:
    with listening_socket("127.0.0.1") as port:
        assert port in ports.listening_in(port - 3, port + 3)
        assert port in ports.listening_in(port, port)
        assert port not in ports.listening_in(port + 1, port + 10)
        assert port not in ports.listening_in(port - 10, port - 1)
        assert all(port - 3 <= p <= port + 3 for p in ports.listening_in(port - 3, port + 3))
    assert port not in ports.listening_in(port, port)


# ---------------------------------------------------------------------------------------------
# The ephemeral range


def test_ephemeral_range_matches_the_kernel() -> None:
    path = Path(ports.EPHEMERAL_PATH)
    if not path.exists():
        assert ports.ephemeral_range() is None
        return
    low, high = (int(field) for field in path.read_text().split())
    assert ports.ephemeral_range() == (low, high)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("32768\t60999\n", (32768, 60999)),
        ("1024 65535", (1024, 65535)),
        ("garbage\n", None),
        ("", None),
        ("5 6 7", None),
        ("60999 32768", None),
        ("0 100", None),
    ],
)
def test_ephemeral_range_parsing(
    content: str, expected: tuple[int, int] | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "ip_local_port_range"
    fake.write_text(content)
    monkeypatch.setattr(ports, "EPHEMERAL_PATH", str(fake))
    assert ports.ephemeral_range() == expected


def test_ephemeral_range_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "EPHEMERAL_PATH", str(tmp_path / "missing"))
    assert ports.ephemeral_range() is None


# ---------------------------------------------------------------------------------------------
# Processes


def test_process_start_time_of_this_process() -> None:
    assert ports.process_start_time(os.getpid()) == psutil.Process().create_time()


def test_process_start_time_of_nothing() -> None:
    assert ports.process_start_time(0) is None
    assert ports.process_start_time(-5) is None
    assert ports.process_start_time(dead_pid()) is None


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=10)
    return child.pid


def test_process_alive_for_this_process() -> None:
    me = os.getpid()
    started = ports.process_start_time(me)
    assert started is not None
    assert ports.process_alive(me, started) is True
    assert ports.process_alive(me, started + 0.005) is True  # clock-tick jitter is tolerated
    assert ports.process_alive(me, None) is True


def test_process_alive_rejects_a_wrong_start_time() -> None:
    # The same pid with another start time is another process: the recorded one is dead.
    me = os.getpid()
    started = ports.process_start_time(me)
    assert started is not None
    assert ports.process_alive(me, started - 5.0) is False
    assert ports.process_alive(me, started + 0.5) is False


def test_process_alive_false_after_the_process_exits() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    started = ports.process_start_time(child.pid)
    assert started is not None
    assert ports.process_alive(child.pid, started) is True
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=10)
    assert ports.process_alive(child.pid, started) is False
    assert ports.process_alive(child.pid, None) is False


def test_process_alive_false_for_a_zombie() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = ports.process_start_time(child.pid)
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert ports.process_alive(child.pid, started) is False
    finally:
        child.wait(timeout=10)


def test_process_alive_false_for_impossible_pids() -> None:
    assert ports.process_alive(0, None) is False
    assert ports.process_alive(-1, None) is False


def test_process_info_of_this_process() -> None:
    name, cmdline = ports.process_info(os.getpid())
    assert name == MY_NAME
    assert cmdline == " ".join(psutil.Process().cmdline())
    assert cmdline is not None and "pytest" in cmdline


def test_process_info_of_a_child_with_arguments() -> None:
    code = "import sys; print(flush=True); sys.stdin.read()"
    child = subprocess.Popen(
        [sys.executable, "-c", code, "alpha", "beta"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        # Popen returns as soon as exec starts; the kernel fills /proc/PID/cmdline a moment
        # later, so wait for the child to speak first.
        assert child.stdout is not None
        child.stdout.readline()
        name, cmdline = ports.process_info(child.pid)
        assert name == psutil.Process(child.pid).name()
        assert cmdline == f"{sys.executable} -c {code} alpha beta"
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


def test_process_info_of_nothing() -> None:
    assert ports.process_info(dead_pid()) == (None, None)
    assert ports.process_info(0) == (None, None)


def test_parent_pid() -> None:
    assert ports.parent_pid() == os.getppid() == psutil.Process().ppid()


def test_the_proc_reading_of_a_process_is_psutils_to_the_bit() -> None:
    """`process_start_time` and `process_alive` read /proc/PID/stat themselves (psutil costs
    10 ms of start-up on the allocate path); they must give psutil's answers exactly."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(zombie.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for pid in (os.getpid(), os.getppid(), 1, sleeper.pid, zombie.pid):
            started = psutil.Process(pid).create_time()
            assert ports.process_start_time(pid) == started
            for recorded in (started, started + 0.005, started - 1.0, None):
                assert ports.process_alive(pid, recorded) == ports._psutil_alive(pid, recorded)
        gone = dead_pid()
        assert ports.process_alive(gone, None) is ports._psutil_alive(gone, None) is False
    finally:
        sleeper.kill()
        sleeper.wait(timeout=10)
        zombie.wait(timeout=10)
