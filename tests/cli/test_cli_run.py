"""`styxy run`: the child holds the lease, sees its port, and its exit code comes back."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from support import styxy_command

PY = sys.executable


def test_run_exports_the_port_and_releases_on_exit(styxy):
    script = "import os, json; print(json.dumps({k: os.environ[k] for k in ('PORT', 'STYXY_PORT', 'STYXY_LOCK_ID')}))"
    done = styxy("run", "-s", "dev", "-i", "r", "--", PY, "-c", script)
    assert done.code == 0
    env = json.loads(done.out)
    assert env["PORT"] == env["STYXY_PORT"] and 3000 <= int(env["PORT"]) <= 3099
    # One line of its own on stderr, the port it gave; stdout is the child's alone.
    assert done.err == f"styxy: running {Path(PY).name} on port {env['PORT']} (dev)\n"
    assert styxy("list", "--json").json() == {"leases": []}


def test_run_exits_with_the_childs_code(styxy):
    assert styxy("run", "-s", "dev", "--", PY, "-c", "raise SystemExit(7)").code == 7
    killed = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    assert styxy("run", "-s", "dev", "--", PY, "-c", killed).code == 128 + 9
    # The lease ends with a killed child too.
    assert styxy("list", "--json").json() == {"leases": []}


def test_ctrl_c_reaches_the_child_and_exits_130(styxy):
    argv = [*styxy_command(), "--doc", str(styxy.doc), "run", "-s", "dev", "--", "sh", "-c", "echo up; exec sleep 60"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
    assert proc.stdout.readline() == "up\n"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert styxy("list", "--json").json() == {"leases": []}


def test_the_child_is_the_holder_while_it_runs(styxy):
    script = "import json, subprocess, sys, os; print(os.getpid()); sys.stdout.flush(); print(sys.stdin.readline())"
    argv = [*styxy_command(), "--doc", str(styxy.doc), "run", "-s", "dev", "-i", "h", "--", PY, "-c", script]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
    child_pid = int(proc.stdout.readline())
    leases = styxy("list", "--json").json()["leases"]
    proc.communicate("done\n", timeout=30)
    assert [(x["pid"], x["source"], x["instanceId"]) for x in leases] == [(child_pid, "run", "h")]


def test_run_on_a_running_single_instance_type_does_not_start_the_command(styxy, tmp_path):
    first = styxy("allocate", "-s", "ai", "-i", "a", "--json").json()
    marker = tmp_path / "started"
    done = styxy("run", "-s", "ai", "-i", "b", "--", PY, "-c", f"open({str(marker)!r}, 'w')")
    assert done.code == 0 and done.out == ""
    assert done.err.startswith(f"styxy: Blocked: service type 'ai' only allows a single instance; already running on port {first['port']}")
    assert not marker.exists()


def test_two_terminals_running_the_ai_service_end_with_one_server(styxy, tmp_path):
    server = "import os, socket, time; s = socket.socket(); s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); print('serving', flush=True); time.sleep(60)"
    argv = [*styxy_command(), "--doc", str(styxy.doc), "run", "-s", "ai", "-i", "a", "--", PY, "-c", server]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
    try:
        assert first.stdout.readline() == "serving\n"
        second = styxy("run", "-s", "ai", "-i", "b", "--", PY, "-c", server)
        assert second.code == 0 and second.out == ""
        assert "only allows a single instance" in second.err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    # SIGTERM went to the child through styxy run; the lease ended with it.
    assert first.returncode == 128 + signal.SIGTERM
    assert styxy("list", "--json").json() == {"leases": []}


def test_signals_are_forwarded_to_the_child(styxy):
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGHUP, lambda *a: sys.exit(42))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    argv = [*styxy_command(), "--doc", str(styxy.doc), "run", "-s", "dev", "--", PY, "-c", script]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGHUP)
    proc.communicate(timeout=30)
    assert proc.returncode == 42


def test_a_signal_after_the_child_ended_still_ends_the_lease(styxy):
    # `timeout` and a closed terminal signal the whole group: styxy may get SIGTERM after its
    # child is gone, while it settles the lease. The child here leaves a process behind that
    # carries the lease's id without listening, which keeps styxy waiting for it (up to 5 s):
    # a SIGTERM then must end the wait and the lease, not kill styxy with the lease left.
    import psutil

    argv = [*styxy_command(), "--doc", str(styxy.doc), "run", "-s", "dev", "--", "sh", "-c", "sleep 60 & echo $!; exit 3"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
    leftover = psutil.Process(int(proc.stdout.readline()))
    try:
        styxy_process = psutil.Process(proc.pid)
        while styxy_process.children():  # the child sh ended and was reaped: styxy now waits
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=30)  # not communicate(): the leftover holds the pipes open
        assert time.monotonic() - started < 3  # the wait ended at the signal
    finally:
        leftover.kill()
    assert proc.returncode == 3  # the child's code, not a styxy killed by SIGTERM (-15)
    assert styxy("list", "--json").json() == {"leases": []}


def test_run_without_a_command_or_with_a_missing_one(styxy):
    done = styxy("run", "-s", "dev")
    assert (done.code, done.err) == (2, "styxy: give the command to run after `--`.\n")
    done = styxy("run", "-s", "dev", "--", "no-such-program-xyz")
    assert (done.code, done.err) == (1, "styxy: command not found: 'no-such-program-xyz'.\n")
    assert styxy("list", "--json").json() == {"leases": []}


def test_sigterm_reaches_a_server_behind_a_launcher_that_does_not_pass_it_on(styxy):
    # `sh -c 'server & wait'` stands for npx, npm run and their kind: sh ends at SIGTERM and
    # leaves its background child running. The server must end too, and the port be free.
    import psutil

    server = (  # SO_REUSEADDR as real servers set it: a port in TIME_WAIT is no conflict
        "import os, socket, time; s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        "s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); "
        "print(os.getpid(), flush=True); time.sleep(60)"
    )
    argv = [
        *styxy_command(), "--doc", str(styxy.doc), "run", "-s", "dev", "-i", "launched", "--",
        "sh", "-c", '"$0" -c "$1" & wait', PY, server,
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env)
    line = proc.stdout.readline()
    assert line.strip().isdigit(), proc.communicate(timeout=30)
    server_process = psutil.Process(int(line))
    port = styxy("list", "--json").json()["leases"][0]["port"]
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        server_process.wait(timeout=10)  # not our child: psutil waits for it to be gone
    finally:
        if server_process.is_running():
            server_process.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert styxy("list", "--json").json() == {"leases": []}
    assert styxy("check", str(port)).code == 0  # free
