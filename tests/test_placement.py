"""The placement engine (SPEC section 6): exact examples, edges, properties vs. brute force."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from styxy import records
from styxy.document.model import AutoAllocation, Range, Rule, Settings
from styxy.engine.placement import (
    CONVENTIONS,
    Proposal,
    bounds,
    family,
    propose,
    resolve_rule,
    window_problem,
)
from styxy.errors import InvalidValueError, RefusedError

# The table of the shipped default document, SPEC section 3, in document order.
DEFAULT_ROWS = (
    ("dev", 3000, 3099),
    ("monitoring", 3100, 3199),
    ("ui", 4000, 4099),
    ("docs", 4100, 4199),
    ("hub", 4400, 4499),
    ("functions", 5000, 5099),
    ("database", 5430, 5499),
    ("storybook", 6006, 6029),
    ("infrastructure", 6370, 6399),
    ("api", 8000, 8099),
    ("proxy", 8100, 8199),
    ("build", 8200, 8299),
    ("messaging", 9050, 9098),
    ("auth", 9099, 9199),
    ("test", 9200, 9299),
    ("coordination", 9870, 9899),
    ("ai", 11400, 11499),
)
DEFAULT_RANGES = tuple(Range(name, start, end) for name, start, end in DEFAULT_ROWS)
DEFAULT_RULES = (
    Rule("monitoring-*", chunk_size=20, placement="smart", preferred_range_start=9000),
    Rule("database-*", chunk_size=5, preferred_range_start=5400),
)
DEFAULT_SETTINGS = Settings(rules=DEFAULT_RULES)
EPHEMERAL = (32768, 60999)


def with_auto(settings: Settings = DEFAULT_SETTINGS, **changes: Any) -> Settings:
    return records.replace(
        settings, auto_allocation=records.replace(settings.auto_allocation, **changes)
    )


def with_rules(*rules: Rule, settings: Settings = DEFAULT_SETTINGS) -> Settings:
    return records.replace(settings, rules=rules)


def place(
    service_type: str, ranges: Sequence[Range] = DEFAULT_RANGES, **kwargs: object
) -> Proposal:
    kwargs.setdefault("ephemeral", EPHEMERAL)
    settings = kwargs.pop("settings", DEFAULT_SETTINGS)
    return propose(service_type, ranges, settings, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The default document


def test_after_places_grafana_past_ai_with_a_gap() -> None:
    assert place("grafana") == Proposal(11510, 11519, "after", 10, None)


def test_after_second_type_keeps_the_gap_to_the_first() -> None:
    ranges = DEFAULT_RANGES + (Range("grafana", 11510, 11519),)
    assert place("jaeger", ranges) == Proposal(11530, 11539, "after", 10, None)


def test_after_twenty_port_chunk_after_grafana() -> None:
    ranges = DEFAULT_RANGES + (Range("grafana", 11510, 11519),)
    assert place("jaeger", ranges, chunk_size=20) == Proposal(11530, 11549, "after", 20, None)


def test_rule_smart_with_preferred_start_below_min_port() -> None:
    assert place("monitoring-prometheus") == Proposal(9000, 9019, "smart", 20, 9000)


def test_rule_preferred_start_without_placement_means_smart() -> None:
    assert place("database-redis") == Proposal(5400, 5404, "smart", 5, 5400)


def test_before_places_under_the_lowest_range_above_min() -> None:
    assert place("grafana", placement="before") == Proposal(11380, 11389, "before", 10, None)


def test_before_from_settings() -> None:
    settings = with_auto(placement="before")
    assert place("grafana", settings=settings) == Proposal(11380, 11389, "before", 10, None)


def test_after_without_gaps_is_adjacent() -> None:
    settings = with_auto(preserve_gaps=False)
    assert place("grafana", settings=settings) == Proposal(11500, 11509, "after", 10, None)


def test_gap_size_is_ignored_when_gaps_are_not_preserved() -> None:
    settings = with_auto(preserve_gaps=False, gap_size=500)
    assert place("grafana", settings=settings).start == 11500


def test_bigger_gap_size() -> None:
    settings = with_auto(gap_size=100)
    assert place("grafana", settings=settings) == Proposal(11600, 11609, "after", 10, None)


# ---------------------------------------------------------------------------------------------
# Rules


def test_resolve_rule_without_match_uses_auto_allocation() -> None:
    assert resolve_rule("grafana", DEFAULT_SETTINGS) == (10, "after", None)


def test_resolve_rule_first_match_in_document_order_wins() -> None:
    settings = with_rules(
        Rule("mon*", chunk_size=7, placement="before"),
        Rule("monitoring-*", chunk_size=20, placement="smart", preferred_range_start=9000),
    )
    assert resolve_rule("monitoring-x", settings) == (7, "before", None)
    reversed_settings = with_rules(*reversed(settings.rules))
    assert resolve_rule("monitoring-x", reversed_settings) == (20, "smart", 9000)


def test_resolve_rule_missing_fields_fall_back() -> None:
    settings = with_auto(with_rules(Rule("x-*")), default_chunk_size=12, placement="before")
    assert resolve_rule("x-1", settings) == (12, "before", None)


def test_resolve_rule_explicit_placement_beats_preferred_start() -> None:
    settings = with_rules(Rule("x-*", placement="after", preferred_range_start=20000))
    assert resolve_rule("x-1", settings) == (10, "after", 20000)


def test_resolve_rule_glob_is_case_sensitive() -> None:
    assert resolve_rule("Monitoring-x", DEFAULT_SETTINGS) == (10, "after", None)
    assert resolve_rule("monitoring-x", DEFAULT_SETTINGS) == (20, "smart", 9000)


def test_resolve_rule_glob_must_match_whole_name() -> None:
    # fnmatch anchors both ends: `monitoring-*` does not match plain `monitoring`.
    assert resolve_rule("monitoring", DEFAULT_SETTINGS) == (10, "after", None)
    settings = with_rules(Rule("db?", chunk_size=3))
    assert resolve_rule("db1", settings)[0] == 3
    assert resolve_rule("db12", settings)[0] == 10


def test_overrides_beat_the_rule() -> None:
    proposal = place("monitoring-prometheus", chunk_size=4, placement="smart")
    assert proposal == Proposal(9000, 9003, "smart", 4, 9000)
    # `after` under the rule still uses the rule's lowered lo, but after the highest End.
    assert place("monitoring-prometheus", placement="after") == Proposal(
        11510, 11529, "after", 20, None
    )


def test_bounds_lowered_only_by_a_rule_below_min() -> None:
    assert bounds("grafana", DEFAULT_SETTINGS) == (10000, 49151)
    assert bounds("database-x", DEFAULT_SETTINGS) == (5400, 49151)
    low = with_rules(Rule("x-*", preferred_range_start=80))
    assert bounds("x-1", low) == (1024, 49151)
    high = with_rules(Rule("x-*", preferred_range_start=20000))
    assert bounds("x-1", high) == (10000, 49151)
    # A minPortNumber already below 1024 is never raised by the clamp.
    assert bounds("x-1", with_auto(low, min_port_number=500)) == (500, 49151)


def test_preferred_start_below_1024_is_clamped() -> None:
    settings = with_rules(Rule("x-*", chunk_size=10, preferred_range_start=100))
    assert place("x-1", (), settings=settings) == Proposal(1024, 1033, "smart", 10, 100)


# ---------------------------------------------------------------------------------------------
# smart


def test_family_is_the_name_before_the_first_dash() -> None:
    assert family("monitoring-grafana") == "monitoring"
    assert family("monitoring-a-b") == "monitoring"
    assert family("grafana") == "grafana"
    assert family("-x") == ""


def test_conventions_are_immutable_and_name_the_well_known_families() -> None:
    with pytest.raises(TypeError):
        CONVENTIONS["web"] = 1  # type: ignore[index]
    assert CONVENTIONS["database"] == 5432
    assert CONVENTIONS["web"] == 8080
    assert CONVENTIONS["monitoring"] == 9090
    assert CONVENTIONS["cache"] == 6379
    assert CONVENTIONS["tracing"] == 16686
    assert CONVENTIONS["kafka"] == 9092
    assert CONVENTIONS["rabbitmq"] == 5672


def test_smart_uses_convention_of_the_family() -> None:
    settings = with_auto(placement="smart")
    assert place("tracing-jaeger", settings=settings) == Proposal(16686, 16695, "smart", 10, 16686)


def test_smart_convention_below_lo_gives_the_nearest_admissible_window() -> None:
    # web -> 8080 lies below minPortNumber 10000: the closest window is at lo.
    settings = with_auto(placement="smart")
    assert place("web-admin", settings=settings) == Proposal(10000, 10009, "smart", 10, 8080)


def test_smart_follows_the_family_highest_end_plus_gap() -> None:
    ranges = DEFAULT_RANGES + (Range("tracing-a", 20000, 20009), Range("tracing", 15000, 15099))
    settings = with_auto(placement="smart")
    assert place("tracing-b", ranges, settings=settings) == Proposal(
        20020, 20029, "smart", 10, 20020
    )


def test_smart_family_own_row_counts() -> None:
    ranges = DEFAULT_RANGES + (Range("cache", 12000, 12049),)
    settings = with_auto(placement="smart")
    assert place("cache-redis", ranges, settings=settings) == Proposal(
        12060, 12069, "smart", 10, 12060
    )


def test_smart_family_beats_convention() -> None:
    # `monitoring` 3100-3199 is the family row: T = 3210, not the 9090 convention.
    settings = with_auto(with_rules(), placement="smart", min_port_number=1024)
    assert place("monitoring-x", settings=settings) == Proposal(3210, 3219, "smart", 10, 3210)


def test_smart_without_target_falls_back_to_after() -> None:
    settings = with_auto(placement="smart")
    assert place("zzz", settings=settings) == Proposal(11510, 11519, "after", 10, None)


def test_smart_takes_the_closer_side_and_the_lower_on_a_tie() -> None:
    settings = with_auto(Settings(), placement="smart", gap_size=0, min_port_number=1000)
    ranges = (Range("a", 1100, 1109),)
    # T inside the range: 1090-1099 starts 15 below, 1110 is 5 above.
    rule = (Rule("x", preferred_range_start=1105),)
    assert place("x", ranges, settings=with_rules(*rule, settings=settings)).start == 1110
    # T = 1100: 1090 and 1110 are both 10 away; the lower wins.
    rule = (Rule("x", preferred_range_start=1100),)
    assert place("x", ranges, settings=with_rules(*rule, settings=settings)).start == 1090


def test_smart_looks_past_a_near_miss_below_the_target() -> None:
    # A one-port hole at 1098 is 2 from T = 1100; the free space from 1101 is only 1 away.
    settings = with_auto(Settings(), gap_size=0, min_port_number=1000)
    settings = with_rules(Rule("x", chunk_size=1, preferred_range_start=1100), settings=settings)
    ranges = (Range("a", 1000, 1097), Range("b", 1099, 1100))
    assert place("x", ranges, settings=settings) == Proposal(1101, 1101, "smart", 1, 1100)


def test_smart_preferred_start_above_hi_gives_the_highest_window() -> None:
    settings = with_rules(Rule("x-*", chunk_size=10, preferred_range_start=60000))
    assert place("x-1", settings=settings) == Proposal(32758, 32767, "smart", 10, 60000)
    assert place("x-1", settings=settings, ephemeral=None) == Proposal(
        49142, 49151, "smart", 10, 60000
    )


# ---------------------------------------------------------------------------------------------
# Listening ports, the ephemeral range, lo and hi


def test_listening_port_pushes_the_window() -> None:
    assert place("grafana", listening={11512}) == Proposal(11513, 11522, "after", 10, None)


def test_listening_ports_need_no_gap_and_outside_ones_do_not_matter() -> None:
    assert place("grafana", listening={11509, 11520, 3000, 65000}).start == 11510
    assert place("grafana", listening={11510}).start == 11511


def test_listening_port_pushes_smart_to_the_nearest_side() -> None:
    assert place("monitoring-prometheus", listening={9005}) == Proposal(
        9006, 9025, "smart", 20, 9000
    )
    # 9021-9040 would leave 9 free ports before messaging 9050, and lo is 9000 for this rule:
    # the nearest window is past `test` 9200-9299 and its gap.
    assert place("monitoring-prometheus", listening={9005, 9020}) == Proposal(
        9310, 9329, "smart", 20, 9000
    )


def test_ephemeral_range_is_avoided() -> None:
    ranges = (Range("big", 10000, 32700),)
    assert place("grafana", ranges, settings=Settings()) == Proposal(
        32711, 32720, "after", 10, None
    )
    ranges = (Range("big", 10000, 32750),)
    with pytest.raises(RefusedError) as caught:
        place("grafana", ranges, settings=Settings())
    assert str(caught.value) == "no room for 10 ports between 32761 and 49151"


def test_ephemeral_range_ignored_without_avoid_ephemeral() -> None:
    ranges = (Range("big", 10000, 32750),)
    settings = with_auto(Settings(), avoid_ephemeral=False)
    assert place("grafana", ranges, settings=settings).start == 32761


def test_ephemeral_range_unknown_is_not_an_obstacle() -> None:
    ranges = (Range("big", 10000, 32750),)
    assert place("grafana", ranges, settings=Settings(), ephemeral=None).start == 32761


def test_window_touching_hi_exactly_fits() -> None:
    settings = with_auto(Settings(), max_port_number=11519)
    assert place("grafana", settings=settings).end == 11519
    settings = with_auto(Settings(), max_port_number=11518)
    with pytest.raises(RefusedError) as caught:
        place("grafana", settings=settings)
    assert str(caught.value) == "no room for 10 ports between 11510 and 11518"


def test_empty_table_places_at_lo_for_every_placement() -> None:
    for mode in ("after", "before", "smart"):
        proposal = place("zzz", (), placement=mode)
        assert (proposal.start, proposal.end) == (10000, 10009)
        assert proposal.placement == ("after" if mode == "smart" else mode)


def test_range_below_lo_still_keeps_its_gap() -> None:
    ranges = (Range("low", 9000, 9995),)
    assert place("x", ranges) == Proposal(10006, 10015, "after", 10, None)
    assert place("x", ranges, placement="before") == Proposal(10006, 10015, "before", 10, None)


def test_range_straddling_hi_limits_after() -> None:
    ranges = (Range("a", 11000, 11099), Range("top", 49100, 49200))
    with pytest.raises(RefusedError) as caught:
        place("x", ranges, ephemeral=None)
    assert str(caught.value) == (
        "no room for 10 ports after the range ending at 49200: maxPortNumber is 49151"
    )


def test_before_with_no_room_under_the_lowest_range() -> None:
    ranges = (Range("a", 10005, 10099),)
    with pytest.raises(RefusedError) as caught:
        place("x", ranges, placement="before")
    assert str(caught.value) == (
        "no room for 10 ports between 10000 and the range starting at 10005"
    )
    ranges = (Range("a", 10015, 10099),)
    with pytest.raises(RefusedError) as caught:
        place("x", ranges, placement="before")
    assert str(caught.value) == "no room for 10 ports between 10000 and 10004"
    ranges = (Range("a", 10020, 10099),)
    assert place("x", ranges, placement="before") == Proposal(10000, 10009, "before", 10, None)


def test_before_searches_down_past_obstacles() -> None:
    # `a` lies below lo, so the lowest Start at or above lo is b's 12000: windows end <= 11989.
    ranges = (Range("a", 8000, 8099), Range("b", 12000, 12099))
    assert place("x", ranges, placement="before", listening={11985}) == Proposal(
        11975, 11984, "before", 10, None
    )


def test_before_with_no_range_above_lo_places_lowest_from_lo() -> None:
    ranges = (Range("low", 3000, 3099),)
    assert place("x", ranges, placement="before", listening={10003}) == Proposal(
        10004, 10013, "before", 10, None
    )


def test_chunk_bigger_than_the_room() -> None:
    settings = with_auto(Settings(), min_port_number=10000, max_port_number=10009)
    assert place("x", (), settings=settings).start == 10000
    with pytest.raises(RefusedError) as caught:
        place("x", (), settings=settings, chunk_size=11)
    assert str(caught.value) == "no room for 11 ports between 10000 and 10009"


def test_no_room_message_with_real_numbers() -> None:
    # Everything in [lo, hi] is listened on: nothing fits anywhere.
    settings = with_auto(Settings(), placement="smart")
    with pytest.raises(RefusedError) as caught:
        propose("x", (), settings, listening=set(range(10000, 49152, 9)), ephemeral=None)
    assert str(caught.value) == "no room for 10 ports between 10000 and 49151"
    with pytest.raises(RefusedError) as caught:
        propose("x", (), settings, listening=set(range(10000, 49152, 9)), chunk_size=9)
    assert str(caught.value) == "no room for 9 ports between 10000 and 49151"
    assert (
        propose("x", (), settings, listening=set(range(10000, 49152, 9)), chunk_size=8).start
        == 10001
    )


def test_invalid_requests() -> None:
    with pytest.raises(InvalidValueError, match="chunk size must be at least 1, got 0"):
        place("x", chunk_size=0)
    with pytest.raises(InvalidValueError, match="placement must be one of after, before, smart"):
        place("x", placement="middle")


def test_large_table_is_placed_without_a_port_by_port_scan() -> None:
    # 5,000 rows leave holes of 8 ports: too small for a 10-port chunk with gaps, so every hole
    # must be rejected. A port-by-port scan would take minutes; the interval search milliseconds.
    ranges = tuple(Range(f"t{i}", 1024 + 12 * i, 1027 + 12 * i) for i in range(5000))
    settings = with_auto(Settings(), min_port_number=1024, max_port_number=65535, placement="smart")
    began = time.perf_counter()
    # T = end of t5 (1087) + 10 + 1 = 1098; the first free hole is past the last row, 61015.
    assert propose("t5", ranges, settings) == Proposal(61026, 61035, "smart", 10, 1098)
    assert propose("t5", ranges, settings, placement="after").start == 61026
    assert time.perf_counter() - began < 5.0


# ---------------------------------------------------------------------------------------------
# window_problem


def test_window_problem_accepts_an_admissible_window() -> None:
    assert (
        window_problem(11510, 11519, DEFAULT_RANGES, DEFAULT_SETTINGS, ephemeral=EPHEMERAL) is None
    )


def test_window_problem_sentences() -> None:
    def problem(start: int, end: int, **kwargs: Any) -> str | None:
        return window_problem(start, end, DEFAULT_RANGES, DEFAULT_SETTINGS, **kwargs)

    assert problem(9990, 9999) == "9990-9999 is outside 10000-49151"
    assert problem(49150, 49159) == "49150-49159 is outside 10000-49151"
    assert problem(8050, 8059, lo=1024) == "8050-8059 overlaps 'api' 8000-8099"
    assert problem(11500, 11509) == (
        "11500-11509 is too close to 'ai' 11400-11499: keep at least 10 free ports between ranges"
    )
    assert problem(11509, 11518) == (
        "11509-11518 is too close to 'ai' 11400-11499: keep at least 10 free ports between ranges"
    )
    assert problem(11510, 11519) is None
    assert problem(11510, 11519, listening={11515, 11512}) == "port 11512 is in use"
    assert problem(40000, 40009, ephemeral=EPHEMERAL) == (
        "40000-40009 overlaps the ephemeral range 32768-60999"
    )
    assert problem(11520, 11510) == "start 11520 is above end 11510"


def test_window_problem_bounds_override_and_settings() -> None:
    assert window_problem(9000, 9019, DEFAULT_RANGES, DEFAULT_SETTINGS, lo=9000) is None
    assert window_problem(9000, 9019, DEFAULT_RANGES, DEFAULT_SETTINGS, lo=9000, hi=9010) == (
        "9000-9019 is outside 9000-9010"
    )
    no_gaps = with_auto(preserve_gaps=False, avoid_ephemeral=False)
    assert window_problem(11500, 11509, DEFAULT_RANGES, no_gaps) is None
    assert window_problem(40000, 40009, DEFAULT_RANGES, no_gaps, ephemeral=EPHEMERAL) is None


def test_window_problem_reports_overlap_before_gap() -> None:
    ranges = (Range("near", 10000, 10009), Range("on", 10025, 10030))
    settings = Settings()
    assert window_problem(10015, 10025, ranges, settings) == "10015-10025 overlaps 'on' 10025-10030"


# ---------------------------------------------------------------------------------------------
# Properties against an independent brute force


def brute_admissible(
    start: int,
    size: int,
    ranges: Sequence[Range],
    gap: int,
    listening: Collection[int],
    ephemeral: tuple[int, int] | None,
    lo: int,
    hi: int,
) -> bool:
    """SPEC section 6's definition, read literally, one window at a time."""
    end = start + size - 1
    if start < lo or end > hi:
        return False
    for r in ranges:
        if end < r.start:
            free_between = r.start - end - 1
        elif start > r.end:
            free_between = start - r.end - 1
        else:
            return False
        if free_between < gap:
            return False
    if any(start <= port <= end for port in listening):
        return False
    return ephemeral is None or end < ephemeral[0] or start > ephemeral[1]


