"""The seven MCP tools, as methods of a small context (the document, the default holder).

Imported by `styxy.agents.mcp` only after the SDK is known to be installed: the SDK and
pydantic are imported at the top here because the SDK reads each tool's signature (its
`Annotated` types and their `Field` descriptions) to build the input schema.
"""

# No `from __future__ import annotations`: the SDK evaluates the signatures, and plain
# annotations are what it reads most reliably.

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp_types import CallToolResult, TextContent
from pydantic import Field

from styxy import api, refusals
from styxy.api import urls
from styxy.api.records import Lease
from styxy.errors import StyxyError

ServiceType = Annotated[
    str,
    Field(
        description="Service type: a row of the port map (dev, api, database, ai, ...) or one "
        "of its aliases (db, postgres, frontend, ...; see the tool description). 1-63 "
        "characters of a-z, 0-9, '.', '_', '-'."
    ),
]
Create = Annotated[
    bool,
    Field(
        description="Add a new range to the port map when service_type is not a known type. "
        "Leave false: use an existing type; the port map is a reviewed file people own."
    ),
]
OptionalType = Annotated[str | None, Field(description="Service type, e.g. dev or ai.")]
InstanceId = Annotated[
    str | None,
    Field(
        description="Who the lease is for (a session, a worktree); default: this server's "
        "instance id ($STYXY_INSTANCE_ID)."
    ),
]
Name = Annotated[
    str | None,
    Field(description="Name of the service inside its instance, e.g. web or rag."),
]
Port = Annotated[int | None, Field(description="A port number, 1-65535.")]
PreferredPort = Annotated[
    int | None, Field(description="Try this port first, if free and in the range.")
]
Holder = Annotated[
    int | None,
    Field(
        description="Process that holds the lease; it ends when that process dies. "
        "Default: the agent that started this server."
    ),
]


@dataclass(frozen=True)
class ToolSpec:
    """A tool's name (the `Tools` method of that name) and what a model reads about it."""

    name: str
    description: str


TOOLS = (
    ToolSpec(
        "allocate_port",
        "Hand out a free port of a service type and lease it. Returns the allocate JSON: port, "
        "lockId, existing (true when a running single-instance service or this identity's "
        "lease is reused), reason, autoAllocated, newRange.",
    ),
    ToolSpec(
        "release_port",
        "End leases: give lock_id, or port, or instance_id (optionally narrowed by "
        "service_type and name) to end all of that instance's leases, or service_type "
        '[+ name] for this server\'s instance. Returns {"released": [lease, ...]}.',
    ),
    ToolSpec(
        "list_ports",
        'Live leases, optionally of one service type or instance: {"leases": [...]}, as '
        "`styxy list --json`.",
    ),
    ToolSpec(
        "check_port",
        "Is a port free? Returns free, the service type whose range holds it, its lease and "
        "the processes listening on it, as `styxy check --json`.",
    ),
    ToolSpec(
        "use_service",
        "Find a running service: by port, or by service_type and/or name (optionally of one "
        "instance_id). Returns its lease (port, pid, lockId) with url (its name's URL behind "
        "`styxy proxy`, http://NAME.INSTANCE.localhost:1355/; null without a name), directUrl "
        "and proxied (whether a proxy runs now); an error when nothing runs.",
    ),
    ToolSpec(
        "suggest_range",
        "The range a service type has, or the one it would get if allocated now "
        "(existing: false); writes nothing.",
    ),
    ToolSpec(
        "port_map",
        "The whole port map: every range with its type, span, instances (single or multi), "
        "leased, listening and free counts, as `styxy ranges --json`.",
    ),
)


