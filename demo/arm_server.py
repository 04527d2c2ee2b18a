"""A small Azure Resource Manager (ARM) compatible HTTP server for tests and the demo.

No emulator serves ARM's management plane (Azurite covers only the storage data plane), so this
one does, for exactly the read calls `providers.azure` makes. The real azure-mgmt SDK clients
talk to it over HTTP and deserialise what it returns, because its JSON has ARM's shapes:
`{"value": [...], "nextLink": "..."}` collections, resource ids, `properties` envelopes and
`{"error": {"code", "message"}}` errors.

    server = ArmServer().start()
    server.add_subscription("0000...", "prod")
    server.add_storage_account("0000...", "rg", "acmedocs", "brazilsouth", "Standard_RAGRS",
                               secondary_location="southcentralus")
    server.url, server.token        # base_url for the SDK; the only bearer token it accepts
    server.requests                 # [("GET", "/subscriptions?api-version=2022-12-01"), ...]
    server.stop()

Resource Graph: `server.graph` answers POST /providers/Microsoft.ResourceGraph/resources over the same resources
(demo/resource_graph.py: the KQL subset the provider sends, management groups, subscriptions the graph misses).

Behaviour: 401 unless `Authorization: Bearer <token>`; 400 without `api-version`; 403
AuthorizationFailed for every call under a subscription passed to `deny()` (or whose path
contains a fragment passed to `deny_path()`); 405 for any method
but GET and that query (and the request is still remembered, so tests can prove a client is read-only);
collections page `page_size` items at a time with an absolute `nextLink`.

Foreground: `python -m demo.arm_server --port 8900` seeds the demo estate and serves it.
"""

from __future__ import annotations

import argparse
import json
import secrets
import threading
import urllib.parse
import uuid
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo import resource_graph
from demo.arm_databases import ArmDatabases
from demo.arm_databases import sub_scope as _sub_scope

