"""The readers of AWS's regional store kinds: one function per config service, registered with `@reader`.

Each kind is declared in `scanner/kinds.py` (its calls, fields, copies and permissions); the reader here
executes it for one region of one account. `AccountScan` (providers/aws.py) plans, rate-limits, guards regions
and records the targets for every reader alike; a reader only lists and builds stores. A simple kind reads its
listing with `listing()` and builds each store with `new_store()`; the odd cases (the RDS source fields, the
EBS copy marker, EFS replication configurations) are the reader's own code.

S3 is not here: it is global, read in bulk across regions by `S3Inventory` in providers/aws.py. AWS Backup and S3
Glacier vaults are in providers/aws_vaults.py, registered the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore import xform_name
from botocore.exceptions import ClientError

from providers.aws_keys import KeyReader, service_owned
from providers.errors import aws_error_code
from scanner.clock import now_iso
from scanner.custody import KeyFacts
from scanner.discovered import DiscoveredStore
from scanner.kinds import StoreKind, kind
from scanner.model import Location, Role

if TYPE_CHECKING:
    from providers.aws import AccountScan

Reader = Callable[["AccountScan", str], list[DiscoveredStore]]
READERS: dict[str, Reader] = {}  # config service -> its reader
COPIED_SNAPSHOT = re.compile(r"\[Copied (snap-[0-9a-f]+) from ([a-z0-9-]+)\]")


def reader(service: str) -> Callable[[Reader], Reader]:
    """Register the reader of a service's kinds (the service must be declared in scanner/kinds.py)."""
    def register(function: Reader) -> Reader:
        READERS[service] = function
        return function
    return register


class StoreMaker(Protocol):
    """What a store builder needs of its account: `AccountScan`, or the aggregator's view of an account
    (providers/aws_aggregator.py), so that an item from the service's API and one from AWS Config are built alike."""

    @property
    def keys(self) -> KeyReader: ...

    def store(self, arn: str, kind: str, name: str, region: str, tags: dict[str, str]) -> DiscoveredStore: ...


class AfterRead(Protocol):
    """A fact a reader found about other stores of the account, applied once the whole account is read."""

    def apply(self, stores: list[DiscoveredStore]) -> None: ...


@dataclass(frozen=True)
class CopyLink:
    """A store that is a copy of another store of the same account, found by the copy's reader."""

    copy_id: str
    source_kind: str
    source_name: str
    learned_from: str


@dataclass(frozen=True)
class CopyLinks:
    """Copies found in one region: each source gains its copy's region as a replica."""

    links: tuple[CopyLink, ...]

    def apply(self, stores: list[DiscoveredStore]) -> None:
        by_name = {(s.kind, s.name): s for s in stores}
        by_id = {s.id: s for s in stores}
        for link in self.links:
            source, copy = by_name.get((link.source_kind, link.source_name)), by_id.get(link.copy_id)
            if source is not None and copy is not None:
                observed_at = next((loc.observed_at for loc in copy.locations if loc.region == copy.region), None)
                source.add_location(copy.region, "replica", link.learned_from, observed_at)


def arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


