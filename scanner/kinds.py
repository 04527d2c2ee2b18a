"""The store types Custody inventories, declared once: the registry every other list is derived from.

Each `StoreKind` is data only (no cloud SDK code): its kind name, cloud, the config `services` entry that
turns it on, whether it is read per region, the calls that list it and read its details (with the
permission each call needs), where its id, name and tags come from, which copies it reads (role and the
field that tells), and what it cannot see. The providers execute it (`providers/` holds the readers and the
hooks for the odd cases); from it come the providers' service lists and API names, config `services`
validation, policy `applies_to.kinds` and `applies_to.providers` validation, the published least-privilege
roles (`scripts/generate_from_kinds.py`, checked by `tests/test_least_privilege.py`), `agent.py catalog kinds` and
the README's table of store kinds.

To add a store type: one `StoreKind` below, its reader in `providers/` (`providers/aws_kinds.py` for AWS),
one emulator seed (`demo/*_estate.py`) and one test. See the README, "Adding a store type".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scanner.model import Role

Cloud = Literal["aws", "azure", "gcp"]
CLOUDS: tuple[Cloud, ...] = ("aws", "azure", "gcp")
# regional: listed once per region; global: once per account (AWS) or project (GCP); subscription: once per Azure
# subscription (ARM lists are subscription-wide); scope: once per GCP organization or folder (Cloud Asset Inventory)
Scope = Literal["regional", "global", "subscription", "scope"]


@dataclass(frozen=True)
class Call:
    """One API call and the permission the cloud checks for it."""

    operation: str  # as the cloud's API reference names it: DescribeFileSystems, storageAccounts.list
    permission: str  # IAM action, Azure RBAC action or GCP IAM permission
    when: str = ""  # empty: every scan of the kind; else when the call is made


@dataclass(frozen=True)
class Copy:
    """A kind of place a store's copies live, and the API field that tells it."""

    role: Role
    learned_from: str


@dataclass(frozen=True)
class StoreKind:
    kind: str  # the store's `kind` in reports and policies' `applies_to.kinds`
    cloud: Cloud
    service: str  # the config `services` entry that turns it on, and the target name in the scan record
    scope: Scope
    api: str  # the SDK client (botocore service name, ARM provider namespace, Google API host prefix)
    list_call: Call
    result_key: str  # where the listing puts the items ("FileSystems"); "" where the SDK returns them directly
    id_field: str  # where the store's id comes from (a field, or a template)
    name_field: str  # `A|B`: the first of the fields that is not empty
    tags_from: str  # where its tags come from
    copies: tuple[Copy, ...]
    detail_calls: tuple[Call, ...] = ()
    cannot_see: tuple[str, ...] = ()  # what this reader cannot see, with the reason
    probe_rank: int = 9  # AWS regional kinds: the order a region is probed in (the most permitted reads first)
    bulk_type: str = ""  # its type in the cloud's bulk inventory (AWS Config, Cloud Asset Inventory), where read
    description: str = ""

    @property
    def calls(self) -> tuple[Call, ...]:
        return (self.list_call, *self.detail_calls)


@dataclass(frozen=True)
class PlatformCalls:
    """Calls a cloud's provider makes whatever kinds it reads: identity, account listing, regions, bulk sources."""

    cloud: Cloud
    calls: tuple[Call, ...]
    api_of: dict[str, str] = field(default_factory=dict)  # extra target names -> SDK client (AWS: tag:GetResources)


# how a copy inferred from the catalog's region pair is marked (Azure geo-redundancy names no region)
PAIR_INFERRED = "the paired region (inferred from the catalog's region pair)"


def _aws(operation: str, service: str, when: str = "") -> Call:
    return Call(operation, f"{service}:{operation}", when)


# Who holds the keys (scanner/custody.py): each KMS key a store names is described once per scan and region, and a
# region's custom key stores are listed once, only when one of its keys is in one.
KMS_CALLS: tuple[Call, ...] = (
    _aws("DescribeKey", "kms", "the store's encryption names a KMS key (once per key and region)"),
    _aws("DescribeCustomKeyStores", "kms", "a key is in a custom key store (once per region)"),
)

# Azure: a Key Vault or Managed HSM key's region is its vault's location, listed once per subscription.
AZURE_VAULTS = Call("Resources_List", "Microsoft.Resources/subscriptions/resources/read",
                    "a store's key is in a Key Vault or Managed HSM: the vaults' locations (once per subscription)")
