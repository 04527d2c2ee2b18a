"""Who holds the keys, on AWS: the provider reads each store's encryption and its KMS key through a real scan of
moto (patched where moto lacks custom key stores and S3's default encryption), each key once per scan, and a
denied read gives `unknown`, never a better rung."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from demo.aws_estate import (
    MANAGEMENT_ACCOUNT_ID,
    MRK_REPLICA_REGION,
    XKS_PROXY,
    Clients,
    create_bucket,
    seed_key_custody,
)
from demo.moto_server import MotoServer
from runtime.cli import prepare, scan_once
from tests.fault_proxy import DENIED, DENIED_JSON, FaultProxy, Request
from tests.fixtures_aws import SeededMoto

REGION = "eu-central-1"
XKS_HOST = "xks.acme-europe.example"
ACCEPTING = {"id": "eu-keys", "home": ["EU"], "applies_to": {"tags": {"data-class": "confidential"}},
             "accept_access": ["ciphertext_only", "plaintext_while_key_released"]}
# the built-in home-only policy counts every reach whatever the access: reach is left to the policy above
BY_ACCESS = {"store": "arn:aws:s3:::*", "policy": "default-home-only",
             "reason": "test: reach judged by what it could obtain (eu-keys)", "approver": "dpo@example.com",
             "expires": "2099-12-31"}


def client(server: MotoServer | str, service: str, region: str = REGION) -> Any:
    url = server if isinstance(server, str) else server.url
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def scan(tmp_path: Path, services: list[str], regions: list[str], accounts: list[str] = (),
         policy: dict | None = None) -> tuple[Any, dict[str, Any]]:
    """Scan as an EU company with no foreign parent, the external key store declared in Germany and run by it."""
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump({"policies": [policy] if policy else [],
                                                          "waivers": [BY_ACCESS] if policy else []}))
    config = {
        "home": "EU", "policies": [str(tmp_path / "policy.yaml")],
        "companies": [{"id": "eurobank", "name": "Eurobank AG", "country": "DE"}],
        "accounts": {MANAGEMENT_ACCOUNT_ID: {"owner": "eurobank"}},
        "key_stores": {XKS_HOST: {"country": "DE", "operator": "eurobank"}},
        "providers": {"aws": {"services": services, "regions": regions, "accounts": list(accounts),
                              "max_attempts": 1}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result, stores = scan_once(prepare(str(path), []), state=None)
    with stores:
        return result, {(store.account, store.name): store for store in stores}


def recording(upstream: str, deny: tuple | None = None) -> tuple[FaultProxy, list[Request]]:
    proxy = FaultProxy(upstream).start()
    seen: list[Request] = []
    proxy.deny(lambda request: seen.append(request) is None and False)  # records, never denies
    if deny:
        proxy.deny(*deny)
    return proxy, seen


def kms_calls(seen: list[Request], operation: str) -> Counter:
    """(account key, region, KeyId) of each KMS call of `operation`, counted."""
    return Counter((r.access_key, r.region, json.loads(r.body or b"{}").get("KeyId")) for r in seen
                   if r.service == "kms" and (r.target or "").endswith(operation))


# ---- the emulator: stock moto's gaps, and the patched answers -----------------------------------------------

def test_stock_moto_has_no_custom_key_stores_nor_default_bucket_encryption(moto_stock: MotoServer) -> None:
    with pytest.raises(ClientError):
        client(moto_stock, "kms").describe_custom_key_stores()
    create_bucket(lambda region: client(moto_stock, "s3", region), "gap-sse", REGION)
    with pytest.raises(ClientError) as missing:
        client(moto_stock, "s3").get_bucket_encryption(Bucket="gap-sse")
    assert missing.value.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
    item = client(moto_stock, "config").batch_get_resource_config(
        resourceKeys=[{"resourceType": "AWS::S3::Bucket", "resourceId": "gap-sse"}])["baseConfigurationItems"][0]
    assert "ServerSideEncryptionConfiguration" not in item["supplementaryConfiguration"]
    table = _encrypted_table(moto_stock)
    key = client(moto_stock, "kms").describe_key(KeyId=table["SSEDescription"]["KMSMasterKeyArn"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"  # the AWS managed key aws/dynamodb, reported as the customer's


def test_patched_custom_key_stores_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    kms = client(moto_patched, "kms")
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="xks", CustomKeyStoreType="EXTERNAL_KEY_STORE", XksProxyUriEndpoint=XKS_PROXY,
        XksProxyUriPath="/kms/xks/v1", XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyAuthenticationCredential={"AccessKeyId": "AKIAXKSTEST000000001", "RawSecretAccessKey": "x" * 43},
    )["CustomKeyStoreId"]
    [listed] = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    assert (listed["CustomKeyStoreType"], listed["ConnectionState"], listed["XksProxyConfiguration"]["UriEndpoint"]) \
        == ("EXTERNAL_KEY_STORE", "DISCONNECTED", XKS_PROXY)
    refusals = [(lambda: kms.create_key(CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId="k"),
                 "CustomKeyStoreInvalidStateException"),
                (lambda: kms.describe_custom_key_stores(CustomKeyStoreId="cks-00000000000000000"),
                 "CustomKeyStoreNotFoundException")]
    for call, code in refusals:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == code
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError):  # the origin must be the store's type
        kms.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")
    key = kms.create_key(CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId="k")["KeyMetadata"]
    described = kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]
    assert (described["Origin"], described["CustomKeyStoreId"], described["XksKeyConfiguration"], described[
        "KeyManager"]) == ("EXTERNAL_KEY_STORE", store_id, {"Id": "k"}, "CUSTOMER")
    table = _encrypted_table(moto_patched)
    managed = kms.describe_key(KeyId=table["SSEDescription"]["KMSMasterKeyArn"])["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    create_bucket(lambda region: client(moto_patched, "s3", region), "patched-sse", REGION)
    assert client(moto_patched, "s3").get_bucket_encryption(Bucket="patched-sse")[
        "ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    item = client(moto_patched, "config").batch_get_resource_config(
        resourceKeys=[{"resourceType": "AWS::S3::Bucket", "resourceId": "patched-sse"}])["baseConfigurationItems"][0]
    assert json.loads(item["supplementaryConfiguration"]["ServerSideEncryptionConfiguration"]) == {"rules": [{
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256", "kmsMasterKeyID": None},
        "bucketKeyEnabled": False}]}


def _encrypted_table(server: MotoServer) -> dict[str, Any]:
    return client(server, "dynamodb").create_table(
        TableName="sse-table", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"})["TableDescription"]


# ---- the demo estate: every rung, each key read once -----------------------------------------------------

def test_every_rung_of_the_estate_is_read_and_each_key_described_once(tmp_path, moto_estate: SeededMoto, aws_env):
    estate = moto_estate.estate
    prod, japan = estate.member_account_ids["acme-prod-eu"], estate.member_account_ids["acme-analytics-jp"]
    proxy, seen = recording(moto_estate.server.url)
    try:
        aws_env(proxy.url)
        result, stores = scan(tmp_path, ["s3", "rds", "dynamodb", "ebs", "backup"],
                              [REGION, "eu-west-1", "us-east-1", "us-west-2", "ap-northeast-1"], [prod, japan])
    finally:
        proxy.stop()
    assert result.status == "complete"
    custody = {seeded.name: seeded for seeded in estate.manifest if seeded.custody}
    assert {stores[(prod, name)].encryption.custody for name in custody} == {
        "customer_managed_in_provider_kms", "customer_controlled_hsm_in_provider", "external_key_manager",
        "client_side"}
    for name, seeded in custody.items():
        assert stores[(prod, name)].encryption.custody == seeded.custody, name
    external = stores[(prod, "acme-prod-eu-contracts-fra")].encryption
    assert (external.key_store, external.key_region, external.key_country, external.key_operator) == (
        XKS_PROXY, REGION, "DE", "eurobank")
    hsm = stores[(prod, "acme-prod-eu-health-fra")].encryption
    assert (hsm.key_region, hsm.key_country, hsm.key_store) == (REGION, "DE", None)
    ledger = stores[(prod, "acme-prod-eu-ledger-archive-fra")]
    assert ledger.encryption.replica_regions == [MRK_REPLICA_REGION]
    assert {(loc.region, loc.role, loc.country) for loc in ledger.locations} == {
        (REGION, "primary", "DE"), (MRK_REPLICA_REGION, "key", "US")}
    escrow = stores[(prod, "acme-prod-eu-escrow-fra")].encryption
    assert escrow.declared and escrow.custody == "client_side"

    # SSE-S3 through both paths: AWS Config's item (acme-prod-eu records S3) and GetBucketEncryption (Japan does not)
    fra = stores[(prod, "acme-prod-eu-customers-fra")].encryption
    assert (fra.custody, fra.scheme) == ("provider_managed", "SSE-S3")
    assert "ServerSideEncryptionConfiguration" in fra.learned_from
    tokyo = stores[(japan, "acme-analytics-jp-events-tyo")].encryption
    assert tokyo.custody == "provider_managed" and tokyo.learned_from.startswith("GetBucketEncryption")
    # the other kinds: RDS with a customer managed key, DynamoDB's AWS owned key, an unencrypted snapshot
    orders = stores[(prod, "acme-prod-eu-orders")].encryption
    assert (orders.custody, orders.key_region) == ("customer_managed_in_provider_kms", REGION)
    assert orders.key.startswith(f"arn:aws:kms:{REGION}:{prod}:key/")
    assert stores[(prod, "acme-prod-eu-sessions")].encryption.custody == "provider_managed"
    snapshots = [s for s in stores.values() if s.kind == "ebs-snapshot"]
    assert snapshots and {s.encryption.scheme for s in snapshots} == {"none (not encrypted at rest)"}
    assert {s.encryption.custody for s in stores.values() if s.kind == "backup-vault"} == {"provider_managed"}

    described = kms_calls(seen, "DescribeKey")
    assert described and max(described.values()) == 1, described  # each key once per scan
    key_stores = kms_calls(seen, "DescribeCustomKeyStores")
    assert sum(key_stores.values()) == 1  # one region of one account holds keys in custom key stores
    assert any(r.service == "s3" and r.path.endswith("?encryption") for r in seen)  # Japan: per bucket


# ---- a key that moves to an external key manager in the EU ---------------------------------------------

def test_a_bucket_passes_once_its_key_moves_to_an_external_key_manager_in_the_eu(tmp_path, moto_patched, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    seed_key_custody(clients, MANAGEMENT_ACCOUNT_ID)
    _, stores = scan(tmp_path, ["s3"], [REGION], policy=ACCEPTING)
    payroll = stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-payroll-fra")]
    assert payroll.encryption.custody == "customer_managed_in_provider_kms"
    us = next(reach for reach in payroll.reachable_by if reach.jurisdiction == "US")
    assert {ground["access"] for ground in us.grounds} == {"plaintext"}
    assert payroll.status == "fail" and "US" in {f.jurisdiction for f in payroll.findings}
    contracts = stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-contracts-fra")]
    assert contracts.status == "pass", contracts.findings

    xks_key = stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-contracts-fra")].encryption.key
    clients("s3", REGION).put_bucket_encryption(Bucket="acme-prod-eu-payroll-fra", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": xks_key}}]})
    _, stores = scan(tmp_path, ["s3"], [REGION], policy=ACCEPTING)
    payroll = stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-payroll-fra")]
    assert (payroll.encryption.custody, payroll.encryption.key_country) == ("external_key_manager", "DE")
    us = next(reach for reach in payroll.reachable_by if reach.jurisdiction == "US")
    assert {ground["access"] for ground in us.grounds} == {"plaintext_while_key_released"}
    assert payroll.status == "pass", payroll.findings
    # the multi-region key's replica in the US is key material on US soil: that reach is plaintext, and fails
    ledger = stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-ledger-archive-fra")]
    assert ledger.status == "fail" and "US" in {f.jurisdiction for f in ledger.findings}


# ---- denied reads: unknown, never a better rung ----------------------------------------------------------

@pytest.mark.parametrize(("denied", "fault", "reason"), [
    (lambda r: r.service == "kms" and (r.target or "").endswith(".DescribeKey"), DENIED_JSON, "kms:DescribeKey"),
    (lambda r: r.service == "s3" and r.path.endswith("?encryption"), DENIED, "s3:GetBucketEncryption"),
])
def test_a_denied_key_read_gives_unknown_and_the_kind_still_scans(tmp_path, moto_patched, aws_env, denied, fault,
                                                                  reason):
    seed_key_custody(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID)
    proxy, _ = recording(moto_patched.url, (denied, fault))
    try:
        aws_env(proxy.url)
        result, stores = scan(tmp_path, ["s3"], [REGION], policy=ACCEPTING)
    finally:
        proxy.stop()
    assert {(t.service, t.status) for t in result.targets if t.service == "s3"} == {("s3", "ok")}
    contracts = stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-contracts-fra")]
    assert contracts.encryption.custody == "unknown" and reason in contracts.encryption.reason
    assert "AccessDenied" in contracts.encryption.reason
    us = next(reach for reach in contracts.reachable_by if reach.jurisdiction == "US")
    assert {ground["access"] for ground in us.grounds} == {"unknown"}
    assert contracts.status == "fail"  # the same bucket passes when its key can be read (test above)
    assert stores[(MANAGEMENT_ACCOUNT_ID, "acme-prod-eu-escrow-fra")].encryption.custody == "client_side"
