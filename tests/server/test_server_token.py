"""The token file in-process, on real files: made once, never replaced, never shared."""

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
    # Nothing left behind but the token itself.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]
    assert load_or_create(tmp_path / "token") == token
    assert load_or_create(tmp_path / "other") != token


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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token"]
