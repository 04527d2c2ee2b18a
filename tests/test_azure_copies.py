"""Azure copies beyond a resource's own location (scanner/kinds.py): Recovery Services and Backup vaults (geo-redundant
to the catalog's pair), PostgreSQL and MySQL flexible servers (read replicas, geo-redundant backups), blob object
replication, storage accounts whose secondary is reported only by statusOfSecondary, and Cosmos DB multi-region
writes. Each is found on the ARM look-alike with its copies' roles and countries, and a copy abroad turns a passing
store into a failing one; a kind that cannot be read is a target not scanned, never "no stores"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from demo.arm_server import ArmServer
from runtime.cli import prepare, scan_once
from scanner.kinds import PAIR_INFERRED
from scanner.model import DataStore, ScanResult
from tests.fixtures_aws import control_reach, places

SUB = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1eb0"
GROUP = "rg-sp"
HOME = frozenset({"SG"})
# Singapore's Azure region is paired with Hong Kong's: a geo-redundant copy there is abroad, and not in the United
# States, whose reach through Microsoft's control every store has (and the tests waive)


@pytest.fixture
def arm(arm_server: ArmServer, monkeypatch: pytest.MonkeyPatch) -> ArmServer:
    """An ARM server with one subscription of a Singaporean company, its token in AZURE_ACCESS_TOKEN."""
    arm_server.add_subscription(SUB, "acme-sg")
    monkeypatch.setenv("AZURE_ACCESS_TOKEN", arm_server.token)
    return arm_server


def scan_azure(tmp_path: Path, server: ArmServer, services: list[str], waive: frozenset[str] = frozenset()
               ) -> tuple[ScanResult, dict[str, DataStore]]:
    """Scan `services` of the subscription (owned by Acme Asia Pte Ltd, SG; home SG), every finding of the `waive`
    jurisdictions waived; the stores by name."""
    waivers = [{"store": "/subscriptions/*", "jurisdiction": code, "reason": "test: reach through Microsoft's control",
                "approver": "dpo@example.com", "expires": "2099-12-31"} for code in sorted(waive)]
    (tmp_path / "waivers.yaml").write_text(yaml.safe_dump({"waivers": waivers}))
    config = {
        "home": "SG",
        "policies": [str(tmp_path / "waivers.yaml")],
        "companies": [{"id": "acme-sg", "name": "Acme Asia Pte Ltd", "country": "SG"}],
        "accounts": {SUB: {"owner": "acme-sg"}},
        "providers": {"azure": {"arm_endpoint": server.url, "subscriptions": [SUB], "services": services,
                                "retries": 0, "timeout": 10}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result, stores = scan_once(prepare(str(path), []), state=None)
    with stores:
        return result, {store.name: store for store in stores}


def assert_abroad_fails(tmp_path: Path, server: ArmServer, services: list[str], home_only: str, abroad: str,
                        country: str) -> None:
    """With what reaches the home-only store through Microsoft's control waived, it passes, and the copy in
    `country` makes the other one fail."""
    _, stores = scan_azure(tmp_path, server, services)
    _, stores = scan_azure(tmp_path, server, services, waive=control_reach(stores[home_only], HOME))
    assert stores[home_only].status == "pass", stores[home_only].findings
    failing = stores[abroad]
    assert failing.status == "fail"
    assert country in {f.jurisdiction for f in failing.findings if not f.waiver}


def pair_inferred(store: DataStore, region: str) -> bool:
    return any(loc.region == region and loc.learned_from.startswith(PAIR_INFERRED) for loc in store.locations)


def test_recovery_services_vault_geo_copy_is_in_the_pair_and_fails_abroad(tmp_path, arm):
    arm.add_recovery_vault(SUB, GROUP, "rsv-local", "southeastasia", redundancy="LocallyRedundant")
    arm.add_recovery_vault(SUB, GROUP, "rsv-geo", "southeastasia", cross_region_restore="Enabled")

    result, stores = scan_azure(tmp_path, arm, ["backup"])

    assert result.status == "complete"
    local, geo = stores["rsv-local"], stores["rsv-geo"]
    assert local.kind == geo.kind == "azure-recovery-services-vault"
    assert places(local) == {("southeastasia", "primary", "SG")}
    # the catalog's pair of southeastasia is eastasia (Hong Kong), and the copy says it was inferred from it
    assert places(geo) == {("southeastasia", "primary", "SG"), ("eastasia", "replica", "HK")}
    assert pair_inferred(geo, "eastasia")
    assert "crossRegionRestore Enabled" in next(loc.learned_from for loc in geo.locations if loc.role == "replica")
    assert_abroad_fails(tmp_path, arm, ["backup"], "rsv-local", "rsv-geo", "HK")


def test_backup_vault_replicated_regions_and_geo_redundancy(tmp_path, arm):
    arm.add_backup_vault(SUB, GROUP, "bv-local", "southeastasia", redundancy="LocallyRedundant")
    arm.add_backup_vault(SUB, GROUP, "bv-geo", "southeastasia", replicated_regions=["Australia East"])

    result, stores = scan_azure(tmp_path, arm, ["backup"])

    assert result.status == "complete"
    assert stores["bv-geo"].kind == "azure-backup-vault"
    assert places(stores["bv-local"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["bv-geo"]) == {("southeastasia", "primary", "SG"), ("australiaeast", "replica", "AU"),
                                        ("eastasia", "replica", "HK")}
    assert pair_inferred(stores["bv-geo"], "eastasia")
    assert_abroad_fails(tmp_path, arm, ["backup"], "bv-local", "bv-geo", "HK")


@pytest.mark.parametrize("engine", ["PostgreSQL", "MySQL"])
def test_flexible_server_replicas_and_geo_backups(tmp_path, arm, engine):
    service, kind = engine.lower(), f"azure-{engine.lower()}-flexible-server"
    arm.add_flexible_server(SUB, GROUP, engine, "db-local", "Southeast Asia")
    source = arm.add_flexible_server(SUB, GROUP, engine, "db-geo", "Southeast Asia", geo_backup=True)
    arm.add_flexible_server(SUB, GROUP, engine, "db-geo-replica", "Australia East", source_id=source["id"])

    result, stores = scan_azure(tmp_path, arm, [service])

    assert result.status == "complete"
    assert {store.kind for store in stores.values()} == {kind}
    assert places(stores["db-local"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["db-geo"]) == {("southeastasia", "primary", "SG"), ("australiaeast", "replica", "AU"),
                                        ("eastasia", "backup", "HK")}
    assert pair_inferred(stores["db-geo"], "eastasia")
    # the replica sees its source as the primary; its own backups are not geo-redundant
    assert places(stores["db-geo-replica"]) == {("australiaeast", "replica", "AU"),
                                                ("southeastasia", "primary", "SG")}
    assert_abroad_fails(tmp_path, arm, [service], "db-local", "db-geo", "HK")


def test_flexible_server_unknown_source_is_never_a_pass(tmp_path, arm):
    other = "/subscriptions/5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1eff/resourceGroups/x/providers/" \
            "Microsoft.DBforPostgreSQL/flexibleServers/elsewhere"
    arm.add_flexible_server(SUB, GROUP, "PostgreSQL", "pg-orphan", "Southeast Asia", source_id=other)

    _, stores = scan_azure(tmp_path, arm, ["postgresql"])

    orphan = stores["pg-orphan"]
    assert places(orphan) == {("southeastasia", "replica", "SG")}
    assert any("not in a scanned subscription" in unknown for unknown in orphan.unknowns)
    assert orphan.status != "pass"


def test_object_replication_destination_is_a_replica(tmp_path, arm):
    arm.add_storage_account(SUB, GROUP, "sglocal", "southeastasia", "Standard_LRS")
    arm.add_storage_account(SUB, GROUP, "sgdocs", "southeastasia", "Standard_LRS")
    arm.add_storage_account(SUB, GROUP, "hkcopy", "eastasia", "Standard_LRS")
    arm.add_object_replication_policy(SUB, GROUP, "sgdocs", "hkcopy")
    arm.add_object_replication_policy(SUB, GROUP, "sglocal", "elsewhere")  # not in the listing

    result, stores = scan_azure(tmp_path, arm, ["storage"])

    assert result.status == "complete"
    assert places(stores["sgdocs"]) == {("southeastasia", "primary", "SG"), ("eastasia", "replica", "HK")}
    assert [loc.learned_from for loc in stores["sgdocs"].locations if loc.role == "replica"] == [
        "ObjectReplicationPolicy.destinationAccount → that account's location"]
    # the policy as the destination account holds it adds nothing there
    assert places(stores["hkcopy"]) == {("eastasia", "primary", "HK")}
    assert any("account elsewhere" in unknown for unknown in stores["sglocal"].unknowns)
    assert stores["sglocal"].status != "pass"


def test_object_replication_abroad_fails(tmp_path, arm):
    arm.add_storage_account(SUB, GROUP, "sglocal", "southeastasia", "Standard_LRS")
    arm.add_storage_account(SUB, GROUP, "sgdocs", "southeastasia", "Standard_LRS")
    arm.add_storage_account(SUB, GROUP, "hkcopy", "eastasia", "Standard_LRS")
    arm.add_object_replication_policy(SUB, GROUP, "sgdocs", "hkcopy")
    assert_abroad_fails(tmp_path, arm, ["storage"], "sglocal", "sgdocs", "HK")


def test_status_of_secondary_alone_places_the_secondary_in_the_pair(tmp_path, arm):
    arm.add_storage_account(SUB, GROUP, "sglocal", "southeastasia", "Standard_LRS")
    arm.add_storage_account(SUB, GROUP, "sggeo", "southeastasia", "Standard_RAGRS", status_of_secondary="available")

    _, stores = scan_azure(tmp_path, arm, ["storage"])

    assert places(stores["sggeo"]) == {("southeastasia", "primary", "SG"), ("eastasia", "replica", "HK")}
    assert pair_inferred(stores["sggeo"], "eastasia")
    assert not stores["sggeo"].unknowns
    assert_abroad_fails(tmp_path, arm, ["storage"], "sglocal", "sggeo", "HK")


def test_cosmos_multi_region_writes_make_every_write_region_a_primary(tmp_path, arm):
    arm.add_cosmos_account(SUB, GROUP, "sg-single", [("Southeast Asia", 0)], backup_redundancy="Local")
    arm.add_cosmos_account(SUB, GROUP, "sg-multi", [("Southeast Asia", 0), ("East Asia", 1)],
                           multiple_write_locations=True, backup_redundancy="Local")
    arm.add_cosmos_account(SUB, GROUP, "sg-failover", [("Southeast Asia", 0), ("East Asia", 1)])

    _, stores = scan_azure(tmp_path, arm, ["cosmosdb"])

    assert places(stores["sg-multi"]) == {("southeastasia", "primary", "SG"), ("eastasia", "primary", "HK")}
    assert places(stores["sg-failover"]) == {("southeastasia", "primary", "SG"), ("eastasia", "replica", "HK")}
    assert {loc.learned_from for loc in stores["sg-multi"].locations} == {
        "DatabaseAccount.writeLocations (enableMultipleWriteLocations)"}
    assert_abroad_fails(tmp_path, arm, ["cosmosdb"], "sg-single", "sg-multi", "HK")


@pytest.mark.parametrize(("service", "fragment"), [
    ("backup", "microsoft.recoveryservices"), ("backup", "microsoft.dataprotection"),
    ("postgresql", "microsoft.dbforpostgresql"), ("mysql", "microsoft.dbformysql"),
    ("storage", "objectreplicationpolicies"),
])
def test_a_kind_that_cannot_be_read_is_a_target_not_scanned(tmp_path, arm, service, fragment):
    arm.add_recovery_vault(SUB, GROUP, "rsv", "southeastasia")
    arm.add_backup_vault(SUB, GROUP, "bv", "southeastasia")
    arm.add_flexible_server(SUB, GROUP, "PostgreSQL", "pg", "Southeast Asia")
    arm.add_flexible_server(SUB, GROUP, "MySQL", "my", "Southeast Asia")
    arm.add_storage_account(SUB, GROUP, "spdocs", "southeastasia", "Standard_LRS")
    arm.deny_path(fragment)

    result, stores = scan_azure(tmp_path, arm, [service])

    assert result.status == "failed"  # the only service asked for could not be read: never "no stores"
    [target] = [t for t in result.targets if t.service == service]
    assert target.status == "denied" and "AuthorizationFailed" in (target.error or "")
    if service == "storage":  # the accounts were listed: kept, with what could not be read said
        assert any("object replication" in unknown for unknown in stores["spdocs"].unknowns)
