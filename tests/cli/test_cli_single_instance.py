"""Single-instance service types (SPEC section 5): one live lease, later starts reuse it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from netutil import first_free
from support import styxy_command

AI_ORDER = [11430, 11431, 11432, 11433, *range(11400, 11500)]


def test_second_allocate_reuses_the_running_instance(styxy):
    port = first_free(AI_ORDER)
    first = styxy("allocate", "-s", "ai", "-i", "a", "--json").json()
    assert first["port"] == port and first["existing"] is False
    second = styxy("allocate", "-s", "ai", "-i", "b")
    assert (second.code, second.out) == (0, f"{port}\n")
    assert second.err == (
        f"styxy: Blocked: service type 'ai' only allows a single instance; already running on port {port} "
        f"(process {os.getpid()}) — reusing it. Use: styxy use --port {port}\n"
    )
    data = styxy("allocate", "-s", "ai", "-i", "c", "--json").json()
    assert (data["existing"], data["reason"], data["pid"], data["instanceId"], data["lockId"]) == (
        True, "single-instance", os.getpid(), "a", first["lockId"]
    )
    leases = styxy("list", "--json").json()["leases"]
    assert [x["serviceType"] for x in leases] == ["ai"]


def test_after_release_the_next_request_allocates_normally(styxy):
    first = styxy("allocate", "-s", "ai", "-i", "a", "--json").json()
    styxy("release", first["lockId"])
    again = styxy("allocate", "-s", "ai", "-i", "b", "--json").json()
    assert (again["existing"], again["instanceId"]) == (False, "b")


def test_dead_holder_past_grace_frees_the_type(styxy):
    assert styxy("config", "set", "lease-grace-seconds", "0").code == 0
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lease = styxy("allocate", "-s", "ai", "-i", "a", "--pid", str(holder.pid), "--json").json()
        blocked = styxy("allocate", "-s", "ai", "-i", "b", "--json").json()
        assert (blocked["existing"], blocked["reason"]) == (True, "single-instance")
    finally:
        holder.kill()
        holder.wait()
    again = styxy("allocate", "-s", "ai", "-i", "b", "--json").json()
    assert (again["existing"], again["instanceId"], again["port"]) == (False, "b", lease["port"])


def test_use_prints_the_running_service(styxy):
    first = styxy("allocate", "-s", "ai", "-i", "a", "--json").json()
    done = styxy("use", "-s", "ai")
    assert (done.code, done.out) == (0, f"{first['port']}\n")
    by_port = styxy("use", "--port", str(first["port"]), "--json").json()
    assert by_port["lockId"] == first["lockId"]
    assert styxy("use", "-s", "docs").code == 1


def test_concurrent_first_requests_make_exactly_one_lease(styxy):
    styxy("validate")  # create the cache first so the race is on the lease, not the document
    procs = [
        subprocess.Popen(
            [*styxy_command(), "--doc", str(styxy.doc), "allocate", "-s", "ai", "-i", f"i{n}", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env,
        )
        for n in range(8)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    data = [json.loads(out) for out, _ in results]
    assert len({d["port"] for d in data}) == 1
    assert sum(not d["existing"] for d in data) == 1
    assert sorted(d["reason"] for d in data if d["existing"]) == ["single-instance"] * 7
    assert len(styxy("list", "--json").json()["leases"]) == 1
