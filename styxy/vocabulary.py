"""The words Styxy's records share, each defined once: ports, placements, instances, sources,
reasons. Literals rather than enums, so a value is its own JSON and its own Markdown cell.

Imported on the hot path of every command: this module imports nothing, not even `typing`
(about 3 ms of start-up). The Literal types exist for the type checker; at run time each name
is plain `str`, which is what a value of it is, and the tuples below hold the values.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Literal, TypeGuard

    # Where auto-allocation puts a new range; "custom" is a person's answer at the prompt.
    Placement = Literal["after", "before", "smart"]
    ChosenPlacement = Literal["after", "before", "smart", "custom"]
    # The Instances column of the ranges table.
    Instances = Literal["single", "multi"]
    # Who created a lease.
    Source = Literal["cli", "run", "interceptor", "api"]
    # Whether an agent's unknown service type may become a new range (`autoAllocation.agents`):
    # ask = only when the call says `create: true`; allow = always; deny = never (SPEC 15).
    AgentPolicy = Literal["ask", "allow", "deny"]
    # Who names a service type in `allocate`: a person at the command line (a near miss is
    # refused with "did you mean", anything else becomes a range) or an agent (MCP, HTTP,
    # hooks: an unknown type becomes a range only when asked for and the document's policy
    # allows it).
    Asker = Literal["person", "agent"]
    # Why `allocate` handed back a lease that already existed.
    Reason = Literal["single-instance", "same-identity"]
    # Why `--port P` was not the port given: another lease holds it, something listens on it,
    # or the identity already holds a lease on another port.
    PortRefusal = Literal["leased", "listening", "same-identity"]
else:
    Placement = ChosenPlacement = Instances = Source = AgentPolicy = Asker = Reason = str
    PortRefusal = str

MAX_PORT = 65535
# The most /proc/sys/kernel/pid_max can be on Linux: no process id is larger.
MAX_PID = 4_194_304

PLACEMENTS: tuple[Placement, ...] = ("after", "before", "smart")
CHOSEN_PLACEMENTS: tuple[ChosenPlacement, ...] = ("after", "before", "smart", "custom")
INSTANCES: tuple[Instances, ...] = ("single", "multi")
SOURCES: tuple[Source, ...] = ("cli", "run", "interceptor", "api")
AGENT_POLICIES: tuple[AgentPolicy, ...] = ("ask", "allow", "deny")
ASKERS: tuple[Asker, ...] = ("person", "agent")
REASONS: tuple[Reason, ...] = ("single-instance", "same-identity")


def is_placement(value: object) -> TypeGuard[Placement]:
    return value in PLACEMENTS


def is_instances(value: object) -> TypeGuard[Instances]:
    return value in INSTANCES


def is_source(value: object) -> TypeGuard[Source]:
    return value in SOURCES


def is_agent_policy(value: object) -> TypeGuard[AgentPolicy]:
    return value in AGENT_POLICIES


def is_asker(value: object) -> TypeGuard[Asker]:
    return value in ASKERS


class Notice(str):
    """A line whose wording the spec fixes (`Blocked: ...`, `Auto-allocated ...`).

    Sent through `notify` like any note; its type, not its first word, tells the command line
    to show it as it is rather than as a `styxy:` note.
    """

    __slots__ = ()
