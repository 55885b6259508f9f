"""Names instead of numbers (SPEC section 22): the `.localhost` URL of every named lease.

A lease named `web` of instance `feature` is `http://web.feature.localhost:1355/` while a
`styxy proxy` serves port 1355, and `http://web.localhost:1355/` too when no other instance
has a lease named `web`. Every front end asks here: the proxy for the routes it pushes to
Caddy, `styxy url`, `styxy env` for NAME_PUBLIC_URL, the MCP `use_service` tool and the
dashboard's lease rows, so they can never disagree on a host name.

The running proxy is itself a lease (type `proxy`, name `caddy` or `caddy-https`), which is
how every reader learns its port and scheme without asking it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence

from styxy import paths
from styxy.errors import NotFoundError, RefusedError
from styxy.records import record
from styxy.store.leases import Lease

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

PROXY_TYPE = "proxy"
PROXY_NAME = "caddy"
PROXY_HTTPS_NAME = "caddy-https"
ADMIN_NAME = "caddy-admin"
# The proxy's own leases are never routed: Caddy would forward to itself, and its admin API
# must only ever be reached on its own loopback address.
OWN_NAMES = frozenset({PROXY_NAME, PROXY_HTTPS_NAME, ADMIN_NAME})
DEFAULT_PROXY_PORT = 1355
SUFFIX = "localhost"
DIRECT_HOST = "localhost"
# A DNS label: browsers and curl resolve every name under `.localhost` to loopback, but only
# labels of letters, digits and inner hyphens, 63 at most (RFC 1035, RFC 6761).
_NOT_LABEL = re.compile(r"[^a-z0-9-]+")
LABEL_LIMIT = 63

Notify = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def label(text: str) -> str | None:
    """`Web_UI` -> `web-ui`; None when nothing of it can be a host name label.

    Names and instance ids may hold `.`, `_`, `@`, `/`, upper case (SPEC section 7): each run
    of such characters becomes one `-`, so `my.app` never turns into two labels.
    """
    word = _NOT_LABEL.sub("-", text.lower()).strip("-")[:LABEL_LIMIT].strip("-")
    return word or None


@record
class Proxy:
    """A running `styxy proxy`: where it listens and whether it speaks TLS."""

    port: int
    https: bool

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"

    def url(self, host: str) -> str:
        return f"{self.scheme}://{host}:{self.port}/"


ASSUMED_PROXY = Proxy(DEFAULT_PROXY_PORT, https=False)


@record
class Route:
    """One host name the proxy answers, and the lease it forwards to."""

    host: str
    lease: Lease
    short: bool  # `NAME.localhost`, given only while one instance has the name

    @property
    def port(self) -> int:
        return self.lease.port


def full_host(lease: Lease) -> str | None:
    """`NAME.INSTANCE.localhost`, or None for a lease without a usable name."""
    name, instance = label(lease.name), label(lease.instanceId)
    if name is None or instance is None:
        return None
    return f"{name}.{instance}.{SUFFIX}"


def routable(lease: Lease) -> bool:
    """A named lease that is not the proxy's own."""
    if lease.serviceType == PROXY_TYPE and lease.name in OWN_NAMES:
        return False
    return full_host(lease) is not None


def routes(leases: Iterable[Lease]) -> tuple[Route, ...]:
    """Every host the proxy serves for these (running) leases, sorted by host.

    Two leases that would get the same host (one instance with `web` of two types, or names
    that differ only in case or punctuation) give it to the older one, so the name keeps
    pointing where it pointed. The short `NAME.localhost` exists while exactly one instance
    has leases named NAME.
    """
    by_host: dict[str, Lease] = {}
    for lease in sorted((x for x in leases if routable(x)), key=lambda x: (x.createdAt, x.lockId)):
        host = full_host(lease)
        assert host is not None
        by_host.setdefault(host, lease)
    instances: dict[str, set[str]] = {}
    for host in by_host:
        name, instance = host.split(".")[:2]
        instances.setdefault(name, set()).add(instance)
    found = [Route(host, lease, short=False) for host, lease in by_host.items()]
    for host, lease in by_host.items():
        name = host.split(".")[0]
        if len(instances[name]) == 1:
            found.append(Route(f"{name}.{SUFFIX}", lease, short=True))
    # A short host can equal no full one (it has one label fewer), so no host is given twice.
    return tuple(sorted(found, key=lambda r: r.host))


def running_proxy(leases: Iterable[Lease]) -> Proxy | None:
    """The proxy a running `styxy proxy` serves, from its lease; the oldest when several run."""
    own = [
        x
        for x in leases
        if x.serviceType == PROXY_TYPE and x.name in (PROXY_NAME, PROXY_HTTPS_NAME)
    ]
    if not own:
        return None
    first = min(own, key=lambda x: (x.createdAt, x.lockId))
    return Proxy(first.port, https=first.name == PROXY_HTTPS_NAME)


def direct_url(port: int) -> str:
    return f"http://{DIRECT_HOST}:{port}/"


