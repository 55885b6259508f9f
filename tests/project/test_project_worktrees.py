"""`styxy env` in real git worktrees: one set of ports per worktree, stable across release."""

from __future__ import annotations

import hashlib
import json
import os
import re

from project_support import git, popen_in, repository, run_in, worktree

# Types whose ranges other suites on this machine rarely listen in, so a remembered port is
# free again when the test asks for it.
QUIET = b"""[services.web]
type = "docs"

[services.api]
type = "coordination"
env = "BACKEND_PORT"
"""


def _checkouts(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    return [
        repo,
        worktree(styxy, repo, tmp_path / "shop-feature", "feature"),
        worktree(styxy, repo, tmp_path / "shop-fix", "fix"),
    ]


def _in_parallel(styxy, folders, *args):
    started = [popen_in(styxy, folder, *args) for folder in folders]
    found = []
    for proc in started:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        found.append(json.loads(out))
    return found


def _ports(report):
    return {item["name"]: item["port"] for item in report["services"]}


def test_worktrees_get_disjoint_ports_in_parallel_and_the_same_again_after_release(styxy, tmp_path):
    folders = _checkouts(styxy, tmp_path)
    first = _in_parallel(styxy, folders, "env", "--json")
    ids = [report["project"] for report in first]
    assert len(set(ids)) == 3
    for folder, report in zip(folders, first, strict=True):
        assert report["root"] == str(folder)
        assert (
            report["project"]
            == f"{folder.name}-{hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:8]}"
        )
        assert [
            (s["name"], s["type"], s["env"], s["urlEnv"], s["publicUrlEnv"])
            for s in report["services"]
        ] == [
            ("web", "docs", "WEB_PORT", "WEB_URL", "WEB_PUBLIC_URL"),
            ("api", "coordination", "BACKEND_PORT", "BACKEND_URL", "BACKEND_PUBLIC_URL"),
        ]
        name = report["project"]
        ports = _ports(report)
        assert 4100 <= ports["web"] <= 4199 and 9870 <= ports["api"] <= 9899
        assert report["variables"] == {
            "WEB_PORT": str(ports["web"]),
            "WEB_URL": f"http://localhost:{ports['web']}",
            "WEB_PUBLIC_URL": f"http://web.{name}.localhost:1355/",
            "BACKEND_PORT": str(ports["api"]),
            "BACKEND_URL": f"http://localhost:{ports['api']}",
            "BACKEND_PUBLIC_URL": f"http://api.{name}.localhost:1355/",
        }
        assert not any(s["existing"] for s in report["services"])
    every = [port for report in first for port in _ports(report).values()]
    assert len(set(every)) == 6

    # Asked again, each worktree finds its own leases.
    again = [run_in(styxy, folder, "env", "--json").json() for folder in folders]
    assert [_ports(r) for r in again] == [_ports(r) for r in first]
    assert all(s["existing"] for r in again for s in r["services"])

    # Released (a worktree set aside for the day), then asked again in parallel: same ports.
    for folder, report in zip(folders, first, strict=True):
        ended = run_in(styxy, folder, "env", "--release", "--json").json()
        assert ended["project"] == report["project"]
        assert sorted(x["port"] for x in ended["released"]) == sorted(_ports(report).values())
    assert styxy("list", "--json").json() == {"leases": []}
    later = _in_parallel(styxy, folders, "env", "--json")
    assert [_ports(r) for r in later] == [_ports(r) for r in first]
    assert not any(s["existing"] for r in later for s in r["services"])


def test_the_project_is_found_from_a_subfolder_and_through_a_symbolic_link(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    (repo / "src" / "deep").mkdir(parents=True)
    os.symlink(repo, tmp_path / "link")
    top = run_in(styxy, repo, "env", "--json").json()
    below = run_in(styxy, repo / "src" / "deep", "env", "--json").json()
    linked = run_in(styxy, tmp_path, "env", "--project", str(tmp_path / "link"), "--json").json()
    assert below["project"] == top["project"] == linked["project"]
    assert re.fullmatch(r"shop-[0-9a-f]{8}", top["project"])
    assert _ports(below) == _ports(linked) == _ports(top)


def test_formats_dotenv_sh_and_eval(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    report = run_in(styxy, repo, "env", "--json").json()
    ports, name = _ports(report), report["project"]
    web, api = ports["web"], ports["api"]
    dotenv = run_in(styxy, repo, "env")
    assert (dotenv.code, dotenv.err) == (0, "")
    assert dotenv.out == (
        f"WEB_PORT={web}\nWEB_URL=http://localhost:{web}\n"
        f"WEB_PUBLIC_URL=http://web.{name}.localhost:1355/\n"
        f"BACKEND_PORT={api}\nBACKEND_URL=http://localhost:{api}\n"
        f"BACKEND_PUBLIC_URL=http://api.{name}.localhost:1355/\n"
    )
    sh = run_in(styxy, repo, "env", "--format", "sh")
    assert sh.out == (
        f"export WEB_PORT='{web}'\nexport WEB_URL='http://localhost:{web}'\n"
        f"export WEB_PUBLIC_URL='http://web.{name}.localhost:1355/'\n"
        f"export BACKEND_PORT='{api}'\nexport BACKEND_URL='http://localhost:{api}'\n"
        f"export BACKEND_PUBLIC_URL='http://api.{name}.localhost:1355/'\n"
    )
    as_json = run_in(styxy, repo, "env", "--format", "json").json()
    assert as_json["variables"]["WEB_PORT"] == str(web)
    # What a user types: eval in a shell, then a child process sees the variables.
    script = (
        'eval "$(styxy --doc "$DOC" env --format sh)" && sh -c \'echo "$WEB_PORT $BACKEND_URL"\''
    )
    import subprocess

    from support import styxy_command

    env = {
        **styxy.env,
        "DOC": str(styxy.doc),
        "PATH": f"{os.path.dirname(styxy_command()[0])}:{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["sh", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, f"{web} http://localhost:{api}\n")
    bad = run_in(styxy, repo, "env", "--format", "yaml")
    assert bad.code == 2 and bad.out == ""


def test_a_single_instance_type_is_shared_between_projects(styxy, tmp_path):
    config = b'[services.rag]\ntype = "ai"\n'
    first = repository(styxy, tmp_path / "one", config)
    second = repository(styxy, tmp_path / "two", config)
    owner = run_in(styxy, first, "env", "--json").json()
    port = owner["services"][0]["port"]
    shared = run_in(styxy, second, "env")
    assert shared.code == 0
    # The public URL is the running instance's: the first project's name for it.
    assert shared.out == (
        f"RAG_PORT={port}\nRAG_URL=http://localhost:{port}\n"
        f"RAG_PUBLIC_URL=http://rag.{owner['project']}.localhost:1355/\n"
    )
    assert shared.err == (
        f"styxy: rag: service type 'ai' allows a single instance; sharing the one running on "
        f"port {port} (process {os.getpid()}).\n"
    )
    item = run_in(styxy, second, "env", "--json").json()["services"][0]
    assert (item["existing"], item["reason"], item["lockId"]) == (
        True,
        "single-instance",
        owner["services"][0]["lockId"],
    )
    # Releasing the second project ends nothing of the first's.
    assert run_in(styxy, second, "env", "--release", "--json").json()["released"] == []
    assert len(styxy("list", "--json").json()["leases"]) == 1


def test_an_unknown_type_gets_a_range_of_its_own_one_row(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", b'[services.metrics]\ntype = "grafana-shop"\n')
    rows_before = [line for line in styxy.doc.read_text().splitlines() if line.startswith("| ")]
    done = run_in(styxy, repo, "env", "--json")
    assert done.code == 0, done.err
    item = done.json()["services"][0]
    assert item["autoAllocated"] is True
    rows_after = [line for line in styxy.doc.read_text().splitlines() if line.startswith("| ")]
    added = [row for row in rows_after if row not in rows_before]
    assert len(rows_after) == len(rows_before) + 1 and len(added) == 1
    start, end = (int(x) for x in added[0].split("|")[2:4])
    assert added[0].startswith("| grafana-shop | ") and start <= item["port"] <= end
    assert done.err == (
        f"styxy: Auto-allocated range {start}-{end} for new service type 'grafana-shop'\n"
        "styxy: 'grafana-shop' also matches the monitoring row's detect rule; "
        "-s monitoring would share that range\n"
    )
    # Asked again: the same lease, no second row.
    assert run_in(styxy, repo, "env", "--json").json()["services"][0]["port"] == item["port"]
    assert len([x for x in styxy.doc.read_text().splitlines() if x.startswith("| ")]) == len(
        rows_after
    )


def test_release_of_a_removed_worktree(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", QUIET)
    gone = worktree(styxy, repo, tmp_path / "shop-old", "old")
    ports = _ports(run_in(styxy, gone, "env", "--json").json())
    git(styxy, repo, "worktree", "remove", str(gone))
    assert not gone.exists()
    ended = run_in(styxy, repo, "env", "--release", "--project", str(gone))
    assert (ended.code, ended.err) == (0, "")
    assert ended.out == (
        f"released web (docs) port {ports['web']}\nreleased api (coordination) port {ports['api']}\n"
    )
    assert styxy("list", "--json").json() == {"leases": []}
    nothing = run_in(styxy, repo, "env", "--release")
    assert (nothing.code, nothing.out) == (0, "")
    assert re.fullmatch(r"styxy: project shop-[0-9a-f]{8} holds no leases\.\n", nothing.err)


def test_one_refused_service_leases_none_of_the_set(styxy, tmp_path):
    assert styxy("config", "set", "auto-allocation.enabled", "false").code == 0
    repo = repository(styxy, tmp_path / "shop", QUIET + b'\n[services.board]\ntype = "kanban"\n')
    doc_before = styxy.doc.read_bytes()
    done = run_in(styxy, repo, "env", "--write", ".env")
    assert done.code == 1
    assert done.err.startswith("styxy: Unknown service type 'kanban'")
    assert styxy("list", "--json").json() == {"leases": []}
    assert styxy.doc.read_bytes() == doc_before
    assert not (repo / ".env").exists()


def test_pid_names_the_holder_and_project_without_dir_searches(styxy, tmp_path):
    import subprocess

    repo = repository(styxy, tmp_path / "shop", QUIET)
    holder = subprocess.Popen(["sleep", "120"])
    try:
        # `--project` with no DIR before another option: the project around the current folder.
        done = run_in(styxy, repo, "env", "--project", "--pid", str(holder.pid), "--json")
        assert done.code == 0, done.err
        assert {s["pid"] for s in done.json()["services"]} == {holder.pid}
        assert done.json()["root"] == str(repo)
    finally:
        holder.kill()
        holder.wait()
    gone = run_in(styxy, repo, "env", "--pid", str(holder.pid))
    assert (gone.code, gone.err) == (
        1,
        f"styxy: there is no process {holder.pid} to hold the lease.\n",
    )
