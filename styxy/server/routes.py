"""The routes of SPEC section 12: one table that the app, the token check and the OpenAPI
document are all built from. Each handler's docstring holds its OpenAPI operation as YAML
after a `---` line.

The core is blocking (a file lock, fsync): every call runs in Starlette's thread pool so the
event loop keeps answering while a transaction waits for the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from styxy import __version__, refusals
from styxy.api import urls
from styxy.errors import Param, UsageError
from styxy.server import requests
from styxy.server.endpoint import Endpoint
from styxy.server.openapi import document
from styxy.server.requests import HttpError

STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class Served:
    """What every handler needs to know: the document, and who holds leases by default."""

    doc: Path
    token: str
    port: int
    # Leases asked for without a `pid` are held by the server itself (see docs/integrations).
    holder: int
    # The lock id of the server's own lease on its port (SPEC 17): never released over HTTP,
    # since it is the lease of the server answering. None for an app that holds no lease.
    lease: str | None = None


def served(request: Request) -> Served:
    config: Served = request.app.state.served
    return config


async def status(request: Request) -> Response:
    """Liveness and version; needs no token.
    ---
    summary: Liveness and version (no token needed)
    responses:
      "200":
        description: The server is up.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Status"}
    """
    return JSONResponse({"status": "ok", "version": __version__})


ALLOCATE_FIELDS: dict[str, tuple[refusals.Check, bool]] = {
    "service_type": (refusals.text, True),
    "instance_id": (refusals.text, False),
    "name": (refusals.text, False),
    "preferred_port": (refusals.port, False),
    "pid": (refusals.pid, False),
    "create": (refusals.boolean, False),
}


async def allocate(request: Request) -> Response:
    """Allocate a port, as `styxy allocate --json`.
    ---
    summary: Allocate a port (as styxy allocate --json)
    description: >-
      `service_type` is a row of the port map or one of its aliases (`db` allocates from
      `database`; the answer's `requestedType` is then `db`). A type that is neither is refused
      (409, the sentence lists the types) unless the request says `"create": true` and the
      document's `autoAllocation.agents` is not `deny`; at most `autoAllocation.maxNewPerDay`
      new ranges are made in any 24 hours.
    requestBody:
      required: true
      content:
        application/json:
          schema: {$ref: "#/components/schemas/AllocateRequest"}
    responses:
      "200":
        description: The lease, new or existing (single instance, same identity).
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Allocation"}
      "400": {$ref: "#/components/responses/BadRequest"}
      "409": {$ref: "#/components/responses/Refused"}
      "413": {$ref: "#/components/responses/TooLarge"}
      "503": {$ref: "#/components/responses/Busy"}
    """
    from styxy import api

    given = requests.fields(await requests.json_object(request), ALLOCATE_FIELDS)
    config = served(request)
    result = await run_in_threadpool(
        api.allocate,
        given["service_type"],
        instance_id=given["instance_id"],
        name=given["name"] or "",
        port=given["preferred_port"],
        pid=given["pid"] if given["pid"] is not None else config.holder,
        source="api",
        asker="agent",
        new_type=given["create"] is True,
        doc=config.doc,
    )
    return JSONResponse(result.to_json())


async def release(request: Request) -> Response:
    """End a lease by its lock id.
    ---
    summary: End a lease (as styxy release LOCK_ID --json)
    description: >-
      The lease of the server's own port (service type `coordination`, name `serve`, marked
      `thisServer` in `GET /allocations`) is refused (409): it ends when the server stops.
    parameters:
      - {name: lockId, in: path, required: true, schema: {type: string}}
    responses:
      "200":
        description: The ended lease.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Lease"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409": {$ref: "#/components/responses/Refused"}
      "503": {$ref: "#/components/responses/Busy"}
    """
    from styxy import api

    config = served(request)
    lock_id = request.path_params["lockId"]
    if config.lease is not None and lock_id == config.lease:
        # Ended, the server would run on without the lease that says who listens there, and
        # the page that asked would cut the branch it sits on; the server's stop ends it.
        raise refusals.own_lease(config.port)
    lease = await run_in_threadpool(api.release, lock_id, doc=config.doc)
    return JSONResponse(lease.to_json())


async def allocations(request: Request) -> Response:
    """Live leases, as `styxy list --json`.
    ---
    summary: Live leases (as styxy list --json)
    parameters:
      - name: verbose
        in: query
        required: false
        description: 1, true or yes adds each holder's process name and command line; 0,
          false, no or nothing leaves them out. Any other value, or the parameter twice, is a
          400.
        schema: {type: string, enum: ["1", "true", "yes", "0", "false", "no", ""]}
    responses:
      "200":
        description: Every live lease, by port.
        content:
          application/json:
            schema:
              type: object
              properties:
                leases: {type: array, items: {$ref: "#/components/schemas/LeaseStatus"}}
      "409": {$ref: "#/components/responses/Refused"}
    """
    from styxy import api

    config = served(request)
    verbose = _switch(request, "verbose")
    found = await run_in_threadpool(api.list_leases, verbose=verbose, doc=config.doc)
    # Each lease's name as a URL behind `styxy proxy`, for the dashboard to show (SPEC 22).
    proxy = urls.running_proxy(item.lease for item in found if item.alive)
    leases = []
    for item in found:
        row = {
            **item.to_json(),
            **urls.fields_of(item.lease, proxy),
            # The dashboard offers no Release for the lease of the server showing it.
            "thisServer": item.lease.lockId == config.lease,
        }
        if verbose:
            row.update(process=item.process, command=item.command)
        leases.append(row)
    return JSONResponse({"leases": leases})


_ON, _OFF = ("1", "true", "yes"), ("0", "false", "no", "")


def _switch(request: Request, name: str) -> bool:
    """A yes/no query parameter; a typo (`ture`) or a second value is refused, not taken as no."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise UsageError(Param(name), " is given more than once; give it once.")
    value = values[0].lower() if values else ""
    if value not in _ON + _OFF:
        raise UsageError(
            Param(name), f" must be one of {', '.join(_ON + _OFF[:-1])}, not {refusals.shown(value)}."
        )
    return value in _ON


