"""The state store's "fail closed, lose nothing" rules, on real SQLite files."""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import fields

import pytest
from sqlalchemy import create_mock_engine, event, func, select

import state.bulk as bulk
from scanner.errors import InputError
from scanner.model import DataStore, Finding, Location, Reach, ScanResult, TargetResult
from state.documents import document
from state.scan_writer import ScanChanges
from state.schema import EVENT_KINDS, metadata, stores_table
from state.store import StateStore

ACCOUNT = "111111111111"


def reach(jurisdiction: str, basis: str = "control") -> Reach:
    return Reach(jurisdiction, basis, "CLOUD Act", "18 U.S.C. § 2713", ["Amazon.com, Inc.", "AWS EMEA SARL"])


def finding(fp: str, jurisdiction: str = "US", waiver: dict | None = None) -> Finding:
    return Finding(fp, "eu-personal", jurisdiction, "control", "high", f"{jurisdiction} law reaches the store", waiver)


def store(
    name: str,
    *,
    status: str = "fail",
    reach_by: tuple[str, ...] = ("US",),
    locations: tuple[tuple[str, str], ...] = (("eu-west-1", "primary"),),
    findings: tuple[Finding, ...] = (),
) -> DataStore:
    return DataStore(
        id=f"arn:aws:s3:::{name}",
        provider="aws",
        account=ACCOUNT,
        kind="s3_bucket",
        name=name,
        region=locations[0][0] if locations else "unknown",
        tags={"data": "personal"},
        locations=[Location(region, role, "ListBuckets.BucketRegion", "IE", "Dublin") for region, role in locations],
        reachable_by=[reach(code) for code in reach_by],
        status=status,
        findings=list(findings),
    )


def sid(name: str) -> str:
    return f"arn:aws:s3:::{name}"


_scan_no = 0


def scan(status: str = "complete", targets: list[TargetResult] | None = None) -> ScanResult:
    global _scan_no
    _scan_no += 1
    return ScanResult(
        id=f"scan-{_scan_no:04d}",
        started_at=f"2026-03-{_scan_no % 28 + 1:02d}T{_scan_no // 28 % 24:02d}:00:00+00:00",
        finished_at=f"2026-03-{_scan_no % 28 + 1:02d}T{_scan_no // 28 % 24:02d}:05:00+00:00",
        status=status,  # type: ignore[arg-type]
        home=["EU"],
        targets=targets if targets is not None else [TargetResult("aws", ACCOUNT, "global", "s3", "ok")],
        counts={"stores": 0},
    )


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "custody.db")


@pytest.fixture(params=["sqlite", "postgresql", "postgresql-copy"])
def location(request, db, monkeypatch):
    """The `state` setting of a fresh database: a SQLite file, or a new database on the test PostgreSQL server
    (postgresql-copy: with every bulk write, however small, through COPY instead of executemany)."""
    if request.param == "sqlite":
        return db
    if request.param == "postgresql-copy":
        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def state(location):
    with StateStore(location) as opened:
        yield opened


def run(state: StateStore, status: str, stores: list[DataStore], targets=None) -> tuple[ScanResult, ScanChanges]:
    result = scan(status, targets)
    state.start_scan(result)
    return result, state.finish_scan(result, stores)


def open_fps(state: StateStore) -> set[str]:
    return {row["fingerprint"] for row in state.open_findings()}


# ---- first scan -------------------------------------------------------------------


