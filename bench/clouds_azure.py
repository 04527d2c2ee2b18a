"""The `azure-databases` case of bench/clouds.py: SQL managed instances, Azure Cache for Redis and Azure Managed
Redis on the project's ARM server (demo/arm_server.py, demo/arm_databases.py).

N resources in 10 subscriptions over 20 regions, a third each:
- SQL managed instances: a tenth with geo-redundant backups (a backup in the pair), a twentieth the secondary of an
  instance failover group whose primary is the subscription's previous instance (in another region);
- Azure Cache for Redis caches (location as ARM reports it, a display name), half Premium: a tenth of those the
  secondary of a geo-replication link with the subscription's previous one;
- Azure Managed Redis clusters: a twentieth geo-replicated with the subscription's previous cluster.
Half of them are tagged `data-class: personal`.

Custody lists each type once per subscription, then reads what the listings lack: one
InstanceFailoverGroups_ListByLocation per (resource group, location) holding an instance, LinkedServer_List per
Premium cache, Databases_ListByCluster per cluster. The baseline lists too, then GETs every resource and reads the
same sub-collections per resource (each instance's failover groups, each Premium cache's linked servers, each
cluster's databases), 8 at once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.clouds import PERSONAL, REGIONS, SUBSCRIPTIONS, _get_json
from demo.arm_server import ArmServer

DISPLAY = {"westeurope": "West Europe", "northeurope": "North Europe", "germanywestcentral": "Germany West Central",
           "francecentral": "France Central", "uksouth": "UK South", "swedencentral": "Sweden Central",
           "switzerlandnorth": "Switzerland North", "norwayeast": "Norway East", "eastus": "East US",
           "westus2": "West US 2", "centralus": "Central US", "canadacentral": "Canada Central",
           "brazilsouth": "Brazil South", "japaneast": "Japan East", "koreacentral": "Korea Central",
           "australiaeast": "Australia East", "southeastasia": "Southeast Asia", "centralindia": "Central India",
           "southafricanorth": "South Africa North", "uaenorth": "UAE North"}
SQL_VERSION, REDIS_VERSION, ENTERPRISE_VERSION = "2023-08-01", "2024-11-01", "2024-10-01"
TYPES = {"Microsoft.Sql/managedInstances": SQL_VERSION, "Microsoft.Cache/redis": REDIS_VERSION,
         "Microsoft.Cache/redisEnterprise": ENTERPRISE_VERSION}
VERSIONS = {resource_type.lower(): version for resource_type, version in TYPES.items()}
SERVICES = ["sqlmi", "redis"]
GROUP = "bench"

Manifest = dict[str, dict[str, Any]]


def seed(server: ArmServer, n: int) -> Manifest:
    """Name -> expected region, copy regions (every non-primary location) and tags."""
    for sub in SUBSCRIPTIONS:
        server.add_subscription(sub, f"bench-{sub[-2:]}")
    manifest: Manifest = {}
    previous: dict[tuple[str, int], dict[str, Any]] = {}  # (subscription, kind) -> the last resource seeded
    regions = list(REGIONS)
    for index in range(n):
        sub, region, name = SUBSCRIPTIONS[index % len(SUBSCRIPTIONS)], regions[index % len(regions)], f"r{index:07d}"
        kind, slot = index % 3, index // 3
        tags = dict(PERSONAL) if index % 2 else {}
        before = previous.get((sub, kind))
        # pairs: a resource of an odd block of 30 with its subscription's previous one of the kind (never a chain)
        linked = slot % 10 == 5 and (index // 30) % 2 == 1 and before is not None
        copies: list[str] = []
        if kind == 0:
            geo = slot % 10 == 0
            doc = server.add_managed_instance(sub, GROUP, name, region, "Geo" if geo else "Local", tags=tags)
            copies = [REGIONS[region]] if geo else []
            if linked:  # the secondary of a failover group: its own region holds a replica
                server.add_instance_failover_group(f"fog-{name}", before, doc)
        elif kind == 1:  # half Premium (the tier that geo-replicates); slot % 10 == 5 is one of them
            doc = server.add_redis_cache(sub, GROUP, name, DISPLAY[region], "Premium" if slot % 2 else "Standard",
                                         tags=tags)
            if linked:  # the secondary of a link: its own region holds a replica
                server.add_redis_link(before, doc)
        else:
            doc = server.add_managed_redis(sub, GROUP, name, DISPLAY[region], tags=tags)
            if linked:  # active geo-replication: every member a primary
                server.add_managed_redis_geo_group(f"geo-{name}", [before, doc])
        previous[sub, kind] = doc
        if linked and kind != 2:
            copies = [region]
            manifest[before["name"]]["replica_regions"] = sorted([*manifest[before["name"]]["replica_regions"],
                                                                  region])
        manifest[name] = {"region": region, "replica_regions": copies, "tags": tags}
    return manifest


def _sku(cache: dict[str, Any] | None) -> str:
    return ((cache or {}).get("properties") or {}).get("sku", {}).get("name", "")


def per_store(endpoint: str, token: str) -> dict[str, tuple[str, dict[str, str]]]:
    """List each type per subscription (following nextLink), then GET every resource and its sub-collection."""
    items: list[dict[str, Any]] = []
    for sub in SUBSCRIPTIONS:
        for resource_type, version in TYPES.items():
            url: str | None = f"{endpoint}/subscriptions/{sub}/providers/{resource_type}?api-version={version}"
            while url:
                body = _get_json(url, token)
                items.extend(body["value"])
                url = body.get("nextLink")

    def describe(item: dict[str, Any]) -> dict[str, Any]:
        version = VERSIONS[item["type"].lower()]
        doc = _get_json(f"{endpoint}{item['id']}?api-version={version}", token)
        if doc["type"].lower() == "microsoft.sql/managedinstances":
            group = "/".join(doc["id"].split("/")[:5])
            _get_json(f"{endpoint}{group}/providers/Microsoft.Sql/locations/{doc['location']}/instanceFailoverGroups"
                      f"?api-version={version}", token)
        elif doc["type"].lower() == "microsoft.cache/redis" and _sku(doc) == "Premium":
            _get_json(f"{endpoint}{doc['id']}/linkedServers?api-version={version}", token)
        elif doc["type"].lower() == "microsoft.cache/redisenterprise":
            _get_json(f"{endpoint}{doc['id']}/databases?api-version={version}", token)
        return doc

    with ThreadPoolExecutor(8) as pool:
        docs = pool.map(describe, items)
        return {doc["name"]: (doc["location"].lower().replace(" ", ""), dict(doc.get("tags") or {})) for doc in docs}