@dataclasses.dataclass(frozen=True)
class Case:
    service_type: str
    ranges: tuple[Range, ...]
    settings: Settings
    listening: frozenset[int]
    ephemeral: tuple[int, int] | None
    chunk_size: int | None
    placement: str | None


NAMES = ("mon", "mon-a", "monitor", "db", "db-b", "cache", "web-x", "zz", "zz-q", "tracing")


@st.composite
def cases(draw: st.DrawFn) -> Case:
    cuts = sorted(draw(st.sets(st.integers(900, 1800), max_size=16)))
    ranges = tuple(
        Range(
            f"{draw(st.sampled_from(NAMES))}-{i}" if draw(st.booleans()) else NAMES[i % len(NAMES)],
            a,
            b,
        )
        for i, (a, b) in enumerate(zip(cuts[::2], cuts[1::2]))
    )
    ranges = tuple(draw(st.permutations(ranges)))  # document order is not port order
    lo = draw(st.integers(1000, 1400))
    hi = draw(st.integers(lo - 5, 1700))
    auto = AutoAllocation(
        default_chunk_size=draw(st.integers(1, 50)),
        placement=draw(st.sampled_from(("after", "before", "smart"))),
        min_port_number=lo,
        max_port_number=hi,
        preserve_gaps=draw(st.booleans()),
        gap_size=draw(st.integers(0, 15)),
        avoid_ephemeral=draw(st.booleans()),
    )
    rules = tuple(
        Rule(
            draw(st.sampled_from(("mon*", "db-*", "*", "zz-?", "nomatch"))),
            chunk_size=draw(st.none() | st.integers(1, 40)),
            placement=draw(st.none() | st.sampled_from(("after", "before", "smart"))),
            preferred_range_start=draw(st.none() | st.integers(900, 1800)),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    ephemeral = draw(
        st.none()
        | st.tuples(st.integers(900, 1800), st.integers(0, 300)).map(lambda t: (t[0], t[0] + t[1]))
    )
    return Case(
        service_type=draw(st.sampled_from(NAMES + ("mon-new", "db-new", "cache-x", "web", "new"))),
        ranges=ranges,
        settings=Settings(auto_allocation=auto, rules=rules),
        listening=frozenset(draw(st.sets(st.integers(900, 1800), max_size=30))),
        ephemeral=ephemeral,
        chunk_size=draw(st.none() | st.integers(1, 60)),
        placement=draw(st.none() | st.sampled_from(("after", "before", "smart"))),
    )


def expected_request(case: Case) -> tuple[int, str, int | None, int, int]:
    """(size, placement, preferred, lo, hi) derived from SPEC section 6 independently."""
    auto = case.settings.auto_allocation
    matching = [r for r in case.settings.rules if _glob(case.service_type, r.pattern)]
    rule = matching[0] if matching else Rule("")
    size = rule.chunk_size or auto.default_chunk_size
    if rule.placement:
        mode = rule.placement
    else:
        mode = "smart" if rule.preferred_range_start is not None else auto.placement
    size = case.chunk_size or size
    mode = case.placement or mode
    lo, hi = auto.min_port_number, auto.max_port_number
    preferred = rule.preferred_range_start
    if preferred is not None and preferred < lo:
        lo = min(lo, max(1024, preferred))
    return size, mode, preferred, lo, hi


def _glob(name: str, pattern: str) -> bool:
    """The few patterns the strategy uses, matched by hand so the test does not reuse fnmatch."""
    if pattern == "*":
        return True
    if pattern == "mon*":
        return name.startswith("mon")
    if pattern == "db-*":
        return name.startswith("db-")
    if pattern == "zz-?":
        return name.startswith("zz-") and len(name) == 4
    return False


def expected_target(case: Case, preferred: int | None, gap: int) -> int | None:
    if preferred is not None:
        return preferred
    own = case.service_type.partition("-")[0]
    ends = [r.end for r in case.ranges if r.service_type.partition("-")[0] == own]
    if ends:
        return max(ends) + gap + 1
    return CONVENTIONS.get(own)


@hyp_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_property_proposals_are_admissible_and_optimal(case: Case) -> None:
    size, mode, preferred, lo, hi = expected_request(case)
    auto = case.settings.auto_allocation
    gap = auto.gap_size if auto.preserve_gaps else 0
    ephemeral = case.ephemeral if auto.avoid_ephemeral else None

    def ok(start: int) -> bool:
        return brute_admissible(start, size, case.ranges, gap, case.listening, ephemeral, lo, hi)

    target = expected_target(case, preferred, gap) if mode == "smart" else None
    if mode == "smart" and target is None:
        mode = "after"
    if mode == "after":
        floor = max([lo] + [r.end + gap + 1 for r in case.ranges])
        allowed = range(floor, hi + 1)
    elif mode == "before":
        above = [r.start for r in case.ranges if r.start >= lo]
        allowed = range(lo, min(above) - gap - 1 - size + 2) if above else range(lo, hi + 1)
    else:
        allowed = range(lo, hi + 1)
    admissible = [s for s in allowed if ok(s)]

    try:
        proposal = propose(
            case.service_type,
            case.ranges,
            case.settings,
            listening=case.listening,
            ephemeral=case.ephemeral,
            chunk_size=case.chunk_size,
            placement=case.placement,
        )
    except RefusedError as refused:
        assert admissible == []
        assert str(refused).startswith(f"no room for {size} ports ")
        return

    assert proposal.end - proposal.start + 1 == size == proposal.chunk_size
    assert proposal.placement == mode
    assert proposal.target == target
    assert ok(proposal.start)
    assert proposal.start in admissible
    assert (
        window_problem(
            proposal.start,
            proposal.end,
            case.ranges,
            case.settings,
            listening=case.listening,
            ephemeral=case.ephemeral,
            lo=lo,
            hi=hi,
        )
        is None
    )
    if mode == "after":
        assert proposal.start == min(admissible)
    elif mode == "before":
        above = [r.start for r in case.ranges if r.start >= lo]
        assert proposal.start == (max(admissible) if above else min(admissible))
    else:
        assert target is not None
        assert proposal.start == min(admissible, key=lambda s: (abs(s - target), s))


@hyp_settings(max_examples=300, deadline=None)
@given(cases(), st.integers(880, 1820), st.integers(1, 40))
def test_property_window_problem_agrees_with_brute_force(case: Case, start: int, size: int) -> None:
    auto = case.settings.auto_allocation
    gap = auto.gap_size if auto.preserve_gaps else 0
    ephemeral = case.ephemeral if auto.avoid_ephemeral else None
    lo, hi = auto.min_port_number, auto.max_port_number
    assume(lo <= hi)
    problem = window_problem(
        start,
        start + size - 1,
        case.ranges,
        case.settings,
        listening=case.listening,
        ephemeral=case.ephemeral,
    )
    admissible = brute_admissible(start, size, case.ranges, gap, case.listening, ephemeral, lo, hi)
    assert (problem is None) == admissible
