"""A single-instance lease whose holder died and whose port is silent is not running (SPEC 10).

The grace period keeps the port from other identities; it does not keep a dead service alive:
within it, the next `allocate`, `use` and `run` of the type start afresh.
"""

from __future__ import annotations

import os
import subprocess
import sys

from netutil import first_free, listen

AI_ORDER = [11430, 11431, 11432, 11433, *range(11400, 11500)]


def _dead_holder_lease(styxy, instance: str = "a") -> dict:
    """A lease of `ai` held by a real process that then dies (default grace: 300 s)."""
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lease = styxy("allocate", "-s", "ai", "-i", instance, "--pid", str(holder.pid), "--json")
        assert lease.code == 0, lease.err
    finally:
        holder.kill()
        holder.wait()
    return lease.json()


def test_allocate_after_the_holder_died_starts_a_new_instance(styxy):
    port = first_free(AI_ORDER)
    dead = _dead_holder_lease(styxy)
    assert dead["port"] == port
    again = styxy("allocate", "-s", "ai", "-i", "b", "--json")
    assert (again.code, again.err) == (0, "")
    data = again.json()
    assert (data["existing"], data["reason"], data["instanceId"], data["pid"]) == (
        False, None, "b", os.getpid()
    )
    # The dead lease ended; its port, free again, is the type's first candidate.
    assert data["port"] == port
    leases = styxy("list", "--json").json()["leases"]
    assert [(x["instanceId"], x["port"]) for x in leases] == [("b", port)]


def test_the_same_identity_takes_over_its_dead_lease(styxy):
    dead = _dead_holder_lease(styxy)
    again = styxy("allocate", "-s", "ai", "-i", "a", "--json").json()
    assert (again["existing"], again["reason"], again["pid"]) == (False, None, os.getpid())
    assert again["port"] == dead["port"] and again["lockId"] != dead["lockId"]


def test_use_does_not_offer_a_dead_instance(styxy):
    dead = _dead_holder_lease(styxy)
    by_type = styxy("use", "-s", "ai")
    assert (by_type.code, by_type.out) == (1, "")
    assert by_type.err == "styxy: nothing styxy knows of is running of service type 'ai'.\n"
    by_port = styxy("use", "--port", str(dead["port"]))
    assert (by_port.code, by_port.out) == (1, "")


def test_run_starts_the_command_when_the_instance_died(styxy):
    dead = _dead_holder_lease(styxy)
    done = styxy("run", "-s", "ai", "-i", "b", "--", "sh", "-c", 'echo "started on $PORT"')
    assert (done.code, done.out) == (0, f"started on {dead['port']}\n")
    assert done.err == f"styxy: running sh on port {dead['port']} (ai)\n"
    assert styxy("list", "--json").json()["leases"] == []


def test_a_dead_holder_whose_port_is_still_served_is_running(styxy):
    dead = _dead_holder_lease(styxy)
    # A server outside styxy's knowledge took over the port: the service answers there.
    with listen(dead["port"]):
        blocked = styxy("allocate", "-s", "ai", "-i", "b", "--json").json()
        assert (blocked["existing"], blocked["reason"], blocked["lockId"]) == (
            True, "single-instance", dead["lockId"]
        )
        assert styxy("use", "-s", "ai").out == f"{dead['port']}\n"
