"""Google Cloud databases and file stores read per project through their admin REST APIs, with every place their
data lives: Spanner instances (each replica of their instance configuration), Firestore/Datastore databases, Cloud SQL
instances (cross-region replicas, backup location), Bigtable instances (every cluster), AlloyDB clusters (secondary
clusters, backup locations, backups), Filestore instances (backups) and Memorystore for Redis instances and clusters
(cross-cluster replication).

These APIs are read as JSON (`GoogleJson`: an AuthorizedSession GET, then `nextPageToken`), with the provider's
credentials, so no client library is added per API. Paths and fields are the published REST references: spanner v1,
firestore v1, sqladmin v1beta4, bigtableadmin v2, alloydb v1, file v1, redis v1 (the last three listed over every
location at once: `projects/P/locations/-/...`). A listing that fails raises; a part that fails after some stores
were found, or locations a listing reports `unreachable`, raise `PartialInventory` (the target is recorded as failed,
never as "no stores").

Each kind's stores are built by a pure function of the REST JSON items, `<kind>_stores(project, items...)`, so a bulk
source that returns the same JSON (Cloud Asset Inventory's `resource.data`) builds the same stores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.engine import PartialInventory
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore
from scanner.model import Role

# config `services` entry -> (endpoint setting, Google's endpoint)
ENDPOINTS: dict[str, tuple[str, str]] = {
    "spanner": ("spanner_endpoint", "https://spanner.googleapis.com"),
    "firestore": ("firestore_endpoint", "https://firestore.googleapis.com"),
    "cloudsql": ("sqladmin_endpoint", "https://sqladmin.googleapis.com"),
    "bigtable": ("bigtableadmin_endpoint", "https://bigtableadmin.googleapis.com"),
    "alloydb": ("alloydb_endpoint", "https://alloydb.googleapis.com"),
    "filestore": ("filestore_endpoint", "https://file.googleapis.com"),
    "redis": ("redis_endpoint", "https://redis.googleapis.com"),
}
SPANNER_ROLES: dict[str, Role] = {"READ_WRITE": "primary", "READ_ONLY": "replica", "WITNESS": "replica"}


class GoogleJson:
    """GET Google REST resources as JSON with the provider's credentials."""

    def __init__(self, credentials: Any, base: str, timeout: int):
        from google.auth.transport.requests import AuthorizedSession

        self._session = AuthorizedSession(credentials)
        self._base = base.rstrip("/")
        self._timeout = timeout

    def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        from google.api_core import exceptions as gexc

        response = self._session.get(f"{self._base}{path}", params=params, timeout=self._timeout)
        if response.status_code != 200:
            raise gexc.from_http_response(response)
        return response.json()

    def pages(self, path: str, key: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Every item under `key` across pages, and the locations any page said it could not reach
        (`failedLocations`: Bigtable; `unreachable`: the `locations/-` listings)."""
        items: list[dict[str, Any]] = []
        failed: list[str] = []
        token = ""
        while True:
            body = self.get(path, {"pageToken": token} if token else None)
            items.extend(body.get(key) or [])
            failed.extend(body.get("failedLocations") or body.get("unreachable") or [])
            token = body.get("nextPageToken") or ""
            if not token:
                return items, failed


def region_of(location: str) -> str:
    from providers.gcp import region_of as reduce

    return reduce(location)


def new_store(project: str, kind: str, store_id: str, name: str, region: str, labels: Any) -> DiscoveredStore:
    return DiscoveredStore(id=store_id, provider="gcp", account=project, kind=kind, name=name, region=region,
                           tags=dict(labels or {}))


# -- Spanner ---------------------------------------------------------------------------------------------------
def spanner(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    instances, _ = api.pages(f"/v1/projects/{project}/instances", "instances")
    return spanner_stores(api, project, instances)


def spanner_stores(api: GoogleJson, project: str, instances: list[dict[str, Any]]) -> list[DiscoveredStore]:
    """A project's Spanner instances (REST JSON), each configuration's replicas read once (instanceConfigs.get)."""
    configs: dict[str, list[dict[str, Any]] | str] = {}  # config name -> replicas, or the error reading it
    for config in {instance.get("config", "") for instance in instances} - {""}:
        try:
            configs[config] = api.get(f"/v1/{config}").get("replicas") or []
        except Exception as exc:
            configs[config] = describe_error(exc)[0]
    stores = [spanner_store(project, instance, configs.get(instance.get("config", ""), "no configuration"))
              for instance in instances]
    errors = sorted({error for error in configs.values() if isinstance(error, str)})
    if errors:
        raise PartialInventory(stores, "instanceConfigs.get: " + "; ".join(errors), False)
    return stores


def spanner_store(project: str, instance: dict[str, Any], replicas: list[dict[str, Any]] | str) -> DiscoveredStore:
    name = instance["name"].rsplit("/", 1)[-1]
    config = instance.get("config", "").rsplit("/", 1)[-1]
    by_config = config.removeprefix("regional-")  # the configuration's own id: a region, or a multi-region
    store = new_store(project, "spanner-instance", f"//spanner.googleapis.com/{instance['name']}", name, by_config,
                      instance.get("labels"))
    if isinstance(replicas, str) or not replicas:
        store.add_location(by_config, "primary", f"instances.list config {config} (the catalog's spans of it)")
        if isinstance(replicas, str):
            store.unknowns.append(f"instance configuration {config} could not be read: {replicas}")
        return store
    ordered = sorted(replicas, key=lambda r: (not r.get("defaultLeaderLocation"), r.get("type") != "READ_WRITE"))
    for replica in ordered:
        kind = replica.get("type") or "TYPE_UNSPECIFIED"
        store.add_location(region_of(replica.get("location") or ""), SPANNER_ROLES.get(kind, "replica"),
                           f"instanceConfigs.get {config} replicas: {kind}")
    store.region = store.locations[0].region
    return store


# -- Firestore -------------------------------------------------------------------------------------------------
def firestore(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    return firestore_stores(project, api.get(f"/v1/projects/{project}/databases").get("databases") or [])


def firestore_stores(project: str, databases: list[dict[str, Any]]) -> list[DiscoveredStore]:
    stores = []
    for database in databases:
        location = region_of(database.get("locationId") or "unknown")
        store = new_store(project, "firestore-database", f"//firestore.googleapis.com/{database['name']}",
                          database["name"].rsplit("/", 1)[-1], location, None)
        store.add_location(location, "primary", "databases.list locationId")
        stores.append(store)
    return stores


# -- Cloud SQL -------------------------------------------------------------------------------------------------
def cloudsql(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    instances, _ = api.pages(f"/sql/v1beta4/projects/{project}/instances", "items")
    return cloudsql_stores(project, instances)


def cloudsql_stores(project: str, instances: list[dict[str, Any]]) -> list[DiscoveredStore]:
    """A project's Cloud SQL instances (REST JSON), replicas and primaries resolved among them."""
    by_name = {instance["name"]: instance for instance in instances}
    return [cloudsql_store(project, instance, by_name) for instance in instances]


def cloudsql_store(project: str, instance: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> DiscoveredStore:
    settings = instance.get("settings") or {}
    region = region_of(instance.get("region") or "unknown")
    store = new_store(project, "cloudsql-instance", f"//sqladmin.googleapis.com/projects/{project}/instances/"
                      f"{instance['name']}", instance["name"], region, settings.get("userLabels"))
    master = (instance.get("masterInstanceName") or "").split(":")[-1]
    store.add_location(region, "replica" if master else "primary", "instances.list region")
    root = by_name.get(master) if master else instance
    if root is None:
        store.unknowns.append(f"the primary instance {instance['masterInstanceName']} is not in this project's "
                              "listing: its region is not known")
    else:
        if root is not instance:
            store.add_location(region_of(root.get("region") or ""), "primary", "masterInstanceName → its region")
        _add_replicas(store, root, by_name)
    backup = settings.get("backupConfiguration") or {}
    if backup.get("location"):
        store.add_location(region_of(backup["location"]), "backup", "settings.backupConfiguration.location")
    elif backup.get("enabled"):
        store.unknowns.append("backups have no configured location: Google keeps them in the multi-region nearest the "
                              "instance, which the API does not name")
    return store


def _add_replicas(store: DiscoveredStore, root: dict[str, Any], by_name: dict[str, dict[str, Any]]) -> None:
    for name in root.get("replicaNames") or []:
        replica = by_name.get(name)
        if replica is None:
            store.unknowns.append(f"replica {name} is not in this project's listing: its region is not known")
        else:
            store.add_location(region_of(replica.get("region") or ""), "replica", f"replicaNames → {name}'s region")


# -- Bigtable --------------------------------------------------------------------------------------------------
def bigtable(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    instances, failed = api.pages(f"/v2/projects/{project}/instances", "instances")
    clusters, failed_clusters = api.pages(f"/v2/projects/{project}/instances/-/clusters", "clusters")
    stores = bigtable_stores(project, instances, clusters)
    unreachable = sorted(set(failed) | set(failed_clusters))
    if unreachable:
        for store in stores:
            store.unknowns.append(f"Bigtable did not answer for {', '.join(unreachable)}: clusters there are not known")
        raise PartialInventory(stores, f"Bigtable failedLocations: {', '.join(unreachable)}", False)
    return stores


def bigtable_stores(project: str, instances: list[dict[str, Any]], clusters: list[dict[str, Any]]
                    ) -> list[DiscoveredStore]:
    """A project's Bigtable instances (REST JSON), each with the location of every one of its clusters."""
    stores = []
    for instance in instances:
        own = [c for c in clusters if c["name"].startswith(instance["name"] + "/clusters/")]
        regions = [region_of(c.get("location", "").rsplit("/", 1)[-1]) for c in own]
        store = new_store(project, "bigtable-instance", f"//bigtableadmin.googleapis.com/{instance['name']}",
                          instance["name"].rsplit("/", 1)[-1], regions[0] if regions else "unknown",
                          instance.get("labels"))
        for region in regions:
            store.add_location(region, "primary", "instances.clusters.list location (every cluster serves writes)")
        stores.append(store)
    return stores

# -- the `locations/-` listings: AlloyDB, Filestore, Memorystore for Redis --------------------------------------
def _everywhere(api: GoogleJson, project: str, collection: str) -> tuple[list[dict[str, Any]], list[str]]:
    """One collection of the project in every location (`projects/P/locations/-/...`), every page."""
    return api.pages(f"/v1/projects/{project}/locations/-/{collection}", collection)


def _located(name: str) -> tuple[str, str]:
    """(location, `locations/L/<collection>/ID`) of a resource name `projects/P/locations/L/<collection>/ID`:
    the location, and the part of the name that does not depend on whether P is the project's id or number."""
    parts = name.strip("/").split("/")
    at = parts.index("locations") if "locations" in parts else len(parts)
    return (parts[at + 1] if at + 1 < len(parts) else "unknown"), "/".join(parts[at:])


def _located_store(project: str, kind: str, host: str, item: dict[str, Any]) -> DiscoveredStore:
    """A store named by its Cloud Asset Inventory full resource name, in the region of its location."""
    location, _ = _located(item["name"])
    return new_store(project, kind, f"//{host}/{item['name']}", item["name"].rsplit("/", 1)[-1], region_of(location),
                     item.get("labels"))


def _unreachable(stores: list[DiscoveredStore], unreachable: dict[str, list[str]]) -> None:
    """Locations listings could not reach (what was listed -> locations): every store says so, and the target is not
    complete."""
    parts = [f"{what} in {', '.join(sorted(set(places)))}" for what, places in unreachable.items() if places]
    if not parts:
        return
    for store in stores:
        store.unknowns.extend(f"{part} could not be listed (unreachable): copies there are not known" for part in parts)
    raise PartialInventory(stores, "unreachable locations: " + "; ".join(parts), False)


def _second_listing_failed(stores: list[DiscoveredStore], call: str, exc: Exception) -> PartialInventory:
    """A listing after the first failed: the stores found stand, the target is not complete."""
    message, denied = describe_error(exc)
    return PartialInventory(stores, f"{call}: {message}", denied)


def _backups_of(backups: list[dict[str, Any]], field: str) -> dict[str, list[str]]:
    """Source resource (its location-qualified name) -> the locations of its backups."""
    by_source: dict[str, list[str]] = {}
    for backup in backups:
        if backup.get(field):
            by_source.setdefault(_located(backup[field])[1], []).append(_located(backup["name"])[0])
    return by_source


def _listed_with_backups(api: GoogleJson, project: str, collection: str, what: str,
                         build: Callable[[str, list[dict[str, Any]], list[dict[str, Any]] | None],
                                         list[DiscoveredStore]]) -> list[DiscoveredStore]:
    """A collection and its backups in every location; backups that cannot be listed leave the stores found, each
    saying its backups are not known, and the target not complete."""
    items, unreachable = _everywhere(api, project, collection)
    try:
        backups, unreachable_backups = _everywhere(api, project, "backups")
    except Exception as exc:
        raise _second_listing_failed(build(project, items, None), "backups.list", exc) from exc
    stores = build(project, items, backups)
    _unreachable(stores, {what: unreachable, "backups": unreachable_backups})
    return stores


def _no_backup_listing(store: DiscoveredStore) -> None:
    store.unknowns.append("backups.list could not be read: backups in other regions are not known")


# -- AlloyDB ---------------------------------------------------------------------------------------------------
def alloydb(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    return _listed_with_backups(api, project, "clusters", "AlloyDB clusters", alloydb_cluster_stores)


def alloydb_cluster_stores(project: str, clusters: list[dict[str, Any]],
                           backups: list[dict[str, Any]] | None) -> list[DiscoveredStore]:
    """AlloyDB v1 Cluster items (and Backup items; None: not listed) -> one store per cluster. A primary cluster
    holds its secondaries' regions as `replica`; a secondary names its primary's region as `primary`."""
    secondaries: dict[str, list[str]] = {}  # primary (location-qualified name) -> its secondaries' names
    for cluster in clusters:
        primary = (cluster.get("secondaryConfig") or {}).get("primaryClusterName")
        if cluster.get("clusterType") == "SECONDARY" and primary:
            secondaries.setdefault(_located(primary)[1], []).append(cluster["name"])
    for cluster in clusters:  # a primary's own list covers secondaries in other projects
        for name in (cluster.get("primaryConfig") or {}).get("secondaryClusterNames") or []:
            listed = secondaries.setdefault(_located(cluster["name"])[1], [])
            if _located(name)[1] not in {_located(n)[1] for n in listed}:
                listed.append(name)
    by_cluster = _backups_of(backups or [], "clusterName")
    stores = []
    for cluster in clusters:
        store = _located_store(project, "alloydb-cluster", "alloydb.googleapis.com", cluster)
        primary = (cluster.get("secondaryConfig") or {}).get("primaryClusterName")
        if cluster.get("clusterType") == "SECONDARY" and primary:
            store.add_location(store.region, "replica", "clusters.list clusterType SECONDARY (its own region)")
            store.add_location(region_of(_located(primary)[0]), "primary",
                               "secondaryConfig.primaryClusterName → its region")
            root = _located(primary)[1]
        else:
            store.add_location(store.region, "primary", "clusters.list name (its region)")
            root = _located(cluster["name"])[1]
        for name in secondaries.get(root, []):
            store.add_location(region_of(_located(name)[0]), "replica",
                               f"secondaryConfig.primaryClusterName of {name.rsplit('/', 1)[-1]} → its region")
        _alloydb_backups(store, cluster, by_cluster.get(_located(cluster["name"])[1], []))
        if backups is None:
            _no_backup_listing(store)
        stores.append(store)
    return stores


def _alloydb_backups(store: DiscoveredStore, cluster: dict[str, Any], listed: list[str]) -> None:
    policy = cluster.get("automatedBackupPolicy") or {}
    if policy.get("enabled"):
        if policy.get("location"):
            store.add_location(region_of(policy["location"]), "backup", "automatedBackupPolicy.location")
        else:
            store.add_location(store.region, "backup", "automatedBackupPolicy (no location: the cluster's region)")
    if (cluster.get("continuousBackupConfig") or {}).get("enabled"):
        store.add_location(store.region, "backup", "continuousBackupConfig (kept in the cluster's region)")
    for location in listed:
        store.add_location(region_of(location), "backup", "backups.list clusterName → the backup's region")


# -- Filestore -------------------------------------------------------------------------------------------------
def filestore(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    return _listed_with_backups(api, project, "instances", "Filestore instances", filestore_instance_stores)


def filestore_instance_stores(project: str, instances: list[dict[str, Any]],
                              backups: list[dict[str, Any]] | None) -> list[DiscoveredStore]:
    """Filestore v1 Instance items (location: a zone or a region) and Backup items (None: not listed) -> one store
    per instance, each backup's region a `backup` copy."""
    by_instance = _backups_of(backups or [], "sourceInstance")
    stores = []
    for instance in instances:
        store = _located_store(project, "filestore-instance", "file.googleapis.com", instance)
        store.add_location(store.region, "primary", "instances.list name (its zone or region)")
        for location in by_instance.get(_located(instance["name"])[1], []):
            store.add_location(region_of(location), "backup", "backups.list sourceInstance → the backup's region")
        if backups is None:
            _no_backup_listing(store)
        stores.append(store)
    return stores


# -- Memorystore for Redis -------------------------------------------------------------------------------------
def redis(api: GoogleJson, project: str) -> list[DiscoveredStore]:
    instances, unreachable = _everywhere(api, project, "instances")
    stores = memorystore_redis_instance_stores(project, instances)
    try:
        clusters, unreachable_clusters = _everywhere(api, project, "clusters")
    except Exception as exc:
        raise _second_listing_failed(stores, "clusters.list", exc) from exc
    stores += memorystore_redis_cluster_stores(project, clusters)
    _unreachable(stores, {"Memorystore instances": unreachable, "Memorystore clusters": unreachable_clusters})
    return stores


def memorystore_redis_instance_stores(project: str, instances: list[dict[str, Any]]) -> list[DiscoveredStore]:
    """Memorystore for Redis v1 Instance items -> one store per instance: its zone (`locationId`) and the standard
    tier's replica zone (`alternativeLocationId`)."""
    stores = []
    for instance in instances:
        store = _located_store(project, "memorystore-redis-instance", "redis.googleapis.com", instance)
        if instance.get("locationId"):
            store.region = region_of(instance["locationId"])
            store.add_location(store.region, "primary", "instances.list locationId")
        else:
            store.add_location(store.region, "primary", "instances.list name (its region)")
        if instance.get("alternativeLocationId"):
            store.add_location(region_of(instance["alternativeLocationId"]), "replica",
                               "instances.list alternativeLocationId")
        stores.append(store)
    return stores


def memorystore_redis_cluster_stores(project: str, clusters: list[dict[str, Any]]) -> list[DiscoveredStore]:
    """Memorystore for Redis Cluster v1 Cluster items -> one store per cluster, with the clusters of its cross-cluster
    replication: the primary's region as `primary`, every secondary's as `replica`."""
    stores = []
    for cluster in clusters:
        store = _located_store(project, "memorystore-redis-cluster", "redis.googleapis.com", cluster)
        replication = cluster.get("crossClusterReplicationConfig") or {}
        membership = replication.get("membership") or {}
        primary = ((replication.get("primaryCluster") or membership.get("primaryCluster") or {}).get("cluster")
                   if replication.get("clusterRole") == "SECONDARY" else None)
        if primary:
            store.add_location(store.region, "replica", "crossClusterReplicationConfig.clusterRole SECONDARY")
            store.add_location(region_of(_located(primary)[0]), "primary",
                               "crossClusterReplicationConfig.primaryCluster → its region")
        else:
            store.add_location(store.region, "primary", "clusters.list name (its region)")
        for remote in [*(replication.get("secondaryClusters") or []), *(membership.get("secondaryClusters") or [])]:
            if remote.get("cluster"):
                store.add_location(region_of(_located(remote["cluster"])[0]), "replica",
                                   "crossClusterReplicationConfig secondaryClusters → their regions")
        stores.append(store)
    return stores


READERS: dict[str, Callable[[GoogleJson, str], list[DiscoveredStore]]] = {
    "spanner": spanner, "firestore": firestore, "cloudsql": cloudsql, "bigtable": bigtable,
    "alloydb": alloydb, "filestore": filestore, "redis": redis,
}
