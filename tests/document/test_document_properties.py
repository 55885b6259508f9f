"""Properties over many generated inputs: reversibility, one-line diffs, names, robustness."""

from __future__ import annotations

import re

import pytest
from document_support import FIXTURES, VALID, changes, text_of
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from styxy.document import (
    Parsed,
    add_range,
    append_audit,
    check,
    check_service_type,
    parse,
    remove_range,
)
from styxy.document.model import Range
from styxy.errors import InvalidValueError

# Every valid fixture but the one kept for its warnings.
SPLICEABLE = tuple(name for name in VALID if name != "warnings.md")
PARSED = {name: parse(text_of(FIXTURES / name), name) for name in SPLICEABLE}
NAMES = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,62}", fullmatch=True)
DESCRIPTIONS = st.text(
    # No control characters (refused) and none of the separators str.splitlines would split on.
    alphabet=st.characters(
        codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="\u2028\u2029"
    ),
    max_size=40,
)


@st.composite
def free_rows(draw: st.DrawFn, parsed: Parsed) -> Range:
    name = draw(NAMES)
    assume(parsed.document.range_of(name) is None)
    start = draw(st.integers(20000, 65535))
    end = draw(st.integers(start, min(65535, start + 500)))
    span = list(range(start, end + 1))
    preferred = tuple(draw(st.lists(st.sampled_from(span), max_size=3, unique=True)))
    instances = draw(st.sampled_from(["single", "multi"]))
    return Range(name, start, end, instances, preferred, draw(DESCRIPTIONS))


@pytest.mark.parametrize("name", SPLICEABLE)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_add_then_remove_gives_back_the_original_bytes(name: str, data: st.DataObject) -> None:
    parsed = PARSED[name]
    row = data.draw(free_rows(parsed))
    added = add_range(parsed, row)
    removed, inserted = changes(parsed.text, added)
    assert removed == [] and len(inserted) == 1
    again = parse(added, name)
    read_back = again.document.range_of(row.service_type)
    assert read_back is not None
    assert (read_back.start, read_back.end, read_back.preferred) == (
        row.start,
        row.end,
        row.preferred,
    )
    assert read_back.description == row.description.strip()
    assert remove_range(again, row.service_type) == parsed.text


@pytest.mark.parametrize("name", SPLICEABLE)
@settings(max_examples=25, deadline=None)
@given(
    line=st.text(
        alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "S", "Zs"]),
        min_size=1,
        max_size=80,
    )
)
def test_audit_line_is_one_added_line_at_the_end_of_the_block(name: str, line: str) -> None:
    parsed = PARSED[name]
    assume(line.strip() and not line.strip().startswith(("```", "~~~")))
    after = append_audit(parsed, line)
    removed, inserted = changes(parsed.text, after)
    assert removed == [] and [text.rstrip("\r\n") for _, text in inserted] == [line.strip()]
    assert parse(after, name).document.audit[-1].text == line.strip()


@settings(max_examples=200, deadline=None)
@given(name=NAMES)
def test_every_name_of_the_rule_is_accepted(name: str) -> None:
    check_service_type(name)


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=70))
def test_names_outside_the_rule_are_refused(name: str) -> None:
    if re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", name):
        check_service_type(name)
    else:
        with pytest.raises(InvalidValueError) as caught:
            check_service_type(name)
        # The name quoted as typed, cut after 40 characters.
        shown = repr(name) if len(name) <= 40 else repr(name[:40] + "...")
        assert f"invalid service type {shown}: " in str(caught.value)
        assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a|b",
        "a\nb",
        "a\n",
        "<!--",
        "a<!--b",
        "has space",
        "Upper",
        "-lead",
        ".lead",
        "a" * 64,
        "ümlaut",
    ],
)
def test_dangerous_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidValueError, match="invalid service type"):
        check_service_type(name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.sampled_from(
                [
                    "---",
                    "styxy: 1",
                    "autoAllocation:",
                    "  gapSize: x",
                    "<!-- styxy:ranges -->",
                    "| Service type | Start | End | Instances | Preferred | Description |",
                    "| -- | -: | -: | -- | -- | -- |",
                    "| a | 1 | 2 | multi | 1 | d |",
                    "| a | x |",
                    "<!-- styxy:audit -->",
                    "```text",
                    "```",
                    "",
                    "<<<<<<< HEAD",
                    "=======",
                    ">>>>>>> b",
                    "  - [1, {",
                    "\t",
                    "\r",
                    "~~~",
                ]
            ),
            max_size=30,
        ).map("\n".join),
    )
)
def test_check_never_raises_and_every_diagnostic_has_a_real_line(text: str) -> None:
    diagnostics = check(text, "doc.md")
    line_count = max(1, len(re.findall(r"\r\n|\r|\n", text)) + 1)
    assert all(1 <= d.line <= line_count for d in diagnostics)
    if not any(not d.warning for d in diagnostics):
        parse(text, "doc.md")
