"""The ASGI app: the route table, the token on every route but the public ones, the `Host`
check, strict headers on every response (500 included), and errors as
`{"error": "<sentence>", "code": <exit code>}` whose status follows from the code."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from styxy import refusals
from styxy.errors import (
    EXIT_FAILED,
    EXIT_USAGE,
    LockTimeoutError,
    NotFoundError,
    StyxyError,
)
from styxy.server import hosts
from styxy.server.endpoint import Endpoint, Handler
from styxy.server.requests import HttpError
from styxy.server.routes import ENDPOINTS, STATIC, STATIC_PREFIX, Served

# Sent with every answer. The page loads its script and style from this server only, so no
# inline script (and nothing a lease name or command line could smuggle in) ever runs.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def create_app(served: Served, lifespan: Lifespan | None = None) -> ASGIApp:
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(HostGuard, allowed=hosts.allowed_host_headers(served.port))],
        exception_handlers={
            HttpError: _http_error,
            StyxyError: _styxy_error,
            HTTPException: _starlette_error,
            Exception: _internal_error,
        },
        lifespan=lifespan,
    )
    app.state.served = served
    # Outside Starlette's own error middleware, whose 500 answers bypass every inner one.
    return SecurityHeaders(app)


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every response the app sends, whatever sent it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send))


def routes() -> list[BaseRoute]:
    found: list[BaseRoute] = [
        Route(x.path, _with_query(x) if x.public else _with_token(x), methods=[x.method])
        for x in ENDPOINTS
    ]
    found.append(Mount(STATIC_PREFIX, app=StaticFiles(directory=STATIC), name="static"))
    return found


def _with_query(endpoint: Endpoint) -> Handler:
    """The handler, refusing a query parameter it does not read (`?verbos=1` is no typo
    that passes in silence, as a body's unknown field is not)."""
    handler, known = endpoint.handler, endpoint.query
    if known is None:
        return handler

    async def checked(request: Request) -> Response:
        unknown = sorted(set(request.query_params) - set(known))
        if unknown:
            raise refusals.unknown(unknown[0], known)
        return await handler(request)

    return checked


def _with_token(endpoint: Endpoint) -> Handler:
    handler = _with_query(endpoint)

    async def guarded(request: Request) -> Response:
        token: str = request.app.state.served.token
        if not token_matches(request.headers.get("authorization"), token):
            return error(
                401,
                "missing or wrong token: send the header Authorization: Bearer <token> "
                "with the token in .styxy/token beside the document.",
                EXIT_FAILED,
                headers={"WWW-Authenticate": 'Bearer realm="styxy"'},
            )
        return await handler(request)

    return guarded


def token_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Constant time, so the answer's timing tells nothing about how much of a guess was right.
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("ascii"))


class HostGuard:
    """Refuses (403) a `Host` that is not a loopback name of this server: DNS rebinding."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host", "")
        if host.lower() not in self.allowed:
            refusal = error(
                403,
                f"the Host {host!r} is not this server's loopback name; "
                f"use one of {', '.join(sorted(self.allowed))}.",
                EXIT_FAILED,
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _with_headers(send: Send) -> Callable[[Message], Awaitable[None]]:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for key, value in SECURITY_HEADERS.items():
                headers[key] = value
        await send(message)

    return sending


def error(
    status: int, message: str, code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The one shape of every refusal: the sentence and the command line's exit code for it."""
    return JSONResponse({"error": message, "code": code}, status_code=status, headers=headers)


def status_of(exc: StyxyError) -> int:
    """The HTTP status of a refusal of the core, from its code (never from its wording):
    a usage error (2) is the client's mistake; a refusal (1) is 404 when the thing named
    does not exist, 503 when the lock stayed busy, else 409."""
    if exc.code == EXIT_USAGE:
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, LockTimeoutError):
        return 503
    # RefusedError and the rest of exit code 1: a broken document or lease file, no room.
    return 409


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error(exc.status, exc.message, exc.code)


async def _styxy_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StyxyError)
    return error(status_of(exc), exc.message, exc.code)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: f"no route {request.url.path}.", 405: "method not allowed on this route."}
    message = messages.get(exc.status_code, str(exc.detail))
    return error(exc.status_code, message, EXIT_USAGE, headers=dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error(500, f"internal error ({type(exc).__name__}: {exc}).", EXIT_FAILED)


__all__ = ["create_app", "status_of", "token_matches"]
