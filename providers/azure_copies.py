"""Azure's copy mechanisms beyond a resource's own location: backup vaults, flexible servers' replicas and
geo-redundant backups, blob object replication, and copies in the region pair.

Recovery Services vaults, Backup vaults and the PostgreSQL/MySQL flexible servers are read as ARM's JSON through
the provider's own read-only pipeline (`ArmJson`: a GET, then its `nextLink`s), with the api-versions below, so
no SDK is added per namespace; the field names are ARM's REST names (checked against the azure-mgmt-recoveryservices,
-dataprotection, -postgresqlflexibleservers and -mysqlflexibleservers models). Object replication policies come
from azure-mgmt-storage, which the storage reader already uses.

Geo-redundant storage names no region: its secondary is the region's pair. Such a copy is placed in the pair the
catalog publishes (`Region.pair`) and its `learned_from` says it was inferred from the pair; a region without a
pair in the catalog (or a scan without a catalog) leaves an unknown, never a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from providers.engine import PartialInventory
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore
from scanner.kinds import PAIR_INFERRED
from scanner.model import Role

if TYPE_CHECKING:
    from providers.azure import AzureProvider

# ARM api-versions of the namespaces read as JSON (each returns the fields read below)
RECOVERY_VAULTS = ("Microsoft.RecoveryServices/vaults", "2024-04-01")
BACKUP_VAULTS = ("Microsoft.DataProtection/backupVaults", "2024-04-01")
FLEXIBLE_SERVERS = {
    "PostgreSQL": ("Microsoft.DBforPostgreSQL/flexibleServers", "2024-08-01"),
    "MySQL": ("Microsoft.DBforMySQL/flexibleServers", "2023-12-30"),
}
REPLICA_ROLES = {"asyncreplica", "geoasyncreplica", "replica"}  # PostgreSQL: (Geo)AsyncReplica; MySQL: Replica
OBJECT_REPLICATION_KINDS = {"storagev2", "blockblobstorage"}  # the account kinds that support object replication
# backup storage redundancy (SQL databases, managed instances, Cosmos DB periodic mode): Geo and GeoZone copy the
# backups to the paired region; Local and Zone keep them in the store's region
GEO_BACKUP = {"geo", "geozone"}
REGIONAL_BACKUP = {"local", "zone"}

Errors = list[tuple[str, bool]]  # (one-line error, denied?)


class ArmJson:
    """GET ARM collections as JSON through an ARMPipelineClient (the provider's read-only pipeline)."""

    def __init__(self, client: Any):
        self._client = client

    def list(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """Every item of the collection at `path`, following `nextLink` (absolute URLs, as ARM sends them)."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        items: list[dict[str, Any]] = []
        url: str | None = self._client.format_url(f"{path}?api-version={api_version}")
        while url:
            response = self._client.send_request(HttpRequest("GET", url))
            if response.status_code != 200:
                raise HttpResponseError(response=response, error_format=ARMErrorFormat)
            body = response.json()
            items.extend(body.get("value") or [])
            url = body.get("nextLink")
        return items


def subscription_path(sub: str, resource_type: str) -> str:
    return f"/subscriptions/{sub}/providers/{resource_type}"


def new_store(provider: AzureProvider, sub: str, kind: str, resource: dict[str, Any]) -> DiscoveredStore:
    return DiscoveredStore(id=resource["id"], provider="azure", account=sub, kind=kind, name=resource["name"],
                           region=provider.region(resource.get("location")), tags=dict(resource.get("tags") or {}))


def add_pair_copy(provider: AzureProvider, store: DiscoveredStore, role: Role, because: str) -> None:
    """A copy in the catalog's pair of the store's region (geo-redundancy names no region); else an unknown."""
    pair = provider.pair_of(store.region)
    if pair:
        store.add_location(pair, role, f"{PAIR_INFERRED}, {store.region} → {pair}: {because}")
    else:
        store.unknowns.append(f"{because}: a copy is in the paired region of {store.region}, "
                              "which the catalog does not name")


def add_geo_backup(provider: AzureProvider, store: DiscoveredStore, redundancy: str, field: str) -> None:
    """Backups kept with `redundancy` (the value of `field`): Geo/GeoZone → a backup in the catalog's pair (inferred
    from the pair); Local/Zone → none beyond the region; absent or unrecognised → an unknown (fail closed)."""
    value = redundancy.lower()
    if value in GEO_BACKUP:
        add_pair_copy(provider, store, "backup", f"{field} {redundancy}")
    elif value not in REGIONAL_BACKUP:
        said = f"is '{redundancy}'" if redundancy else "was not reported"
        store.unknowns.append(f"{field} {said}: a geo-redundant backup in the paired region cannot be ruled out")


def add_cosmos_backups(provider: AzureProvider, store: DiscoveredStore, mode: str, redundancy: str) -> None:
    """Cosmos DB backups: `mode` is backupPolicy.type. Continuous backups are kept in every region of the account,
    which are the store's locations already; Periodic ones follow periodicModeProperties.backupStorageRedundancy."""
    if mode.lower() == "continuous":
        return
    field = "DatabaseAccount.backupPolicy.periodicModeProperties.backupStorageRedundancy"
    if mode.lower() != "periodic":
        store.unknowns.append(f"DatabaseAccount.backupPolicy.type {'is ' + repr(mode) if mode else 'was not reported'}"
                              ": where its backups are kept is not known")
        return
    add_geo_backup(provider, store, redundancy, field)


def read_all(readers: Iterable[Callable[[], list[DiscoveredStore]]]) -> list[DiscoveredStore]:
    """Run each listing; a failed one is kept as an error and the rest carries on (PartialInventory if any). A
    listing that was itself partial keeps its stores and its error."""
    stores: list[DiscoveredStore] = []
    errors: Errors = []
    for reader in readers:
        try:
            stores.extend(reader())
        except PartialInventory as incomplete:
            stores.extend(incomplete.stores)
            errors.append((incomplete.error, incomplete.denied))
        except Exception as exc:
            errors.append(describe_error(exc))
    raise_partial(stores, errors)
    return stores


def raise_partial(stores: list[DiscoveredStore], errors: Errors) -> None:
    if errors:
        raise PartialInventory(stores, "; ".join(text for text, _ in errors), all(denied for _, denied in errors))


# -- backup vaults ------------------------------------------------------------------------------------------
def backup(provider: AzureProvider, sub: str) -> list[DiscoveredStore]:
    """Recovery Services vaults and Backup vaults of a subscription (the `backup` service)."""
    arm = provider.arm_json()

    def recovery() -> list[DiscoveredStore]:
        path, version = RECOVERY_VAULTS
        return [recovery_vault_store(provider, sub, v) for v in arm.list(subscription_path(sub, path), version)]

    def data_protection() -> list[DiscoveredStore]:
        path, version = BACKUP_VAULTS
        return [backup_vault_store(provider, sub, v) for v in arm.list(subscription_path(sub, path), version)]

    return read_all((recovery, data_protection))


def recovery_vault_store(provider: AzureProvider, sub: str, vault: dict[str, Any]) -> DiscoveredStore:
    store = new_store(provider, sub, "azure-recovery-services-vault", vault)
    store.add_location(store.region, "primary", "Vault.location")
    settings = (vault.get("properties") or {}).get("redundancySettings") or {}
    redundancy = settings.get("standardTierStorageRedundancy") or ""
    restore = settings.get("crossRegionRestore") or "not reported"
    if redundancy.lower() == "georedundant":
        add_pair_copy(provider, store, "replica", f"Vault.properties.redundancySettings.standardTierStorageRedundancy "
                                                  f"GeoRedundant, crossRegionRestore {restore}")
    elif redundancy.lower() in ("", "invalid"):
        store.unknowns.append("the vault's storage redundancy was not reported: a geo-redundant copy in the paired "
                              "region cannot be ruled out")
    return store


def backup_vault_store(provider: AzureProvider, sub: str, vault: dict[str, Any]) -> DiscoveredStore:
    store = new_store(provider, sub, "azure-backup-vault", vault)
    store.add_location(store.region, "primary", "BackupVault.location")
    props = vault.get("properties") or {}
    for region in props.get("replicatedRegions") or []:
        store.add_location(provider.region(region), "replica", "BackupVault.properties.replicatedRegions")
    settings = props.get("storageSettings") or []
    restore = ((props.get("featureSettings") or {}).get("crossRegionRestoreSettings") or {}).get("state")
    if any((s.get("type") or "").lower() == "georedundant" for s in settings):
        add_pair_copy(provider, store, "replica", f"BackupVault.properties.storageSettings.type GeoRedundant, "
                                                  f"crossRegionRestoreSettings.state {restore or 'not reported'}")
    elif not settings:
        store.unknowns.append("the vault's storage settings were not reported: a geo-redundant copy in the paired "
                              "region cannot be ruled out")
    return store


# -- PostgreSQL and MySQL flexible servers --------------------------------------------------------------------
def flexible_servers(provider: AzureProvider, sub: str, engine: str) -> list[DiscoveredStore]:
    """A subscription's flexible servers of one engine, each with its replication group and geo backups."""
    path, version = FLEXIBLE_SERVERS[engine]
    servers = provider.arm_json().list(subscription_path(sub, path), version)
    return flexible_server_stores(provider, sub, engine, servers)


def flexible_server_stores(provider: AzureProvider, sub: str, engine: str, servers: list[dict[str, Any]]
                           ) -> list[DiscoveredStore]:
    """The stores of a subscription's flexible servers of one engine (ARM JSON), replicas resolved among them."""
    by_id = {server["id"].lower(): server for server in servers}
    replicas: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for server in servers:
        source = source_of(server)
        if source:
            replicas[source.lower()].append(server)
    kind = f"azure-{engine.lower()}-flexible-server"
    return [flexible_server_store(provider, sub, kind, server, by_id, replicas) for server in servers]


def source_of(server: dict[str, Any]) -> str:
    """The source server id of a read replica; "" for a primary or a standalone server."""
    props = server.get("properties") or {}
    role = (props.get("replicationRole") or (props.get("replica") or {}).get("role") or "").lower()
    source = props.get("sourceServerResourceId") or ""
    return source if source and (role in REPLICA_ROLES or not role) else ""


Servers = dict[str, dict[str, Any]]


def flexible_server_store(provider: AzureProvider, sub: str, kind: str, server: dict[str, Any], by_id: Servers,
                          replicas: dict[str, list[dict[str, Any]]]) -> DiscoveredStore:
    store = new_store(provider, sub, kind, server)
    source = source_of(server)
    store.add_location(store.region, "replica" if source else "primary", "Server.location")
    root = by_id.get(source.lower()) if source else server
    if root is None:
        store.unknowns.append(f"the source server {source} of this read replica is not in a scanned subscription: "
                              "its region is not known")
    else:
        if root is not server:
            store.add_location(provider.region(root.get("location")), "primary",
                               "Server.properties.sourceServerResourceId → the source's location")
        for replica in replicas.get(root["id"].lower(), []):
            store.add_location(provider.region(replica.get("location")), "replica",
                               f"Server.location of read replica {replica['name']} (its sourceServerResourceId)")
    backup_settings = (server.get("properties") or {}).get("backup") or {}
    if (backup_settings.get("geoRedundantBackup") or "").lower() == "enabled":
        add_pair_copy(provider, store, "backup", "Server.properties.backup.geoRedundantBackup Enabled")
    return store


# -- blob object replication ----------------------------------------------------------------------------------
def sub_listings(provider: AzureProvider, paths: list[str], api_version: str) -> list[list[dict[str, Any]] | Exception]:
    """Each path's listing (a resource's sub-resources: a cache's linked servers, a cluster's databases),
    `max_workers` at once, in the order given; a listing that failed is its exception."""
    arm = provider.arm_json()

    def read(path: str) -> list[dict[str, Any]] | Exception:
        try:
            return arm.list(path, api_version)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=provider.settings.max_workers, thread_name_prefix="azure-sub") as pool:
        return list(pool.map(read, paths))


