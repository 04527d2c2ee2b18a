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

from runtime.cli import prepare, scan_once
from tests.fault_proxy import DENIED_JSON, FaultProxy
from tests.helpers import assert_matches_seed

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
    assert roles("dynamodb-table", "acme-prod-eu-sessions", "eu-west-1") == {  # backup: PITR, an on-demand backup
        ("eu-west-1", "primary", "IE"), ("eu-west-1", "backup", "IE"), ("us-east-1", "replica", "US")}
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
    assert [e["name"] for e in fra["operator"]] == ["Amazon Web Services, Inc.", "Amazon.com, Inc."]
    assert [e["name"] for e in fra["contracting_party"]] == ["Amazon Web Services EMEA SARL", "Amazon.com, Inc."]
    assert [e["name"] for e in fra["owner"]] == ["Acme Europe GmbH", "Acme Inc."]
    reach = {r["jurisdiction"]: r for r in fra["reachable_by"]}
    # the replica in Virginia puts a copy on US soil: the strongest ground, before control
    assert (reach["US"]["basis"], reach["US"]["route"], reach["US"]["effective"]) == ("location", "direct", True)
    control = next(g for g in reach["US"]["grounds"] if g["law"] == "us-cloud-act")
    assert control["path"] == ["s3-bucket acme-prod-eu-customers-fra", "Amazon Web Services, Inc. (US)",
                               "18 U.S.C. § 2713"]
    assert control["addressee"] == "amazon-web-services-inc" and control["chain"] == "operator"
    assert reach["DE"]["basis"] == "location"
    assert fra["status"] == "fail" and {f["jurisdiction"] for f in fra["findings"]} >= {"US", "GB"}
    audit = stores["acme-mgmt-audit-logs-use1"]
    assert audit["contracting_party"][0]["name"] == "Amazon Web Services, Inc."  # US account: US contracting party
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
    from state.store import StateStore

    with StateStore(state) as db:
        findings_before = {row["fingerprint"] for row in db.open_findings()}
    assert findings_before
    proxy.forwarded = 0
    proxy.vanish_after = calls // 3
    second, partial_stores = scan_once(prepare(config, []), state=state)
    assert second.status in ("partial", "failed")
    assert len(partial_stores) < len(stores)
    with StateStore(state) as db:
        findings_after = {row["fingerprint"]: row for row in db.open_findings()}
        assert set(findings_after) >= findings_before  # nothing resolved
        # what the partial scan could not read is unknown, and fails closed: a reach whose access is unknown is never
        # accepted (demo policy eu-keys-held-in-eu), so a store whose key went unread may gain a finding
        unknown_keys = {s.id for s in partial_stores if s.encryption and s.encryption.custody == "unknown"}
        assert {findings_after[f]["store_id"] for f in set(findings_after) - findings_before} <= unknown_keys
        for store in stores:
            assert db.store_history(store.id)["gone_at"] is None
        assert db.scans(limit=1)[0]["status"] == second.status


READ_ONLY = re.compile(
    r"^(sts:(GetCallerIdentity|AssumeRole)|[a-z0-9-]+:(Describe|List|Get|BatchGet)[A-Za-z]*|s3:GET( \?[\w-]+)?)$"
)


def test_scanner_only_calls_read_only_operations(tmp_path, moto_estate, proxy, aws_env):
    aws_env(proxy.url)
    scan, _ = scan_once(prepare(estate_config(tmp_path, moto_estate.estate), []), state=None)
    assert scan.status == "complete"
    operations = set(proxy.operations)
    # bucket tags come in bulk from the tagging API, so GetBucketTagging (s3:GET ?tagging) is not called
    assert {"tagging:GetResources", "s3:GET ?replication", "ec2:DescribeSnapshots", "dynamodb:DescribeTable",
            "rds:DescribeDBInstances", "organizations:ListAccounts", "sts:AssumeRole"} <= operations
    assert "s3:GET ?tagging" not in operations
    assert sorted(op for op in operations if not READ_ONLY.match(op)) == []


# -- the fewest calls: ListBuckets regions, tags in bulk, replication per bucket -------------------------

CAPABLE = ("bucket_region", "dynamodb_replicas", "s3_tagging_regions", "efs_replication",
           "backup_selections")
FIVE_REGIONS = ["us-east-1", "eu-central-1", "ap-northeast-1", "sa-east-1", "af-south-1"]


@pytest.fixture(scope="module")
def _capable_server():
    """moto answering as S3 does: ListBuckets with BucketRegion, GetResources per bucket region."""
    from demo.moto_server import start_moto

    with start_moto(CAPABLE) as server:
        yield server


