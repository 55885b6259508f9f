"""Settings and rules: read, shown, and changed as the smallest diff of the front matter."""

from __future__ import annotations

from pathlib import Path

import pytest
from document_support import changes, load, text_of, write

from styxy.document import (
    SETTING_KEYS,
    get_setting,
    parse,
    set_rule,
    set_setting,
    settings_as_dict,
    unset_rule,
)
from styxy.document.model import Rule
from styxy.errors import InvalidValueError, NotFoundError, RefusedError

DEFAULTS = {
    "auto-allocation.enabled": True,
    "auto-allocation.default-chunk-size": 10,
    "auto-allocation.placement": "after",
    "auto-allocation.min-port-number": 10000,
    "auto-allocation.max-port-number": 49151,
    "auto-allocation.preserve-gaps": True,
    "auto-allocation.gap-size": 10,
    "auto-allocation.require-confirmation": False,
    "auto-allocation.avoid-ephemeral": True,
    "auto-allocation.agents": "ask",
    "auto-allocation.max-new-per-day": 10,
    "lease-grace-seconds": 300,
}

# key, value typed by a user, the canonical line it changes, and that line afterwards.
CHANGES = [
    ("auto-allocation.enabled", "off", 4, "  enabled: false\n"),
    ("auto-allocation.default-chunk-size", "25", 5, "  defaultChunkSize: 25\n"),
    (
        "auto-allocation.placement",
        "before",
        6,
        "  placement: before           # after | before | smart\n",
    ),
    ("auto-allocation.min-port-number", "20000", 7, "  minPortNumber: 20000\n"),
    ("auto-allocation.max-port-number", "60000", 8, "  maxPortNumber: 60000\n"),
    ("auto-allocation.preserve-gaps", "No", 9, "  preserveGaps: false\n"),
    ("auto-allocation.gap-size", "0", 10, "  gapSize: 0\n"),
    ("auto-allocation.require-confirmation", "yes", 11, "  requireConfirmation: true\n"),
    (
        "auto-allocation.avoid-ephemeral",
        "0",
        12,
        "  avoidEphemeral: false       # keep new ranges out of the kernel's ip_local_port_range\n",
    ),
    ("auto-allocation.agents", "deny", 13, "  agents: deny                # ask | allow | deny: may an agent's unknown type get a range\n"),
    ("auto-allocation.max-new-per-day", "3", 14, "  maxNewPerDay: 3             # new ranges in any 24 hours, counted from the audit log\n"),
    ("lease-grace-seconds", "0", 60, "leaseGraceSeconds: 0\n"),
]


def test_setting_keys_are_the_spec_keys() -> None:
    assert SETTING_KEYS == tuple(DEFAULTS)


