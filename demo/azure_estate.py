"""The Azure demo estate: three subscriptions of the Acme group, seeded into a `demo.arm_server.ArmServer`.

    server = ArmServer().start()
    estate = seed_estate(server)
    estate.provider_section()   # {"cloud": "AzureCloud", "arm_endpoint": server.url, "subscriptions": [...], ...}
    estate.environment()        # {"AZURE_ACCESS_TOKEN": server.token}: the provider's credential
    estate.accounts()           # suggested `accounts:` config entries (owner company ids, countries)
    estate.stores               # ARM id -> ExpectedStore: what the provider should report

What it shows: an RA-GRS account in Brazil whose secondary copy is in Texas (brazilsouth's pair
is southcentralus, outside Brazil); a GRS account in Ireland replicated to the Netherlands; an
LRS account that stays in Germany; a GZRS account whose secondary ARM does not report (an
unknown, not a guess); a Cosmos DB account in the Netherlands and Switzerland; a SQL database in
Brazil with a geo-replica in Virginia (and that replica, as its own store); a disk and a snapshot.
Copies beyond a resource's location: a Recovery Services vault in Brazil, geo-redundant to its pair in Texas
(inferred from the catalog's pair), and one in the Netherlands geo-redundant to Ireland; a Backup vault in
Frankfurt; a PostgreSQL flexible server in the Netherlands with geo-redundant backups (Ireland) and a read
replica in Virginia; a MySQL flexible server in Germany; blob object replication from the German log account
to one in France; an RA-GRS account whose secondary ARM reports only by its statusOfSecondary (the pair); a
Cosmos DB account writing in both the Netherlands and Virginia (multi-region writes: both are primaries).
Geo-redundant backups of the Cosmos DB accounts and of the US SQL database are in their regions' pairs. A SQL
managed instance in the Netherlands (geo-redundant backups in Ireland) in a failover group with one in Virginia;
a SQL failover group beside the Brazilian database's replication link (the same US region, recorded once); a
Premium Redis cache in the Netherlands geo-replicated to Ireland, and a Standard one in Germany; an Azure Managed
Redis cluster in the Netherlands actively geo-replicated with one in Virginia (both written to: both primaries).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from demo.arm_server import ArmServer, key_vault_encryption

# subscription id -> (display name, owner company id, owner country)
SUB_EU = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e01"
SUB_BR = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02"
SUB_US = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e03"
SUBSCRIPTIONS: dict[str, tuple[str, str, str]] = {
    SUB_EU: ("acme-prod-eu", "acme-europe", "DE"),
    SUB_BR: ("acme-prod-latam", "acme-brasil", "BR"),
    SUB_US: ("acme-shared-us", "acme-inc", "US"),
}


@dataclass(frozen=True)
class ExpectedStore:
    """What the provider should report for one resource."""

    id: str
    kind: str
    subscription: str
    name: str
    region: str
    locations: dict[str, str]  # region -> role
    tags: dict[str, str] = field(default_factory=dict)
    has_unknowns: bool = False


@dataclass
class AzureEstate:
    url: str
    token: str
    stores: dict[str, ExpectedStore] = field(default_factory=dict)

    def subscription_ids(self) -> list[str]:
        return list(SUBSCRIPTIONS)

    def provider_section(self, retries: int = 0) -> dict[str, Any]:
        """The `providers.azure` config section that points the provider at the ARM server."""
        return {"cloud": "AzureCloud", "arm_endpoint": self.url, "subscriptions": self.subscription_ids(),
                "retries": retries, "timeout": 10}

    def environment(self) -> dict[str, str]:
        """Environment the provider needs: the bearer token the server accepts."""
        return {"AZURE_ACCESS_TOKEN": self.token}

    def accounts(self) -> dict[str, dict[str, str]]:
        """Suggested `accounts:` entries for the config (owners are the demo's Acme companies)."""
        return {sub: {"name": name, "owner": owner, "country": country}
                for sub, (name, owner, country) in SUBSCRIPTIONS.items()}

    def by_name(self, name: str) -> ExpectedStore:
        return next(store for store in self.stores.values() if store.name == name)


def seed_estate(server: ArmServer) -> AzureEstate:
    """Add the demo subscriptions and resources to a running `server`; return what to expect."""
    estate = AzureEstate(server.url, server.token)
    for sub, (name, _, _) in SUBSCRIPTIONS.items():
        server.add_subscription(sub, name)
    _seed_eu(server, estate)
    _seed_latam(server, estate)
    _seed_us(server, estate)
    _seed_key_custody(server, estate)
    _seed_databases(server, estate)
    return estate


def _expect(estate: AzureEstate, doc: dict[str, Any], kind: str, sub: str, region: str,
            locations: dict[str, str], name: str | None = None, has_unknowns: bool = False) -> None:
    estate.stores[doc["id"]] = ExpectedStore(doc["id"], kind, sub, name or doc["name"], region, locations,
                                             dict(doc.get("tags") or {}), has_unknowns)


def _seed_eu(server: ArmServer, estate: AzureEstate) -> None:
    sub, group = SUB_EU, "rg-prod-eu"
    tags = {"data-class": "personal", "team": "crm"}
    doc = server.add_storage_account(sub, group, "acmeeuarchive", "northeurope", "Standard_GRS",
                                     secondary_location="westeurope", tags=tags)
    _expect(estate, doc, "azure-storage-account", sub, "northeurope",
            {"northeurope": "primary", "westeurope": "replica"})
    doc = server.add_storage_account(sub, group, "acmeeulogs", "germanywestcentral", "Standard_LRS",
                                     tags={"data-class": "telemetry"})
    _expect(estate, doc, "azure-storage-account", sub, "germanywestcentral", {"germanywestcentral": "primary"})
    doc = server.add_storage_account(sub, group, "acmeeubackup", "swedencentral", "Standard_GZRS",
                                     tags={"data-class": "backup"})  # ARM reports no secondaryLocation
    _expect(estate, doc, "azure-storage-account", sub, "swedencentral", {"swedencentral": "primary"},
            has_unknowns=True)
    doc = server.add_cosmos_account(sub, group, "acme-eu-profiles", [("West Europe", 0), ("Switzerland North", 1)],
                                    tags={"data-class": "personal", "team": "identity"})
    _expect(estate, doc, "azure-cosmosdb-account", sub, "westeurope",  # geo backups: the pair, North Europe
            {"westeurope": "primary", "switzerlandnorth": "replica", "northeurope": "backup"})
    disk = server.add_disk(sub, group, "vm-eu-app01_OsDisk_1", "germanywestcentral", tags={"team": "platform"})
    _expect(estate, disk, "azure-managed-disk", sub, "germanywestcentral", {"germanywestcentral": "primary"})
    doc = server.add_snapshot(sub, group, "vm-eu-app01-os-2024-03", "germanywestcentral", disk["id"],
                              tags={"team": "platform", "purpose": "pre-upgrade"})
    _expect(estate, doc, "azure-snapshot", sub, "germanywestcentral", {"germanywestcentral": "primary"})
    _seed_eu_copies(server, estate)


def _seed_eu_copies(server: ArmServer, estate: AzureEstate) -> None:
    sub, group = SUB_EU, "rg-prod-eu"
    doc = server.add_storage_account(sub, group, "acmeeureplica", "francecentral", "Standard_LRS",
                                     tags={"data-class": "telemetry"})
    _expect(estate, doc, "azure-storage-account", sub, "francecentral", {"francecentral": "primary"})
    server.add_object_replication_policy(sub, group, "acmeeulogs", "acmeeureplica")
    logs = next(key for key, store in estate.stores.items() if store.name == "acmeeulogs")
    estate.stores[logs] = replace(estate.stores[logs],
                                  locations={"germanywestcentral": "primary", "francecentral": "replica"})
    doc = server.add_storage_account(sub, group, "acmeeustatus", "westeurope", "Standard_RAGRS",
                                     status_of_secondary="available", tags={"data-class": "personal"})
    _expect(estate, doc, "azure-storage-account", sub, "westeurope",
            {"westeurope": "primary", "northeurope": "replica"})  # the pair: ARM reports only statusOfSecondary
    doc = server.add_recovery_vault(sub, group, "rsv-eu-vms", "westeurope", cross_region_restore="Enabled",
                                    tags={"team": "platform"})
    _expect(estate, doc, "azure-recovery-services-vault", sub, "westeurope",
            {"westeurope": "primary", "northeurope": "replica"})
    doc = server.add_backup_vault(sub, group, "bv-eu-blobs", "germanywestcentral", tags={"team": "platform"})
    _expect(estate, doc, "azure-backup-vault", sub, "germanywestcentral",
            {"germanywestcentral": "primary", "germanynorth": "replica"})
    source = server.add_flexible_server(sub, group, "PostgreSQL", "acme-eu-pg", "West Europe", geo_backup=True,
                                        tags={"data-class": "personal"})
    replica = server.add_flexible_server(sub, group, "PostgreSQL", "acme-eu-pg-us", "East US",
                                         source_id=source["id"], tags={"data-class": "personal", "role": "dr"})
    group_places = {"westeurope": "primary", "eastus": "replica"}
    _expect(estate, source, "azure-postgresql-flexible-server", sub, "westeurope",
            {**group_places, "northeurope": "backup"})
    _expect(estate, replica, "azure-postgresql-flexible-server", sub, "eastus", group_places)
    doc = server.add_flexible_server(sub, group, "MySQL", "acme-eu-shop", "Germany West Central",
                                     tags={"data-class": "financial"})
    _expect(estate, doc, "azure-mysql-flexible-server", sub, "germanywestcentral", {"germanywestcentral": "primary"})


def _seed_databases(server: ArmServer, estate: AzureEstate) -> None:
    """SQL managed instances in a failover group, a SQL failover group beside a replication link, Redis caches and
    Azure Managed Redis clusters."""
    sub, group = SUB_EU, "rg-prod-eu"
    tags = {"data-class": "personal", "team": "billing"}
    primary = server.add_managed_instance(sub, group, "acme-eu-mi", "westeurope", backup_redundancy="Geo", tags=tags)
    secondary = server.add_managed_instance(sub, "rg-dr-us", "acme-eu-mi-dr", "eastus", tags=tags)
    server.add_instance_failover_group("acme-eu-mi-fog", primary, secondary)
    _expect(estate, primary, "azure-sql-managed-instance", sub, "westeurope",
            {"westeurope": "primary", "eastus": "replica", "northeurope": "backup"})  # backups: the pair
    _expect(estate, secondary, "azure-sql-managed-instance", sub, "eastus",
            {"eastus": "replica", "westeurope": "primary"})
    # the Brazilian orders database's failover group names the US server its replication link names: nothing new
    servers = [server.state.items[f"/subscriptions/{s}/resourcegroups/{g}/providers/microsoft.sql/servers/{n}"]
               for s, g, n in ((SUB_BR, "rg-prod-br", "acme-br-sql"), (SUB_US, "rg-shared-us", "acme-us-sql-dr"))]
    server.add_failover_group("acme-orders-fog", *((doc, [f"{doc['id']}/databases/orders"]) for doc in servers))
    cache = server.add_redis_cache(sub, group, "acme-eu-sessions", "West Europe", tags=tags)
    replica = server.add_redis_cache(sub, group, "acme-eu-sessions-dr", "North Europe", tags=tags)
    server.add_redis_link(cache, replica)
    _expect(estate, cache, "azure-redis-cache", sub, "westeurope", {"westeurope": "primary", "northeurope": "replica"})
    _expect(estate, replica, "azure-redis-cache", sub, "northeurope",
            {"northeurope": "replica", "westeurope": "primary"})
    doc = server.add_redis_cache(sub, group, "acme-eu-cache", "Germany West Central", sku="Standard",
                                 tags={"data-class": "telemetry"})
    _expect(estate, doc, "azure-redis-cache", sub, "germanywestcentral", {"germanywestcentral": "primary"})
    clusters = [server.add_managed_redis(sub, group, "acme-eu-carts", "West Europe", tags=tags),
                server.add_managed_redis(sub, "rg-dr-us", "acme-us-carts", "East US", tags=tags)]
    server.add_managed_redis_geo_group("carts", clusters)
    for doc, region in zip(clusters, ("westeurope", "eastus"), strict=True):  # active geo-replication: both written
        _expect(estate, doc, "azure-managed-redis", sub, region, {"westeurope": "primary", "eastus": "primary"})


# Who holds the keys: stores whose keys are in a Key Vault or a Managed HSM of their own region (store -> custody)
CUSTODY = {
    "acmeeucontracts": "customer_managed_in_provider_kms",  # Key Vault key, with infrastructure encryption
    "acmeeuhealth": "customer_controlled_hsm_in_provider",  # Managed HSM key
    "acme-eu-consents": "customer_managed_in_provider_kms",  # Cosmos DB keyVaultKeyUri
    "vm-eu-db01_DataDisk_0": "customer_managed_in_provider_kms",  # disk encryption set
    "vm-eu-db01-data-2024-03": "customer_managed_in_provider_kms",  # its snapshot, same set
    "acme-br-sql/orders": "customer_managed_in_provider_kms",  # TDE protector in a Key Vault
}


def _seed_key_custody(server: ArmServer, estate: AzureEstate) -> None:
    sub, group, region = SUB_EU, "rg-prod-eu", "germanywestcentral"
    tags = {"data-class": "confidential", "team": "legal"}
    vault = server.add_key_vault(sub, group, "acme-eu-keys", region)
    hsm = server.add_key_vault(sub, group, "acme-eu-hsm", region, managed_hsm=True)
    for name, uri, infrastructure in (("acmeeucontracts", vault, True), ("acmeeuhealth", hsm, False)):
        doc = server.add_storage_account(sub, group, name, region, "Standard_LRS", tags=tags,
                                         encryption=key_vault_encryption(uri, f"{name}-key", infrastructure))
        _expect(estate, doc, "azure-storage-account", sub, region, {region: "primary"})
    doc = server.add_cosmos_account(sub, group, "acme-eu-consents", [("Germany West Central", 0)], tags=tags,
                                    key_vault_key_uri=f"{vault}/keys/consents")
    _expect(estate, doc, "azure-cosmosdb-account", sub, region, {region: "primary", "germanynorth": "backup"})
    des = server.add_disk_encryption_set(sub, group, "acme-eu-des", region, f"{vault}/keys/disks/0123456789abcdef")
    disk = server.add_disk(sub, group, "vm-eu-db01_DataDisk_0", region, tags=tags, disk_encryption_set=des["id"])
    _expect(estate, disk, "azure-managed-disk", sub, region, {region: "primary"})
    doc = server.add_snapshot(sub, group, "vm-eu-db01-data-2024-03", region, disk["id"], tags=tags,
                              disk_encryption_set=des["id"])
    _expect(estate, doc, "azure-snapshot", sub, region, {region: "primary"})
    br_vault = server.add_key_vault(SUB_BR, "rg-prod-br", "acme-br-keys", "brazilsouth")
    server.set_encryption_protector(SUB_BR, "rg-prod-br", "acme-br-sql", "brazilsouth",
                                    f"{br_vault}/keys/tde/fedcba9876543210")


def _seed_latam(server: ArmServer, estate: AzureEstate) -> None:
    sub, group = SUB_BR, "rg-prod-br"
    doc = server.add_storage_account(sub, group, "acmebrdocs", "brazilsouth", "Standard_RAGRS",
                                     secondary_location="southcentralus",
                                     tags={"data-class": "personal", "lgpd": "true"})
    _expect(estate, doc, "azure-storage-account", sub, "brazilsouth",
            {"brazilsouth": "primary", "southcentralus": "replica"})
    server.add_sql_server(sub, group, "acme-br-sql", "brazilsouth")
    doc = server.add_sql_database(sub, group, "acme-br-sql", "orders", "brazilsouth",
                                  tags={"data-class": "financial"})
    server.add_replication_link(sub, group, "acme-br-sql", "orders", partner_server="acme-us-sql-dr",
                                partner_location="eastus", role="Primary", partner_role="Secondary")
    _expect(estate, doc, "azure-sql-database", sub, "brazilsouth", {"brazilsouth": "primary", "eastus": "replica"},
            name="acme-br-sql/orders")
    doc = server.add_recovery_vault(sub, group, "rsv-br-vms", "brazilsouth", cross_region_restore="Enabled",
                                    tags={"lgpd": "true"})
    _expect(estate, doc, "azure-recovery-services-vault", sub, "brazilsouth",
            {"brazilsouth": "primary", "southcentralus": "replica"})


def _seed_us(server: ArmServer, estate: AzureEstate) -> None:
    sub, group = SUB_US, "rg-shared-us"
    doc = server.add_storage_account(sub, group, "acmeusshared", "eastus", "Standard_LRS",
                                     tags={"data-class": "internal"})
    _expect(estate, doc, "azure-storage-account", sub, "eastus", {"eastus": "primary"})
    server.add_sql_server(sub, group, "acme-us-sql-dr", "eastus")
    doc = server.add_sql_database(sub, group, "acme-us-sql-dr", "orders", "eastus",
                                  tags={"data-class": "financial", "role": "dr"}, backup_redundancy="Geo")
    server.add_replication_link(sub, group, "acme-us-sql-dr", "orders", partner_server="acme-br-sql",
                                partner_location="brazilsouth", role="Secondary", partner_role="Primary")
    _expect(estate, doc, "azure-sql-database", sub, "eastus",  # geo-redundant backups: the pair, West US
            {"eastus": "replica", "brazilsouth": "primary", "westus": "backup"}, name="acme-us-sql-dr/orders")
    doc = server.add_cosmos_account(sub, group, "acme-global-sessions", [("East US", 0), ("West Europe", 1)],
                                    multiple_write_locations=True, tags={"data-class": "personal"})
    _expect(estate, doc, "azure-cosmosdb-account", sub, "eastus",
            {"eastus": "primary", "westeurope": "primary", "westus": "backup"})


def subscription_ids() -> list[str]:
    return list(SUBSCRIPTIONS)


def provider_section(server: ArmServer, retries: int = 0) -> dict[str, Any]:
    """The `providers.azure` config section for a server seeded with `seed_estate`."""
    return AzureEstate(server.url, server.token).provider_section(retries)


# A subscription in a partner cloud: Azure technology operated by Bleu (Orange, FR), owned by a
# French company with no foreign parent — the one kind of store in the demo that can pass an EU policy.
SUB_BLEU = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e04"
BLEU_CLOUD = "AzureBleuCloud"
BLEU_OWNER = {"id": "mutuelle-exemple", "name": "Mutuelle Exemple SA", "country": "FR"}


def seed_partner_estate(server: ArmServer, estate: AzureEstate) -> dict[str, Any]:
    """Add the Bleu subscription and its storage account; return its `providers.azure/bleu` section."""
    server.add_subscription(SUB_BLEU, "mutuelle-prod-bleu")
    doc = server.add_storage_account(SUB_BLEU, "rg-sante", "mutuellesante", "francecentral", "Standard_ZRS",
                                     tags={"data-class": "personal", "team": "claims"})
    _expect(estate, doc, "azure-storage-account", SUB_BLEU, f"{BLEU_CLOUD}/francecentral",
            {f"{BLEU_CLOUD}/francecentral": "primary"})
    return {
        "cloud": BLEU_CLOUD, "subscriptions": [SUB_BLEU], "retries": 0, "timeout": 10,
        "partner_clouds": {BLEU_CLOUD: {"arm_endpoint": server.url, "operator": "bleu",
                                        "regions": {"francecentral": "FR"}}},
    }


def partner_accounts() -> dict[str, dict[str, str]]:
    return {SUB_BLEU: {"name": "mutuelle-prod-bleu", "owner": BLEU_OWNER["id"], "country": "FR"}}
