"""Rows and audit lines spliced into real files: exact bytes, one-line diffs, reversibility."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from document_support import changes, load, text_of, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from styxy.document import (
    add_range,
    add_ranges,
    append_audit,
    audit_line,
    parse,
    remove_range,
    with_row,
)
from styxy.document.model import Range
from styxy.errors import InvalidValueError, NotFoundError, RefusedError

GRAFANA = Range("grafana", 11510, 11519, "multi", (), "Auto-allocated 2025-09-30")
GRAFANA_LINE = "| grafana | 11510 | 11519 | multi |  | Auto-allocated 2025-09-30 |"
AUDIT = "2025-09-30T12:00:00Z auto-allocate grafana 11510-11519 chunk=10 placement=after by=alice@laptop"
AI_ROW = "| ai | 11400 | 11499 | single | 11430, 11431, 11432, 11433 | AI inference servers, LLMs, RAG, embeddings |"


def test_auto_allocation_is_one_row_and_one_audit_line(tmp_path: Path) -> None:
    path, parsed = load("canonical.md", tmp_path)
    before = text_of(path)
    after = write(path, add_range(parsed, GRAFANA, audit=AUDIT))
    expected = before.replace(AI_ROW + "\n", AI_ROW + "\n" + GRAFANA_LINE + "\n").replace(
        "```text\n```", "```text\n" + AUDIT + "\n```"
    )
    assert after == expected
    assert changes(before, after) == ([], [(103, GRAFANA_LINE + "\n"), (112, AUDIT + "\n")])


def test_row_and_audit_line_can_be_spliced_separately(tmp_path: Path) -> None:
    path, parsed = load("canonical.md", tmp_path)
    with_row = add_range(parsed, GRAFANA)
    both = append_audit(parse(with_row, str(path)), AUDIT)
    assert both == add_range(parsed, GRAFANA, audit=AUDIT)
    assert changes(parsed.text, with_row) == ([], [(103, GRAFANA_LINE + "\n")])


def test_undo_is_one_removed_row_and_one_audit_line_and_restores_the_table(tmp_path: Path) -> None:
    path, parsed = load("canonical.md", tmp_path)
    original = text_of(path)
    added = write(path, add_range(parsed, GRAFANA, audit=AUDIT))
    undo = "2025-09-30T13:00:00Z undo-auto grafana 11510-11519"
    undone = write(path, remove_range(parse(added, str(path)), "grafana", audit=undo))
    assert changes(added, undone) == ([(103, GRAFANA_LINE + "\n")], [(112, undo + "\n")])
    # Everything but the two audit lines is back byte for byte.
    assert undone == original.replace("```text\n```", f"```text\n{AUDIT}\n{undo}\n```")


@pytest.mark.parametrize(
    ("start", "before_row"),
    [(1, "dev"), (3200, "ui"), (5200, "database"), (9900, "ai"), (65000, None)],
)
def test_new_row_goes_before_the_first_row_whose_start_is_greater(
    start: int, before_row: str | None, tmp_path: Path
) -> None:
    _, parsed = load("canonical.md", tmp_path)
    row = Range("new", start, start, "multi", (), "x")
    names = [r.service_type for r in parse(add_range(parsed, row), "doc").document.ranges]
    expected = [r.service_type for r in parsed.document.ranges]
    expected.insert(expected.index(before_row) if before_row else len(expected), "new")
    assert names == expected


def test_unsorted_hand_edited_table_keeps_its_order(tmp_path: Path) -> None:
    path, parsed = load("hand-edited.md", tmp_path)
    before = text_of(path)
    after = write(path, add_range(parsed, Range("cache", 6000, 6009, "single", (6000,), "Redis")))
    # dev 3000, api 8000, web 8100, db 5400: the first Start above 6000 is api's.
    assert changes(before, after) == (
        [],
        [(50, "| cache | 6000 | 6009 | single | 6000 | Redis |\n")],
    )
    assert [r.service_type for r in parse(after, "doc").document.ranges] == [
        "dev",
        "cache",
        "api",
        "web",
        "db",
    ]


def test_crlf_document_gets_crlf_lines_and_keeps_every_other_byte(tmp_path: Path) -> None:
    path, parsed = load("hand-edited-crlf.md", tmp_path)
    before = path.read_bytes()
    after = write(path, add_range(parsed, GRAFANA, audit=AUDIT)).encode()
    assert after.count(b"\r\n") == before.count(b"\r\n") + 2
    assert b"\n" not in after.replace(b"\r\n", b"")
    assert (
        after.replace((GRAFANA_LINE + "\r\n").encode(), b"").replace((AUDIT + "\r\n").encode(), b"")
        == before
    )


def test_hand_edited_prose_and_spacing_survive_every_row_edit(tmp_path: Path) -> None:
    path, parsed = load("hand-edited.md", tmp_path)
    before = text_of(path)
    after = write(path, remove_range(parsed, "web", audit="undo-auto web 8100-8199"))
    removed, added = changes(before, after)
    assert removed == [(51, "  web   |  8100 |  8199 |  multi |  | no outer pipes |\n")]
    assert added == [(58, "undo-auto web 8100-8199\n")]
    assert after.endswith("with a final line that has no newline")
    assert "2*3 = 6" in after and "trailing spaces here   \n" in after


def test_empty_table_and_unterminated_last_line(tmp_path: Path) -> None:
    path, parsed = load("minimal.md", tmp_path)
    before = text_of(path)
    after = write(path, add_range(parsed, GRAFANA, audit=AUDIT))
    assert after == before.replace(
        "| -- | -: | -: | -- | -- | -- |\n",
        "| -- | -: | -: | -- | -- | -- |\n" + GRAFANA_LINE + "\n",
    ).replace("```text\n```", f"```text\n{AUDIT}\n```")
    assert not after.endswith("\n")
    assert remove_range(parse(after, "doc"), "grafana").replace(AUDIT + "\n", "") == before


def test_audit_line_is_appended_after_existing_lines_with_the_fence_indent(tmp_path: Path) -> None:
    text = "---\nstyxy: 1\n---\n<!-- styxy:ranges -->\n| Service type | Start | End | Instances | Preferred | Description |\n|-|-|-|-|-|-|\n\n<!-- styxy:audit -->\n  ```text\n  one\n  ```\n"
    parsed = parse(text, "doc")
    assert append_audit(parsed, "two") == text.replace("  one\n", "  one\n  two\n")


def test_audit_line_from_its_parts_matches_the_spec() -> None:
    when = datetime(2025, 9, 30, 12, 0, 0, tzinfo=UTC)
    line = audit_line(
        "auto-allocate",
        "grafana",
        11510,
        11519,
        when=when,
        chunk=10,
        placement="after",
        by="alice@laptop",
    )
    assert line == AUDIT
    assert audit_line("undo-auto", "grafana", 11510, 11519, when=when) == (
        "2025-09-30T12:00:00Z undo-auto grafana 11510-11519"
    )


@pytest.mark.parametrize(
    "line", ["", "   ", "two\nlines", "cr\rinside", "```", "~~~ closes the fence"]
)
def test_bad_audit_lines_are_refused(line: str, tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    with pytest.raises(InvalidValueError):
        append_audit(parsed, line)


@pytest.mark.parametrize(
    ("row", "error", "message"),
    [
        (Range("ai", 20000, 20009), RefusedError, "service type 'ai' already has a row (line 102)"),
        (
            Range("x", 11490, 11509),
            RefusedError,
            "range 11490-11509 overlaps 'ai' 11400-11499 (line 102)",
        ),
        (Range("Bad Name", 20000, 20009), InvalidValueError, "invalid service type 'Bad Name'"),
        (Range("x", 20009, 20000), InvalidValueError, "Start 20009 is greater than End 20000"),
        (Range("x", 0, 9), InvalidValueError, "port 0 is outside 1..65535"),
        (Range("x", 65530, 65536), InvalidValueError, "port 65536 is outside 1..65535"),
        (Range("x", 20000, 20009, "many"), InvalidValueError, "Instances must be single or multi"),
        (Range("x", 20000, 20009, "multi", (20010,)), InvalidValueError, "preferred port 20010"),
        (
            Range("x", 20000, 20009, "multi", (), "two\nlines"),
            InvalidValueError,
            "a description must fit on one line",
        ),
    ],
)
def test_rows_that_would_break_the_document_are_refused(
    row: Range, error: type[Exception], message: str, tmp_path: Path
) -> None:
    _, parsed = load("canonical.md", tmp_path)
    with pytest.raises(error) as caught:
        add_range(parsed, row)
    assert str(caught.value).startswith(message)


def test_pipes_in_a_description_are_escaped_and_read_back(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    text = add_range(parsed, Range("x", 20000, 20009, "multi", (20000, 20001), "a | b \\| c"))
    assert "| x | 20000 | 20009 | multi | 20000, 20001 | a \\| b \\\\| c |\n" in text
    row = parse(text, "doc").document.range_of("x")
    assert row is not None and row.description == "a | b \\| c"


def test_removing_an_unknown_type_is_not_found(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    with pytest.raises(NotFoundError, match="no row for service type 'nope'"):
        remove_range(parsed, "nope")


# --------------------------------------------------------------------------- many rows at once


@pytest.mark.parametrize(
    "fixture", ["canonical.md", "hand-edited.md", "hand-edited-crlf.md", "minimal.md"]
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_many_rows_at_once_give_the_text_of_one_row_after_another(
    fixture: str, data: st.DataObject, tmp_path: Path
) -> None:
    """`styxy env` of many new types splices once; the bytes are those of one splice a row."""
    _, parsed = load(fixture, tmp_path)
    taken = [(r.start, r.end) for r in parsed.document.ranges]
    rows = []
    for number in range(data.draw(st.integers(1, 6))):
        start = data.draw(st.integers(1, 65000))
        end = start + data.draw(st.integers(0, 30))
        if any(start <= b and a <= end for a, b in taken):
            continue
        taken.append((start, end))
        rows.append(Range(f"new{number}", start, end, "multi", (), f"row {number}"))
    lines = [f"2026-12-07T00:00:0{n}Z auto-allocate {r.service_type}" for n, r in enumerate(rows)]
    one_by_one = parsed
    for row, line in zip(rows, lines, strict=True):
        one_by_one = parse(add_range(one_by_one, row, audit=line), parsed.path)
    together = add_ranges(parsed, rows, audit=lines)
    assert together == one_by_one.text
    model = parsed.document
    for row in rows:
        model = with_row(model, row)
    assert [r.service_type for r in model.ranges] == [
        r.service_type for r in one_by_one.document.ranges
    ]


def test_many_rows_refuse_one_that_overlaps_another_of_them(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    first = Range("one", 40000, 40009, "multi", (), "x")
    second = Range("two", 40005, 40014, "multi", (), "x")
    with pytest.raises(RefusedError, match=r"range 40005-40014 overlaps 'one' 40000-40009"):
        add_ranges(parsed, [first, second], audit=["a", "b"])
