"""Every number styxy reads has bounds, and what lies beyond them is one sentence (SPEC
section 18): 10^400, 5,000 digits, NaN, on the command line and in the document. A journal over
its size limit is folded and cut, never a lock-out; detect globs are limited by `validate`.
"""

from __future__ import annotations

import os
import re

import pytest
from support import Styxy

GRACE = (
    "lease-grace-seconds must be a whole number of seconds from 0 to 31536000 (a year), not {}"
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1" + "0" * 400, f"'{'1' + '0' * 39}...'"),
        ("1" + "0" * 5000, f"'{'1' + '0' * 39}...'"),
        ("nan", "'nan'"),
        ("inf", "'inf'"),
        ("-1", "'-1'"),
        ("31536001", "'31536001'"),
        ("1e400", "'1e400'"),
    ],
    ids=["10^400", "5001-digits", "nan", "inf", "negative", "a-year-and-a-second", "1e400"],
)
def test_a_grace_out_of_bounds_is_one_sentence_and_changes_nothing(
    styxy: Styxy, value: str, shown: str
) -> None:
    assert styxy("allocate", "-s", "dev").code == 0
    before = styxy.snapshot()
    done = styxy("config", "set", "lease-grace-seconds", "--", value)
    assert (done.code, done.out) == (1, "")
    assert done.err == f"styxy: {GRACE.format(shown)}\n"
    assert styxy.snapshot() == before
    # A year is the most: it is accepted, and every command goes on working with it.
    assert styxy("config", "set", "lease-grace-seconds", "31536000").code == 0
    assert styxy("allocate", "-s", "dev", "-i", "after").code == 0
    assert styxy("cleanup").code == 0


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("1" + "0" * 400, "a number of 401 characters"),
        (".nan", ".nan"),
        (".inf", ".inf"),
        ("1e400", "'1e400'"),
    ],
    ids=["10^400", "nan", "inf", "1e400"],
)
def test_a_grace_out_of_bounds_written_by_hand_locks_nothing_out(
    styxy: Styxy, written: str, shown: str
) -> None:
    assert styxy("allocate", "-s", "dev", "-i", "before").code == 0
    text = styxy.doc.read_text()
    styxy.doc.write_text(text.replace("leaseGraceSeconds: 300", f"leaseGraceSeconds: {written}"))
    line = text[: text.index("leaseGraceSeconds")].count("\n") + 1
    sentence = f"{styxy.doc}:{line}: " + GRACE.format(shown).replace(
        "lease-grace-seconds", "leaseGraceSeconds"
    )
    done = styxy("validate")
    assert (done.code, done.err.splitlines()[0]) == (1, sentence)
    # What needs the document refuses with that line; what works on the leases still works.
    refused = styxy("allocate", "-s", "dev", "-i", "other")
    assert (refused.code, refused.err) == (1, f"{sentence}\n")
    for args in (["cleanup"], ["list"], ["release", "-i", "before"]):
        done = styxy(*args)
        assert done.code == 0, (args, done.err)
        assert done.err.startswith(f"styxy: {sentence}; the document has errors"), done.err


def test_a_grace_of_five_thousand_digits_written_by_hand_is_a_line(styxy: Styxy) -> None:
    text = styxy.doc.read_text()
    styxy.doc.write_text(text.replace("leaseGraceSeconds: 300", "leaseGraceSeconds: 1" + "0" * 5000))
    line = text[: text.index("leaseGraceSeconds")].count("\n") + 1
    done = styxy("validate")
    assert (done.code, done.err.splitlines()[0]) == (
        1,
        f"{styxy.doc}:{line}: the front matter holds a number too long to read",
    )
    assert styxy("cleanup").code == 0 and styxy("list").code == 0


def test_a_table_cell_of_five_thousand_digits_is_a_line_of_validate(styxy: Styxy) -> None:
    huge = "3" + "0" * 5000
    text = styxy.doc.read_text()
    styxy.doc.write_text(text.replace("| dev | 3000 | 3099 |", f"| dev | {huge} | 3099 |"))
    line = text[: text.index("| dev | 3000")].count("\n") + 1
    done = styxy("validate")
    assert done.code == 1
    assert done.err.splitlines()[0] == (
        f"{styxy.doc}:{line}: Start 3000000000... (5001 digits) is outside 1..65535"
    )
    assert styxy("list").code == 0


def test_numbers_on_the_command_line_are_bounded_in_one_short_sentence(styxy: Styxy) -> None:
    huge = "1" + "0" * 5000
    port = styxy("allocate", "-s", "dev", "-p", huge)
    assert (port.code, port.err) == (
        2,
        "styxy: --port must be a port number from 1 to 65535, not an integer of over 38 "
        "digits.\n",
    )
    pid = styxy("allocate", "-s", "dev", "--pid", "1" + "0" * 15)
    assert (pid.code, pid.err) == (
        2,
        "styxy: --pid must be a process id from 1 to 4194304, not 1000000000000000.\n",
    )
    huge_pid = styxy("allocate", "-s", "dev", "--pid", huge)
    assert (huge_pid.code, huge_pid.err) == (
        2,
        "styxy: --pid must be a process id from 1 to 4194304, not an integer of over 38 "
        "digits.\n",
    )
    chunk = styxy("config", "set", "auto-allocation.default-chunk-size", huge)
    assert chunk.code == 1
    assert chunk.err == (
        "styxy: auto-allocation.default-chunk-size must be a whole number from 1 to 65535, "
        f"not '{'1' + '0' * 39}...'\n"
    )
    rule = styxy("config", "set", "auto-allocation-rule", "x-*", "--chunk-size", huge)
    assert (rule.code, rule.err) == (
        2,
        f"styxy: Invalid value for '--chunk-size': '{'1' + '0' * 39}...' is not a valid int; "
        "see 'styxy config set --help'.\n",
    )


