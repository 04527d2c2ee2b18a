"""A realistic demo GCP estate on the local fakes of `demo.gcs_server`, and the config that scans it.

Two projects with different owners, one in a folder, both under one organization:

* `northwind-eu-prod` (Northwind Analytics GmbH, DE): buckets in europe-west3 (Frankfurt, personal data),
  us-central1 (public web assets), the `EU` multi-region, the predefined dual-region `EUR4`, and a
  configurable dual-region on Belgium + Germany; BigQuery dataset in `EU`; a Memorystore for Redis
  instance in europe-west3 and a Redis cluster there; an AlloyDB cluster in europe-west3 with backups in
  the Netherlands and a secondary cluster in Belgium; a Cloud SQL instance in europe-west3 with backups in
  the `EU` multi-region and a read replica in Iowa; a Spanner instance on the eur3 configuration; a
  Firestore database in eur3.
* `harbour-apac-data` (Harbour Trading Ltd, HK): buckets in asia-east2 (Hong Kong) and the predefined
  dual-region `ASIA1`; BigQuery dataset in asia-northeast1; a Filestore instance in zone asia-northeast1-b
  with a backup in Hong Kong; a Redis cluster in Hong Kong with a secondary cluster in Tokyo; a Spanner
  instance on nam-eur-asia1 (Iowa, Oklahoma, Belgium, Taiwan, South Carolina); a Bigtable instance with
  clusters in Tokyo and Hong Kong; a Firestore database in asia-east2.

The databases and file stores (Spanner, Firestore, Cloud SQL, Bigtable, AlloyDB, Filestore, Memorystore) are on
`demo.gcp_databases_server`, read per project.

Use:

    estate = start_gcp_estate()                  # starts the three fakes on 127.0.0.1 and seeds them
    section = estate.config_section()            # dict for `providers: {gcp: ...}` in the agent config
    estate.project_ids                           # ["northwind-eu-prod", "harbour-apac-data"]
    estate.manifest                              # store id -> ExpectedStore
    estate.stop()

`seed_gcp_estate(gcs, bigquery, resources)` seeds servers you started yourself; `GCP_OWNERS` and
`gcp_accounts()` give the owner companies and `accounts:` entries for the config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from demo.gcp_databases_server import FakeDatabasesServer
from demo.gcs_server import FakeBigQueryServer, FakeGcsServer, FakeKmsServer, FakeResourceServer
from providers.gcp import SERVICES as GCP_SERVICES
from providers.gcp_copies import ENDPOINTS as DATABASE_ENDPOINTS

ORGANIZATION = "organizations/1029384756"
EU_FOLDER = "folders/3001"
EU_PROJECT = "northwind-eu-prod"
APAC_PROJECT = "harbour-apac-data"
PROJECT_NUMBERS = {EU_PROJECT: "481516234201", APAC_PROJECT: "481516234202"}

# Owner companies, in the agent config's `companies:` format.
GCP_OWNERS: list[dict[str, str]] = [
    {"id": "northwind-analytics-gmbh", "name": "Northwind Analytics GmbH", "country": "DE"},
    {"id": "harbour-trading-ltd", "name": "Harbour Trading Ltd", "country": "HK"},
]
PROJECT_OWNERS = {EU_PROJECT: "northwind-analytics-gmbh", APAC_PROJECT: "harbour-trading-ltd"}

BUCKET_ID = "//storage.googleapis.com/projects/_/buckets/{}"
DATASET_ID = "//bigquery.googleapis.com/projects/{}/datasets/{}"


@dataclass(frozen=True)
class ExpectedStore:
    """What the provider should report for one seeded store."""

    id: str
    account: str
    kind: str
    name: str
    region: str
    locations: tuple[tuple[str, str], ...]  # (region id, role)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Bucket:
    project: str
    name: str
    location: str
    labels: dict[str, str]
    data_locations: tuple[str, ...] = ()

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(loc.lower() for loc in self.data_locations) or (self.location.lower(),)


BUCKETS = [
    _Bucket(EU_PROJECT, "nw-customer-records", "EUROPE-WEST3", {"data-class": "personal", "team": "crm"}),
    _Bucket(EU_PROJECT, "nw-web-assets", "US-CENTRAL1", {"data-class": "public"}),
    _Bucket(EU_PROJECT, "nw-analytics-eu", "EU", {"data-class": "personal"}),
    _Bucket(EU_PROJECT, "nw-backups-eur4", "EUR4", {"data-class": "backup"}),
    _Bucket(EU_PROJECT, "nw-dr-custom", "EU", {"data-class": "personal"}, ("EUROPE-WEST1", "EUROPE-WEST3")),
    _Bucket(APAC_PROJECT, "hb-trade-docs", "ASIA-EAST2", {"data-class": "personal"}),
    _Bucket(APAC_PROJECT, "hb-archive-asia1", "ASIA1", {"data-class": "financial"}),
]

# Who holds the keys: Cloud KMS keys of the EU project, and its buckets and dataset on each rung (no key: Google default
# encryption). The Cloud EKM key's external key manager is declared under the demo config's key_stores.
KEY_RING = f"projects/{EU_PROJECT}/locations/europe-west3/keyRings/northwind"
EKM_URI = "https://ekm.northwind.example/v0/keys/contracts"
EKM_CONNECTION = f"projects/{EU_PROJECT}/locations/europe-west3/ekmConnections/northwind-ekm"
EKM_VPC_HOST = "ekm-vpc.northwind.example"  # the key manager behind the EKM connection (Cloud EKM over VPC)
KMS_KEYS = {  # key name -> (protection level, external key URI or EKM connection)
    f"{KEY_RING}/cryptoKeys/records": ("SOFTWARE", None),
    f"{KEY_RING}/cryptoKeys/payments": ("HSM", None),
    f"{KEY_RING}/cryptoKeys/contracts-ekm": ("EXTERNAL", EKM_URI),
    f"{KEY_RING}/cryptoKeys/ledger-ekm-vpc": ("EXTERNAL_VPC", EKM_CONNECTION),
}
CONFIDENTIAL = {"data-class": "confidential"}
# bucket -> (its default key, the custody it gives)
KEYED_BUCKETS = {
    "nw-contracts-cmek": (f"{KEY_RING}/cryptoKeys/records", "customer_managed_in_provider_kms"),
    "nw-payments-hsm": (f"{KEY_RING}/cryptoKeys/payments", "customer_managed_in_provider_kms"),
    "nw-contracts-ekm": (f"{KEY_RING}/cryptoKeys/contracts-ekm", "external_key_manager"),
    "nw-ledger-ekm-vpc": (f"{KEY_RING}/cryptoKeys/ledger-ekm-vpc", "external_key_manager"),
    "nw-escrow-client-side": (None, "client_side"),
}
CUSTODY_BUCKETS = [
    _Bucket(EU_PROJECT, name, "EUROPE-WEST3", {**CONFIDENTIAL, **({} if key else {"encryption": "client-side"})})
    for name, (key, _) in KEYED_BUCKETS.items()
]
CMEK_DATASET = (EU_PROJECT, "contracts_fra", "europe-west3", CONFIDENTIAL, f"{KEY_RING}/cryptoKeys/records")

DATASETS = [
    (EU_PROJECT, "crm_eu", "EU", {"data-class": "personal"}),
    (APAC_PROJECT, "shipments", "asia-northeast1", {"data-class": "financial"}),
]

@dataclass
class GcpEstate:
    gcs: FakeGcsServer
    bigquery: FakeBigQueryServer
    resources: FakeResourceServer
    manifest: dict[str, ExpectedStore]
    kms: FakeKmsServer
    organization: str = ORGANIZATION
    project_ids: list[str] = field(default_factory=lambda: [EU_PROJECT, APAC_PROJECT])
    databases: FakeDatabasesServer | None = None  # Spanner, Firestore, Cloud SQL, Bigtable (None: not seeded)

    def config_section(self, use_organization: bool = True, retry_seconds: int = 0, asset_inventory: bool = True
                       ) -> dict[str, Any]:
        """The `providers.gcp` config section for this estate (endpoints of the running fakes); with
        `asset_inventory=False` the organization's projects are listed per project, not from ListAssets."""
        return gcp_config_section(self, use_organization, retry_seconds, asset_inventory)

    def servers(self) -> list[FakeGcsServer | FakeBigQueryServer | FakeResourceServer | FakeKmsServer
                               | FakeDatabasesServer]:
        return [self.gcs, self.bigquery, self.resources, self.kms, *([self.databases] if self.databases else [])]

    def stop(self) -> None:
        for server in self.servers():
            server.stop()


