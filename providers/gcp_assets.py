"""Google Cloud Asset Inventory at organization or folder scope: every project's stores from one paged `ListAssets`
per scope, instead of one listing per project and service (`providers.gcp.asset_inventory`, on by default with an
organization or folder scope).

    GET v1/{organizations/N | folders/N}/assets?assetTypes=...&contentType=RESOURCE&pageSize=1000&pageToken=...

Each asset's `resource.data` is the service's own REST JSON (a Cloud Storage Bucket, a BigQuery Dataset, a Spanner
Instance, a Cloud SQL DatabaseInstance, a Bigtable Instance and Cluster, a Firestore Database, an AlloyDB Cluster
and Backup, a Filestore Instance and Backup, a Memorystore Redis Instance and Cluster), so the per-project
builders build the stores (providers/gcp.py, providers/gcp_copies.py); Spanner's instance configurations are still
read once each (instanceConfigs.get), and the keys through Cloud KMS, as on the per-project path. The asset's project
is its first ancestor (`projects/NUMBER`), named by the Project assets read in the same call
(`cloudresourcemanager.googleapis.com/Project`): these also say which projects the inventory answers for. A project
it does not answer for, and every project when ListAssets fails (the API off or denied), is listed per project;
never "no stores".

Adding a kind whose per-project reader has a pure builder `<kind>_stores(project, items)`: one line in `KINDS`,
`AssetKind("<service>", ("<asset type>",), pure(<kind>_stores))` (`paired(...)` for a builder of two types).

Verified only against Google's documentation (ListAssets request and response, asset names, `ancestors`, the
`cloudasset.assets.listResource` permission); demo/gcs_server.py implements the same shapes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from providers import gcp_copies
from providers.base import TargetLog
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore
from scanner.model import TargetResult

if TYPE_CHECKING:
    from providers.gcp import GcpProvider

log = logging.getLogger(__name__)

ASSET_API = "https://cloudasset.googleapis.com"
TARGET = "cloudasset.assets.list"  # the target name in the scan record
PROJECT_TYPE = "cloudresourcemanager.googleapis.com/Project"
PAGE = 1000  # ListAssets' largest pageSize
SOURCE = "cloudasset.assets.list"  # how a store built from an asset names where its facts came from

Items = dict[str, list[dict[str, Any]]]  # asset type -> the assets' resource.data, of one project
Build = Callable[["GcpProvider", str, Items], list[DiscoveredStore]]


@dataclass(frozen=True)
class AssetKind:
    service: str  # the config `services` entry (and target name) whose per-project reader this replaces
    types: tuple[str, ...]  # the asset types it reads, the store's own first
    build: Build  # (provider, project id, items by asset type) -> stores


def pure(builder: Callable[[str, list[dict[str, Any]]], list[DiscoveredStore]]) -> Build:
    """A per-project pure builder `builder(project, items)` of a kind read through one asset type."""
    def build(provider: GcpProvider, project: str, items: Items) -> list[DiscoveredStore]:
        return builder(project, next(iter(items.values()), []))
    return build


def _buckets(provider: GcpProvider, project: str, items: Items) -> list[DiscoveredStore]:
    return [provider.bucket_store(project, data, SOURCE) for data in items["storage.googleapis.com/Bucket"]]


def _datasets(provider: GcpProvider, project: str, items: Items) -> list[DiscoveredStore]:
    return [provider.dataset_store(project, data, SOURCE) for data in items["bigquery.googleapis.com/Dataset"]]


def _spanner(provider: GcpProvider, project: str, items: Items) -> list[DiscoveredStore]:
    return gcp_copies.spanner_stores(provider.database_api("spanner"), project,
                                     items["spanner.googleapis.com/Instance"])


def paired(builder: Callable[[str, list[dict[str, Any]], list[dict[str, Any]]], list[DiscoveredStore]]) -> Build:
    """A per-project pure builder `builder(project, items, related)` of a kind read through two asset types (the
    store's own, then the related one: Bigtable clusters, AlloyDB and Filestore backups)."""
    def build(provider: GcpProvider, project: str, items: Items) -> list[DiscoveredStore]:
        own, related = items.values()
        return builder(project, own, related)
    return build


def _redis(provider: GcpProvider, project: str, items: Items) -> list[DiscoveredStore]:
    return [*gcp_copies.memorystore_redis_instance_stores(project, items["redis.googleapis.com/Instance"]),
            *gcp_copies.memorystore_redis_cluster_stores(project, items["redis.googleapis.com/Cluster"])]


KINDS: tuple[AssetKind, ...] = (
    AssetKind("storage", ("storage.googleapis.com/Bucket",), _buckets),
    AssetKind("bigquery", ("bigquery.googleapis.com/Dataset",), _datasets),
    AssetKind("spanner", ("spanner.googleapis.com/Instance",), _spanner),
    AssetKind("firestore", ("firestore.googleapis.com/Database",), pure(gcp_copies.firestore_stores)),
    AssetKind("cloudsql", ("sqladmin.googleapis.com/Instance",), pure(gcp_copies.cloudsql_stores)),
    AssetKind("bigtable", ("bigtableadmin.googleapis.com/Instance", "bigtableadmin.googleapis.com/Cluster"),
              paired(gcp_copies.bigtable_stores)),
    AssetKind("alloydb", ("alloydb.googleapis.com/Cluster", "alloydb.googleapis.com/Backup"),
              paired(gcp_copies.alloydb_cluster_stores)),
    AssetKind("filestore", ("file.googleapis.com/Instance", "file.googleapis.com/Backup"),
              paired(gcp_copies.filestore_instance_stores)),
    AssetKind("redis", ("redis.googleapis.com/Instance", "redis.googleapis.com/Cluster"), _redis),
)
BY_SERVICE: dict[str, AssetKind] = {kind.service: kind for kind in KINDS}
BUILDERS: dict[str, AssetKind] = {asset_type: kind for kind in KINDS for asset_type in kind.types}


@dataclass
class AssetInventory:
    """The projects the inventory answers for (ids), and each project's assets by type."""

    covered: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)  # asset names already added (an organization and a folder in it)
    items: dict[str, Items] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))

    def covers(self, project: str) -> bool:
        return project in self.covered

    def of(self, project: str, kind: AssetKind) -> Items:
        found = self.items.get(project, {})
        return {asset_type: list(found.get(asset_type, [])) for asset_type in kind.types}