def test_first_scan_inserts_stores_findings_and_the_scan(state):
    a = store("a", findings=(finding("fp-a"),))
    b = store("b", status="pass", reach_by=())
    first, changes = run(state, "complete", [a, b])

    assert changes.new_stores == [sid("a"), sid("b")]
    assert changes.new_findings == ["fp-a"]
    assert not changes.gone_stores and not changes.resolved_findings
    assert not changes.changed_reach and not changes.changed_locations  # new is not "changed"

    history = state.store_history(sid("a"))
    assert history["first_seen"] == history["last_seen"] == first.started_at
    assert history["first_scan_id"] == history["last_scan_id"] == first.id
    assert history["gone_at"] is None
    assert (history["provider"], history["account"], history["kind"], history["name"]) == (
        "aws",
        ACCOUNT,
        "s3_bucket",
        "a",
    )
    assert history["region"] == "eu-west-1" and history["status"] == "fail"
    assert history["document"] == a.to_dict()  # the full JSON document round-trips
    assert [f["fingerprint"] for f in history["findings"]] == ["fp-a"]
    assert history["findings"][0]["resolved_at"] is None
    assert history["findings"][0]["waived"] is False

    [row] = state.scans()
    assert row["id"] == first.id and row["status"] == "complete"
    assert row["started_at"] == first.started_at and row["finished_at"] == first.finished_at
    assert row["home"] == ["EU"] and row["counts"] == {"stores": 0}
    assert row["changes"]["new_stores"] == 2 and row["changes"]["new_findings"] == 1

    [open_row] = state.open_findings()
    assert open_row["store_id"] == sid("a") and open_row["store_name"] == "a" and open_row["account"] == ACCOUNT
    assert state.store_history("arn:aws:s3:::never-seen") is None


def test_start_scan_records_a_running_scan(state):
    running = scan("complete")  # start_scan records "running" whatever the object says
    state.start_scan(running)
    [row] = state.scans()
    assert row["id"] == running.id and row["status"] == "running" and row["finished_at"] is None


def test_finish_scan_refuses_a_running_status(state):
    with pytest.raises(ValueError, match="running"):
        state.finish_scan(scan("running"), [store("a")])


def test_finish_scan_without_start_scan_still_records_the_scan(state):
    result = scan("partial")
    state.finish_scan(result, [store("a")])
    assert state.scan(result.id)["status"] == "partial"


# ---- complete scans mark gone and resolve ------------------------------------------------


def test_complete_scan_marks_unseen_stores_gone_and_resolves_unseen_findings(state):
    run(state, "complete", [store("a", findings=(finding("fp-a1"), finding("fp-a2", "CN"))), store("b")])
    # a is still there but fixed one finding; b was deleted
    second, changes = run(state, "complete", [store("a", findings=(finding("fp-a1"),))])

    assert changes.gone_stores == [sid("b")]
    assert changes.resolved_findings == ["fp-a2"]
    assert not changes.new_stores and not changes.new_findings
    assert state.store_history(sid("b"))["gone_at"] == second.started_at
    assert state.store_history(sid("b"))["gone_scan_id"] == second.id
    assert state.store_history(sid("a"))["gone_at"] is None
    resolved = {f["fingerprint"]: f for f in state.store_history(sid("a"))["findings"]}
    assert resolved["fp-a2"]["resolved_at"] == second.started_at
    assert resolved["fp-a1"]["resolved_at"] is None
    assert open_fps(state) == {"fp-a1"}


def test_findings_of_a_gone_store_are_resolved_by_a_complete_scan(state):
    run(state, "complete", [store("a", findings=(finding("fp-a"),))])
    _, changes = run(state, "complete", [])
    assert changes.gone_stores == [sid("a")] and changes.resolved_findings == ["fp-a"]
    assert open_fps(state) == set()


def test_gone_is_reported_once(state):
    run(state, "complete", [store("a"), store("b")])
    run(state, "complete", [store("a")])
    third, changes = run(state, "complete", [store("a")])
    assert changes.gone_stores == []
    assert state.store_history(sid("b"))["gone_scan_id"] != third.id


@pytest.mark.parametrize("status", ["partial", "failed", "interrupted"])
def test_incomplete_scan_never_marks_gone_or_resolves(state, status):
    first, _ = run(
        state, "complete", [store("a", findings=(finding("fp-a"),)), store("b", findings=(finding("fp-b"),))]
    )
    # saw only a, and a without its finding: proves nothing about b or fp-a
    second, changes = run(state, status, [store("a", status="pass", reach_by=())])

    assert changes.gone_stores == [] and changes.resolved_findings == []
    assert open_fps(state) == {"fp-a", "fp-b"}
    b = state.store_history(sid("b"))
    assert b["gone_at"] is None and b["last_seen"] == first.started_at and b["last_scan_id"] == first.id
    a = state.store_history(sid("a"))
    assert a["last_seen"] == second.started_at and a["status"] == "pass"  # what it saw is still upserted
    assert state.scan(second.id)["status"] == status

    # and the next complete scan still can
    _, changes = run(state, "complete", [store("a", status="pass", reach_by=())])
    assert changes.gone_stores == [sid("b")] and changes.resolved_findings == ["fp-a", "fp-b"]