def seed_gcp_estate(
    gcs: FakeGcsServer, bigquery: FakeBigQueryServer, resources: FakeResourceServer
) -> dict[str, ExpectedStore]:
    """Seed the demo estate into the given servers; return the manifest (store id -> expected result)."""
    resources.add_organization(ORGANIZATION.removeprefix("organizations/"))
    resources.add_folder(EU_FOLDER.removeprefix("folders/"), ORGANIZATION, "eu-workloads")
    resources.add_project(EU_PROJECT, PROJECT_NUMBERS[EU_PROJECT], EU_FOLDER)
    resources.add_project(APAC_PROJECT, PROJECT_NUMBERS[APAC_PROJECT], ORGANIZATION)
    resources.add_project("harbour-old-sandbox", "481516234299", ORGANIZATION, state="DELETE_REQUESTED")
    for project, number in PROJECT_NUMBERS.items():
        gcs.add_project(project, number)
    resources.add_inventory(gcs.inventory)  # Cloud Asset Inventory's ListAssets lists what the services hold
    resources.add_inventory(bigquery.inventory)
    manifest: dict[str, ExpectedStore] = {}
    for bucket in [*BUCKETS, *CUSTODY_BUCKETS]:
        gcs.add_bucket(bucket.project, bucket.name, bucket.location, labels=bucket.labels,
                       data_locations=list(bucket.data_locations) or None,
                       kms_key=KEYED_BUCKETS.get(bucket.name, (None, None))[0])
        store_id = BUCKET_ID.format(bucket.name)
        manifest[store_id] = ExpectedStore(
            store_id, bucket.project, "gcs-bucket", bucket.name, bucket.location.lower(),
            tuple((region, "primary") for region in bucket.regions), dict(bucket.labels),
        )
    for project, dataset_id, location, labels, *key in [*DATASETS, CMEK_DATASET]:
        bigquery.add_dataset(project, dataset_id, location, labels, kms_key=key[0] if key else None)
        store_id = DATASET_ID.format(project, dataset_id)
        manifest[store_id] = ExpectedStore(
            store_id, project, "bigquery-dataset", dataset_id, location.lower(),
            ((location.lower(), "primary"),), dict(labels),
        )
    return manifest


