"""Who holds the keys: each provider setting maps to the rung its documentation describes, and each reach says
what its addressee could be made to hand over (EDPB Recommendations 01/2020 v2.0, Annex 2)."""

from __future__ import annotations

import pytest

from scanner.catalog import EntityRecord
from scanner.config import KeyStore
from scanner.custody import KeyFacts, aws_custody, azure_custody, gcp_custody
from scanner.policy import Policy, Scope
from tests.helpers import bucket, config, judge, reach_of


@pytest.mark.parametrize(("sse", "manager", "origin", "rung"), [
    ("AES256", None, None, "provider_managed"),  # SSE-S3: S3-managed keys
    ("aws:kms", "AWS", "AWS_KMS", "provider_managed"),  # the AWS managed key aws/s3
    ("aws:kms", "CUSTOMER", "AWS_KMS", "customer_managed_in_provider_kms"),
    ("aws:kms:dsse", "CUSTOMER", "EXTERNAL", "customer_managed_in_provider_kms"),  # imported material, held by KMS
    ("aws:kms", "CUSTOMER", "AWS_CLOUDHSM", "customer_controlled_hsm_in_provider"),
    ("aws:kms", "CUSTOMER", "EXTERNAL_KEY_STORE", "external_key_manager"),
    ("aws:kms", None, None, "unknown"),  # DescribeKey denied: never a better rung
    (None, None, None, "unknown"),
])
def test_aws_settings_map_to_the_documented_rung(sse, manager, origin, rung):
    """AWS KMS API reference, KeyMetadata: KeyManager AWS | CUSTOMER; Origin AWS_KMS | EXTERNAL | AWS_CLOUDHSM |
    EXTERNAL_KEY_STORE; S3 ServerSideEncryptionByDefault.SSEAlgorithm AES256 | aws:kms | aws:kms:dsse."""
    assert aws_custody(sse, manager, origin) == rung


def test_azure_and_gcp_settings_map_to_the_documented_rung():
    """Azure Storage encryption.keySource Microsoft.Storage | Microsoft.Keyvault (a Managed HSM URI is
    *.managedhsm.azure.net); Cloud KMS protectionLevel SOFTWARE | HSM | EXTERNAL | EXTERNAL_VPC (Cloud EKM)."""
    assert azure_custody("Microsoft.Storage", None) == "provider_managed"
    assert azure_custody("Microsoft.Keyvault", "https://v.vault.azure.net/keys/k") == "customer_managed_in_provider_kms"
    assert azure_custody("Microsoft.Keyvault", "https://h.managedhsm.azure.net/keys/k") == \
        "customer_controlled_hsm_in_provider"
    assert azure_custody(None, None) == "unknown"
    assert gcp_custody(None, None) == "provider_managed"
    assert gcp_custody("projects/p/locations/eu/keyRings/r/cryptoKeys/k", "HSM") == "customer_managed_in_provider_kms"
    assert gcp_custody("projects/p/locations/eu/keyRings/r/cryptoKeys/k", "EXTERNAL_VPC") == "external_key_manager"
    assert gcp_custody("projects/p/locations/eu/keyRings/r/cryptoKeys/k", None) == "unknown"  # key not readable
    assert gcp_custody(None, None, read=False) == "unknown"


XKS = "arn:aws:kms:eu-central-1:111111111111:key/xks-1"


def encrypted(facts: KeyFacts | None, tags: dict | None = None):
    found = bucket(("eu-central-1", "primary"), tags=tags)
    found.encryption = facts
    return found


def with_key_store(operator: str = "eurobank"):
    cfg = config(owner="eurobank")
    cfg.key_stores["xks.example.eu"] = KeyStore("xks.example.eu", "DE", operator)
    return cfg


