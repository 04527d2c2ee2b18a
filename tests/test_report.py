"""The report formats keep the names alerts, the dashboard and users' scripts build on."""

from __future__ import annotations

import csv
import io
import json

from scanner.model import ScanResult, TargetResult
from scanner.report import render
from tests.helpers import bucket, judge

STORE_KEYS = {"id", "provider", "account", "kind", "name", "region", "locations", "operator", "owner",
              "reachable_by", "status", "findings"}


def sample():
    store = judge(bucket(("eu-central-1", "primary"), ("ap-northeast-1", "replica")))
    scan = ScanResult(id="s1", started_at="2026-11-27T00:00:00+00:00", finished_at="2026-11-27T00:01:00+00:00",
                      status="partial", home=["EU"], coverage_gaps=["aws 111111111111/eu-west-1/dynamodb: denied"],
                      targets=[TargetResult("aws", "111111111111", "eu-west-1", "dynamodb", "denied", "AccessDenied")],
                      counts={"stores": 1, "fail": 1})
    return scan, [store]


def test_json_contract_names():
    scan, stores = sample()
    doc = json.loads(render("json", scan, stores))
    assert {"id", "started_at", "finished_at", "status", "targets", "counts", "coverage_gaps"} <= set(doc["scan"])
    store = doc["stores"][0]
    assert set(store) >= STORE_KEYS
    assert {"region", "country", "role"} <= set(store["locations"][0])
    assert {"jurisdiction", "basis", "law", "path"} <= set(store["reachable_by"][0])
    assert [loc["role"] for loc in store["locations"]] == ["primary", "replica"]
    assert doc["scan"]["targets"][0]["status"] == "denied"


def test_csv_has_one_row_per_store_with_countries_and_reach():
    scan, stores = sample()
    rows = list(csv.DictReader(io.StringIO(render("csv", scan, stores))))
    assert len(rows) == 1
    assert rows[0]["countries"] == "DE JP"
    assert "US:control" in rows[0]["reachable_by"] and rows[0]["status"] == "fail"


def test_table_shows_status_where_and_gaps():
    scan, stores = sample()
    text = render("table", scan, stores)
    assert "DE Frankfurt (primary); JP Tokyo (replica)" in text
    assert "scan s1: partial" in text and "denied" in text
