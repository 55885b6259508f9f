"""`styxy proxy` for real: Caddy started by styxy on loopback, servers under `styxy run`,
requests with the right `Host`, a WebSocket echo, HTTP/2, HTTPS from Caddy's internal CA."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import time
from pathlib import Path

from proxy_support import (
    eventually,
    get,
    port_of,
    proxy,
    proxy_port,
    read_exactly,
    read_until,
    served,
    start,
    stop,
)


def test_each_name_reaches_its_server_and_an_unknown_one_lists_the_live_names(styxy):
    port = proxy_port()
    with proxy(styxy, port) as running, served(styxy, "web", "feature") as web_feature, served(
        styxy, "web", "main"
    ) as web_main, served(styxy, "api", "feature") as api:
        eventually(lambda: get(port, "api.localhost")[0] == 200)
        a, b, c = port_of(web_feature), port_of(web_main), port_of(api)
        assert get(port, "web.feature.localhost") == (200, f"web on {a}\nHost: web.feature.localhost:{port}\n")
        assert get(port, "web.main.localhost") == (200, f"web on {b}\nHost: web.main.localhost:{port}\n")
        assert get(port, "api.feature.localhost")[1].startswith(f"api on {c}\n")
        # One instance has `api`: its short name works. Two have `web`: the short name is
        # ambiguous, so it is no route, and the 404 says which names are.
        assert get(port, "api.localhost")[1].startswith(f"api on {c}\n")
        assert get(port, "web.localhost") == (
            404,
            "styxy proxy: no running service is named web.localhost.\n"
            "\n"
            "Live names:\n"
            f"  http://api.feature.localhost:{port}/ -> port {c} (dev, instance feature)\n"
            f"  http://api.localhost:{port}/ -> port {c} (dev, instance feature)\n"
            f"  http://web.feature.localhost:{port}/ -> port {a} (dev, instance feature)\n"
            f"  http://web.main.localhost:{port}/ -> port {b} (dev, instance main)\n",
        )
        # Each name that came is said on stderr, with its port.
        running.err.wait_for(lambda line: line == f"styxy: + http://api.localhost:{port}/ -> port {c}")
        assert running.err.lines[:2] == [
            "styxy: routes follow the leases; Ctrl-C stops",
            f"styxy: + http://web.feature.localhost:{port}/ -> port {a}",
        ]
        # The address `styxy proxy` prints lists the same names, as a page that exists.
        status, body = get(port, "localhost")
        assert status == 200
        assert body.startswith(f"styxy proxy on port {port}.\n\nLive names:\n")
        assert body.endswith(f"  http://web.main.localhost:{port}/ -> port {b} (dev, instance main)\n")


def test_a_released_lease_leaves_the_routes_within_a_second(styxy):
    port = proxy_port()
    with proxy(styxy, port) as running, served(styxy, "web", "feature"):
        eventually(lambda: get(port, "web.feature.localhost")[0] == 200)
        done = styxy("release", "-s", "dev", "-i", "feature", "-n", "web")
        assert done.code == 0
        # The server still runs: only the lease ended, and with it the name.
        took = eventually(lambda: get(port, "web.feature.localhost")[0] == 404, timeout=5)
        assert took < 1.0
        assert get(port, "web.feature.localhost")[1].endswith(
            "No running service has a name; start one with: styxy run -s TYPE -n NAME -- CMD\n"
        )
        running.err.wait_for(lambda line: line == f"styxy: - http://web.feature.localhost:{port}/")


def test_a_websocket_upgrade_passes_through(styxy):
    port = proxy_port()
    with proxy(styxy, port), served(styxy, "hmr", "feature"):
        eventually(lambda: get(port, "hmr.feature.localhost")[0] == 200)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall(
                f"GET /ws HTTP/1.1\r\nHost: hmr.feature.localhost:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            head = read_until(sock, b"\r\n\r\n")
            accept = base64.b64encode(
                hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
            ).decode()
            assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
            assert f"Sec-Websocket-Accept: {accept}".lower().encode() in head.lower()
            for text in ("ping", "hot reload"):
                sock.sendall(_masked_text_frame(text))
                assert _read_frame(sock) == f"hmr echoes {text}"


def test_http2_passes_through_without_tls(styxy):
    port = proxy_port()
    with proxy(styxy, port), served(styxy, "web", "feature") as web:
        eventually(lambda: get(port, "web.feature.localhost")[0] == 200)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # HTTP/2 with prior knowledge (h2c): the preface, an empty SETTINGS frame, and one
            # GET on stream 1 whose headers are literal HPACK fields (no Huffman, no table).
            sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0, b""))
            authority = f"web.feature.localhost:{port}".encode()
            block = b"\x82\x86\x84" + b"\x01" + bytes([len(authority)]) + authority
            sock.sendall(_frame(1, 0x5, 1, block))  # HEADERS, END_STREAM | END_HEADERS
            body = b""
            while True:
                kind, flags, stream, payload = _read_h2_frame(sock)
                if kind == 4 and not flags & 1:
                    sock.sendall(_frame(4, 1, 0, b""))  # acknowledge the server's SETTINGS
                if kind == 0 and stream == 1:
                    body += payload
                    if flags & 1:  # END_STREAM
                        break
            assert body.decode().startswith(f"web on {port_of(web)}\n")


def test_https_uses_caddys_internal_ca(styxy, home):
    port = proxy_port()
    with proxy(styxy, port, "--https") as running, served(styxy, "web", "feature") as web:
        root = home / "styxy-data" / "caddy" / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        assert running.out.lines == [f"https://localhost:{port}/"]
        running.err.wait_for(
            lambda line: line
            == "styxy: HTTPS from Caddy's internal CA; to trust it, add "
            "~/styxy-data/caddy/data/caddy/pki/authorities/local/root.crt to your browser or "
            "system (docs/PROXY.md)"
        )
        context = ssl.create_default_context(cafile=str(root))

        def fetch() -> tuple[int, str]:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="web.feature.localhost") as tls:
                    tls.sendall(
                        f"GET / HTTP/1.1\r\nHost: web.feature.localhost:{port}\r\nConnection: close\r\n\r\n".encode()
                    )
                    answer = b""
                    while chunk := tls.recv(65536):
                        answer += chunk
            head, _, body = answer.partition(b"\r\n\r\n")
            return int(head.split()[1]), body.decode()

        eventually(lambda: fetch()[0] == 200, timeout=15)
        assert fetch()[1].startswith(f"web on {port_of(web)}\n")
        assert styxy("url", "web", "-i", "feature").out == f"https://web.feature.localhost:{port}/\n"


def test_sigterm_stops_caddy_and_ends_the_proxys_leases(styxy):
    port = proxy_port()
    running = start(styxy, "proxy", "--port", str(port))
    try:
        running.out.wait_for(lambda line: line == f"http://localhost:{port}/")
        leases = styxy("list", "--json").json()["leases"]
        assert sorted((x["serviceType"], x["name"]) for x in leases) == [
            ("proxy", "caddy"),
            ("proxy", "caddy-admin"),
        ]
        admin = next(x["port"] for x in leases if x["name"] == "caddy-admin")
        assert next(x["port"] for x in leases if x["name"] == "caddy") == port
        # The admin API answers on loopback, and the routes arrived through it.
        config = _admin_config(admin)
        assert config["apps"]["http"]["servers"]["styxy"]["listen"][0] == f"127.0.0.1:{port}"
    finally:
        code = stop(running, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert styxy("list", "--json").json() == {"leases": []}
    assert _refused(port) and _refused(admin)


def test_ctrl_c_stops_with_130(styxy):
    port = proxy_port()
    running = start(styxy, "proxy", "--port", str(port), "--json")
    try:
        first = running.out.wait_for(lambda line: line.startswith("{"))
        assert json.loads(first) == {
            "url": f"http://localhost:{port}/",
            "port": port,
            "https": False,
            "caRoot": None,
        }
    finally:
        code = stop(running, signal.SIGINT)
    assert code == 130
    assert styxy("list", "--json").json() == {"leases": []}
    assert _refused(port)


def test_a_busy_port_is_one_sentence_and_leaves_no_lease(styxy):
    port = proxy_port()
    with socket.socket() as busy:
        # SO_REUSEADDR as real servers set it: the tests before may leave the port in TIME_WAIT.
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        done = styxy("proxy", "--port", str(port))
    assert done.code == 1
    assert done.err.startswith(f"styxy: port {port} is in use by process {os.getpid()} (")
    assert done.err.endswith("); choose another with --port.\n")
    assert done.out == ""
    assert styxy("list", "--json").json() == {"leases": []}


def test_without_caddy_it_says_how_to_get_it(styxy, tmp_path: Path):
    done = styxy("proxy", "--port", str(proxy_port()), env={"STYXY_CADDY": str(tmp_path / "caddy")})
    assert done.code == 1
    assert done.err == (
        f"styxy: styxy proxy needs Caddy, and {str(tmp_path / 'caddy')!r} is not on PATH: install "
        "it (apt-get install caddy) or set STYXY_CADDY to your own caddy.\n"
    )
    assert styxy("list", "--json").json() == {"leases": []}


def _admin_config(admin: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", admin, timeout=5)
    try:
        connection.request("GET", "/config/")
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _refused(port: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False



def _masked_text_frame(text: str) -> bytes:
    data = text.encode()
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def _read_frame(sock: socket.socket) -> str:
    first, second = read_exactly(sock, 2)
    assert first == 0x81 and second < 126
    return read_exactly(sock, second).decode()


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _read_h2_frame(sock: socket.socket) -> tuple[int, int, int, bytes]:
    head = read_exactly(sock, 9)
    size = int.from_bytes(head[:3], "big")
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, read_exactly(sock, size)


def test_caddy_does_not_outlive_a_killed_styxy(styxy):
    port = proxy_port()
    running = start(styxy, "proxy", "--port", str(port))
    try:
        running.out.wait_for(lambda line: line == f"http://localhost:{port}/")
        admin = next(
            x["port"] for x in styxy("list", "--json").json()["leases"] if x["name"] == "caddy-admin"
        )
    finally:
        code = stop(running, signal.SIGKILL)
    assert code == -signal.SIGKILL
    # Caddy got SIGTERM from the kernel when its parent died, and stopped serving both ports.
    assert _refused(port) and _refused(admin)