def test_external_key_manager_in_the_eu_leaves_the_us_plaintext_only_while_the_key_is_released():
    facts = KeyFacts("external_key_manager", "kms:DescribeKey", "aws:kms", XKS, "eu-central-1",
                     key_store="https://xks.example.eu/kms/xks/v1")
    store = judge(encrypted(facts), with_key_store())
    assert store.encryption.custody == "external_key_manager"
    assert (store.encryption.key_country, store.encryption.key_operator) == ("DE", "eurobank")
    assert reach_of(store, "US").access == "plaintext_while_key_released"
    assert reach_of(store, "DE").access == "plaintext"  # the key store is on German soil, and its owner is German
    accepting = Policy("eu", ("EU",), Scope(), accept_access=("ciphertext_only", "plaintext_while_key_released"))
    strict = Policy("eu", ("EU",), Scope(), accept_access=("ciphertext_only",))
    passing = judge(encrypted(facts), with_key_store(), policies=[accepting])
    failing = judge(encrypted(facts), with_key_store(), policies=[strict])
    assert "US" not in {f.jurisdiction for f in passing.findings}
    assert "US" in {f.jurisdiction for f in failing.findings}


def test_the_same_store_with_a_provider_key_fails():
    facts = KeyFacts("customer_managed_in_provider_kms", "kms:DescribeKey", "aws:kms", XKS, "eu-central-1")
    accepting = Policy("eu", ("EU",), Scope(), accept_access=("ciphertext_only", "plaintext_while_key_released"))
    store = judge(encrypted(facts), config(owner="eurobank"), policies=[accepting])
    assert reach_of(store, "US").access == "plaintext"
    assert store.status == "fail" and "US" in {f.jurisdiction for f in store.findings}


def test_declared_client_side_encryption_leaves_providers_only_ciphertext():
    store = judge(encrypted(None, tags={"encryption": "client-side"}), config(owner="eurobank"))
    assert store.encryption.custody == "client_side" and store.encryption.declared
    assert reach_of(store, "US").access == "ciphertext_only"
    german = reach_of(store, "DE")
    assert german.access == "ciphertext_only"  # the copy on German soil is ciphertext
    records = next(g for g in german.grounds if g["chain"] == "owner")
    assert records["access"] == "plaintext"  # the owner's own state reaches its records, keys included


def test_unknown_custody_is_never_a_better_rung_and_never_accepted():
    facts = KeyFacts("unknown", "kms:DescribeKey", "aws:kms", XKS, "eu-central-1", reason="AccessDenied")
    accepting = Policy("eu", ("EU",), Scope(), accept_access=("ciphertext_only", "plaintext_while_key_released"))
    store = judge(encrypted(facts), config(owner="eurobank"), policies=[accepting])
    assert store.encryption.custody == "unknown" and reach_of(store, "US").access == "unknown"
    assert "US" in {f.jurisdiction for f in store.findings}


def test_a_multi_region_key_replica_abroad_is_a_location_of_key_material():
    facts = KeyFacts("customer_managed_in_provider_kms", "kms:DescribeKey", "aws:kms", "arn:aws:kms:eu-central-1:1:key/"
                     "mrk-1", "eu-central-1", replica_regions=("us-east-1",))
    store = judge(encrypted(facts), config(owner="eurobank"))
    assert {(loc.region, loc.role, loc.country) for loc in store.locations} == {
        ("eu-central-1", "primary", "DE"), ("us-east-1", "key", "US")}
    assert reach_of(store, "US").basis == "location"  # the key's copy on US soil


def test_a_key_store_run_by_the_addressee_gives_it_plaintext():
    """A US company running the external key manager can be made to hand over the key itself."""
    facts = KeyFacts("external_key_manager", "kms:DescribeKey", "aws:kms", XKS, "eu-central-1",
                     key_store="https://xks.example.eu/kms/xks/v1")
    cfg = with_key_store("keyco-us")
    cfg.companies["keyco-us"] = EntityRecord("keyco-us", "KeyCo Inc.", "US", (), "test")
    store = judge(encrypted(facts), cfg)
    assert store.encryption.key_country == "DE"
    assert reach_of(store, "US").access == "plaintext_while_key_released"  # AWS, Inc. does not run the key store
    owner_is_key_holder = config(owner="acme-europe")
    owner_is_key_holder.key_stores["xks.example.eu"] = KeyStore("xks.example.eu", "DE", "acme-inc")
    store = judge(encrypted(facts), owner_is_key_holder)
    us = reach_of(store, "US")
    assert us.access == "plaintext_while_key_released"  # the headline: AWS, Inc. under the CLOUD Act
    subpoena = next(g for g in us.grounds if g["addressee"] == "acme-inc")
    assert subpoena["access"] == "plaintext"  # Acme Inc. runs the key store and owns the data
