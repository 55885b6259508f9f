"""Real concurrent processes and SIGKILL at random moments (SPEC section 9)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

from support import styxy_command


def _spawn(styxy, *args):
    return subprocess.Popen(
        [*styxy_command(), "--doc", str(styxy.doc), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=styxy.env,
    )


def test_fifty_concurrent_allocations_never_share_a_port(styxy):
    kinds = ["dev", "api", "docs", "ai"] + [f"newsvc{n}" for n in range(4)]
    procs = [_spawn(styxy, "allocate", "-s", kinds[n % len(kinds)], "-i", f"p{n}", "--json") for n in range(50)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 50, [e for _, e in outs if e]
    data = [json.loads(out) for out, _ in outs]
    fresh = [d for d in data if not d["existing"]]
    assert len({d["port"] for d in fresh}) == len(fresh)
    ai = [d for d in data if d["serviceType"] == "ai"]
    assert len({d["port"] for d in ai}) == 1 and sum(not d["existing"] for d in ai) == 1
    created = [d for d in data if d["autoAllocated"]]
    assert sorted(d["serviceType"] for d in created) == [f"newsvc{n}" for n in range(4)]
    for d in data:
        if d["serviceType"].startswith("newsvc"):
            rng = next(c["newRange"] for c in created if c["serviceType"] == d["serviceType"])
            assert rng[0] <= d["port"] <= rng[1]
    spans = sorted(tuple(c["newRange"]) for c in created)
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        assert b0 - a1 - 1 >= 10  # the gap survives concurrency
    assert styxy("validate").code == 0
    leases = styxy("list", "--json").json()["leases"]
    assert len({x["port"] for x in leases}) == len(leases) == len(fresh)


def test_sigkill_at_random_moments_never_tears_a_file(styxy):
    from styxy import document
    from styxy.store import cache, leases

    styxy("allocate", "-s", "dev", "-i", "warm")
    rng = random.Random(1234)
    for round_ in range(12):
        procs = [_spawn(styxy, "allocate", "-s", rng.choice(["dev", "api", f"kill{round_}-{n}"]), "-i", f"k{round_}{n}") for n in range(3)]
        time.sleep(rng.uniform(0.05, 0.4))
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.communicate(timeout=60)
        text = styxy.doc.read_text()
        document.parse(text, str(styxy.doc))  # raises if torn
        leases.load(styxy.sidecar / "leases.json")
        cache_file = styxy.sidecar / "cache.bin"
        if cache_file.exists():
            cache.read(cache_file)
    assert styxy("validate").code == 0
    assert styxy("list").code == 0
    # A killed writer may leave a temporary file; the next command under the lock sweeps it.
    leftovers = [p.name for p in styxy.doc.parent.rglob("*.tmp")]
    assert leftovers == []
