"""The document view carried in the cache's meta blob, so a hot command skips Markdown.

JSON is the encoding because the standard library decodes it in microseconds and the C reader
never looks at it; the view holds everything of a `Document` except the audit log.
"""

from __future__ import annotations

import json
from types import MappingProxyType

from styxy.document.model import AutoAllocation, Document, Range, Rule, RunFlag, Settings

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see styxy.records)
if TYPE_CHECKING:
    from typing import Any

VIEW_VERSION = 3  # 2: aliases, autoAllocation.agents and maxNewPerDay; 3: runFlags


def encode(document: Document) -> bytes:
    s = document.settings
    body = {
        "v": VIEW_VERSION,
        "ranges": [
            [r.service_type, r.start, r.end, r.instances, list(r.preferred), r.description, r.line]
            for r in document.ranges
        ],
        "auto": [getattr(s.auto_allocation, f) for f in _AUTO_FIELDS],
        "rules": [
            [r.pattern, r.chunk_size, r.placement, r.preferred_range_start, r.line] for r in s.rules
        ],
        "detect": [[k, list(v)] for k, v in s.detect.items()],
        "aliases": [[k, list(v)] for k, v in s.aliases.items()],
        "runFlags": [[f.pattern, list(f.arguments), f.line] for f in s.run_flags],
        "grace": s.lease_grace_seconds,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def decode(meta: bytes, path: str) -> Document:
    """Raises ValueError (or KeyError/TypeError) on anything unexpected: the caller re-parses."""
    body: dict[str, Any] = json.loads(meta)
    if body.get("v") != VIEW_VERSION:
        raise ValueError("view version")
    ranges = tuple(
        Range(name, start, end, inst, tuple(pref), desc, line)
        for name, start, end, inst, pref, desc, line in body["ranges"]
    )
    settings = Settings(
        auto_allocation=AutoAllocation(**dict(zip(_AUTO_FIELDS, body["auto"], strict=True))),
        rules=tuple(Rule(p, c, pl, st, ln) for p, c, pl, st, ln in body["rules"]),
        detect=MappingProxyType({k: tuple(v) for k, v in body["detect"]}),
        lease_grace_seconds=int(body["grace"]),
        aliases=MappingProxyType({k: tuple(v) for k, v in body["aliases"]}),
        run_flags=tuple(RunFlag(p, tuple(a), ln) for p, a, ln in body["runFlags"]),
    )
    return Document(path=path, settings=settings, ranges=ranges)


_AUTO_FIELDS = (
    "enabled",
    "default_chunk_size",
    "placement",
    "min_port_number",
    "max_port_number",
    "preserve_gaps",
    "gap_size",
    "require_confirmation",
    "avoid_ephemeral",
    "agents",
    "max_new_per_day",
)
