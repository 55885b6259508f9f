"""The Jinja templates and their filters: what styxy writes, and what it refuses to write."""

from __future__ import annotations

import pytest
import yaml

from styxy.document.templates import cell, environment, render_line, render_lines, word, yaml_scalar
from styxy.errors import InvalidValueError
from styxy.resources import shipped


def test_templates_ship_where_the_resources_say() -> None:
    names = {p.name for p in shipped("templates").iterdir()}
    assert {"row.md.j2", "audit_line.txt.j2", "rule.yaml.j2", "entry.yaml.j2"} <= names


def test_environment_is_strict() -> None:
    env = environment()
    assert env.trim_blocks and env.lstrip_blocks and env.keep_trailing_newline
    with pytest.raises(Exception, match="undefined"):
        render_line("row.md.j2", service_type="x")


def test_row_is_compact_with_an_empty_preferred_cell() -> None:
    line = render_line(
        "row.md.j2",
        service_type="grafana",
        start=11510,
        end=11519,
        instances="multi",
        preferred=(),
        description="Auto-allocated 2025-09-30",
    )
    assert line == "| grafana | 11510 | 11519 | multi |  | Auto-allocated 2025-09-30 |"


def test_preferred_ports_are_comma_separated() -> None:
    line = render_line(
        "row.md.j2",
        service_type="dev",
        start=3000,
        end=3099,
        instances="multi",
        preferred=(3000, 3001),
        description="d",
    )
    assert line == "| dev | 3000 | 3099 | multi | 3000, 3001 | d |"


@pytest.mark.parametrize(
    ("value", "written"), [("a|b", "a\\|b"), ("  x  ", "x"), ("", ""), ("2*3", "2*3")]
)
def test_cell_escapes_pipes_and_trims(value: str, written: str) -> None:
    assert cell(value) == written


@pytest.mark.parametrize("value", ["a\nb", "a\r\nb", "a\rb", "\n"])
def test_cell_refuses_line_breaks(value: str) -> None:
    with pytest.raises(InvalidValueError, match="must fit on one line"):
        cell(value)


@pytest.mark.parametrize("value", ["nul\x00", "bell\x07", "esc\x1b[31m", "del\x7f"])
def test_cell_refuses_control_characters(value: str) -> None:
    with pytest.raises(InvalidValueError, match="control characters"):
        cell(value)


@pytest.mark.parametrize("value", ["", "two words", "tab\there"])
def test_word_refuses_spaces_and_emptiness(value: str) -> None:
    with pytest.raises(InvalidValueError):
        word(value)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (True, "true"),
        (False, "false"),
        (10, "10"),
        ("after", "after"),
        ("monitoring-*", "monitoring-*"),
        ("*-db", "'*-db'"),
        ("yes", "'yes'"),
        ("10", "'10'"),
        ("a: b", "'a: b'"),
        ("#x", "'#x'"),
    ],
)
def test_yaml_scalar_quotes_only_when_it_must(value: object, written: str) -> None:
    assert yaml_scalar(value) == written
    assert yaml.safe_load(f"k: {written}")["k"] == value


def test_rule_template_renders_block_lines() -> None:
    lines = render_lines(
        "rule.yaml.j2",
        indent="  ",
        step="  ",
        pattern="web-*",
        fields=[("chunkSize", 5), ("placement", "smart")],
    )
    assert lines == ["  web-*:", "    chunkSize: 5", "    placement: smart"]
    assert render_lines("rule.yaml.j2", indent="", step="  ", pattern="x", fields=[]) == ["x: {}"]


def test_audit_line_template_escapes_a_line_break_in_a_field() -> None:
    # A value is percent-encoded, never refused: `by=$USER@host` must not make every
    # auto-allocation fail because $USER holds a newline.
    assert render_line(
        "audit_line.txt.j2",
        when="t",
        action="a",
        service_type="s",
        start=1,
        end=2,
        fields=[("by", "me\nrm -rf"), ("chunk", 10)],
    ) == "t a s 1-2 by=me%0Arm%20-rf chunk=10"
