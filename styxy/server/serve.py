"""`styxy serve`: check the host and port, make the token, lease the port, listen, and run
until a signal.

The sockets are bound here rather than by Uvicorn, so a port in use is one sentence and
exit 1 instead of a log line, and the URL is printed only once the server can answer it.
The server is a service like any other: it holds a lease on its own port (type
`coordination`, name `serve`) from before it listens until it stops.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from styxy.errors import NotFoundError, RefusedError, UsageError
from styxy.server import hosts
from styxy.vocabulary import MAX_PORT

if TYPE_CHECKING:
    from styxy.api.records import Lease

DEFAULT_PORT = 9876
BACKLOG = 2048
# The server's own lease: the row of the shipped document for styxy's own services.
LEASE_TYPE = "coordination"
LEASE_NAME = "serve"


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
    refuse_if_taken(host, port, where.doc)  # before the token file: a refusal writes nothing
    token_file = where.sidecar / "token"
    token = load_or_create(token_file)
    # From the lease on, a SIGTERM before Uvicorn takes the signals over (it puts these handlers
    # back when it stops, and raises the signal it caught again) unwinds through the release
    # below instead of killing the process with the lease left for the grace period. SIGINT
    # likewise, also when the parent ignored it (a job started with `&` from a script): Uvicorn
    # stops on it once it serves, so it must not be lost in the moment before.
    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, _terminated),
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
    }
    caught: list[int] = []
    # Leased before the sockets listen: the core counts a port something listens on as taken.
    lock_id = take_lease(host, port, where.doc)
    try:
        sockets = bind(addresses, port)
        release = _releaser(lock_id, where.doc)
        app = create_app(
            Served(doc=where.doc, token=token, port=port, holder=os.getpid(), lease=lock_id),
            lifespan=_holding(release),
        )
        server = uvicorn.Server(_config(uvicorn, app))
        # From here on a signal must neither be lost nor raised inside the event loop's
        # construction (an exception there is printed, not handled): it asks Uvicorn to stop,
        # which it does at its first tick when the request came before it took the signals.
        for signum in previous:
            signal.signal(signum, _stopping(server, caught))
        announce(
            Listening(f"http://{hosts.url_host(host)}:{port}/#token={token}", where.doc, token_file)
        )
        # Uvicorn finishes the requests under way on SIGINT or SIGTERM, ends the lifespan
        # (which releases the lease), puts our handlers back and raises the signal again.
        server.run(sockets=sockets)
    except Terminated:
        caught.append(signal.SIGTERM)
    finally:
        # Whatever stopped it before the lifespan ended (a bind that failed, a crash, a signal).
        _releaser(lock_id, where.doc)()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    # The signal then ends the process as it would have: exit 130 after Ctrl-C, killed by
    # SIGTERM otherwise.
    if signal.SIGINT in caught:
        raise KeyboardInterrupt
    if caught:
        signal.raise_signal(signal.SIGTERM)


def _stopping(server: Any, caught: list[int]) -> Callable[[int, object], None]:
    def stop(signum: int, _frame: object) -> None:
        caught.append(signum)
        server.should_exit = True

    return stop


class Terminated(BaseException):
    """SIGTERM arrived while the server held its lease (a BaseException, as Ctrl-C's is)."""


def _terminated(_signum: int, _frame: object) -> None:
    raise Terminated


def _config(uvicorn: ModuleType, app: Any) -> Any:
    """Uvicorn's settings: loopback clients that idle or send half a request are closed after
    a few seconds, and open connections are bounded (see `styxy.server.guard`)."""
    from styxy.server.app import SECURITY_HEADERS
    from styxy.server.guard import MAX_HEAD_BYTES, REQUEST_SECONDS, with_headers

    return uvicorn.Config(
        app,
        backlog=BACKLOG,
        lifespan="on",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        http=with_headers(SECURITY_HEADERS),
        timeout_keep_alive=int(REQUEST_SECONDS),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )


def take_lease(host: str, port: int, doc: Path) -> str:
    """Lease `port` for this process as (coordination, the instance, serve); its lock id.

    A port the core would not give (it lies in another type's range, a server of this
    instance already runs, or it was taken since `refuse_if_taken` looked) is refused in one
    sentence.
    """
    from styxy import api

    try:
        made = api.allocate(
            LEASE_TYPE, name=LEASE_NAME, port=port, pid=os.getpid(), source="api", doc=doc
        )
    except RefusedError as exc:
        raise RefusedError(f"styxy serve leases its port as service type '{LEASE_TYPE}': {exc}") from None
    lease = made.lease
    if made.existing:
        # Another server of this instance holds its lease: never ours to end.
        raise RefusedError(
            f"styxy serve already runs for this document on port {lease.port} "
            f"(process {lease.pid}); stop it first, or give this one its own STYXY_INSTANCE_ID."
        )
    if lease.port != port:  # taken between the look and the lock
        api.release(lease.lockId, doc=doc)
        raise RefusedError(_taken(host, port, "another lease holds it" if made.port_refusal == "leased" else None))
    return lease.lockId


def refuse_if_taken(host: str, port: int, doc: Path) -> None:
    """A look without the lock: a port leased or listened on is refused before any write.

    Except the lease of a server of this instance that was killed outright (its holder dead,
    nothing listening, the lease still within its grace period): this server is the same
    service started again, and takes that lease over at once, as `allocate` does for the same
    identity, instead of refusing its own port until the grace period ends.
    """
    from styxy import api

    seen = api.check(port, doc=doc)
    if seen.free or (seen.lease is not None and _dead_server_of_ours(seen.lease, doc)):
        return
    raise RefusedError(_taken(host, port, "another lease holds it" if seen.lease else None))


def _dead_server_of_ours(lease: Lease, doc: Path) -> bool:
    """Whether `lease` is this instance's server lease, its holder gone and its port silent."""
    from styxy import api

    if (lease.serviceType, lease.instanceId, lease.name) != (
        LEASE_TYPE, api.default_instance_id(), LEASE_NAME
    ):
        return False
    try:
        # `use` answers only for a running service: a live holder, or a port listened on.
        api.use(port=lease.port, doc=doc)
    except NotFoundError:
        return True
    return False


def _taken(host: str, port: int, why: str | None) -> str:
    # Something that listens is said as bind() would say it.
    return (
        f"cannot listen on {hosts.url_host(host)}:{port} ({why or 'Address already in use'}); "
        "choose another port with --port."
    )


def _releaser(lock_id: str, doc: Path) -> Callable[[], None]:
    def release() -> None:
        from styxy import api

        with contextlib.suppress(NotFoundError):
            api.release(lock_id, doc=doc)

    return release


def _holding(release: Callable[[], None]) -> Callable[[Any], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan: the lease ends when the server stops, before a signal ends it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(release)

    return lifespan


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