@pytest.mark.parametrize("status", ["partial", "failed", "interrupted"])
def test_incomplete_scan_inserts_what_it_saw(state, status):
    _, changes = run(state, status, [store("new", findings=(finding("fp-new"),))])
    assert changes.new_stores == [sid("new")] and changes.new_findings == ["fp-new"]
    assert open_fps(state) == {"fp-new"}


# ---- reappear and reopen -------------------------------------------------------------------


def test_gone_store_that_reappears_is_reported_and_keeps_its_history(state):
    first, _ = run(state, "complete", [store("a"), store("b")])
    gone_scan, _ = run(state, "complete", [store("a")])
    back, changes = run(state, "complete", [store("a"), store("b")])

    assert changes.reappeared_stores == [sid("b")]
    assert changes.new_stores == [] and changes.gone_stores == []
    history = state.store_history(sid("b"))
    assert history["gone_at"] is None and history["gone_scan_id"] is None
    assert history["first_seen"] == first.started_at and history["last_seen"] == back.started_at
    kinds = [(e["kind"], e["scan_id"]) for e in history["events"]]
    assert kinds == [("store_new", first.id), ("store_gone", gone_scan.id), ("store_reappeared", back.id)]
    assert history["events"][2]["detail"] == {"gone_at": gone_scan.started_at}


def test_a_partial_scan_that_sees_a_gone_store_reports_it_reappeared(state):
    run(state, "complete", [store("a")])
    run(state, "complete", [])
    _, changes = run(state, "partial", [store("a")])
    assert changes.reappeared_stores == [sid("a")]
    assert state.store_history(sid("a"))["gone_at"] is None


def test_resolved_finding_seen_again_is_reopened(state):
    first, _ = run(state, "complete", [store("a", findings=(finding("fp-a"),))])
    fixed, changes = run(state, "complete", [store("a", status="pass", reach_by=())])
    assert changes.resolved_findings == ["fp-a"]
    again, changes = run(state, "complete", [store("a", findings=(finding("fp-a"),))])

    assert changes.reopened_findings == ["fp-a"]
    assert changes.new_findings == [] and changes.resolved_findings == []
    [f] = state.store_history(sid("a"))["findings"]
    assert f["resolved_at"] is None and f["resolved_scan_id"] is None
    assert f["first_seen"] == first.started_at and f["last_seen"] == again.started_at
    assert open_fps(state) == {"fp-a"}
    events = [e for e in state.store_history(sid("a"))["events"] if e["fingerprint"] == "fp-a"]
    assert [e["kind"] for e in events] == ["finding_new", "finding_resolved", "finding_reopened"]
    assert events[2]["detail"] == {"resolved_at": fixed.started_at}


def test_waived_findings_stay_open_and_flagged(state):
    waiver = {"reason": "legal accepted", "expires": "2027-01-01"}
    run(state, "complete", [store("a", findings=(finding("fp-a", waiver=waiver),))])
    [row] = state.open_findings()
    assert row["waived"] is True and row["waiver"] == waiver


# ---- not evaluated: not knowing is not fixing ------------------------------------------------


def test_not_evaluated_store_keeps_its_findings_open_in_a_complete_scan(state):
    run(state, "complete", [store("a", findings=(finding("fp-a"),)), store("b", findings=(finding("fp-b"),))])
    unknown_a = store("a", status="not_evaluated", reach_by=(), locations=())
    second, changes = run(state, "complete", [unknown_a, store("b", status="pass", reach_by=())])

    assert changes.resolved_findings == ["fp-b"]  # b was evaluated and passes: fixed
    assert open_fps(state) == {"fp-a"}  # a could not be evaluated: still open
    a = state.store_history(sid("a"))
    assert a["status"] == "not_evaluated" and a["last_seen"] == second.started_at
    assert a["findings"][0]["resolved_at"] is None
    # a's unknown reach/locations are not reported as a change (b's real drop in reach is)
    assert changes.changed_reach == [sid("b")] and changes.changed_locations == []
    # ... nor are they the new baseline: evaluated again as before, nothing changed
    _, changes = run(
        state, "complete", [store("a", findings=(finding("fp-a"),)), store("b", status="pass", reach_by=())]
    )
    assert not changes


