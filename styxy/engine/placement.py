"""Where a new service type's range goes: the placement engine of SPEC section 6.

Pure functions over the ranges of a document, its settings and a view of the ports in use. No
I/O and no OS calls: the caller passes the listening ports and the kernel's ephemeral range, so
the same function serves the first proposal, the write-time collision check under the lock and
the property tests.

The search never walks port by port. One sweep over the rows sorted by start (each widened by
the gap on both sides) yields the free intervals between them; the ephemeral range is cut out
of those, and the sorted listening ports split them further (bisect finds the few that fall in
each). A free interval [a, b] holds a window of n ports exactly when its start lies in
[a, b - n + 1], so each placement picks one start from a lazy stream of "start intervals" and
stops as soon as it has its answer: O(n log n) for n rows, O(n) when the rows come sorted.
"""

from __future__ import annotations

import fnmatch
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType

from styxy.document.model import PLACEMENTS, Range, Settings
from styxy.errors import InvalidValueError, RefusedError
from styxy.vocabulary import ChosenPlacement, Placement, is_placement

# Ports below this are privileged on Unix; a rule's low preferredRangeStart may pull `lo` down to
# it, never further (SPEC section 6).
PRIVILEGED_LIMIT = 1024

# Well-known families and the port their kind of server is usually found near. `smart` places a
# new type of such a family close to its convention when no rule and no sibling range say better.
CONVENTIONS: Mapping[str, int] = MappingProxyType(
    {
        # databases
        "database": 5432,
        "db": 5432,
        "postgres": 5432,
        "postgresql": 5432,
        "mysql": 3306,
        "mariadb": 3306,
        "mongo": 27017,
        "mongodb": 27017,
        "clickhouse": 8123,
        # web servers
        "web": 8080,
        "http": 8080,
        # monitoring and observability
        "monitoring": 9090,
        "metrics": 9090,
        "prometheus": 9090,
        "grafana": 3000,
        "logging": 3100,
        "loki": 3100,
        "tracing": 16686,
        "jaeger": 16686,
        "zipkin": 9411,
        "otel": 4317,
        "opentelemetry": 4317,
        # caches
        "cache": 6379,
        "redis": 6379,
        "valkey": 6379,
        "memcached": 11211,
        # message brokers
        "broker": 5672,
        "messaging": 5672,
        "queue": 5672,
        "amqp": 5672,
        "rabbitmq": 5672,
        "kafka": 9092,
        "nats": 4222,
        # search and vector stores
        "search": 9200,
        "elasticsearch": 9200,
        "opensearch": 9200,
        "vector": 6333,
        "qdrant": 6333,
        "milvus": 19530,
        # storage and infrastructure
        "storage": 9000,
        "minio": 9000,
        "s3": 9000,
        "vault": 8200,
        "consul": 8500,
        "etcd": 2379,
    }
)

Interval = tuple[int, int]  # inclusive on both ends

# RFC 6335: auto-allocation stays in the User Ports (SPEC section 13), whatever the settings say.
USER_PORTS: Interval = (1024, 49151)


@dataclass(frozen=True)
class RegistryHints:
    """What the port registry says about a new type's windows, passed in to keep this pure.

    `assigned`: sorted ports with an IANA (or /etc/services) TCP assignment. `foreign`: sorted
    well-known developer ports (`styxy.system.curated`) that the new type is not about; a window over
    one would draw a warning from `styxy validate`, so it is taken only when no other fits.
    """

    assigned: Sequence[int] = ()
    foreign: Sequence[int] = ()

    def cost(self, start: int, end: int) -> int:
        """How many assigned and curated ports the window [start, end] covers."""
        return sum(
            bisect_right(ports, end) - bisect_left(ports, start)
            for ports in (self.assigned, self.foreign)
        )


@dataclass(frozen=True)
class Proposal:
    """A window for a new range and how it was found."""

    start: int
    end: int
    placement: ChosenPlacement  # the placement actually used
    chunk_size: int
    target: int | None  # smart's target T, else None


@dataclass(frozen=True)
class _Space:
    """The constraints one proposal is computed under."""

    lo: int
    hi: int
    gap: int
    size: int
    ephemeral: Interval | None  # None when avoidEphemeral is off or the range is unknown


# ---------------------------------------------------------------------------------------------
# Rules and names


def family(service_type: str) -> str:
    """A type's family: the name before its first '-' (`monitoring-grafana` -> `monitoring`)."""
    return service_type.split("-", 1)[0]


