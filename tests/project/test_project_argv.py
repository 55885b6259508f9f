"""`--project` without DIR: an empty DIR is put in, before `--` only, for `env` and `run` only."""

from __future__ import annotations

import pytest

from styxy.cli.projects import project_default


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["run", "--project", "--", "ls", "--project"],
            ["run", "--project", "", "--", "ls", "--project"],
        ),
        (["run", "--project", "web", "--", "ls"], ["run", "--project", "web", "--", "ls"]),
        (["env", "--project"], ["env", "--project", ""]),
        (["env", "--project", "--json"], ["env", "--project", "", "--json"]),
        (["--doc", "d.md", "env", "--project"], ["--doc", "d.md", "env", "--project", ""]),
        (["allocate", "-n", "--project"], ["allocate", "-n", "--project"]),
        (["env", "--release"], ["env", "--release"]),
    ],
)
def test_project_default(argv, expected):
    assert project_default(argv) == expected
