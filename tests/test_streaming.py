"""Bounded memory: stores stream from the scan to a spool, from the spool to the state store in batches, and to
the JSON and CSV reports one at a time — with exactly the results of holding them all."""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.memory import SyntheticProvider
from policies.catalog_loader import load_catalog
from policies.policy_loader import load_policies
from providers.base import TargetLog
from runtime.cli import write_report
from runtime.scan import Judge, StoreSpool, report_order, run_scan
from scanner.discovered import DiscoveredStore
from scanner.model import DataStore, TargetResult
from scanner.report import CSV_COLUMNS, document, render
from state.schema import events_table, findings_table, store_facets_table, store_index_table, stores_table
from state.store import StateStore
from tests.helpers import config
from tests.test_state import ACCOUNT, finding, open_fps, scan, sid, store

# ---- the spool -----------------------------------------------------------------------------------


def shuffled_stores(count: int) -> list[DataStore]:
    stores = [store(f"s{number:03d}", findings=(finding(f"fp-{number}"),)) for number in range(count)]
    for number, item in enumerate(stores):
        item.account = f"acct-{number % 3}"
        item.kind = ("s3_bucket", "dynamodb_table")[number % 2]
    random.Random(7).shuffle(stores)
    return stores


def test_spool_reads_back_every_store_exactly_in_report_order():
    stores = shuffled_stores(10)
    with StoreSpool(batch_size=3) as spool:  # four sorted runs, merged on reading
        for item in stores:
            spool.add(item)
        assert list(spool) == sorted(stores, key=report_order)
        assert list(spool) == sorted(stores, key=report_order)  # readable again
        assert len(spool) == 10 and spool.counts() == {
            "stores": 10, "pass": 0, "fail": 10, "not_applicable": 0, "not_evaluated": 0}
        assert spool.accounts == {("aws", "acct-0"), ("aws", "acct-1"), ("aws", "acct-2")}


@pytest.mark.parametrize("batch_size", [1, 2, 100])  # the repeat in another run, or in the same one
def test_spool_keeps_the_last_sighting_of_an_id(batch_size):
    with StoreSpool(batch_size) as spool:
        for item in (store("a"), store("b"), store("a", status="pass", reach_by=())):
            spool.add(item)
        assert [(item.id, item.status) for item in spool] == [(sid("a"), "pass"), (sid("b"), "fail")]
        assert len(spool) == 2 and spool.counts()["pass"] == 1 and spool.counts()["fail"] == 1


# ---- the reports ---------------------------------------------------------------------------------


def judged(count: int) -> tuple[object, StoreSpool]:
    """A real scan of `count` synthetic buckets, no state store."""
    catalog = load_catalog()
    policies, waivers = load_policies([], catalog, ["EU"])
    return run_scan([SyntheticProvider(count)], Judge(catalog, config(), policies, waivers), batch_size=4)


@pytest.mark.parametrize("count", [0, 1, 9])
def test_streamed_json_is_byte_for_byte_the_whole_document(count):
    result, stores = judged(count)
    assert len(stores) == count == result.counts["stores"]
    expected = json.dumps(document(result, stores), indent=2, ensure_ascii=False) + "\n"
    assert render("json", result, stores) == expected


def test_streamed_json_keeps_odd_characters_in_strings():
    odd = store("ü")
    odd.tags = {"note": 'line one\nline "two"\t€'}
    result = scan()
    assert render("json", result, [odd]) == json.dumps(document(result, [odd]), indent=2, ensure_ascii=False) + "\n"


def test_streamed_csv_has_one_row_per_store_in_report_order(tmp_path):
    result, stores = judged(9)
    path = tmp_path / "out" / "report.csv"
    write_report("csv", result, stores, str(path))
    text = path.read_bytes().decode("utf-8")
    assert text == render("csv", result, stores) and text.count("\r\n") == 10  # header + 9 rows, \r\n as csv writes
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == CSV_COLUMNS
    assert [(row["id"], row["status"]) for row in rows] == [(item.id, item.status) for item in stores]
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)


def test_streamed_json_file_is_the_document(tmp_path):
    result, stores = judged(5)
    path = tmp_path / "report.json"
    write_report("json", result, stores, str(path))
    assert json.loads(path.read_text(encoding="utf-8")) == document(result, stores)