@record
class ServiceUrl:
    """What `styxy url` answers: the name's URL, the port's URL, and whether a proxy runs."""

    lease: Lease
    url: str
    direct_url: str
    proxied: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.lease.name,
            "instanceId": self.lease.instanceId,
            "serviceType": self.lease.serviceType,
            "port": self.lease.port,
            "url": self.url,
            "directUrl": self.direct_url,
            "proxied": self.proxied,
        }


def url_of(lease: Lease, proxy: Proxy | None) -> str | None:
    """The name's URL of a lease (`http://web.feature.localhost:1355/`); None when unnamed.

    Without a running proxy it is the URL the default proxy would serve: a name is stable, and
    a caller who wants what answers now asks for `direct_url` (docs/PROXY.md).
    """
    host = full_host(lease) if routable(lease) else None
    if host is None:
        return None
    return (proxy or ASSUMED_PROXY).url(host)


def fields_of(lease: Lease, proxy: Proxy | None) -> dict[str, Any]:
    """The fields a lease's JSON gains where a front end shows URLs (MCP, the dashboard)."""
    return {
        "url": url_of(lease, proxy),
        "directUrl": direct_url(lease.port),
        "proxied": proxy is not None,
    }


def lease_json(lease: Lease, *, doc: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A lease's JSON with its URLs: what `styxy use --json` and MCP `use_service` answer."""
    return {**lease.to_json(), **fields_of(lease, proxy_now(doc=doc))}


def public_url(name: str, instance_id: str, proxy: Proxy | None) -> str | None:
    """The URL a service of a project will have behind the proxy (NAME_PUBLIC_URL)."""
    name_label, instance_label = label(name), label(instance_id)
    if name_label is None or instance_label is None:
        return None
    return (proxy or ASSUMED_PROXY).url(f"{name_label}.{instance_label}.{SUFFIX}")


def running(
    *, doc: str | os.PathLike[str] | None = None, notify: Notify = _quiet
) -> list[Lease]:
    """The leases that stand for running services now, read without the lock (SPEC 10)."""
    from styxy.engine.allocation import is_running
    from styxy.store import snapshot

    seen = snapshot.load(paths.resolve(doc))
    for note in seen.notes:
        notify(note)
    return [x for x in seen.live() if is_running(x)]


def proxy_now(*, doc: str | os.PathLike[str] | None = None) -> Proxy | None:
    """The running proxy, from the lease file alone (which `styxy env` has just written and
    so reads from memory); only the proxy's own leases are asked whether they run."""
    from styxy.engine.allocation import is_running
    from styxy.store import leases

    own = [
        x
        for x in leases.load(paths.resolve(doc).leases).leases
        if x.serviceType == PROXY_TYPE and x.name in (PROXY_NAME, PROXY_HTTPS_NAME)
    ]
    return running_proxy(x for x in own if is_running(x))


def service_url(
    name: str,
    *,
    instance_id: str | None = None,
    prefer: Sequence[str] = (),
    doc: str | os.PathLike[str] | None = None,
    notify: Notify = _quiet,
) -> ServiceUrl:
    """The URL of the running service named `name` (`styxy url NAME`).

    `instance_id` chooses the instance (`-i`). Without it, `prefer` are the instance ids to
    try in order (the session's, the project's around the current folder); with none of them
    running `name`, the only instance that does is taken, and several are a refusal that lists
    them.
    """
    from styxy import names

    names.check_identity_part("name", name)
    if instance_id is not None:
        names.check_identity_part("instance id", instance_id)
    if not name:
        raise RefusedError("give the name of a service: styxy url NAME.")
    leases = running(doc=doc, notify=notify)
    proxy = running_proxy(leases)
    found = [
        x
        for x in leases
        if x.name == name and routable(x) and instance_id in (None, x.instanceId)
    ]
    if not found:
        where = "" if instance_id is None else f" in instance {instance_id!r}"
        raise NotFoundError(
            f"nothing named {name!r} is running{where}; start it with: "
            f"styxy run -s TYPE -n {name} -- CMD."
        )
    chosen = _choose(found, name, prefer)
    url = url_of(chosen, proxy)
    assert url is not None
    return ServiceUrl(chosen, url, direct_url(chosen.port), proxy is not None)


def _choose(found: list[Lease], name: str, instances: Sequence[str]) -> Lease:
    oldest = sorted(found, key=lambda x: (x.createdAt, x.lockId))
    for instance in instances:
        mine = [x for x in oldest if x.instanceId == instance]
        if mine:
            return mine[0]
    if len({x.instanceId for x in oldest}) == 1:
        return oldest[0]
    listed = ", ".join(sorted({x.instanceId for x in oldest}))
    raise RefusedError(
        f"{name!r} runs in several instances ({listed}); choose one with -i INSTANCE."
    )


def lease_stamp(*, doc: str | os.PathLike[str] | None = None) -> tuple[object, ...]:
    """A cheap fingerprint of the lease file and the journal: it changes whenever they do.

    Every write of the lease file is a rename to a new inode, and the interceptor's journal
    grows by appending; a stat of each is all a poller needs to know whether to read again.
    """
    where = paths.resolve(doc)
    found: list[object] = []
    for path in (where.leases, where.journal):
        try:
            status = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((status.st_ino, status.st_size, status.st_mtime_ns))
    return tuple(found)
