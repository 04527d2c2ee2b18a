"""Azure Resource Graph: every subscription's stores in one paged query, instead of one listing per subscription and
service (config `providers.azure.resource_graph: true`, optionally `management_groups: [...]`).

Two queries (POST /providers/Microsoft.ResourceGraph/resources through azure-mgmt-resourcegraph, api-version
2021-03-01, `options.$top` 1000, `$skipToken` paging, resultFormat objectArray), each across every subscription
scanned (or the configured management groups):

* `ResourceContainers | where type =~ 'microsoft.resources/subscriptions' | project ...`: the subscriptions the
  graph answers for. A subscription it does not list (another tenant, no read access, not yet indexed) is read
  per subscription, as without the graph;
* `Resources | where type in~ (<every kind's ARM type>) | project id, name, type, location, tags, properties,
  subscriptionId, kind, sku`: each row carries the resource's ARM `properties`, so each row is wrapped in the
  SDK model the per-subscription listing gives (a mapping over the same ARM JSON) and built by the same builder
  (providers/azure.py, providers/azure_copies.py). Sub-resource details the graph lacks (object replication
  policies, a SQL server's databases, replication links and TDE protector, key vaults) are still read per resource
  or subscription.

A failed query, or a truncated answer, falls back to the per-subscription path for every subscription (recorded as
a target `resourcegraph` that says so); never "no stores". Verified only against Microsoft's documentation and the
SDK's models: the request and response shapes, and that Resource Graph silently leaves out subscriptions the caller
cannot read (demo/arm_server.py implements them the same way).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from providers.base import TargetLog
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore
from scanner.model import TargetResult

if TYPE_CHECKING:
    from providers.azure import AzureProvider

log = logging.getLogger(__name__)

TARGET = "resourcegraph"  # the target name in the scan record
PAGE = 1000  # options.$top: Resource Graph's maximum
SUBSCRIPTIONS_PER_QUERY = 1000  # subscriptions one request may name
ROW_COLUMNS = "id, name, type, location, tags, properties, subscriptionId, kind, sku"

# ARM resource type (lower case, as Resource Graph reports it) -> the config service whose builder takes it
TYPES: dict[str, str] = {
    "microsoft.storage/storageaccounts": "storage",
    "microsoft.documentdb/databaseaccounts": "cosmosdb",
    "microsoft.sql/servers": "sql",
    "microsoft.compute/disks": "disks",
    "microsoft.compute/snapshots": "snapshots",
    "microsoft.recoveryservices/vaults": "backup",
    "microsoft.dataprotection/backupvaults": "backup",
    "microsoft.dbforpostgresql/flexibleservers": "postgresql",
    "microsoft.dbformysql/flexibleservers": "mysql",
    "microsoft.sql/managedinstances": "sqlmi",
    "microsoft.cache/redis": "redis",
    "microsoft.cache/redisenterprise": "redis",
}
SUBSCRIPTIONS_QUERY = ("ResourceContainers | where type =~ 'microsoft.resources/subscriptions' "
                       "| project id, subscriptionId")


def resources_query(types: list[str]) -> str:
    listed = ", ".join(f"'{kind}'" for kind in sorted(types))
    return f"Resources | where type in~ ({listed}) | project {ROW_COLUMNS}"


@dataclass
class GraphInventory:
    """What the graph returned: the subscriptions it answers for, and their rows by (subscription, ARM type)."""

    covered: set[str] = field(default_factory=set)
    rows: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    def covers(self, sub: str) -> bool:
        return sub.lower() in self.covered

    def of(self, sub: str, *types: str) -> list[dict[str, Any]]:
        return [row for kind in types for row in self.rows.get((sub.lower(), kind), [])]


def read(provider: AzureProvider, subscriptions: list[str], record: TargetLog) -> GraphInventory | None:
    """The graph's inventory of the subscriptions (or the configured management groups); None when it failed, so
    every subscription is read per subscription. The outcome is recorded as the target `resourcegraph`."""
    services = set(provider.settings.services)
    types = [kind for kind, service in TYPES.items() if service in services]
    try:
        inventory = GraphInventory()
        for row in _query(provider, SUBSCRIPTIONS_QUERY, subscriptions):
            inventory.covered.add(str(row.get("subscriptionId") or "").lower())
        for row in _query(provider, resources_query(types), subscriptions) if types else []:
            inventory.rows[(str(row.get("subscriptionId") or "").lower(), str(row.get("type") or "").lower())
                           ].append(row)
    except Exception as exc:
        note = f"fallback per subscription: Resource Graph failed ({describe_error(exc)[0]})"
        log.warning("azure: %s", note)
        record.add(TargetResult("azure", "*", "*", TARGET, "ok", note, 0))
        return None
    missed = [sub for sub in subscriptions if not inventory.covers(sub)]
    note = (f"fallback per subscription for {len(missed)} subscription(s) Resource Graph did not answer for: "
            f"{', '.join(missed[:5])}{' …' if len(missed) > 5 else ''}") if missed else None
    record.add(TargetResult("azure", "*", "*", TARGET, "ok", note, 0))
    return inventory


def _query(provider: AzureProvider, query: str, subscriptions: list[str]) -> list[dict[str, Any]]:
    """Every row of one query, page by page; scoped to the management groups if configured, else to the
    subscriptions (in batches of SUBSCRIPTIONS_PER_QUERY)."""
    groups = list(provider.settings.management_groups)
    scopes: list[dict[str, list[str]]] = [{"management_groups": groups}] if groups else [
        {"subscriptions": subscriptions[start:start + SUBSCRIPTIONS_PER_QUERY]}
        for start in range(0, len(subscriptions), SUBSCRIPTIONS_PER_QUERY)]
    rows: list[dict[str, Any]] = []
    for scope in scopes:
        rows.extend(_pages(provider, query, scope))
    return rows


def _pages(provider: AzureProvider, query: str, scope: dict[str, list[str]]) -> list[dict[str, Any]]:
    from azure.mgmt.resourcegraph import ResourceGraphClient
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    client = provider.sdk_client(ResourceGraphClient)
    rows: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        options = QueryRequestOptions(top=PAGE, skip_token=token, result_format="objectArray")
        answer = client.resources(QueryRequest(query=query, options=options, **scope))
        if str(answer.result_truncated).lower() == "true":
            raise ValueError("Resource Graph truncated the result (resultTruncated: true)")
        rows.extend(answer.data or [])
        token = answer.skip_token
        if not token:
            return rows


# -- the builders, per config service: (provider, subscription, inventory) -> stores ----------------------------
Builder = Callable[["AzureProvider", str, GraphInventory], list[DiscoveredStore]]


def _models(model: type, rows: list[dict[str, Any]]) -> list[Any]:
    """Rows as the SDK model the per-subscription listing returns, so both paths share one builder per kind. The
    azure-mgmt models used here (storage, cosmosdb, sql, compute) are mappings over ARM's REST JSON: a model built
    from a row is that row, read through the same attribute names."""
    return [model(row) for row in rows]


def _storage(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
    from azure.mgmt.storage.models import StorageAccount

    return provider.storage_stores(sub, _models(StorageAccount, graph.of(sub, "microsoft.storage/storageaccounts")))


def _cosmosdb(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
    from azure.mgmt.cosmosdb.models import DatabaseAccountGetResults

    rows = graph.of(sub, "microsoft.documentdb/databaseaccounts")
    return [provider.cosmos_store(sub, account) for account in _models(DatabaseAccountGetResults, rows)]


def _sql(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
    from azure.mgmt.sql.models import Server

    return provider.sql_stores(sub, _models(Server, graph.of(sub, "microsoft.sql/servers")))


def _compute(kind: str, arm_type: str, what: str) -> Builder:
    def build(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
        from azure.mgmt.compute import models

        model = models.Disk if arm_type.endswith("/disks") else models.Snapshot
        return [provider.located(sub, kind, item, what) for item in _models(model, graph.of(sub, arm_type))]
    return build


def _backup(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
    from providers import azure_copies

    return [*(azure_copies.recovery_vault_store(provider, sub, vault)
              for vault in graph.of(sub, "microsoft.recoveryservices/vaults")),
            *(azure_copies.backup_vault_store(provider, sub, vault)
              for vault in graph.of(sub, "microsoft.dataprotection/backupvaults"))]


def _flexible(engine: str) -> Builder:
    def build(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
        from providers import azure_copies

        servers = graph.of(sub, f"microsoft.dbfor{engine.lower()}/flexibleservers")
        return azure_copies.flexible_server_stores(provider, sub, engine, servers)
    return build


def _managed_instances(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
    from providers import azure_sql

    return azure_sql.managed_instance_stores(provider, sub, graph.of(sub, "microsoft.sql/managedinstances"))


def _redis(provider: AzureProvider, sub: str, graph: GraphInventory) -> list[DiscoveredStore]:
    from providers import azure_cache
    from providers.azure_copies import read_all

    return read_all((
        lambda: azure_cache.cache_stores(provider, sub, graph.of(sub, "microsoft.cache/redis")),
        lambda: azure_cache.enterprise_stores(provider, sub, graph.of(sub, "microsoft.cache/redisenterprise"))))


BUILDERS: dict[str, Builder] = {
    "storage": _storage,
    "cosmosdb": _cosmosdb,
    "sql": _sql,
    "disks": _compute("azure-managed-disk", "microsoft.compute/disks", "Disk.location"),
    "snapshots": _compute("azure-snapshot", "microsoft.compute/snapshots", "Snapshot.location"),
    "backup": _backup,
    "postgresql": _flexible("PostgreSQL"),
    "mysql": _flexible("MySQL"),
    "sqlmi": _managed_instances,
    "redis": _redis,
}
