"""The kernel half of the interceptor, for real (SPEC section 16): a real cgroup v2, the real
program attached with `styxy interceptor bpf attach`, real servers that make their own bind
system call (a `gcc -static` C server and a `CGO_ENABLED=0` Go server, both built here).

Runs as root (CI does); the fixtures, and when they skip, are tests/interceptor/bpf_support.py.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys

import pytest
from bpf_support import *  # the pytest fixtures: servers, prepared, attached
from bpf_support import Attached, Servers, first_line, held, pin_of
from support import styxy_command

from styxy.store.bpfmaps import _SETTINGS, Maps


def test_static_and_go_servers_move_off_a_busy_port_with_a_lease(attached: Attached, servers: Servers) -> None:
    busy = attached.first
    procs: list[subprocess.Popen[str]] = []
    try:
        with held(busy):
            procs.append(attached.exec(str(servers.static), "127.0.0.1", str(busy)))
            procs.append(attached.exec(str(servers.go), f"127.0.0.1:{busy}"))
            lines = [first_line(p) for p in procs]
            ports = [int(line.split()[1]) for line in lines if line.startswith("listening ")]
            assert len(ports) == 2, lines
            # A quick pair from the same busy port: two different free ports of the range.
            assert len(set(ports)) == 2
            for port in ports:
                assert attached.first < port <= attached.last
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    pass
            by_port = {lease["port"]: lease for lease in attached.leases()}
            for proc, port in zip(procs, ports):
                lease = by_port[port]
                assert lease["source"] == "interceptor"
                assert lease["serviceType"] == attached.service
                assert lease["name"] == f"bind-{busy}"
                assert lease["alive"] is True
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_the_same_servers_under_the_preload_library_alone_stay_refused(
    attached: Attached, servers: Servers
) -> None:
    env_lines = attached.styxy("interceptor", "env")
    assert env_lines.code == 0, env_lines.err
    preload = dict(
        line.removeprefix("export ").split("=", 1) for line in env_lines.out.splitlines()
    )
    env = {**attached.styxy.env, **{k: v.strip("'") for k, v in preload.items()}}
    busy = attached.first
    with held(busy):
        for argv in ([str(servers.static), "127.0.0.1", str(busy)], [str(servers.go), f"127.0.0.1:{busy}"]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True,
                                  stdin=subprocess.DEVNULL, timeout=30, check=False)
            assert (done.returncode, done.stdout) == (1, "error EADDRINUSE\n")


def test_reuseport_workers_share_their_port(attached: Attached, servers: Servers) -> None:
    port = attached.first + 3
    procs = []
    try:
        for _ in range(2):
            procs.append(attached.exec(str(servers.static), "127.0.0.1", str(port), "reuseport"))
            assert first_line(procs[-1]) == f"listening {port}"
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


V6ONLY_AND_UDP = """
import socket
v6 = socket.socket(socket.AF_INET6)
v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
v6.bind(("::", {tcp}))
v6.listen()
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
udp.bind(("127.0.0.1", {udp}))
print(v6.getsockname()[1], udp.getsockname()[1])
"""


def test_v6only_beside_ipv4_and_udp_sharing_are_not_moved(attached: Attached) -> None:
    tcp, udp_port = attached.first + 4, attached.first + 5
    with held(tcp, "0.0.0.0"), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind(("127.0.0.1", udp_port))
        proc = attached.exec(sys.executable, "-c", V6ONLY_AND_UDP.format(tcp=tcp, udp=udp_port))
        out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (0, f"{tcp} {udp_port}\n"), err


QUICK = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", {busy}))
print(s.getsockname()[1], flush=True)
time.sleep({hold})  # bound, not listening: invisible to a lookup meanwhile
"""


def _pairs_of_binds(attached: Attached, rounds: int, hold: float) -> None:
    """Rounds of two binds at once to the busy first port, each socket bound (not listening)
    for `hold` seconds: every round's two binds get two ports of the range."""
    busy = attached.first
    with held(busy):
        for _ in range(rounds):
            procs = [attached.exec(sys.executable, "-c", QUICK.format(busy=busy, hold=hold)) for _ in range(2)]
            lines = [first_line(p) for p in procs]
            for proc in procs:
                proc.communicate(timeout=30)
            if not all(line.isdigit() for line in lines):
                events = [event["message"] for event in attached.status()["events"]]
                raise AssertionError(f"a bind failed: {lines}; the program said: {events}")
            pair = {int(line) for line in lines}
            assert len(pair) == 2 and busy not in pair, pair


def test_two_quick_binds_that_do_not_listen_yet_get_two_ports(attached: Attached) -> None:
    # On two CPUs: never both sent to one free port (the program claims a port atomically, and
    # skips one it handed out a moment ago). A later round may be given a port again once the
    # earlier round's sockets closed and the moment passed.
    _pairs_of_binds(attached, rounds=3, hold=1.5)


def test_two_binds_that_both_find_a_port_handed_out_long_ago_do_not_both_get_it(
    attached: Attached,
) -> None:
    # Every round's ports are stale by the next one (a hold of 0.2 s, rounds 0.5 s apart), so
    # both binds of a round find the first free port's old entry and replace it at once. The
    # replacing was delete then create: the second bind deleted the first one's new entry and
    # took the port too, and its bind failed with EADDRINUSE (one round in about eight).
    with Maps(attached.pin) as maps:
        settings = list(maps.settings())
        settings[2] = 200  # hold_ms, as `styxy-bpf attach --hold-ms 200` sets it
        maps._bpf.update(maps.fd("settings"), (0).to_bytes(4, "little"), _SETTINGS.pack(*settings))
    _pairs_of_binds(attached, rounds=16, hold=0.3)


def test_detach_leaves_no_program_link_or_pin(attached: Attached) -> None:
    pin = pin_of(attached.styxy)
    assert pin.is_dir()
    assert "styxy_bind4" in subprocess.run(
        ["bpftool", "cgroup", "show", str(attached.cgroup)], capture_output=True, text=True
    ).stdout
    done = attached.styxy("interceptor", "bpf", "detach")
    assert (done.code, done.out) == (0, "")
    assert not pin.exists()
    assert not attached.cgroup.exists()
    progs = subprocess.run(["bpftool", "prog", "show", "--json"], capture_output=True, text=True).stdout
    links = subprocess.run(["bpftool", "link", "show", "--json"], capture_output=True, text=True).stdout
    ours = {p["id"] for p in json.loads(progs) if p.get("name") in ("styxy_bind4", "styxy_bind6")
            and p.get("pinned") and any(str(pin) in x for x in p["pinned"])}
    assert ours == set()
    assert all(str(pin) not in json.dumps(link) for link in json.loads(links))
    status = attached.styxy("interceptor", "bpf", "status", "--json")
    assert status.code == 0 and status.json()["attached"] is False


def test_attach_as_a_plain_user_is_one_sentence(attached: Attached) -> None:
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed")
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            *styxy_command(), "--doc", str(attached.styxy.doc), "interceptor", "bpf", "attach"]
    done = subprocess.run(argv, capture_output=True, text=True, env=attached.styxy.env,
                          stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("styxy: "), done.stderr
    assert "needs root" in done.stderr
