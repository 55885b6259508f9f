"""Every malformed fixture gives its exact `PATH:LINE: message`, and only that.

Each fixture is the shipped default with one thing broken, so the line numbers point into a
document whose shape a reader knows.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from document_support import MALFORMED, copy, text_of

from styxy.document import check, parse
from styxy.errors import DocumentError

NAME_RULE = (
    "use 1 to 63 characters from a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
)
HEADER = "| Service type | Start | End | Instances | Preferred | Description |"
CONFLICT = "the document has git conflict markers; resolve the merge conflict first"

EXPECTED: dict[str, list[str]] = {
    "overlap": ["61: range 4150-4250 of 'web' overlaps 'docs' 4100-4199 (line 60)"],
    # The row written first starts later: the report still goes on the later line.
    "overlap-earlier-row": ["74: range 11400-11499 of 'ai' overlaps 'early' 11450-11460 (line 57)"],
    "start-after-end": ["59: Start 4099 is greater than End 4000"],
    "port-out-of-range": ["73: End 70000 is outside 1..65535"],
    "non-integer-port": ["61: Start '44OO' is not a whole number"],
    "duplicate-type": ["74: duplicate service type 'dev' (first on line 57)"],
    "bad-instances": ["67: Instances must be single or multi, not 'many'"],
    "preferred-outside": ["57: preferred port 3100 is outside the row's range 3000-3099"],
    "preferred-not-integer": ["68: preferred port 'next' is not a whole number"],
    "extra-cell": ["70: row has 7 cells; the table has 6 columns"],
    "missing-cell": ["71: row has 5 cells; the table has 6 columns"],
    "bad-name": [f"64: invalid service type 'Story Book': {NAME_RULE}"],
    "bad-header": [f"55: the ranges table header must be exactly {HEADER}"],
    "unknown-key": [
        "7: unknown key 'minPortNumbr' in autoAllocation; did you mean 'minPortNumber'?"
    ],
    "unknown-top-key": [
        "34: unknown key 'leaseGraceSecond' in the front matter; did you mean 'leaseGraceSeconds'?"
    ],
    "unknown-rule-key": [
        "15: unknown key 'chunksize' in rule 'monitoring-*'; did you mean 'chunkSize'?"
    ],
    "misplaced-key": [
        "35: unknown key 'gapSize' in the front matter; it belongs under autoAllocation"
    ],
    "bad-value": ["6: autoAllocation.placement must be after, before or smart, not 'sideways'"],
    "bad-boolean": ["9: autoAllocation.preserveGaps must be true or false, not 'maybe'"],
    "bad-port-setting": [
        "8: autoAllocation.maxPortNumber must be a port number from 1 to 65535, not 70000"
    ],
    "min-not-below-max": [
        "7: autoAllocation.minPortNumber (49151) must be less than maxPortNumber (49151)"
    ],
    "bad-version": ["2: unsupported document version 2; this styxy reads 'styxy: 1'"],
    "duplicate-key": ["11: duplicate key 'gapSize' in autoAllocation (first on line 10)"],
    "bad-detect": ["27: detect.storybook must be a list of command-line globs"],
    "yaml-error": ["10: the front matter is not valid YAML: mapping values are not allowed here"],
    "unclosed-front-matter": ["1: the front matter opened on line 1 is never closed by '---'"],
    "missing-ranges-marker": ["1: missing marker <!-- styxy:ranges -->"],
    "missing-audit-marker": ["1: missing marker <!-- styxy:audit -->"],
    "duplicate-marker": ["75: duplicate marker <!-- styxy:ranges --> (first on line 53)"],
    "marker-not-followed": [
        (
            f"53: <!-- styxy:ranges --> must be directly followed by the ranges table "
            f"(header {HEADER} and a delimiter row)"
        )
    ],
    "audit-not-text": [
        "79: <!-- styxy:audit --> must be directly followed by a fenced text block (```text)"
    ],
    "audit-unclosed": ["81: the audit block is never closed by its fence"],
}


def test_every_malformed_fixture_has_an_expectation() -> None:
    names = {p.stem for p in MALFORMED.glob("*.md")}
    assert names - {"several-problems"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_fixture_reports_its_exact_line(name: str, tmp_path: Path) -> None:
    path = copy(f"malformed/{name}.md", tmp_path)
    _assert_refused(path, [f"{path}:{line}" for line in EXPECTED[name]])


def test_conflicted_document_is_refused_naming_every_marker(tmp_path: Path) -> None:
    """Two branches each auto-allocated a range: markers in the table and in the audit block
    (styxy's own text there, so not an example) are reported, and nothing else."""
    path = copy("conflicted.md", tmp_path)
    _assert_refused(path, [f"{path}:{line}: {CONFLICT}" for line in (74, 76, 78, 87, 89, 91)])


def _assert_refused(path: Path, expected: list[str]) -> None:
    before = path.read_bytes()
    assert [str(d) for d in check(text_of(path), str(path))] == expected
    with pytest.raises(DocumentError) as caught:
        parse(text_of(path), str(path))
    assert str(caught.value) == "\n".join(expected)
    assert path.read_bytes() == before  # reading never writes


def test_conflict_markers_inside_an_example_code_block_are_ignored() -> None:
    text = (MALFORMED.parent / "canonical.md").read_text()
    example = "\n```diff\n<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> branch\n```\n"
    assert check(text + example, "doc.md") == []


def test_a_lone_setext_underline_is_not_a_conflict() -> None:
    text = (
        (MALFORMED.parent / "canonical.md")
        .read_text()
        .replace("# Port management\n", "Port management\n=======\n")
    )
    assert check(text, "doc.md") == []


def test_check_never_raises_on_broken_yaml_shapes() -> None:
    for front in (
        "[1, 2]",
        "just text",
        "autoAllocation: 5",
        "autoAllocation: [1]",
        "? [a]\n: b",
        "detect: {dev: [1]}",
        "autoAllocationRules: {'': {}}",
        "styxy: [1]",
    ):
        text = f"---\n{front}\n---\n"
        assert all(d.line >= 1 for d in check(text, "doc.md"))


def test_absurdly_nested_yaml_is_a_diagnostic_not_a_crash() -> None:
    text = "---\nx: " + "[" * 3000 + "]" * 3000 + "\n---\n"
    assert "doc.md:2: the front matter nests too deeply to read" in [
        str(d) for d in check(text, "doc.md")
    ]


def test_unsafe_yaml_tags_are_refused_as_yaml_errors() -> None:
    text = "---\nstyxy: 1\nleaseGraceSeconds: !!python/name:os.system x\n---\n"
    assert (
        "doc.md:3: the front matter is not valid YAML: could not determine a constructor for "
        "the tag 'tag:yaml.org,2002:python/name:os.system'"
    ) in [str(d) for d in check(text, "doc.md")]