def start_gcp_estate(page_size: int = 1000) -> GcpEstate:
    """Start the three fakes on 127.0.0.1 (free ports), seed them and return the running estate."""
    gcs = FakeGcsServer(page_size).start()
    bigquery = FakeBigQueryServer(page_size).start()
    resources = FakeResourceServer(page_size).start()
    databases = FakeDatabasesServer(page_size).start()
    manifest = seed_gcp_estate(gcs, bigquery, resources)
    kms = FakeKmsServer(page_size).start()
    seed_kms_keys(kms)
    manifest.update(seed_databases(databases))
    resources.add_inventory(databases.inventory)
    return GcpEstate(gcs, bigquery, resources, manifest, kms, databases=databases)


def seed_kms_keys(kms: FakeKmsServer) -> None:
    kms.add_ekm_connection(EKM_CONNECTION, EKM_VPC_HOST)
    for name, (level, external) in KMS_KEYS.items():
        kms.add_key(name, level, external_key_uri=external if level == "EXTERNAL" else None,
                    ekm_connection=external if level == "EXTERNAL_VPC" else None)


def seed_databases(databases: FakeDatabasesServer) -> dict[str, ExpectedStore]:
    """The demo's Spanner, Firestore, Cloud SQL and Bigtable stores; their manifest entries."""
    manifest: dict[str, ExpectedStore] = {}

    def expect(store_id: str, project: str, kind: str, name: str, places: tuple[tuple[str, str], ...],
               labels: dict[str, str] | None = None) -> None:
        manifest[store_id] = ExpectedStore(store_id, project, kind, name, places[0][0], places, dict(labels or {}))

    personal = {"data-class": "personal"}
    databases.add_sql_instance(EU_PROJECT, "orders-db", "europe-west3", backup_location="eu", labels=personal)
    databases.add_sql_instance(EU_PROJECT, "orders-db-us", "us-central1", master="orders-db", labels=personal)
    sql = "//sqladmin.googleapis.com/projects/{}/instances/{}"
    expect(sql.format(EU_PROJECT, "orders-db"), EU_PROJECT, "cloudsql-instance", "orders-db",
           (("europe-west3", "primary"), ("us-central1", "replica"), ("eu", "backup")), personal)
    expect(sql.format(EU_PROJECT, "orders-db-us"), EU_PROJECT, "cloudsql-instance", "orders-db-us",
           (("us-central1", "replica"), ("europe-west3", "primary")), personal)
    databases.add_spanner_instance(EU_PROJECT, "nw-ledger", "eur3", labels=personal)
    expect(f"//spanner.googleapis.com/projects/{EU_PROJECT}/instances/nw-ledger", EU_PROJECT, "spanner-instance",
           "nw-ledger", (("europe-west1", "primary"), ("europe-west4", "primary"), ("europe-north1", "replica")),
           personal)
    databases.add_spanner_instance(APAC_PROJECT, "hb-global", "nam-eur-asia1")
    expect(f"//spanner.googleapis.com/projects/{APAC_PROJECT}/instances/hb-global", APAC_PROJECT, "spanner-instance",
           "hb-global", (("us-central1", "primary"), ("us-central2", "primary"), ("europe-west1", "replica"),
                         ("asia-east1", "replica"), ("us-east1", "replica")))
    for project, name, location in ((EU_PROJECT, "(default)", "eur3"), (APAC_PROJECT, "orders", "asia-east2")):
        databases.add_firestore_database(project, name, location)
        expect(f"//firestore.googleapis.com/projects/{project}/databases/{name}", project, "firestore-database", name,
               ((location, "primary"),))
    databases.add_bigtable_instance(APAC_PROJECT, "ticks", ["asia-northeast1-b", "asia-east2-a"])
    expect(f"//bigtableadmin.googleapis.com/projects/{APAC_PROJECT}/instances/ticks", APAC_PROJECT,
           "bigtable-instance", "ticks", (("asia-northeast1", "primary"), ("asia-east2", "primary")))
    seed_located(databases, expect)
    return manifest


