"""`styxy serve`: check the host and port, make the token, listen, and run until a signal.

The sockets are bound here rather than by Uvicorn, so a port in use is one sentence and
exit 1 instead of a log line, and the URL is printed only once the server can answer it.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from styxy.errors import RefusedError, UsageError
from styxy.server import hosts
from styxy.vocabulary import MAX_PORT

DEFAULT_PORT = 9876
BACKLOG = 2048


@dataclass(frozen=True)
class Listening:
    """Where the server answers: the URL to open (token in the fragment) and the document."""

    url: str
    doc: Path
    token_file: Path


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    doc: str | os.PathLike[str] | None = None,
    announce: Callable[[Listening], None],
    notify: Callable[[str], None],
) -> None:
    """Serve until SIGINT or SIGTERM; `announce` is called once the sockets listen."""
    addresses = hosts.check_listen_host(host)
    if not 1 <= port <= MAX_PORT:
        raise UsageError(f"--port {port} is outside 1..{MAX_PORT}.")
    uvicorn = _server_stack()
    from styxy import api, paths
    from styxy.server.app import create_app
    from styxy.server.routes import Served
    from styxy.server.token import load_or_create

    where = paths.resolve(doc)
    # One writer's pass through the core first (a dry run: it reaps nothing): the server is a
    # writer, so like `allocate` it makes the default document on first use and the sidecar
    # with its .gitignore, refuses a `--doc` that does not exist or a broken lease file, and
    # all of it before anything listens. A document with errors does not stop it: reads
    # still work, and allocations say what is wrong (SPEC section 10).
    # `doc` as given (None for the default location), so the first-use rule is the core's.
    api.cleanup(dry_run=True, doc=doc, notify=notify)
    token_file = where.sidecar / "token"
    token = load_or_create(token_file)
    sockets = bind(addresses, port)
    app = create_app(Served(doc=where.doc, token=token, port=port, holder=os.getpid()))
    config = uvicorn.Config(
        app,
        backlog=BACKLOG,
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    announce(Listening(f"http://{hosts.url_host(host)}:{port}/#token={token}", where.doc, token_file))
    # Uvicorn finishes the requests under way on SIGINT or SIGTERM, then lets the signal end
    # the process as it would have (exit 130 after Ctrl-C, killed by SIGTERM otherwise).
    uvicorn.Server(config).run(sockets=sockets)


def _server_stack() -> ModuleType:
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        from styxy.api.extras import missing_extra

        raise missing_extra("server") from None
    return uvicorn


def bind(addresses: tuple[str, ...], port: int) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    try:
        for address in addresses:
            # `localhost` listens on ::1 too when the machine has IPv6; 127.0.0.1 it must have.
            made = _bind_one(address, port, required=address == addresses[0])
            if made is not None:
                sockets.append(made)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_one(address: str, port: int, *, required: bool) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        # IPPROTO_TCP spelled out: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
        # proto says TCP, and with Nagle on, a response written in two parts waits for the
        # client's delayed ACK, 40 ms on every request.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except OSError:
        if required:
            raise RefusedError(f"cannot listen on {address}: this machine has no such address.") from None
        return None  # localhost without IPv6: 127.0.0.1 alone
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        # Listening now, so a client that reads the URL and connects at once waits in the
        # backlog until Uvicorn accepts, instead of being refused.
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if not required and exc.errno == errno.EADDRNOTAVAIL:  # no ::1 on this machine
            return None
        raise RefusedError(
            f"cannot listen on {hosts.url_host(address)}:{port} ({exc.strerror}); "
            "choose another port with --port."
        ) from None
    return sock