def test_get_setting_reads_every_key(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    assert {key: get_setting(parsed.document, key) for key in SETTING_KEYS} == DEFAULTS


def test_get_setting_names_the_nearest_key_for_a_typo(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    with pytest.raises(InvalidValueError) as caught:
        get_setting(parsed.document, "auto-allocation.placemnt")
    assert str(caught.value) == (
        "unknown setting 'auto-allocation.placemnt'; did you mean 'auto-allocation.placement'?"
    )


@pytest.mark.parametrize(("key", "value", "line", "new"), CHANGES)
@pytest.mark.parametrize("fixture", ["canonical.md", "canonical-crlf.md"])
def test_set_setting_is_a_one_line_diff(
    fixture: str, key: str, value: str, line: int, new: str, tmp_path: Path
) -> None:
    path, parsed = load(fixture, tmp_path)
    before = text_of(path)
    after = write(path, set_setting(parsed, key, value))
    nl = parsed.layout.newline
    removed, added = changes(before, after)
    assert [n for n, _ in removed] == [line]
    assert added == [(line, new.replace("\n", nl))]
    reread = parse(after, str(path))
    expected = dict(DEFAULTS)
    expected[key] = get_setting(reread.document, key)
    assert {k: get_setting(reread.document, k) for k in SETTING_KEYS} == expected
    assert str(expected[key]).lower() in new.lower()


def test_setting_the_same_value_changes_nothing(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    assert set_setting(parsed, "auto-allocation.gap-size", "10") == parsed.text
    assert set_setting(parsed, "auto-allocation.enabled", "on") == parsed.text


def test_quoted_value_and_comment_in_hand_edited_front_matter(tmp_path: Path) -> None:
    path, parsed = load("hand-edited.md", tmp_path)
    before = text_of(path)
    after = write(path, set_setting(parsed, "auto-allocation.placement", "before"))
    assert changes(before, after) == (
        [(7, '    placement: "smart"          # quoted on purpose\n')],
        [(7, "    placement: before           # quoted on purpose\n")],
    )


def test_absent_key_is_one_inserted_line_with_the_block_indentation(tmp_path: Path) -> None:
    path, parsed = load("hand-edited.md", tmp_path)
    before = text_of(path)
    after = write(path, set_setting(parsed, "auto-allocation.min-port-number", "20000"))
    assert changes(before, after) == ([], [(10, "    minPortNumber: 20000\n")])
    assert get_setting(parse(after, "doc").document, "auto-allocation.min-port-number") == 20000


def test_absent_top_level_key_goes_before_the_closing_fence(tmp_path: Path) -> None:
    path, parsed = load("minimal.md", tmp_path)
    before = text_of(path)
    after = write(path, set_setting(parsed, "lease-grace-seconds", "60"))
    assert changes(before, after) == ([], [(3, "leaseGraceSeconds: 60\n")])


def test_absent_section_is_created_with_its_key(tmp_path: Path) -> None:
    path, parsed = load("minimal.md", tmp_path)
    after = write(path, set_setting(parsed, "auto-allocation.gap-size", "3"))
    assert after.startswith("---\nstyxy: 1\nautoAllocation:\n  gapSize: 3\n---\n")


def test_document_without_front_matter_gets_one(tmp_path: Path) -> None:
    path, parsed = load("no-front-matter.md", tmp_path)
    before = text_of(path)
    after = write(path, set_setting(parsed, "auto-allocation.placement", "smart"))
    assert after == "---\nstyxy: 1\nautoAllocation:\n  placement: smart\n---\n\n" + before
    assert parse(after, "doc").warnings == ()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "auto-allocation.placement",
            "sideways",
            "auto-allocation.placement must be after, before or smart, not 'sideways'",
        ),
        (
            "auto-allocation.enabled",
            "maybe",
            "auto-allocation.enabled must be true or false (or yes/no, on/off, 1/0), not 'maybe'",
        ),
        (
            "auto-allocation.min-port-number",
            "0",
            "auto-allocation.min-port-number must be a port number from 1 to 65535, not '0'",
        ),
        (
            "auto-allocation.max-port-number",
            "65536",
            "auto-allocation.max-port-number must be a port number from 1 to 65535, not '65536'",
        ),
        (
            "auto-allocation.max-port-number",
            "abc",
            "auto-allocation.max-port-number must be a port number from 1 to 65535, not 'abc'",
        ),
        (
            "auto-allocation.min-port-number",
            "49151",
            "auto-allocation.min-port-number must be less than auto-allocation.max-port-number (49151), not 49151",
        ),
        (
            "auto-allocation.max-port-number",
            "9000",
            "auto-allocation.max-port-number must be greater than auto-allocation.min-port-number (10000), not 9000",
        ),
        (
            "auto-allocation.default-chunk-size",
            "0",
            "auto-allocation.default-chunk-size must be a whole number from 1 to 65535, not '0'",
        ),
        (
            "auto-allocation.gap-size",
            "-1",
            "auto-allocation.gap-size must be a whole number from 0 to 65535, not '-1'",
        ),
        (
            "lease-grace-seconds",
            "-5",
            "lease-grace-seconds must be a whole number of seconds from 0 to 31536000 (a year), not '-5'",
        ),
        (
            "lease-grace-seconds",
            "1.5",
            "lease-grace-seconds must be a whole number of seconds from 0 to 31536000 (a year), not '1.5'",
        ),
        (
            "auto-allocation.gapsize",
            "1",
            "unknown setting 'auto-allocation.gapsize'; did you mean 'auto-allocation.gap-size'?",
        ),
        (
            "gap-size",
            "1",
            "unknown setting 'gap-size'; did you mean 'auto-allocation.gap-size'?",
        ),
        (
            "placemnt",
            "1",
            "unknown setting 'placemnt'; did you mean 'auto-allocation.placement'?",
        ),
    ],
)
def test_bad_values_are_refused_in_one_sentence(
    key: str, value: str, message: str, tmp_path: Path
) -> None:
    _, parsed = load("canonical.md", tmp_path)
    with pytest.raises(InvalidValueError) as caught:
        set_setting(parsed, key, value)
    assert str(caught.value) == message


