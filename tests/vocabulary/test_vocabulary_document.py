"""A hand-broken `aliases:` block is reported as `PATH:LINE: message` by `styxy validate` and
refuses `allocate` without changing a byte (SPEC 15, SPEC 3)."""

from __future__ import annotations

import pytest
from support import Styxy

ALIASES_LINE = 36  # `aliases:` in the shipped default document; its rows follow


def break_aliases(styxy: Styxy, old: str, new: str) -> None:
    text = styxy.doc.read_text()
    assert old in text
    styxy.doc.write_text(text.replace(old, new, 1))


def line_of(styxy: Styxy, needle: str) -> int:
    lines = styxy.doc.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "  dev: [frontend, web,",
            "  dev: [Front End, web,",
            "  dev: [Front End",
            "invalid alias 'Front End' of 'dev': use 1 to 63 characters from a-z, 0-9, '.', '_' "
            "and '-', starting with a letter or digit",
        ),
        (
            "  test: [e2e, playwright, selenium, cypress]\n",
            "  tests: [e2e, playwright, selenium, cypress]\n",
            "  tests: [e2e",
            "aliases names service type 'tests', which has no row",
        ),
        (
            "  messaging: [queue, broker, rabbitmq, nats]\n",
            "  messaging: [queue, broker, rabbitmq, nats, db]\n",
            "  messaging: [queue",
            "alias 'db' appears twice in aliases (first on line 39)",
        ),
        (
            "  messaging: [queue, broker, rabbitmq, nats]\n",
            "  messaging: queue\n",
            "  messaging: queue",
            "aliases.messaging must be a list of names, e.g. messaging: [other, names]",
        ),
        (
            "  messaging: [queue, broker, rabbitmq, nats]\n",
            "  messaging: [queue, 5672]\n",
            "  messaging: [queue, 5672]",
            "invalid alias 5672 of 'messaging': use 1 to 63 characters from a-z, 0-9, '.', '_' "
            "and '-', starting with a letter or digit",
        ),
        (
            "  dev: [frontend",
            "  dev: {frontend: 1}\n  x: [frontend",
            "  dev: {frontend",
            "aliases.dev must be a list of names, e.g. dev: [other, names]",
        ),
    ],
)
def test_a_hand_broken_aliases_block_is_path_line(
    styxy: Styxy, old: str, new: str, needle: str, message: str
) -> None:
    assert styxy("cleanup").code == 0  # the sidecar exists before the document breaks
    break_aliases(styxy, old, new)
    line = line_of(styxy, needle)
    checked = styxy("validate")
    assert checked.code == 1
    assert f"{styxy.doc}:{line}: {message}\n" in checked.err, checked.err
    before = styxy.snapshot()
    refused = styxy("allocate", "-s", "db")
    assert refused.code == 1
    assert f"{styxy.doc}:" in refused.err
    assert styxy.snapshot() == before


def test_an_alias_that_is_a_row_is_a_warning_and_the_row_wins(styxy: Styxy) -> None:
    break_aliases(styxy, "  dev: [frontend, web,", "  dev: [frontend, ui, web,")
    line = line_of(styxy, "  dev: [frontend, ui")
    checked = styxy("validate")
    assert checked.code == 0, checked.err
    assert (
        f"{styxy.doc}:{line}: warning: alias 'ui' of 'dev' is also the name of a row; "
        "-s ui means that row\n"
    ) in checked.err
    assert styxy("validate", "--strict").code == 1
    got = styxy("allocate", "-s", "ui", "--json").json()
    assert (got["serviceType"], got["requestedType"], got["port"]) == ("ui", None, 4000)


def test_too_many_aliases_for_one_row(styxy: Styxy) -> None:
    names = ", ".join(f"d{n}x" for n in range(65))
    break_aliases(styxy, "  dev: [frontend, web, vite, next, nextjs, react, vue, svelte]",
                  f"  dev: [{names}]")
    checked = styxy("validate")
    assert checked.code == 1
    line = line_of(styxy, "  dev: [d0x")
    assert f"{styxy.doc}:{line}: aliases.dev lists 65 names; at most 64 are allowed\n" in checked.err


def test_the_default_document_passes_validate_strict(styxy: Styxy) -> None:
    done = styxy("validate", "--strict")
    assert done.code == 0, done.err
    assert line_of(styxy, "aliases:") == ALIASES_LINE
