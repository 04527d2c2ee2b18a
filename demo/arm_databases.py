"""The ARM look-alike's SQL managed instances, failover groups, Azure Cache for Redis and Azure Managed Redis (a
mixin of `demo.arm_server.ArmServer`).

The documents have the shapes of the azure-rest-api-specs examples: Microsoft.Sql 2023-08-01 (ManagedInstanceList,
InstanceFailoverGroupList, FailoverGroupList), Microsoft.Cache 2024-11-01 (RedisCacheList,
RedisCacheLinkedServer_List) and Microsoft.Cache/redisEnterprise 2024-10-01 (RedisEnterpriseList,
RedisEnterpriseDatabasesListByCluster, RedisEnterpriseDatabasesCreateWithGeoReplication's response). A failover
group and a geo-replication link are listed from both ends, each end seeing the other's role, as ARM lists them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any


class ArmDatabases:
    """Seeding methods for Microsoft.Sql managed instances and failover groups and Microsoft.Cache caches."""

    state: Any  # ArmServer's ArmState

    def add_resource(self, resource: dict[str, Any], collections: Iterable[str]) -> dict[str, Any]:
        raise NotImplementedError  # ArmServer's

    # -- SQL managed instances ---------------------------------------------------------------------------
    def add_managed_instance(self, subscription_id: str, group: str, name: str, location: str,
                             backup_redundancy: str | None = "Local", tags: dict[str, str] | None = None
                             ) -> dict[str, Any]:
        """A managed instance (ManagedInstances_List); `backup_redundancy` None: the field is not reported."""
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Sql/managedInstances"
        properties: dict[str, Any] = {
            "fullyQualifiedDomainName": f"{name}.{_zone(name)}.database.windows.net", "administratorLogin": "miadmin",
            "subnetId": f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Network/"
                        f"virtualNetworks/vnet-{name}/subnets/mi",
            "state": "Ready", "provisioningState": "Succeeded", "vCores": 8, "storageSizeInGB": 256,
            "licenseType": "LicenseIncluded", "collation": "SQL_Latin1_General_CP1_CI_AS",
            "publicDataEndpointEnabled": False, "proxyOverride": "Default", "minimalTlsVersion": "1.2",
            "dnsZone": _zone(name),
        }
        if backup_redundancy is not None:
            properties["currentBackupStorageRedundancy"] = backup_redundancy
            properties["requestedBackupStorageRedundancy"] = backup_redundancy
        doc = {"location": location, "id": f"{scope}/{name}", "name": name, "type": "Microsoft.Sql/managedInstances",
               "tags": tags or {}, "sku": {"name": "GP_Gen5", "tier": "GeneralPurpose", "capacity": 8,
                                           "family": "Gen5"},
               "properties": properties}
        return self.add_resource(doc, [scope, sub_scope(subscription_id, "Microsoft.Sql/managedInstances")])

    def add_instance_failover_group(self, name: str, primary: dict[str, Any], secondary: dict[str, Any]
                                    ) -> list[dict[str, Any]]:
        """An instance failover group between two managed instances (their documents), listed by
        InstanceFailoverGroups_ListByLocation in each instance's resource group and location."""
        pair = {"primaryManagedInstanceId": primary["id"], "partnerManagedInstanceId": secondary["id"]}
        docs = []
        for here, there, role, partner_role in ((primary, secondary, "Primary", "Secondary"),
                                                (secondary, primary, "Secondary", "Primary")):
            scope = f"{_group_path(here['id'])}/providers/Microsoft.Sql/locations/{here['location']}" \
                    "/instanceFailoverGroups"
            docs.append(self.add_resource({
                "id": f"{scope}/{name}", "name": name, "type": "Microsoft.Sql/locations/instanceFailoverGroups",
                "properties": {
                    "readWriteEndpoint": {"failoverPolicy": "Automatic", "failoverWithDataLossGracePeriodMinutes": 60},
                    "readOnlyEndpoint": {"failoverPolicy": "Disabled"}, "replicationRole": role,
                    "replicationState": "CATCH_UP",
                    "partnerRegions": [{"location": there["location"], "replicationRole": partner_role}],
                    "managedInstancePairs": [pair],
                },
            }, [scope]))
        return docs

    # -- SQL servers' failover groups ----------------------------------------------------------------------
    def add_failover_group(self, name: str, primary: tuple[dict[str, Any], list[str]],
                           secondary: tuple[dict[str, Any], list[str]]) -> list[dict[str, Any]]:
        """A failover group between two servers (each: its document and the ids of its databases in the group),
        listed by FailoverGroups_ListByServer under both servers."""
        docs = []
        for (here, databases), (there, _), role, partner_role in ((primary, secondary, "Primary", "Secondary"),
                                                                  (secondary, primary, "Secondary", "Primary")):
            scope = f"{here['id']}/failoverGroups"
            docs.append(self.add_resource({
                "id": f"{scope}/{name}", "name": name, "type": "Microsoft.Sql/servers/failoverGroups",
                "location": here["location"], "tags": {},
                "properties": {
                    "readWriteEndpoint": {"failoverPolicy": "Automatic", "failoverWithDataLossGracePeriodMinutes": 60},
                    "readOnlyEndpoint": {"failoverPolicy": "Disabled"}, "replicationRole": role,
                    "replicationState": "CATCH_UP",
                    "partnerServers": [{"id": there["id"], "location": there["location"],
                                        "replicationRole": partner_role}],
                    "databases": list(databases),
                },
            }, [scope]))
        return docs

    # -- Azure Cache for Redis -----------------------------------------------------------------------------
    def add_redis_cache(self, subscription_id: str, group: str, name: str, location: str, sku: str = "Premium",
                        tags: dict[str, str] | None = None) -> dict[str, Any]:
        """A cache (Redis_ListBySubscription); `location` as ARM reports it, a display name such as "East US"."""
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Cache/Redis"
        family, capacity = ("P", 1) if sku == "Premium" else ("C", 1)
        doc = {
            "id": f"{scope}/{name}", "location": location, "name": name, "type": "Microsoft.Cache/Redis",
            "tags": tags or {},
            "properties": {
                "provisioningState": "Succeeded", "redisVersion": "6.0",
                "sku": {"name": sku, "family": family, "capacity": capacity}, "enableNonSslPort": False,
                "replicasPerMaster": 1, "replicasPerPrimary": 1, "updateChannel": "Stable", "redisConfiguration": {},
                "hostName": f"{name}.redis.cache.windows.net", "port": 6379, "sslPort": 6380,
                "instances": [{"sslPort": 15000, "nonSslPort": 13000, "isMaster": True, "isPrimary": True},
                              {"sslPort": 15001, "nonSslPort": 13001, "isMaster": False, "isPrimary": False}],
            },
        }
        return self.add_resource(doc, [scope, sub_scope(subscription_id, "Microsoft.Cache/redis")])

    def add_redis_link(self, primary: dict[str, Any], secondary: dict[str, Any]) -> list[dict[str, Any]]:
        """Passive geo-replication between two caches (their documents): each lists the other as a linked server
        (LinkedServer_List), whose serverRole is the other's role."""
        docs = []
        for here, there, role in ((primary, secondary, "Secondary"), (secondary, primary, "Primary")):
            scope = f"{here['id']}/linkedServers"
            docs.append(self.add_resource({
                "id": f"{scope}/{there['name']}", "name": there["name"], "type": "Microsoft.Cache/Redis/linkedServers",
                "properties": {
                    "linkedRedisCacheId": there["id"], "linkedRedisCacheLocation": there["location"],
                    "geoReplicatedPrimaryHostName": f"{primary['name']}.geo.redis.cache.windows.net",
                    "primaryHostName": f"{here['name']}.redis.cache.windows.net", "provisioningState": "Succeeded",
                    "serverRole": role,
                },
            }, [scope]))
        return docs

    # -- Azure Managed Redis (Redis Enterprise) ------------------------------------------------------------
    def add_managed_redis(self, subscription_id: str, group: str, name: str, location: str,
                          tags: dict[str, str] | None = None) -> dict[str, Any]:
        """A cluster (RedisEnterprise_List; `location` a display name) and its `default` database
        (Databases_ListByCluster), not geo-replicated until `add_managed_redis_geo_group`."""
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Cache/redisEnterprise"
        doc = self.add_resource({
            "id": f"{scope}/{name}", "location": location, "sku": {"name": "Balanced_B5"}, "name": name,
            "type": "Microsoft.Cache/redisEnterprise", "tags": tags or {},
            "properties": {"hostName": f"{name}.{location.lower().replace(' ', '')}.redis.azure.net",
                           "provisioningState": "Succeeded", "resourceState": "Running", "redisVersion": "7.4",
                           "minimumTlsVersion": "1.2"},
        }, [scope, sub_scope(subscription_id, "Microsoft.Cache/redisEnterprise")])
        self.add_resource({
            "id": f"{doc['id']}/databases/default", "name": f"{name}/default",
            "type": "Microsoft.Cache/redisEnterprise/databases",
            "properties": {"provisioningState": "Succeeded", "resourceState": "Running", "clientProtocol": "Encrypted",
                           "clusteringPolicy": "EnterpriseCluster", "evictionPolicy": "NoEviction", "port": 10000},
        }, [f"{doc['id']}/databases"])
        return doc

    def add_managed_redis_geo_group(self, nickname: str, clusters: list[dict[str, Any]]) -> None:
        """Active geo-replication of the clusters' `default` databases: each lists them all as linkedDatabases."""
        linked = [{"id": f"{cluster['id']}/databases/default", "state": "Linked"} for cluster in clusters]
        for cluster in clusters:
            database = self.state.items[f"{cluster['id']}/databases/default".lower()]
            database["properties"]["geoReplication"] = {"groupNickname": nickname, "linkedDatabases": linked}


def _zone(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:13]


def _group_path(resource_id: str) -> str:
    """`/subscriptions/{sub}/resourceGroups/{group}` of a resource id."""
    return "/".join(resource_id.split("/")[:5])


def sub_scope(subscription_id: str, resource_type: str) -> str:
    """A subscription-wide collection: `/subscriptions/{sub}/providers/{namespace}/{type}`."""
    return f"/subscriptions/{subscription_id}/providers/{resource_type}"