def seed_located(databases: FakeDatabasesServer, expect: Callable[..., None]) -> None:
    """The demo's AlloyDB, Filestore and Memorystore stores (listed over every location), with their copies."""
    personal = {"data-class": "personal"}
    orders = databases.add_alloydb_cluster(EU_PROJECT, "europe-west3", "nw-orders", backup_location="europe-west4",
                                           labels=personal)
    databases.add_alloydb_cluster(EU_PROJECT, "europe-west1", "nw-orders-dr", primary=orders["name"], labels=personal)
    expect(f"//alloydb.googleapis.com/{orders['name']}", EU_PROJECT, "alloydb-cluster", "nw-orders",
           (("europe-west3", "primary"), ("europe-west1", "replica"), ("europe-west4", "backup")), personal)
    expect(f"//alloydb.googleapis.com/projects/{EU_PROJECT}/locations/europe-west1/clusters/nw-orders-dr", EU_PROJECT,
           "alloydb-cluster", "nw-orders-dr", (("europe-west1", "replica"), ("europe-west3", "primary")), personal)
    sessions = databases.add_redis_instance(EU_PROJECT, "europe-west3-a", "sessions", "europe-west3-b", personal)
    expect(f"//redis.googleapis.com/{sessions['name']}", EU_PROJECT, "memorystore-redis-instance", "sessions",
           (("europe-west3", "primary"),), personal)
    carts = databases.add_redis_cluster(EU_PROJECT, "europe-west3", "nw-carts")
    expect(f"//redis.googleapis.com/{carts['name']}", EU_PROJECT, "memorystore-redis-cluster", "nw-carts",
           (("europe-west3", "primary"),))
    share = databases.add_filestore_instance(APAC_PROJECT, "asia-northeast1-b", "ticks-share")
    databases.add_filestore_backup(APAC_PROJECT, "asia-east2", "ticks-share-hk", share["name"])
    expect(f"//file.googleapis.com/{share['name']}", APAC_PROJECT, "filestore-instance", "ticks-share",
           (("asia-northeast1", "primary"), ("asia-east2", "backup")))
    quotes = databases.add_redis_cluster(APAC_PROJECT, "asia-east2", "hb-quotes")
    tokyo = databases.add_redis_cluster(APAC_PROJECT, "asia-northeast1", "hb-quotes-tokyo", primary=quotes["name"])
    expect(f"//redis.googleapis.com/{quotes['name']}", APAC_PROJECT, "memorystore-redis-cluster", "hb-quotes",
           (("asia-east2", "primary"), ("asia-northeast1", "replica")))
    expect(f"//redis.googleapis.com/{tokyo['name']}", APAC_PROJECT, "memorystore-redis-cluster", "hb-quotes-tokyo",
           (("asia-northeast1", "replica"), ("asia-east2", "primary")))


def gcp_config_section(estate: GcpEstate, use_organization: bool = True, retry_seconds: int = 0,
                       asset_inventory: bool = True) -> dict[str, Any]:
    """`providers.gcp` for the estate: the organization (discovers both projects; ListAssets reads their stores)
    or, with use_organization=False, the explicit project list."""
    section: dict[str, Any] = {
        "storage_endpoint": estate.gcs.url,
        "bigquery_endpoint": estate.bigquery.url,
        "resource_manager_endpoint": estate.resources.url,
        "asset_endpoint": estate.resources.url,
        "kms_endpoint": estate.kms.url,
        "emulator": True,
        "timeout": 10,
        "retry_seconds": retry_seconds,
    }
    if estate.databases:
        section.update({key: estate.databases.endpoint(service) for service, (key, _) in DATABASE_ENDPOINTS.items()})
    else:  # no databases server: the services that would need one are not scanned
        section["services"] = [s for s in GCP_SERVICES if s not in DATABASE_ENDPOINTS]
    if use_organization:
        section["organization"] = estate.organization
        if not asset_inventory:
            section["asset_inventory"] = False
    else:
        section["projects"] = list(estate.project_ids)
    return section


def gcp_accounts() -> dict[str, dict[str, str]]:
    """`accounts:` entries for the config: project id -> owner company and country."""
    owners = {owner["id"]: owner for owner in GCP_OWNERS}
    return {
        project: {"owner": owner, "country": owners[owner]["country"], "name": project}
        for project, owner in PROJECT_OWNERS.items()
    }
