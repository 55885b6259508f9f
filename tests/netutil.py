"""Real sockets for tests: listeners on loopback, and the port a probe finds free."""

from __future__ import annotations

import socket
from collections.abc import Iterable


def busy(port: int) -> bool:
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::1"), (socket.AF_INET6, "::")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError:
            return True
        finally:
            s.close()
    return False


def first_free(candidates: Iterable[int], skip: Iterable[int] = ()) -> int:
    skipped = set(skip)
    for port in candidates:
        if port not in skipped and not busy(port):
            return port
    raise AssertionError("no free candidate")


def listen(port: int, host: str = "127.0.0.1") -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    # As real servers do: a connection of an earlier test still in TIME-WAIT on this port must
    # not stop the listener (Linux still refuses a second listener on the same address).
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen()
    return s
