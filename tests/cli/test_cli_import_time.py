"""The hot path of `styxy allocate` imports nothing it does not need (`python -X importtime`)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("markdown_it", "mdformat", "jinja2", "yaml", "mdit_py_plugins", "rich")


def _imported(styxy, *args):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "styxy", "--doc", str(styxy.doc), *args],
        capture_output=True, text=True, env=styxy.env, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_allocate_with_an_unchanged_document_skips_markdown(styxy):
    first = _imported(styxy, "allocate", "-s", "dev", "-i", "a")
    assert "markdown_it" in first  # no cache yet: the document is parsed once
    again = _imported(styxy, "allocate", "-s", "dev", "-i", "b")
    assert sorted(again & set(HEAVY)) == []
    assert {"typer", "psutil"} <= again
    # The lock is a bare flock from the standard library: the filelock package cost 80 ms.
    assert "filelock" not in again


def test_a_changed_document_is_parsed_again(styxy):
    _imported(styxy, "allocate", "-s", "dev", "-i", "a")
    styxy.doc.write_text(styxy.doc.read_text().replace("Development proxies", "Dev proxies"))
    assert "markdown_it" in _imported(styxy, "allocate", "-s", "dev", "-i", "b")
    assert "markdown_it" not in _imported(styxy, "allocate", "-s", "dev", "-i", "c")
