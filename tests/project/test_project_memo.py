"""`styxy env` remembers what an unchanged `styxy.toml` says, and never trusts the memory
further than the file's bytes (styxy.project.memo)."""

from __future__ import annotations

import json
import subprocess
import sys

from project_support import repository, run_in
from support import styxy_command

CONSOLE_SCRIPT = "import re, sys; from styxy.__main__ import main; sys.exit(main())"


def memo_files(styxy):
    return sorted((styxy.home / "styxy-data" / "projects").glob("*.json"))


def imported(styxy, cwd, *args):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CONSOLE_SCRIPT, "--doc", str(styxy.doc), *args],
        cwd=cwd, env=styxy.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    return done.stdout, names


def test_an_unchanged_file_is_not_parsed_again(styxy, tmp_path):
    project = repository(styxy, tmp_path / "app")
    first, names = imported(styxy, project, "env")
    assert "tomllib" in names
    [memo] = memo_files(styxy)
    body = json.loads(memo.read_text())
    assert body["root"] == str(project.resolve())
    assert [row[:2] for row in body["services"]] == [["web", "dev"], ["api", "api"]]
    again, names = imported(styxy, project, "env")
    assert again == first
    assert not {"tomllib", "hashlib", "typing"} & names


def test_a_changed_file_is_read_again(styxy, tmp_path):
    project = repository(styxy, tmp_path / "app")
    assert run_in(styxy, project, "env").code == 0
    with open(project / "styxy.toml", "ab") as handle:
        handle.write(b'\n[services.docs]\ntype = "docs"\n')
    done = run_in(styxy, project, "env")
    assert done.code == 0
    assert "DOCS_PORT=4100" in done.out.splitlines()


def test_a_file_with_problems_is_never_remembered(styxy, tmp_path):
    project = repository(styxy, tmp_path / "app")
    assert run_in(styxy, project, "env").code == 0
    before = memo_files(styxy)[0].read_bytes()
    (project / "styxy.toml").write_text('[services.web]\ntype = "Dev Server"\n')
    for _ in range(2):
        done = run_in(styxy, project, "env")
        assert done.code == 1
        assert done.err.startswith("styxy.toml:2: ")
    assert memo_files(styxy)[0].read_bytes() == before


def test_a_damaged_memo_is_ignored_and_replaced(styxy, tmp_path):
    project = repository(styxy, tmp_path / "app")
    good = run_in(styxy, project, "env").out
    [memo] = memo_files(styxy)
    for damage in (b"", b"{not json", b'{"format": 1}', memo.read_bytes().replace(b'"web"', b"7")):
        memo.write_bytes(damage)
        done = run_in(styxy, project, "env")
        assert (done.code, done.out, done.err) == (0, good, "")
    assert json.loads(memo.read_text())["services"][0][0] == "web"


def test_a_memo_for_another_version_of_the_record_is_not_used(styxy, tmp_path):
    project = repository(styxy, tmp_path / "app")
    good = run_in(styxy, project, "env").out
    [memo] = memo_files(styxy)
    body = json.loads(memo.read_text())
    body["fields"] = [*body["fields"], "port"]
    body["services"] = [[*row, 1] for row in body["services"]]
    memo.write_text(json.dumps(body))
    assert run_in(styxy, project, "env").out == good


def test_a_data_folder_that_cannot_be_written_only_costs_the_parse(styxy, tmp_path):
    project = repository(styxy, tmp_path / "app")
    (styxy.home / "styxy-data").write_text("a file where the folder would be")
    for _ in range(2):
        done = subprocess.run(
            [*styxy_command(), "--doc", str(styxy.doc), "env"],
            cwd=project, env=styxy.env, capture_output=True, text=True, timeout=60,
        )
        assert (done.returncode, done.stderr) == (0, "")
        assert "WEB_PORT=" in done.stdout
