"""Google Cloud databases read per project (providers/gcp_copies.py): Spanner instances with every replica of their
instance configuration, Firestore databases, Cloud SQL instances with their replicas and backup location, Bigtable
instances with every cluster, AlloyDB clusters with their secondaries and backups, Filestore instances with their
backups, Memorystore for Redis instances and clusters with their cross-region secondaries. Each is found on the
databases fake with its copies' roles and countries, a copy abroad turns a passing store into a failing one, and a
kind that cannot be read is a target not scanned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from demo.gcp_databases_server import FakeDatabasesServer
from providers.gcp_copies import ENDPOINTS, alloydb_cluster_stores
from runtime.cli import prepare, scan_once
from scanner.model import DataStore, ScanResult
from tests.fixtures_aws import control_reach, places

PROJECT = "northwind-dbs-eu"
HOME = frozenset({"EU", "DE"})


@pytest.fixture
def dbs() -> Iterator[FakeDatabasesServer]:
    server = FakeDatabasesServer(page_size=1).start()  # every listing crosses pages
    try:
        yield server
    finally:
        server.stop()


def scan_gcp(tmp_path: Path, server: FakeDatabasesServer, services: list[str], waive: frozenset[str] = frozenset()
             ) -> tuple[ScanResult, dict[str, DataStore]]:
    """Scan `services` of the project (owned by Northwind Analytics GmbH, DE; home EU), every finding of the
    `waive` jurisdictions waived; the stores by name."""
    waivers = [{"store": "//*", "jurisdiction": code, "reason": "test: reach through Google's control",
                "approver": "dpo@example.com", "expires": "2099-12-31"} for code in sorted(waive)]
    (tmp_path / "waivers.yaml").write_text(yaml.safe_dump({"waivers": waivers}))
    section = {"projects": [PROJECT], "services": services, "emulator": True, "timeout": 10, "retry_seconds": 0,
               **{key: server.endpoint(service) for service, (key, _) in ENDPOINTS.items()}}
    config = {
        "home": "EU",
        "policies": [str(tmp_path / "waivers.yaml")],
        "companies": [{"id": "northwind", "name": "Northwind Analytics GmbH", "country": "DE"}],
        "accounts": {PROJECT: {"owner": "northwind"}},
        "providers": {"gcp": section},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result, stores = scan_once(prepare(str(path), []), state=None)
    with stores:
        return result, {store.name: store for store in stores}


def assert_abroad_fails(tmp_path: Path, server: FakeDatabasesServer, services: list[str], home_only: str,
                        abroad: str, country: str) -> None:
    """With what reaches the EU-only store through Google's control waived, it passes, and the copy in `country`
    makes the other one fail."""
    _, stores = scan_gcp(tmp_path, server, services)
    _, stores = scan_gcp(tmp_path, server, services, waive=control_reach(stores[home_only], HOME))
    assert stores[home_only].status == "pass", stores[home_only].findings
    assert stores[abroad].status == "fail"
    assert country in {f.jurisdiction for f in stores[abroad].findings if not f.waiver}


def test_spanner_multi_continent_configuration_is_expanded_to_its_replicas(tmp_path, dbs):
    dbs.add_spanner_instance(PROJECT, "ledger-eu", "eur3")
    dbs.add_spanner_instance(PROJECT, "ledger-fra", "regional-europe-west3")
    dbs.add_spanner_instance(PROJECT, "ledger-global", "nam-eur-asia1")

    result, stores = scan_gcp(tmp_path, dbs, ["spanner"])

    assert result.status == "complete"
    assert stores["ledger-fra"].kind == "spanner-instance"
    assert places(stores["ledger-fra"]) == {("europe-west3", "primary", "DE")}
    assert places(stores["ledger-eu"]) == {("europe-west1", "primary", "BE"), ("europe-west4", "primary", "NL"),
                                           ("europe-north1", "replica", "FI")}
    assert places(stores["ledger-global"]) == {
        ("us-central1", "primary", "US"), ("us-central2", "primary", "US"), ("europe-west1", "replica", "BE"),
        ("asia-east1", "replica", "TW"), ("us-east1", "replica", "US")}
    learned = {loc.region: loc.learned_from for loc in stores["ledger-global"].locations}
    assert learned["asia-east1"] == "instanceConfigs.get nam-eur-asia1 replicas: READ_ONLY"
    assert learned["us-east1"] == "instanceConfigs.get nam-eur-asia1 replicas: WITNESS"
    # one instanceConfigs.get per configuration in use
    assert sum("/instanceConfigs/" in path for path in dbs.paths()) == 3
    assert_abroad_fails(tmp_path, dbs, ["spanner"], "ledger-eu", "ledger-global", "TW")


def test_spanner_unreadable_configuration_falls_back_to_the_catalog_and_is_not_complete(tmp_path, dbs):
    dbs.add_spanner_instance(PROJECT, "ledger-nam3", "nam3")  # the fake does not describe nam3: 404

    result, stores = scan_gcp(tmp_path, dbs, ["spanner"])

    [target] = [t for t in result.targets if t.service == "spanner"]
    assert target.status == "error" and "instanceConfigs.get" in (target.error or "")
    store = stores["ledger-nam3"]
    # the configuration id, expanded by the catalog's spans of nam3
    assert places(store) == {("us-east4", "primary", "US"), ("us-east1", "primary", "US"),
                             ("us-central1", "primary", "US")}
    assert all(loc.learned_from.startswith("instances.list config nam3") for loc in store.locations)
    assert any("nam3 could not be read" in unknown for unknown in store.unknowns)


def test_firestore_multi_regions_and_regional_databases(tmp_path, dbs):
    dbs.add_firestore_database(PROJECT, "(default)", "eur3")
    dbs.add_firestore_database(PROJECT, "tokyo", "asia-northeast1")

    result, stores = scan_gcp(tmp_path, dbs, ["firestore"])

    assert result.status == "complete"
    eur3 = stores["(default)"]
    assert eur3.kind == "firestore-database"
    assert places(eur3) == {("europe-west1", "primary", "BE"), ("europe-west4", "primary", "NL"),
                            ("europe-north1", "primary", "FI")}  # eur3, expanded by the catalog
    assert places(stores["tokyo"]) == {("asia-northeast1", "primary", "JP")}
    assert_abroad_fails(tmp_path, dbs, ["firestore"], "(default)", "tokyo", "JP")


def test_cloudsql_replicas_and_backup_location(tmp_path, dbs):
    dbs.add_sql_instance(PROJECT, "sql-local", "europe-west3", backup_location="europe-west3")
    dbs.add_sql_instance(PROJECT, "sql-dr", "europe-west3", backup_location="europe-west1")
    dbs.add_sql_instance(PROJECT, "sql-dr-zurich", "europe-west6", master="sql-dr")
    dbs.add_sql_instance(PROJECT, "sql-backup-tokyo", "europe-west3", backup_location="asia-northeast1")
    dbs.add_sql_instance(PROJECT, "sql-default-backups", "europe-west3")

    result, stores = scan_gcp(tmp_path, dbs, ["cloudsql"])

    assert result.status == "complete"
    assert stores["sql-local"].kind == "cloudsql-instance"
    assert places(stores["sql-local"]) == {("europe-west3", "primary", "DE")}
    assert places(stores["sql-dr"]) == {("europe-west3", "primary", "DE"), ("europe-west6", "replica", "CH"),
                                        ("europe-west1", "backup", "BE")}
    assert places(stores["sql-dr-zurich"]) == {("europe-west6", "replica", "CH"), ("europe-west3", "primary", "DE")}
    assert places(stores["sql-backup-tokyo"]) == {("europe-west3", "primary", "DE"),
                                                  ("asia-northeast1", "backup", "JP")}
    default = stores["sql-default-backups"]
    assert any("multi-region nearest the instance" in unknown for unknown in default.unknowns)
    assert default.status != "pass"  # an unnamed backup location is never a pass
    assert_abroad_fails(tmp_path, dbs, ["cloudsql"], "sql-local", "sql-backup-tokyo", "JP")
    assert_abroad_fails(tmp_path, dbs, ["cloudsql"], "sql-local", "sql-dr", "CH")


def test_bigtable_instance_with_every_cluster(tmp_path, dbs):
    dbs.add_bigtable_instance(PROJECT, "ticks-eu", ["europe-west3-a", "europe-west1-b"], labels={"team": "risk"})
    dbs.add_bigtable_instance(PROJECT, "ticks-global", ["europe-west3-b", "asia-northeast1-a"])

    result, stores = scan_gcp(tmp_path, dbs, ["bigtable"])

    assert result.status == "complete"
    eu = stores["ticks-eu"]
    assert (eu.kind, eu.tags) == ("bigtable-instance", {"team": "risk"})
    assert places(eu) == {("europe-west3", "primary", "DE"), ("europe-west1", "primary", "BE")}
    assert places(stores["ticks-global"]) == {("europe-west3", "primary", "DE"), ("asia-northeast1", "primary", "JP")}
    assert_abroad_fails(tmp_path, dbs, ["bigtable"], "ticks-eu", "ticks-global", "JP")


def test_bigtable_failed_locations_make_the_target_not_scanned(tmp_path, dbs):
    dbs.add_bigtable_instance(PROJECT, "ticks-eu", ["europe-west3-a"])
    dbs.failed_locations[PROJECT] = [f"projects/{PROJECT}/locations/asia-northeast1-a"]

    result, stores = scan_gcp(tmp_path, dbs, ["bigtable"])

    assert result.status == "failed"
    [target] = [t for t in result.targets if t.service == "bigtable"]
    assert target.status == "error" and "asia-northeast1-a" in (target.error or "")
    assert any("clusters there are not known" in unknown for unknown in stores["ticks-eu"].unknowns)


@pytest.mark.parametrize("service", ["spanner", "firestore", "cloudsql", "bigtable", "alloydb", "filestore", "redis"])
def test_a_denied_project_is_a_target_not_scanned(tmp_path, dbs, service):
    dbs.add_spanner_instance(PROJECT, "ledger", "regional-europe-west3")
    dbs.add_firestore_database(PROJECT, "(default)", "eur3")
    dbs.add_sql_instance(PROJECT, "sql", "europe-west3", backup_location="europe-west3")
    dbs.add_bigtable_instance(PROJECT, "ticks", ["europe-west3-a"])
    dbs.add_alloydb_cluster(PROJECT, "europe-west3", "orders")
    dbs.add_filestore_instance(PROJECT, "europe-west3-a", "share")
    dbs.add_redis_instance(PROJECT, "europe-west3-a", "sessions")
    dbs.deny(PROJECT)

    result, stores = scan_gcp(tmp_path, dbs, [service])

    assert result.status == "failed"  # never "no stores"
    [target] = [t for t in result.targets if t.service == service]
    assert target.status == "denied" and "403" in (target.error or "")
    assert stores == {}


# --- AlloyDB, Filestore, Memorystore: listed over every location (locations/-) ---------------------------------
def cluster(region: str, name: str, project: str = PROJECT) -> str:
    return f"projects/{project}/locations/{region}/clusters/{name}"


def test_alloydb_secondary_clusters_and_backups(tmp_path, dbs):
    dbs.add_alloydb_cluster(PROJECT, "europe-west3", "orders-eu", backup_location="europe-west1",
                            labels={"data-class": "personal"})
    dbs.add_alloydb_cluster(PROJECT, "europe-west4", "orders-eu-dr", primary=cluster("europe-west3", "orders-eu"))
    dbs.add_alloydb_cluster(PROJECT, "europe-west3", "orders-global")
    dbs.add_alloydb_cluster(PROJECT, "asia-northeast1", "orders-global-tokyo",
                            primary=cluster("europe-west3", "orders-global"))
    dbs.add_alloydb_cluster(PROJECT, "europe-west3", "orders-archive", automated_backups=False)
    dbs.add_alloydb_backup(PROJECT, "europe-west6", "archive-copy", cluster("europe-west3", "orders-archive"))

    result, stores = scan_gcp(tmp_path, dbs, ["alloydb"])

    assert result.status == "complete"
    eu = stores["orders-eu"]
    assert (eu.kind, eu.tags) == ("alloydb-cluster", {"data-class": "personal"})
    assert eu.id == f"//alloydb.googleapis.com/{cluster('europe-west3', 'orders-eu')}"
    assert places(eu) == {("europe-west3", "primary", "DE"), ("europe-west4", "replica", "NL"),
                          ("europe-west1", "backup", "BE")}
    assert places(stores["orders-eu-dr"]) == {("europe-west4", "replica", "NL"), ("europe-west3", "primary", "DE")}
    assert places(stores["orders-global"]) == {("europe-west3", "primary", "DE"), ("asia-northeast1", "replica", "JP")}
    assert places(stores["orders-global-tokyo"]) == {("asia-northeast1", "replica", "JP"),
                                                     ("europe-west3", "primary", "DE")}
    assert places(stores["orders-archive"]) == {("europe-west3", "primary", "DE"), ("europe-west6", "backup", "CH")}
    learned = {loc.region: loc.learned_from for loc in eu.locations}
    assert learned["europe-west1"] == "automatedBackupPolicy.location"
    # one listing of clusters and one of backups for every location, each followed across pages
    listed = [r for r in dbs.requests if "/locations/-/" in r.path]
    assert {r.path for r in listed} == {f"/alloydb.googleapis.com/v1/projects/{PROJECT}/locations/-/clusters",
                                        f"/alloydb.googleapis.com/v1/projects/{PROJECT}/locations/-/backups"}
    assert any("pageToken" in r.query for r in listed if r.path.endswith("/clusters"))
    assert_abroad_fails(tmp_path, dbs, ["alloydb"], "orders-eu", "orders-global", "JP")
    assert_abroad_fails(tmp_path, dbs, ["alloydb"], "orders-eu", "orders-archive", "CH")


def test_alloydb_builder_names_a_secondary_in_another_project_and_the_default_backup_region():
    """The builder is a pure function of the REST items (the bulk path calls it with Cloud Asset data)."""
    primary = {"name": cluster("europe-west3", "ledger"), "clusterType": "PRIMARY",
               "primaryConfig": {"secondaryClusterNames": [cluster("europe-west6", "ledger-ch", "other-project")]},
               "automatedBackupPolicy": {"enabled": True}}

    [store] = alloydb_cluster_stores(PROJECT, [primary], [])

    assert [(loc.region, loc.role) for loc in store.locations] == [("europe-west3", "primary"),
                                                                   ("europe-west6", "replica")]
    assert alloydb_cluster_stores(PROJECT, [primary], None)[0].unknowns == [
        "backups.list could not be read: backups in other regions are not known"]


def test_filestore_instances_in_zones_and_regions_with_their_backups(tmp_path, dbs):
    share = dbs.add_filestore_instance(PROJECT, "europe-west3-a", "share-fra", labels={"team": "finance"})
    dr = dbs.add_filestore_instance(PROJECT, "europe-west3", "share-dr")
    dbs.add_filestore_backup(PROJECT, "europe-west3", "share-fra-nightly", share["name"])
    dbs.add_filestore_backup(PROJECT, "asia-northeast1", "share-dr-tokyo", dr["name"])

    result, stores = scan_gcp(tmp_path, dbs, ["filestore"])

    assert result.status == "complete"
    fra = stores["share-fra"]
    assert (fra.kind, fra.region, fra.tags) == ("filestore-instance", "europe-west3", {"team": "finance"})
    assert places(fra) == {("europe-west3", "primary", "DE")}  # zone europe-west3-a; its backup in the same region
    assert places(stores["share-dr"]) == {("europe-west3", "primary", "DE"), ("asia-northeast1", "backup", "JP")}
    assert_abroad_fails(tmp_path, dbs, ["filestore"], "share-fra", "share-dr", "JP")


def test_memorystore_instances_and_cross_region_clusters(tmp_path, dbs):
    dbs.add_redis_instance(PROJECT, "europe-west3-a", "sessions", alternative_zone="europe-west3-b")
    dbs.add_redis_instance(PROJECT, "asia-northeast1-b", "cache-tokyo")
    dbs.add_redis_cluster(PROJECT, "europe-west3", "carts")
    dbs.add_redis_cluster(PROJECT, "asia-northeast1", "carts-tokyo", primary=cluster("europe-west3", "carts"))

    result, stores = scan_gcp(tmp_path, dbs, ["redis"])

    assert result.status == "complete"
    sessions = stores["sessions"]
    assert (sessions.kind, sessions.region) == ("memorystore-redis-instance", "europe-west3")
    assert places(sessions) == {("europe-west3", "primary", "DE")}  # its replica zone is in the same region
    assert places(stores["cache-tokyo"]) == {("asia-northeast1", "primary", "JP")}
    carts = stores["carts"]
    assert carts.kind == "memorystore-redis-cluster"
    assert places(carts) == {("europe-west3", "primary", "DE"), ("asia-northeast1", "replica", "JP")}
    assert places(stores["carts-tokyo"]) == {("asia-northeast1", "replica", "JP"), ("europe-west3", "primary", "DE")}
    assert_abroad_fails(tmp_path, dbs, ["redis"], "sessions", "carts", "JP")


@pytest.mark.parametrize(("service", "collection"), [("alloydb", "clusters"), ("alloydb", "backups"),
                                                     ("filestore", "backups"), ("redis", "clusters")])
def test_unreachable_locations_make_the_target_not_scanned(tmp_path, dbs, service, collection):
    dbs.add_alloydb_cluster(PROJECT, "europe-west3", "orders")
    dbs.add_filestore_instance(PROJECT, "europe-west3-a", "share")
    dbs.add_redis_instance(PROJECT, "europe-west3-a", "sessions")
    dbs.unreachable[(service, collection)] = ["asia-northeast1"]

    result, stores = scan_gcp(tmp_path, dbs, [service])

    assert result.status == "failed"
    [target] = [t for t in result.targets if t.service == service]
    assert target.status == "error" and "asia-northeast1" in (target.error or "")
    found = {"alloydb": "orders", "filestore": "share", "redis": "sessions"}[service]
    assert any("asia-northeast1 could not be listed" in unknown for unknown in stores[found].unknowns)
    assert stores[found].status != "pass"  # what may sit in an unreachable location is never a pass


@pytest.mark.parametrize(("service", "collection", "found", "status", "outcome"), [
    ("alloydb", "backups", "orders", 500, "error"), ("alloydb", "backups", "orders", 403, "denied"),
    ("filestore", "backups", "share", 500, "error"), ("redis", "clusters", "sessions", 500, "error")])
def test_a_failed_second_listing_keeps_the_stores_found_and_the_target_not_complete(tmp_path, dbs, service,
                                                                                     collection, found, status,
                                                                                     outcome):
    dbs.add_alloydb_cluster(PROJECT, "europe-west3", "orders", backup_location="europe-west3")
    dbs.add_filestore_instance(PROJECT, "europe-west3-a", "share")
    dbs.add_redis_instance(PROJECT, "europe-west3-a", "sessions")
    dbs.broken[(service, collection)] = status  # 403: the role lacks the listing's permission

    result, stores = scan_gcp(tmp_path, dbs, [service])

    [target] = [t for t in result.targets if t.service == service]
    assert result.status == "failed" and target.status == outcome
    assert f"{collection}.list" in (target.error or "")
    assert places(stores[found]) == {("europe-west3", "primary", "DE")}
    if collection == "backups":  # the backups that could not be listed may be anywhere: never a pass
        assert any("backups in other regions are not known" in unknown for unknown in stores[found].unknowns)
        assert stores[found].status != "pass"