def test_value_reached_through_a_yaml_alias_is_refused_not_misedited() -> None:
    text = (
        "---\nstyxy: 1\nautoAllocation:\n  placement: &p smart\nautoAllocationRules:\n"
        "  x-*:\n    placement: *p\n---\n<!-- styxy:ranges -->\n"
        "| Service type | Start | End | Instances | Preferred | Description |\n|-|-|-|-|-|-|\n\n"
        "<!-- styxy:audit -->\n```text\n```\n"
    )
    parsed = parse(text, "doc")
    assert parsed.document.settings.rules == (Rule("x-*", placement="smart", line=6),)
    with pytest.raises(RefusedError, match="change it by hand"):
        set_setting(parsed, "auto-allocation.placement", "after")


def test_settings_as_dict_is_the_front_matter_structure(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    shown = settings_as_dict(parsed.document)
    assert list(shown) == [
        "styxy",
        "autoAllocation",
        "autoAllocationRules",
        "detect",
        "aliases",
        "runFlags",
        "leaseGraceSeconds",
    ]
    assert shown["autoAllocation"] == {
        "enabled": True,
        "defaultChunkSize": 10,
        "placement": "after",
        "minPortNumber": 10000,
        "maxPortNumber": 49151,
        "preserveGaps": True,
        "gapSize": 10,
        "requireConfirmation": False,
        "avoidEphemeral": True,
        "agents": "ask",
        "maxNewPerDay": 10,
    }
    assert shown["aliases"]["database"][:2] == ["db", "postgres"]
    assert shown["autoAllocationRules"] == {
        "monitoring-*": {"chunkSize": 20, "placement": "smart", "preferredRangeStart": 9000},
        "database-*": {"chunkSize": 5, "preferredRangeStart": 5400},
    }
    assert shown["detect"]["storybook"] == ["*storybook*"]
    assert shown["leaseGraceSeconds"] == 300


# -- rules ------------------------------------------------------------------------------------


def test_new_rule_is_appended_at_the_end_of_the_rules(tmp_path: Path) -> None:
    path, parsed = load("canonical.md", tmp_path)
    before = text_of(path)
    after = write(
        path,
        set_rule(parsed, "tracing-*", chunk_size=10, placement=None, preferred_range_start=16686),
    )
    assert changes(before, after) == (
        [],
        [
            (23, "  tracing-*:\n"),
            (24, "    chunkSize: 10\n"),
            (25, "    preferredRangeStart: 16686\n"),
        ],
    )
    rules = parse(after, "doc").document.settings.rules
    assert rules[-1] == Rule("tracing-*", 10, None, 16686, line=23)


def test_replacing_a_rule_touches_only_its_lines(tmp_path: Path) -> None:
    path, parsed = load("canonical.md", tmp_path)
    before = text_of(path)
    after = write(
        path,
        set_rule(
            parsed, "monitoring-*", chunk_size=30, placement="smart", preferred_range_start=None
        ),
    )
    removed, added = changes(before, after)
    assert removed == [(17, "    chunkSize: 20\n"), (19, "    preferredRangeStart: 9000\n")]
    assert added == [(17, "    chunkSize: 30\n")]
    rules = parse(after, "doc").document.settings.rules
    assert [r.pattern for r in rules] == ["monitoring-*", "database-*"]
    assert rules[0] == Rule("monitoring-*", 30, "smart", None, line=16)


def test_rule_edits_in_a_hand_edited_front_matter_keep_its_indentation(tmp_path: Path) -> None:
    path, parsed = load("hand-edited.md", tmp_path)
    before = text_of(path)
    after = set_rule(
        parsed, "cache-*", chunk_size=4, placement="before", preferred_range_start=None
    )
    assert changes(before, after) == (
        [],
        [
            (14, "    cache-*:\n"),
            (15, "        chunkSize: 4\n"),
            (16, "        placement: before\n"),
        ],
    )
    # A rule written in flow style is replaced by its block form, on its own lines only.
    after = set_rule(parsed, "db-*", chunk_size=7, placement=None, preferred_range_start=None)
    assert changes(before, after) == (
        [(11, "    'db-*': {chunkSize: 5}\n")],
        [(11, "    db-*:\n"), (12, "        chunkSize: 7\n")],
    )


def test_patterns_that_need_quotes_get_them_and_an_empty_rule_stays_valid(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    after = set_rule(parsed, "*-db", chunk_size=None, placement=None, preferred_range_start=None)
    assert "  '*-db': {}\n" in after
    assert parse(after, "doc").document.settings.rules[-1] == Rule("*-db", line=23)


def test_rules_section_is_created_when_absent(tmp_path: Path) -> None:
    _, parsed = load("minimal.md", tmp_path)
    after = set_rule(parsed, "x-*", chunk_size=3, placement=None, preferred_range_start=None)
    assert after.startswith("---\nstyxy: 1\nautoAllocationRules:\n  x-*:\n    chunkSize: 3\n---\n")


@pytest.mark.parametrize(
    "section", ["autoAllocationRules:", "autoAllocationRules: {}   # none yet"]
)
def test_empty_rules_section_gets_its_first_rule(section: str) -> None:
    text = (
        f"---\nstyxy: 1\n{section}\nleaseGraceSeconds: 5\n---\n<!-- styxy:ranges -->\n"
        "| Service type | Start | End | Instances | Preferred | Description |\n|-|-|-|-|-|-|\n\n"
        "<!-- styxy:audit -->\n```text\n```\n"
    )
    after = set_rule(
        parse(text, "doc"), "x-*", chunk_size=3, placement=None, preferred_range_start=None
    )
    head = section.replace(" {}", "")
    assert after.startswith(
        f"---\nstyxy: 1\n{head}\n  x-*:\n    chunkSize: 3\nleaseGraceSeconds: 5\n"
    )


def test_unset_rule_removes_only_its_lines_and_back(tmp_path: Path) -> None:
    path, parsed = load("canonical.md", tmp_path)
    before = text_of(path)
    after = write(path, unset_rule(parsed, "database-*"))
    assert changes(before, after) == (
        [
            (20, "  database-*:\n"),
            (21, "    chunkSize: 5\n"),
            (22, "    preferredRangeStart: 5400\n"),
        ],
        [],
    )
    restored = set_rule(
        parse(after, "doc"), "database-*", chunk_size=5, placement=None, preferred_range_start=5400
    )
    assert restored == before


def test_unsetting_every_rule_leaves_a_valid_empty_section(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    text = unset_rule(parsed, "monitoring-*")
    text = unset_rule(parse(text, "doc"), "database-*")
    assert "autoAllocationRules:\ndetect:" in text
    assert parse(text, "doc").document.settings.rules == ()


def test_unknown_rule_cannot_be_unset(tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    with pytest.raises(NotFoundError, match="no auto-allocation rule 'web-\\*'"):
        unset_rule(parsed, "web-*")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pattern": ""}, "a rule pattern must be a glob on one line, not ''"),
        ({"pattern": "a\nb"}, "a rule pattern must be a glob on one line, not 'a\\nb'"),
        ({"chunk_size": 0}, "--chunk-size must be a whole number from 1 to 65535, not 0"),
        ({"placement": "left"}, "--placement must be after, before or smart, not 'left'"),
        (
            {"preferred_range_start": 70000},
            "--preferred-range must be a port from 1 to 65535, not 70000",
        ),
    ],
)
def test_bad_rules_are_refused(kwargs: dict[str, object], message: str, tmp_path: Path) -> None:
    _, parsed = load("canonical.md", tmp_path)
    args: dict[str, object] = {
        "pattern": "x-*",
        "chunk_size": None,
        "placement": None,
        "preferred_range_start": None,
    }
    args.update(kwargs)
    with pytest.raises(InvalidValueError) as caught:
        set_rule(parsed, **args)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_flow_style_rules_with_entries_are_refused() -> None:
    text = (
        "---\nstyxy: 1\nautoAllocationRules: {a-*: {chunkSize: 2}}\n---\n<!-- styxy:ranges -->\n"
        "| Service type | Start | End | Instances | Preferred | Description |\n|-|-|-|-|-|-|\n\n"
        "<!-- styxy:audit -->\n```text\n```\n"
    )
    parsed = parse(text, "doc")
    with pytest.raises(RefusedError, match="flow style"):
        set_rule(parsed, "b-*", chunk_size=1, placement=None, preferred_range_start=None)
    with pytest.raises(RefusedError, match="flow style"):
        unset_rule(parsed, "a-*")