# ---- the state store, batch by batch -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def locations(request, tmp_path) -> Iterator[tuple[str, str]]:
    """Two fresh databases of one kind."""
    if request.param == "sqlite":
        yield str(tmp_path / "one.db"), str(tmp_path / "two.db")
        return
    server = request.getfixturevalue("postgres_server")
    names = [f"stream_{next(server._databases)}" for _ in range(2)]
    yield tuple(server.create_database(name) for name in names)
    for name in names:
        server.drop_database(name)


def history() -> list[tuple[str, list[DataStore], list[TargetResult] | None]]:
    """Scans that exercise every rule: new, changed, not evaluated, partial, gone, reappeared, account not read."""
    quoted = [store("o'brien"), store("50%_off\\x")]  # ids rendered into the SQL of a batch's IN list
    first = [*(store(f"s{n:02d}", findings=(finding(f"fp-{n}"),)) for n in range(11)), *quoted]
    changed = [*first[2:9], store("s09", reach_by=("US", "CN"), findings=(finding("fp-9"),))]
    changed[0] = store("s02", status="not_evaluated", reach_by=())  # keeps fp-2 open, keeps its reach baseline
    other_account = store("x", findings=(finding("fp-x"),))
    other_account.account = "222222222222"
    partial = [*first[:3], other_account]
    return [
        ("complete", first, None),
        ("complete", changed, None),  # s00, s01, s10 and the quoted ones gone
        ("partial", partial, None),  # s00, s01 reappear; nothing gone, nothing resolved
        ("complete", first[:1], [TargetResult("aws", ACCOUNT, "global", "s3", "ok")]),  # x: account not read
    ]


def replay(location: str, batch_size: int) -> tuple[list[dict], dict[str, list]]:
    """Run history() into a new database; return each scan's changes and every table's rows."""
    changes = []
    with StateStore(location) as state:
        state.batch_size = batch_size
        for status, stores, targets in history():
            result = scan(status, targets)
            number = len(changes)
            result.id, result.started_at = f"scan-{number}", f"2026-04-0{number + 1}T00:00:00+00:00"  # as in the other
            result.finished_at = result.started_at
            state.start_scan(result)
            changes.append(state.finish_scan(result, iter(stores)).to_dict())  # any iterable, read once
        with state.reading() as conn:
            tables = {
                table.name: sorted(
                    (tuple(sorted(row.items(), key=lambda item: item[0])) for row in conn.execute(
                        select(table).order_by(*table.primary_key.columns)).mappings()), key=repr)
                for table in (stores_table, findings_table, store_facets_table, store_index_table)
            }
            tables["events"] = sorted(
                repr((row.scan_id, row.store_id, row.fingerprint, row.kind, row.detail))
                for row in conn.execute(select(events_table)))
    return changes, tables


def test_small_batches_record_exactly_what_one_batch_records(locations):
    one_batch, small_batches = replay(locations[0], 1000), replay(locations[1], 3)
    assert small_batches == one_batch
    changes = small_batches[0]
    assert changes[1]["gone_stores"] == sorted([sid("s00"), sid("s01"), sid("s10"), sid("o'brien"), sid("50%_off\\x")])
    assert changes[1]["resolved_findings"] == ["fp-0", "fp-1", "fp-10"]  # not fp-2: s02 was not evaluated
    assert changes[1]["changed_reach"] == [sid("s09")]
    assert changes[2]["reappeared_stores"] == [sid("s00"), sid("s01")]
    assert not changes[2]["gone_stores"] and not changes[2]["resolved_findings"]
    assert changes[3]["gone_stores"] == [sid(f"s{n:02d}") for n in range(1, 10)]  # not x: its account was not read


def test_a_store_seen_again_in_a_later_batch_keeps_its_last_sighting(tmp_path):
    with StateStore(str(tmp_path / "custody.db")) as state:
        state.batch_size = 2
        result = scan()
        changes = state.finish_scan(result, [store("a"), store("b"), store("a", status="pass", reach_by=("CN",))])
        assert changes.new_stores == [sid("a"), sid("b")] and not changes.changed_reach
        assert state.store_history(sid("a"))["status"] == "pass"
        assert [event["kind"] for event in state.store_history(sid("a"))["events"]] == ["store_new"]


