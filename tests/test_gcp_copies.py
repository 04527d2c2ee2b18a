"""Google Cloud databases read per project (providers/gcp_copies.py): Spanner instances with every replica of their
instance configuration, Firestore databases, Cloud SQL instances with their replicas and backup location, Bigtable
instances with every cluster. Each is found on the databases fake with its copies' roles and countries, a copy
abroad turns a passing store into a failing one, and a kind that cannot be read is a target not scanned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from demo.gcp_databases_server import FakeDatabasesServer
from providers.gcp_copies import ENDPOINTS
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
               **{key: server.url for key, _ in ENDPOINTS.values()}}
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


@pytest.mark.parametrize("service", ["spanner", "firestore", "cloudsql", "bigtable"])
def test_a_denied_project_is_a_target_not_scanned(tmp_path, dbs, service):
    dbs.add_spanner_instance(PROJECT, "ledger", "regional-europe-west3")
    dbs.add_firestore_database(PROJECT, "(default)", "eur3")
    dbs.add_sql_instance(PROJECT, "sql", "europe-west3", backup_location="europe-west3")
    dbs.add_bigtable_instance(PROJECT, "ticks", ["europe-west3-a"])
    dbs.deny(PROJECT)

    result, stores = scan_gcp(tmp_path, dbs, [service])

    assert result.status == "failed"  # never "no stores"
    [target] = [t for t in result.targets if t.service == service]
    assert target.status == "denied" and "403" in (target.error or "")
    assert stores == {}
