"""`init`, `validate`, `config show|get|set` and rules, as a user runs them."""

from __future__ import annotations

import difflib
import shutil

from support import DEFAULT_DOC


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        x for x in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if x[:1] in "+-" and x[:3] not in ("+++", "---")
    ]


def test_version_and_help(styxy):
    assert styxy("--version", doc=False).out == "styxy 0.1.0\n"
    assert styxy("--help", doc=False).code == 0


def test_a_named_document_that_does_not_exist_is_an_error_not_a_new_one(styxy, home, tmp_path):
    styxy.doc.unlink()
    for args in (["list", "--json"], ["allocate", "-s", "dev"], ["check", "3000"], ["validate"]):
        done = styxy(*args)
        assert done.code == (2 if args[0] == "check" else 1), args  # check: 2, cannot tell
        assert done.err == (
            f"styxy: no document at {styxy.doc}; create it with: styxy init --doc {styxy.doc}\n"
        )
    assert sorted(p.name for p in styxy.doc.parent.iterdir()) == []
    typo = tmp_path / "typo" / "PORTS.md"
    done = styxy("list", doc=False, env={"STYXY_DOC": str(typo)})
    assert done.err == f"styxy: no document at {typo}; create it with: styxy init --doc {typo}\n"
    assert not typo.parent.exists()
    # init is the way to make one.
    assert styxy("init").code == 0
    assert styxy.doc.read_bytes() == DEFAULT_DOC.read_bytes()
    assert styxy("list", "--json").code == 0


def test_first_use_creates_the_default_document_and_says_so(styxy, home):
    done = styxy("list", "--json", doc=False)
    assert done.code == 0
    assert done.err == "styxy: created ~/docs/CORE/PORT_MANAGEMENT.md from the default\n"
    assert (home / "docs/CORE/PORT_MANAGEMENT.md").read_bytes() == DEFAULT_DOC.read_bytes()


def test_default_location_is_in_home_and_styxy_doc_overrides_it(styxy, home, tmp_path):
    done = styxy("list", doc=False)
    assert done.err == "styxy: created ~/docs/CORE/PORT_MANAGEMENT.md from the default\n"
    assert (home / "docs/CORE/PORT_MANAGEMENT.md").read_bytes() == DEFAULT_DOC.read_bytes()
    assert (home / "docs/CORE/.styxy/.gitignore").read_bytes() == b"*\n"
    other = tmp_path / "elsewhere" / "ports.md"
    other.parent.mkdir()
    other.write_bytes(DEFAULT_DOC.read_bytes().replace(b"| dev | 3000 | 3099 | multi | 3000, 3001, 3002, 3003 |", b"| dev | 3300 | 3399 | multi | 3300 |"))
    assert styxy("allocate", "-s", "dev", doc=False, env={"STYXY_DOC": str(other)}).out == "3300\n"


def test_init_refuses_to_overwrite_without_force(styxy):
    styxy.doc.write_text(styxy.doc.read_text().replace("Port management", "Our ports"))
    before = styxy.doc.read_bytes()
    done = styxy("init")
    assert done.code == 1 and "already exists; pass --force" in done.err
    assert styxy.doc.read_bytes() == before
    assert styxy("init", "--force").code == 0
    assert styxy.doc.read_bytes() == DEFAULT_DOC.read_bytes()
    assert (styxy.sidecar / "cache.bin").exists()


def test_validate_good_and_broken_files(styxy, tmp_path):
    assert styxy("validate").code == 0
    broken = tmp_path / "broken.md"
    text = DEFAULT_DOC.read_text().replace("| docs | 4100 | 4199 |", "| docs | 4050 | 4199 |")
    broken.write_text(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("| docs |"))) + 1
    done = styxy("validate", str(broken), str(DEFAULT_DOC))
    assert done.code == 1
    assert done.err.splitlines()[0].startswith(f"{broken}:{line}: ")
    assert "ui" in done.err.splitlines()[0]
    assert broken.read_text() == text


def test_config_set_is_a_one_line_diff_and_get_reads_it_back(styxy):
    before = styxy.doc.read_text()
    assert styxy("config", "set", "auto-allocation.placement", "smart").code == 0
    after = styxy.doc.read_text()
    assert _changed_lines(before, after) == [
        "-  placement: after            # after | before | smart",
        "+  placement: smart            # after | before | smart",
    ]
    assert styxy("config", "get", "auto-allocation.placement").out == "smart\n"
    assert styxy("config", "get", "lease-grace-seconds", "--json").json() == {"key": "lease-grace-seconds", "value": 300}
    shown = styxy("config", "show", "--json").json()
    assert shown["autoAllocation"]["placement"] == "smart"
    assert shown["leaseGraceSeconds"] == 300


def test_rules_are_added_and_removed_as_small_diffs(styxy):
    before = styxy.doc.read_text()
    done = styxy("config", "set", "auto-allocation-rule", "tracing-*", "--chunk-size", "15", "--placement", "smart", "--preferred-range", "16600")
    assert done.code == 0, done.err
    after = styxy.doc.read_text()
    assert _changed_lines(before, after) == [
        "+  tracing-*:",
        "+    chunkSize: 15",
        "+    placement: smart",
        "+    preferredRangeStart: 16600",
    ]
    # Appended at the end of the rules block, right before `detect:`.
    lines = after.splitlines()
    assert lines[lines.index("  tracing-*:") + 4].startswith("detect:")
    data = styxy("allocate", "-s", "tracing-jaeger", "--json").json()
    assert (data["chunkSize"], data["placement"]) == (15, "smart")
    assert styxy("config", "unset", "auto-allocation-rule", "tracing-*").code == 0
    assert "tracing-*" not in styxy.doc.read_text()
    assert styxy("config", "unset", "auto-allocation-rule", "tracing-*").code == 1


def test_config_auto_allocation_reports_ranges_and_audit(styxy):
    styxy("allocate", "-s", "grafana")
    info = styxy("config", "auto-allocation", "--json").json()
    assert [r["serviceType"] for r in info["ranges"]] == ["grafana"]
    assert info["ranges"][0]["range"] == [11510, 11519]
    assert info["autoAllocation"]["defaultChunkSize"] == 10
    assert "monitoring-*" in info["autoAllocationRules"]
    assert len(info["audit"]) == 1 and " auto-allocate grafana 11510-11519 " in info["audit"][0]


def test_doctor_reports_health(styxy):
    styxy("allocate", "-s", "dev")
    data = styxy("doctor", "--json").json()
    assert data["document"] == {"valid": True, "diagnostics": []}
    assert data["leases"] == {"live": 1, "stale": 0}
    preload = {k: v for k, v in data["interceptor"].items() if k != "bpf"}
    assert preload == {
        "status": "not built (run `styxy interceptor build`)", "path": None, "current": False,
        "active": False, "loads": False, "loadsReason": "not built",
    }
    # The kernel half (tests/interceptor/test_bpf_*.py attach it for real): nothing attached here.
    assert data["interceptor"]["bpf"]["attached"] is False
    built = styxy("interceptor", "build").out.strip()
    again = styxy("doctor", "--json").json()["interceptor"]
    assert {k: v for k, v in again.items() if k != "bpf"} == {
        "status": f"built at {built}, not active in this shell (loads with `styxy interceptor env`: yes)",
        "path": built, "current": True, "active": False, "loads": True, "loadsReason": None,
    }
    shutil.copyfile(DEFAULT_DOC, styxy.doc)
    styxy.doc.write_text(styxy.doc.read_text().replace("| multi | 3000", "| many | 3000"))
    assert styxy("doctor").code == 1
