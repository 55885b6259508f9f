"""`list`, `check`, `scan`, `cleanup`: what the machine and the lease file say."""

from __future__ import annotations

import os
import subprocess
import sys

from netutil import first_free, listen


def test_list_shows_live_leases_with_the_documented_fields(styxy):
    a = styxy("allocate", "-s", "dev", "-i", "a", "--json").json()
    leases = styxy("list", "--json").json()["leases"]
    assert len(leases) == 1
    lease = leases[0]
    assert sorted(lease) == sorted(
        ["lockId", "port", "serviceType", "instanceId", "name", "pid", "pidStartTime", "createdAt", "source", "alive"]
    )
    assert (lease["lockId"], lease["port"], lease["alive"], lease["source"]) == (a["lockId"], a["port"], True, "cli")
    assert lease["createdAt"].endswith("Z") and lease["createdAt"][10] == "T"
    text = styxy("list", "-v").out.splitlines()
    assert text[0].split() == ["PORT", "TYPE", "INSTANCE", "NAME", "LOCK", "ID", "PID", "ALIVE", "AGE", "SOURCE", "COMMAND"]
    assert text[1].split()[:7] == [str(a["port"]), "dev", "a", "-", a["lockId"], str(os.getpid()), "yes"]


def test_check_free_leased_and_listening(styxy):
    free = first_free(range(8050, 8100))
    done = styxy("check", str(free), "--json")
    assert done.code == 0
    assert done.json() == {"port": free, "free": True, "serviceType": "api", "lease": None, "listeners": []}
    leased = styxy("allocate", "-s", "api", "-p", str(free), "--json").json()
    done = styxy("check", str(free), "--json")
    assert done.code == 1
    assert done.json()["lease"]["lockId"] == leased["lockId"]
    other = first_free(range(8050, 8100), skip=[free])
    with listen(other):
        done = styxy("check", str(other), "--json")
    assert done.code == 1
    assert done.json()["listeners"] == [{"pid": os.getpid(), "process": done.json()["listeners"][0]["process"], "address": "127.0.0.1"}]
    assert done.json()["listeners"][0]["process"]
    outside = styxy("check", str(first_free(range(23500, 23600))), "--json").json()
    assert outside["serviceType"] is None and outside["free"] is True


def test_scan_attributes_listeners_to_leases(styxy):
    port = first_free(range(8060, 8100))
    lease = styxy("allocate", "-s", "api", "-p", str(port), "--json").json()
    with listen(port):
        found = styxy("scan", "--start", str(port), "--end", str(port), "--json").json()
    assert found == {
        "listeners": [
            {"port": port, "pid": os.getpid(), "process": found["listeners"][0]["process"], "address": "127.0.0.1",
             "lease": found["listeners"][0]["lease"]}
        ]
    }
    assert found["listeners"][0]["lease"]["lockId"] == lease["lockId"]
    assert styxy("scan", "--start", "9", "--end", "3").code == 2  # a usage error


def _dead_holder_lease(styxy):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    lease = styxy("allocate", "-s", "dev", "-i", "gone", "--pid", str(holder.pid), "--json").json()
    holder.kill()
    holder.wait()
    return lease


def test_cleanup_reaps_only_after_grace_and_dry_run_changes_nothing(styxy):
    lease = _dead_holder_lease(styxy)
    # Inside the grace period a dead holder's lease stays: the service may be restarting.
    assert styxy("cleanup", "--json").json() == {"reaped": []}
    assert styxy("config", "set", "lease-grace-seconds", "0").code == 0
    before = styxy.snapshot()
    dry = styxy("cleanup", "--dry-run", "--json").json()
    assert [x["lockId"] for x in dry["reaped"]] == [lease["lockId"]]
    assert styxy.snapshot() == before
    done = styxy("cleanup")
    assert done.out == f"reaped dev port {lease['port']} ({lease['lockId']}, process {lease['pid']})\n"
    assert styxy("list", "--json").json() == {"leases": []}


def test_a_listener_keeps_a_dead_holders_lease(styxy):
    lease = _dead_holder_lease(styxy)
    styxy("config", "set", "lease-grace-seconds", "0")
    with listen(lease["port"], "0.0.0.0"):
        assert styxy("cleanup", "--json").json() == {"reaped": []}
    assert [x["lockId"] for x in styxy("cleanup", "--json").json()["reaped"]] == [lease["lockId"]]


def test_a_reused_pid_does_not_keep_a_lease_alive(styxy):
    # Same pid, other start time: as if the holder died and the kernel gave its pid away.
    lease = styxy("allocate", "-s", "dev", "-i", "a", "--json").json()
    styxy("config", "set", "lease-grace-seconds", "0")
    path = styxy.sidecar / "leases.json"
    import json

    body = json.loads(path.read_text())
    body["leases"][0][body["fields"].index("pidStartTime")] -= 1000
    path.write_text(json.dumps(body))
    reaped = styxy("cleanup", "--json").json()["reaped"]
    assert [x["lockId"] for x in reaped] == [lease["lockId"]]
