"""A fake of Google Cloud's database admin REST APIs, read endpoints only, on the mechanics of `demo.gcs_server`
(request log, read-only, `deny(project)` answers 403, `fail_next`, page size):

* Spanner:   GET /v1/projects/P/instances, GET /v1/projects/P/instanceConfigs/C
* Firestore: GET /v1/projects/P/databases
* Cloud SQL: GET /sql/v1beta4/projects/P/instances
* Bigtable:  GET /v2/projects/P/instances, GET /v2/projects/P/instances/-/clusters
* AlloyDB:   GET /v1/projects/P/locations/-/clusters, GET /v1/projects/P/locations/-/backups
* Filestore: GET /v1/projects/P/locations/-/instances, GET /v1/projects/P/locations/-/backups
* Memorystore for Redis: GET /v1/projects/P/locations/-/instances, GET /v1/projects/P/locations/-/clusters

The JSON follows the published REST references (spanner v1 Instance and InstanceConfig.replicas[] with
location/type/defaultLeaderLocation; firestore v1 Database.locationId; sqladmin v1beta4 DatabaseInstance with
region, instanceType, masterInstanceName, replicaNames, settings.backupConfiguration.location; bigtableadmin v2
Instance and Cluster.location as `projects/P/locations/ZONE`, with `failedLocations`; alloydb v1 Cluster with
clusterType, secondaryConfig.primaryClusterName, primaryConfig.secondaryClusterNames, automatedBackupPolicy,
continuousBackupConfig, and Backup.clusterName; file v1 Instance and Backup.sourceInstance; redis v1 Instance with
locationId/alternativeLocationId and Cluster with crossClusterReplicationConfig; the `locations/-` listings page with
pageSize/pageToken and name the locations they could not reach in `unreachable`).

One server answers them all. AlloyDB, Filestore and Memorystore share paths (`locations/-/instances`, `/clusters`,
`/backups`) that Google tells apart by host, so this fake serves each of them under its host as a path prefix
(`/alloydb.googleapis.com/v1/...`): `endpoint(service)` gives the URL to configure for a config service.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from demo.gcs_server import ApiError, FakeApiServer, Query, Route, page

# Spanner's Google-managed multi-region configurations as instanceConfigs.get describes them (read-write regions,
# read-only and witness replicas), for the ones the demo and tests use.
SPANNER_CONFIGS: dict[str, list[tuple[str, str]]] = {
    "nam-eur-asia1": [("us-central1", "READ_WRITE"), ("us-central2", "READ_WRITE"), ("europe-west1", "READ_ONLY"),
                      ("asia-east1", "READ_ONLY"), ("us-east1", "WITNESS")],
    "eur3": [("europe-west1", "READ_WRITE"), ("europe-west4", "READ_WRITE"), ("europe-north1", "WITNESS")],
}


# config service -> the path prefix this fake serves its API under (the API's host; see the module docstring)
PREFIXES = {"alloydb": "/alloydb.googleapis.com", "filestore": "/file.googleapis.com",
            "redis": "/redis.googleapis.com"}
Table = dict[str, list[dict[str, Any]]]  # project -> items
# (service, collection) -> (asset name host, Cloud Asset Inventory type) of the `locations/-` collections
LOCATED_ASSETS = {
    ("alloydb", "clusters"): ("alloydb.googleapis.com", "alloydb.googleapis.com/Cluster"),
    ("alloydb", "backups"): ("alloydb.googleapis.com", "alloydb.googleapis.com/Backup"),
    ("filestore", "instances"): ("file.googleapis.com", "file.googleapis.com/Instance"),
    ("filestore", "backups"): ("file.googleapis.com", "file.googleapis.com/Backup"),
    ("redis", "instances"): ("redis.googleapis.com", "redis.googleapis.com/Instance"),
    ("redis", "clusters"): ("redis.googleapis.com", "redis.googleapis.com/Cluster"),
}


class FakeDatabasesServer(FakeApiServer):
    name = "databases"

    def __init__(self, page_size: int = 1000):
        super().__init__(page_size)
        self.spanner: dict[str, list[dict[str, Any]]] = {}
        self.firestore: dict[str, list[dict[str, Any]]] = {}
        self.cloudsql: dict[str, list[dict[str, Any]]] = {}
        self.bigtable: dict[str, list[dict[str, Any]]] = {}
        self.clusters: dict[str, list[dict[str, Any]]] = {}
        self.failed_locations: dict[str, list[str]] = {}  # project -> Bigtable locations that did not answer
        # the `locations/-` collections, by (service, collection)
        self.located: dict[tuple[str, str], Table] = {collection: {} for collection in LOCATED_ASSETS}
        self.unreachable: dict[tuple[str, str], list[str]] = {}  # (service, collection) -> locations not reached
        self.broken: dict[tuple[str, str], int] = {}  # (service, collection) -> the HTTP status it answers with

    def endpoint(self, service: str) -> str:
        """The URL to configure as the endpoint of a config service (spanner, ..., alloydb, filestore, redis)."""
        return self.url + PREFIXES.get(service, "")

    # -- seeding -------------------------------------------------------------------------------
    def add_spanner_instance(self, project: str, name: str, config: str, labels: dict[str, str] | None = None
                             ) -> dict[str, Any]:
        """`config`: a configuration id, `regional-europe-west3` or a multi-region such as `nam-eur-asia1`."""
        doc = {"name": f"projects/{project}/instances/{name}", "config": f"projects/{project}/instanceConfigs/{config}",
               "displayName": name, "nodeCount": 1, "processingUnits": 1000, "state": "READY",
               "labels": dict(labels or {}), "edition": "ENTERPRISE"}
        self.spanner.setdefault(project, []).append(doc)
        return doc

    def add_firestore_database(self, project: str, name: str, location: str) -> dict[str, Any]:
        doc = {"name": f"projects/{project}/databases/{name}", "uid": f"uid-{project}-{name}", "locationId": location,
               "type": "FIRESTORE_NATIVE", "concurrencyMode": "PESSIMISTIC",
               "pointInTimeRecoveryEnablement": "POINT_IN_TIME_RECOVERY_DISABLED",
               "appEngineIntegrationMode": "DISABLED",
               "deleteProtectionState": "DELETE_PROTECTION_DISABLED", "etag": "e1"}
        self.firestore.setdefault(project, []).append(doc)
        return doc

    def add_sql_instance(self, project: str, name: str, region: str, *, master: str | None = None,
                         backup_location: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """A Cloud SQL instance; `master`: the primary's name (this one is then a READ_REPLICA_INSTANCE, and the
        primary lists it in replicaNames)."""
        backup: dict[str, Any] = {"enabled": not master, "startTime": "03:00", "kind": "sql#backupConfiguration",
                                  "pointInTimeRecoveryEnabled": not master}  # a read replica has no backups
        if backup_location:
            backup["location"] = backup_location
        doc: dict[str, Any] = {
            "kind": "sql#instance", "name": name, "project": project, "region": region, "gceZone": f"{region}-a",
            "databaseVersion": "POSTGRES_15", "state": "RUNNABLE", "backendType": "SECOND_GEN",
            "connectionName": f"{project}:{region}:{name}",
            "instanceType": "READ_REPLICA_INSTANCE" if master else "CLOUD_SQL_INSTANCE",
            "settings": {"tier": "db-custom-2-7680", "userLabels": dict(labels or {}),
                         "backupConfiguration": backup, "kind": "sql#settings"},
            "selfLink": f"https://sqladmin.googleapis.com/sql/v1beta4/projects/{project}/instances/{name}",
        }
        if master:
            doc["masterInstanceName"] = f"{project}:{master}"
            primary = next(i for i in self.cloudsql.get(project, []) if i["name"] == master)
            primary.setdefault("replicaNames", []).append(name)
        self.cloudsql.setdefault(project, []).append(doc)
        return doc

    def add_bigtable_instance(self, project: str, name: str, zones: list[str], labels: dict[str, str] | None = None
                              ) -> dict[str, Any]:
        doc = {"name": f"projects/{project}/instances/{name}", "displayName": name, "state": "READY",
               "type": "PRODUCTION", "labels": dict(labels or {}), "createTime": "2026-01-15T09:30:00Z"}
        self.bigtable.setdefault(project, []).append(doc)
        for number, zone in enumerate(zones, 1):
            self.clusters.setdefault(project, []).append({
                "name": f"{doc['name']}/clusters/{name}-c{number}", "location": f"projects/{project}/locations/{zone}",
                "state": "READY", "serveNodes": 1, "defaultStorageType": "SSD"})
        return doc

    def add_alloydb_cluster(self, project: str, region: str, name: str, *, primary: str | None = None,
                            backup_location: str | None = None, automated_backups: bool = True,
                            continuous_backups: bool = True, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """An AlloyDB cluster; `primary`: the full name of the primary cluster (this one is then SECONDARY, and a
        primary in this fake lists it in primaryConfig.secondaryClusterNames)."""
        full = f"projects/{project}/locations/{region}/clusters/{name}"
        doc: dict[str, Any] = {
            "name": full, "displayName": name, "uid": f"uid-{name}", "labels": dict(labels or {}), "state": "READY",
            "clusterType": "SECONDARY" if primary else "PRIMARY", "databaseVersion": "POSTGRES_15",
            "network": f"projects/{project}/global/networks/default", "createTime": "2026-02-01T10:00:00Z",
            "automatedBackupPolicy": {"enabled": automated_backups and not primary, "backupWindow": "3600s",
                                      "weeklySchedule": {"daysOfWeek": ["MONDAY"], "startTimes": [{"hours": 2}]},
                                      "timeBasedRetention": {"retentionPeriod": "1209600s"}},
            "continuousBackupConfig": {"enabled": continuous_backups and not primary, "recoveryWindowDays": 14},
        }
        if backup_location:
            doc["automatedBackupPolicy"]["location"] = backup_location
        if primary:
            doc["secondaryConfig"] = {"primaryClusterName": primary}
            for cluster in self.located[("alloydb", "clusters")].get(primary.split("/")[1], []):
                if cluster["name"] == primary:
                    cluster.setdefault("primaryConfig", {}).setdefault("secondaryClusterNames", []).append(full)
        self.located[("alloydb", "clusters")].setdefault(project, []).append(doc)
        return doc

    def add_alloydb_backup(self, project: str, region: str, name: str, cluster: str) -> dict[str, Any]:
        """A backup in `region` of the cluster named `cluster` (its full name)."""
        doc = {"name": f"projects/{project}/locations/{region}/backups/{name}", "uid": f"uid-{name}",
               "clusterName": cluster, "type": "ON_DEMAND", "state": "READY", "createTime": "2026-03-01T02:00:00Z"}
        self.located[("alloydb", "backups")].setdefault(project, []).append(doc)
        return doc

    def add_filestore_instance(self, project: str, location: str, name: str, labels: dict[str, str] | None = None
                               ) -> dict[str, Any]:
        """A Filestore instance; `location`: a zone (BASIC, ZONAL tiers) or a region (REGIONAL, ENTERPRISE)."""
        doc = {"name": f"projects/{project}/locations/{location}/instances/{name}", "state": "READY",
               "tier": "BASIC_HDD" if location[-2:-1] == "-" else "REGIONAL", "labels": dict(labels or {}),
               "fileShares": [{"name": "share1", "capacityGb": "1024"}],
               "networks": [{"network": "default", "modes": ["MODE_IPV4"]}], "createTime": "2026-02-01T10:00:00Z"}
        self.located[("filestore", "instances")].setdefault(project, []).append(doc)
        return doc

    def add_filestore_backup(self, project: str, region: str, name: str, instance: str) -> dict[str, Any]:
        """A backup in `region` of the instance named `instance` (its full name)."""
        doc = {"name": f"projects/{project}/locations/{region}/backups/{name}", "state": "READY",
               "sourceInstance": instance, "sourceFileShare": "share1", "sourceInstanceTier": "BASIC_HDD",
               "capacityGb": "1024", "createTime": "2026-03-01T02:00:00Z"}
        self.located[("filestore", "backups")].setdefault(project, []).append(doc)
        return doc

    def add_redis_instance(self, project: str, zone: str, name: str, alternative_zone: str | None = None,
                           labels: dict[str, str] | None = None) -> dict[str, Any]:
        """A Memorystore for Redis instance in `zone`; `alternative_zone`: the standard tier's replica zone."""
        region = zone.rsplit("-", 1)[0]
        doc: dict[str, Any] = {
            "name": f"projects/{project}/locations/{region}/instances/{name}", "displayName": name,
            "labels": dict(labels or {}), "locationId": zone, "redisVersion": "REDIS_7_0", "memorySizeGb": 1,
            "tier": "STANDARD_HA" if alternative_zone else "BASIC", "state": "READY", "port": 6379}
        if alternative_zone:
            doc["alternativeLocationId"] = alternative_zone
        self.located[("redis", "instances")].setdefault(project, []).append(doc)
        return doc

    def add_redis_cluster(self, project: str, region: str, name: str, *, primary: str | None = None,
                          labels: dict[str, str] | None = None) -> dict[str, Any]:
        """A Memorystore for Redis cluster; `primary`: the full name of its primary cluster (this one is then
        SECONDARY, and a primary in this fake lists it in its secondaryClusters and membership)."""
        full = f"projects/{project}/locations/{region}/clusters/{name}"
        doc: dict[str, Any] = {"name": full, "uid": f"uid-{name}", "labels": dict(labels or {}), "state": "ACTIVE",
                               "shardCount": 3, "replicaCount": 1, "nodeType": "REDIS_HIGHMEM_MEDIUM"}
        if primary:
            remote = {"cluster": primary, "uid": f"uid-{primary.rsplit('/', 1)[-1]}"}
            doc["crossClusterReplicationConfig"] = {
                "clusterRole": "SECONDARY", "primaryCluster": remote,
                "membership": {"primaryCluster": remote, "secondaryClusters": [{"cluster": full, "uid": doc["uid"]}]}}
            for cluster in self.located[("redis", "clusters")].get(primary.split("/")[1], []):
                if cluster["name"] == primary:
                    config = cluster.setdefault("crossClusterReplicationConfig", {
                        "clusterRole": "PRIMARY", "secondaryClusters": [],
                        "membership": {"primaryCluster": {"cluster": primary, "uid": cluster["uid"]},
                                       "secondaryClusters": []}})
                    config["secondaryClusters"].append({"cluster": full, "uid": doc["uid"]})
                    config["membership"]["secondaryClusters"].append({"cluster": full, "uid": doc["uid"]})
        self.located[("redis", "clusters")].setdefault(project, []).append(doc)
        return doc

    def inventory(self) -> list[tuple[str, str, str, dict[str, Any], str]]:
        """Every instance, cluster and database as Cloud Asset Inventory holds it (demo.gcs_server.InventoryItem):
        asset names //spanner.googleapis.com/..., //cloudsql.googleapis.com/..., //bigtable.googleapis.com/...,
        //firestore.googleapis.com/..., //alloydb.googleapis.com/..., //file.googleapis.com/...,
        //redis.googleapis.com/..., with the service's REST JSON as the data."""
        found: list[tuple[str, str, str, dict[str, Any], str]] = []
        for project, docs in self.spanner.items():
            found += [(project, "spanner.googleapis.com/Instance", f"//spanner.googleapis.com/{d['name']}", d, "")
                      for d in docs]
        for project, docs in self.cloudsql.items():
            found += [(project, "sqladmin.googleapis.com/Instance",
                       f"//cloudsql.googleapis.com/projects/{project}/instances/{d['name']}", d, d["region"])
                      for d in docs]
        for project, docs in self.bigtable.items():
            found += [(project, "bigtableadmin.googleapis.com/Instance", f"//bigtable.googleapis.com/{d['name']}", d,
                       "") for d in docs]
        for project, docs in self.clusters.items():
            found += [(project, "bigtableadmin.googleapis.com/Cluster", f"//bigtable.googleapis.com/{d['name']}", d,
                       d["location"].rsplit("/", 1)[-1]) for d in docs]
        for project, docs in self.firestore.items():
            found += [(project, "firestore.googleapis.com/Database", f"//firestore.googleapis.com/{d['name']}", d,
                       d["locationId"]) for d in docs]
        for (service, collection), by_project in self.located.items():
            host, asset_type = LOCATED_ASSETS[(service, collection)]
            found += [(project, asset_type, f"//{host}/{d['name']}", d, d["name"].split("/")[3])
                      for project, docs in by_project.items() for d in docs]
        return found

    # -- answering -----------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [*self._located_routes(),
            (re.compile(r"/v1/projects/([^/]+)/instances"), self._spanner_instances),
            (re.compile(r"/v1/projects/([^/]+)/instanceConfigs/([^/]+)"), self._spanner_config),
            (re.compile(r"/v1/projects/([^/]+)/databases"), self._firestore_databases),
            (re.compile(r"/sql/v1beta4/projects/([^/]+)/instances"), self._sql_instances),
            (re.compile(r"/v2/projects/([^/]+)/instances"), self._bigtable_instances),
            (re.compile(r"/v2/projects/([^/]+)/instances/-/clusters"), self._bigtable_clusters),
            # one resource at a time (instances.get, databases.get, clusters.list of one instance): what a
            # per-resource scanner calls (bench/clouds.py's baseline)
            (re.compile(r"/v1/projects/([^/]+)/instances/([^/]+)"), self._getter(self.spanner, "instances")),
            (re.compile(r"/v1/projects/([^/]+)/databases/([^/]+)"), self._getter(self.firestore, "databases")),
            (re.compile(r"/sql/v1beta4/projects/([^/]+)/instances/([^/]+)"), self._getter(self.cloudsql, "")),
            (re.compile(r"/v2/projects/([^/]+)/instances/([^/-][^/]*)"), self._getter(self.bigtable, "instances")),
            (re.compile(r"/v2/projects/([^/]+)/instances/([^/-][^/]*)/clusters"), self._instance_clusters),
        ]

    def _getter(self, table: dict[str, list[dict[str, Any]]], collection: str
                ) -> Callable[[re.Match[str], Query], dict[str, Any]]:
        def get(match: re.Match[str], query: Query) -> dict[str, Any]:
            project, name = match.groups()
            self.check_allowed(project)
            full = f"projects/{project}/{collection}/{name}" if collection else name
            for item in table.get(project, []):
                if item["name"] == full:
                    return item
            raise ApiError(404, f"Not found: {full}", "notFound")
        return get

    def _instance_clusters(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        project, name = match.groups()
        self.check_allowed(project)
        prefix = f"projects/{project}/instances/{name}/clusters/"
        return {"clusters": [c for c in self.clusters.get(project, []) if c["name"].startswith(prefix)]}

    def _listing(self, items: list[dict[str, Any]], key: str, query: Query, size: str = "pageSize"
                 ) -> dict[str, Any]:
        chunk, token = page(items, query, self.page_size, size)
        body: dict[str, Any] = {key: chunk}
        if token:
            body["nextPageToken"] = token
        return body

    def _spanner_instances(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        self.check_allowed(match.group(1))
        return self._listing(self.spanner.get(match.group(1), []), "instances", query)

    def _spanner_config(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        project, config = match.groups()
        self.check_allowed(project)
        if config.startswith("regional-"):
            region = config.removeprefix("regional-")
            replicas = [(region, "READ_WRITE")]
        elif config in SPANNER_CONFIGS:
            replicas = SPANNER_CONFIGS[config]
        else:
            raise ApiError(404, f"Instance config not found: {config}", "notFound")
        return {"name": f"projects/{project}/instanceConfigs/{config}", "displayName": config,
                "configType": "GOOGLE_MANAGED", "state": "READY",
                "replicas": [{"location": loc, "type": kind, "defaultLeaderLocation": n == 0}
                             for n, (loc, kind) in enumerate(replicas)]}

    def _firestore_databases(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        self.check_allowed(match.group(1))
        return {"databases": self.firestore.get(match.group(1), [])}  # databases.list has no pagination

    def _sql_instances(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        self.check_allowed(match.group(1))
        return {"kind": "sql#instancesList", **self._listing(self.cloudsql.get(match.group(1), []), "items", query,
                                                              "maxResults")}

    def _bigtable_instances(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        self.check_allowed(match.group(1))
        return {**self._listing(self.bigtable.get(match.group(1), []), "instances", query),
                "failedLocations": self.failed_locations.get(match.group(1), [])}

    def _bigtable_clusters(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        self.check_allowed(match.group(1))
        return {**self._listing(self.clusters.get(match.group(1), []), "clusters", query),
                "failedLocations": self.failed_locations.get(match.group(1), [])}

    def _located_routes(self) -> list[Route]:
        """`projects/P/locations/-/<collection>` (every location) or `locations/L/<collection>` (one), per API; and
        one resource (`.../<collection>/ID`: what a per-resource scanner calls, bench/clouds.py's baseline)."""
        lists = [(re.compile(rf"{re.escape(PREFIXES[service])}/v1/projects/([^/]+)/locations/([^/]+)/{collection}"),
                  self._located_listing(service, collection)) for service, collection in self.located]
        one = r"(projects/([^/]+)/locations/[^/]+/{}/[^/]+)"
        gets = [(re.compile(rf"{re.escape(PREFIXES[service])}/v1/" + one.format(collection)),
                 self._located_get(service, collection)) for service, collection in self.located]
        return [*lists, *gets]

    def _located_get(self, service: str, collection: str) -> Callable[[re.Match[str], Query], dict[str, Any]]:
        def get(match: re.Match[str], query: Query) -> dict[str, Any]:
            name, project = match.groups()
            self.check_allowed(project)
            for item in self.located[(service, collection)].get(project, []):
                if item["name"] == name:
                    return item
            raise ApiError(404, f"Resource '{name}' was not found", "notFound")
        return get

    def _located_listing(self, service: str, collection: str) -> Callable[[re.Match[str], Query], dict[str, Any]]:
        def listing(match: re.Match[str], query: Query) -> dict[str, Any]:
            project, location = match.groups()
            self.check_allowed(project)
            if (service, collection) in self.broken:
                raise ApiError(self.broken[(service, collection)], f"{collection}.list failed", "backendError")
            items = [item for item in self.located[(service, collection)].get(project, [])
                     if location == "-" or f"/locations/{location}/" in item["name"]]
            body = self._listing(items, collection, query)
            if location == "-" and self.unreachable.get((service, collection)):
                body["unreachable"] = list(self.unreachable[(service, collection)])
            return body
        return listing
