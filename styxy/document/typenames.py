"""What a service type name means in a document: a row, an alias of a row, or unknown (SPEC 15).

Every front end asks here, through `styxy.api` and the engine, so `db` means `database` on the
command line, in MCP, over HTTP, in `styxy.toml` and in the interceptor's detect rules alike.
Pure and small: imported on the hot path of `styxy allocate`, it reads a `Document` (from the
cache's view or a parse) and nothing else.
"""

from __future__ import annotations

from functools import lru_cache

from styxy.document.model import Document, Range
from styxy.records import record

# A near miss allows this many edits for names of at most SHORT_NAME characters, and
# LONG_DISTANCE for longer ones (the shorter of the two folded names counts).
SHORT_NAME = 5
SHORT_DISTANCE = 1
LONG_DISTANCE = 2


@record
class Resolution:
    """The name asked for and what it means in the document."""

    asked: str
    row: Range | None  # None: the document has no row by that name or alias
    alias: bool = False  # True when `asked` is an alias of `row`
    # For an unknown name: the rows and aliases it nearly spells, best first.
    near: tuple[str, ...] = ()

    @property
    def service_type(self) -> str:
        """The row's name (the identity leases use), or the name asked for when unknown."""
        return self.row.service_type if self.row is not None else self.asked

    @property
    def requested_type(self) -> str | None:
        """The name asked for, when it was an alias (`requestedType` in JSON)."""
        return self.asked if self.alias else None

    @property
    def known(self) -> bool:
        return self.row is not None


def resolve(document: Document, name: str) -> Resolution:
    """Exact row, then alias, then unknown (with the near misses of rows and aliases)."""
    row = document.range_of(name)
    if row is not None:
        return Resolution(name, row)
    target = document.settings.row_of_alias(name)
    if target is not None:
        row = document.range_of(target)
        if row is not None:
            return Resolution(name, row, alias=True)
    return Resolution(name, None, near=near_misses(name, vocabulary(document)))


def either(names: tuple[str, ...]) -> str:
    """`'dev'`, `'api' or 'ai'`, `'a', 'b' or 'c'`: near misses as "did you mean" offers them."""
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def unknown_note(asked: Resolution) -> str:
    """What a reader of an unknown name is told: its near misses, else that no row has it."""
    if asked.near:
        return f"unknown service type '{asked.asked}'; did you mean {either(asked.near)}?"
    return f"unknown service type '{asked.asked}': it is not a row or an alias of the document."


def vocabulary(document: Document) -> list[str]:
    """Every name that means a row: the rows in document order, then their aliases."""
    rows = [r.service_type for r in document.ranges]
    known = set(rows)
    aliases = [
        alias
        for row, names in document.settings.aliases.items()
        if row in known
        for alias in names
        if alias not in known
    ]
    return [*rows, *aliases]


def aliases_of(document: Document, row: str) -> tuple[str, ...]:
    """The aliases that mean `row` (an alias that is also a row's name means that row)."""
    known = {r.service_type for r in document.ranges}
    return tuple(a for a in document.settings.aliases.get(row, ()) if a not in known)


def near_misses(name: str, known: list[str]) -> tuple[str, ...]:
    """The names of `known` that `name` nearly spells, closest first (ties: `known`'s order)."""
    scored = []
    folded = fold(name)
    for order, other in enumerate(known):
        distance = near_miss_distance(folded, fold(other))
        if distance is not None and other != name:
            scored.append((distance, order, other))
    scored.sort()
    best = [other for distance, _, other in scored if distance == scored[0][0]]
    return tuple(best)


def is_near_miss(a: str, b: str) -> bool:
    """Whether `a` and `b` are two spellings of one name (SPEC 15), not two names."""
    if a == b or _without_digits(a) == _without_digits(b):
        return False  # numbered names as written (`s`, `1s`), before folding drops an `s`
    return near_miss_distance(fold(a), fold(b)) is not None


@lru_cache(maxsize=8192)  # each name of the vocabulary is folded once, not once a comparison
def fold(name: str) -> str:
    """Case folded, `-` and `_` dropped, one trailing `s` dropped: `Dev_Servers` -> `devserver`."""
    folded = name.lower().replace("-", "").replace("_", "")
    return folded[:-1] if folded.endswith("s") and len(folded) > 1 else folded


def near_miss_distance(a: str, b: str) -> int | None:
    """The edit distance of two folded names when it makes them a near miss, else None.

    Names that differ only in their digits (`worker1`, `worker2`; `api2` and `api`) are
    numbered instances of a family, never a misspelling of each other.
    """
    if a != b and _without_digits(a) == _without_digits(b):
        return None
    limit = SHORT_DISTANCE if min(len(a), len(b)) <= SHORT_NAME else LONG_DISTANCE
    if abs(len(a) - len(b)) > limit:
        return None
    distance = damerau_levenshtein(a, b, limit)
    return distance if distance <= limit else None


@lru_cache(maxsize=8192)
def _without_digits(text: str) -> str:
    return "".join(c for c in text if not c.isdigit())


def damerau_levenshtein(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`, as the
    optimal-string-alignment form counts them; any value above `limit` is returned as
    `limit + 1`, so long names stop early."""
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[len(b)], limit + 1)
