"""Azure SQL managed instances and instance failover groups, SQL server failover groups, geo-redundant backups from
the catalog's pair (SQL databases, managed instances, Cosmos DB) and Azure Cache for Redis geo-replication
(scanner/kinds.py). Each is found on the ARM look-alike with its copies' roles and countries, a copy abroad turns a
passing store into a failing one, and a kind that cannot be read is a target not scanned, never "no stores"."""

from __future__ import annotations

import pytest

from demo.arm_server import ArmServer
from tests.fixtures_aws import places
from tests.test_azure_copies import GROUP, SUB, arm, assert_abroad_fails, pair_inferred, scan_azure  # noqa: F401

OTHER_SUB = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1eff"  # a subscription the scans do not cover


def learned(store, region: str) -> str:
    return next(loc.learned_from for loc in store.locations if loc.region == region)


# -- SQL managed instances -----------------------------------------------------------------------------------
def test_managed_instance_failover_group_and_geo_backups(tmp_path, arm: ArmServer):  # noqa: F811
    arm.add_managed_instance(SUB, GROUP, "mi-local", "southeastasia", backup_redundancy="Zone")
    arm.add_managed_instance(SUB, GROUP, "mi-geo", "southeastasia", backup_redundancy="GeoZone")
    primary = arm.add_managed_instance(SUB, GROUP, "mi-primary", "southeastasia")
    secondary = arm.add_managed_instance(SUB, "rg-dr", "mi-dr", "australiaeast")
    arm.add_instance_failover_group("fog-sg", primary, secondary)

    result, stores = scan_azure(tmp_path, arm, ["sqlmi"])

    assert result.status == "complete"
    assert {store.kind for store in stores.values()} == {"azure-sql-managed-instance"}
    assert places(stores["mi-local"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["mi-geo"]) == {("southeastasia", "primary", "SG"), ("eastasia", "backup", "HK")}
    assert pair_inferred(stores["mi-geo"], "eastasia")
    assert places(stores["mi-primary"]) == {("southeastasia", "primary", "SG"), ("australiaeast", "replica", "AU")}
    assert places(stores["mi-dr"]) == {("australiaeast", "replica", "AU"), ("southeastasia", "primary", "SG")}
    assert "managedInstancePairs" in learned(stores["mi-primary"], "australiaeast")
    # one InstanceFailoverGroups_ListByLocation per resource group and location that holds an instance
    listed = [path for _, path in arm.requests if "/instanceFailoverGroups" in path]
    assert len(listed) == 2
    assert_abroad_fails(tmp_path, arm, ["sqlmi"], "mi-local", "mi-geo", "HK")


def test_managed_instance_partner_outside_the_scan_comes_from_partner_regions(tmp_path, arm: ArmServer):  # noqa: F811
    primary = arm.add_managed_instance(SUB, GROUP, "mi-primary", "southeastasia")
    elsewhere = arm.add_managed_instance(OTHER_SUB, "rg-x", "mi-elsewhere", "japaneast")
    arm.add_instance_failover_group("fog-jp", primary, elsewhere)

    _, stores = scan_azure(tmp_path, arm, ["sqlmi"])

    assert set(stores) == {"mi-primary"}
    assert places(stores["mi-primary"]) == {("southeastasia", "primary", "SG"), ("japaneast", "replica", "JP")}
    assert learned(stores["mi-primary"], "japaneast") == "InstanceFailoverGroup.properties.partnerRegions.location"


def test_managed_instance_backup_redundancy_not_reported_is_never_a_pass(tmp_path, arm: ArmServer):  # noqa: F811
    arm.add_managed_instance(SUB, GROUP, "mi-quiet", "southeastasia", backup_redundancy=None)

    _, stores = scan_azure(tmp_path, arm, ["sqlmi"])

    quiet = stores["mi-quiet"]
    assert places(quiet) == {("southeastasia", "primary", "SG")}
    assert any("currentBackupStorageRedundancy was not reported" in unknown for unknown in quiet.unknowns)
    assert quiet.status != "pass"


# -- SQL databases: failover groups and geo-redundant backups ---------------------------------------------------
def test_sql_failover_group_places_the_partner_server_on_every_database(tmp_path, arm: ArmServer):  # noqa: F811
    sg = arm.add_sql_server(SUB, GROUP, "sg-sql", "southeastasia")
    hk = arm.add_sql_server(SUB, "rg-dr", "hk-sql", "eastasia")
    arm.add_sql_database(SUB, GROUP, "sg-sql", "local", "southeastasia")
    orders = arm.add_sql_database(SUB, GROUP, "sg-sql", "orders", "southeastasia")
    linked = arm.add_sql_database(SUB, GROUP, "sg-sql", "linked", "southeastasia")
    dr_orders = arm.add_sql_database(SUB, "rg-dr", "hk-sql", "orders", "eastasia")
    dr_linked = arm.add_sql_database(SUB, "rg-dr", "hk-sql", "linked", "eastasia")
    # `linked` is geo-replicated with a replication link too, as Azure does for a failover group's databases
    arm.add_replication_link(SUB, GROUP, "sg-sql", "linked", partner_server="hk-sql", partner_location="eastasia",
                             role="Primary", partner_role="Secondary")
    arm.add_failover_group("fog-orders", (sg, [orders["id"], linked["id"]]), (hk, [dr_orders["id"], dr_linked["id"]]))

    result, stores = scan_azure(tmp_path, arm, ["sql"])

    assert result.status == "complete"
    assert places(stores["sg-sql/local"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["sg-sql/orders"]) == {("southeastasia", "primary", "SG"), ("eastasia", "replica", "HK")}
    assert learned(stores["sg-sql/orders"], "eastasia") == "FailoverGroup.properties.partnerServers.location"
    # the secondary server's databases: their own region is a replica, the partner the primary
    assert places(stores["hk-sql/orders"]) == {("eastasia", "replica", "HK"), ("southeastasia", "primary", "SG")}
    # the replication link and the failover group name the same region: recorded once, from the link
    assert [loc.region for loc in stores["sg-sql/linked"].locations] == ["southeastasia", "eastasia"]
    assert learned(stores["sg-sql/linked"], "eastasia") == "ReplicationLink.partnerLocation"
    assert_abroad_fails(tmp_path, arm, ["sql"], "sg-sql/local", "sg-sql/orders", "HK")


@pytest.mark.parametrize("redundancy", ["Geo", "GeoZone"])
def test_sql_database_geo_backups_are_in_the_pair(tmp_path, arm: ArmServer, redundancy):  # noqa: F811
    arm.add_sql_server(SUB, GROUP, "sg-sql", "southeastasia")
    arm.add_sql_database(SUB, GROUP, "sg-sql", "local", "southeastasia", backup_redundancy="Local")
    arm.add_sql_database(SUB, GROUP, "sg-sql", "geo", "southeastasia", backup_redundancy=redundancy)
    arm.add_sql_database(SUB, GROUP, "sg-sql", "quiet", "southeastasia", backup_redundancy=None)

    _, stores = scan_azure(tmp_path, arm, ["sql"])

    assert places(stores["sg-sql/local"]) == {("southeastasia", "primary", "SG")}
    assert not stores["sg-sql/local"].unknowns
    assert places(stores["sg-sql/geo"]) == {("southeastasia", "primary", "SG"), ("eastasia", "backup", "HK")}
    assert pair_inferred(stores["sg-sql/geo"], "eastasia")
    assert f"currentBackupStorageRedundancy {redundancy}" in learned(stores["sg-sql/geo"], "eastasia")
    quiet = stores["sg-sql/quiet"]
    assert any("was not reported" in unknown for unknown in quiet.unknowns) and quiet.status != "pass"
    assert_abroad_fails(tmp_path, arm, ["sql"], "sg-sql/local", "sg-sql/geo", "HK")


# -- Cosmos DB backups ---------------------------------------------------------------------------------------
def test_cosmos_backups_periodic_geo_in_the_pair_continuous_in_its_regions(tmp_path, arm: ArmServer):  # noqa: F811
    arm.add_cosmos_account(SUB, GROUP, "sg-local", [("Southeast Asia", 0)], backup_redundancy="Local")
    arm.add_cosmos_account(SUB, GROUP, "sg-geo", [("Southeast Asia", 0)], backup_redundancy="Geo")
    arm.add_cosmos_account(SUB, GROUP, "sg-continuous", [("Southeast Asia", 0)], continuous_backup=True)
    arm.add_cosmos_account(SUB, GROUP, "sg-quiet", [("Southeast Asia", 0)], backup_redundancy=None)

    _, stores = scan_azure(tmp_path, arm, ["cosmosdb"])

    assert places(stores["sg-local"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["sg-geo"]) == {("southeastasia", "primary", "SG"), ("eastasia", "backup", "HK")}
    assert pair_inferred(stores["sg-geo"], "eastasia")
    assert places(stores["sg-continuous"]) == {("southeastasia", "primary", "SG")}
    assert not stores["sg-local"].unknowns and not stores["sg-continuous"].unknowns
    assert any("backupStorageRedundancy was not reported" in unknown for unknown in stores["sg-quiet"].unknowns)
    assert stores["sg-quiet"].status != "pass"
    assert_abroad_fails(tmp_path, arm, ["cosmosdb"], "sg-continuous", "sg-geo", "HK")


# -- Azure Cache for Redis -------------------------------------------------------------------------------------
def test_redis_geo_replication_primary_and_replica(tmp_path, arm: ArmServer):  # noqa: F811
    arm.add_redis_cache(SUB, GROUP, "sg-standard", "Southeast Asia", sku="Standard")
    primary = arm.add_redis_cache(SUB, GROUP, "sg-cache", "Southeast Asia")
    secondary = arm.add_redis_cache(SUB, "rg-dr", "hk-cache", "East Asia")
    arm.add_redis_link(primary, secondary)

    result, stores = scan_azure(tmp_path, arm, ["redis"])

    assert result.status == "complete"
    assert {store.kind for store in stores.values()} == {"azure-redis-cache"}
    assert places(stores["sg-standard"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["sg-cache"]) == {("southeastasia", "primary", "SG"), ("eastasia", "replica", "HK")}
    assert places(stores["hk-cache"]) == {("eastasia", "replica", "HK"), ("southeastasia", "primary", "SG")}
    assert learned(stores["sg-cache"], "eastasia") == "RedisLinkedServer.properties.linkedRedisCacheLocation"
    # geo-replication is a Premium feature: a Standard cache's links are not asked for
    assert not [path for _, path in arm.requests if "sg-standard/linkedServers" in path]
    assert_abroad_fails(tmp_path, arm, ["redis"], "sg-standard", "sg-cache", "HK")


def test_managed_redis_active_geo_replication_makes_every_linked_region_a_primary(tmp_path, arm: ArmServer):  # noqa: F811
    arm.add_managed_redis(SUB, GROUP, "amr-local", "Southeast Asia")
    sg = arm.add_managed_redis(SUB, GROUP, "amr-sg", "Southeast Asia")
    hk = arm.add_managed_redis(SUB, "rg-dr", "amr-hk", "East Asia")
    elsewhere = arm.add_managed_redis(OTHER_SUB, "rg-x", "amr-jp", "Japan East")
    arm.add_managed_redis_geo_group("sessions", [sg, hk])
    arm.add_managed_redis_geo_group("orphans", [arm.add_managed_redis(SUB, GROUP, "amr-orphan", "Southeast Asia"),
                                                elsewhere])

    result, stores = scan_azure(tmp_path, arm, ["redis"])

    assert result.status == "complete"
    assert {store.kind for store in stores.values()} == {"azure-managed-redis"}
    assert places(stores["amr-local"]) == {("southeastasia", "primary", "SG")}
    assert places(stores["amr-sg"]) == {("southeastasia", "primary", "SG"), ("eastasia", "primary", "HK")}
    assert places(stores["amr-hk"]) == {("eastasia", "primary", "HK"), ("southeastasia", "primary", "SG")}
    assert "geoReplication.linkedDatabases" in learned(stores["amr-sg"], "eastasia")
    # a linked database in a subscription the scan does not cover: its region is an unknown, never a pass
    orphan = stores["amr-orphan"]
    assert places(orphan) == {("southeastasia", "primary", "SG")}
    assert any("amr-jp" in unknown for unknown in orphan.unknowns) and orphan.status != "pass"
    assert_abroad_fails(tmp_path, arm, ["redis"], "amr-local", "amr-sg", "HK")


# -- a kind that cannot be read ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("service", "fragment", "kept"), [
    ("sqlmi", "microsoft.sql/managedinstances", None), ("sqlmi", "instancefailovergroups", "mi"),
    ("redis", "microsoft.cache/redis", None), ("redis", "linkedservers", "cache"),
    ("redis", "microsoft.cache/redisenterprise", "cache"), ("redis", "/databases", "amr"),
    ("sql", "/failovergroups", "sg-sql/orders"),
])
def test_a_kind_that_cannot_be_read_is_a_target_not_scanned(tmp_path, arm: ArmServer, service, fragment,  # noqa: F811
                                                             kept):
    arm.add_managed_instance(SUB, GROUP, "mi", "southeastasia")
    arm.add_redis_cache(SUB, GROUP, "cache", "Southeast Asia")
    arm.add_managed_redis(SUB, GROUP, "amr", "Southeast Asia")
    arm.add_sql_server(SUB, GROUP, "sg-sql", "southeastasia")
    arm.add_sql_database(SUB, GROUP, "sg-sql", "orders", "southeastasia")
    arm.deny_path(fragment)

    result, stores = scan_azure(tmp_path, arm, [service])

    assert result.status == "failed"  # the only service asked for could not be read: never "no stores"
    [target] = [t for t in result.targets if t.service == service]
    assert target.status == "denied" and "AuthorizationFailed" in (target.error or "")
    if kept is None:
        assert not stores
    elif fragment == "microsoft.cache/redisenterprise":  # the classic caches are still listed, the target partial
        assert set(stores) == {"cache"}
    else:  # the stores were listed: kept, with what could not be read said, and never a pass
        assert any("could not be read" in unknown for unknown in stores[kept].unknowns)
        assert stores[kept].status != "pass"
