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
    # Azure: the ARM resource type whose ids are the stores' ids; a change event about one, or about a child resource
    # of one (an account's object replication policy, a cache's linked server), names that store
    arm_type: str = ""
    # Azure: other ARM types whose change can alter any store of the kind (a SQL server's failover group); an event
    # about one re-reads every store of the service in its subscription
    arm_related: tuple[str, ...] = ()
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
# Google Cloud's `projects/P/locations/-/...` listings name the locations they could not reach.
GCP_UNREACHABLE = "locations the listing reports `unreachable` (recorded as unknown; the target is not complete)"
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
            Call("GetBucketLocation", "s3:GetBucketLocation",
                 "ListBuckets gives no BucketRegion, or an S3 event names the bucket"),
            Call("GetBucketTagging", "s3:GetBucketTagging",
                 "tag:GetResources failed in the bucket's region, or an S3 event names the bucket"),
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
        copies=(Copy("primary", "DescribeTable.TableArn"), Copy("replica", "DescribeTable.Replicas"),
                Copy("backup", "ListBackups.BackupSummaries.TableArn (on-demand backups, in the table's region); "
                               "DescribeContinuousBackups.PointInTimeRecoveryDescription (PITR enabled)")),
        detail_calls=(_aws("DescribeTable", "dynamodb"), _aws("ListTagsOfResource", "dynamodb"),
                      _aws("ListBackups", "dynamodb", "once per region that has tables"),
                      _aws("DescribeContinuousBackups", "dynamodb"), *KMS_CALLS),
        cannot_see=("backups of tables since deleted (a backup outlives its table: not inventoried as a store)",
                    "backup copies in other regions made by AWS Backup: read only with the `backup` service",
                    "on-demand backups and point-in-time recovery of tables read through `config_aggregator` (AWS "
                    "Config's item does not carry them; both stay in the table's own region)"),
        probe_rank=2, bulk_type="AWS::DynamoDB::Table",
        description="DynamoDB tables and their global-table replicas",
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
        probe_rank=1, bulk_type="AWS::RDS::DBCluster",
        description="RDS, Aurora, Neptune and DocumentDB DB clusters (the RDS API serves all four), their "
                    "cross-region read replicas and global databases",
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
        cannot_see=("Redshift Serverless namespaces: read by the `redshift-serverless` service "
                    "(kind redshift-serverless-namespace), not this one",
                    "manual snapshots shared with or copied to other accounts (not read yet)"),
        probe_rank=4, description="Redshift provisioned clusters and their cross-region snapshot copies",
    ),
    StoreKind(
        kind="redshift-serverless-namespace", cloud="aws", service="redshift-serverless", scope="regional",
        api="redshift-serverless",
        list_call=_aws("ListNamespaces", "redshift-serverless"), result_key="namespaces",
        id_field="namespaceArn", name_field="namespaceName", tags_from="ListTagsForResource",
        copies=(Copy("primary", "ListNamespaces.namespaceArn"),
                Copy("backup", "ListSnapshotCopyConfigurations.snapshotCopyConfigurations.destinationRegion")),
        detail_calls=(_aws("ListSnapshotCopyConfigurations", "redshift-serverless",
                           "the region has namespaces (once per region)"),
                      _aws("ListTagsForResource", "redshift-serverless", "once per namespace"), *KMS_CALLS),
        cannot_see=("snapshots and recovery points shared with or restored into other accounts (not read yet)",
                    "the key of a snapshot copy (`destinationKmsKeyId` is not read)",
                    "nothing is called in a region where botocore's endpoint data does not offer Redshift Serverless "
                    "(no namespace can be there; a region botocore does not know at all is read)"),
        probe_rank=4, description="Redshift Serverless namespaces and their cross-region snapshot copies",
    ),
    StoreKind(
        kind="backup-vault", cloud="aws", service="backup", scope="regional", api="backup",
        list_call=_aws("ListBackupVaults", "backup"), result_key="BackupVaultList",
        id_field="BackupVaultArn", name_field="BackupVaultName", tags_from="ListTags",
        copies=(Copy("primary", "ListBackupVaults.BackupVaultArn"),
                Copy("backup", "GetBackupPlan.Rules.CopyActions.DestinationBackupVaultArn, on every store of the "
                               "plan's region its selections cover"),
                Copy("backup", "ListRecoveryPointsByBackupVault.ResourceArn: the vault's region, on each store of "
                               "another region it holds recovery points of (plan or on-demand copy jobs)")),
        detail_calls=(_aws("ListTags", "backup"), _aws("ListRecoveryPointsByBackupVault", "backup"),
                      _aws("ListBackupPlans", "backup"), _aws("GetBackupPlan", "backup"),
                      _aws("ListBackupSelections", "backup", "a plan copies to another region"),
                      _aws("GetBackupSelection", "backup", "a plan copies to another region"), *KMS_CALLS),
        cannot_see=("covered resources of kinds Custody does not inventory (EC2 volumes, EFS access points, ...)",
                    "recovery points copied into another account's vault when accounts are scanned as separate "
                    "units (a distributed scan): matched across accounts only when one process reads them all"),
        probe_rank=5, description="AWS Backup vaults (with their lock), the copies backup plans and copy jobs make "
                                  "in other regions",
    ),
    StoreKind(
        kind="glacier-vault", cloud="aws", service="glacier", scope="regional", api="glacier",
        list_call=_aws("ListVaults", "glacier"), result_key="VaultList",
        id_field="VaultARN", name_field="VaultName", tags_from="ListTagsForVault",
        copies=(Copy("primary", "ListVaults.VaultARN"),),
        detail_calls=(_aws("ListTagsForVault", "glacier"),),
        cannot_see=("archives retrieved or copied out of a vault (into S3 or elsewhere) by a job: not tracked",),
        probe_rank=6, description="S3 Glacier vaults (the original Glacier API; S3's Glacier storage classes are "
                                  "the buckets' own)",
    ),
    # caches, search domains and FSx: readers in providers/aws_kinds_cache.py and providers/aws_kinds_fsx.py
    StoreKind(
        kind="fsx-file-system", cloud="aws", service="fsx", scope="regional", api="fsx",
        list_call=_aws("DescribeFileSystems", "fsx"), result_key="FileSystems",
        id_field="ResourceARN", name_field="Tags.Name|FileSystemId", tags_from="Tags",
        copies=(Copy("primary", "DescribeFileSystems.ResourceARN"),
                Copy("backup", "DescribeBackups.SourceBackupRegion: a backup copied from the file system's region "
                               "(CopyBackup), in the region that lists it; DescribeBackups.FileSystem: a backup in "
                               "the file system's own region")),
        detail_calls=(_aws("DescribeBackups", "fsx"),),
        cannot_see=("backups of a file system that no longer exists, or of one in a region not scanned "
                    "(no store to carry them)",
                    "backup copies in a region that is not scanned (a copy is listed only by the region holding it)"),
        probe_rank=6, description="FSx file systems and their backups, cross-region backup copies included",
    ),
    StoreKind(
        kind="elasticache-replication-group", cloud="aws", service="elasticache", scope="regional",
        api="elasticache",
        list_call=_aws("DescribeReplicationGroups", "elasticache"), result_key="ReplicationGroups",
        id_field="ARN", name_field="ReplicationGroupId", tags_from="ListTagsForResource",
        copies=(Copy("primary", "DescribeReplicationGroups.ARN (or the global datastore's primary member: "
                                "DescribeGlobalReplicationGroups.Members.Role PRIMARY)"),
                Copy("replica", "DescribeGlobalReplicationGroups.Members.ReplicationGroupRegion (Role SECONDARY)")),
        detail_calls=(_aws("ListTagsForResource", "elasticache"),
                      _aws("DescribeGlobalReplicationGroups", "elasticache",
                           "a replication group of the region is in a global datastore")),
        cannot_see=("serverless caches (DescribeServerlessCaches, not read yet)",
                    "snapshots exported to S3 buckets (CopySnapshot with a TargetBucket, not read)"),
        probe_rank=7, description="ElastiCache replication groups and the members of their global datastores",
    ),
    StoreKind(
        kind="memorydb-cluster", cloud="aws", service="memorydb", scope="regional", api="memorydb",
        list_call=_aws("DescribeClusters", "memorydb"), result_key="Clusters",
        id_field="ARN", name_field="Name", tags_from="ListTags",
        copies=(Copy("primary", "DescribeClusters.ARN; every member's region of a multi-region cluster "
                                "(DescribeMultiRegionClusters.Clusters.Region: active-active, each takes writes)"),),
        detail_calls=(_aws("ListTags", "memorydb"),
                      _aws("DescribeMultiRegionClusters", "memorydb",
                           "a cluster of the region is in a multi-region cluster")),
        cannot_see=("snapshots exported to S3 buckets (CopySnapshot with a TargetBucket, not read)",
                    "nothing is called in a region where botocore's endpoint data does not offer MemoryDB (no cluster "
                    "can be there; a region botocore does not know at all is read)"),
        probe_rank=7, description="MemoryDB clusters and the regions of their multi-region clusters",
    ),
    StoreKind(
        kind="opensearch-domain", cloud="aws", service="opensearch", scope="regional", api="opensearch",
        list_call=_aws("ListDomainNames", "es"), result_key="DomainNames",
        id_field="DescribeDomains.ARN", name_field="DomainName", tags_from="ListTags",
        copies=(Copy("primary", "DescribeDomains.ARN; a follower's leader: DescribeOutboundConnections."
                                "RemoteDomainInfo.AWSDomainInformation.Region"),
                Copy("replica", "the follower's region: DescribeOutboundConnections.LocalDomainInfo (of this "
                                "account's followers), DescribeInboundConnections.LocalDomainInfo (of followers in "
                                "other accounts)")),
        detail_calls=(_aws("DescribeDomains", "es", "the region has domains (up to 5 per call)"),
                      _aws("ListTags", "es"), _aws("DescribeOutboundConnections", "es"),
                      _aws("DescribeInboundConnections", "es")),
        cannot_see=("whether a connection serves cross-cluster replication or only cross-cluster search: the API "
                    "does not say, so every connection not rejected or deleted is counted as a copy (fail closed)",
                    "manual snapshots in S3 repositories registered inside the domain (the OpenSearch API of the "
                    "domain, not the AWS API)"),
        probe_rank=8, description="OpenSearch Service domains and their cross-cluster replication followers",
    ),
    # ---- Azure ----------------------------------------------------------------------------------------
    StoreKind(
        kind="azure-storage-account", cloud="azure", service="storage", scope="subscription", api="Microsoft.Storage",
        arm_type="Microsoft.Storage/storageAccounts",
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
        api="Microsoft.DocumentDB", arm_type="Microsoft.DocumentDB/databaseAccounts",
        list_call=Call("DatabaseAccounts_List", "Microsoft.DocumentDB/databaseAccounts/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "DatabaseAccount.locations.locationName (failover priority 0; with "
                                "enableMultipleWriteLocations, every DatabaseAccount.writeLocations entry)"),
                Copy("replica", "DatabaseAccount.locations.locationName"),
                Copy("backup", f"{PAIR_INFERRED}: DatabaseAccount.backupPolicy Periodic with "
                               "periodicModeProperties.backupStorageRedundancy Geo (Continuous: every region of the "
                               "account, its locations already)")),
        detail_calls=(AZURE_VAULTS,),
        cannot_see=("periodic backups whose backupStorageRedundancy is not reported (recorded as unknown)",
                    "geo-redundant backups of an account in a region without a catalog pair (recorded as unknown)"),
        description="Cosmos DB accounts, every region they replicate to and their geo-redundant backups",
    ),
    StoreKind(
        kind="azure-sql-database", cloud="azure", service="sql", scope="subscription", api="Microsoft.Sql",
        arm_type="Microsoft.Sql/servers/databases", arm_related=("Microsoft.Sql/servers",),
        list_call=Call("Servers_List", "Microsoft.Sql/servers/read"), result_key="value",
        id_field="id", name_field="server/database", tags_from="tags",
        copies=(Copy("primary", "Database.location"),
                Copy("replica", "ReplicationLink.partnerLocation, FailoverGroup.properties.partnerServers.location"),
                Copy("backup", f"{PAIR_INFERRED}: Database.currentBackupStorageRedundancy Geo or GeoZone")),
        detail_calls=(Call("Databases_ListByServer", "Microsoft.Sql/servers/databases/read"),
                      Call("ReplicationLinks_ListByServer", "Microsoft.Sql/servers/databases/replicationLinks/read"),
                      Call("FailoverGroups_ListByServer", "Microsoft.Sql/servers/failoverGroups/read",
                           "the server has user databases (once per server)"),
                      Call("EncryptionProtectors_Get", "Microsoft.Sql/servers/encryptionProtector/read",
                           "the server has user databases: its TDE protector (once per server)"), AZURE_VAULTS),
        cannot_see=("backups whose storage redundancy is not reported (recorded as unknown)",
                    "geo-redundant backups of a database in a region without a catalog pair (recorded as unknown)"),
        description="SQL databases, their geo-replicas and failover groups, and their geo-redundant backups",
    ),
    StoreKind(
        kind="azure-managed-disk", cloud="azure", service="disks", scope="subscription", api="Microsoft.Compute",
        arm_type="Microsoft.Compute/disks",
        list_call=Call("Disks_List", "Microsoft.Compute/disks/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags", copies=(Copy("primary", "Disk.location"),),
        detail_calls=AZURE_DISK_KEYS,
        description="managed disks",
    ),
    StoreKind(
        kind="azure-snapshot", cloud="azure", service="snapshots", scope="subscription", api="Microsoft.Compute",
        arm_type="Microsoft.Compute/snapshots",
        list_call=Call("Snapshots_List", "Microsoft.Compute/snapshots/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags", copies=(Copy("primary", "Snapshot.location"),),
        detail_calls=AZURE_DISK_KEYS,
        description="disk snapshots",
    ),
    StoreKind(
        kind="azure-recovery-services-vault", cloud="azure", service="backup", scope="subscription",
        api="Microsoft.RecoveryServices", arm_type="Microsoft.RecoveryServices/vaults",
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
        api="Microsoft.DataProtection", arm_type="Microsoft.DataProtection/backupVaults",
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
        api=f"Microsoft.DBfor{engine}", arm_type=f"Microsoft.DBfor{engine}/flexibleServers",
        list_call=Call("Servers_List", f"Microsoft.DBfor{engine}/flexibleServers/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "Server.location (or a replica's source: Server.properties.sourceServerResourceId)"),
                Copy("replica", "Server.location of the servers whose sourceServerResourceId is this server"),
                Copy("backup", f"{PAIR_INFERRED}: Server.properties.backup.geoRedundantBackup Enabled")),
        cannot_see=("a replica's source in a subscription that is not scanned (recorded as unknown)",
                    "geo-redundant backups of a server in a region without a catalog pair (recorded as unknown)"),
        description=f"Azure Database for {engine} flexible servers, their read replicas and geo-redundant backups",
    ) for engine in ("PostgreSQL", "MySQL")),
    StoreKind(
        kind="azure-sql-managed-instance", cloud="azure", service="sqlmi", scope="subscription", api="Microsoft.Sql",
        arm_type="Microsoft.Sql/managedInstances", arm_related=("Microsoft.Sql/locations/instanceFailoverGroups",),
        list_call=Call("ManagedInstances_List", "Microsoft.Sql/managedInstances/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "ManagedInstance.location (or the failover group's role of that region)"),
                Copy("replica", "InstanceFailoverGroup.properties.managedInstancePairs → the partner instance's "
                                "location (else partnerRegions.location), its role from replicationRole"),
                Copy("backup", f"{PAIR_INFERRED}: ManagedInstance.properties.currentBackupStorageRedundancy Geo or "
                               "GeoZone")),
        detail_calls=(Call("InstanceFailoverGroups_ListByLocation",
                           "Microsoft.Sql/locations/instanceFailoverGroups/read",
                           "once per resource group and location holding a managed instance"),),
        cannot_see=("backups whose storage redundancy is not reported (recorded as unknown)",
                    "a failover group partner in a subscription that is not scanned, when the group names more than "
                    "one partner region (recorded as unknown)",
                    "its databases one by one (not listed: they live in the instance and are copied with it)"),
        description="SQL managed instances, their instance failover groups and geo-redundant backups",
    ),
    StoreKind(
        kind="azure-redis-cache", cloud="azure", service="redis", scope="subscription", api="Microsoft.Cache",
        arm_type="Microsoft.Cache/redis",
        list_call=Call("Redis_ListBySubscription", "Microsoft.Cache/redis/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "RedisResource.location (or a linked server whose serverRole is Primary)"),
                Copy("replica", "RedisLinkedServer.properties.linkedRedisCacheLocation, serverRole Secondary")),
        detail_calls=(Call("LinkedServer_List", "Microsoft.Cache/redis/linkedServers/read",
                           "a Premium cache, or one whose tier is not reported (once per cache)"),),
        cannot_see=("RDB/AOF persistence files exported to a storage account the customer names (not read)",),
        description="Azure Cache for Redis caches and their geo-replicated linked caches",
    ),
    StoreKind(
        kind="azure-managed-redis", cloud="azure", service="redis", scope="subscription", api="Microsoft.Cache",
        arm_type="Microsoft.Cache/redisEnterprise",
        list_call=Call("RedisEnterprise_List", "Microsoft.Cache/redisEnterprise/read"), result_key="value",
        id_field="id", name_field="name", tags_from="tags",
        copies=(Copy("primary", "Cluster.location, and every cluster of Database.properties.geoReplication."
                                "linkedDatabases (active geo-replication: each one is written to)"),),
        detail_calls=(Call("Databases_ListByCluster", "Microsoft.Cache/redisEnterprise/databases/read",
                           "once per cluster"),),
        cannot_see=("a linked database whose cluster is in a subscription that is not scanned (recorded as unknown)",),
        description="Azure Managed Redis and Redis Enterprise clusters and their active geo-replication groups",
    ),
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
    StoreKind(
        kind="alloydb-cluster", cloud="gcp", service="alloydb", scope="global", api="alloydb",
        list_call=Call("clusters.list", "alloydb.clusters.list"), result_key="clusters",
        id_field="//alloydb.googleapis.com/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "clusters.list name's region (a SECONDARY cluster: secondaryConfig.primaryClusterName "
                                "→ its region)"),
                Copy("replica", "clusters.list secondaryConfig.primaryClusterName of the SECONDARY clusters, and "
                                "primaryConfig.secondaryClusterNames → their regions"),
                Copy("backup", "automatedBackupPolicy.location (default: the cluster's region), continuousBackupConfig "
                               "(the cluster's region), backups.list clusterName → each backup's region")),
        detail_calls=(Call("backups.list", "alloydb.backups.list", "every project (one call for all locations: "
                                                                   "locations/-)"),),
        cannot_see=("a secondary cluster in another project is named (its region read from its name) but not read",
                    GCP_UNREACHABLE),
        bulk_type="alloydb.googleapis.com/Cluster",
        description="AlloyDB clusters, their secondary clusters in other regions and their backups",
    ),
    StoreKind(
        kind="filestore-instance", cloud="gcp", service="filestore", scope="global", api="file",
        list_call=Call("instances.list", "file.instances.list"), result_key="instances",
        id_field="//file.googleapis.com/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "instances.list name's location (a zone or a region)"),
                Copy("backup", "backups.list sourceInstance → each backup's region")),
        detail_calls=(Call("backups.list", "file.backups.list", "every project (one call for all locations: "
                                                                "locations/-)"),),
        cannot_see=("snapshots (kept with the instance, in its location) are not listed",
                    "backups of the instance made in another project (not read)", GCP_UNREACHABLE),
        bulk_type="file.googleapis.com/Instance",
        description="Filestore instances and their backups in other regions",
    ),
    StoreKind(
        kind="memorystore-redis-instance", cloud="gcp", service="redis", scope="global", api="redis",
        list_call=Call("instances.list", "redis.instances.list"), result_key="instances",
        id_field="//redis.googleapis.com/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "instances.list locationId (its zone)"),
                Copy("replica", "instances.list alternativeLocationId (the standard tier's replica zone)")),
        cannot_see=("RDB exports to Cloud Storage buckets (not read); the v1 API has no cross-region replication "
                    "for instances (Memorystore for Valkey's is another API, not read)", GCP_UNREACHABLE),
        bulk_type="redis.googleapis.com/Instance",
        description="Memorystore for Redis instances and their replica zone",
    ),
    StoreKind(
        kind="memorystore-redis-cluster", cloud="gcp", service="redis", scope="global", api="redis",
        list_call=Call("clusters.list", "redis.clusters.list"), result_key="clusters",
        id_field="//redis.googleapis.com/{name}", name_field="name", tags_from="labels",
        copies=(Copy("primary", "clusters.list name's region (a SECONDARY cluster: "
                                "crossClusterReplicationConfig.primaryCluster → its region)"),
                Copy("replica", "crossClusterReplicationConfig.secondaryClusters (and membership) → their regions")),
        cannot_see=("RDB and AOF backups exported to Cloud Storage buckets (not read)", GCP_UNREACHABLE),
        bulk_type="redis.googleapis.com/Cluster",
        description="Memorystore for Redis Cluster clusters and their cross-region secondary clusters",
    ),
)

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
        Call("Resources", "Microsoft.ResourceGraph/resources/read",
             "resource_graph: true (Resource Graph's query: every subscription's stores in bulk)"),
    )),
    "gcp": PlatformCalls("gcp", (
        Call("projects.list", "resourcemanager.projects.list", "an organization or folder scope"),
        Call("folders.list", "resourcemanager.folders.list", "an organization or folder scope"),
        Call("assets.list", "cloudasset.assets.listResource",
             "an organization or folder scope with asset_inventory (the default): every project's stores in bulk"),
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
