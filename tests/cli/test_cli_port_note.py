"""`--port P` that cannot be honoured is said on stderr in one line (SPEC 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from netutil import first_free, listen


def test_a_port_held_by_another_lease_names_the_port_given_instead(styxy):
    wanted = first_free(range(3050, 3100))
    first = styxy("allocate", "-s", "dev", "-i", "a", "-p", str(wanted))
    assert (first.out, first.err) == (f"{wanted}\n", "")
    second = styxy("allocate", "-s", "dev", "-i", "b", "-p", str(wanted))
    given = int(second.out)
    assert given != wanted
    assert (second.code, second.err) == (
        0, f"styxy: port {wanted} is leased to another service; using port {given} instead.\n"
    )


def test_a_port_something_listens_on_names_the_port_given_instead(styxy):
    wanted = first_free(range(3050, 3100))
    with listen(wanted):
        done = styxy("allocate", "-s", "dev", "-p", str(wanted), "--json")
    data = done.json()
    assert data["port"] != wanted
    assert done.err == (
        f"styxy: port {wanted} is in use by another process; using port {data['port']} instead.\n"
    )


def test_a_dead_identitys_port_in_its_grace_period_is_protected_and_said(styxy):
    wanted = first_free(range(3050, 3100))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        styxy("allocate", "-s", "dev", "-i", "gone", "-p", str(wanted), "--pid", str(holder.pid))
    finally:
        holder.kill()
        holder.wait()
    done = styxy("allocate", "-s", "dev", "-i", "new", "-p", str(wanted))
    given = int(done.out)
    assert given != wanted
    assert done.err == (
        f"styxy: port {wanted} is leased to another service; using port {given} instead.\n"
    )


def test_the_same_identity_asking_for_another_port_is_told_it_keeps_its_own(styxy):
    first = int(styxy("allocate", "-s", "dev", "-i", "a").out)
    wanted = first_free(range(3050, 3100), skip=[first])
    again = styxy("allocate", "-s", "dev", "-i", "a", "-p", str(wanted), "--json")
    assert again.json()["port"] == first and again.json()["existing"] is True
    assert again.err == (
        f"styxy: port {wanted} was not taken: this service already holds a lease; "
        f"using port {first} instead.\n"
    )


def test_an_honoured_port_says_nothing(styxy):
    wanted = first_free(range(3050, 3100))
    done = styxy("allocate", "-s", "dev", "-p", str(wanted))
    assert (done.code, done.out, done.err) == (0, f"{wanted}\n", "")


def test_the_result_carries_the_refusal_as_typed_fields(doc, home):
    env = {**os.environ, "HOME": str(home)}
    wanted = first_free(range(3050, 3100))
    code = (
        "import json, sys, styxy\n"
        "from styxy import api\n"
        f"api.allocate('dev', instance_id='a', port={wanted}, doc=sys.argv[1])\n"
        f"r = api.allocate('dev', instance_id='b', port={wanted}, doc=sys.argv[1])\n"
        "print(json.dumps([r.requested_port, r.port_refusal, r.lease.port, r.port_note]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(doc)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    requested, refusal, given, note = json.loads(done.stdout)
    assert (requested, refusal) == (wanted, "leased")
    assert note == f"port {wanted} is leased to another service; using port {given} instead."
