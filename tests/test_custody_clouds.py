"""Who holds the keys, on Azure and Google Cloud: a real scan of the ARM and Google fakes reads each store's key
and its custody (each key, set, server and vault list once), a key moved to an external key manager in the EU turns
a failing store into a passing one, and a key that cannot be read gives `unknown`, never a better rung."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from demo.arm_server import ArmServer
from demo.azure_estate import CUSTODY, SUB_EU, AzureEstate
from demo.gcp_estate import (
    CMEK_DATASET,
    EKM_VPC_HOST,
    EU_PROJECT,
    KEY_RING,
    KEYED_BUCKETS,
    GcpEstate,
    gcp_accounts,
)
from demo.run import COMPANIES, KEY_STORES, POLICY
from runtime.cli import prepare, scan_once


def scan(tmp_path: Path, providers: dict[str, Any], accounts: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Scan with the demo's policy (eu-keys-held-in-eu accepts plaintext only while a key is released), companies
    and declared key stores."""
    config = {"home": "EU", "policies": [str(POLICY)], "companies": COMPANIES,
              "accounts": accounts, "key_stores": KEY_STORES, "providers": providers}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result, stores = scan_once(prepare(str(path), []), state=None)
    with stores:
        return result, {store.name: store for store in stores}


def us_access(store: Any) -> set[str]:
    return {ground["access"] for reach in store.reachable_by if reach.jurisdiction == "US" for ground in reach.grounds}


# ---- Google Cloud ----------------------------------------------------------------------------------------

def gcp_scan(tmp_path: Path, estate: GcpEstate) -> tuple[Any, dict[str, Any]]:
    return scan(tmp_path, {"gcp": estate.config_section(use_organization=False)}, gcp_accounts())


def test_gcp_every_rung_is_read_each_key_once(tmp_path, gcp_estate: GcpEstate):
    result, stores = gcp_scan(tmp_path, gcp_estate)
    assert result.status == "complete"
    for name, (key, custody) in KEYED_BUCKETS.items():
        encryption = stores[name].encryption
        assert (encryption.custody, encryption.key) == (custody, key), name
    assert stores["nw-escrow-client-side"].encryption.declared
    assert stores["nw-customer-records"].encryption.custody == "provider_managed"  # Google default encryption
    dataset = stores[CMEK_DATASET[1]].encryption
    assert (dataset.custody, dataset.key_region, dataset.key_country) == (
        "customer_managed_in_provider_kms", "europe-west3", "DE")
    ekm = stores["nw-contracts-ekm"].encryption
    assert (ekm.key_store, ekm.key_country, ekm.key_operator) == (
        "https://ekm.northwind.example/v0/keys/contracts", "DE", "northwind-analytics-gmbh")
    vpc = stores["nw-ledger-ekm-vpc"].encryption
    assert (vpc.custody, vpc.key_store, vpc.key_country) == ("external_key_manager", EKM_VPC_HOST, "DE")
    reads = Counter(request.path for request in gcp_estate.kms.requests)
    assert set(reads.values()) == {1}  # the records key serves a bucket and a dataset: read once
    assert f"/v1/{KEY_RING}/cryptoKeys/records" in reads and any("ekmConnections" in path for path in reads)


def test_gcp_bucket_passes_once_its_key_moves_to_cloud_ekm_in_the_eu(tmp_path, gcp_estate: GcpEstate):
    _, stores = gcp_scan(tmp_path, gcp_estate)
    cmek, ekm = stores["nw-contracts-cmek"], stores["nw-contracts-ekm"]
    assert us_access(cmek) == {"plaintext"}
    assert cmek.status == "fail" and {f.policy for f in cmek.findings if not f.waiver} == {"eu-keys-held-in-eu"}
    assert us_access(ekm) == {"plaintext_while_key_released"} and ekm.status == "pass", ekm.findings

    gcp_estate.gcs.buckets["nw-contracts-cmek"]["encryption"]["defaultKmsKeyName"] = ekm.encryption.key
    _, stores = gcp_scan(tmp_path, gcp_estate)
    moved = stores["nw-contracts-cmek"]
    assert (moved.encryption.custody, moved.encryption.key_country) == ("external_key_manager", "DE")
    assert us_access(moved) == {"plaintext_while_key_released"} and moved.status == "pass", moved.findings