def add_object_replication(provider: AzureProvider, client: Any, accounts: list[Any],
                           stores: list[DiscoveredStore]) -> Errors:
    """Each source account's object replication destinations, as replicas in the destination accounts' regions
    (resolved among the subscription's accounts), one call per eligible account, `max_workers` at once. Failed
    listings are returned, the stores keep an unknown."""
    from providers.azure import enum_text, resource_group

    located = {}
    for account in accounts:
        region = provider.region((account.properties and account.properties.primary_location) or account.location)
        located[account.name.lower()] = located[account.id.lower()] = region
    def read(pair: tuple[Any, DiscoveredStore]) -> tuple[str, bool] | None:
        account, store = pair
        try:
            policies = list(client.object_replication_policies.list(resource_group(account.id), account.name))
        except Exception as exc:
            error, denied = describe_error(exc)
            store.unknowns.append(f"object replication policies could not be read: {error}")
            return f"account {account.name} object replication policies: {error}", denied
        for policy in policies:
            add_destination(store, account, policy, located)
        return None

    eligible = [(account, store) for account, store in zip(accounts, stores, strict=True)
                if enum_text(account.kind).lower() in OBJECT_REPLICATION_KINDS]
    with ThreadPoolExecutor(max_workers=provider.settings.max_workers, thread_name_prefix="azure-orp") as pool:
        return [error for error in pool.map(read, eligible) if error is not None]


def add_destination(store: DiscoveredStore, account: Any, policy: Any, located: dict[str, str]) -> None:
    source, destination = (policy.source_account or "").lower(), (policy.destination_account or "").lower()
    if source not in (account.name.lower(), account.id.lower()) or not destination:
        return  # the policy as the destination account holds it
    region = located.get(destination)
    if region:
        store.add_location(region, "replica", "ObjectReplicationPolicy.destinationAccount → that account's location")
    else:
        store.unknowns.append(f"object replication to account {policy.destination_account}, which is not in this "
                              "subscription's listing: its region is not known")
