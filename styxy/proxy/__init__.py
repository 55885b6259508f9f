"""`styxy proxy`: names instead of numbers, served by Caddy (SPEC section 22).

Styxy writes no proxy of its own. It starts Caddy with nothing but its admin API on a
loopback port of its own, and from then on configures it only through that API: one JSON
config, built from the live leases (`styxy.api.urls`), loaded with `POST /load` whenever the
leases change. Caddy does the rest (HTTP/1.1, HTTP/2, WebSocket upgrades, TLS with its
internal CA). See docs/PROXY.md.
"""
