"""Two Claude Code sessions on one machine share one RAG service, end to end.

The hooks are installed with `styxy hooks claude-code --install` and run as Claude Code runs
them (the installed command through the shell, the event on stdin, a CLAUDE_ENV_FILE per
session); each session's commands run in a shell that sources its env file first, as Claude
Code's Bash tool does.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from agents_support import event, run_hook_command, run_in
from support import styxy_command

RAG = (
    "styxy run -s ai -i rag -- sh -c "
    + shlex.quote(f'exec {shlex.quote(sys.executable)} -m http.server "$PORT" --bind 127.0.0.1')
)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_two_sessions_share_one_rag_service_and_session_end_ends_only_its_leases(
    styxy, tmp_path: Path
):
    project = tmp_path / "repo"
    project.mkdir()
    assert run_in(styxy, project, "hooks", "claude-code", "--install").code == 0
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    start_command = settings["hooks"]["SessionStart"][0]["hooks"][0]["command"]
    end_command = settings["hooks"]["SessionEnd"][0]["hooks"][0]["command"]

    # The agent's shells find the installed `styxy` on PATH, as a user's would.
    bin_dir = str(Path(styxy_command()[0]).parent)
    base = {**styxy.env, "STYXY_DOC": str(styxy.doc), "PATH": f"{bin_dir}:/usr/bin:/bin"}
    agent = subprocess.Popen(["sleep", "600"])  # stands for the Claude Code process
    sessions = {}
    for sid in ("a1b2c3d4-aaaa", "e5f6a7b8-bbbb"):
        env_file = tmp_path / f"env-{sid}.sh"
        hook_env = {**base, "CLAUDE_ENV_FILE": str(env_file)}
        started = run_hook_command(start_command, event(sid), hook_env, project)
        assert started.returncode == 0, started.stderr
        sessions[sid] = env_file

    def in_session(sid: str, command: str) -> list[str]:
        return ["bash", "-c", f'source {shlex.quote(str(sessions[sid]))}; {command}']

    server = None
    try:
        for sid in sessions:
            got = subprocess.run(
                in_session(sid, f"styxy allocate -s dev --pid {agent.pid} --json"),
                capture_output=True, text=True, env=base, cwd=project, timeout=60,
            )
            assert got.returncode == 0, got.stderr
            assert json.loads(got.stdout)["instanceId"] == f"claude-{sid}"

        server = subprocess.Popen(
            in_session("a1b2c3d4-aaaa", f"exec {RAG}"),
            env=base, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        rag = wait_for(lambda: next(
            (x for x in styxy("list", "--json").json()["leases"] if x["serviceType"] == "ai"),
            None,
        ))
        port = rag["port"]
        wait_for(lambda: listening(port))

        second = subprocess.run(
            in_session("e5f6a7b8-bbbb", RAG),
            capture_output=True, text=True, env=base, cwd=project, timeout=60,
        )
        assert second.returncode == 0, second.stderr
        assert f"already running on port {port}" in second.stderr
        assert second.stdout == ""  # no server of its own: http.server would have said so
        ai = [x for x in styxy("list", "--json").json()["leases"] if x["serviceType"] == "ai"]
        assert [x["lockId"] for x in ai] == [rag["lockId"]]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as reply:
            assert reply.status == 200

        before = styxy("list", "--json").json()["leases"]
        ended = run_hook_command(
            end_command, event("a1b2c3d4-aaaa", "SessionEnd"),
            {**base, "CLAUDE_ENV_FILE": str(sessions["a1b2c3d4-aaaa"])}, project,
        )
        assert (ended.returncode, ended.stdout, ended.stderr) == (0, "", "")
        after = styxy("list", "--json").json()["leases"]
        assert after == [x for x in before if x["instanceId"] != "claude-a1b2c3d4-aaaa"]
        assert sorted(x["instanceId"] for x in after) == ["claude-e5f6a7b8-bbbb", "rag"]
        assert listening(port)  # the shared service outlives the session that started it

        server.send_signal(signal.SIGTERM)  # styxy run forwards it to the server
        server.communicate(timeout=60)
        left = styxy("list", "--json").json()["leases"]
        assert [x["instanceId"] for x in left] == ["claude-e5f6a7b8-bbbb"]
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)  # the server too, not only styxy run
            server.communicate(timeout=60)
        agent.kill()
        agent.wait()