def test_not_evaluated_store_with_new_findings_records_them(state):
    run(state, "complete", [store("a", findings=(finding("fp-1"),))])
    _, changes = run(state, "complete", [store("a", status="not_evaluated", findings=(finding("fp-2", "CN"),))])
    assert changes.new_findings == ["fp-2"] and changes.resolved_findings == []
    assert open_fps(state) == {"fp-1", "fp-2"}


def test_not_evaluated_store_that_is_not_seen_is_gone_and_resolved(state):
    run(state, "complete", [store("a", status="not_evaluated", findings=(finding("fp-a"),))])
    _, changes = run(state, "complete", [])
    assert changes.gone_stores == [sid("a")] and changes.resolved_findings == ["fp-a"]


# ---- changed reach and locations -----------------------------------------------------------


def test_changed_reach_is_detected_with_before_and_after(state):
    run(state, "complete", [store("a", reach_by=("US", "IE")), store("b", reach_by=("US",)), store("c")])
    _, changes = run(
        state,
        "complete",
        [store("a", reach_by=("IE", "US")), store("b", reach_by=("US", "CN")), store("c", reach_by=())],
    )
    assert changes.changed_reach == [sid("b"), sid("c")]  # a: same set, other order
    assert changes.changed_locations == []
    assert changes.details[sid("b")]["reach"] == {"before": ["US"], "after": ["CN", "US"]}
    assert changes.details[sid("c")]["reach"] == {"before": ["US"], "after": []}
    assert sid("a") not in changes.details
    events = [e["kind"] for e in state.store_history(sid("b"))["events"]]
    assert events == ["store_new", "reach_changed"]


def test_reach_through_a_second_basis_is_not_a_change(state):
    run(state, "complete", [store("a", reach_by=("US",))])
    a = store("a", reach_by=("US",))
    a.reachable_by.append(reach("US", "establishment"))
    _, changes = run(state, "complete", [a])
    assert changes.changed_reach == []


def test_changed_locations_are_detected_by_region_and_role(state):
    one = (("eu-west-1", "primary"),)
    two = (("eu-west-1", "primary"), ("us-east-1", "replica"))
    run(state, "complete", [store("a", locations=one), store("b", locations=two), store("c", locations=two)])
    _, changes = run(
        state,
        "complete",
        [
            store("a", locations=two),  # replica added
            store("b", locations=(("eu-west-1", "primary"), ("us-east-1", "backup"))),  # same region, other role
            store("c", locations=tuple(reversed(two))),  # same set
        ],
    )
    assert changes.changed_locations == [sid("a"), sid("b")]
    assert changes.changed_reach == []
    assert changes.details[sid("a")]["locations"] == {
        "before": [["eu-west-1", "primary"]],
        "after": [["eu-west-1", "primary"], ["us-east-1", "replica"]],
    }


def test_reach_change_is_compared_with_the_document_before_the_store_went(state):
    run(state, "complete", [store("a", reach_by=("US",))])
    run(state, "complete", [])
    _, changes = run(state, "complete", [store("a", reach_by=("US", "CN"))])
    assert changes.reappeared_stores == [sid("a")] and changes.changed_reach == [sid("a")]


# ---- continuity ------------------------------------------------------------------------------


def test_first_seen_is_preserved_and_last_seen_advances(state):
    first, _ = run(state, "complete", [store("a", findings=(finding("fp-a"),))])
    run(state, "partial", [store("a", findings=(finding("fp-a"),))])
    last, changes = run(state, "complete", [store("a", findings=(finding("fp-a"),))])
    assert not changes
    a = state.store_history(sid("a"))
    assert (a["first_seen"], a["first_scan_id"]) == (first.started_at, first.id)
    assert (a["last_seen"], a["last_scan_id"]) == (last.started_at, last.id)
    [f] = a["findings"]
    assert (f["first_seen"], f["last_seen"]) == (first.started_at, last.started_at)