async def check(request: Request) -> Response:
    """Is a port free, as `styxy check PORT --json`.
    ---
    summary: Is a port free (as styxy check PORT --json)
    parameters:
      - {name: port, in: path, required: true, schema: {type: integer, minimum: 1, maximum: 65535}}
    responses:
      "200":
        description: The answer; `free` says it, whatever it is.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/PortCheck"}
      "400": {$ref: "#/components/responses/BadRequest"}
      "409": {$ref: "#/components/responses/Refused"}
    """
    from styxy import api

    port = requests.port_in_path(request.path_params["port"])
    result = await run_in_threadpool(api.check, port, doc=served(request).doc)
    return JSONResponse(result.to_json())


async def ranges(request: Request) -> Response:
    """The port map, as `styxy ranges --json`, plus the occupied ports for drawing it.
    ---
    summary: The port map (as styxy ranges --json)
    description: >-
      Each range also lists `leasedPorts` and `listeningPorts`, the ports the dashboard marks,
      and `listeners` names the process behind each port that something listens on without a
      lease (the dashboard's details of such a port).
    responses:
      "200":
        description: Every range of the document, by start.
        content:
          application/json:
            schema:
              type: object
              properties:
                ranges: {type: array, items: {$ref: "#/components/schemas/RangeUsage"}}
                listeners:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: integer}
                      pid: {type: [integer, "null"]}
                      process: {type: [string, "null"]}
                      command: {type: [string, "null"]}
                      startedAt: {type: [string, "null"], description: the process's start (ISO 8601)}
      "409": {$ref: "#/components/responses/Refused"}
    """
    from styxy import api
    from styxy.api import dashboard

    doc = served(request).doc
    found = await run_in_threadpool(api.ranges, doc=doc)
    unleased = await run_in_threadpool(dashboard.listening_without_lease, doc=doc)
    return JSONResponse(
        {
            "ranges": [
                {
                    **item.to_json(),
                    "leasedPorts": list(item.leased_ports),
                    "listeningPorts": list(item.listening_ports),
                }
                for item in found.ranges
            ],
            "listeners": [
                item.to_json()
                for item in unleased
                if any(r.start <= item.port <= r.end for r in found.ranges)
            ],
        }
    )


async def about(request: Request) -> Response:
    """Which document the server shows and which IANA data names its ports.
    ---
    summary: The document and the IANA data the server reads (the dashboard's header)
    responses:
      "200":
        description: The document's path and the IANA data's source and date.
        content:
          application/json:
            schema:
              type: object
              properties:
                document: {type: string}
                iana:
                  type: object
                  properties:
                    kind: {type: string, enum: [index, shipped, services, none]}
                    path: {type: string}
                    updated: {type: string, description: "the registry's date, YYYY-MM-DD, or empty"}
                    origin: {type: string}
                    description: {type: string}
    """
    from styxy.api import dashboard

    found = await run_in_threadpool(dashboard.about, doc=served(request).doc)
    return JSONResponse(found.to_json())


async def audit(request: Request) -> Response:
    """The recent lines of the document's audit log.
    ---
    summary: The recent audit lines of the document, oldest first
    responses:
      "200":
        description: The last audit lines, as written in the document.
        content:
          application/json:
            schema:
              type: object
              properties:
                audit: {type: array, items: {type: string}}
      "409": {$ref: "#/components/responses/Refused"}
    """
    from styxy.api import config

    info = await run_in_threadpool(config.auto_allocated, doc=served(request).doc)
    return JSONResponse({"audit": list(info.audit)})


async def openapi(request: Request) -> Response:
    """This document.
    ---
    summary: The OpenAPI document of these routes
    responses:
      "200":
        description: The OpenAPI 3.1 document.
        content:
          application/json:
            schema: {type: object}
    """
    return JSONResponse(document(ENDPOINTS))


async def dashboard(request: Request) -> Response:
    """The dashboard page; needs no token (it asks for one itself).
    ---
    summary: The dashboard (HTML; no token needed, the page reads it from the URL fragment)
    responses:
      "200":
        description: The page.
        content:
          text/html: {}
    """
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


ENDPOINTS = (
    Endpoint("GET", "/", dashboard, public=True, query=None),
    Endpoint("GET", "/status", status, public=True),
    Endpoint("POST", "/allocate", allocate),
    Endpoint("DELETE", "/allocate/{lockId}", release),
    Endpoint("GET", "/allocations", allocations, query=("verbose",)),
    Endpoint("GET", "/check/{port}", check),
    Endpoint("GET", "/ranges", ranges),
    Endpoint("GET", "/audit", audit),
    Endpoint("GET", "/about", about),
    Endpoint("GET", "/openapi.json", openapi),
)
STATIC_PREFIX = "/static"


__all__ = ["ENDPOINTS", "STATIC", "STATIC_PREFIX", "Endpoint", "HttpError", "Served"]