def read(provider: GcpProvider, services: list[str], record: TargetLog) -> AssetInventory:
    """Every scope's assets of the kinds of `services`; a scope whose ListAssets fails leaves its projects to the
    per-project path (recorded, with the reason, on the target `cloudasset.assets.list`)."""
    types = sorted({asset_type for service in services if service in BY_SERVICE
                    for asset_type in BY_SERVICE[service].types})
    inventory = AssetInventory()
    for scope in provider.settings.scopes:
        try:
            assets = list_assets(provider, scope, [PROJECT_TYPE, *types])
        except Exception as exc:
            note = f"fallback per project: Cloud Asset Inventory ListAssets failed ({describe_error(exc)[0]})"
            log.warning("gcp %s: %s", scope, note)
            record.add(TargetResult("gcp", "*", scope, TARGET, "ok", note, 0))
            continue
        _add(provider, inventory, assets)
        record.add(TargetResult("gcp", "*", scope, TARGET, "ok", None, 0))
    return inventory


def list_assets(provider: GcpProvider, scope: str, types: list[str]) -> list[dict[str, Any]]:
    """Every asset of `types` under the scope, following nextPageToken."""
    api = provider.asset_api()
    assets: list[dict[str, Any]] = []
    token = ""
    while True:
        params: dict[str, Any] = {"assetTypes": types, "contentType": "RESOURCE", "pageSize": str(PAGE)}
        if token:
            params["pageToken"] = token
        body = api.get(f"/v1/{scope}/assets", params)
        assets.extend(body.get("assets") or [])
        token = body.get("nextPageToken") or ""
        if not token:
            return assets


def _add(provider: GcpProvider, inventory: AssetInventory, assets: list[dict[str, Any]]) -> None:
    numbers: dict[str, str] = {}
    for asset in assets:
        if asset.get("assetType") == PROJECT_TYPE:
            data = (asset.get("resource") or {}).get("data") or {}
            if data.get("projectId") and data.get("projectNumber"):
                numbers[str(data["projectNumber"])] = data["projectId"]
                inventory.covered.add(data["projectId"])
    for asset in assets:
        asset_type = asset.get("assetType") or ""
        if asset_type not in BUILDERS or asset.get("name") in inventory.seen:
            continue
        inventory.seen.add(asset.get("name") or "")
        ancestor = next((a for a in asset.get("ancestors") or [] if a.startswith("projects/")), "")
        number = ancestor.removeprefix("projects/")
        project = numbers.get(number) or provider.project_id(number)
        data = (asset.get("resource") or {}).get("data")
        if project and data is not None:
            inventory.items[project][asset_type].append(data)
