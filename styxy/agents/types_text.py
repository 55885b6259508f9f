"""What agents are told about the port map's service types (SPEC 15).

The MCP server's instructions, the `allocate_port` description and the SessionStart context
all list the rows (name, range, single, description, aliases) read from the document when they
are built, so an agent picks an existing type instead of guessing a new one.
"""

from __future__ import annotations

import os

from styxy import api
from styxy.errors import StyxyError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from styxy.api.reports import TypeVocabulary

# A port map of thousands of rows is not read out in full to a model.
LISTED_TYPES = 60

RUN_ADVICE = (
    "From a shell, start a server with `styxy run -s TYPE -n NAME -- CMD` (CMD gets $PORT and "
    "keeps the lease while it runs) or use the MCP tools; avoid a bare `styxy allocate` in an "
    "agent's shell tool: that shell exits at once, so the lease's holder is already dead when "
    "the server starts."
)


def read_types(doc: str | os.PathLike[str] | None) -> TypeVocabulary | None:
    """The document's types, or None when it cannot be read now (the text then says so)."""
    try:
        return api.type_vocabulary(doc=doc)
    except (StyxyError, OSError):
        return None


def type_lines(found: TypeVocabulary) -> list[str]:
    """`- database 5430-5499: PostgreSQL, ...; aliases db, postgres, ...`, one per row."""
    lines = []
    for item in found.types[:LISTED_TYPES]:
        single = ", single instance" if item.single else ""
        text = f"- {item.service_type} {item.start}-{item.end}{single}"
        if item.description:
            text += f": {item.description}"
        if item.aliases:
            text += f"; aliases {', '.join(item.aliases)}"
        lines.append(text)
    rest = len(found.types) - LISTED_TYPES
    if rest > 0:
        lines.append(f"- and {rest} more: the port_map tool (or `styxy ranges`) lists them all.")
    return lines


def creation_rule(found: TypeVocabulary, how: str | None) -> str:
    """When a type that is none of these gets a range, in the words of the agent's tool
    (`how` it asks for one); None for the command line, where any name but a near miss does."""
    if how is None:
        return (
            "From the command line, a type that is none of these (nor an alias) becomes a new "
            "permanent row of a reviewed file people own: use an existing type unless none "
            f"fits (at most {found.max_new_per_day} new ranges a day)."
        )
    if found.agents == "deny":
        return (
            "A type that is none of these (nor an alias) is refused: this port map takes new "
            "rows from people only (autoAllocation.agents: deny)."
        )
    if found.agents == "allow":
        return (
            "A type that is none of these gets a new permanent range of its own; prefer an "
            f"existing type (at most {found.max_new_per_day} new ranges a day)."
        )
    return (
        "A type that is none of these (nor an alias) is refused unless you ask for a new range "
        f"with {how}; do that only when no row fits: each new type is a permanent row of a "
        f"reviewed file people own (at most {found.max_new_per_day} new ranges a day)."
    )


def vocabulary_text(
    doc: str | os.PathLike[str] | None, how: str | None, found: TypeVocabulary | None = None
) -> str:
    """The whole paragraph: the rows (`found`, when the caller has read them), then when a new
    one is made."""
    if found is None:
        found = read_types(doc)
    if found is None:
        return (
            "styxy could not read its port map just now; the port_map tool (or `styxy ranges`) "
            "lists the service types once it can."
        )
    head = "Service types of this machine's port map (use one of these names or an alias):"
    return "\n".join([head, *type_lines(found), creation_rule(found, how)])
