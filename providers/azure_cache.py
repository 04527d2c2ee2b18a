"""Azure Cache for Redis and its geo-replication (the `redis` service).

Read as ARM's JSON through the provider's read-only pipeline (`ArmJson`, providers/azure_copies.py), api-version
2024-11-01 of Microsoft.Cache, whose field names are those of the azure-rest-api-specs examples (RedisCacheList,
RedisCacheLinkedServer_List). Passive geo-replication links a Premium cache to one in another region: each side
lists the other as a linked server whose `serverRole` is the role of that other cache. Store builders take the ARM
items (dicts), so a bulk source whose rows carry the same `properties` can call them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from providers.azure_copies import Errors, new_store, raise_partial, subscription_path
from providers.errors import describe_error
from scanner.discovered import DiscoveredStore

if TYPE_CHECKING:
    from providers.azure import AzureProvider

REDIS = ("Microsoft.Cache/redis", "2024-11-01")
KIND = "azure-redis-cache"
GEO_REPLICATING_SKUS = {"premium"}  # passive geo-replication is a Premium-tier feature


def redis(provider: AzureProvider, sub: str) -> list[DiscoveredStore]:
    """A subscription's caches: one listing, then LinkedServer_List for each Premium cache (or one whose tier is not
    reported); a failed linked-server listing is kept as an error and the cache as a store with an unknown."""
    arm = provider.arm_json()
    path, version = REDIS
    stores: list[DiscoveredStore] = []
    errors: Errors = []
    for cache in arm.list(subscription_path(sub, path), version):
        if not may_geo_replicate(cache):
            stores.append(redis_store(provider, sub, cache, []))
            continue
        try:
            links = arm.list(f"{cache['id']}/linkedServers", version)
        except Exception as exc:
            error, denied = describe_error(exc)
            errors.append((f"cache {cache['name']} linked servers: {error}", denied))
            store = redis_store(provider, sub, cache, [])
            store.unknowns.append(f"geo-replication links could not be read: {error}")
            stores.append(store)
            continue
        stores.append(redis_store(provider, sub, cache, links))
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