AZURE_DISK_KEYS = (Call("DiskEncryptionSets_Get", "Microsoft.Compute/diskEncryptionSets/read",
                        "encrypted with a customer-managed key: the set's active key (once per set)"), AZURE_VAULTS)
# Google Cloud: each default Cloud KMS key once per scan; a Cloud EKM key over VPC, its EKM connection once.
GCP_KEYS = (Call("cryptoKeys.get", "cloudkms.cryptoKeys.get", "a default Cloud KMS key is set (once per key)"),
            Call("ekmConnections.get", "cloudkms.ekmConnections.get",
                 "a Cloud EKM key reached over VPC (once per EKM connection)"))

KINDS: tuple[StoreKind, ...] = (
    # ---- AWS ------------------------------------------------------------------------------------------
    StoreKind(
        kind="s3-bucket", cloud="aws", service="s3", scope="global", api="s3",
        list_call=Call("ListBuckets", "s3:ListAllMyBuckets"), result_key="Buckets",
        id_field="arn:{partition}:s3:::{Name}", name_field="Name",
        tags_from="tag:GetResources per region (else GetBucketTagging per bucket)",
        copies=(Copy("primary", "ListBuckets.BucketRegion (else GetBucketLocation)"),
                Copy("replica", "GetBucketReplication.Rules.Destination "
                                "(or AWS Config BucketReplicationConfiguration)")),
        detail_calls=(
            Call("GetBucketLocation", "s3:GetBucketLocation", "ListBuckets gives no BucketRegion"),
            Call("GetBucketTagging", "s3:GetBucketTagging", "tag:GetResources failed in the bucket's region"),
            Call("GetBucketReplication", "s3:GetReplicationConfiguration", "AWS Config does not answer for the bucket"),
            Call("GetBucketEncryption", "s3:GetEncryptionConfiguration",
                 "AWS Config does not give the bucket's default encryption"),
            *KMS_CALLS,
        ),
        cannot_see=("objects' own copies made outside replication rules (batch copies, application writes)",),
        bulk_type="AWS::S3::Bucket", description="S3 buckets and their replication targets",
    ),
    StoreKind(
        kind="dynamodb-table", cloud="aws", service="dynamodb", scope="regional", api="dynamodb",
        list_call=_aws("ListTables", "dynamodb"), result_key="TableNames",
        id_field="DescribeTable.TableArn", name_field="TableName", tags_from="ListTagsOfResource",
        copies=(Copy("primary", "DescribeTable.TableArn"), Copy("replica", "DescribeTable.Replicas")),
        detail_calls=(_aws("DescribeTable", "dynamodb"), _aws("ListTagsOfResource", "dynamodb"), *KMS_CALLS),
        cannot_see=("on-demand backups and point-in-time recovery copies (not read yet)",),
        probe_rank=2, bulk_type="AWS::DynamoDB::Table", description="DynamoDB tables and their global-table replicas",
    ),
    StoreKind(
        kind="rds-instance", cloud="aws", service="rds", scope="regional", api="rds",
        list_call=_aws("DescribeDBInstances", "rds"), result_key="DBInstances",
        id_field="DBInstanceArn", name_field="DBInstanceIdentifier", tags_from="TagList",
        copies=(Copy("primary", "DescribeDBInstances.DBInstanceArn (or ReadReplicaSourceDBInstanceIdentifier)"),
                Copy("replica", "DescribeDBInstances.ReadReplicaDBInstanceIdentifiers"),
                Copy("backup", "DescribeDBInstances.DBInstanceAutomatedBackupsReplications")),
        detail_calls=KMS_CALLS,
        cannot_see=("manual snapshots copied to other regions (not read yet)",),
        probe_rank=1, bulk_type="AWS::RDS::DBInstance",
        description="RDS DB instances, read replicas and replicated automated backups",
    ),
    StoreKind(
        kind="rds-cluster", cloud="aws", service="rds", scope="regional", api="rds",
        list_call=_aws("DescribeDBClusters", "rds"), result_key="DBClusters",
        id_field="DBClusterArn", name_field="DBClusterIdentifier", tags_from="TagList",
        copies=(Copy("primary", "DescribeDBClusters.DBClusterArn (or ReplicationSourceIdentifier, or the global "
                                "database's writer: DescribeGlobalClusters.GlobalClusterMembers.IsWriter)"),
                Copy("replica", "DescribeDBClusters.ReadReplicaIdentifiers, "
                                "DescribeGlobalClusters.GlobalClusterMembers")),
        detail_calls=(_aws("DescribeGlobalClusters", "rds", "a cluster of the region is in a global database"),
                      *KMS_CALLS),
        cannot_see=("DocumentDB global clusters are read by the same calls (the RDS API serves DocumentDB and "
                    "Neptune clusters too) but only Neptune's are tested: the emulator cannot create DocumentDB ones",),
        probe_rank=1, bulk_type="AWS::RDS::DBCluster",
        description="RDS and Aurora DB clusters, their cross-region read replicas and Aurora global databases",
    ),
    StoreKind(
        kind="ebs-snapshot", cloud="aws", service="ebs", scope="regional", api="ec2",
        list_call=_aws("DescribeSnapshots", "ec2"), result_key="Snapshots",
        id_field="arn:{partition}:ec2:{region}:{account}:snapshot/{SnapshotId}", name_field="SnapshotId",
        tags_from="Tags",
        copies=(Copy("primary", "DescribeSnapshots (or the Description copy marker of a copy)"),
                Copy("replica", "DescribeSnapshots.Description of a copy in another region")),
        detail_calls=KMS_CALLS,
        cannot_see=("a copy whose description was changed from AWS's '[Copied snap-… from region]' marker",),
        probe_rank=0, description="EBS snapshots owned by the account and their cross-region copies",
    ),
    StoreKind(
        kind="efs-file-system", cloud="aws", service="efs", scope="regional", api="efs",
        list_call=_aws("DescribeFileSystems", "elasticfilesystem"), result_key="FileSystems",
        id_field="FileSystemArn", name_field="Name|FileSystemId", tags_from="Tags",
        copies=(Copy("primary", "DescribeFileSystems.FileSystemArn"),
                Copy("replica", "DescribeReplicationConfigurations.Destinations.Region")),
        detail_calls=(_aws("DescribeReplicationConfigurations", "elasticfilesystem"),),
        cannot_see=("copies in other regions made by AWS Backup: read only with the `backup` service "
                    "(its plans' copy actions)",),
        probe_rank=3, description="EFS file systems and their replication destinations",
    ),
    StoreKind(
        kind="redshift-cluster", cloud="aws", service="redshift", scope="regional", api="redshift",
        list_call=_aws("DescribeClusters", "redshift"), result_key="Clusters",
        id_field="arn:{partition}:redshift:{region}:{account}:cluster:{ClusterIdentifier}",
        name_field="ClusterIdentifier", tags_from="Tags",
        copies=(Copy("primary", "DescribeClusters.ClusterIdentifier"),
                Copy("backup", "DescribeClusters.ClusterSnapshotCopyStatus.DestinationRegion")),
        cannot_see=("Redshift Serverless namespaces and their snapshot copy configurations (not read yet)",
                    "manual snapshots shared with or copied to other accounts (not read yet)"),
        probe_rank=4, description="Redshift provisioned clusters and their cross-region snapshot copies",
    ),
    StoreKind(
        kind="backup-vault", cloud="aws", service="backup", scope="regional", api="backup",
        list_call=_aws("ListBackupVaults", "backup"), result_key="BackupVaultList",
        id_field="BackupVaultArn", name_field="BackupVaultName", tags_from="ListTags",
        copies=(Copy("primary", "ListBackupVaults.BackupVaultArn"),
                Copy("backup", "GetBackupPlan.Rules.CopyActions.DestinationBackupVaultArn, on every store of the "
                               "plan's region its selections cover")),
        detail_calls=(_aws("ListTags", "backup"), _aws("ListBackupPlans", "backup"), _aws("GetBackupPlan", "backup"),
                      _aws("ListBackupSelections", "backup", "a plan copies to another region"),
                      _aws("GetBackupSelection", "backup", "a plan copies to another region"), *KMS_CALLS),
        cannot_see=("recovery points copied by on-demand copy jobs outside a plan (ListRecoveryPointsByBackupVault, "
                    "not read yet)",
                    "covered resources of kinds Custody does not inventory (EC2 volumes, EFS access points, ...)"),
        probe_rank=5, description="AWS Backup vaults, and the copies backup plans make in other regions",
    ),
    # ---- Azure ----------------------------------------------------------------------------------------
    StoreKind(
        kind="azure-storage-account", cloud="azure", service="storage", scope="subscription", api="Microsoft.Storage",
        list_call=Call("StorageAccounts_List", "Microsoft.Storage/storageAccounts/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "StorageAccount.primaryLocation"),
                Copy("replica", "StorageAccount.secondaryLocation (or, when only statusOfSecondary is reported, "
                                f"{PAIR_INFERRED})"),
                Copy("replica", "ObjectReplicationPolicy.destinationAccount → that account's location")),
        detail_calls=(Call("ObjectReplicationPolicies_List",
                           "Microsoft.Storage/storageAccounts/objectReplicationPolicies/read",
                           "a StorageV2 or BlockBlobStorage account (one call each)"), AZURE_VAULTS),
        cannot_see=("a geo-redundant SKU's secondary when ARM reports neither secondaryLocation nor statusOfSecondary "
                    "(recorded as unknown)",
                    "an object replication destination account in a subscription that is not scanned "
                    "(recorded as unknown)"),
        description="storage accounts, their geo-redundant secondaries and object replication destinations",
    ),
    StoreKind(
        kind="azure-cosmosdb-account", cloud="azure", service="cosmosdb", scope="subscription",
        api="Microsoft.DocumentDB",
        list_call=Call("DatabaseAccounts_List", "Microsoft.DocumentDB/databaseAccounts/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "DatabaseAccount.locations.locationName (failover priority 0; with "
                                "enableMultipleWriteLocations, every DatabaseAccount.writeLocations entry)"),
                Copy("replica", "DatabaseAccount.locations.locationName")),
        detail_calls=(AZURE_VAULTS,),
        cannot_see=("geo-redundant periodic backups: the paired region is not named by the API (recorded as unknown)",),
        description="Cosmos DB accounts and every region they replicate to",
    ),
    StoreKind(
        kind="azure-sql-database", cloud="azure", service="sql", scope="subscription", api="Microsoft.Sql",
        list_call=Call("Servers_List", "Microsoft.Sql/servers/read"), result_key="value",
        id_field="id", name_field="server/database", tags_from="tags",
        copies=(Copy("primary", "Database.location"), Copy("replica", "ReplicationLink.partnerLocation")),
        detail_calls=(Call("Databases_ListByServer", "Microsoft.Sql/servers/databases/read"),
                      Call("ReplicationLinks_ListByServer", "Microsoft.Sql/servers/databases/replicationLinks/read"),
                      Call("EncryptionProtectors_Get", "Microsoft.Sql/servers/encryptionProtector/read",
                           "the server has user databases: its TDE protector (once per server)"), AZURE_VAULTS),
        cannot_see=("geo-redundant backups: the paired region is not named by the API (recorded as unknown)",),
        description="SQL databases and their geo-replicas",
    ),
    StoreKind(
        kind="azure-managed-disk", cloud="azure", service="disks", scope="subscription", api="Microsoft.Compute",
        list_call=Call("Disks_List", "Microsoft.Compute/disks/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags", copies=(Copy("primary", "Disk.location"),),
        detail_calls=AZURE_DISK_KEYS,
        description="managed disks",
    ),
    StoreKind(
        kind="azure-snapshot", cloud="azure", service="snapshots", scope="subscription", api="Microsoft.Compute",
        list_call=Call("Snapshots_List", "Microsoft.Compute/snapshots/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags", copies=(Copy("primary", "Snapshot.location"),),
        detail_calls=AZURE_DISK_KEYS,
        description="disk snapshots",
    ),
    StoreKind(
        kind="azure-recovery-services-vault", cloud="azure", service="backup", scope="subscription",
        api="Microsoft.RecoveryServices",
        list_call=Call("Vaults_ListBySubscriptionId", "Microsoft.RecoveryServices/vaults/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "Vault.location"),
                Copy("replica", f"{PAIR_INFERRED}: Vault.properties.redundancySettings.standardTierStorageRedundancy "
                                "GeoRedundant (crossRegionRestore tells whether it can be restored there)")),
        cannot_see=("the items a vault protects: each protected item's backups are in the vault, whatever the "
                    "item's own region (not read per item)",
                    "a geo-redundant vault in a region without a catalog pair (recorded as unknown)"),
        description="Recovery Services vaults and their geo-redundant copies in the paired region",
    ),
    StoreKind(
        kind="azure-backup-vault", cloud="azure", service="backup", scope="subscription",
        api="Microsoft.DataProtection",
        list_call=Call("BackupVaults_GetInSubscription", "Microsoft.DataProtection/backupVaults/read"),
        result_key="value", id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "BackupVault.location"),
                Copy("replica", f"BackupVault.properties.replicatedRegions; {PAIR_INFERRED}: "
                                "BackupVault.properties.storageSettings.type GeoRedundant")),
        cannot_see=("a geo-redundant vault in a region without a catalog pair (recorded as unknown)",),
        description="Backup vaults (Azure Backup's Data Protection vaults) and their geo-redundant copies",
    ),
    *(StoreKind(
        kind=f"azure-{engine.lower()}-flexible-server", cloud="azure", service=engine.lower(), scope="subscription",
        api=f"Microsoft.DBfor{engine}",
        list_call=Call("Servers_List", f"Microsoft.DBfor{engine}/flexibleServers/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "Server.location (or a replica's source: Server.properties.sourceServerResourceId)"),
                Copy("replica", "Server.location of the servers whose sourceServerResourceId is this server"),
                Copy("backup", f"{PAIR_INFERRED}: Server.properties.backup.geoRedundantBackup Enabled")),
        cannot_see=("a replica's source in a subscription that is not scanned (recorded as unknown)",
                    "geo-redundant backups of a server in a region without a catalog pair (recorded as unknown)"),
        description=f"Azure Database for {engine} flexible servers, their read replicas and geo-redundant backups",
    ) for engine in ("PostgreSQL", "MySQL")),
    # ---- Google Cloud ---------------------------------------------------------------------------------
    StoreKind(
        kind="gcs-bucket", cloud="gcp", service="storage", scope="global", api="storage",
        list_call=Call("buckets.list", "storage.buckets.list"), result_key="items",
        id_field="//storage.googleapis.com/projects/_/buckets/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "buckets.list location, or customPlacementConfig.dataLocations"),),
        detail_calls=GCP_KEYS,
        cannot_see=("Storage Transfer Service copies to other buckets (not read yet)",),
        description="Cloud Storage buckets (multi- and dual-regions expanded by the catalog)",
    ),
    StoreKind(
        kind="bigquery-dataset", cloud="gcp", service="bigquery", scope="global", api="bigquery",
        list_call=Call("datasets.list", "bigquery.datasets.get"), result_key="datasets",
        id_field="//bigquery.googleapis.com/projects/{project}/datasets/{datasetId}", name_field="datasetId",
        tags_from="labels", copies=(Copy("primary", "datasets.list location"),),
        detail_calls=(Call("datasets.get", "bigquery.datasets.get",
                           "every dataset: the listing gives no default encryption key"), *GCP_KEYS),
        cannot_see=("cross-region dataset copies and scheduled transfers (not read yet)",),
        description="BigQuery datasets",
    ),
    StoreKind(
        kind="spanner-instance", cloud="gcp", service="spanner", scope="global", api="spanner",
        list_call=Call("instances.list", "spanner.instances.list"), result_key="instances",
        id_field="//spanner.googleapis.com/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "instanceConfigs.get replicas of type READ_WRITE (else the catalog's spans of the "
                                "configuration)"),
                Copy("replica", "instanceConfigs.get replicas of type READ_ONLY and WITNESS")),
        detail_calls=(Call("instanceConfigs.get", "spanner.instanceConfigs.get",
                           "an instance uses the configuration (once per configuration)"),),
        cannot_see=("backups copied to other instances (backups.copy; not read yet)",),
        description="Spanner instances, every replica region of their (multi-region) instance configuration",
    ),
    StoreKind(
        kind="firestore-database", cloud="gcp", service="firestore", scope="global", api="firestore",
        list_call=Call("databases.list", "datastore.databases.list"), result_key="databases",
        id_field="//firestore.googleapis.com/{name}", name_field="name", tags_from="(none)",
        copies=(Copy("primary", "databases.list locationId (nam5, eur3: the catalog's spans)"),),
        cannot_see=("scheduled backups and exports to Cloud Storage buckets (not read yet)",),
        description="Firestore and Datastore databases (multi-regions expanded by the catalog)",
    ),
    StoreKind(
        kind="cloudsql-instance", cloud="gcp", service="cloudsql", scope="global", api="sqladmin",
        list_call=Call("instances.list", "cloudsql.instances.list"), result_key="items",
        id_field="//sqladmin.googleapis.com/projects/{project}/instances/{name}", name_field="name",
        tags_from="settings.userLabels",
        copies=(Copy("primary", "instances.list region (or the primary's: masterInstanceName)"),
                Copy("replica", "instances.list replicaNames → each replica's region"),
                Copy("backup", "settings.backupConfiguration.location")),
        cannot_see=("backups without a configured location: Google keeps them in the multi-region nearest the "
                    "instance, which the API does not name (recorded as unknown)",
                    "a replica in another project (recorded as unknown)"),
        description="Cloud SQL instances, their cross-region replicas and backup location",
    ),
    StoreKind(
        kind="bigtable-instance", cloud="gcp", service="bigtable", scope="global", api="bigtableadmin",
        list_call=Call("instances.list", "bigtable.instances.list"), result_key="instances",
        id_field="//bigtableadmin.googleapis.com/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "instances.clusters.list location of every cluster (each serves writes)"),),
        detail_calls=(Call("instances.clusters.list", "bigtable.clusters.list",
                           "every project (one call for all instances: instances/-)"),),
        cannot_see=("clusters in locations Bigtable reports as failedLocations (recorded as unknown)",),
        description="Bigtable instances and every cluster they replicate to",
    ),
    *(StoreKind(
        kind=kind, cloud="gcp", service="asset", scope="scope", api="cloudasset",
        list_call=Call("searchAllResources", "cloudasset.assets.searchAllResources",
                       "an organization or folder scope is configured"),
        result_key="results", id_field="name", name_field="displayName", tags_from="labels",
        copies=(Copy("primary", "cloudasset.searchAllResources location"),),
        cannot_see=("replicas and backups: only Cloud Asset Inventory's primary location is read, "
                    "not the service's own API",),
        bulk_type=asset_type, description=f"Cloud Asset Inventory type {asset_type}",
    ) for asset_type, kind in (
        ("alloydb.googleapis.com/Cluster", "alloydb-cluster"),
        ("file.googleapis.com/Instance", "filestore-instance"),
        ("redis.googleapis.com/Instance", "memorystore-redis-instance"),
    )),
)

