"""The Caddy JSON config for a set of routes: a pure function, so a test reads it whole.

One HTTP server, `styxy`, listening on loopback only. A route per host name forwards to the
lease's port with `reverse_proxy` (which passes WebSocket upgrades through and speaks HTTP/2 to
clients); the last route answers every other host with 404 and the list of live names, through
Caddy's own `static_response`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from styxy.api.urls import DIRECT_HOST, Proxy, Route

SERVER = "styxy"
# Caddy logs every start and every reload at level INFO; styxy forwards only what needs a look.
LOG_LEVEL = "WARN"


def bootstrap(admin: str) -> dict[str, Any]:
    """What Caddy starts with: its admin API on `admin` and nothing else.

    `persist: false` keeps Caddy from saving each loaded config in the user's own Caddy
    folder (autosave.json), which would replace a config the user keeps there.
    """
    return {
        "admin": {"listen": admin, "config": {"persist": False}},
        "logging": {"logs": {"default": {"level": LOG_LEVEL}}},
    }


def build(
    *, admin: str, proxy: Proxy, listen: Sequence[str], routes: Sequence[Route]
) -> dict[str, Any]:
    """The whole config `POST /load` replaces Caddy's with.

    The admin block is repeated in every load: a config without one would move the admin API
    back to Caddy's default address.
    """
    server: dict[str, Any] = {
        "listen": [f"{host}:{proxy.port}" for host in listen],
        "routes": [_route(route) for route in routes]
        + [_index(proxy, routes), _not_found(proxy, routes)],
    }
    config: dict[str, Any] = {**bootstrap(admin), "apps": {"http": {"servers": {SERVER: server}}}}
    if proxy.https:
        # Certificates from Caddy's own CA, made when a name is first asked for (on demand), so
        # a new lease's host works at once and an unknown name still reaches the 404 page.
        # Caddy never installs its root into the system's trust store on its own.
        server["tls_connection_policies"] = [{}]
        server["automatic_https"] = {"disable_redirects": True}
        config["apps"]["tls"] = {
            "automation": {"policies": [{"issuers": [{"module": "internal"}], "on_demand": True}]}
        }
        config["apps"]["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
    else:
        # Without this Caddy would take the host names as sites to fetch certificates for.
        server["automatic_https"] = {"disable": True}
        # HTTP/2 without TLS (prior knowledge or upgrade), as well as HTTP/1.1.
        server["protocols"] = ["h1", "h2", "h2c"]
    return config


def _route(route: Route) -> dict[str, Any]:
    # `localhost` rather than 127.0.0.1: a dev server may listen on ::1 only (Node's default
    # for `localhost` on many machines); Caddy tries each address localhost has.
    return {
        "match": [{"host": [route.host]}],
        "handle": [
            {
                "handler": "reverse_proxy",
                "upstreams": [{"dial": f"{DIRECT_HOST}:{route.port}"}],
            }
        ],
        "terminal": True,
    }


# The proxy's own address (`http://localhost:1355/`, what `styxy proxy` prints) lists the
# names with 200; any other host that is no name gets the same list with 404.
INDEX_HOSTS = ("localhost", "127.0.0.1")


def _index(proxy: Proxy, routes: Sequence[Route]) -> dict[str, Any]:
    text = f"styxy proxy on port {proxy.port}.\n\n" + names_text(proxy, routes)
    return {"match": [{"host": list(INDEX_HOSTS)}], **_page(200, text)}


def _not_found(proxy: Proxy, routes: Sequence[Route]) -> dict[str, Any]:
    return _page(404, not_found_text(proxy, routes))


def _page(status: int, text: str) -> dict[str, Any]:
    return {
        "handle": [
            {
                "handler": "static_response",
                "status_code": status,
                "headers": {
                    "Content-Type": ["text/plain; charset=utf-8"],
                    "X-Content-Type-Options": ["nosniff"],
                    "Cache-Control": ["no-store"],
                },
                "body": text,
            }
        ],
        "terminal": True,
    }


def not_found_text(proxy: Proxy, routes: Sequence[Route]) -> str:
    """The 404 page: the host asked for (a Caddy placeholder) and every live name."""
    return "styxy proxy: no running service is named {http.request.host}.\n\n" + names_text(
        proxy, routes
    )


def names_text(proxy: Proxy, routes: Sequence[Route]) -> str:
    lines = []
    if not routes:
        lines.append(
            "No running service has a name; start one with: styxy run -s TYPE -n NAME -- CMD"
        )
    else:
        lines.append("Live names:")
        for route in routes:
            lease = route.lease
            lines.append(
                f"  {proxy.url(route.host)} -> port {lease.port} "
                f"({lease.serviceType}, instance {lease.instanceId})"
            )
    return "\n".join(lines) + "\n"
