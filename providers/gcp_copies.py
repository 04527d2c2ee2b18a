"""Google Cloud databases read per project through their admin REST APIs, with every place their data lives:
Spanner instances (each replica of their instance configuration), Firestore/Datastore databases, Cloud SQL
instances (cross-region replicas, backup location) and Bigtable instances (every cluster).

These APIs are read as JSON (`GoogleJson`: an AuthorizedSession GET, then `nextPageToken`), with the provider's
credentials, so no client library is added per API. Paths and fields are the published REST references: spanner v1,
firestore v1, sqladmin v1beta4, bigtableadmin v2. A listing that fails raises; a part that fails after some stores
were found raises `PartialInventory` (the target is recorded as failed, never as "no stores").
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
        """Every item under `key` across pages, and the `failedLocations` any page reported (Bigtable)."""
        items: list[dict[str, Any]] = []
        failed: list[str] = []
        token = ""
        while True:
            body = self.get(path, {"pageToken": token} if token else None)
            items.extend(body.get(key) or [])
            failed.extend(body.get("failedLocations") or [])
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


READERS: dict[str, Callable[[GoogleJson, str], list[DiscoveredStore]]] = {
    "spanner": spanner, "firestore": firestore, "cloudsql": cloudsql, "bigtable": bigtable,
}