@pytest.fixture
def capable(_capable_server):
    _capable_server.reset()
    _capable_server.clear_log()
    return _capable_server


@pytest.fixture
def capable_proxy(capable):
    running = FaultProxy(capable.url).start()
    yield running
    running.stop()


class Spy:
    """A proxy rule that never fires: it notes the region and operation of every request."""

    def __init__(self):
        self.requests = []

    def __call__(self, request) -> bool:
        from tests.fault_proxy import operation_name

        self.requests.append((request.region, operation_name(request)))
        return False

    def in_region(self, region: str) -> list[str]:
        return [operation for where, operation in self.requests if where == region]


def s3_config(tmp_path, **aws) -> str:
    return write_config(tmp_path, {"services": ["s3"], **aws}, {"123456789012": "acme-europe"})


def seed_estate(url: str, n: int, regions=FIVE_REGIONS):
    from demo.aws_estate import seed_buckets

    return seed_buckets(url, n, regions, replicate_fraction=0.1, tag_fraction=0.5, workers=4)


def assert_matches_seed_owned(stores, seeded) -> None:
    """assert_matches_seed, and the only unknowns are missing owners."""
    assert_matches_seed(stores, seeded)
    assert all(u == [] or all("owner" in x for x in u) for u in (store.unknowns for store in stores))


def test_full_s3_inventory_without_config_costs_at_most_2_1_calls_per_bucket(tmp_path, capable, capable_proxy, aws_env):
    seeded = seed_estate(capable.url, 200)
    capable.clear_log()
    aws_env(capable_proxy.url)
    scan, stores = scan_once(prepare(s3_config(tmp_path), []), state=None)
    assert scan.status == "complete"
    assert_matches_seed_owned(stores, seeded)
    assert all(s.locations[0].learned_from == "ListBuckets.BucketRegion" for s in stores)
    calls = capable_proxy.operations
    assert calls.count("s3:GET ?replication") == 200  # the facts no bulk API but AWS Config gives
    assert calls.count("s3:GET ?encryption") == 200
    assert calls.count("tagging:GetResources") == len(FIVE_REGIONS)  # 20 tagged buckets a region: one page each
    assert calls.count("s3:GET ?max-buckets") == 1
    assert not [op for op in calls if op in ("s3:GET ?tagging", "s3:GET ?location")]
    assert len(capable.request_log()) == len(calls) <= 2.1 * 200


def test_tags_page_through_get_resources_and_untagged_buckets_have_none(tmp_path, capable, capable_proxy, aws_env):
    seeded = seed_estate(capable.url, 250, ["eu-central-1", "us-east-1"])  # 125 tagged: two pages per region
    aws_env(capable_proxy.url)
    scan, stores = scan_once(prepare(s3_config(tmp_path), []), state=None)
    assert scan.status == "complete"
    assert_matches_seed_owned(stores, seeded)
    # spread() tags the even-numbered buckets, which all land in eu-central-1: two pages there, one empty page in
    # us-east-1 (moto also cuts a page at 100 tags)
    assert capable_proxy.operations.count("tagging:GetResources") == 3
    assert sum(1 for s in stores if not s.tags) == 125


def test_tagging_api_denied_falls_back_to_get_bucket_tagging_and_records_it(
        tmp_path, capable, capable_proxy, aws_env):
    seeded = seed_estate(capable.url, 40)
    aws_env(capable_proxy.url)
    capable_proxy.deny(lambda r: r.service == "tagging", DENIED_JSON)
    scan, stores = scan_once(prepare(s3_config(tmp_path, max_attempts=4), []), state=None)
    assert_matches_seed_owned(stores, seeded)  # the same tags, per bucket
    assert scan.status == "complete"  # nothing is unknown: the fallback read every bucket's tags
    calls = capable_proxy.operations
    assert calls.count("tagging:GetResources") == len(FIVE_REGIONS)  # one denial per region, never retried
    assert calls.count("s3:GET ?tagging") == 40
    fallbacks = [t for t in scan.targets if t.service == "s3:GetBucketTagging"]
    assert sorted(t.region for t in fallbacks) == sorted(FIVE_REGIONS)
    assert all(t.status == "ok" and "tag:GetResources failed (AccessDeniedException" in t.error for t in fallbacks)


