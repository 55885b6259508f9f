"""An auto-allocated range never lands on a port a live lease still holds (SPEC 10)."""

from __future__ import annotations

import os

import pytest

from styxy.errors import RefusedError


def test_a_new_range_skips_the_lease_of_a_row_removed_by_hand(styxy):
    first = styxy("allocate", "-s", "grafana", "-i", "main", "--json").json()
    assert (first["newRange"], first["port"], first["pid"]) == ([11510, 11519], 11510, os.getpid())
    # A person deletes the grafana row; its lease (held by this live process) stays.
    text = styxy.doc.read_text()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| grafana |"))
    styxy.doc.write_text(text.replace(row, ""))
    assert styxy("validate").code == 0
    # `after` would place the next type at 11510-11519 again, over the live lease.
    done = styxy("allocate", "-s", "tempo", "--json")
    assert done.code == 0, done.err
    data = done.json()
    assert (data["newRange"], data["port"]) == ([11511, 11520], 11511)
    assert done.err == "styxy: Auto-allocated range 11511-11520 for new service type 'tempo'\n"
    leases = styxy("list", "--json").json()["leases"]
    assert sorted((x["serviceType"], x["port"]) for x in leases) == [
        ("grafana", 11510), ("tempo", 11511)
    ]


def test_a_custom_window_over_a_live_lease_is_refused(styxy, monkeypatch):
    styxy("allocate", "-s", "grafana", "-i", "main")
    text = styxy.doc.read_text()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| grafana |"))
    styxy.doc.write_text(text.replace(row, ""))
    assert styxy("config", "set", "auto-allocation.require-confirmation", "true").code == 0
    from styxy import api

    problems = []

    def confirm(service_type, proposal, problem_of):
        # What the terminal prompt's `customize` checks for a start and a chunk size.
        problems.append(problem_of(11510, 10))
        return None

    monkeypatch.setenv("HOME", str(styxy.home))
    before = styxy.snapshot()
    with pytest.raises(RefusedError) as refused:
        api.allocate("tempo", confirm=confirm, doc=styxy.doc)
    assert problems == ["port 11510 is in use"]
    assert str(refused.value) == "declined: no range was created for 'tempo'."
    assert styxy.snapshot() == before


def test_suggest_range_also_goes_around_a_live_lease(styxy, monkeypatch):
    styxy("allocate", "-s", "grafana", "-i", "main")
    text = styxy.doc.read_text()
    row = next(line for line in text.splitlines(keepends=True) if line.startswith("| grafana |"))
    styxy.doc.write_text(text.replace(row, ""))
    from styxy import api

    monkeypatch.setenv("HOME", str(styxy.home))
    suggestion = api.suggest_range("tempo", doc=styxy.doc)
    assert (suggestion.start, suggestion.end) == (11511, 11520)
