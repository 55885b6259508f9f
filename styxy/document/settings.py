"""Settings and rules: read them, show them, change them as the smallest front-matter diff.

Each change is checked twice: the value before anything is computed, and the result after
the splice, by reading the new front matter back. A splice that would change anything but
the one setting (a YAML anchor, an odd layout) is refused instead of written.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from styxy import records
from styxy.document import fmedit, frontmatter, schema
from styxy.document.layout import Parsed
from styxy.document.lines import Splice, apply, body, split_lines
from styxy.document.model import Document, Rule, Settings
from styxy.document.schema import MAX_PORT
from styxy.document.yamlnodes import lookup
from styxy.errors import InvalidValueError, NotFoundError, RefusedError
from styxy.vocabulary import Placement, is_placement

RULES = "autoAllocationRules"
# Computes the splices of one change from the freshly composed front matter.
Splicer = Callable[[fmedit.Front], list[Splice]]


def get_setting(document: Document, key: str) -> object:
    item = schema.setting(key)
    owner: Any = document.settings.auto_allocation if len(item.path) == 2 else document.settings
    return getattr(owner, item.attr)


def settings_as_dict(source: Document | Settings) -> dict[str, Any]:
    """The front matter as `config show --json` prints it: camelCase keys, every default."""
    settings = source.settings if isinstance(source, Document) else source
    auto = settings.auto_allocation
    return {
        "styxy": schema.VERSION,
        "autoAllocation": {
            s.path[1]: getattr(auto, s.attr) for s in schema.SETTINGS if len(s.path) == 2
        },
        RULES: {rule.pattern: _rule_dict(rule) for rule in settings.rules},
        "detect": {name: list(globs) for name, globs in settings.detect.items()},
        "aliases": {name: list(names) for name, names in settings.aliases.items()},
        "runFlags": {f.pattern: _arguments_text(f.arguments) for f in settings.run_flags},
        "leaseGraceSeconds": settings.lease_grace_seconds,
    }


def set_setting(parsed: Parsed, key: str, value: str) -> str:
    item = schema.setting(key)
    typed = schema.user_value(item, value)
    _check_bounds(parsed.document.settings, item, typed)
    settings = parsed.document.settings
    change: dict[str, Any] = {item.attr: typed}
    if len(item.path) == 2:
        auto = records.replace(settings.auto_allocation, **change)
        expected = records.replace(settings, auto_allocation=auto)
    else:
        expected = records.replace(settings, **change)
    if get_setting(parsed.document, key) == typed and parsed.layout.front_matter is not None:
        front = fmedit.load(parsed)
        if front is not None and _present(front, item.path):
            return parsed.text  # already so: write nothing
    return _edit(parsed, lambda front: fmedit.set_value(front, item.path, typed), expected, key)


def set_rule(
    parsed: Parsed,
    pattern: str,
    *,
    chunk_size: int | None,
    placement: str | None,
    preferred_range_start: int | None,
) -> str:
    """Add the rule at the end of the rules, or replace its lines if it exists."""
    rule = _checked_rule(pattern, chunk_size, placement, preferred_range_start)
    old = parsed.document.settings.rules
    replaced = any(r.pattern == pattern for r in old)
    rules = tuple(rule if r.pattern == pattern else r for r in old) if replaced else (*old, rule)
    expected = records.replace(parsed.document.settings, rules=rules)
    make = fmedit.rule_lines(pattern, list(_rule_dict(rule).items()))

    def splices(front: fmedit.Front) -> list[Splice]:
        section = lookup(front.root, RULES)
        if replaced and section is not None:
            return fmedit.replace_entry(front, section, pattern, make)
        return fmedit.append_to(front, RULES, make)

    return _edit(parsed, splices, expected, f"rule {pattern!r}")


def unset_rule(parsed: Parsed, pattern: str) -> str:
    old = parsed.document.settings.rules
    if not any(r.pattern == pattern for r in old):
        raise NotFoundError(f"no auto-allocation rule {pattern!r} in {parsed.path}")
    rules = tuple(r for r in old if r.pattern != pattern)
    expected = records.replace(parsed.document.settings, rules=rules)

    def splices(front: fmedit.Front) -> list[Splice]:
        section = lookup(front.root, RULES)
        assert section is not None
        return fmedit.replace_entry(front, section, pattern, None)

    return _edit(parsed, splices, expected, f"rule {pattern!r}")


# -- the edit and its proof -------------------------------------------------------------------


def _edit(parsed: Parsed, make: Splicer, expected: Settings, what: str) -> str:
    front = fmedit.load(parsed)
    if front is None:
        return _with_new_front_matter(parsed, make, expected, what)
    splices: list[Splice] = make(front)
    text = apply(front.lines, splices, parsed.layout.newline)
    growth = sum(len(s.new) - (s.end - s.start) for s in splices)
    _prove(text, front.offset - 1, front.close + growth, parsed.path, expected, what)
    return text


def _with_new_front_matter(parsed: Parsed, make: Splicer, expected: Settings, what: str) -> str:
    """A document without front matter gets one, holding the version and the change."""
    front = fmedit.Front(["---\n", "styxy: 1\n", "---\n"], 1, 2, None)
    new_front = apply(front.lines, make(front), "\n")
    newline = parsed.layout.newline
    head = "".join(body(line) + newline for line in split_lines(new_front)) + newline
    text = head + parsed.text
    _prove(text, 0, len(split_lines(new_front)) - 1, parsed.path, expected, what)
    return text


def _prove(
    text: str, open_line: int, close_line: int, path: str, expected: Settings, what: str
) -> None:
    lines = split_lines(text)
    yaml_text = "\n".join(body(line) for line in lines[open_line + 1 : close_line])
    read = frontmatter.read(yaml_text, path, open_line + 2)
    errors = [d for d in read.diagnostics if not d.warning]
    if errors or _comparable(read.settings) != _comparable(expected):
        raise RefusedError(
            f"cannot change {what} in place in {path} (the front matter uses YAML this edit "
            "cannot follow, such as anchors); change it by hand"
        )


def _arguments_text(arguments: tuple[str, ...]) -> str:
    """Arguments as a person writes them: quoted only where a shell would need it, so
    `{port}` shows as `{port}`, not `'{port}'` as `shlex.join` would have it."""
    return " ".join(
        word if word and not any(c.isspace() or c in "'\"\\" for c in word) else shlex.quote(word)
        for word in arguments
    )


def _comparable(settings: Settings) -> tuple[object, ...]:
    # Rule lines move when lines are added above them; they are not part of the meaning.
    rules = tuple(records.replace(r, line=0) for r in settings.rules)
    detect = {k: tuple(v) for k, v in settings.detect.items()}
    aliases = {k: tuple(v) for k, v in settings.aliases.items()}
    run_flags = tuple((f.pattern, f.arguments) for f in settings.run_flags)
    return (
        settings.auto_allocation,
        rules,
        detect,
        aliases,
        run_flags,
        settings.lease_grace_seconds,
    )


# -- checks -----------------------------------------------------------------------------------


def _present(front: fmedit.Front, path: tuple[str, ...]) -> bool:
    node = front.root
    for name in path:
        found = lookup(node, name)
        if found is None:
            return False
        node = found[1]
    return True


def _check_bounds(settings: Settings, item: schema.Setting, value: object) -> None:
    auto = settings.auto_allocation
    if item.attr == "min_port_number" and isinstance(value, int) and value >= auto.max_port_number:
        raise InvalidValueError(
            f"{item.kebab} must be less than auto-allocation.max-port-number ({auto.max_port_number}), not {value}"
        )
    if item.attr == "max_port_number" and isinstance(value, int) and value <= auto.min_port_number:
        raise InvalidValueError(
            f"{item.kebab} must be greater than auto-allocation.min-port-number ({auto.min_port_number}), not {value}"
        )


def _checked_rule(
    pattern: str, chunk_size: int | None, placement: str | None, start: int | None
) -> Rule:
    if not isinstance(pattern, str) or not pattern.strip() or "\n" in pattern or "\r" in pattern:
        raise InvalidValueError(f"a rule pattern must be a glob on one line, not {pattern!r}")
    if chunk_size is not None and not schema.value_ok("chunk", chunk_size):
        raise InvalidValueError(f"--chunk-size must {schema.demand('chunk')}, not {chunk_size!r}")
    chosen: Placement | None = None
    if placement is not None:
        if not is_placement(placement):
            raise InvalidValueError(
                f"--placement must be after, before or smart, not {placement!r}"
            )
        chosen = placement
    if start is not None and not schema.value_ok("port", start):
        raise InvalidValueError(
            f"--preferred-range must be a port from 1 to {MAX_PORT}, not {start!r}"
        )
    return Rule(pattern, chunk_size, chosen, start)


def _rule_dict(rule: Rule) -> dict[str, object]:
    fields = {
        "chunkSize": rule.chunk_size,
        "placement": rule.placement,
        "preferredRangeStart": rule.preferred_range_start,
    }
    return {key: value for key, value in fields.items() if value is not None}