def test_tags_unreadable_everywhere_leave_the_bucket_not_evaluated(tmp_path, capable, capable_proxy, aws_env):
    seed_estate(capable.url, 10)
    aws_env(capable_proxy.url)
    capable_proxy.deny(lambda r: r.service == "tagging", DENIED_JSON)
    capable_proxy.deny(lambda r: r.service == "s3" and "?tagging" in r.path)
    _, stores = scan_once(prepare(s3_config(tmp_path), []), state=None)
    assert len(stores) == 10
    for store in stores:
        assert store.status != "pass"  # unknown scope is never a pass
        assert any(u.startswith("tags unreadable (AccessDenied") for u in store.unknowns)
        assert not any("replication" in u for u in store.unknowns)  # a tag-only denial is not a denied region


# -- gentle on production: SCP-denied regions, throttling, the request-rate ceiling ---------------------------


def deny_region(proxy: FaultProxy, region: str) -> Spy:
    """Answer AccessDenied to every request signed for `region` (as an SCP on aws:RequestedRegion does)."""
    spy = Spy()
    proxy.deny(spy)
    proxy.deny(lambda r: r.region == region and r.service == "s3")
    proxy.deny(lambda r: r.region == region and r.service != "s3", DENIED_JSON)
    return spy


def create_tables(url: str, regions) -> None:
    for region in regions:
        ddb = boto3.client("dynamodb", endpoint_url=url, region_name=region)
        ddb.create_table(TableName=f"t-{region}", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")


def test_region_denied_by_an_scp_costs_one_call_and_skips_the_other_services(
        tmp_path, capable, capable_proxy, aws_env):
    aws_env(capable.url)
    seeded = seed_estate(capable.url, 50)
    create_tables(capable.url, FIVE_REGIONS)
    aws_env(capable_proxy.url)
    spy = deny_region(capable_proxy, "eu-central-1")
    config = s3_config(tmp_path, services=["s3", "dynamodb"], regions=FIVE_REGIONS, max_attempts=4)
    scan, stores = scan_once(prepare(config, []), state=None)
    assert spy.in_region("eu-central-1") == ["tagging:GetResources"]  # the probe, not retried; nothing else
    failed = {(t.region, t.service): t for t in scan.targets if t.status != "ok"}
    assert set(failed) == {("eu-central-1", "tag:GetResources"), ("eu-central-1", "dynamodb"),
                           ("eu-central-1", "s3")}
    assert all(t.status == "denied" for t in failed.values())
    assert "skipped: region denied" in failed[("eu-central-1", "dynamodb")].error
    assert scan.status == "partial"
    tables = {s.name for s in stores if s.kind == "dynamodb-table"}
    assert tables == {f"t-{r}" for r in FIVE_REGIONS if r != "eu-central-1"}
    buckets = by_name(s for s in stores if s.kind == "s3-bucket")
    assert set(buckets) == {s.name for s in seeded}  # the listing is global: every bucket is still reported
    for seeded_bucket in seeded:
        store = buckets[seeded_bucket.name]
        if seeded_bucket.region == "eu-central-1":
            assert store.status != "pass"
            assert any("region eu-central-1 denied" in u for u in store.unknowns)
        else:
            assert store.tags == seeded_bucket.tags


def test_with_no_other_region_to_compare_a_second_api_decides(tmp_path, capable, capable_proxy, aws_env):
    aws_env(capable.url)
    seed_estate(capable.url, 30, ["eu-central-1"])
    create_tables(capable.url, ["eu-central-1"])
    aws_env(capable_proxy.url)
    spy = deny_region(capable_proxy, "eu-central-1")
    config = s3_config(tmp_path, services=["s3", "dynamodb"], regions=["eu-central-1"])
    scan, stores = scan_once(prepare(config, []), state=None)
    assert spy.in_region("eu-central-1") == ["tagging:GetResources", "dynamodb:ListTables"]
    assert {(t.region, t.service) for t in scan.targets if t.status == "denied"} == {
        ("eu-central-1", "tag:GetResources"), ("eu-central-1", "dynamodb"), ("eu-central-1", "s3")}
    assert len(stores) == 30 and all(s.status != "pass" and s.unknowns for s in stores)


def test_one_api_denied_everywhere_is_not_a_denied_region(tmp_path, capable, capable_proxy, aws_env):
    aws_env(capable.url)
    create_tables(capable.url, FIVE_REGIONS)
    aws_env(capable_proxy.url)
    capable_proxy.deny(lambda r: r.service == "dynamodb" and b"ListTables" in (r.target or "").encode(), DENIED_JSON)
    config = s3_config(tmp_path, services=["dynamodb", "ebs"], regions=FIVE_REGIONS)
    scan, _ = scan_once(prepare(config, []), state=None)
    denied = {(t.region, t.service) for t in scan.targets if t.status == "denied"}
    assert denied == {(r, "dynamodb") for r in FIVE_REGIONS}
    assert {t.region for t in scan.targets if t.service == "ebs" and t.status == "ok"} == set(FIVE_REGIONS)
    assert not any("skipped" in (t.error or "") for t in scan.targets)


def test_throttled_calls_are_retried_with_backoff(tmp_path, capable, capable_proxy, aws_env):
    from tests.fault_proxy import Fault

    seeded = seed_estate(capable.url, 20, ["eu-central-1"])
    aws_env(capable_proxy.url)
    throttled = []

    def first_two_get_resources(request) -> bool:
        if request.service == "tagging" and len(throttled) < 2:
            throttled.append(request)
            return True
        return False

    capable_proxy.deny(first_two_get_resources, Fault(400, "ThrottlingException", json=True))
    scan, stores = scan_once(prepare(s3_config(tmp_path, max_attempts=4), []), state=None)
    assert scan.status == "complete"
    assert_matches_seed_owned(stores, seeded)
    assert capable_proxy.operations.count("tagging:GetResources") == 3  # two throttled, then answered
    assert "s3:GET ?tagging" not in capable_proxy.operations  # no fallback was needed


def test_request_rate_ceiling_holds_for_the_whole_scan(tmp_path, capable, aws_env):
    import time

    seed_estate(capable.url, 40, ["eu-central-1", "us-east-1"])
    capable.clear_log()
    aws_env(capable)
    started = time.monotonic()
    scan, stores = scan_once(prepare(s3_config(tmp_path, max_requests_per_second=40, max_workers=8), []), state=None)
    elapsed = time.monotonic() - started
    calls = len(capable.request_log())
    assert scan.status == "complete" and len(stores) == 40
    assert calls >= 40
    assert elapsed >= (calls - 10) / 40  # a burst of 10, then 40 a second, across all 8 workers


def test_rate_limiter_spaces_requests_and_is_thread_safe():
    import threading
    import time

    from providers.aws import RateLimiter

    now = [0.0]
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    limiter = RateLimiter(10, burst=2, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert [round(w, 6) for w in waits] == [0.0, 0.0, 0.1, 0.2, 0.3]  # the burst, then one every 0.1 s in a queue
    now[0] = 10.0  # a long pause refills the bucket to its burst, no more
    assert [round(limiter.acquire(), 6) for _ in range(3)] == [0.0, 0.0, 0.1]

    real = RateLimiter(200, burst=1)
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [real.acquire() for _ in range(10)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= (80 - 1) / 200 * 0.95


@pytest.mark.parametrize("value", [0, -1, "fast", True])
def test_request_rate_ceiling_must_be_a_positive_number(tmp_path, value):
    from scanner.errors import InputError

    with pytest.raises(InputError, match="max_requests_per_second"):
        prepare(s3_config(tmp_path, max_requests_per_second=value), [])


# -- whole organizations: OU scoping, exclusions, one account failing among fifty ---------------------------


def make_organization(url: str, layout: dict[str, list[str]]):
    """Create an organization; `layout` maps an OU path ("prod", "prod/eu", "" for the root) to account names.
    Returns (root id, {ou path: ou id}, {account name: account id})."""
    org = boto3.client("organizations", endpoint_url=url, region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    units: dict[str, str] = {"": root}
    accounts: dict[str, str] = {}
    for path in sorted(layout, key=lambda p: p.count("/") if p else -1):
        if path:
            parent = units["/".join(path.split("/")[:-1])]
            units[path] = org.create_organizational_unit(ParentId=parent, Name=path.split("/")[-1])[
                "OrganizationalUnit"]["Id"]
        for name in layout[path]:
            status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
            account = org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
                "CreateAccountStatus"]["AccountId"]
            accounts[name] = account
            if path:
                org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=units[path])
    return root, units, accounts


def scanned_accounts(scan) -> set[str]:
    return {t.account for t in scan.targets if t.service == "s3" and t.region == "global"}


def test_organizational_units_are_walked_recursively_and_exclusions_honoured(tmp_path, capable, aws_env):
    aws_env(capable)
    _, units, accounts = make_organization(capable.url, {
        "": ["in-root"], "prod": ["prod-a"], "prod/eu": ["prod-eu-a", "prod-eu-b"], "dev": ["dev-a"]})
    config = write_config(tmp_path, {"services": ["s3"], "organizational_units": [units["prod"]]}, {})
    scan, _ = scan_once(prepare(config, []), state=None)
    assert scanned_accounts(scan) == {accounts["prod-a"], accounts["prod-eu-a"], accounts["prod-eu-b"]}
    assert scan.status == "complete"  # the management account is not under prod, so it is not scanned
    config = write_config(tmp_path, {"services": ["s3"], "organizational_units": [units["prod"], units["dev"]],
                                     "exclude_accounts": [accounts["prod-eu-b"]],
                                     "accounts": [accounts["in-root"]]}, {})
    scan, _ = scan_once(prepare(config, []), state=None)
    assert scanned_accounts(scan) == {accounts["prod-a"], accounts["prod-eu-a"], accounts["dev-a"],
                                      accounts["in-root"]}
    config = write_config(tmp_path, {"services": ["s3"], "organization": True,
                                     "exclude_accounts": ["123456789012", accounts["dev-a"]]}, {})
    scan, _ = scan_once(prepare(config, []), state=None)
    assert scanned_accounts(scan) == set(accounts.values()) - {accounts["dev-a"]}


def test_unknown_organizational_unit_is_recorded_and_the_others_scanned(tmp_path, capable, aws_env):
    aws_env(capable)
    _, units, accounts = make_organization(capable.url, {"prod": ["prod-a"]})
    config = write_config(tmp_path, {"services": ["s3"],
                                     "organizational_units": ["ou-zzzz-nosuchou", units["prod"]]}, {})
    scan, _ = scan_once(prepare(config, []), state=None)
    assert scanned_accounts(scan) == {accounts["prod-a"]}
    assert [t.status for t in scan.targets if t.service == "organizations:ou-zzzz-nosuchou"] == ["error"]
    assert scan.status == "partial"


def test_organization_of_fifty_accounts_with_one_denying_access(tmp_path, capable, capable_proxy, aws_env):
    aws_env(capable.url)
    _, _, accounts = make_organization(capable.url, {"": [f"member-{i:02d}" for i in range(49)]})
    sts = boto3.client("sts")
    for name, account in accounts.items():
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                RoleSessionName="seed")["Credentials"]
        boto3.client("s3", region_name="eu-west-1", aws_access_key_id=creds["AccessKeyId"],
                     aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"]
                     ).create_bucket(Bucket=f"b-{name}", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    aws_env(capable_proxy.url)
    refusing = accounts["member-17"]
    capable_proxy.deny(lambda r: r.service == "sts" and refusing.encode() in r.body and b"AssumeRole" in r.body)
    config = write_config(tmp_path, {"services": ["s3"], "organization": True, "max_accounts": 4}, {})
    scan, stores = scan_once(prepare(config, []), state=None)
    assert len(scanned_accounts(scan)) == 49  # 48 members and the management account
    assert {s.name for s in stores} == {f"b-{name}" for name in accounts if accounts[name] != refusing}
    assert [(t.account, t.service, t.status) for t in scan.targets if t.status != "ok"] == [
        (refusing, "sts:AssumeRole", "denied")]
    assert scan.status == "partial"


def test_concurrent_calls_to_one_api_are_bounded_per_account():
    """max_workers_per_api=2: two calls to one API are inside together (they meet at a barrier there), a
    third waits until one of them leaves, and a call to another API does not wait for either."""
    import threading

    from providers.aws import Account, AccountScan, AwsProvider, AwsSettings
    from providers.base import TargetLog

    provider = AwsProvider(AwsSettings(max_workers=8, max_workers_per_api=2))
    scan = AccountScan(provider, Account("123456789012", boto3.Session(region_name="us-east-1"), "aws"), TargetLog())
    both_inside = threading.Barrier(3, timeout=30)  # the two holders, inside the slot at once, and this test
    leave = [threading.Event(), threading.Event()]
    entered: list[str] = []

    def hold(index: int) -> None:
        with scan.slot("s3"):
            both_inside.wait()  # BrokenBarrierError (the test fails) unless both are inside together
            leave[index].wait(30)
            entered.append(f"holder {index} leaves")

    def call(api: str, inside: threading.Event) -> None:
        with scan.slot(api):
            entered.append(f"{api} call enters")
            inside.set()

    holders = [threading.Thread(target=hold, args=(index,)) for index in range(2)]
    for thread in holders:
        thread.start()
    both_inside.wait()
    other_api, third = threading.Event(), threading.Event()
    threading.Thread(target=call, args=("dynamodb", other_api)).start()
    assert other_api.wait(30)  # another API's slots are its own
    waiting = threading.Thread(target=call, args=("s3", third))
    waiting.start()
    assert not third.wait(0.5)  # both s3 slots are taken: the third call waits...
    leave[0].set()
    assert third.wait(30)  # ...until a holder leaves, and then enters
    leave[1].set()
    for thread in [*holders, waiting]:
        thread.join(30)
    assert entered.index("holder 0 leaves") < entered.index("s3 call enters")