def test_six_thousand_long_detect_globs_are_refused_by_validate(styxy: Styxy) -> None:
    """6,000 globs of 190 characters made each busy bind stall for seconds in the library."""
    text = styxy.doc.read_text()
    globs = ", ".join(f'"*{n:04d}{"x" * 184}*"' for n in range(6000))
    styxy.doc.write_text(text.replace('dev: ["*vite*"', f'dev: [{globs}, "*vite*"', 1))
    line = text[: text.index('  dev: ["*vite*"')].count("\n") + 1
    done = styxy("validate")
    assert done.code == 1
    assert done.err.splitlines()[0] == (
        f"{styxy.doc}:{line}: detect.dev has 6005 globs; at most 32 per service type"
    )


def test_a_glob_too_long_is_a_line_of_validate(styxy: Styxy) -> None:
    text = styxy.doc.read_text()
    long_glob = "*" + "y" * 120 + "*"
    styxy.doc.write_text(text.replace('  dev: ["*vite*"', f'  dev: ["{long_glob}", "*vite*"', 1))
    line = text[: text.index('  dev: ["*vite*"')].count("\n") + 1
    done = styxy("validate")
    assert done.code == 1
    assert done.err.splitlines() == [
        f"{styxy.doc}:{line}: detect.dev glob '*{'y' * 39}...' is 122 bytes long; at most 120"
    ]


def test_more_than_256_globs_in_all_is_a_line_of_validate(styxy: Styxy) -> None:
    """Thirty a row is allowed; nine more rows of thirty on the shipped 34 are 304 in all."""
    text = styxy.doc.read_text()
    rows = ""
    for n in range(9):
        rows += f"  t{n}: [" + ", ".join(f'"*{n}-{k}*"' for k in range(30)) + "]\n"
    edited = text.replace("detect:", "detect:\n" + rows.rstrip("\n"), 1)
    styxy.doc.write_text(edited)
    line = edited[: edited.index("detect:")].count("\n") + 1
    done = styxy("validate")
    assert done.code == 1
    assert done.err.splitlines()[0] == (
        f"{styxy.doc}:{line}: detect holds 304 globs in all; at most 256 (the interceptor "
        "matches each of them in every busy bind)"
    )


def test_a_journal_over_its_limit_is_folded_and_cut_and_cleanup_works(styxy: Styxy) -> None:
    assert styxy("allocate", "-s", "dev", "-i", "first").code == 0
    journal = styxy.sidecar / "journal"
    # A move of a process long gone, on a port nothing listens on: nothing to lease.
    line = b"1 20999 4194000 20998 dev 1700000000\n"
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(line * (17 * 1024 * 1024 // len(line)))
    assert journal.stat().st_size > 16 * 1024 * 1024
    listed = styxy("list")  # a reader reads the head and goes on
    assert listed.code == 0 and "first" not in listed.err
    done = styxy("cleanup")
    assert done.code == 0, done.err
    kept = (16 * 1024 * 1024) // len(line)
    assert re.fullmatch(
        rf"styxy: the interceptor's journal {re.escape(str(styxy.sidecar))}/\.journal\.\d+\.folding "
        rf"was larger than 16 MiB; its first {kept} lines were folded and the rest dropped\n",
        done.err,
    ), done.err
    assert sorted(p.name for p in styxy.sidecar.iterdir()) == [
        ".gitignore", "cache.bin", "leases.json", "lock",
    ]  # fmt: skip
    again = styxy("allocate", "-s", "dev", "-i", "second")
    assert (again.code, again.err) == (0, "")


def test_long_cells_are_quoted_as_every_refusal_quotes_a_value(styxy: Styxy) -> None:
    """A cell of 60 characters is quoted cut to its first 40 inside the quotes, as the command
    line, MCP and HTTP quote a long value: one value, one way of saying it back."""
    word = "x" * 60
    text = styxy.doc.read_text()
    styxy.doc.write_text(
        text.replace(
            "| dev | 3000 | 3099 | multi | 3000, 3001, 3002, 3003 |",
            f"| D{word} | {word} | 3099 | {word} | 3000, {word} |",
        )
    )
    line = text[: text.index("| dev | 3000")].count("\n") + 1
    done = styxy("validate")
    assert done.code == 1
    cut = f"'{'x' * 40}...'"
    assert [x for x in done.err.splitlines() if x.startswith(f"{styxy.doc}:{line}: ")] == [
        f"{styxy.doc}:{line}: invalid service type 'D{'x' * 39}...': use 1 to 63 characters "
        "from a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
        f"{styxy.doc}:{line}: Start {cut} is not a whole number",
        f"{styxy.doc}:{line}: Instances must be single or multi, not {cut}",
        f"{styxy.doc}:{line}: preferred port {cut} is not a whole number",
    ]