def test_latest_document_replaces_the_previous_one(state):
    run(state, "complete", [store("a")])
    renamed = store("a")
    renamed.tags = {"data": "health"}
    run(state, "complete", [renamed])
    assert state.store_history(sid("a"))["document"]["tags"] == {"data": "health"}


def test_same_store_twice_in_one_scan_keeps_the_last(state):
    _, changes = run(state, "complete", [store("a", status="fail"), store("a", status="pass", reach_by=())])
    assert changes.new_stores == [sid("a")]
    assert state.store_history(sid("a"))["status"] == "pass"


def test_per_target_results_are_stored_and_replaced_not_duplicated(state):
    targets = [
        TargetResult("aws", ACCOUNT, "eu-west-1", "s3", "ok", stores=2),
        TargetResult("aws", ACCOUNT, "us-east-1", "dynamodb", "denied", "AccessDenied: dynamodb:ListTables"),
    ]
    result = scan("partial", [targets[0]])
    state.start_scan(result)
    assert [t["service"] for t in state.scan(result.id)["targets"]] == ["s3"]
    result.targets = targets
    state.finish_scan(result, [store("a"), store("b")])
    stored = state.scans()[0]["targets"]
    assert stored == [
        {"provider": "aws", "account": ACCOUNT, "region": "eu-west-1", "service": "s3", "status": "ok", "error": None,
         "stores": 2},
        {"provider": "aws", "account": ACCOUNT, "region": "us-east-1", "service": "dynamodb", "status": "denied",
         "error": "AccessDenied: dynamodb:ListTables", "stores": 0},
    ]  # fmt: skip
    assert state.scan("nope") is None


def test_scans_are_newest_first_and_limited(state):
    ids = [run(state, "complete", [])[0].id for _ in range(3)]
    assert [row["id"] for row in state.scans()] == list(reversed(ids))
    assert [row["id"] for row in state.scans(limit=2)] == list(reversed(ids))[:2]


def test_scans_started_in_the_same_second_keep_their_order(state):
    first, second = scan(), scan()
    second.started_at = first.started_at
    first.id, second.id = "zzz", "aaa"  # ids sort the other way
    for item in (first, second):
        state.start_scan(item)
        state.finish_scan(item, [])
    assert [row["id"] for row in state.scans()] == ["aaa", "zzz"]


def test_interrupt_running_marks_orphaned_scans(state):
    crashed = scan()
    state.start_scan(crashed)
    done, _ = run(state, "complete", [])
    assert state.interrupt_running("2026-04-01T00:00:00+00:00") == [crashed.id]
    assert state.scan(crashed.id)["status"] == "interrupted"
    assert state.scan(crashed.id)["finished_at"] == "2026-04-01T00:00:00+00:00"
    assert state.scan(done.id)["status"] == "complete"
    assert state.interrupt_running() == []


def test_state_persists_across_store_instances(location):
    with StateStore(location) as first_store:
        first, _ = run(first_store, "complete", [store("a", findings=(finding("fp-a"),)), store("b")])
    with StateStore(location) as reopened:
        assert [row["id"] for row in reopened.scans()] == [first.id]
        assert open_fps(reopened) == {"fp-a"}
        assert reopened.store_history(sid("a"))["first_seen"] == first.started_at
        reopened.finish_scan(scan("complete"), [store("a")])
    with StateStore(location if "://" in location else f"sqlite:///{location}") as by_url:  # the same file by URL
        assert by_url.store_history(sid("b"))["gone_at"] is not None
        assert open_fps(by_url) == set()
        assert len(by_url.scans()) == 2


# ---- one transaction, bulk writes ---------------------------------------------------------------


