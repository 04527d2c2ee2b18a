"""S3 replication in bulk from AWS Config, and the per-bucket fallback wherever Config cannot answer.

Every scan runs against a moto server (with the `s3_config_replication` patch, so Config's S3 item carries the
bucket's replication as AWS documents it) through tests/fault_proxy.py, which records each operation and injects
denials. Answers are checked bucket by bucket against the seed (demo.aws_estate.seed_buckets).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml

from demo.aws_estate import EstateError, SeededStore, record_s3_with_config, seed_buckets
from demo.moto_server import MotoServer, start_moto
from providers.aws import _config_replication
from runtime.cli import prepare, scan_once
from tests.fault_proxy import DENIED_JSON, FaultProxy, Request
from tests.helpers import assert_matches_seed

CONFIG_CAPABLE = ("bucket_region", "s3_tagging_regions", "s3_config_replication", "s3_default_encryption")
REGIONS = ["us-east-1", "eu-central-1", "ap-northeast-1"]
ACCOUNT = "123456789012"
STATUS, RECORDERS, BATCH_GET = ("config:DescribeConfigurationRecorderStatus", "config:DescribeConfigurationRecorders",
                                "config:BatchGetResourceConfig")
PER_BUCKET = "s3:GET ?replication"


@pytest.fixture(scope="module")
def _config_server() -> Iterator[MotoServer]:
    with start_moto(CONFIG_CAPABLE) as server:
        yield server


@pytest.fixture
def server(_config_server: MotoServer) -> MotoServer:
    _config_server.reset()
    _config_server.clear_log()
    return _config_server


class HidingProxy(FaultProxy):
    """A fault proxy that also drops the named buckets' keys from BatchGetResourceConfig requests, so Config
    answers without them, as it does for buckets it has not recorded."""

    def __init__(self, upstream: str, hidden: set[str]):
        super().__init__(upstream)
        self.hidden = hidden

    def _handler(self):
        base, proxy = super()._handler(), self

        class Handler(base):  # type: ignore[misc, valid-type]
            def _forward(self, body: bytes) -> None:
                if (self.headers.get("X-Amz-Target") or "").endswith(".BatchGetResourceConfig"):
                    request = json.loads(body)
                    request["resourceKeys"] = [k for k in request["resourceKeys"]
                                               if k["resourceId"] not in proxy.hidden]
                    body = json.dumps(request).encode()
                    del self.headers["Content-Length"]
                    self.headers["Content-Length"] = str(len(body))
                super()._forward(body)

        return Handler


@pytest.fixture
def proxy(server: MotoServer) -> Iterator[HidingProxy]:
    running = HidingProxy(server.url, set()).start()
    yield running
    running.stop()


def scan(tmp_path: Path, aws_env, proxy: FaultProxy, **aws):
    aws_env(proxy.url)
    config = {"home": "EU", "companies": [{"id": "acme", "name": "Acme", "country": "DE"}],
              "accounts": {ACCOUNT: {"owner": "acme"}},
              "providers": {"aws": {"services": ["s3"], "max_attempts": 1, **aws}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return scan_once(prepare(str(path), []), state=None)


def seed(server: MotoServer, aws_env, n: int = 60, regions=REGIONS, record_config: bool = True) -> list[SeededStore]:
    aws_env(server)
    seeded = seed_buckets(server.url, n, regions, replicate_fraction=0.1, tag_fraction=0.5, workers=4,
                          record_config=record_config)
    server.clear_log()
    return seeded


def config_client(server: MotoServer, region: str):
    return boto3.client("config", endpoint_url=server.url, region_name=region)


def replica_sources(stores) -> set[str]:
    return {loc.learned_from.split(" ")[0] for store in stores for loc in store.locations if loc.role == "replica"}


# -- Config records S3: no per-bucket reads ---------------------------------------------------------------


def test_config_answers_replication_for_recorded_buckets_with_no_per_bucket_reads(
        tmp_path, server, proxy, aws_env):
    seeded = seed(server, aws_env)
    result, stores = scan(tmp_path, aws_env, proxy)
    assert result.status == "complete"
    assert_matches_seed(stores, seeded, min_replicating=3)
    calls = proxy.operations
    assert PER_BUCKET not in calls
    assert [calls.count(op) for op in (STATUS, RECORDERS, BATCH_GET)] == [len(REGIONS)] * 3  # 20 buckets a region
    assert replica_sources(stores) == {"config:BatchGetResourceConfig"}
    replica = next(loc for s in stores for loc in s.locations if loc.role == "replica")
    assert replica.learned_from == "config:BatchGetResourceConfig BucketReplicationConfiguration"
    assert replica.observed_at and replica.observed_at.startswith("20")  # when Config captured it
    assert replica.observed_at.endswith("+00:00") and len(replica.observed_at) == 25  # UTC, to the second
    read = {t.region: t.stores for t in result.targets if t.service == "config:BatchGetResourceConfig"}
    assert read == {region: 20 for region in REGIONS}
    assert len(calls) <= 0.25 * len(seeded)  # 1 identity + 1 listing + 3 tag pages + 9 Config calls for 60 buckets


def test_batch_get_asks_for_at_most_100_buckets_a_call(tmp_path, server, proxy, aws_env):
    seeded = seed(server, aws_env, 250, ["eu-central-1", "us-east-1"])
    requests: list[Request] = []
    proxy.deny(lambda r: requests.append(r) is None and False)  # records, never denies
    _, stores = scan(tmp_path, aws_env, proxy)
    assert_matches_seed(stores, seeded, min_replicating=3)
    batches = [json.loads(r.body)["resourceKeys"] for r in requests if (r.target or "").endswith("BatchGetResource"
                                                                                                  "Config")]
    assert sorted(len(keys) for keys in batches) == [25, 25, 100, 100]  # 125 buckets in each region
    assert PER_BUCKET not in proxy.operations


# -- Config cannot answer: the same answers, per bucket -----------------------------------------------------


def test_a_bucket_missing_from_config_is_read_per_bucket(tmp_path, server, aws_env):
    seeded = seed(server, aws_env)
    replicating = [s.name for s in seeded if s.replica_regions]
    hidden = {replicating[0], seeded[1].name}  # one that replicates and one that does not
    proxy = HidingProxy(server.url, hidden).start()
    try:
        result, stores = scan(tmp_path, aws_env, proxy)
    finally:
        proxy.stop()
    assert result.status == "complete"
    assert_matches_seed(stores, seeded, min_replicating=3)  # the hidden replicating bucket still shows its replica
    assert proxy.operations.count(PER_BUCKET) == len(hidden)
    learned = {s.name: {loc.learned_from for loc in s.locations if loc.role == "replica"} for s in stores}
    assert learned[replicating[0]] == {"GetBucketReplication.Rules.Destination"}
    assert all(src.startswith("config:") for name in replicating[1:] for src in learned[name])


@pytest.mark.parametrize("also_deny_tagging", [False, True])
def test_config_denied_falls_back_per_bucket_and_is_never_a_denied_region(
        tmp_path, server, proxy, aws_env, also_deny_tagging):
    seeded = seed(server, aws_env)
    proxy.deny(lambda r: r.service == "config", DENIED_JSON)
    if also_deny_tagging:
        proxy.deny(lambda r: r.service == "tagging", DENIED_JSON)
    result, stores = scan(tmp_path, aws_env, proxy)
    assert result.status == "complete"
    assert_matches_seed(stores, seeded, min_replicating=3)
    calls = proxy.operations
    assert calls.count(STATUS) == len(REGIONS) and BATCH_GET not in calls  # one denied call a region, no retry
    assert calls.count(PER_BUCKET) == len(seeded)
    notes = [t for t in result.targets if t.service == "s3:GetBucketReplication"]
    assert sorted(t.region for t in notes) == sorted(REGIONS)
    assert all(t.status == "ok" and "AWS Config failed (AccessDeniedException" in t.error for t in notes)
    assert not any("skipped" in (t.error or "") for t in result.targets)
    assert replica_sources(stores) == {"GetBucketReplication.Rules.Destination"}


def test_no_recorder_costs_one_call_a_region_and_reads_per_bucket(tmp_path, server, proxy, aws_env):
    seeded = seed(server, aws_env, record_config=False)
    result, stores = scan(tmp_path, aws_env, proxy)
    assert result.status == "complete"
    assert_matches_seed(stores, seeded, min_replicating=3)
    calls = proxy.operations
    assert calls.count(STATUS) == len(REGIONS)
    assert RECORDERS not in calls and BATCH_GET not in calls
    assert calls.count(PER_BUCKET) == len(seeded)
    assert not [t for t in result.targets if t.service.startswith(("config:", "s3:GetBucketReplication"))]


def test_a_stopped_or_s3_excluding_recorder_is_not_trusted(tmp_path, server, proxy, aws_env):
    seeded = seed(server, aws_env)
    config_client(server, "eu-central-1").stop_configuration_recorder(ConfigurationRecorderName="default")
    config_client(server, "ap-northeast-1").put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config",
        "recordingGroup": {"allSupported": False, "resourceTypes": ["AWS::EC2::Volume"]}})
    server.clear_log()
    result, stores = scan(tmp_path, aws_env, proxy)
    assert result.status == "complete"
    assert_matches_seed(stores, seeded, min_replicating=3)
    untrusted = {"eu-central-1", "ap-northeast-1"}
    per_bucket = sum(1 for s in seeded if s.region in untrusted)
    assert proxy.operations.count(PER_BUCKET) == per_bucket
    assert {t.region for t in result.targets if t.service == "config:BatchGetResourceConfig"} == {"us-east-1"}
    assert proxy.operations.count(BATCH_GET) == 1


# -- the emulator: stock moto's gap, the patch's shape ---------------------------------------------------------


def test_stock_moto_config_items_lack_replication_so_seeding_refuses_to_record(moto_stock, aws_env):
    aws_env(moto_stock)
    with pytest.raises(EstateError, match="s3_config_replication"):
        seed_buckets(moto_stock.url, 20, ["eu-central-1", "us-east-1"], replicate_fraction=0.1, record_config=True)


def test_patched_config_item_has_replication_in_the_documented_shape(server, aws_env):
    seeded = seed(server, aws_env, 20, ["eu-central-1", "us-east-1"], record_config=False)
    source = next(s for s in seeded if s.replica_regions)
    destination = seeded[seeded.index(source) + 1]
    record_s3_with_config(lambda service, region="us-east-1": boto3.client(
        service, endpoint_url=server.url, region_name=region), ACCOUNT, [source.region])
    answer = config_client(server, source.region).batch_get_resource_config(resourceKeys=[
        {"resourceType": "AWS::S3::Bucket", "resourceId": name} for name in (source.name, destination.name)])
    items = {item["resourceId"]: item for item in answer["baseConfigurationItems"]}
    assert set(items) == {source.name}  # the destination is in another region: Config records it there
    document = json.loads(items[source.name]["supplementaryConfiguration"]["BucketReplicationConfiguration"])
    assert document["roleARN"] == f"arn:aws:iam::{ACCOUNT}:role/s3-replication"
    assert document["rules"] == {"dr-copy": {"status": "Enabled", "prefix": None, "destinationConfig": {
        "bucketARN": f"arn:aws:s3:::{destination.name}", "storageClass": "STANDARD"}}}
    other = config_client(server, destination.region).batch_get_resource_config(resourceKeys=[
        {"resourceType": "AWS::S3::Bucket", "resourceId": destination.name}])["baseConfigurationItems"]
    assert [item["awsRegion"] for item in other] == [destination.region]
    assert "BucketReplicationConfiguration" not in other[0]["supplementaryConfiguration"]


# -- reading a configuration item: unknown stays unknown ---------------------------------------------------------

ITEM = {"configurationItemStatus": "OK", "configurationItemCaptureTime": "2026-11-27T10:00:00Z",
        "supplementaryConfiguration": {"AccessControlList": "{}"}}
RULE = {"status": "Enabled", "destinationConfig": {"bucketARN": "arn:aws:s3:::dr"}}


@pytest.mark.parametrize("item, targets", [
    (ITEM, ()),  # no BucketReplicationConfiguration: none configured
    ({**ITEM, "supplementaryConfiguration": {"BucketReplicationConfiguration": json.dumps(
        {"rules": {"a": RULE, "b": {**RULE, "status": "Disabled"}}})}}, ("dr",)),
    ({**ITEM, "supplementaryConfiguration": {"BucketReplicationConfiguration": json.dumps(json.dumps(
        {"rules": [RULE]}))}}, ("dr",)),  # encoded twice, rules as a list
    ({**ITEM, "configurationItemStatus": "ResourceDeleted"}, None),
    ({**ITEM, "configurationItemStatus": "ResourceNotRecorded"}, None),
    ({**ITEM, "supplementaryConfiguration": {}}, None),
    ({**ITEM, "configurationItemCaptureTime": None}, None),  # when it was captured unknown: read per bucket
    ({**ITEM, "supplementaryConfiguration": {"BucketReplicationConfiguration": "{not json"}}, None),
    ({**ITEM, "supplementaryConfiguration": {"BucketReplicationConfiguration": json.dumps(
        {"rules": {"a": {"status": "Enabled", "destinationConfig": {}}}})}}, None),
    ({**ITEM, "supplementaryConfiguration": {"BucketReplicationConfiguration": json.dumps({"roleARN": "r"})}}, None),
])
def test_a_configuration_item_gives_targets_or_nothing(item, targets):
    answer = _config_replication(item)
    assert (None if answer is None else answer.targets) == targets
    assert answer is None or answer.observed_at == "2026-11-27T10:00:00+00:00"  # the capture time, in UTC