@dataclass(frozen=True)
class Tools:
    """What every tool needs: the document, and the holder of leases asked for without a pid."""

    doc: str | os.PathLike[str] | None
    agent: int

    def allocate_port(
        self,
        service_type: ServiceType,
        instance_id: InstanceId = None,
        name: Name = None,
        preferred_port: PreferredPort = None,
        pid: Holder = None,
        create: Create = False,
    ) -> CallToolResult:
        return answer(
            lambda: api.allocate(
                service_type,
                instance_id=instance_id,
                name=name or "",
                port=preferred_port,
                pid=self.agent if pid is None else pid,
                source="api",
                asker="agent",
                new_type=create,
                doc=self.doc,
                notify=notify,
            ).to_json()
        )

    def release_port(
        self,
        lock_id: Annotated[str | None, Field(description="Lock id from allocate_port.")] = None,
        port: Port = None,
        instance_id: Annotated[
            str | None, Field(description="End every lease of this instance.")
        ] = None,
        service_type: OptionalType = None,
        name: Name = None,
    ) -> CallToolResult:
        def released() -> dict[str, Any]:
            found = release(self.doc, lock_id, port, instance_id, service_type, name)
            return {"released": [lease.to_json() for lease in found]}

        return answer(released)

    def list_ports(
        self,
        service_type: OptionalType = None,
        instance_id: Annotated[str | None, Field(description="Only this instance's leases.")] = None,
    ) -> CallToolResult:
        def leases() -> dict[str, Any]:
            # The type is resolved as allocate_port resolves it: `db` lists database's leases.
            found = api.list_leases(service_type=service_type, doc=self.doc, notify=notify)
            return {
                "leases": [
                    item.to_json()
                    for item in found
                    if instance_id is None or item.lease.instanceId == instance_id
                ]
            }

        return answer(leases)

    def check_port(
        self, port: Annotated[int, Field(description="A port number, 1-65535.")]
    ) -> CallToolResult:
        return answer(lambda: api.check(port, doc=self.doc, notify=notify).to_json())

    def use_service(
        self,
        service_type: OptionalType = None,
        name: Name = None,
        port: Port = None,
        instance_id: Annotated[str | None, Field(description="Only this instance.")] = None,
    ) -> CallToolResult:
        def found() -> dict[str, Any]:
            lease = api.use(
                port=port,
                service_type=service_type,
                name=name,
                instance_id=instance_id,
                doc=self.doc,
                notify=notify,
            )
            # The lease, plus its name's URL behind `styxy proxy` and its direct one (SPEC 22).
            return urls.lease_json(lease, doc=self.doc)

        return answer(found)

    def suggest_range(self, service_type: ServiceType) -> CallToolResult:
        return answer(
            lambda: api.suggest_range(service_type, doc=self.doc, notify=notify).to_json()
        )

    def port_map(self) -> CallToolResult:
        return answer(lambda: api.ranges(doc=self.doc, notify=notify).to_json())


def release(
    doc: str | os.PathLike[str] | None,
    lock_id: str | None,
    port: int | None,
    instance_id: str | None,
    service_type: str | None,
    name: str | None,
) -> list[Lease]:
    """`styxy release -i I [-s T] [-n N]` for an instance, else `styxy release` of one lease."""
    if instance_id is None:
        return [
            api.release(
                lock_id, port=port, service_type=service_type, name=name or "", doc=doc,
                notify=notify,
            )
        ]
    if lock_id is not None or port is not None:
        raise refusals.lease_selector()
    return api.release_instance(
        instance_id, service_type=service_type, name=name, doc=doc, notify=notify
    )


def answer(work: Callable[[], dict[str, Any]]) -> CallToolResult:
    """The command line's JSON as structured content and as text; a refusal as a tool error."""
    try:
        value = work()
    except StyxyError as exc:
        return refusal(exc.message, exc.exit_code)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        return refusal(f"{exc.strerror or exc}{where}.", 1)
    text = json.dumps(value, ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=value)


def refusal(message: str, code: int) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=message)],
        structured_content={"error": message, "code": code},
        is_error=True,
    )


def notify(text: str) -> None:
    # stdout carries the protocol: styxy's own lines go to stderr, which clients log.
    from styxy import output

    output.note(text)
