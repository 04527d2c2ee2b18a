"""Azure Cache for Redis and Azure Managed Redis, and their geo-replication (the `redis` service).

Read as ARM's JSON through the provider's read-only pipeline (`ArmJson`, providers/azure_copies.py), api-versions
2024-11-01 of Microsoft.Cache/redis and 2024-10-01 of Microsoft.Cache/redisEnterprise, whose field names are those of
the azure-rest-api-specs examples (RedisCacheList, RedisCacheLinkedServer_List, RedisEnterpriseList,
RedisEnterpriseDatabasesListByCluster). Passive geo-replication links a Premium cache to one in another region: each
side lists the other as a linked server whose `serverRole` is the role of that other cache. Active geo-replication
(Azure Managed Redis, Redis Enterprise) links databases of clusters in several regions, each one writable: every
linked cluster's region is a primary. Store builders take the ARM items (dicts), so a bulk source whose rows carry
the same `properties` can call them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.azure_copies import Errors, new_store, raise_partial, read_all, sub_listings, subscription_path
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore

if TYPE_CHECKING:
    from providers.azure import AzureProvider

REDIS = ("Microsoft.Cache/redis", "2024-11-01")
ENTERPRISE = ("Microsoft.Cache/redisEnterprise", "2024-10-01")
KIND = "azure-redis-cache"
ENTERPRISE_KIND = "azure-managed-redis"
GEO_REPLICATING_SKUS = {"premium"}  # passive geo-replication is a Premium-tier feature


def redis(provider: AzureProvider, sub: str) -> list[DiscoveredStore]:
    """A subscription's Azure Cache for Redis caches and Azure Managed Redis (Redis Enterprise) clusters."""
    return read_all((lambda: caches(provider, sub), lambda: enterprise_clusters(provider, sub)))


def caches(provider: AzureProvider, sub: str) -> list[DiscoveredStore]:
    """Azure Cache for Redis: one listing, then LinkedServer_List for each Premium cache (or one whose tier is not
    reported); a failed linked-server listing is kept as an error and the cache as a store with an unknown."""
    path, version = REDIS
    return cache_stores(provider, sub, provider.arm_json().list(subscription_path(sub, path), version))


def cache_stores(provider: AzureProvider, sub: str, caches: list[dict[str, Any]]) -> list[DiscoveredStore]:
    """Caches (ARM JSON: a listing's or Resource Graph's rows), each with its linked servers where it may
    geo-replicate."""
    _, version = REDIS
    linking = [cache for cache in caches if may_geo_replicate(cache)]
    links = dict(zip((cache["id"] for cache in linking),
                     sub_listings(provider, [f"{cache['id']}/linkedServers" for cache in linking], version),
                     strict=True))
    stores: list[DiscoveredStore] = []
    errors: Errors = []
    for cache in caches:
        found = links.get(cache["id"], [])
        if isinstance(found, Exception):
            error, denied = describe_error(found)
            errors.append((f"cache {cache['name']} linked servers: {error}", denied))
            store = redis_store(provider, sub, cache, [])
            store.unknowns.append(f"geo-replication links could not be read: {error}")
        else:
            store = redis_store(provider, sub, cache, found)
        stores.append(store)
    raise_partial(stores, errors)
    return stores


def may_geo_replicate(cache: dict[str, Any]) -> bool:
    sku = ((cache.get("properties") or {}).get("sku") or {}).get("name") or ""
    return not sku or sku.lower() in GEO_REPLICATING_SKUS


def redis_store(provider: AzureProvider, sub: str, cache: dict[str, Any], links: list[dict[str, Any]]
                ) -> DiscoveredStore:
    """One cache (a Redis_ListBySubscription item) and its linked servers (LinkedServer_List items): a linked
    Secondary is a replica in its region; a linked Primary makes this cache the replica and its region the primary."""
    store = new_store(provider, sub, KIND, cache)
    roles = [(link.get("properties") or {}) for link in links]
    is_secondary = any((props.get("serverRole") or "").lower() == "primary" for props in roles)
    store.add_location(store.region, "replica" if is_secondary else "primary", "RedisResource.location")
    for props in roles:
        location = props.get("linkedRedisCacheLocation")
        if not location:
            store.unknowns.append(f"linked cache {props.get('linkedRedisCacheId') or '(not named)'}: "
                                  "its location was not reported")
            continue
        role = "primary" if (props.get("serverRole") or "").lower() == "primary" else "replica"
        store.add_location(provider.region(location), role, "RedisLinkedServer.properties.linkedRedisCacheLocation")
    return store


# -- Azure Managed Redis and Redis Enterprise ------------------------------------------------------------------
def enterprise_clusters(provider: AzureProvider, sub: str) -> list[DiscoveredStore]:
    """One listing of the clusters, then Databases_ListByCluster per cluster: each database's geoReplication
    linkedDatabases → the linked clusters' locations (resolved among the subscription's clusters)."""
    path, version = ENTERPRISE
    return enterprise_stores(provider, sub, provider.arm_json().list(subscription_path(sub, path), version))


def enterprise_stores(provider: AzureProvider, sub: str, clusters: list[dict[str, Any]]) -> list[DiscoveredStore]:
    """Clusters (ARM JSON: a listing's or Resource Graph's rows), each with its databases' geo-replication."""
    _, version = ENTERPRISE
    located = {cluster["id"].lower(): provider.region(cluster.get("location")) for cluster in clusters}
    listings = sub_listings(provider, [f"{cluster['id']}/databases" for cluster in clusters], version)
    stores: list[DiscoveredStore] = []
    errors: Errors = []
    for cluster, databases in zip(clusters, listings, strict=True):
        if isinstance(databases, Exception):
            error, denied = describe_error(databases)
            errors.append((f"cluster {cluster['name']} databases: {error}", denied))
            store = enterprise_store(provider, sub, cluster, [], located)
            store.unknowns.append(f"its databases' geo-replication could not be read: {error}")
        else:
            store = enterprise_store(provider, sub, cluster, databases, located)
        stores.append(store)
    raise_partial(stores, errors)
    return stores


def enterprise_store(provider: AzureProvider, sub: str, cluster: dict[str, Any], databases: list[dict[str, Any]],
                     located: dict[str, str]) -> DiscoveredStore:
    """One cluster (a RedisEnterprise_List item) and its databases (Databases_ListByCluster items); `located`:
    cluster id (lower-cased) → region, for the linked databases' clusters."""
    store = new_store(provider, sub, ENTERPRISE_KIND, cluster)
    store.add_location(store.region, "primary", "Cluster.location")
    for database in databases:
        geo = (database.get("properties") or {}).get("geoReplication") or {}
        for linked in geo.get("linkedDatabases") or []:
            owner = (linked.get("id") or "").lower().split("/databases/")[0]
            if owner == cluster["id"].lower():
                continue
            if owner in located:
                store.add_location(located[owner], "primary",
                                   "Database.properties.geoReplication.linkedDatabases → that cluster's location")
            else:
                store.unknowns.append(f"geo-replicated database {linked.get('id')} is not in this subscription's "
                                      "listing: its region is not known")
    return store
