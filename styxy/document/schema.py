"""The front-matter vocabulary: every known key, its kind, and the checks on its values.

One table serves the parser (values read from YAML), `config set` (values typed by a user) and
`config get`/`show` (kebab-case keys), so the three can never disagree on a rule.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from styxy.document.model import PLACEMENTS
from styxy.errors import InvalidValueError
from styxy.refusals import shown
from styxy.vocabulary import AGENT_POLICIES, MAX_PORT

__all__ = ["MAX_PORT"]

Kind = Literal["bool", "port", "chunk", "gap", "seconds", "placement", "agents", "count"]

VERSION = 1
TOP_KEYS = (
    "styxy",
    "autoAllocation",
    "autoAllocationRules",
    "detect",
    "aliases",
    "runFlags",
    "leaseGraceSeconds",
)
AUTO_KEYS = (
    "enabled",
    "defaultChunkSize",
    "placement",
    "minPortNumber",
    "maxPortNumber",
    "preserveGaps",
    "gapSize",
    "requireConfirmation",
    "avoidEphemeral",
    "agents",
    "maxNewPerDay",
)
# Bounds of what a person may write: new ranges a day, aliases of one row (each alias costs a
# look-up on every allocation and a line in every agent's instructions).
MAX_NEW_PER_DAY = 10_000
MAX_ALIASES_PER_ROW = 64
# `runFlags`: entries, and the length of a glob and of its arguments (each glob is matched
# against a command line on every `styxy run`; fnmatch's work grows with both lengths).
MAX_RUN_FLAGS = 200
MAX_RUN_FLAG_TEXT = 200
RUN_FLAG_PLACEHOLDER = "{port}"
RULE_KEYS = ("chunkSize", "placement", "preferredRangeStart")

# The longest grace a lease may have: far beyond any restart a person waits for, and small
# enough that the time it is subtracted from stays a time (10**400 overflowed every command).
MAX_GRACE_SECONDS = 365 * 24 * 3600

# Detect globs are matched by the preload library inside every busy bind() of every program it
# is loaded into: their number and length bound that work (interceptor/cache_reader.c matches
# each in time linear in the command line), so no document can make a bind() stall.
MAX_GLOBS_PER_TYPE = 32
MAX_GLOBS = 256
MAX_GLOB_BYTES = 120

_MAX_DIGITS = 18
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")

# What each kind demands, phrased to follow "<key> must ...".
_DEMANDS: dict[str, str] = {
    "bool": "be true or false",
    "port": f"be a port number from 1 to {MAX_PORT}",
    "chunk": f"be a whole number from 1 to {MAX_PORT}",
    "gap": f"be a whole number from 0 to {MAX_PORT}",
    "seconds": f"be a whole number of seconds from 0 to {MAX_GRACE_SECONDS} (a year)",
    "placement": "be after, before or smart",
    "agents": "be " + ", ".join(AGENT_POLICIES[:-1]) + " or " + AGENT_POLICIES[-1],
    "count": f"be a whole number from 0 to {MAX_NEW_PER_DAY}",
}
# Kinds whose values are words, not numbers or booleans.
_WORD_KINDS: dict[str, tuple[str, ...]] = {"placement": PLACEMENTS, "agents": AGENT_POLICIES}


@dataclass(frozen=True)
class Setting:
    """One scalar setting: its command-line key, its place in the front matter, its field."""

    kebab: str
    path: tuple[str, ...]
    attr: str
    kind: Kind


def _auto(kebab: str, camel: str, attr: str, kind: Kind) -> Setting:
    return Setting(f"auto-allocation.{kebab}", ("autoAllocation", camel), attr, kind)


SETTINGS: tuple[Setting, ...] = (
    _auto("enabled", "enabled", "enabled", "bool"),
    _auto("default-chunk-size", "defaultChunkSize", "default_chunk_size", "chunk"),
    _auto("placement", "placement", "placement", "placement"),
    _auto("min-port-number", "minPortNumber", "min_port_number", "port"),
    _auto("max-port-number", "maxPortNumber", "max_port_number", "port"),
    _auto("preserve-gaps", "preserveGaps", "preserve_gaps", "bool"),
    _auto("gap-size", "gapSize", "gap_size", "gap"),
    _auto("require-confirmation", "requireConfirmation", "require_confirmation", "bool"),
    _auto("avoid-ephemeral", "avoidEphemeral", "avoid_ephemeral", "bool"),
    _auto("agents", "agents", "agents", "agents"),
    _auto("max-new-per-day", "maxNewPerDay", "max_new_per_day", "count"),
    Setting("lease-grace-seconds", ("leaseGraceSeconds",), "lease_grace_seconds", "seconds"),
)
SETTING_KEYS: tuple[str, ...] = tuple(s.kebab for s in SETTINGS)
BY_KEBAB = {s.kebab: s for s in SETTINGS}
AUTO_KINDS: dict[str, Kind] = {s.path[1]: s.kind for s in SETTINGS if len(s.path) == 2}
RULE_KINDS: dict[str, Kind] = {
    "chunkSize": "chunk",
    "placement": "placement",
    "preferredRangeStart": "port",
}


def demand(kind: Kind) -> str:
    return _DEMANDS[kind]


def value_ok(kind: Kind, value: object) -> bool:
    """Whether a value read from YAML fits its kind (a YAML bool is never a number)."""
    if kind == "bool":
        return isinstance(value, bool)
    if kind in _WORD_KINDS:
        return value in _WORD_KINDS[kind]
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    low = 0 if kind in ("gap", "seconds", "count") else 1
    high = {"seconds": MAX_GRACE_SECONDS, "count": MAX_NEW_PER_DAY}.get(kind, MAX_PORT)
    return low <= value <= high


def nearest(word: str, known: tuple[str, ...] | list[str]) -> str | None:
    found = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return found[0] if found else None


def setting(kebab: str) -> Setting:
    """The setting named on the command line; InvalidValueError naming the nearest key."""
    found = BY_KEBAB.get(kebab)
    if found is not None:
        return found
    guess = nearest(kebab, SETTING_KEYS) or _nearest_last_part(kebab)
    hint = f"did you mean {guess!r}?" if guess else "known keys: " + ", ".join(SETTING_KEYS)
    raise InvalidValueError(f"unknown setting {kebab!r}; {hint}")


def _nearest_last_part(kebab: str) -> str | None:
    """The key whose last part is nearest `kebab`'s: `gap-size` is too short beside
    `auto-allocation.gap-size` for a match of the whole key."""
    by_last = {key.rsplit(".", 1)[-1]: key for key in SETTING_KEYS}
    found = nearest(kebab.rsplit(".", 1)[-1], list(by_last))
    return None if found is None else by_last[found]


def user_value(item: Setting, text: str) -> bool | int | str:
    """The typed value of what a user typed for `item`, or InvalidValueError in one sentence."""
    raw = text.strip()
    if item.kind == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise InvalidValueError(
            f"{item.kebab} must be true or false (or yes/no, on/off, 1/0), not {shown(text)}"
        )
    value: object = raw
    if item.kind not in _WORD_KINDS:
        # Past 18 digits no setting fits, and int() refuses 4,300: never convert that far.
        digits = raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS
        value = int(raw) if digits else None
    if not value_ok(item.kind, value):
        raise InvalidValueError(f"{item.kebab} must {demand(item.kind)}, not {shown(text)}")
    assert isinstance(value, (int, str))
    return value
