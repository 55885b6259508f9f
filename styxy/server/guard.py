"""Connections that cannot starve the server: a deadline for each request to arrive, and a
bound on open connections that closes the slowest idle one first.

Uvicorn closes a connection that stays idle after a response (`timeout_keep_alive`), but it
waits forever for the first request's head, for a head sent a byte at a time (each byte
restarts its keep-alive timer) and for a body that stops half-way; and its
`limit_concurrency` counts idle connections too, answering 503 (without the security headers)
to every request once enough slow clients are connected. This protocol, uvicorn's own h11
protocol with three additions, closes those:

- a request must arrive whole (head and body) within `REQUEST_SECONDS` of the connection
  being ready for it (opened, or done with the previous response), however it trickles in;
- past `MAX_CONNECTIONS`, a new connection closes the oldest one that has no request being
  answered (it is only waiting for a slow client), so a flood of slow clients cannot keep a
  real one out; when every connection is busy being answered, the newcomer is closed instead;
- the 400 uvicorn sends for a request that is not HTTP carries the security headers too.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_SECONDS = 5.0
MAX_CONNECTIONS = 256
# The largest request head h11 buffers (its own default, written down): past it, a 400.
MAX_HEAD_BYTES = 16 * 1024


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with a request deadline and a bound on open connections."""

    # Set by `with_headers`: what every response of this server carries.
    security_headers: tuple[tuple[bytes, bytes], ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self.opened_at = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.opened_at = self.loop.time()
        open_ = [c for c in self.connections if c.transport and not c.transport.is_closing()]
        if len(open_) > MAX_CONNECTIONS and not self._make_room():
            transport.close()
            return
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        # h11 has no hook for extra headers on this one: the event is built as uvicorn does,
        # with ours added.
        self._disarm()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"connection", b"close"),
            *self.security_headers,
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=msg.encode("ascii")),
            h11.EndOfMessage(),
        ):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()

    def waiting(self) -> bool:
        """Whether this connection waits for its client (no request of it is being answered)."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing()

    def _watch(self) -> None:
        """Arm the deadline while the client owes a request; disarm once it has sent it."""
        if self.transport is None or self.transport.is_closing():
            self._disarm()
        elif self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            if self._deadline is None:
                self._deadline = self.loop.call_later(REQUEST_SECONDS, self._too_slow)
        else:
            self._disarm()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> bool:
        """Close the oldest connection that only waits for its client; False when none does."""
        idle = [
            other
            for other in self.connections
            if other is not self and isinstance(other, GuardedH11Protocol) and other.waiting()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda other: other.opened_at)
        oldest._disarm()
        oldest.transport.close()
        return True


def with_headers(headers: dict[str, str]) -> type[GuardedH11Protocol]:
    """The protocol class for one server, whose own 400 answers carry `headers`."""
    encoded = tuple((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
    return type("StyxyH11Protocol", (GuardedH11Protocol,), {"security_headers": encoded})


__all__ = ["MAX_CONNECTIONS", "MAX_HEAD_BYTES", "REQUEST_SECONDS", "GuardedH11Protocol", "with_headers"]
