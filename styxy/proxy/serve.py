"""`styxy proxy`: lease the ports, start Caddy, keep its routes in step with the leases.

The loop looks at the lease file's stamp a few times a second (a `stat`, no read) and builds
the routes again only when it changed, or every few seconds anyway, since a holder that dies
makes no write; it pushes a config to Caddy only when the config differs from the last one.
SIGINT and SIGTERM stop Caddy and end styxy's leases.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styxy import api, paths
from styxy.api import urls
from styxy.errors import EXIT_INTERRUPTED, RefusedError, StyxyError
from styxy.proxy import config as caddy_config
from styxy.proxy.caddy import Caddy, find

POLL_SECONDS = 0.3
# A lease whose holder died changes nothing on disk until a writer reaps it; looking again this
# often drops its route (and adds one for a port that started listening) without a write.
REFRESH_SECONDS = 2.0
LOOPBACK = "127.0.0.1"
# Where Caddy keeps its internal CA's root certificate, under its XDG data folder.
CA_ROOT = Path("data", "caddy", "pki", "authorities", "local", "root.crt")

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Listening:
    """Where the proxy answers, once Caddy has its first config."""

    url: str
    proxy: urls.Proxy
    ca_root: Path | None  # the internal CA's root certificate to trust, with --https


def serve(
    *,
    port: int = urls.DEFAULT_PROXY_PORT,
    https: bool = False,
    doc: str | os.PathLike[str] | None = None,
    announce: Callable[[Listening], None],
    notify: Notify,
) -> int:
    """Serve until SIGINT or SIGTERM; the exit code is the signal's (130, 143)."""
    program = find()
    _check_free(port, doc)
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop.on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    leases: list[str] = []
    caddy: Caddy | None = None
    try:
        admin = _lease(urls.ADMIN_NAME, None, doc, notify, leases)
        name = urls.PROXY_HTTPS_NAME if https else urls.PROXY_NAME
        own = _lease(name, port, doc, notify, leases)
        if own != port:
            raise RefusedError(
                f"port {port} could not be leased for the proxy; choose another with --port."
            )
        home = paths.data_dir() / "caddy"
        caddy = Caddy(program, f"{LOOPBACK}:{admin}", home, notify)
        caddy.wait_ready()
        proxy = urls.Proxy(port, https)
        keeper = _Keeper(caddy, proxy, _listen_hosts(), doc, notify)
        keeper.push(force=True, tell=False)
        ca = home / CA_ROOT if https else None
        announce(Listening(proxy.url(urls.DIRECT_HOST), proxy, ca))
        keeper.tell({})  # the first routes, said after the address they hang off
        return keeper.run(stop)
    finally:
        if caddy is not None:
            caddy.stop()
        for lock_id in leases:
            _release(lock_id, doc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stop:
    """The signal that ends the proxy; the loop notices it within one poll."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum
        self.event.set()

    @property
    def code(self) -> int:
        return EXIT_INTERRUPTED if self.signum == signal.SIGINT else 128 + (self.signum or 0)


class _Keeper:
    """Builds the config from the running leases and pushes it when it changed."""

    def __init__(
        self,
        caddy: Caddy,
        proxy: urls.Proxy,
        listen: tuple[str, ...],
        doc: str | os.PathLike[str] | None,
        notify: Notify,
    ) -> None:
        self.caddy = caddy
        self.proxy = proxy
        self.listen = listen
        self.doc = doc
        self.notify = notify
        self.pushed: dict[str, Any] | None = None
        self.hosts: dict[str, int] = {}

    def push(self, *, force: bool = False, tell: bool = True) -> None:
        routes = urls.routes(urls.running(doc=self.doc))
        config = caddy_config.build(
            admin=self.caddy.admin, proxy=self.proxy, listen=self.listen, routes=routes
        )
        if config == self.pushed and not force:
            return
        self.caddy.load(config)
        self.pushed = config
        before, self.hosts = self.hosts, {r.host: r.port for r in routes}
        if tell:
            self.tell(before)

    def tell(self, before: dict[str, int]) -> None:
        """One line per host that went (`-`) or came or moved (`+`) since `before`."""
        for host in sorted(before.keys() - self.hosts.keys()):
            self.notify(f"- {self.proxy.url(host)}")
        for host, port in sorted(self.hosts.items()):
            if before.get(host) != port:
                self.notify(f"+ {self.proxy.url(host)} -> port {port}")

    def run(self, stop: _Stop) -> int:
        stamp = urls.lease_stamp(doc=self.doc)
        looked = time.monotonic()
        while not stop.event.wait(POLL_SECONDS):
            code = self.caddy.exited()
            if code is not None:
                raise RefusedError(f"caddy exited (code {code}): {self.caddy.last_words()}.")
            now_stamp = urls.lease_stamp(doc=self.doc)
            if now_stamp == stamp and time.monotonic() - looked < REFRESH_SECONDS:
                continue
            stamp, looked = now_stamp, time.monotonic()
            try:
                self.push()
            except StyxyError as exc:
                # A lease file being replaced, a document being edited: the routes stay as
                # they were, and the next change tries again.
                self.notify(f"routes not updated: {exc.message}")
        return stop.code


def _check_free(port: int, doc: str | os.PathLike[str] | None) -> None:
    """Refuse a port something listens on or another lease holds, in one sentence."""
    found = api.check(port, doc=doc)
    if found.free:
        return
    if found.listeners:
        first = found.listeners[0]
        who = f"process {first.pid} ({first.process or '?'})" if first.pid else "another program"
        raise RefusedError(f"port {port} is in use by {who}; choose another with --port.")
    if found.lease is not None:
        held = found.lease
        raise RefusedError(
            f"port {port} is leased to '{held.serviceType}' {held.name or held.instanceId!r} "
            f"(process {held.pid}); choose another with --port."
        )
    raise RefusedError(f"port {port} is in use; choose another with --port.")


def _lease(
    name: str,
    port: int | None,
    doc: str | os.PathLike[str] | None,
    notify: Notify,
    taken: list[str],
) -> int:
    """Lease a port of type `proxy` for this process; a second proxy of the instance is refused."""
    result = api.allocate(
        urls.PROXY_TYPE, name=name, port=port, pid=os.getpid(), source="cli", doc=doc, notify=notify
    )
    lease = result.lease
    if result.existing:
        raise RefusedError(
            f"a styxy proxy already runs (process {lease.pid}, lease {name!r} on port "
            f"{lease.port}); stop it first."
        )
    taken.append(lease.lockId)
    return lease.port


def _release(lock_id: str, doc: str | os.PathLike[str] | None) -> None:
    try:
        api.release(lock_id, doc=doc)
    except StyxyError:
        pass  # ended meanwhile by `styxy release` or cleanup


def _listen_hosts() -> tuple[str, ...]:
    """127.0.0.1, and ::1 when the machine has it: browsers try both for `*.localhost`."""
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return (LOOPBACK,)
    try:
        probe.bind(("::1", 0))
    except OSError:
        return (LOOPBACK,)
    finally:
        probe.close()
    return (LOOPBACK, "[::1]")