HOST = "127.0.0.1"
TENANT_ID = "72f988bf-0000-4000-8000-00000000aaaa"
CREATED = "2024-03-01T09:00:00.0000000Z"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class ArmState:
    """The resources the server knows, indexed by lower-cased ARM path."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.denied: set[str] = set()
        self.denied_paths: set[str] = set()
        self.items: dict[str, dict[str, Any]] = {}
        self.collections: dict[str, list[dict[str, Any]]] = {}

    def put(self, resource: dict[str, Any], collections: Iterable[str]) -> dict[str, Any]:
        with self.lock:
            self.items[resource["id"].lower()] = resource
            for path in collections:
                self.collections.setdefault(path.lower(), []).append(resource)
        return resource


class ArmServer(ArmDatabases):
    """An in-process ARM look-alike on 127.0.0.1 (port 0 picks a free port). SQL managed instances, failover
    groups and Redis caches are seeded by the methods of `demo.arm_databases.ArmDatabases`."""

    def __init__(self, token: str | None = None, page_size: int = 2, port: int = 0):
        self.token = token or f"custody-demo-{secrets.token_hex(8)}"
        self.page_size = page_size
        self.state = ArmState()
        self.requests: list[tuple[str, str]] = []
        self._requests_lock = threading.Lock()
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.graph = resource_graph.ResourceGraph(self)  # POST /providers/Microsoft.ResourceGraph/resources

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ArmServer:
        handler = type("BoundArmHandler", (_ArmHandler,), {"arm": self})
        self._httpd = ThreadingHTTPServer((HOST, self._port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="arm-server",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ArmServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("ArmServer is not running")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def remember(self, method: str, path: str) -> None:
        with self._requests_lock:
            self.requests.append((method, path))

    def methods(self) -> set[str]:
        """Every HTTP method the server has been sent."""
        with self._requests_lock:
            return {method for method, _ in self.requests}

    # -- subscriptions ---------------------------------------------------------------------------
    def add_subscription(
        self, subscription_id: str, display_name: str, state: str = "Enabled", tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        doc = {
            "id": f"/subscriptions/{subscription_id}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": subscription_id,
            "tenantId": TENANT_ID,
            "displayName": display_name,
            "state": state,
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
            "tags": tags or {},
        }
        with self.state.lock:
            self.state.subscriptions[subscription_id.lower()] = doc
        return doc

    def deny(self, subscription_id: str) -> None:
        """Answer 403 AuthorizationFailed to every call under this subscription."""
        with self.state.lock:
            self.state.denied.add(subscription_id.lower())

    def deny_path(self, fragment: str) -> None:
        """Answer 403 AuthorizationFailed to every call whose path contains `fragment` (case-insensitive)."""
        with self.state.lock:
            self.state.denied_paths.add(fragment.lower())

    # -- resources -------------------------------------------------------------------------------
    def add_resource(self, resource: dict[str, Any], collections: Iterable[str]) -> dict[str, Any]:
        """Add any ARM resource document, listed under each of `collections` (ARM paths)."""
        return self.state.put(resource, collections)

    def add_storage_account(
        self,
        subscription_id: str,
        group: str,
        name: str,
        location: str,
        sku: str,
        secondary_location: str | None = None,
        tags: dict[str, str] | None = None,
        kind: str = "StorageV2",
        encryption: dict[str, Any] | None = None,
        status_of_secondary: str | None = None,
    ) -> dict[str, Any]:
        """`encryption`: the account's `properties.encryption` (default: Microsoft-managed keys; see
        `key_vault_encryption` for customer-managed keys). `status_of_secondary` without `secondary_location`: an
        account whose secondary ARM reports only by its status (the region is then the pair's)."""
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts"
        endpoints = {svc: f"https://{name}.{svc}.core.windows.net/" for svc in ("blob", "queue", "table", "file")}
        properties: dict[str, Any] = {
            "keyCreationTime": {"key1": CREATED, "key2": CREATED},
            "privateEndpointConnections": [],
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
            "networkAcls": {
                "bypass": "AzureServices",
                "virtualNetworkRules": [],
                "ipRules": [],
                "defaultAction": "Allow",
            },
            "supportsHttpsTrafficOnly": True,
            "encryption": encryption or {
                "services": {"blob": {"keyType": "Account", "enabled": True, "lastEnabledTime": CREATED}},
                "keySource": "Microsoft.Storage",
            },
            "accessTier": "Hot",
            "provisioningState": "Succeeded",
            "creationTime": CREATED,
            "primaryEndpoints": endpoints,
            "primaryLocation": location,
            "statusOfPrimary": "available",
        }
        if secondary_location:
            properties["secondaryLocation"] = secondary_location
            properties["statusOfSecondary"] = "available"
        if status_of_secondary:
            properties["statusOfSecondary"] = status_of_secondary
        doc = {
            "sku": {"name": sku, "tier": sku.split("_")[0]},
            "kind": kind,
            "id": f"{scope}/{name}",
            "name": name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": location,
            "tags": tags or {},
            "properties": properties,
        }
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.Storage/storageAccounts")])

    def add_cosmos_account(
        self,
        subscription_id: str,
        group: str,
        name: str,
        regions: list[tuple[str, int]],
        tags: dict[str, str] | None = None,
        key_vault_key_uri: str | None = None,
        multiple_write_locations: bool = False,
        backup_redundancy: str | None = "Geo",
        continuous_backup: bool = False,
    ) -> dict[str, Any]:
        """`regions`: (display name as Cosmos DB reports it, e.g. "West Europe", failover priority);
        `key_vault_key_uri`: a customer-managed key (`properties.keyVaultKeyUri`). With `multiple_write_locations`
        every region is a write region (`writeLocations` lists them all). `backupPolicy`: Periodic with
        `backup_redundancy` (None: not reported), or Continuous (`continuous_backup`)."""
        scope = (
            f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.DocumentDB/databaseAccounts"
        )
        ordered = sorted(regions, key=lambda item: item[1])

        def location(display: str, priority: int) -> dict[str, Any]:
            slug = display.lower().replace(" ", "")
            return {
                "id": f"{name}-{slug}",
                "locationName": display,
                "documentEndpoint": f"https://{name}-{slug}.documents.azure.com:443/",
                "provisioningState": "Succeeded",
                "failoverPriority": priority,
                "isZoneRedundant": False,
            }

        locations = [location(display, priority) for display, priority in ordered]
        doc = {
            "id": f"{scope}/{name}",
            "name": name,
            "location": ordered[0][0],  # Cosmos DB reports display names, e.g. "West Europe"
            "type": "Microsoft.DocumentDB/databaseAccounts",
            "kind": "GlobalDocumentDB",
            "tags": tags or {},
            "identity": {"type": "None"},
            "properties": {
                "provisioningState": "Succeeded",
                "documentEndpoint": f"https://{name}.documents.azure.com:443/",
                "databaseAccountOfferType": "Standard",
                "consistencyPolicy": {
                    "defaultConsistencyLevel": "Session",
                    "maxIntervalInSeconds": 5,
                    "maxStalenessPrefix": 100,
                },
                "enableMultipleWriteLocations": multiple_write_locations,
                "enableAutomaticFailover": True,
                "writeLocations": locations if multiple_write_locations else locations[:1],
                "readLocations": locations,
                "locations": locations,
                "failoverPolicies": [
                    {"id": loc["id"], "locationName": loc["locationName"], "failoverPriority": loc["failoverPriority"]}
                    for loc in locations
                ],
                "backupPolicy": {
                    "type": "Periodic",
                    "periodicModeProperties": {
                        "backupIntervalInMinutes": 240,
                        "backupRetentionIntervalInHours": 8,
                        "backupStorageRedundancy": backup_redundancy,
                    },
                },
            },
        }
        periodic = doc["properties"]["backupPolicy"]["periodicModeProperties"]
        if backup_redundancy is None:
            del periodic["backupStorageRedundancy"]
        if continuous_backup:
            doc["properties"]["backupPolicy"] = {"type": "Continuous",
                                                 "continuousModeProperties": {"tier": "Continuous7Days"}}
        if key_vault_key_uri:
            doc["properties"]["keyVaultKeyUri"] = key_vault_key_uri
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.DocumentDB/databaseAccounts")])

    def add_sql_server(
        self, subscription_id: str, group: str, name: str, location: str, tags: dict[str, str] | None = None
    ) -> dict[str, Any]:
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Sql/servers"
        doc = {
            "kind": "v12.0",
            "properties": {
                "administratorLogin": "sqladmin",
                "version": "12.0",
                "state": "Ready",
                "fullyQualifiedDomainName": f"{name}.database.windows.net",
                "privateEndpointConnections": [],
                "minimalTlsVersion": "1.2",
                "publicNetworkAccess": "Enabled",
            },
            "location": location,
            "tags": tags or {},
            "id": f"{scope}/{name}",
            "name": name,
            "type": "Microsoft.Sql/servers",
        }
        self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.Sql/servers")])
        self.add_sql_database(subscription_id, group, name, "master", location, system=True)
        self.set_encryption_protector(subscription_id, group, name, location)
        return doc

    def set_encryption_protector(self, subscription_id: str, group: str, server: str, location: str,
                                 key_uri: str | None = None) -> dict[str, Any]:
        """The server's TDE protector (`encryptionProtector/current`): service-managed, or the Key Vault key."""
        path = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Sql/servers/{server}"
        if key_uri:
            vault, key, version = _key_parts(key_uri)
            properties = {"serverKeyName": f"{vault}_{key}_{version}", "serverKeyType": "AzureKeyVault",
                          "uri": key_uri, "thumbprint": _stable_uuid(key_uri).replace("-", "").upper()[:40],
                          "autoRotationEnabled": False}
        else:
            properties = {"serverKeyName": "ServiceManaged", "serverKeyType": "ServiceManaged",
                          "autoRotationEnabled": False}
        doc = {"id": f"{path}/encryptionProtector/current", "name": "current",
               "type": "Microsoft.Sql/servers/encryptionProtector",
               "kind": "azurekeyvault" if key_uri else "servicemanaged", "location": location,
               "properties": properties}
        return self.add_resource(doc, [])

    def add_key_vault(self, subscription_id: str, group: str, name: str, location: str,
                      managed_hsm: bool = False) -> str:
        """A Key Vault (`https://NAME.vault.azure.net`) or Managed HSM (`https://NAME.managedhsm.azure.net`), listed
        by Resources_List (`/subscriptions/SUB/resources`) with its location; returns its URI."""
        kind = "managedHSMs" if managed_hsm else "vaults"
        doc = {"id": f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.KeyVault/{kind}/"
                     f"{name}", "name": name, "type": f"Microsoft.KeyVault/{kind}", "location": location, "tags": {}}
        self.add_resource(doc, [f"/subscriptions/{subscription_id}/resources"])
        return f"https://{name}.{'managedhsm' if managed_hsm else 'vault'}.azure.net"

    def add_disk_encryption_set(self, subscription_id: str, group: str, name: str, location: str, key_url: str,
                                encryption_type: str = "EncryptionAtRestWithCustomerKey") -> dict[str, Any]:
        """A disk encryption set whose active key is `key_url` (a versioned Key Vault or Managed HSM key URL)."""
        providers = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers"
        scope = f"{providers}/Microsoft.Compute/diskEncryptionSets"
        vault = f"{providers}/Microsoft.KeyVault/vaults/{_key_parts(key_url)[0]}"
        doc = {"id": f"{scope}/{name}", "name": name, "type": "Microsoft.Compute/diskEncryptionSets",
               "location": location, "tags": {},
               "identity": {"type": "SystemAssigned", "principalId": _stable_uuid(name), "tenantId": TENANT_ID},
               "properties": {"encryptionType": encryption_type,
                              "activeKey": {"sourceVault": {"id": vault}, "keyUrl": key_url},
                              "provisioningState": "Succeeded", "rotationToLatestKeyVersionEnabled": False}}
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.Compute/diskEncryptionSets")])

    def add_sql_database(
        self,
        subscription_id: str,
        group: str,
        server: str,
        name: str,
        location: str,
        tags: dict[str, str] | None = None,
        backup_redundancy: str | None = "Local",
        system: bool = False,
    ) -> dict[str, Any]:
        """`backup_redundancy`: currentBackupStorageRedundancy and requestedBackupStorageRedundancy (None: not
        reported)."""
        scope = (
            f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Sql/servers/"
            f"{server}/databases"
        )
        sku = (
            {"name": "System", "tier": "System", "capacity": 0}
            if system
            else {"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2}
        )
        doc = {
            "sku": sku,
            "kind": "v12.0,system" if system else "v12.0,user,vcore",
            "managedBy": f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Sql/servers/"
            f"{server}"
            if system
            else None,
            "properties": {
                "collation": "SQL_Latin1_General_CP1_CI_AS",
                "maxSizeBytes": 34359738368,
                "status": "Online",
                "databaseId": _stable_uuid(f"{scope}/{name}"),
                "creationDate": CREATED,
                "currentServiceObjectiveName": "System0" if system else "GP_Gen5_2",
                "catalogCollation": "SQL_Latin1_General_CP1_CI_AS",
                "zoneRedundant": False,
                "readScale": "Disabled",
                "currentSku": sku,
                "currentBackupStorageRedundancy": backup_redundancy,
                "requestedBackupStorageRedundancy": backup_redundancy,
                "isLedgerOn": False,
            },
            "location": location,
            "tags": tags or {},
            "id": f"{scope}/{name}",
            "name": name,
            "type": "Microsoft.Sql/servers/databases",
        }
        if doc["managedBy"] is None:
            del doc["managedBy"]
        if backup_redundancy is None:
            for field in ("currentBackupStorageRedundancy", "requestedBackupStorageRedundancy"):
                del doc["properties"][field]
        return self.add_resource(doc, [scope])

    def add_replication_link(
        self,
        subscription_id: str,
        group: str,
        server: str,
        database: str,
        *,
        partner_server: str,
        partner_location: str,
        role: str,
        partner_role: str,
        partner_database: str | None = None,
    ) -> dict[str, Any]:
        """A geo-replication link as the database on `server` sees it (role "Primary" or "Secondary")."""
        server_path = (
            f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Sql/servers/{server}"
        )
        scope = f"{server_path}/databases/{database}/replicationLinks"
        link_id = _stable_uuid(f"{scope}/{partner_server}")
        doc = {
            "properties": {
                "partnerServer": partner_server,
                "partnerDatabase": partner_database or database,
                "partnerDatabaseId": _stable_uuid(f"{partner_server}/{partner_database or database}"),
                "partnerLocation": partner_location,
                "role": role,
                "partnerRole": partner_role,
                "replicationMode": "ASYNC",
                "startTime": CREATED,
                "percentComplete": 100,
                "replicationState": "CATCH_UP",
                "isTerminationAllowed": True,
                "linkType": "GEO",
            },
            "id": f"{scope}/{link_id}",
            "name": link_id,
            "type": "Microsoft.Sql/servers/databases/replicationLinks",
        }
        return self.add_resource(doc, [scope, f"{server_path}/replicationLinks"])

    def add_disk(
        self,
        subscription_id: str,
        group: str,
        name: str,
        location: str,
        tags: dict[str, str] | None = None,
        sku: str = "Premium_LRS",
        size_gb: int = 30,
        disk_encryption_set: str | None = None,
    ) -> dict[str, Any]:
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Compute/disks"
        doc = {
            "name": name,
            "id": f"{scope}/{name}",
            "type": "Microsoft.Compute/disks",
            "location": location,
            "tags": tags or {},
            "sku": {"name": sku, "tier": sku.split("_")[0]},
            "properties": {
                "osType": "Linux",
                "hyperVGeneration": "V2",
                "creationData": {"createOption": "FromImage"},
                "diskSizeGB": size_gb,
                "diskIOPSReadWrite": 120,
                "diskMBpsReadWrite": 25,
                "networkAccessPolicy": "AllowAll",
                "publicNetworkAccess": "Enabled",
                "timeCreated": CREATED,
                "provisioningState": "Succeeded",
                "diskState": "Unattached",
                "diskSizeBytes": size_gb * 1024**3,
                "uniqueId": _stable_uuid(f"{scope}/{name}"),
            },
        }
        doc["properties"]["encryption"] = _disk_encryption(disk_encryption_set)
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.Compute/disks")])

    def add_snapshot(
        self,
        subscription_id: str,
        group: str,
        name: str,
        location: str,
        source_id: str,
        tags: dict[str, str] | None = None,
        size_gb: int = 30,
        disk_encryption_set: str | None = None,
    ) -> dict[str, Any]:
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.Compute/snapshots"
        doc = {
            "name": name,
            "id": f"{scope}/{name}",
            "type": "Microsoft.Compute/snapshots",
            "location": location,
            "tags": tags or {},
            "sku": {"name": "Standard_ZRS", "tier": "Standard"},
            "properties": {
                "osType": "Linux",
                "hyperVGeneration": "V2",
                "creationData": {"createOption": "Copy", "sourceResourceId": source_id},
                "diskSizeGB": size_gb,
                "incremental": True,
                "networkAccessPolicy": "AllowAll",
                "publicNetworkAccess": "Enabled",
                "timeCreated": CREATED,
                "provisioningState": "Succeeded",
                "diskState": "Unattached",
                "diskSizeBytes": size_gb * 1024**3,
                "uniqueId": _stable_uuid(f"{scope}/{name}"),
            },
        }
        doc["properties"]["encryption"] = _disk_encryption(disk_encryption_set)
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.Compute/snapshots")])

    def add_object_replication_policy(
        self, subscription_id: str, group: str, source: str, destination: str, destination_group: str | None = None,
        destination_subscription: str | None = None,
    ) -> list[dict[str, Any]]:
        """An object replication policy, listed under both accounts as ARM does (ObjectReplicationPolicies_List);
        the destination account must already exist. Accounts are named as ARM names them: by name."""
        policy_id = _stable_uuid(f"{source}->{destination}")
        docs = []
        ends = ((subscription_id, group, source),
                (destination_subscription or subscription_id, destination_group or group, destination))
        for sub, rg, account in ends:
            scope = (f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{account}"
                     "/objectReplicationPolicies")
            docs.append(self.add_resource({
                "id": f"{scope}/{policy_id}", "name": policy_id,
                "type": "Microsoft.Storage/storageAccounts/objectReplicationPolicies",
                "properties": {
                    "policyId": policy_id, "enabledTime": CREATED, "sourceAccount": source,
                    "destinationAccount": destination,
                    "rules": [{"ruleId": _stable_uuid(f"{policy_id}/rule"), "sourceContainer": "data",
                               "destinationContainer": "data", "filters": {"prefixMatch": []}}],
                },
            }, [scope]))
        return docs

    def add_recovery_vault(
        self, subscription_id: str, group: str, name: str, location: str, redundancy: str = "GeoRedundant",
        cross_region_restore: str = "Disabled", tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Recovery Services vault (Vaults_ListBySubscriptionId, api-version 2024-04-01 shape)."""
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.RecoveryServices/vaults"
        doc = {
            "id": f"{scope}/{name}", "name": name, "type": "Microsoft.RecoveryServices/vaults", "location": location,
            "tags": tags or {}, "etag": f"W/\"datetime'{CREATED}'\"", "sku": {"name": "RS0", "tier": "Standard"},
            "properties": {
                "provisioningState": "Succeeded", "privateEndpointStateForBackup": "None",
                "privateEndpointStateForSiteRecovery": "None", "publicNetworkAccess": "Enabled",
                "redundancySettings": {"standardTierStorageRedundancy": redundancy,
                                       "crossRegionRestore": cross_region_restore},
                "securitySettings": {"softDeleteSettings": {"softDeleteState": "Enabled",
                                                            "softDeleteRetentionPeriodInDays": 14}},
                "secureScore": "None", "bcdrSecurityLevel": "Poor",
            },
        }
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.RecoveryServices/vaults")])

    def add_backup_vault(
        self, subscription_id: str, group: str, name: str, location: str, redundancy: str = "GeoRedundant",
        cross_region_restore: str = "Disabled", replicated_regions: list[str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Backup vault (Microsoft.DataProtection, BackupVaults_GetInSubscription, api-version 2024-04-01)."""
        scope = (f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/"
                 "Microsoft.DataProtection/backupVaults")
        doc = {
            "id": f"{scope}/{name}", "name": name, "type": "Microsoft.DataProtection/backupVaults",
            "location": location, "tags": tags or {}, "identity": {"type": "None"},
            "properties": {
                "provisioningState": "Succeeded", "resourceMoveState": "Unknown",
                "storageSettings": [{"datastoreType": "VaultStore", "type": redundancy}],
                "featureSettings": {"crossRegionRestoreSettings": {"state": cross_region_restore}},
                "securitySettings": {"softDeleteSettings": {"state": "On", "retentionDurationInDays": 14}},
                "secureScore": "None", "isVaultProtectedByResourceGuard": False,
                "replicatedRegions": list(replicated_regions or []),
            },
        }
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, "Microsoft.DataProtection/backupVaults")])

    def add_flexible_server(
        self, subscription_id: str, group: str, engine: str, name: str, location: str, geo_backup: bool = False,
        source_id: str | None = None, tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """An Azure Database for PostgreSQL or MySQL flexible server (`engine`), as Servers_List returns it;
        `location` as ARM reports it (a display name such as "West Europe"); `source_id`: a read replica's
        source (replicationRole AsyncReplica for PostgreSQL, Replica for MySQL; the source says Primary/Source)."""
        resource_type = f"Microsoft.DBfor{engine}/flexibleServers"
        scope = f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/{resource_type}"
        postgres = engine == "PostgreSQL"
        replica_role, source_role = ("AsyncReplica", "Primary") if postgres else ("Replica", "Source")
        properties: dict[str, Any] = {
            "administratorLogin": "dbadmin", "version": "16" if postgres else "8.0.21", "state": "Ready",
            "fullyQualifiedDomainName": f"{name}.{engine.lower()}.database.azure.com",
            "storage": {"storageSizeGB": 128, "autoGrow": "Disabled"},
            "backup": {"backupRetentionDays": 7, "geoRedundantBackup": "Enabled" if geo_backup else "Disabled",
                       "earliestRestoreDate": CREATED},
            "network": {"publicNetworkAccess": "Enabled"},
            "highAvailability": {"mode": "Disabled"},
            "replicationRole": replica_role if source_id else "None", "replicaCapacity": 5,
        }
        if source_id:
            properties["sourceServerResourceId"] = source_id
            source = self.state.items.get(source_id.lower())
            if source is not None:
                source["properties"]["replicationRole"] = source_role
        doc = {
            "sku": {"name": "Standard_D2ds_v4", "tier": "GeneralPurpose"},
            "properties": properties, "location": location, "tags": tags or {},
            "id": f"{scope}/{name}", "name": name, "type": resource_type,
        }
        return self.add_resource(doc, [scope, _sub_scope(subscription_id, resource_type)])

    # -- answering -------------------------------------------------------------------------------
    def answer(self, path: str, query: dict[str, list[str]], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one GET."""
        if authorization != f"Bearer {self.token}":
            return 401, _error("InvalidAuthenticationToken", "The access token is missing or invalid.")
        if not query.get("api-version"):
            return 400, _error(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        key = path.rstrip("/").lower()
        if key == "/subscriptions":
            with self.state.lock:
                return 200, self._page(path, query, list(self.state.subscriptions.values()))
        parts = key.split("/")
        subscription = parts[2] if len(parts) > 2 else ""
        with self.state.lock:
            if subscription not in self.state.subscriptions:
                return 404, _error("SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
            if subscription in self.state.denied or any(part in key for part in self.state.denied_paths):
                return 403, _denied(subscription, path)
            if len(parts) == 3:
                return 200, self.state.subscriptions[subscription]
            if key in self.state.collections:
                return 200, self._page(path, query, list(self.state.collections[key]))
            if key in self.state.items:
                return 200, self.state.items[key]
        if _is_collection(parts):
            return 200, self._page(path, query, [])
        return 404, _error("ResourceNotFound", f"The Resource '{path}' was not found.")

    def _page(self, path: str, query: dict[str, list[str]], items: list[dict[str, Any]]) -> dict[str, Any]:
        start = int((query.get("$skiptoken") or ["0"])[0])
        end = start + self.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            next_query = urllib.parse.urlencode({"api-version": query["api-version"][0], "$skiptoken": end})
            body["nextLink"] = f"{self.url}{path}?{next_query}"
        return body


def key_vault_encryption(vault_uri: str, key_name: str, infrastructure: bool = False) -> dict[str, Any]:
    """A storage account's `properties.encryption` with a customer-managed key (keySource Microsoft.Keyvault)."""
    version = _stable_uuid(vault_uri + key_name).replace("-", "")
    return {
        "services": {"blob": {"keyType": "Account", "enabled": True, "lastEnabledTime": CREATED}},
        "keySource": "Microsoft.Keyvault",
        "keyvaultproperties": {"keyname": key_name, "keyvaulturi": vault_uri,
                               "currentVersionedKeyIdentifier": f"{vault_uri}/keys/{key_name}/{version}"},
        "requireInfrastructureEncryption": infrastructure,
    }


def _disk_encryption(disk_encryption_set: str | None) -> dict[str, Any]:
    """A disk's or snapshot's `properties.encryption`: platform-managed keys, or a disk encryption set's key."""
    if disk_encryption_set is None:
        return {"type": "EncryptionAtRestWithPlatformKey"}
    return {"type": "EncryptionAtRestWithCustomerKey", "diskEncryptionSetId": disk_encryption_set}


def _key_parts(key_uri: str) -> tuple[str, str, str]:
    """(vault name, key name, version) of `https://VAULT.vault.azure.net/keys/KEY[/VERSION]`."""
    host, _, path = key_uri.removeprefix("https://").partition("/")
    parts = path.split("/")
    return host.split(".")[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""


def _is_collection(parts: list[str]) -> bool:
    """True for `.../providers/<namespace>/<type>[/<name>/<child type>...]` paths."""
    if "providers" not in parts:
        return len(parts) == 4 and parts[3] == "resources"  # Resources_List of a subscription
    after = parts[parts.index("providers") + 1 :]
    return len(after) >= 2 and len(after) % 2 == 0


def _denied(subscription: str, path: str) -> dict[str, Any]:
    action = "Microsoft.Resources/subscriptions/read"
    if "/providers/" in path:
        namespace_and_type = path.split("/providers/", 1)[1].split("/")[:2]
        action = "/".join(namespace_and_type) + "/read"
    return _error(
        "AuthorizationFailed",
        f"The client 'custody-reader' with object id '00000000-0000-0000-0000-00000000c0de' does not have "
        f"authorization to perform action '{action}' over scope '/subscriptions/{subscription}' or the scope is "
        f"invalid. If access was recently granted, please refresh your credentials.",
    )


def _stable_uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


class _ArmHandler(BaseHTTPRequestHandler):
    arm: ArmServer
    protocol_version = "HTTP/1.1"
    server_version = "custody-arm/1.0"

    def do_GET(self) -> None:
        self.arm.remember("GET", self.path)
        parsed = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parsed.query)
        status, body = self.arm.answer(urllib.parse.unquote(parsed.path), query, self.headers.get("Authorization"))
        self._send(status, body)

    def _reject(self) -> None:
        self.arm.remember(self.command, self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._send(
            405,
            _error("MethodNotAllowed", f"This server is read-only: {self.command} is not allowed."),
            extra={"Allow": "GET"},
        )

    def do_POST(self) -> None:
        """A Resource Graph query (demo/resource_graph.py); any other POST is refused like every write."""
        parsed = urllib.parse.urlsplit(self.path)
        if urllib.parse.unquote(parsed.path).rstrip("/").lower() != resource_graph.PATH:
            self._reject()
            return
        self.arm.remember("POST", self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != f"Bearer {self.arm.token}":
            self._send(401, _error("InvalidAuthenticationToken", "The access token is missing or invalid."))
            return
        self._send(*self.arm.graph.answer(urllib.parse.parse_qs(parsed.query), body))

    do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _reject

    def _send(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", secrets.token_hex(8))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


def main(argv: list[str] | None = None) -> None:
    from demo.azure_estate import seed_estate

    parser = argparse.ArgumentParser(description="Serve the Azure demo estate on a local ARM look-alike.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = ArmServer(port=args.port).start()
    estate = seed_estate(server)
    print(f"ARM server on {server.url}; export AZURE_ACCESS_TOKEN={server.token}", flush=True)
    print(f"subscriptions: {', '.join(estate.subscription_ids())}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