def failing_after(stores: list[DataStore], count: int) -> Iterable[DataStore]:
    yield from stores[:count]
    raise OSError("spool unreadable")


def test_a_failure_after_some_batches_were_written_records_nothing(tmp_path):
    with StateStore(str(tmp_path / "custody.db")) as state:
        state.batch_size = 2
        state.finish_scan(scan(), [store("a", findings=(finding("fp-a"),))])
        failing = scan()
        state.start_scan(failing)
        with pytest.raises(OSError, match="spool unreadable"):
            state.finish_scan(failing, failing_after([store(f"n{n}") for n in range(5)], 5))
        assert state.store_history(sid("n0")) is None  # the batches written before the failure rolled back
        assert state.store_history(sid("a"))["gone_at"] is None and open_fps(state) == {"fp-a"}
        assert state.scan(failing.id)["status"] == "running"  # interrupt_running() marks it later


class StoppingProvider(SyntheticProvider):
    """Sets the cancel flag after `stop_after` stores, as the agent does when it is told to stop mid-scan."""

    def __init__(self, stores: int, stop_after: int, cancel: threading.Event) -> None:
        super().__init__(stores)
        self.stop_after, self.cancel = stop_after, cancel

    def discover_unit(self, unit: str, log: TargetLog) -> Iterator[DiscoveredStore]:
        for number, found in enumerate(super().discover_unit(unit, log), start=1):
            if number == self.stop_after:
                self.cancel.set()  # seen by the scan right after this store
            yield found


def test_a_scan_interrupted_mid_stream_marks_nothing_gone_or_resolved(tmp_path):
    catalog = load_catalog()
    policies, waivers = load_policies([], catalog, ["EU"])
    judge = Judge(catalog, config(), policies, waivers)
    with StateStore(str(tmp_path / "custody.db")) as state:
        state.batch_size = 3
        full, full_stores = run_scan([SyntheticProvider(20)], judge, state, batch_size=3)
        assert full.status == "complete" and len(full_stores) == 20
        open_before = open_fps(state)
        assert open_before  # the built-in policy fails the copies outside the EU
        cancel = threading.Event()
        cut, cut_stores = run_scan([StoppingProvider(20, 7, cancel)], judge, state, cancel=cancel, batch_size=3)
        # the inventory reads ahead in a thread of its own (runtime.scan.cancellable), so the scan stops at the
        # cancel having judged at most the 7 stores read before it
        seen = len(cut_stores)
        assert cut.status == "interrupted" and seen <= 7 and seen == cut.counts["stores"]
        recorded = state.scan(cut.id)
        assert recorded["status"] == "interrupted"
        assert recorded["changes"]["gone_stores"] == 0 and recorded["changes"]["resolved_findings"] == 0
        assert open_fps(state) == open_before
        last_scans = Counter(state.store_history(item.id)["last_scan_id"] for item in full_stores)
        assert last_scans == Counter({full.id: 20 - seen, cut.id: seen} if seen else {full.id: 20})  # none gone
        assert all(state.store_history(item.id)["gone_at"] is None for item in full_stores)
    assert [item.id for item in cut_stores] == sorted(item.id for item in cut_stores)  # readable after close


def test_spool_interrupted_while_writing_a_run_loses_nothing(monkeypatch):
    stores, dumps, calls = shuffled_stores(5), pickle.dumps, []

    def interrupted_once(value, protocol=None):
        calls.append(value)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C half-way through a run
        return dumps(value, protocol=protocol)

    with StoreSpool(batch_size=100) as spool:
        for item in stores:
            spool.add(item)
        monkeypatch.setattr(pickle, "dumps", interrupted_once)
        with pytest.raises(KeyboardInterrupt):
            list(spool)
        assert list(spool) == sorted(stores, key=report_order)


def test_the_agent_creates_its_missing_scratch_directory(tmp_path) -> None:
    """The image sets TMPDIR=/data/tmp, which a fresh volume lacks: the spool must not fall back to a small /tmp."""
    scratch = tmp_path / "volume" / "tmp"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, str(root / "agent.py"), "--help"], capture_output=True, text=True,
                            env={**os.environ, "TMPDIR": str(scratch)}, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert scratch.is_dir()
    assert scratch.stat().st_mode & 0o777 == 0o700
