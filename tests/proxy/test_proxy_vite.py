"""A real Vite, from the npm registry into a throw-away folder, under `styxy run -s dev --
npx vite`: it listens on the port styxy leased (runFlags appends `--port N --strictPort`), not
on its own 5173, and behind `styxy proxy` its page and its hot-reload WebSocket answer by name."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import psutil
import pytest
from proxy_support import eventually, proxy, proxy_port, read_exactly, read_until, start, stop

VITE = "vite@6.4.6"
NPM_SECONDS = 300


@pytest.fixture(scope="module")
def vite_app(tmp_path_factory) -> Path:
    """Vite from the npm registry, in a throw-away folder, with one page to serve."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (.ci/run installs it)")
    folder = tmp_path_factory.mktemp("vite-app")
    (folder / "package.json").write_text('{"name": "styxy-vite-test", "private": true}\n')
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", VITE],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=NPM_SECONDS,
    )
    assert done.returncode == 0, done.stderr
    (folder / "index.html").write_text("<!doctype html><title>styxy</title><h1>vite under styxy</h1>\n")
    return folder


def _listening_ports(root_pid: int) -> set[int]:
    """Every TCP port the process tree under `root_pid` listens on."""
    found = set()
    try:
        tree = [psutil.Process(root_pid), *psutil.Process(root_pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return found
    for process in tree:
        try:
            for connection in process.net_connections(kind="tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    found.add(connection.laddr.port)
        except psutil.Error:
            continue
    return found


def test_a_real_vite_listens_on_the_port_styxy_gave(styxy, vite_app):
    running = start(styxy, "run", "-s", "dev", "-n", "web", "--", "npx", "vite", cwd=vite_app, group=True)
    try:
        said = running.err.wait_for(lambda line: line.startswith("styxy: appended "), timeout=60)
        lease = next(x for x in styxy("list", "--json").json()["leases"] if x["name"] == "web")
        port = lease["port"]
        assert said == f"styxy: appended --port {port} --strictPort to vite"
        eventually(lambda: port in _listening_ports(running.process.pid), timeout=60)
        # The page comes from this Vite, on styxy's port, and nothing of its tree took 5173.
        with socket.create_connection(("localhost", port), timeout=5) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert b"vite under styxy" in answer and b"/@vite/client" in answer
        assert _listening_ports(running.process.pid) == {port}
    finally:
        # Ctrl-C as a terminal sends it: to the whole job (npx does not pass a signal on).
        code = stop(running, signal.SIGINT, timeout=30)
    assert code == 130
    assert styxy("list", "--json").json() == {"leases": []}


def test_a_real_vite_behind_the_proxy_with_its_hot_reload_socket(styxy, vite_app):
    """The name reaches Vite (which accepts `.localhost` hosts), and Vite's hot-reload
    WebSocket (subprotocol vite-hmr, with the token its client script carries) upgrades through
    Caddy and delivers Vite's first message."""
    port = proxy_port()
    host = "web.shop.localhost"
    with proxy(styxy, port):
        running = start(
            styxy, "run", "-s", "dev", "-i", "shop", "-n", "web", "--", "npx", "vite",
            cwd=vite_app, group=True,
        )
        try:
            eventually(lambda: b"vite under styxy" in _get(port, host, "/"), timeout=60, step=0.2)
            client = _get(port, host, "/@vite/client").decode()
            token = re.search(r'const wsToken = "([^"]+)"', client)
            assert token is not None, client[:500]
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    f"GET /?token={token[1]} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Protocol: vite-hmr\r\n\r\n".encode()
                )
                head = read_until(sock, b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 101 "), head
                assert b"sec-websocket-protocol: vite-hmr" in head.lower()
                first, size = read_exactly(sock, 2)
                assert first == 0x81 and size < 126  # one unmasked text frame from the server
                assert json.loads(read_exactly(sock, size)) == {"type": "connected"}
        finally:
            stop(running, signal.SIGINT, timeout=30)


def _get(port: int, host: str, path: str) -> bytes:
    """The body of GET `path` through the proxy with `Host: host` (empty on any failure)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    except OSError:
        return b""
    head, _, body = answer.partition(b"\r\n\r\n")
    return body if head.startswith(b"HTTP/1.1 200") else b""