def resolve_rule(service_type: str, settings: Settings) -> tuple[int, str, int | None]:
    """(chunk_size, placement, preferred_range_start) for a type, from the first matching rule.

    Matching is fnmatch.fnmatchcase in document order. Fields a rule leaves out fall back to
    `autoAllocation`, except that a rule with a preferredRangeStart and no placement places
    `smart`: a preferred start means nothing to `after` or `before`.
    """
    auto = settings.auto_allocation
    for rule in settings.rules:
        if fnmatch.fnmatchcase(service_type, rule.pattern):
            chunk = rule.chunk_size if rule.chunk_size is not None else auto.default_chunk_size
            if rule.placement is not None:
                placement = rule.placement
            elif rule.preferred_range_start is not None:
                placement = "smart"
            else:
                placement = auto.placement
            return chunk, placement, rule.preferred_range_start
    return auto.default_chunk_size, auto.placement, None


def bounds(service_type: str, settings: Settings) -> tuple[int, int]:
    """[lo, hi] for a type: the settings' min/max, lo lowered by its rule's preferredRangeStart.

    A preferredRangeStart below minPortNumber makes lo = max(1024, preferredRangeStart) for that
    rule. It only ever lowers lo: a document whose minPortNumber is already below 1024 keeps it.
    """
    _, _, preferred = resolve_rule(service_type, settings)
    return _bounds(settings, preferred)


def user_ports(lo: int, hi: int) -> tuple[int, int]:
    """[lo, hi] cut to the User Ports: auto-allocation never places into System or Dynamic
    ports (SPEC section 13), even when minPortNumber or maxPortNumber reach past them."""
    return max(lo, USER_PORTS[0]), min(hi, USER_PORTS[1])


def _bounds(settings: Settings, preferred: int | None) -> tuple[int, int]:
    lo = settings.auto_allocation.min_port_number
    hi = settings.auto_allocation.max_port_number
    if preferred is not None and preferred < lo:
        lo = min(lo, max(PRIVILEGED_LIMIT, preferred))
    return lo, hi


# ---------------------------------------------------------------------------------------------
# Free space

_START = attrgetter("start")
_END = attrgetter("end")


def _rows_by_start(ranges: Sequence[Range]) -> list[Range]:
    # Sorting the rows themselves (key at C speed, no tuple per row) is the cheapest order:
    # for 5,000 rows, building a (start, end) tuple per row would cost more than the sweep.
    return sorted(ranges, key=_START)


def _free_between_rows(
    rows: Sequence[Range], gap: int, low: int, high: int, size: int
) -> Iterator[Interval]:
    """Free intervals of at least `size` ports in [low, high], every row widened by `gap`.

    A window needs at least `gap` free ports between itself and each range, so a range blocks
    [start - gap, end + gap]. Every row counts, also those outside [low, high]: the gap to a
    range just below lo still applies. `rows` ascend by start; a running "first port not yet
    blocked" replaces merging, and the sweep stops at `high`. Lazy, so a caller that has its
    answer stops early. Holes smaller than `size` are dropped here, where they are cheapest to
    drop: a dense table has one per row.
    """
    cursor = low
    for row in rows:
        first = row.start - gap
        if first > high:
            break
        if first - cursor >= size:
            yield cursor, first - 1
        last = row.end + gap
        if last >= cursor:
            cursor = last + 1
    if high - cursor + 1 >= size:
        yield cursor, high


def _minus_span(free: Iterable[Interval], span: Interval | None) -> Iterator[Interval]:
    """The free intervals with one span (the ephemeral range) cut out."""
    for a, b in free:
        if span is None or span[1] < a or b < span[0]:
            yield a, b
            continue
        if a < span[0]:
            yield a, span[0] - 1
        if span[1] < b:
            yield span[1] + 1, b


def _window_starts(free: Iterable[Interval], busy: Sequence[int], size: int) -> Iterator[Interval]:
    """Ascending intervals of the starts of `size`-port windows inside `free` that miss `busy`.

    `busy` (listening ports) is sorted, so bisect finds the few inside each free interval.
    """
    for a, b in free:
        cursor = a
        for port in busy[bisect_left(busy, a) : bisect_right(busy, b)]:
            if port - cursor >= size:
                yield cursor, port - size
            cursor = port + 1
        if b - cursor + 1 >= size:
            yield cursor, b - size + 1


def _starts(
    rows: Sequence[Range], listening: Collection[int], space: _Space, low: int, high: int
) -> Iterator[Interval]:
    """Admissible window starts within [low, high], ascending, computed lazily."""
    free = _free_between_rows(rows, space.gap, low, high, space.size)
    free = _minus_span(free, space.ephemeral)
    busy = sorted(port for port in listening if low <= port <= high)
    return _window_starts(free, busy, space.size)


