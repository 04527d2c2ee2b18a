"""The AWS provider end to end against moto running as a real HTTP server on 127.0.0.1.

Stock moto exercises the GetBucketLocation fallback; moto with the documented patches
(demo/moto_patches.py) answers ListBuckets with BucketRegion and real pagination, as S3 does.
Faults (AccessDenied, a vanishing endpoint) come from tests/fault_proxy.py, between the scanner
and moto, so nothing in the scanner is patched.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from scanner.cli import prepare, scan_once
from tests.fault_proxy import DENIED_JSON, FaultProxy

ROOT = Path(__file__).parent.parent
COMPANIES = [
    {"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
    {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"},
    {"id": "acme-japan", "name": "Acme Japan K.K.", "country": "JP", "parent": "acme-inc"},
]


def write_config(tmp_path: Path, aws: dict, accounts: dict[str, str], home: str = "EU") -> str:
    config = {
        "home": home,
        "companies": COMPANIES,
        "accounts": {account: {"owner": owner} for account, owner in accounts.items()},
        "providers": {"aws": {"max_attempts": 1, **aws}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def by_name(stores) -> dict:
    return {store.name: store for store in stores}


def places(store) -> set[tuple[str, str, str]]:
    return {(loc.region, loc.role, loc.country) for loc in store.locations}


def seed(regions_by_bucket: dict[str, str | None]) -> None:
    """Create buckets; a region of None creates in us-east-1 without a constraint, "EU" the legacy way."""
    for name, region in regions_by_bucket.items():
        client = boto3.client("s3", region_name="us-east-1" if region in (None, "EU") else region)
        kwargs = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region else {}
        client.create_bucket(Bucket=name, **kwargs)


# -- where a bucket lives ---------------------------------------------------------------------------

LOCATION_TRAPS = {"b-virginia": None, "b-legacy-eu": "EU", "b-frankfurt": "eu-central-1", "b-tokyo": "ap-northeast-1",
                  "b-sydney": "ap-southeast-2"}
EXPECTED = {"b-virginia": ("us-east-1", "US"), "b-legacy-eu": ("eu-west-1", "IE"),
            "b-frankfurt": ("eu-central-1", "DE"), "b-tokyo": ("ap-northeast-1", "JP"),
            "b-sydney": ("ap-southeast-2", "AU")}


def test_stock_moto_falls_back_to_get_bucket_location_and_sees_past_a_truncated_page(tmp_path, moto_stock, aws_env):
    aws_env(moto_stock)
    seed(LOCATION_TRAPS)
    # page size 2: stock moto returns 2 buckets and no ContinuationToken, which must not hide the other 3
    config = write_config(tmp_path, {"regions": ["us-east-1"], "services": ["s3"], "list_buckets_page_size": 2},
                          {"123456789012": "acme-europe"})
    scan, stores = scan_once(prepare(config, []), state=None)
    found = by_name(stores)
    assert set(found) == set(EXPECTED)
    for name, (region, country) in EXPECTED.items():
        assert places(found[name]) == {(region, "primary", country)}, name
        assert found[name].locations[0].learned_from == "GetBucketLocation"
    assert scan.status == "complete"
    locations_asked = [path for method, path, _ in moto_stock.request_log() if "location" in path]
    assert len(locations_asked) == len(EXPECTED)


def test_bucket_region_from_list_buckets_pages_without_location_calls(tmp_path, moto_patched, aws_env):
    aws_env(moto_patched)
    regions = ["us-east-1", "eu-central-1", "ap-northeast-1", "sa-east-1", "af-south-1"]
    seed({f"p-{i:02d}-{regions[i % 5]}": (None if regions[i % 5] == "us-east-1" else regions[i % 5])
          for i in range(25)})
    config = write_config(tmp_path, {"regions": ["us-east-1"], "services": ["s3"], "list_buckets_page_size": 10},
                          {"123456789012": "acme-europe"})
    _, stores = scan_once(prepare(config, []), state=None)
    assert len(stores) == 25
    for store in stores:
        assert store.region == store.name.split("-", 2)[2]
        assert store.locations[0].learned_from == "ListBuckets.BucketRegion"
    log = moto_patched.request_log()
    assert sum(1 for method, path, _ in log if method == "GET" and re.match(r"^/\?.*max-buckets", path)) == 3
    assert not [path for _, path, _ in log if "location" in path]


# -- the seeded estate, end to end through the CLI ----------------------------------------------------

@pytest.fixture(scope="module")
def estate_report(moto_estate, tmp_path_factory):
    """`agent.py scan --format json` on the demo estate, as a user runs it."""
    estate = moto_estate.estate
    members = estate.member_account_ids
    tmp = tmp_path_factory.mktemp("estate")
    config = write_config(tmp, {"organization": True}, {
        estate.management_account_id: "acme-inc", members["acme-prod-eu"]: "acme-europe",
        members["acme-analytics-jp"]: "acme-japan"})
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": moto_estate.server.url, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    output = tmp / "report.json"
    result = subprocess.run([sys.executable, str(ROOT / "agent.py"), "scan", "--config", config, "--format", "json",
                             "--output", str(output), "--state", str(tmp / "state.db")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(output.read_text()), estate


def test_estate_every_seeded_store_is_found_once_in_its_region(estate_report):
    report, estate = estate_report
    ids = [store["id"] for store in report["stores"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {seeded.id for seeded in estate.manifest}
    stores = {store["id"]: store for store in report["stores"]}
    for seeded in estate.manifest:
        store = stores[seeded.id]
        assert store["account"] == seeded.account and store["kind"] == seeded.kind
        regions = {loc["region"] for loc in store["locations"]}
        assert seeded.region in regions
        assert set(seeded.replica_regions) <= regions, seeded.name
        assert all(loc["country"] != "unknown" for loc in store["locations"])
        assert store["tags"] == seeded.tags or seeded.kind != "s3-bucket"


def test_estate_replicas_abroad_carry_their_roles_and_countries(estate_report):
    report, _ = estate_report
    stores = {(s["kind"], s["name"], s["region"]): s for s in report["stores"]}

    def roles(kind: str, name: str, region: str) -> set[tuple[str, str, str]]:
        return {(loc["region"], loc["role"], loc["country"]) for loc in stores[(kind, name, region)]["locations"]}

    assert roles("s3-bucket", "acme-prod-eu-customers-fra", "eu-central-1") == {
        ("eu-central-1", "primary", "DE"), ("us-east-1", "replica", "US")}
    assert roles("s3-bucket", "acme-mgmt-legacy-archive-eu", "eu-west-1") == {("eu-west-1", "primary", "IE")}
    assert roles("s3-bucket", "acme-mgmt-audit-logs-use1", "us-east-1") == {("us-east-1", "primary", "US")}
    assert roles("dynamodb-table", "acme-prod-eu-sessions", "eu-west-1") == {
        ("eu-west-1", "primary", "IE"), ("us-east-1", "replica", "US")}
    assert roles("rds-instance", "acme-prod-eu-orders", "eu-central-1") == {
        ("eu-central-1", "primary", "DE"), ("us-east-1", "replica", "US")}
    assert roles("rds-instance", "acme-prod-eu-orders-replica-use1", "us-east-1") == {
        ("eu-central-1", "primary", "DE"), ("us-east-1", "replica", "US")}
    snapshots = [s for s in report["stores"] if s["kind"] == "ebs-snapshot"]
    assert len(snapshots) == 2
    for snapshot in snapshots:
        assert {(loc["region"], loc["role"]) for loc in snapshot["locations"]} == {
            ("eu-central-1", "primary"), ("us-west-2", "replica")}


def test_estate_control_chains_reach_and_verdicts(estate_report):
    report, estate = estate_report
    stores = {s["name"]: s for s in report["stores"] if s["kind"] == "s3-bucket"}
    fra = stores["acme-prod-eu-customers-fra"]
    assert [e["name"] for e in fra["operator"]] == ["Amazon Web Services EMEA SARL", "Amazon.com, Inc."]
    assert [e["name"] for e in fra["owner"]] == ["Acme Europe GmbH", "Acme Inc."]
    reach = {r["jurisdiction"]: r for r in fra["reachable_by"]}
    assert reach["US"]["basis"] == "control" and reach["US"]["law"] == "us-cloud-act"
    assert reach["US"]["path"] == ["s3-bucket acme-prod-eu-customers-fra", "Amazon Web Services EMEA SARL (LU)",
                                   "Amazon.com, Inc. (US)", "18 U.S.C. § 2713"]
    assert {g["basis"] for g in reach["US"]["grounds"]} >= {"control", "location"}  # the replica in Virginia
    assert reach["DE"]["basis"] == "location"
    assert fra["status"] == "fail" and {f["jurisdiction"] for f in fra["findings"]} >= {"US", "GB"}
    audit = stores["acme-mgmt-audit-logs-use1"]
    assert audit["operator"][0]["name"] == "Amazon Web Services, Inc."  # US account: US contracting party
    sandbox = [s for s in report["stores"] if s["account"] == estate.member_account_ids["sandbox"]]
    assert sandbox and all(s["owner"] == [] for s in sandbox)
    assert all(any("owner of account" in u for u in s["unknowns"]) for s in sandbox)
    scan = report["scan"]
    assert scan["status"] == "complete"
    assert any(estate.member_account_ids["sandbox"] in gap and "no owner" in gap for gap in scan["coverage_gaps"])
    assert scan["counts"]["stores"] == len(report["stores"])


# -- faults: denied, vanished ---------------------------------------------------------------------------

@pytest.fixture
def proxy(moto_estate):
    running = FaultProxy(moto_estate.server.url).start()
    yield running
    running.stop()


ESTATE_REGIONS = ["eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]  # every seeded non-S3 store is in these


def estate_config(tmp_path, estate, **aws) -> str:
    members = estate.member_account_ids
    return write_config(tmp_path, {"organization": True, "regions": ESTATE_REGIONS, **aws}, {
        estate.management_account_id: "acme-inc", members["acme-prod-eu"]: "acme-europe",
        members["acme-analytics-jp"]: "acme-japan", members["sandbox"]: "acme-inc"})


def test_access_denied_on_one_account_and_one_region_is_recorded_and_the_rest_scanned(
        tmp_path, moto_estate, proxy, aws_env):
    estate = moto_estate.estate
    aws_env(proxy.url)
    sandbox = estate.member_account_ids["sandbox"]
    proxy.deny(lambda r: r.service == "sts" and sandbox.encode() in r.body and b"AssumeRole" in r.body)
    proxy.deny(lambda r: r.service == "dynamodb" and r.region == "eu-west-1", DENIED_JSON)
    scan, stores = scan_once(prepare(estate_config(tmp_path, estate), []), state=None)
    failed = {(t.account, t.region, t.service, t.status) for t in scan.targets if t.status != "ok"}
    assert (sandbox, "*", "sts:AssumeRole", "denied") in failed
    scanned_accounts = [estate.management_account_id, *(a for n, a in estate.member_account_ids.items()
                                                           if n != "sandbox")]
    assert {(a, "eu-west-1", "dynamodb", "denied") for a in scanned_accounts} <= failed
    assert scan.status == "partial"
    found = {s.id for s in stores}
    expected = {s.id for s in estate.manifest if s.account != sandbox
                and not (s.kind == "dynamodb-table" and s.region == "eu-west-1")}
    assert found == expected
    assert any("sts:AssumeRole" in gap for gap in scan.coverage_gaps)


def test_endpoint_vanishing_mid_scan_marks_nothing_gone_and_resolves_nothing(tmp_path, moto_estate, proxy, aws_env):
    estate = moto_estate.estate
    aws_env(proxy.url)
    config = estate_config(tmp_path, estate)
    state = str(tmp_path / "state.db")
    first, stores = scan_once(prepare(config, []), state=state)
    assert first.status == "complete"
    calls = proxy.forwarded
    from scanner.state import StateStore

    with StateStore(state) as db:
        findings_before = {row["fingerprint"] for row in db.open_findings()}
    assert findings_before
    proxy.forwarded = 0
    proxy.vanish_after = calls // 3
    second, partial_stores = scan_once(prepare(config, []), state=state)
    assert second.status in ("partial", "failed")
    assert len(partial_stores) < len(stores)
    with StateStore(state) as db:
        assert {row["fingerprint"] for row in db.open_findings()} == findings_before
        for store in stores:
            assert db.store_history(store.id)["gone_at"] is None
        assert db.scans(limit=1)[0]["status"] == second.status


READ_ONLY = re.compile(
    r"^(sts:(GetCallerIdentity|AssumeRole)|[a-z0-9]+:(Describe|List|Get)[A-Za-z]*|s3:GET( \?[\w-]+)?)$"
)


def test_scanner_only_calls_read_only_operations(tmp_path, moto_estate, proxy, aws_env):
    aws_env(proxy.url)
    scan, _ = scan_once(prepare(estate_config(tmp_path, moto_estate.estate), []), state=None)
    assert scan.status == "complete"
    operations = set(proxy.operations)
    assert {"s3:GET ?tagging", "s3:GET ?replication", "ec2:DescribeSnapshots", "dynamodb:DescribeTable",
            "rds:DescribeDBInstances", "organizations:ListAccounts", "sts:AssumeRole"} <= operations
    assert sorted(op for op in operations if not READ_ONLY.match(op)) == []
