"""Loopback only: which hosts `styxy serve` listens on, and which `Host` headers it answers.

Listening on loopback keeps other machines out; checking `Host` keeps out web pages that point
a name of their own at 127.0.0.1 (DNS rebinding), whose requests carry that foreign name.
"""

from __future__ import annotations

from styxy.errors import UsageError

# The names `--host` accepts, and the addresses each one listens on.
LISTEN = {
    "127.0.0.1": ("127.0.0.1",),
    "::1": ("::1",),
    "localhost": ("127.0.0.1", "::1"),
}
_HEADER_NAMES = ("127.0.0.1", "localhost", "[::1]")


def check_listen_host(host: str) -> tuple[str, ...]:
    """The addresses to listen on for `--host`; anything but a loopback name is refused."""
    try:
        return LISTEN[host]
    except KeyError:
        raise UsageError(
            f"--host must be 127.0.0.1, ::1 or localhost, not {host!r}: "
            "styxy serve listens on this machine only."
        ) from None


def allowed_host_headers(port: int) -> frozenset[str]:
    """Every `Host` value a browser or curl sends for a loopback URL on `port`."""
    found = {f"{name}:{port}" for name in _HEADER_NAMES}
    if port == 80:
        # The default port is left out of Host.
        found.update(_HEADER_NAMES)
    return frozenset(found)


def url_host(host: str) -> str:
    """`host` as it appears in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host