# Cloud Asset Inventory type -> kind, for the kinds GCP reads through the asset search
GCP_ASSET_TYPES: dict[str, str] = {kind.bulk_type: kind.kind for kind in KINDS if kind.service == "asset"}

PLATFORM: dict[str, PlatformCalls] = {
    "aws": PlatformCalls("aws", (
        Call("GetCallerIdentity", "sts:GetCallerIdentity"),
        Call("AssumeRole", "sts:AssumeRole", "accounts other than the caller's are scanned"),
        _aws("ListAccounts", "organizations", "organization: true"),
        _aws("ListAccountsForParent", "organizations", "organizational_units"),
        _aws("ListOrganizationalUnitsForParent", "organizations", "organizational_units"),
        _aws("DescribeRegions", "ec2", "no regions configured"),
        Call("GetResources", "tag:GetResources", "S3: tags in bulk, per region that holds buckets"),
        _aws("DescribeConfigurationRecorderStatus", "config", "S3: replication in bulk from AWS Config"),
        _aws("DescribeConfigurationRecorders", "config", "S3: replication in bulk from AWS Config"),
        _aws("BatchGetResourceConfig", "config", "S3: replication in bulk from AWS Config"),
        # config_aggregator: the organization's stores in bulk from an AWS Config aggregator (once per scan)
        _aws("DescribeConfigurationAggregators", "config", "config_aggregator: all regions or not"),
        _aws("DescribeConfigurationAggregatorSourcesStatus", "config", "config_aggregator: the sources covered"),
        _aws("SelectAggregateResourceConfig", "config", "config_aggregator: every store of the bulk kinds"),
    ), {"tag:GetResources": "tagging"}),
    "azure": PlatformCalls("azure", (
        Call("Subscriptions_List", "Microsoft.Resources/subscriptions/read", "no subscriptions configured"),
    )),
    "gcp": PlatformCalls("gcp", (
        Call("projects.list", "resourcemanager.projects.list", "an organization or folder scope"),
        Call("folders.list", "resourcemanager.folders.list", "an organization or folder scope"),
    )),
}


def kinds_of(cloud: str) -> tuple[StoreKind, ...]:
    return tuple(kind for kind in KINDS if kind.cloud == cloud)


def kind_names(cloud: str | None = None) -> tuple[str, ...]:
    return tuple(kind.kind for kind in KINDS if cloud in (None, kind.cloud))


def services_of(cloud: str) -> tuple[str, ...]:
    """The config `services` a cloud accepts, in registry order (the default: all of them)."""
    return tuple(dict.fromkeys(kind.service for kind in kinds_of(cloud)))


def kind(name: str) -> StoreKind:
    return next(k for k in KINDS if k.kind == name)


def permissions(cloud: str) -> tuple[str, ...]:
    """Every permission the cloud's provider may need, sorted: what its published role grants."""
    calls = [*PLATFORM[cloud].calls, *(call for k in kinds_of(cloud) for call in k.calls)]
    return tuple(sorted({call.permission for call in calls}))
