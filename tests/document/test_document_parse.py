"""Reading documents: the shipped default, hand-edited ones, CRLF, warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from document_support import FIXTURES, VALID, copy, load, text_of

from styxy.document import check, parse
from styxy.document.lines import apply, split_lines
from styxy.document.model import AutoAllocation, Range, Rule
from styxy.errors import DocumentError
from styxy.resources import default_document_bytes

# SPEC section 3, "The shipped default document".
DEFAULT_ROWS = [
    ("dev", 3000, 3099, "multi", (3000, 3001, 3002, 3003)),
    ("monitoring", 3100, 3199, "multi", (3100, 3101, 3102, 3103)),
    ("ui", 4000, 4099, "multi", (4000, 4001, 4002, 4003)),
    ("docs", 4100, 4199, "multi", (4100, 4101, 4102, 4103)),
    ("hub", 4400, 4499, "multi", (4400, 4401, 4402, 4403)),
    ("functions", 5000, 5099, "multi", (5001, 5002, 5003, 5004)),
    ("database", 5430, 5499, "multi", (5430, 5431, 5432, 5433)),
    ("storybook", 6006, 6029, "multi", (6006, 6007, 6008, 6009)),
    ("infrastructure", 6370, 6399, "multi", (6370, 6371, 6372, 6373)),
    ("api", 8000, 8099, "multi", (8000, 8001, 8002, 8003)),
    ("proxy", 8100, 8199, "multi", (8100, 8101, 8102, 8103)),
    ("build", 8200, 8299, "multi", (8200, 8201, 8202, 8203)),
    ("messaging", 9050, 9098, "multi", (9050, 9051, 9052, 9053)),
    ("auth", 9099, 9199, "multi", (9099, 9100, 9101, 9102)),
    ("test", 9200, 9299, "multi", (9200, 9201, 9202, 9203)),
    ("coordination", 9870, 9899, "multi", (9870, 9871, 9872, 9873)),
    ("ai", 11400, 11499, "single", (11430, 11431, 11432, 11433)),
]


def test_canonical_fixture_is_the_shipped_default() -> None:
    assert (FIXTURES / "canonical.md").read_bytes() == default_document_bytes()


def test_default_document_has_the_spec_rows_in_order(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    rows = [
        (r.service_type, r.start, r.end, r.instances, r.preferred) for r in parsed.document.ranges
    ]
    assert rows == DEFAULT_ROWS
    assert parsed.document.ranges[0] == Range(
        "dev",
        3000,
        3099,
        "multi",
        (3000, 3001, 3002, 3003),
        "Frontend development servers (React, Next.js, Vite)",
        86,
    )
    assert parsed.warnings == ()
    assert parsed.document.audit == ()


def test_default_document_has_the_spec_settings(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    settings = parsed.document.settings
    assert settings.auto_allocation == AutoAllocation()
    assert settings.rules == (
        Rule("monitoring-*", 20, "smart", 9000, line=16),
        Rule("database-*", 5, None, 5400, line=20),
    )
    assert settings.lease_grace_seconds == 300
    assert settings.detect["dev"][0] == "*vite*"
    assert set(settings.detect) <= {r[0] for r in DEFAULT_ROWS}
    assert dict(settings.aliases) == SPEC_ALIASES


# SPEC section 15: exactly this set, in this order.
SPEC_ALIASES = {
    "dev": ("frontend", "web", "vite", "next", "nextjs", "react", "vue", "svelte"),
    "api": ("backend", "server", "fastapi", "express", "django", "flask", "rails"),
    "database": ("db", "postgres", "postgresql", "pg", "mysql", "mariadb", "mongo", "mongodb"),
    "infrastructure": ("redis", "memcached", "cache", "valkey"),
    "ai": ("llm", "rag", "embeddings", "ollama", "vllm", "chroma", "chromadb"),
    "docs": ("documentation", "mkdocs", "docusaurus", "sphinx"),
    "test": ("e2e", "playwright", "selenium", "cypress"),
    "messaging": ("queue", "broker", "rabbitmq", "nats"),
}


@pytest.mark.parametrize("name", VALID)
def test_valid_fixtures_parse_and_check_without_errors(name: str, tmp_path: Path) -> None:
    path, parsed = load(name, tmp_path)
    assert [d for d in check(text_of(path), str(path)) if not d.warning] == []
    assert parsed.path == str(path)


@pytest.mark.parametrize("name", VALID)
def test_parse_then_splice_nothing_gives_identical_bytes(name: str, tmp_path: Path) -> None:
    path, parsed = load(name, tmp_path)
    original = path.read_bytes()
    lines = split_lines(parsed.text)
    assert "".join(lines).encode() == original
    assert apply(lines, [], parsed.layout.newline).encode() == original


def test_hand_edited_cells_are_read_as_markdown_reads_them(tmp_path: Path) -> None:
    _, parsed = load("hand-edited.md", tmp_path)
    ranges = {r.service_type: r for r in parsed.document.ranges}
    assert list(ranges) == ["dev", "api", "web", "db"]  # the fake row in the code block is not one
    assert ranges["dev"].preferred == (3000, 3001)
    assert ranges["dev"].description == "Frontend   servers"
    assert ranges["api"].description == "APIs | backends"
    assert ranges["api"].single
    assert ranges["web"].description == "no outer pipes"
    assert [r.line for r in parsed.document.ranges] == [49, 50, 51, 52]


def test_hand_edited_front_matter_in_another_style(tmp_path: Path) -> None:
    _, parsed = load("hand-edited.md", tmp_path)
    settings = parsed.document.settings
    assert settings.auto_allocation == AutoAllocation(
        enabled=True, placement="smart", default_chunk_size=20, gap_size=5
    )
    assert settings.rules == (Rule("db-*", 5, line=11), Rule("web-*", placement="after", line=12))
    assert settings.lease_grace_seconds == 120


def test_markers_inside_code_and_quotes_do_not_count(tmp_path: Path) -> None:
    _, parsed = load("hand-edited.md", tmp_path)
    assert parsed.layout.table == (46, 52)
    assert (parsed.layout.audit_open, parsed.layout.audit_close) == (55, 58)
    assert [e.text for e in parsed.document.audit] == [
        "2025-09-30T12:00:00Z auto-allocate db 5400-5404 chunk=5 placement=smart by=bob@desk"
    ]
    assert parsed.document.audit[0].action == "auto-allocate"
    assert parsed.document.audit[0].service_type == "db"


@pytest.mark.parametrize("name", ["canonical", "hand-edited"])
def test_crlf_variant_reads_the_same(name: str, tmp_path: Path) -> None:
    lf = parse(text_of(FIXTURES / f"{name}.md"), "doc")
    crlf = parse(text_of(FIXTURES / f"{name}-crlf.md"), "doc")
    assert lf.document == crlf.document
    assert (lf.layout.newline, crlf.layout.newline) == ("\n", "\r\n")
    assert lf.layout.rows == crlf.layout.rows


def test_document_without_front_matter_uses_defaults_with_a_warning(tmp_path: Path) -> None:
    path, parsed = load("no-front-matter.md", tmp_path)
    assert parsed.document.settings.auto_allocation == AutoAllocation()
    assert [str(w) for w in parsed.warnings] == [
        f"{path}:1: warning: no front matter; using the default settings"
    ]


def test_warnings_are_reported_and_do_not_stop_parsing(tmp_path: Path) -> None:
    path, parsed = load("warnings.md", tmp_path)
    expected = [
        f"{path}:1: warning: the front matter has no 'styxy: 1'; reading it as version 1",
        f"{path}:3: warning: rule 'web-*' gives preferredRangeStart, which only placement smart uses",
        f"{path}:7: warning: detect names service type 'grafana', which has no row",
        (
            f"{path}:12: warning: this looks like a styxy marker but does not count: "
            "a marker stands alone on its own line, outside lists and quotes"
        ),
        f"{path}:14: warning: unknown styxy marker 'styxy:notes'",
        f"{path}:20: warning: preferred port 80 is listed twice",
    ]
    # The System Ports warning is validate's (tests/test_validate_hazards.py): it names the
    # IANA assignment, which the document room knows nothing of.
    assert [str(d) for d in check(text_of(path), str(path))] == expected
    assert [str(w) for w in parsed.warnings] == expected
    assert parsed.document.ranges[0].preferred == (80,)


def test_parse_raises_with_every_error_not_just_the_first(tmp_path: Path) -> None:
    path = copy("malformed/several-problems.md", tmp_path)
    with pytest.raises(DocumentError) as caught:
        parse(text_of(path), str(path))
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{path}:7: unknown key 'minPortNumbr' in autoAllocation; did you mean 'minPortNumber'?",
        (
            f"{path}:59: invalid service type 'UI': use 1 to 63 characters from a-z, 0-9, '.', '_' "
            "and '-', starting with a letter or digit"
        ),
        f"{path}:61: range 4000-4499 of 'hub' overlaps 'UI' 4000-4099 (line 59)",
        f"{path}:61: range 4000-4499 of 'hub' overlaps 'docs' 4100-4199 (line 60)",
        f"{path}:68: Instances must be single or multi, not 'sometimes'",
    ]
    assert str(caught.value).splitlines()[0] == str(caught.value.diagnostics[0])


def test_empty_and_prose_only_documents_are_errors_not_crashes() -> None:
    assert [str(d) for d in check("", "doc.md")] == [
        "doc.md:1: missing marker <!-- styxy:ranges -->",
        "doc.md:1: missing marker <!-- styxy:audit -->",
        "doc.md:1: warning: no front matter; using the default settings",
    ]
    with pytest.raises(DocumentError):
        parse("# Just prose\n", "doc.md")


def test_markers_without_spaces_count_too() -> None:
    text = (
        "---\nstyxy: 1\n---\n\n<!--styxy:ranges-->\n"
        "| Service type | Start | End | Instances | Preferred | Description |\n"
        "| -- | -- | -- | -- | -- | -- |\n| a | 10000 | 10009 | multi |  |  |\n\n"
        "<!--   styxy:audit   -->\n```text\n```\n"
    )
    parsed = parse(text, "doc.md")
    assert [r.service_type for r in parsed.document.ranges] == ["a"]
    assert parsed.document.ranges[0].description == ""


def test_importing_the_model_loads_no_parser() -> None:
    """The allocate hot path imports `styxy.document.model`; it must stay cheap."""
    code = (
        "import sys, styxy.document.model, styxy.document.names\n"
        "heavy = {'markdown_it', 'yaml', 'jinja2', 'mdit_py_plugins'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "from styxy.document import parse, SETTING_KEYS\n"
        "assert 'markdown_it' in sys.modules and len(SETTING_KEYS) == 12\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=FIXTURES.parents[1])