def test_gcp_key_that_cannot_be_read_is_unknown(tmp_path, gcp_estate: GcpEstate):
    gcp_estate.kms.deny(EU_PROJECT)
    result, stores = gcp_scan(tmp_path, gcp_estate)
    assert {(t.account, t.service, t.status) for t in result.targets if t.account == EU_PROJECT} >= {
        (EU_PROJECT, "storage", "ok"), (EU_PROJECT, "bigquery", "ok")}
    for name, (key, _) in KEYED_BUCKETS.items():
        encryption = stores[name].encryption
        if key:
            assert encryption.custody == "unknown" and "cloudkms.cryptoKeys.get: HTTP 403" in encryption.reason, name
    assert stores["nw-customer-records"].encryption.custody == "provider_managed"  # no key to read
    ekm = stores["nw-contracts-ekm"]
    assert us_access(ekm) == {"unknown"} and ekm.status == "fail"  # unknown is never accepted


# ---- Azure -----------------------------------------------------------------------------------------------

def azure_scan(tmp_path: Path, estate: AzureEstate) -> tuple[Any, dict[str, Any]]:
    return scan(tmp_path, {"azure": estate.provider_section()}, estate.accounts())


def test_azure_every_rung_is_read_each_set_server_and_vault_list_once(tmp_path, azure_estate: AzureEstate,
                                                                      arm_server: ArmServer):
    result, stores = azure_scan(tmp_path, azure_estate)
    assert result.status == "complete"
    for name, custody in CUSTODY.items():
        assert stores[name].encryption.custody == custody, name
    hsm = stores["acmeeuhealth"].encryption
    assert (hsm.custody, hsm.key, hsm.key_region, hsm.key_country) == (
        "customer_controlled_hsm_in_provider", "https://acme-eu-hsm.managedhsm.azure.net", "germanywestcentral", "DE")
    assert "infrastructure encryption" in stores["acmeeucontracts"].encryption.scheme
    assert stores["acme-br-sql/orders"].encryption.key_region == "brazilsouth"
    assert stores["acme-us-sql-dr/orders"].encryption.custody == "provider_managed"  # service-managed TDE
    assert stores["acmeeulogs"].encryption.custody == "provider_managed"  # Microsoft-managed keys
    assert stores["vm-eu-app01_OsDisk_1"].encryption.custody == "provider_managed"  # platform-managed key
    paths = Counter(path.split("?")[0].lower() for _, path in arm_server.requests)
    key_reads = {path: count for path, count in paths.items()
                 if "diskencryptionsets" in path or "encryptionprotector" in path or path.endswith("/resources")}
    assert key_reads and set(key_reads.values()) == {1}, key_reads  # the set serves a disk and a snapshot
    assert sum(1 for path in key_reads if path.endswith("/resources")) == 2  # the EU and Brazil subscriptions


def test_azure_key_reads_denied_give_unknown(tmp_path, azure_estate: AzureEstate, arm_server: ArmServer):
    arm_server.deny_path("diskencryptionsets")
    arm_server.deny_path("encryptionprotector")
    result, stores = azure_scan(tmp_path, azure_estate)
    assert {t.status for t in result.targets if t.service in ("disks", "snapshots", "sql")} == {"ok"}
    for name in ("vm-eu-db01_DataDisk_0", "vm-eu-db01-data-2024-03", "acme-br-sql/orders"):
        encryption = stores[name].encryption
        assert encryption.custody == "unknown" and "AuthorizationFailed" in encryption.reason, name
        assert us_access(stores[name]) == {"unknown"}
    assert stores["acmeeuhealth"].encryption.custody == "customer_controlled_hsm_in_provider"
    assert stores["vm-eu-app01_OsDisk_1"].encryption.custody == "provider_managed"
    assert SUB_EU in {store.account for store in stores.values()}
