"""Outcomes are typed fields and records, never sentences compared as strings."""

from __future__ import annotations

import os
import shutil
import typing
from pathlib import Path

import pytest
from support import DEFAULT_DOC

import styxy
from styxy import vocabulary
from styxy.api import config, doctor
from styxy.api.reports import AutoAllocationReport, SettingsReport
from styxy.engine import results
from styxy.vocabulary import Notice


@pytest.fixture
def doc(tmp_path, monkeypatch):
    monkeypatch.setenv("STYXY_DATA_DIR", str(tmp_path / "data"))
    target = tmp_path / "PORT_MANAGEMENT.md"
    shutil.copyfile(DEFAULT_DOC, target)
    return target


def test_allocate_says_why_in_typed_fields_and_sends_spec_lines_as_notices(doc):
    heard: list[str] = []
    new = styxy.allocate("grafana", instance_id="a", doc=doc, pid=os.getpid(), notify=heard.append)
    assert (new.auto_allocated, new.reason, new.placement) == (True, None, "after")
    detect = "'grafana' also matches the monitoring row's detect rule; -s monitoring would share that range"
    assert heard == [f"Auto-allocated range {new.new_range[0]}-{new.new_range[1]} for new service type 'grafana'", detect]
    assert isinstance(heard[0], Notice) and not isinstance(heard[1], Notice)  # the note is styxy's
    assert new.notes == (detect,)
    same = styxy.allocate("grafana", instance_id="a", doc=doc, pid=os.getpid())
    assert (same.existing, same.reason, same.auto_allocated) == (True, "same-identity", False)
    first = styxy.allocate("ai", instance_id="one", doc=doc, pid=os.getpid())
    heard.clear()
    second = styxy.allocate("ai", instance_id="two", doc=doc, pid=os.getpid(), notify=heard.append)
    assert (second.reason, second.lease.lockId) == ("single-instance", first.lease.lockId)
    assert len(heard) == 1 and isinstance(heard[0], Notice)
    assert heard[0].startswith("Blocked: service type 'ai' only allows a single instance")


def test_the_vocabulary_is_one_set_of_literals():
    hints = typing.get_type_hints(results.Allocation)
    assert typing.get_args(hints["reason"]) == (vocabulary.Reason, type(None))
    # The Literal types exist for the type checker only (the hot path never imports typing):
    # the module as mypy reads it, TYPE_CHECKING true, defines them; each equals its tuple.
    path = Path(vocabulary.__file__)
    checked = path.read_text().replace("TYPE_CHECKING = False", "TYPE_CHECKING = True", 1)
    seen: dict[str, object] = {"__name__": "vocabulary_as_checked"}
    exec(compile(checked, str(path), "exec"), seen)
    for name, values in [
        ("Placement", vocabulary.PLACEMENTS),
        ("ChosenPlacement", vocabulary.CHOSEN_PLACEMENTS),
        ("Instances", vocabulary.INSTANCES),
        ("Source", vocabulary.SOURCES),
        ("AgentPolicy", vocabulary.AGENT_POLICIES),
        ("Asker", vocabulary.ASKERS),
        ("Reason", vocabulary.REASONS),
    ]:
        assert typing.get_args(seen[name]) == values, name
    assert vocabulary.MAX_PORT == 65535


def test_config_reports_are_frozen_records_with_their_json(doc):
    shown = config.show(doc=doc)
    assert isinstance(shown, SettingsReport)
    assert shown.settings.auto_allocation.placement == "after"
    assert shown.to_json()["autoAllocation"]["placement"] == "after"
    with pytest.raises(AttributeError):
        shown.settings = None  # type: ignore[misc]
    styxy.allocate("grafana", instance_id="a", doc=doc, pid=os.getpid())
    info = config.auto_allocated(doc=doc)
    assert isinstance(info, AutoAllocationReport)
    assert [(r.service_type, r.start, r.end) for r in info.ranges] == [("grafana", 11510, 11519)]
    assert info.to_json()["ranges"][0]["range"] == [11510, 11519]


def test_doctor_report_is_a_record_with_its_json(doc):
    found = doctor.report(doc=doc, notify=lambda _: None)
    assert (found.valid, found.diagnostics, found.live, found.stale) == (True, (), 0, 0)
    shape = found.to_json()
    assert set(shape) == {"paths", "document", "leases", "ephemeralRange", "interceptor"}
    assert shape["document"] == {"valid": True, "diagnostics": []}
    assert shape["leases"] == {"live": 0, "stale": 0}


def test_a_hand_written_row_where_styxy_made_one_is_not_undone(doc):
    """The audit line names the span styxy created; a person's row of the same name and a
    description that merely starts "Auto-allocated" is not styxy's to remove."""
    styxy.allocate("grafana", instance_id="a", doc=doc, pid=os.getpid())
    styxy.release_instance("a", doc=doc)
    text = doc.read_text().replace(
        "| grafana | 11510 | 11519 |", "| grafana | 20000 | 20009 |"
    )
    doc.write_text(text)
    with pytest.raises(styxy.StyxyError, match="nothing auto-allocated is left to undo"):
        styxy.undo_auto(doc=doc)
    assert doc.read_text() == text