def test_a_failure_mid_write_loses_nothing_already_recorded(state, monkeypatch):
    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1000)  # a COPY is not seen by before_cursor_execute
    before, _ = run(state, "complete", [store("a", findings=(finding("fp-a"),))])

    def explode(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO FINDINGS"):
            raise RuntimeError("disk on fire")

    event.listen(state._engine, "before_cursor_execute", explode)
    failing = scan("complete")
    state.start_scan(failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        state.finish_scan(failing, [store("b", findings=(finding("fp-b"),))])  # would mark a gone, resolve fp-a
    event.remove(state._engine, "before_cursor_execute", explode)

    assert state.store_history(sid("b")) is None
    a = state.store_history(sid("a"))
    assert a["gone_at"] is None and a["last_scan_id"] == before.id
    assert open_fps(state) == {"fp-a"}
    assert state.scan(failing.id)["status"] == "running"  # the scan row rolled back with the rest
    assert [t["status"] for t in state.scan(failing.id)["targets"]] == ["ok"]  # as start_scan recorded them


def test_writes_are_bulk_not_one_round_trip_per_store(state):
    statements = []
    event.listen(state._engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    many = [store(f"b{i}", findings=(finding(f"fp-{i}"),)) for i in range(2000)]
    _, changes = run(state, "complete", many)
    assert len(changes.new_stores) == 2000 and len(changes.new_findings) == 2000
    first_count = len(statements)
    statements.clear()
    changed = [store(f"b{i}", reach_by=("US", "CN"), findings=(finding(f"fp-{i}"),)) for i in range(1500)]
    _, changes = run(state, "complete", changed)
    assert len(changes.gone_stores) == 500 and len(changes.resolved_findings) == 500
    assert len(changes.changed_reach) == 1500
    # a few statements per 500 ids, never one per store
    assert first_count < 60 and len(statements) < 60
    with state._engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(stores_table)) == 2000


# ---- opening: one-line InputErrors naming the setting ---------------------------------------------


@pytest.mark.parametrize(
    "location, pattern",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("nosuchdb://host/db", "unknown database kind 'nosuchdb'"),
        # no driver installed, or nothing listening on port 1: either way one line, password hidden
        ("postgresql+psycopg://u:hunter2@127.0.0.1:1/custody", "driver .* is not installed|cannot open database"),
    ],
)
def test_bad_locations_are_one_line_input_errors(location, pattern):
    with pytest.raises(InputError) as caught:
        StateStore(location)
    message = str(caught.value)
    assert re.match(f"state: .*({pattern})", message), message
    assert "\n" not in message and "hunter2" not in message


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(InputError, match=r"^state: directory .*nowhere.* does not exist"):
        StateStore(str(tmp_path / "nowhere" / "custody.db"))


def test_a_directory_is_not_a_database(tmp_path):
    with pytest.raises(InputError, match=r"^state: .* is a directory"):
        StateStore(str(tmp_path))


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("this is not a database\n" * 100)
    with pytest.raises(InputError) as caught:
        StateStore(str(path))
    assert str(caught.value).startswith("state: cannot open database") and "\n" not in str(caught.value)


def test_an_unparseable_url_hides_its_password():
    with pytest.raises(InputError) as caught:
        StateStore("postgresql://admin:s3cret@host:notaport/db")
    assert str(caught.value).startswith("state: ") and "s3cret" not in str(caught.value)


def test_a_database_that_becomes_unreachable_later_is_an_input_error(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    state = StateStore(str(folder / "custody.db"))
    run(state, "complete", [store("a")])
    state.close()  # drop pooled connections, then take the file away
    shutil.rmtree(folder)
    with pytest.raises(InputError, match=r"^state: cannot use database sqlite:///.*custody\.db: ") as caught:
        state.scans()
    assert "\n" not in str(caught.value)
    with pytest.raises(InputError, match=r"^state: "):
        state.finish_scan(scan("complete"), [store("a")])


def test_reopening_recreates_a_missing_table(db):
    StateStore(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TABLE events")
    with StateStore(db) as reopened:
        run(reopened, "complete", [store("a")])
        assert reopened.store_history(sid("a"))["events"][0]["kind"] == "store_new"


# ---- schema -----------------------------------------------------------------------------------


def test_schema_compiles_for_postgresql_without_sqlite_only_types():
    ddl = []
    engine = create_mock_engine(
        "postgresql+psycopg://", lambda sql, *a, **k: ddl.append(str(sql.compile(dialect=engine.dialect)))
    )
    metadata.create_all(engine, checkfirst=False)
    text = "\n".join(ddl)
    assert {"CREATE TABLE scans", "CREATE TABLE scan_targets", "CREATE TABLE stores", "CREATE TABLE findings",
            "CREATE TABLE events"} <= {line.split(" (")[0].strip() for line in text.splitlines()}  # fmt: skip
    assert "JSON" in text and "BOOLEAN" in text


def test_every_event_kind_is_a_scan_changes_list():
    names = {f.name for f in fields(ScanChanges)}
    assert set(EVENT_KINDS) <= names
    assert set(ScanChanges("x", "complete").counts()) == set(EVENT_KINDS)


def test_complete_scan_marks_gone_only_in_accounts_it_read(state):
    other = store("elsewhere")
    other.account = "222222222222"
    run(state, "complete", [other], targets=[TargetResult("aws", "222222222222", "global", "s3", "ok")])
    _, changes = run(state, "complete", [])  # reads only ACCOUNT: the other account is not proof of deletion
    assert changes.gone_stores == []
    assert state.store_history(other.id)["gone_at"] is None


# ---- migrations ---------------------------------------------------------------------------------


def _engine_for(location: str):
    from sqlalchemy import create_engine

    from state.engine import database_url

    return create_engine(database_url(location))


def _table_names(location: str) -> set[str]:
    from sqlalchemy import inspect

    engine = _engine_for(location)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_new_database_is_migrated_to_head(location):
    from state.migrate import schema_head

    with StateStore(location) as opened:
        assert opened.revision == schema_head()
    assert {table.name for table in metadata.sorted_tables} | {"alembic_version"} <= _table_names(location)


def test_migrations_create_exactly_the_schema_of_the_code(location):
    """Every table, column, index and constraint on `metadata` comes from a migration: none is missing or extra."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from state.migrations import ours

    StateStore(location).close()
    engine = _engine_for(location)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_name": ours}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_a_database_at_the_baseline_is_upgraded_in_place(location):
    """Created at the first revision, written, then opened by the current code: upgraded, nothing lost."""
    from alembic.script import ScriptDirectory

    from state.migrate import alembic_config, schema_head, schema_revision, upgrade_schema

    script = ScriptDirectory.from_config(alembic_config())
    baseline = [rev.revision for rev in script.walk_revisions()][-1]
    engine = _engine_for(location)
    try:
        with engine.begin() as conn:
            assert upgrade_schema(conn, baseline) == baseline
            conn.execute(stores_table.insert().values(
                id=sid("old"), provider="aws", account=ACCOUNT, kind="s3_bucket", name="old", region="eu-west-1",
                status="fail", document=store("old").to_dict(), jurisdictions=["US"],
                locations=[["eu-west-1", "primary"]], first_seen="2025-01-01T00:00:00+00:00", first_scan_id="s0",
                last_seen="2025-01-01T00:00:00+00:00", last_scan_id="s0",
            ))  # fmt: skip
    finally:
        engine.dispose()
    with StateStore(location) as upgraded:
        assert upgraded.revision == schema_head()
        assert upgraded.store_history(sid("old"))["first_seen"] == "2025-01-01T00:00:00+00:00"
        _, changes = run(upgraded, "complete", [store("old", reach_by=("US", "CN"))])
        assert changes.changed_reach == [sid("old")] and not changes.new_stores
    engine = _engine_for(location)
    try:
        with engine.connect() as conn:
            assert schema_revision(conn) == schema_head()
    finally:
        engine.dispose()


def test_a_database_written_by_create_all_is_adopted(location):
    """A database of the create_all era (no alembic_version, no derived tables yet) keeps its data and is stamped."""
    from state.migrate import schema_head, schema_revision
    from state.schema import store_facets_table, store_index_table

    engine = _engine_for(location)
    old_tables = [t for t in metadata.sorted_tables if t not in (store_facets_table, store_index_table)]
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=old_tables)
            conn.execute(stores_table.insert().values(
                id=sid("legacy"), provider="aws", account=ACCOUNT, kind="s3_bucket", name="legacy",
                region="eu-west-1", status="fail", document=store("legacy").to_dict(), jurisdictions=["US"],
                locations=[["eu-west-1", "primary"]], first_seen="2024-06-01T00:00:00+00:00", first_scan_id="s0",
                last_seen="2024-06-01T00:00:00+00:00", last_scan_id="s0",
            ))  # fmt: skip
            assert schema_revision(conn) is None
    finally:
        engine.dispose()
    with StateStore(location) as adopted:
        assert adopted.revision == schema_head()
        with adopted.reading() as conn:  # the derived tables the baseline added are filled from the documents
            facets = set(conn.execute(select(store_facets_table.c.facet, store_facets_table.c.value)))
        assert ("jurisdiction", "US") in facets and any(facet == "reach" for facet, _ in facets)
        assert adopted.store_history(sid("legacy"))["first_seen"] == "2024-06-01T00:00:00+00:00"
        _, changes = run(adopted, "complete", [])
        assert changes.gone_stores == [sid("legacy")]
    with StateStore(location) as again:  # stamped: opening again migrates nothing
        assert again.revision == schema_head()


def test_replicas_opening_a_new_database_together_migrate_it_once(location):
    from concurrent.futures import ThreadPoolExecutor

    from state.migrate import schema_head

    def open_one(_):
        with StateStore(location) as opened:
            return opened.revision

    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(open_one, range(4))) == {schema_head()}


def test_the_stored_document_is_exactly_to_dict():
    """finish_scan builds documents without dataclasses.asdict (for speed): they must stay equal to to_dict()."""
    from dashboard.synthetic import make_stores

    waived = store("w", findings=(finding("fp-w", waiver={"reason": "accepted", "until": ["2027", 1]}),))
    waived.reachable_by[0].grounds = [{"basis": "control", "law": "us-cloud-act", "path": ["a", "b"]}]
    for item in [*make_stores(300), waived, store("empty", reach_by=(), locations=())]:
        built = document(item)
        assert built == item.to_dict()
        assert repr(built) == repr(item.to_dict())  # same types (list, not tuple) and key order


def test_facets_follow_each_rescan(state):
    from state.schema import store_facets_table

    def facets(name):
        with state.reading() as conn:
            query = select(store_facets_table.c.facet, store_facets_table.c.value).where(
                store_facets_table.c.store_id == sid(name)
            )
            return set(conn.execute(query).all())

    many = [store(f"s{i}", findings=(finding(f"fp-{i}"),)) for i in range(1200)]  # above COPY_MIN_ROWS
    run(state, "complete", many)
    assert ("tag", "data=personal") in facets("s1") and ("jurisdiction", "US") in facets("s1")
    before = facets("s2")
    many[1] = store("s1", reach_by=("CN",))
    many[1].tags = {"data": "health"}
    run(state, "complete", many)
    assert ("tag", "data=health") in facets("s1") and ("tag", "data=personal") not in facets("s1")
    assert ("jurisdiction", "CN") in facets("s1") and ("jurisdiction", "US") not in facets("s1")
    assert ("policy", "eu-personal") not in facets("s1")  # its finding is gone
    assert facets("s2") == before
    incremental = {name: facets(name) for name in ("s0", "s1", "s2")}
    assert state.rebuild_facets(only_if_missing=False) > 1200  # recomputed from the documents: the same facets
    assert {name: facets(name) for name in ("s0", "s1", "s2")} == incremental


def test_postgresql_lost_during_a_copy_is_a_one_line_input_error(postgres_url, monkeypatch):
    import psycopg

    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 1)
    state = StateStore(postgres_url)
    run(state, "complete", [store("a", findings=(finding("fp-a"),))])

    def kill_own_backend(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("SELECT stores.id, stores.gone_at"):  # just before the stores are COPYed
            pid = conn.connection.driver_connection.info.backend_pid
            with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])

    event.listen(state._engine, "after_cursor_execute", kill_own_backend)
    with pytest.raises(InputError, match=r"^state: cannot use database postgresql\+psycopg://") as caught:
        state.finish_scan(scan("complete"), [store("a"), store("b")])
    assert "\n" not in str(caught.value)
    event.remove(state._engine, "after_cursor_execute", kill_own_backend)
    assert open_fps(state) == {"fp-a"} and state.store_history(sid("b")) is None  # rolled back; reconnects
    state.close()
