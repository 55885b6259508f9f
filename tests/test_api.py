"""The public Python API, in-process: the same rules as the command line, no printing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from support import DEFAULT_DOC

import styxy


@pytest.fixture
def doc(tmp_path):
    target = tmp_path / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, target)
    return target


def test_allocate_release_and_list_in_process(doc, capsys):
    first = styxy.allocate("dev", instance_id="api-test", name="web", doc=doc, pid=os.getpid())
    assert (first.existing, first.lease.source, first.lease.pid) == (False, "api", os.getpid())
    again = styxy.allocate("dev", instance_id="api-test", name="web", doc=doc, pid=os.getpid())
    assert (again.lease.lockId, again.reason) == (first.lease.lockId, "same-identity")
    assert [x.lease.lockId for x in styxy.list_leases(doc=doc)] == [first.lease.lockId]
    assert styxy.release(first.lease.lockId, doc=doc).port == first.lease.port
    assert styxy.list_leases(doc=doc) == []
    assert capsys.readouterr() == ("", "")  # the core never prints


def test_refusals_are_styxy_errors_with_exit_codes(doc):
    with pytest.raises(styxy.StyxyError) as refused:
        styxy.release("nope", doc=doc)
    assert (refused.value.exit_code, str(refused.value)) == (1, "no lease with lock id 'nope'.")
    with pytest.raises(styxy.StyxyError, match="invalid service type"):
        styxy.allocate("Bad Name", doc=doc)
    with pytest.raises(styxy.StyxyError, match="source must be one of"):
        styxy.allocate("dev", source="elsewhere", doc=doc, pid=os.getpid())


def test_notify_receives_the_human_lines(tmp_path, monkeypatch):
    seen: list[str] = []
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("STYXY_DOC", raising=False)
    doc = tmp_path / "docs" / "CORE" / "PORT_MANAGEMENT.md"
    styxy.allocate("ai", instance_id="a", pid=os.getpid(), notify=seen.append)
    styxy.allocate("ai", instance_id="b", pid=os.getpid(), notify=seen.append)
    assert doc.exists() and seen[0] == "created ~/docs/CORE/PORT_MANAGEMENT.md from the default"
    assert seen[1].startswith("Blocked: service type 'ai' only allows a single instance")


def test_importing_styxy_is_light():
    code = "import sys, styxy; print(sorted(m for m in ('typer', 'markdown_it', 'psutil', 'jinja2', 'yaml') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "[]\n"


def test_a_long_lived_caller_sees_changes_made_by_other_processes(doc):
    from support import styxy_command

    mine = styxy.allocate("dev", instance_id="a", doc=doc, pid=os.getpid())
    assert [x.lease.lockId for x in styxy.list_leases(doc=doc)] == [mine.lease.lockId]
    # Another process ends the lease (a new file by rename) ...
    done = subprocess.run([*styxy_command(), "--doc", str(doc), "release", mine.lease.lockId],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert styxy.list_leases(doc=doc) == []
    # ... and a hand edit in place (same file, new bytes) is seen too.
    again = styxy.allocate("dev", instance_id="b", doc=doc, pid=os.getpid())
    lease_file = doc.parent / ".styxy" / "leases.json"
    with open(lease_file, "r+b") as handle:
        handle.write(b'{"version": 9}')
        handle.truncate()
    with pytest.raises(styxy.StyxyError, match="is corrupt"):
        styxy.list_leases(doc=doc)
    assert again.lease.serviceType == "dev"