def tag_list(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def listing(scan: AccountScan, spec: StoreKind, region: str, **params: Any) -> Iterator[Any]:
    """Every item of the kind's list call in one region, paginated where the API pages."""
    return read_all(scan, spec.api, spec.list_call.operation, spec.result_key, region, **params)


def read_all(scan: AccountScan, api: str, operation: str, result_key: str, region: str, **params: Any
             ) -> Iterator[Any]:
    """Every item under `result_key` of one operation's answers in one region, following its pages."""
    client = scan.client(api, region)
    method = xform_name(operation)
    if client.can_paginate(method):
        for page in client.get_paginator(method).paginate(**params):
            yield from page.get(result_key, [])
    else:
        yield from getattr(client, method)(**params).get(result_key, [])


def new_store(scan: AccountScan, spec: StoreKind, item: dict[str, Any], region: str) -> DiscoveredStore:
    """A store from a listed item whose id and name are fields of the item, with its tags (a Key/Value list)."""
    name = next((item[field] for field in spec.name_field.split("|") if item.get(field)), item[spec.id_field])
    return scan.store(item[spec.id_field], spec.kind, name, region, tag_list(item.get(spec.tags_from)))


# -- DynamoDB ------------------------------------------------------------------------------------------
@reader("dynamodb")
def dynamodb_tables(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    client = scan.client("dynamodb", region)
    names = list(listing(scan, kind("dynamodb-table"), region))  # the listing first: a region's probe
    backups = _backups_by_table(scan, region) if names else Counter()
    stores = []
    for name in names:
        table = client.describe_table(TableName=name)["Table"]
        arn = table["TableArn"]
        tags = tag_list(client.list_tags_of_resource(ResourceArn=arn).get("Tags", []))
        store = table_store(scan, table, tags, region)
        _table_backups(client, store, name, backups.get(arn, 0))
        stores.append(store)
    return stores


def _backups_by_table(scan: AccountScan, region: str) -> Counter[str]:
    """ListBackups (every type) in the region: table ARN -> its backups. DynamoDB keeps a table's on-demand backups
    in the table's own region; copies elsewhere are AWS Backup's (read with the `backup` service)."""
    listed = read_all(scan, "dynamodb", "ListBackups", "BackupSummaries", region, BackupType="ALL")
    return Counter(summary.get("TableArn", "") for summary in listed)


def _table_backups(client: Any, store: DiscoveredStore, name: str, on_demand: int) -> None:
    """The table's on-demand backups and point-in-time recovery (DescribeContinuousBackups): a `backup` copy in its
    region, beside the primary."""
    answer = client.describe_continuous_backups(TableName=name).get("ContinuousBackupsDescription") or {}
    pitr = (answer.get("PointInTimeRecoveryDescription") or {}).get("PointInTimeRecoveryStatus") == "ENABLED"
    sources = ([f"ListBackups.BackupSummaries ({on_demand} backup{'s' if on_demand > 1 else ''})"] if on_demand
               else []) + (["DescribeContinuousBackups.PointInTimeRecoveryDescription (PITR enabled)"] if pitr else [])
    if sources:
        add_copy(store, store.region, "backup", "; ".join(sources))


def add_copy(store: DiscoveredStore, region: str, role: Role, learned_from: str) -> None:
    """A copy of another role in a region that may already hold one (add_location keeps the first per region):
    a backup beside its primary."""
    if not any(loc.region == region and loc.role == role for loc in store.locations):
        store.locations.append(Location(region, role, learned_from, observed_at=now_iso()))


def table_store(scan: StoreMaker, table: dict[str, Any], tags: dict[str, str], region: str, via: str = ""
                ) -> DiscoveredStore:
    """A table from its DescribeTable answer (or AWS Config's item, whose configuration is that answer); `via`
    names where the answer came from when it was not the call itself."""
    store = scan.store(table["TableArn"], "dynamodb-table", table["TableName"], region, tags)
    store.add_location(region, "primary", f"DescribeTable.TableArn{via}")
    for replica in table.get("Replicas", []):
        store.add_location(replica["RegionName"], "replica", f"DescribeTable.Replicas{via}")
    store.encryption = _table_encryption(scan, table, region, via)
    return store


def _table_encryption(scan: StoreMaker, table: dict[str, Any], region: str, via: str) -> KeyFacts:
    """DescribeTable.SSEDescription: absent (or not enabled), the AWS owned key; SSEType KMS, its KMS key."""
    sse = table.get("SSEDescription") or {}
    if sse.get("Status") not in ("ENABLED", "UPDATING") or sse.get("SSEType") != "KMS":
        return service_owned("AWS owned key", f"DescribeTable (no KMS SSEDescription: AWS owned key){via}", region)
    return scan.keys.facts("KMS", sse.get("KMSMasterKeyArn"), region,
                           f"DescribeTable.SSEDescription.KMSMasterKeyArn{via}")


# -- RDS -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RdsFields:
    """Where DescribeDBInstances and DescribeDBClusters put the same facts."""

    kind: str
    arn: str
    name: str
    source: str
    replicas: str


RDS_INSTANCE = RdsFields("rds-instance", "DBInstanceArn", "DBInstanceIdentifier",
                         "ReadReplicaSourceDBInstanceIdentifier", "ReadReplicaDBInstanceIdentifiers")
RDS_CLUSTER = RdsFields("rds-cluster", "DBClusterArn", "DBClusterIdentifier",
                        "ReplicationSourceIdentifier", "ReadReplicaIdentifiers")


@reader("rds")
def rds_databases(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    stores = [rds_instance_store(scan, db, region) for db in listing(scan, kind("rds-instance"), region)]
    clusters = list(listing(scan, kind("rds-cluster"), region))
    members = _global_members(scan, region) if any(c.get("GlobalClusterIdentifier") for c in clusters) else {}
    return stores + [rds_cluster_store(scan, cluster, region, members) for cluster in clusters]


def rds_instance_store(scan: StoreMaker, db: dict[str, Any], region: str, via: str = "") -> DiscoveredStore:
    """An instance from its DescribeDBInstances item (or AWS Config's, whose configuration is that item)."""
    store = _rds_store(scan, db, RDS_INSTANCE, region, via)
    store.encryption = scan.keys.storage(bool(db.get("StorageEncrypted")), db.get("KmsKeyId"), region,
                                         f"DescribeDBInstances.KmsKeyId{via}")
    for backup in db.get("DBInstanceAutomatedBackupsReplications", []):
        backup_region = arn_region(backup.get("DBInstanceAutomatedBackupsArn", ""))
        if backup_region:
            store.add_location(backup_region, "backup",
                               f"DescribeDBInstances.DBInstanceAutomatedBackupsReplications{via}")
    return store


def rds_cluster_store(scan: StoreMaker, cluster: dict[str, Any], region: str,
                      members: dict[str, list[tuple[str, bool]]], via: str = "") -> DiscoveredStore:
    """A cluster from its DescribeDBClusters item, with its global database's members (`_global_members`)."""
    store = scan.store(cluster["DBClusterArn"], "rds-cluster", cluster["DBClusterIdentifier"], region,
                       tag_list(cluster.get("TagList")))
    store.encryption = scan.keys.storage(bool(cluster.get("StorageEncrypted")), cluster.get("KmsKeyId"), region,
                                         f"DescribeDBClusters.KmsKeyId{via}")
    for member_region, writer in members.get(cluster["DBClusterArn"], ()):  # before its own: writer is primary
        store.add_location(member_region, "primary" if writer else "replica",
                           "DescribeGlobalClusters.GlobalClusterMembers" + (".IsWriter" if writer else ""))
    return _rds_locations(store, cluster, RDS_CLUSTER, region, via)


def _global_members(scan: AccountScan, region: str) -> dict[str, list[tuple[str, bool]]]:
    """Aurora global databases: each member cluster's ARN -> (region, is writer) of every member, writer first."""
    members: dict[str, list[tuple[str, bool]]] = {}
    for global_cluster in read_all(scan, "rds", "DescribeGlobalClusters", "GlobalClusters", region):
        listed = sorted(((arn_region(m.get("DBClusterArn", "")), bool(m.get("IsWriter")))
                         for m in global_cluster.get("GlobalClusterMembers", [])), key=lambda m: not m[1])
        regions = [(member_region, writer) for member_region, writer in listed if member_region]
        for member in global_cluster.get("GlobalClusterMembers", []):
            members[member.get("DBClusterArn", "")] = regions
    return members


def _rds_store(scan: StoreMaker, item: dict, fields: RdsFields, region: str, via: str) -> DiscoveredStore:
    store = scan.store(item[fields.arn], fields.kind, item[fields.name], region, tag_list(item.get("TagList")))
    return _rds_locations(store, item, fields, region, via)


def _rds_locations(store: DiscoveredStore, item: dict, fields: RdsFields, region: str, via: str) -> DiscoveredStore:
    """An RDS instance's or cluster's locations: the source it replicates from and its read replicas."""
    api = kind(fields.kind).list_call.operation
    source = item.get(fields.source)
    if source:
        store.add_location(arn_region(source) or region, "primary", f"{api}.{fields.source}{via}")
        store.add_location(region, "replica", f"{api}.{fields.arn}{via}")
    else:
        store.add_location(region, "primary", f"{api}.{fields.arn}{via}")
    for replica in item.get(fields.replicas, []):
        store.add_location(arn_region(replica) or region, "replica", f"{api}.{fields.replicas}{via}")
    return store


# -- EBS snapshots: a copy names its source only in its description -------------------------------------
@reader("ebs")
def ebs_snapshots(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    stores, links = [], []
    for snap in listing(scan, kind("ebs-snapshot"), region, OwnerIds=["self"]):
        arn = f"arn:{scan.account.partition}:ec2:{region}:{scan.account.id}:snapshot/{snap['SnapshotId']}"
        store = scan.store(arn, "ebs-snapshot", snap["SnapshotId"], region, tag_list(snap.get("Tags")))
        store.encryption = scan.keys.storage(bool(snap.get("Encrypted")), snap.get("KmsKeyId"), region,
                                             "DescribeSnapshots.KmsKeyId")
        copied = COPIED_SNAPSHOT.search(snap.get("Description") or "")
        if copied and copied.group(2) != region:
            store.add_location(copied.group(2), "primary", "DescribeSnapshots.Description copy marker")
            store.add_location(region, "replica", "DescribeSnapshots")
            links.append(CopyLink(arn, "ebs-snapshot", copied.group(1),
                                  f"DescribeSnapshots.Description of copy {snap['SnapshotId']}"))
        else:
            store.add_location(region, "primary", "DescribeSnapshots")
        stores.append(store)
    if links:
        scan.after_read(CopyLinks(tuple(links)))
    return stores


# -- EFS file systems and their replication configurations ----------------------------------------------
@reader("efs")
def efs_file_systems(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    """Each file system of the region; a replication source gains its destinations' regions as replicas, and a
    destination (a read-only replica) names its source's region as the primary."""
    spec = kind("efs-file-system")
    replications = _efs_replications(scan, spec, region)
    sources = {r.get("SourceFileSystemId"): r for r in replications if r.get("SourceFileSystemRegion") == region}
    destinations = {d.get("FileSystemId"): r for r in replications for d in r.get("Destinations", [])
                    if d.get("Region") == region}
    stores = []
    for item in listing(scan, spec, region):
        store = new_store(scan, spec, item, region)
        source = destinations.get(item["FileSystemId"])
        if source is not None and source.get("SourceFileSystemRegion") != region:
            store.add_location(source["SourceFileSystemRegion"], "primary",
                               "DescribeReplicationConfigurations.SourceFileSystemRegion")
            store.add_location(region, "replica", "DescribeFileSystems.FileSystemArn")
        else:
            store.add_location(region, "primary", "DescribeFileSystems.FileSystemArn")
        for destination in sources.get(item["FileSystemId"], {}).get("Destinations", []):
            if destination.get("Region"):
                store.add_location(destination["Region"], "replica",
                                   "DescribeReplicationConfigurations.Destinations.Region")
        stores.append(store)
    return stores


def _efs_replications(scan: AccountScan, spec: StoreKind, region: str) -> list[dict[str, Any]]:
    """Every replication configuration of the region (DescribeReplicationConfigurations without a file system:
    the account's configurations in the region). ReplicationNotFound: none."""
    try:
        return list(read_all(scan, spec.api, spec.detail_calls[0].operation, "Replications", region))
    except ClientError as exc:
        if aws_error_code(exc) == "ReplicationNotFound":
            return []
        raise


# -- Redshift clusters: cross-region snapshot copy -----------------------------------------------------
@reader("redshift")
def redshift_clusters(scan: AccountScan, region: str) -> list[DiscoveredStore]:
    """Each provisioned cluster; with cross-region snapshot copy on, its snapshots (automated, and manual ones
    unless excluded) are copied to `ClusterSnapshotCopyStatus.DestinationRegion`: a backup location there."""
    spec = kind("redshift-cluster")
    stores = []
    for cluster in listing(scan, spec, region):
        name = cluster["ClusterIdentifier"]
        arn = f"arn:{scan.account.partition}:redshift:{region}:{scan.account.id}:cluster:{name}"
        store = scan.store(arn, spec.kind, name, region, tag_list(cluster.get("Tags")))
        store.add_location(region, "primary", "DescribeClusters.ClusterIdentifier")
        destination = (cluster.get("ClusterSnapshotCopyStatus") or {}).get("DestinationRegion")
        if destination:
            store.add_location(destination, "backup", "DescribeClusters.ClusterSnapshotCopyStatus.DestinationRegion")
        stores.append(store)
    return stores
