"""`styxy env --prune`: the leases of worktrees whose folders are gone end, and their ids are
forgotten; every other project keeps its ports."""

from __future__ import annotations

import json
import os
import stat

from project_support import git, repository, run_in, worktree

QUIET = b'[services.web]\ntype = "docs"\n\n[services.api]\ntype = "coordination"\n'


def _ports(report):
    return sorted(item["port"] for item in report["services"])


def test_prune_after_git_worktree_remove_ends_that_worktrees_leases(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    feature = worktree(styxy, repo, tmp_path / "shop-feature", "feature")
    kept = run_in(styxy, repo, "env", "--json").json()
    gone = run_in(styxy, feature, "env", "--json").json()
    records = styxy.sidecar / "projects.json"
    assert stat.S_IMODE(records.stat().st_mode) == 0o600
    assert json.loads(records.read_bytes()) == {
        "version": 1,
        "projects": [[kept["project"], str(repo)], [gone["project"], str(feature)]],
    }

    git(styxy, repo, "worktree", "remove", str(feature))
    done = run_in(styxy, tmp_path, "env", "--prune")
    assert (done.code, done.err) == (0, "")
    web, api = (s for s in gone["services"])
    assert done.out == (
        f"pruned {gone['project']} ({feature}): web (docs) port {web['port']}, "
        f"api (coordination) port {api['port']}\n"
    )
    leases = styxy("list", "--json").json()["leases"]
    assert sorted(x["port"] for x in leases) == _ports(kept)
    assert {x["instanceId"] for x in leases} == {kept["project"]}
    assert json.loads(records.read_bytes())["projects"] == [[kept["project"], str(repo)]]

    # Nothing left to prune: said on stderr, nothing on stdout, exit 0; JSON says it too.
    again = run_in(styxy, repo, "env", "--prune")
    assert (again.code, again.out) == (0, "")
    assert again.err == "styxy: every project styxy knows still has its folder; nothing to prune.\n"
    assert run_in(styxy, repo, "env", "--prune", "--json").json() == {"pruned": []}


def test_prune_forgets_the_ports_the_gone_worktree_remembered(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    feature = worktree(styxy, repo, tmp_path / "shop-feature", "feature")
    first = run_in(styxy, feature, "env", "--json").json()
    # Released first (as `env --release` does for a worktree set aside), then removed.
    assert run_in(styxy, feature, "env", "--release").code == 0
    git(styxy, repo, "worktree", "remove", str(feature))
    done = run_in(styxy, repo, "env", "--prune", "--json").json()
    assert done == {"pruned": []}  # --release already forgot the record: nothing to look for

    second = worktree(styxy, repo, tmp_path / "shop-fix", "fix")
    report = run_in(styxy, second, "env", "--json").json()
    git(styxy, repo, "worktree", "remove", str(second))
    pruned = run_in(styxy, repo, "env", "--prune", "--json").json()["pruned"]
    assert [(p["project"], p["root"]) for p in pruned] == [(report["project"], str(second))]
    assert sorted(x["port"] for x in pruned[0]["released"]) == _ports(report)
    history = json.loads((styxy.sidecar / "leases.json").read_bytes())["history"]
    assert [h for h in history if h[1] == report["project"]] == []
    # The released worktree's remembered ports are another project's: they stay.
    assert sorted(h[3] for h in history if h[1] == first["project"]) == _ports(first)


def test_prune_takes_no_project_options(styxy, tmp_path):
    for extra in (["--release"], ["--project", str(tmp_path)], ["--write", ".env"]):
        done = run_in(styxy, tmp_path, "env", "--prune", *extra)
        assert (done.code, done.out) == (2, "")
        assert done.err == (
            "styxy: --prune looks at every project styxy knows; it takes no --project, "
            "--release, --write, --format or --pid.\n"
        )


def test_a_corrupt_projects_file_is_refused_and_left_alone(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    assert run_in(styxy, repo, "env").code == 0
    records = styxy.sidecar / "projects.json"
    records.write_bytes(b'{"version": 1, "projects": [["x", "relative/path"]]}\n')
    os.chmod(records, 0o600)
    before = styxy.snapshot()
    done = run_in(styxy, repo, "env", "--prune")
    assert done.code == 1
    assert done.err == (
        f"styxy: the projects file {records} is corrupt (['x', 'relative/path'] is not "
        "[project id, absolute folder]); remove it and run `styxy env` in each worktree again.\n"
    )
    assert styxy.snapshot() == before
