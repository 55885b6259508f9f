"""One row of the route table: method, path, handler, and whether it needs the token.

It lives below both the route table and the OpenAPI document, so the document is built from
the table without the table importing the document's builder in a circle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    public: bool = False
    # The query parameters it reads; any other is refused (400) rather than dropped in silence.
    # None: not checked (the dashboard's page, which a browser may open with any query).
    query: tuple[str, ...] | None = ()
