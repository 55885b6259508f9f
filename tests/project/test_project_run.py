"""`styxy run --project -- CMD`: the child sees every service's variables; what it created ends."""

from __future__ import annotations

import json
import os
import signal
import sys

from project_support import popen_in, repository, run_in

PY = sys.executable
CONFIG = b'[services.web]\ntype = "docs"\n\n[services.api]\ntype = "coordination"\n'
SHOW = (
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in "
    "('WEB_PORT', 'WEB_URL', 'WEB_PUBLIC_URL', 'API_PORT', 'API_URL', 'API_PUBLIC_URL', "
    "'STYXY_INSTANCE_ID')}))"
)


def test_the_child_sees_the_set_and_the_leases_it_needed_end_with_it(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    done = run_in(styxy, repo, "run", "--project", "--", PY, "-c", SHOW)
    assert (done.code, done.err) == (0, "")
    seen = json.loads(done.out)
    expected = run_in(styxy, repo, "env", "--json").json()
    assert seen == {**expected["variables"], "STYXY_INSTANCE_ID": expected["project"]}
    run_in(styxy, repo, "env", "--release")
    # Released by run; the next request of the identities gets the same ports.
    again = run_in(styxy, repo, "run", "--project", "--", PY, "-c", SHOW)
    assert json.loads(again.out) == seen
    assert styxy("list", "--json").json() == {"leases": []}


def test_leases_from_styxy_env_stay_after_the_child(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    before = run_in(styxy, repo, "env", "--json").json()
    done = run_in(styxy, tmp_path, "run", "--project", str(repo), "--", PY, "-c", SHOW)
    assert done.code == 0
    assert json.loads(done.out)["WEB_PORT"] == before["variables"]["WEB_PORT"]
    leases = styxy("list", "--json").json()["leases"]
    assert sorted(x["lockId"] for x in leases) == sorted(s["lockId"] for s in before["services"])


def test_the_childs_exit_code_comes_back(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    assert run_in(styxy, repo, "run", "--project", "--", PY, "-c", "raise SystemExit(7)").code == 7
    assert styxy("list", "--json").json() == {"leases": []}


def test_a_server_the_child_leaves_running_keeps_its_lease(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    server = (
        "import os, socket, time; s = socket.socket(); "
        "s.bind(('127.0.0.1', int(os.environ['WEB_PORT']))); s.listen(); "
        "print(os.getpid(), flush=True); time.sleep(120)"
    )
    parent = (
        "import subprocess, sys; "
        f"p = subprocess.Popen([sys.executable, '-c', {server!r}], stdout=subprocess.PIPE, "
        "stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, start_new_session=True); "
        "print(p.stdout.readline().strip())"
    )
    done = run_in(styxy, repo, "run", "--project", "--", PY, "-c", parent)
    pid = int(done.out)
    try:
        assert done.code == 0
        leases = styxy("list", "--json").json()["leases"]
        assert [(x["name"], x["serviceType"]) for x in leases] == [("web", "docs")]
    finally:
        os.kill(pid, signal.SIGTERM)


def test_ctrl_c_reaches_the_child(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    proc = popen_in(styxy, repo, "run", "--project", "--", "sh", "-c", "echo up; exec sleep 60")
    assert proc.stdout.readline() == "up\n"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert styxy("list", "--json").json() == {"leases": []}


def test_usage_errors(styxy, tmp_path):
    repo = repository(styxy, tmp_path / "shop", CONFIG)
    mixed = run_in(styxy, repo, "run", "--project", "-s", "dev", "--", "true")
    assert (mixed.code, mixed.err) == (
        2,
        "styxy: --project runs with the project's own services; it takes no -s, -i, -n, "
        "--intercept or --new-type.\n",
    )
    neither = run_in(styxy, repo, "run", "--", "true")
    assert (neither.code, neither.err) == (
        2,
        "styxy: give -s TYPE, or --project [DIR] to run with a project's ports.\n",
    )
    bare = run_in(styxy, repo, "run", "--project")
    assert (bare.code, bare.err) == (2, "styxy: give the command to run after `--`.\n")
    assert not styxy.sidecar.exists()