def _closest(
    starts: Iterable[Interval], target: int, cost: Callable[[int], int] | None = None
) -> int | None:
    """The start nearest to target; on a tie the one of lower `cost`, then the lower one (it is
    found first)."""
    best: int | None = None
    for a, b in starts:
        candidate = min(max(target, a), b)
        if best is None or _closer(candidate, best, target, cost):
            best = candidate
        if a >= target:
            break  # every later start lies further above target
    return best


def _closer(candidate: int, best: int, target: int, cost: Callable[[int], int] | None) -> bool:
    distance, best_distance = abs(candidate - target), abs(best - target)
    if distance != best_distance:
        return distance < best_distance
    return cost is not None and cost(candidate) < cost(best)


# ---------------------------------------------------------------------------------------------
# Placements


def _smart_target(
    service_type: str, preferred: int | None, ranges: Sequence[Range], gap: int
) -> int | None:
    """T for `smart`: the rule's start, else past the family's highest range, else convention."""
    if preferred is not None:
        return preferred
    own = family(service_type)
    # A cheap prefix test first: family() on every row would dominate large tables.
    ends = [
        r.end for r in ranges if r.service_type.startswith(own) and family(r.service_type) == own
    ]
    if ends:
        return max(ends) + gap + 1
    return CONVENTIONS.get(own)


def _no_room(size: int, low: int, high: int) -> RefusedError:
    return RefusedError(f"no room for {size} ports between {low} and {high}")


def _place_smart(
    ranges: Sequence[Range],
    listening: Collection[int],
    space: _Space,
    target: int,
    hints: RegistryHints | None = None,
) -> int:
    cost = None if hints is None else (lambda start: hints.cost(start, start + space.size - 1))
    starts = _starts(_rows_by_start(ranges), listening, space, space.lo, space.hi)
    start = _closest(starts, target, cost)
    if start is None:
        raise _no_room(space.size, space.lo, space.hi)
    return start


def _place_after(ranges: Sequence[Range], listening: Collection[int], space: _Space) -> int:
    highest_end = max(map(_END, ranges), default=None)
    if highest_end is None:
        floor = space.lo
    else:
        floor = max(space.lo, highest_end + space.gap + 1)
    if floor > space.hi:  # lo <= hi holds, so a range (with its gap) reaches past hi
        raise RefusedError(
            f"no room for {space.size} ports after the range ending at {highest_end}: "
            f"maxPortNumber is {space.hi}"
        )
    # Above `floor` no range (nor its gap) can block: only listeners and the ephemeral range.
    first = next(_starts((), listening, space, floor, space.hi), None)
    if first is None:
        raise _no_room(space.size, floor, space.hi)
    return first[0]


def _place_before(ranges: Sequence[Range], listening: Collection[int], space: _Space) -> int:
    rows = _rows_by_start(ranges)
    index = bisect_left(rows, space.lo, key=_START)  # the first row starting at or above lo
    lowest_start = rows[index].start if index < len(rows) else None
    if lowest_start is None:
        first = next(_starts(rows, listening, space, space.lo, space.hi), None)
        if first is None:
            raise _no_room(space.size, space.lo, space.hi)
        return first[0]
    ceiling = min(lowest_start - space.gap - 1, space.hi)  # the last port a window may use
    if ceiling < space.lo:
        raise RefusedError(
            f"no room for {space.size} ports between {space.lo} "
            f"and the range starting at {lowest_start}"
        )
    # The highest admissible start: the end of the last interval of admissible starts.
    last: Interval | None = None
    for interval in _starts(rows, listening, space, space.lo, ceiling):
        last = interval
    if last is None:
        raise _no_room(space.size, space.lo, ceiling)
    return last[1]


def _check_request(size: int, placement: str) -> Placement:
    if size < 1:
        raise InvalidValueError(f"chunk size must be at least 1, got {size}")
    if not is_placement(placement):
        raise InvalidValueError(
            f"placement must be one of {', '.join(PLACEMENTS)}, got {placement!r}"
        )
    return placement


