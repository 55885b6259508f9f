"""Who may turn an unknown service type into a new range, and how many a day (SPEC 15).

A person at the command line gets a range for a new name, unless the name nearly spells a row
or an alias (`devv`): that is refused with "did you mean", and `--new-type` creates it anyway.
An agent (MCP, HTTP, hooks) gets one only when its call says `create: true` and the document's
`autoAllocation.agents` allows it; otherwise the refusal lists the types it could have used.
Whoever asks, at most `autoAllocation.maxNewPerDay` ranges are made in any 24 hours.
"""

from __future__ import annotations

import calendar
import fnmatch
import time
from typing import TYPE_CHECKING

from styxy.document.typenames import Resolution, aliases_of, either, resolve
from styxy.errors import NewRangeLimitError, UnknownTypeError
from styxy.vocabulary import Asker

if TYPE_CHECKING:
    from styxy.document.model import Document

DAY_SECONDS = 24 * 60 * 60
# The refusal an agent reads lists the rows; a document of thousands stops after this many.
LISTED_ROWS = 40


def check_creation(document: Document, asked: Resolution, asker: Asker, new_type: bool) -> None:
    """Refuse, with the sentence the caller needs, an unknown type it may not create."""
    if asker == "person":
        if asked.near and not new_type:
            raise UnknownTypeError(
                f"unknown service type '{asked.asked}'; did you mean {either(asked.near)}? "
                f"To add a new range named '{asked.asked}', pass --new-type.",
                asked.asked,
                asked.near,
            )
        return
    policy = document.settings.auto_allocation.agents
    if policy == "deny":
        raise UnknownTypeError(
            f"unknown service type '{asked.asked}'{_guess(asked)}; agents may not add ranges "
            f"to this port map (autoAllocation.agents: deny): use one of {listing(document)}.",
            asked.asked,
            asked.near,
        )
    if new_type or (policy == "allow" and not asked.near):
        return
    raise UnknownTypeError(
        f"unknown service type '{asked.asked}'{_guess(asked)}; use one of {listing(document)}; "
        f"or, only if none of them fits, call again with create: true to add a new range "
        f"named '{asked.asked}'.",
        asked.asked,
        asked.near,
    )


def _guess(asked: Resolution) -> str:
    return f" (did you mean {either(asked.near)}?)" if asked.near else ""


def listing(document: Document) -> str:
    """`dev (frontend, web, ...), monitoring, ...`: the rows with their aliases, in order."""
    parts = []
    for row in document.ranges[:LISTED_ROWS]:
        aliases = aliases_of(document, row.service_type)
        parts.append(f"{row.service_type} ({', '.join(aliases)})" if aliases else row.service_type)
    rest = len(document.ranges) - LISTED_ROWS
    if rest > 0:
        parts.append(f"and {rest} more (port_map lists them all)")
    return ", ".join(parts) if parts else "no rows yet"


def check_daily_limit(document: Document, service_type: str, made: int) -> None:
    """Refuse a new range once `maxNewPerDay` were made in the last 24 hours; `made` counts
    them (`new_in_last_day`, and the rows the same command placed before this one)."""
    limit = document.settings.auto_allocation.max_new_per_day
    if made < limit:
        return
    raise NewRangeLimitError(
        f"no new range for '{service_type}': {made} new ranges were added in the last 24 hours, "
        f"the most autoAllocation.maxNewPerDay ({limit}) allows; remove unwanted ones with "
        "`styxy config undo-auto`, or raise the limit with "
        "`styxy config set auto-allocation.max-new-per-day N`.",
        limit,
    )


def new_in_last_day(document: Document, now: float | None = None) -> int:
    """Auto-allocations of the last 24 hours, read from the audit log's own lines.

    A range that is gone again (undone with `styxy config undo-auto`, or its row removed by
    hand) no longer counts: the limit bounds how much the document grows.
    """
    since = (time.time() if now is None else now) - DAY_SECONDS
    rows = {row.service_type: row for row in document.ranges}
    count = 0
    for entry in document.audit:
        if entry.action != "auto-allocate":
            continue
        when = _moment(entry.text.split(" ", 1)[0])
        if when is None or when < since:
            continue
        row = rows.get(entry.service_type)
        if row is not None and entry.span == (row.start, row.end):
            count += 1
    return count


def _moment(stamp: str) -> float | None:
    """Seconds since the epoch of an audit line's `2025-09-30T12:00:00Z`; None if it is not one."""
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return None


def detect_note(document: Document, service_type: str) -> str | None:
    """`'grafana' also matches the monitoring row's detect rule; ...` for a new type's name."""
    for key, globs in document.settings.detect.items():
        row = resolve(document, key).row
        if row is None or row.service_type == service_type:
            continue
        if any(fnmatch.fnmatchcase(service_type, glob) for glob in globs):
            return (
                f"'{service_type}' also matches the {row.service_type} row's detect rule; "
                f"-s {row.service_type} would share that range"
            )
    return None
