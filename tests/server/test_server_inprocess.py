"""In-process parts on real files and sockets: the token file, the listening sockets."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from styxy.server.token import load_or_create


def test_a_new_token_is_private_and_url_safe(tmp_path: Path) -> None:
    token = load_or_create(tmp_path / "token")
    assert (tmp_path / "token").read_bytes() == token.encode() + b"\n"
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600
    assert len(token) == 43 and set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )
    # Nothing left behind but the token and the .gitignore that keeps it out of git.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", "token"]
    assert load_or_create(tmp_path / "token") == token
    assert load_or_create(tmp_path / "other") != token


def test_a_token_is_never_written_where_git_would_see_it(tmp_path: Path) -> None:
    sidecar = tmp_path / "project" / ".styxy"
    load_or_create(sidecar / "token")
    assert (sidecar / ".gitignore").read_bytes() == b"*\n"
    (sidecar / ".gitignore").write_bytes(b"*\n# kept\n")
    (sidecar / "token").unlink()
    load_or_create(sidecar / "token")
    assert (sidecar / ".gitignore").read_bytes() == b"*\n# kept\n"


def test_servers_starting_together_agree_on_one_token(tmp_path: Path) -> None:
    found: list[str] = []
    gate = threading.Barrier(8)

    def start() -> None:
        gate.wait()
        found.append(load_or_create(tmp_path / "token"))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1
    assert (tmp_path / "token").read_text() == found[0] + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", "token"]


def test_the_listening_sockets_say_tcp_so_asyncio_turns_nagle_off() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; without it every
    response written in two parts waited 40 ms for the client's delayed ACK."""
    import socket

    from styxy.server.serve import bind

    sockets = bind(("127.0.0.1",), 0)
    try:
        assert [s.proto for s in sockets] == [socket.IPPROTO_TCP]
    finally:
        for sock in sockets:
            sock.close()


def test_the_wheel_ships_the_dashboard(tmp_path: Path) -> None:
    import subprocess
    import sys
    import zipfile

    from support import ROOT

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("styxy-*.whl")
    shipped = zipfile.ZipFile(wheel)
    for name in ("index.html", "dashboard.js", "dashboard.css"):
        source = ROOT / "styxy" / "server" / "static" / name
        assert shipped.read(f"styxy/server/static/{name}") == source.read_bytes()


def test_an_internal_error_is_a_500_that_still_carries_the_security_headers() -> None:
    """A document path no file system accepts fails below every refusal styxy knows: the
    answer is a 500 in the one error shape, with the headers every answer has."""
    import os

    from starlette.testclient import TestClient

    from styxy.server.app import SECURITY_HEADERS, create_app
    from styxy.server.routes import Served

    token = "t" * 43
    app = create_app(Served(doc=Path("/tmp/nul\0.md"), token=token, port=9876, holder=os.getpid()))
    client = TestClient(app, base_url="http://127.0.0.1:9876", raise_server_exceptions=False)
    answer = client.get("/ranges", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error (ValueError: embedded null byte).", "code": 1}
    for key, value in SECURITY_HEADERS.items():
        assert answer.headers[key] == value