def propose(
    service_type: str,
    ranges: Sequence[Range],
    settings: Settings,
    *,
    listening: Collection[int] = frozenset(),
    ephemeral: tuple[int, int] | None = None,
    chunk_size: int | None = None,
    placement: str | None = None,
    registry: RegistryHints | None = None,
) -> Proposal:
    """A window for a new type, by the placement its rule (or the override) names.

    `ephemeral` is the kernel's ip_local_port_range, honoured only with avoidEphemeral.
    `chunk_size` and `placement` override the rule (the confirmation prompt's `customize`).
    With `registry` (SPEC section 13) the window stays in the User Ports 1024-49151, keeps off
    curated developer ports the type is not about unless nothing else fits, and `smart`'s ties
    go to the window covering fewer assigned and curated ports.
    Raises RefusedError (`no room for 10 ports between 10000 and 49151`) when nothing fits.
    """
    request = (service_type, ranges, settings, ephemeral, chunk_size, placement, registry)
    if registry is not None and registry.foreign:
        # First as if something listened on the foreign developer ports; only if that leaves no
        # room, over them: a warning from `validate` is better than no range at all.
        try:
            return _propose(*request, frozenset(listening) | frozenset(registry.foreign))
        except RefusedError:
            pass
    return _propose(*request, listening)


def _propose(
    service_type: str,
    ranges: Sequence[Range],
    settings: Settings,
    ephemeral: tuple[int, int] | None,
    chunk_size: int | None,
    placement: str | None,
    registry: RegistryHints | None,
    listening: Collection[int],
) -> Proposal:
    rule_size, rule_placement, preferred = resolve_rule(service_type, settings)
    size = rule_size if chunk_size is None else chunk_size
    mode: ChosenPlacement = _check_request(size, rule_placement if placement is None else placement)
    lo, hi = _bounds(settings, preferred)
    if registry is not None:
        lo, hi = user_ports(lo, hi)
    if hi - lo + 1 < size:
        raise _no_room(size, lo, hi)
    auto = settings.auto_allocation
    space = _Space(
        lo=lo,
        hi=hi,
        gap=auto.gap,
        size=size,
        ephemeral=ephemeral if auto.avoid_ephemeral else None,
    )
    target = None
    if mode == "smart":
        target = _smart_target(service_type, preferred, ranges, space.gap)
        if target is None:
            mode = "after"  # nothing to aim at: SPEC says fall back to after
    if target is not None:
        start = _place_smart(ranges, listening, space, target, registry)
    elif mode == "after":
        start = _place_after(ranges, listening, space)
    else:
        start = _place_before(ranges, listening, space)
    return Proposal(
        start=start, end=start + size - 1, placement=mode, chunk_size=size, target=target
    )


# ---------------------------------------------------------------------------------------------
# Checking one window


def window_problem(
    start: int,
    end: int,
    ranges: Sequence[Range],
    settings: Settings,
    *,
    listening: Collection[int] = frozenset(),
    ephemeral: tuple[int, int] | None = None,
    lo: int | None = None,
    hi: int | None = None,
) -> str | None:
    """None when [start, end] is admissible, else one sentence that says why not.

    Checked in the order a user fixes things: bounds, overlaps, gaps, listeners, the ephemeral
    range. `lo`/`hi` default to the settings' min/max (pass `bounds(type, settings)` for a type
    whose rule lowers lo). Used for the write-time collision check and a user's custom start.
    """
    auto = settings.auto_allocation
    low = auto.min_port_number if lo is None else lo
    high = auto.max_port_number if hi is None else hi
    if start > end:
        return f"start {start} is above end {end}"
    if start < low or end > high:
        return f"{start}-{end} is outside {low}-{high}"
    overlap, too_close = _lowest_conflicts(start, end, ranges, auto.gap)
    if overlap is not None:
        return f"{start}-{end} overlaps '{overlap.service_type}' {overlap.start}-{overlap.end}"
    if too_close is not None:
        return (
            f"{start}-{end} is too close to '{too_close.service_type}' "
            f"{too_close.start}-{too_close.end}: keep at least {auto.gap} free ports between ranges"
        )
    busy = sorted(p for p in listening if start <= p <= end)
    if busy:
        return f"port {busy[0]} is in use"
    if auto.avoid_ephemeral and ephemeral is not None:
        e_lo, e_hi = ephemeral
        if start <= e_hi and e_lo <= end:
            return f"{start}-{end} overlaps the ephemeral range {e_lo}-{e_hi}"
    return None


def _lowest_conflicts(
    start: int, end: int, ranges: Sequence[Range], gap: int
) -> tuple[Range | None, Range | None]:
    """(lowest range overlapping the window, lowest range within `gap` of it), in one pass.

    "Lowest" (by start) rather than "first in document order" so the sentence does not depend on
    how the rows happen to be ordered.
    """
    overlap: Range | None = None
    too_close: Range | None = None
    for r in ranges:
        if r.start - gap > end or r.end + gap < start:
            continue
        if r.start <= end and start <= r.end:
            if overlap is None or r.start < overlap.start:
                overlap = r
        elif too_close is None or r.start < too_close.start:
            too_close = r
    return overlap, too_close
