"""Targeted scans (runtime.events) in the state store: they close only what their re-read confirmed, and a
scheduled scan that started before one neither closes nor overwrites what it saw later. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scanner.model import ScanResult, TargetResult
from tests.test_state import ACCOUNT, finding, open_fps, sid, store
from tests.test_state import db as db  # the parametrized database fixtures, shared
from tests.test_state import location as location
from tests.test_state import state as state


def at(status: str, scan_id: str, started: str) -> ScanResult:
    return ScanResult(id=scan_id, started_at=f"2026-03-01T{started}+00:00", finished_at=f"2026-03-01T{started}+00:00",
                      status=status, home=["EU"],  # type: ignore[arg-type]
                      targets=[TargetResult("aws", ACCOUNT, "global", "s3", "ok")], counts={"stores": 0})


def test_a_targeted_scan_closes_only_the_confirmed_store_and_the_findings_of_the_stores_read_whole(state):
    base = at("complete", "base", "10:00:00")
    state.start_scan(base)
    state.finish_scan(base, [store("a", findings=(finding("fp-a"),)), store("b", findings=(finding("fp-b"),)),
                             store("c", findings=(finding("fp-c"),))])

    targeted = at("targeted", "event", "10:01:00")
    changes = state.finish_targeted(targeted, [store("a", status="pass", reach_by=()),
                                               store("b", status="pass", reach_by=())],
                                    gone=[sid("c")], read_whole=[sid("a")])
    assert changes.gone_stores == [sid("c")]
    assert changes.resolved_findings == ["fp-a", "fp-c"], "b was read partially: its finding stays open"
    assert open_fps(state) == {"fp-b"}
    assert state.store_history(sid("c"))["gone_scan_id"] == "event"
    assert state.scan("event")["status"] == "targeted"
    with pytest.raises(ValueError, match="targeted"):
        state.finish_targeted(replace(targeted, status="complete"), [], [], [])


def test_a_scheduled_scan_that_started_earlier_keeps_what_a_targeted_scan_saw_later(state):
    base = at("complete", "base", "10:00:00")
    state.start_scan(base)
    state.finish_scan(base, [store("a")])

    slow = at("complete", "slow", "11:00:00")  # lists the estate at 11:00 …
    state.start_scan(slow)
    event = at("targeted", "event", "11:00:30")  # … a bucket is created and re-read from its event at 11:00:30 …
    state.finish_targeted(event, [store("new", findings=(finding("fp-new"),)),
                                  store("a", locations=(("eu-west-1", "primary"), ("us-east-1", "replica")))],
                          gone=[], read_whole=[sid("new"), sid("a")])
    changes = state.finish_scan(slow, [store("a")])  # … and the slow scan, which saw neither, finishes at 11:05

    assert changes.gone_stores == [] and changes.resolved_findings == [], "not seen by a scan that looked earlier"
    assert state.store_history(sid("new"))["gone_at"] is None
    assert "fp-new" in open_fps(state)
    kept = state.store_history(sid("a"))
    assert kept["last_scan_id"] == "event" and len(kept["document"]["locations"]) == 2, "the later sighting stands"
    assert changes.changed_locations == []

    later = at("complete", "later", "12:00:00")  # the next scan sees the estate as it is
    state.start_scan(later)
    changes = state.finish_scan(later, [store("a")])
    assert changes.gone_stores == [sid("new")] and state.store_history(sid("a"))["last_scan_id"] == "later"
