"""Slow and idle clients on real loopback sockets: they are closed after a few seconds, open
connections are bounded, and a flood of them never keeps `/status` from answering."""

from __future__ import annotations

import select
import socket
import time

from server_support import *  # Server, and the module fixtures cli and server
from support import Styxy

from styxy.server.guard import MAX_CONNECTIONS, REQUEST_SECONDS

# How long past the deadline a close may take to be seen on a loaded machine.
SLACK = 3.0


def connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def closed_after(sock: socket.socket, limit: float, trickle: bytes = b"") -> float:
    """Seconds until the server closed `sock` (it reads EOF or a reset), sending `trickle`
    a byte every half second meanwhile, as a slow-loris client does."""
    started = time.monotonic()
    sock.setblocking(False)
    while time.monotonic() - started < limit:
        ready, _, _ = select.select([sock], [], [], 0.5)
        if ready:
            try:
                if sock.recv(4096) == b"":
                    return time.monotonic() - started
            except ConnectionResetError:
                return time.monotonic() - started
        elif trickle:
            try:
                sock.send(trickle[:1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            trickle = trickle[1:] or trickle
    raise AssertionError(f"the server kept the connection open for {limit} s")


def status_time(server: Server) -> float:
    started = time.monotonic()
    answer = server.request("GET", "/status", token=None)
    assert answer.status == 200, answer.body
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    with connect(server) as sock:
        took = closed_after(sock, REQUEST_SECONDS + SLACK)
    assert REQUEST_SECONDS - 0.5 <= took <= REQUEST_SECONDS + SLACK


def test_a_request_head_sent_a_byte_at_a_time_is_closed(server: Server) -> None:
    with connect(server) as sock:
        head = f"GET /status HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode()
        took = closed_after(sock, REQUEST_SECONDS + SLACK, trickle=head + b"a" * 100)
    assert took <= REQUEST_SECONDS + SLACK


def test_a_body_that_stops_half_way_is_closed_and_changes_nothing(
    server: Server, cli: Styxy
) -> None:
    before = cli.snapshot()
    with connect(server) as sock:
        sock.sendall(
            (
                f"POST /allocate HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                f"Authorization: Bearer {server.token}\r\nContent-Length: 100\r\n\r\n"
                '{"service_type": "dev"'
            ).encode()
        )
        took = closed_after(sock, REQUEST_SECONDS + SLACK)
    assert took <= REQUEST_SECONDS + SLACK
    assert cli.snapshot() == before


def test_a_kept_alive_connection_is_closed_once_idle(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(f"GET /status HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        took = closed_after(sock, REQUEST_SECONDS + SLACK)
    assert took <= REQUEST_SECONDS + SLACK


def test_300_half_open_connections_do_not_keep_status_from_answering(server: Server) -> None:
    head = f"GET /status HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode()
    flood: list[socket.socket] = []
    try:
        for _ in range(300):
            sock = connect(server)
            sock.sendall(head)  # and never the blank line that ends it
            flood.append(sock)
        assert status_time(server) < 1.0
        # The server keeps at most MAX_CONNECTIONS open: the oldest slow ones made room.
        time.sleep(0.5)
        readable, _, _ = select.select(flood, [], [], 1.0)
        closed = 0
        for sock in readable:
            try:
                closed += sock.recv(1) == b""
            except ConnectionResetError:
                closed += 1
        assert closed >= len(flood) + 1 - MAX_CONNECTIONS
        assert status_time(server) < 1.0
    finally:
        for sock in flood:
            sock.close()


def test_a_request_that_is_not_http_is_400_with_the_security_headers(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 400 ")
    assert "x-content-type-options: nosniff" in head
    assert "content-security-policy: default-src 'none'" in head
