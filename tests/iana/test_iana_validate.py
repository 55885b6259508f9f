"""`styxy validate` warns about ranges in the wrong part of the port space (SPEC section 13)."""

from __future__ import annotations

from pathlib import Path

from iana_support import SAMPLE_CSV

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
CHROME = "Chrome DevTools and Node.js inspector"


def ephemeral() -> tuple[int, int]:
    low, high = (int(x) for x in EPHEMERAL.read_text().split())
    return low, high


def edit(doc: Path, old: str, new: str) -> int:
    """Replace the row starting with `old`; returns the row's 1-based line."""
    lines = doc.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(old))
    lines[at] = new + "\n"
    doc.write_text("".join(lines))
    return at + 1


def test_the_shipped_document_passes_strict(styxy):
    low, high = ephemeral()
    assert low > 11499 or high < 3000, "the machine's ephemeral range covers default rows"
    done = styxy("validate", "--strict", "--json")
    assert done.code == 0, done.out
    assert done.json()["diagnostics"] == []


def test_a_hand_edited_range_over_9222_warns_and_strict_fails(styxy):
    assert styxy("iana", "import", str(SAMPLE_CSV)).code == 0  # gives 9222 its IANA name
    edit(styxy.doc, "| test |", "| test | 9300 | 9399 | multi |  | Browser testing |")
    line = edit(styxy.doc, "| proxy |", "| proxy | 9210 | 9239 | multi |  | Development proxies |")
    message = (
        f"range 9210-9239 of 'proxy' covers ports 9222-9229 ({CHROME}, IANA: 'teamcoherence'), "
        "a well-known developer port that 'proxy' is not about"
    )
    done = styxy("validate")
    assert (done.code, done.out) == (0, "")
    assert f"{styxy.doc}:{line}: warning: {message}\n" in done.err
    assert done.err.count("warning:") == 1
    strict = styxy("validate", "--strict")
    assert strict.code == 1
    assert f"{styxy.doc}:{line}: {message}\n" in strict.err
    assert "warning:" not in strict.err
    as_json = styxy("validate", "--strict", "--json")
    assert as_json.code == 1
    assert as_json.json()["valid"] is False
    assert as_json.json()["diagnostics"] == [{"path": str(styxy.doc), "line": line, "message": message, "warning": False}]


def test_a_row_about_the_tool_may_cover_its_port(styxy):
    # By name (`mysql`) or by family (`db-reports` is of family `db`, about MongoDB's 27017).
    assert styxy("iana", "import", str(SAMPLE_CSV)).code == 0  # no IANA name at 3306 then
    # `mysql` is an alias of `database` in the default document; a row of that name would be
    # warned about (the row wins), which --strict turns into an error.
    text = styxy.doc.read_text()
    styxy.doc.write_text(text.replace("pg, mysql, mariadb", "pg, mariadb"))
    ai = styxy.doc.read_text().splitlines().index(next(x for x in styxy.doc.read_text().splitlines() if x.startswith("| ai |")))
    for row in ("| mysql | 3306 | 3306 | single |  | MySQL |", "| db-reports | 27010 | 27019 | multi |  | Reports |"):
        old = styxy.doc.read_text().splitlines()[ai]
        edit(styxy.doc, old, f"{old}\n{row}")
        ai += 1
    assert styxy("validate", "--strict").code == 0
    # The same port under a type that is not about it warns.
    edit(styxy.doc, "| mysql |", "| cache-sql | 3306 | 3306 | single |  | MySQL |")
    done = styxy("validate")
    assert done.code == 0
    assert done.err.endswith(
        "warning: range 3306-3306 of 'cache-sql' covers port 3306 (MySQL), a well-known developer "
        "port that 'cache-sql' is not about\n"
        f"styxy: checked {styxy.doc}: front matter, ranges table and audit block are valid; "
        "1 warning above.\n"
    )


def test_system_and_dynamic_ports_are_named(styxy):
    assert styxy("iana", "import", str(SAMPLE_CSV)).code == 0
    system = edit(styxy.doc, "| proxy |", "| proxy | 80 | 89 | multi |  | Development proxies |")
    dynamic = edit(styxy.doc, "| build |", "| build | 49100 | 49199 | multi |  | Build tools |")
    low, high = ephemeral()
    done = styxy("validate")
    assert done.code == 0
    expected = [
        f"{styxy.doc}:{system}: warning: range 80-89 of 'proxy' lies in the System Ports 0-1023, "
        "which IANA assigns by IETF review and only root can bind; port 80 is assigned to 'http' "
        "(World Wide Web HTTP)",
        f"{styxy.doc}:{dynamic}: warning: range 49100-49199 of 'build' puts ports 49152-49199 in the "
        "Dynamic and/or Private Ports 49152-65535, which IANA never assigns and systems hand out for "
        "outgoing connections",
    ]
    if low <= 49199 and 49100 <= high:
        a, b = max(low, 49100), min(high, 49199)
        expected.append(
            f"{styxy.doc}:{dynamic}: warning: range 49100-49199 of 'build' overlaps the kernel's "
            f"ephemeral range {low}-{high} (ip_local_port_range) at ports {a}-{b}, which the kernel "
            "may give to any outgoing connection"
        )
    expected.append(
        f"styxy: checked {styxy.doc}: front matter, ranges table and audit block are valid; "
        f"{len(expected)} warnings above."
    )
    assert done.err.splitlines() == expected


def test_the_ephemeral_range_is_named(styxy):
    low, high = ephemeral()
    start = max(low, 12000)
    assert start + 9 <= min(high, 49151), "the machine's ephemeral range is too small to test"
    line = edit(styxy.doc, "| build |", f"| build | {start} | {start + 9} | multi |  | Build tools |")
    done = styxy("validate", "--json")
    assert done.code == 0
    assert done.json()["diagnostics"] == [
        {
            "path": str(styxy.doc),
            "line": line,
            "message": f"range {start}-{start + 9} of 'build' overlaps the kernel's ephemeral range "
            f"{low}-{high} (ip_local_port_range) at ports {start}-{start + 9}, which the kernel may "
            "give to any outgoing connection",
            "warning": True,
        }
    ]
