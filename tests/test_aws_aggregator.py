"""The organization read in bulk from an AWS Config aggregator, against the per-account path on the same estate.

A moto server (with the `config_aggregator_query` patch) holds demo/aws_org.py's Organization: four accounts with
buckets, tables and RDS instances (one KMS-encrypted, one bucket replicating) over three regions. Every scan goes
through tests/fault_proxy.py, which counts each operation and injects failures. The stores of both paths are compared
field by field (ids, accounts, kinds, regions, copies, tags, encryption, unknowns).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo.aws_org import (
    AGGREGATOR,
    SeededOrg,
    client,
    member_credentials,
    put_account_aggregator,
    put_org_aggregator,
    seed_org,
    store_facts,
)
from demo.moto_patches import ESTATE_PATCHES
from demo.moto_server import MotoServer, start_moto
from providers.aws import AwsProvider, AwsSettings
from providers.aws_aggregator import SELECT
from providers.base import TargetLog
from scanner.custody import UNKNOWN
from scanner.discovered import DiscoveredStore
from scanner.model import TargetResult
from tests.fault_proxy import DENIED_JSON, FaultProxy, Request
from tests.test_bad_input import GOOD_CONFIG, assert_one_line_error, run_agent

REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")
SERVICES = ("s3", "dynamodb", "rds")
SOURCE = f"source: AWS Config aggregator {AGGREGATOR}"


@pytest.fixture(scope="module")
def org() -> Iterator[tuple[MotoServer, SeededOrg]]:
    with start_moto((*ESTATE_PATCHES, "config_aggregator_query")) as server:
        yield server, seed_org(server.url, 4, REGIONS)


@pytest.fixture
def proxy(org: tuple[MotoServer, SeededOrg], aws_env: Callable) -> Iterator[FaultProxy]:
    running = FaultProxy(org[0].url).start()
    aws_env(running.url)
    yield running
    running.stop()


def scan(proxy: FaultProxy, **settings: object) -> tuple[list[DiscoveredStore], list[TargetResult], Counter]:
    proxy.operations.clear()
    log = TargetLog()
    provider = AwsProvider(AwsSettings(organization=True, regions=REGIONS, services=SERVICES, max_attempts=1,
                                       **settings))  # type: ignore[arg-type]
    stores = list(provider.discover(log))
    return stores, log.results, Counter(proxy.operations)


def test_bulk_and_per_account_paths_find_the_same_stores(org, proxy: FaultProxy) -> None:
    server, seeded = org
    put_org_aggregator(server.url)  # all regions
    per_account, per_account_log, per_account_calls = scan(proxy)
    bulk, bulk_log, bulk_calls = scan(proxy, config_aggregator=AGGREGATOR)

    assert store_facts(bulk) == store_facts(per_account)
    assert {s.name: (s.account, s.kind, s.region) for s in bulk} == seeded.stores  # every seeded store, no other
    by_name = {s.name: s for s in bulk}
    assert ("eu-central-1", "replica") in {(loc.region, loc.role) for loc in by_name["org0000-data"].locations}
    assert by_name["org0000-db"].encryption.key and by_name["org0000-db"].encryption.custody != UNKNOWN
    assert by_name["org0001-data"].tags == {"data-class": "personal"}
    # the bulk path's few calls: no account entered, no service read
    assert bulk_calls == Counter({"sts:GetCallerIdentity": 1, "organizations:ListAccounts": 1,
                                  "config:DescribeConfigurationAggregators": 1,
                                  "config:DescribeConfigurationAggregatorSourcesStatus": 1, SELECT: 1})
    assert per_account_calls["sts:AssumeRole"] == 3 and sum(per_account_calls.values()) > 10 * sum(bulk_calls.values())
    # every target says where it came from
    answered = {(t.account, t.region, t.service) for t in bulk_log if t.error == SOURCE}
    assert answered == {(a, r, s) for a in seeded.accounts for r in REGIONS for s in ("dynamodb", "rds")} | {
        (a, "global", "s3") for a in seeded.accounts}
    assert all(t.status == "ok" for t in bulk_log + per_account_log)


def test_uncovered_and_failed_sources_are_read_per_account(org, proxy: FaultProxy) -> None:
    server, seeded = org
    management, authorized, unauthorized, outside = seeded.accounts
    put_account_aggregator(server.url, [management, authorized, unauthorized], REGIONS, [authorized])
    per_account, _, _ = scan(proxy)
    bulk, log, calls = scan(proxy, config_aggregator=AGGREGATOR)

    assert store_facts(bulk) == store_facts(per_account)
    sources = {(t.account, t.service) for t in log if t.error == SOURCE}
    assert {account for account, _ in sources} == {management, authorized}  # the FAILED and the outside one: not
    assert ("dynamodb" in {s for _, s in sources}) and all(service != "s3" for _, service in sources)  # not all regions
    assert calls["dynamodb:ListTables"] == 2 * len(REGIONS)  # per account only in the two accounts not covered
    notes = {t.account: t.error for t in log if t.service == SELECT and t.region == "*"}
    assert "not covered by the aggregator" in notes[unauthorized] and "not covered" in notes[outside]


def test_a_failed_aggregator_query_falls_back_without_losing_stores(org, proxy: FaultProxy) -> None:
    server, _ = org
    put_org_aggregator(server.url)

    def select(request: Request) -> bool:
        return (request.target or "").endswith(".SelectAggregateResourceConfig")

    proxy.deny(select, DENIED_JSON)
    per_account_stores, _, _ = scan(proxy)
    bulk, log, calls = scan(proxy, config_aggregator=AGGREGATOR)

    assert store_facts(bulk) == store_facts(per_account_stores) and bulk
    assert calls[SELECT] == 1 and calls["sts:AssumeRole"] == 3
    fallback = [t for t in log if t.service == SELECT]
    assert len(fallback) == 1 and fallback[0].status == "ok" and "fallback to per-account reads" in fallback[0].error
    assert not any(t.error == SOURCE for t in log)


@pytest.mark.parametrize("name", ["bad name!", "", "x" * 257])
def test_bad_aggregator_name_is_one_line(tmp_path: Path, name: str) -> None:
    config = GOOD_CONFIG.replace("aws: {regions: [eu-central-1]}",
                                 f"aws: {{regions: [eu-central-1], config_aggregator: '{name}'}}")
    (tmp_path / "config.yaml").write_text(config)
    assert_one_line_error(run_agent("scan", "--config", "config.yaml", "--no-state", cwd=tmp_path),
                          "config.yaml:7", "config_aggregator", "expected an AWS Config aggregator name")


def test_a_store_whose_key_config_cannot_describe_is_read_per_account(org, proxy: FaultProxy) -> None:
    """A bucket encrypted under a KMS alias: Config's item names the alias, which no AWS::KMS::Key item describes, so
    that account's buckets are read per account (DescribeKey resolves the alias) and the others stay in bulk."""
    server, seeded = org
    put_org_aggregator(server.url)
    account, bucket, region = seeded.accounts[1], "org0001-data", seeded.stores["org0001-data"][2]
    credentials = member_credentials(server.url, account)
    kms = client(server.url, "kms", region, **credentials)
    key = kms.create_key(Description="alias-encrypted bucket")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/org-bucket-key", TargetKeyId=key)
    s3 = client(server.url, "s3", region, **credentials)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/org-bucket-key"}}]})
    try:
        per_account, _, _ = scan(proxy)
        bulk, log, calls = scan(proxy, config_aggregator=AGGREGATOR)
    finally:
        s3.delete_bucket_encryption(Bucket=bucket)
    assert store_facts(bulk) == store_facts(per_account)
    assert {s.name: s for s in bulk}[bucket].encryption.custody != UNKNOWN
    # only that account entered, only its buckets read (and the key described); its tables and databases in bulk
    assert calls["sts:AssumeRole"] == 1 and calls["s3:GET ?max-buckets"] == 1 and calls["kms:DescribeKey"] == 1
    assert not any(op.startswith(("dynamodb:", "rds:")) for op in calls)
    assert ("global", "s3") not in {(t.region, t.service) for t in log if t.account == account and t.error == SOURCE}
    note = next(t.error for t in log if t.account == account and t.service == SELECT and t.region == "*")
    assert "alias/org-bucket-key" in note or "KMS key" in note
