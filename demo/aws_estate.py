"""Seed a realistic AWS estate into a moto server, through boto3, and return its manifest (the ground truth).

`seed_aws_estate(url)` builds an AWS Organization with three member accounts reached through
`OrganizationAccountAccessRole`, S3 buckets in ten regions on six continents (with the two GetBucketLocation
traps: null for us-east-1 and "EU" for a legacy eu-west-1 bucket), a cross-continent S3 replication rule,
a DynamoDB global table, an RDS cross-region read replica, an EBS snapshot copied to another region and an EFS file
system replicated to another region (and, by an AWS Backup plan selecting it by tag, copied to a vault in Oregon),
a Redshift cluster whose snapshots are copied to another region (and a Redshift Serverless namespace whose
snapshot copy configuration copies to another), an Aurora global database with a secondary
cluster in another region, an FSx file system whose backup is copied to another region, an ElastiCache global
datastore, a MemoryDB multi-region cluster and an OpenSearch domain with a cross-cluster replication follower in
another region. Start the server with
`start_moto(patches=ESTATE_PATCHES)` (demo/moto_patches.py), e.g. `bucket_region`, `dynamodb_replicas`: the global
table needs the `dynamodb_replicas` patch, the EFS replication the `efs_replication` patch and the backup plan's
selection `backup_selections`, and seeding fails loudly without them rather than return a manifest that lies.

AWS Config records S3 in the management and acme-prod-eu accounts (every region where they hold buckets) when the
server can answer replication through Config (`s3_config_replication` patch); the other accounts do not record, so
a scan takes both paths. Without the patch no recorder is started: stock moto's Config items would say that no
bucket replicates.

`seed_buckets(url, n, regions, ...)` creates many buckets quickly for benchmarks.

Call either on a fresh (or reset) server: names and the organization must not exist yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

MANAGEMENT_ACCOUNT_ID = "123456789012"  # moto's default account: the caller of the testing credentials
ORG_ROLE_NAME = "OrganizationAccountAccessRole"
TEST_ACCESS_KEY = "testing"
TEST_SECRET_KEY = "testing"
HOME_REGION = "us-east-1"
PERSONAL = {"data-class": "personal"}

S3_BUCKET = "s3-bucket"
DYNAMODB_TABLE = "dynamodb-table"
RDS_INSTANCE = "rds-instance"
RDS_CLUSTER = "rds-cluster"
EBS_SNAPSHOT = "ebs-snapshot"
EFS_FILE_SYSTEM = "efs-file-system"
REDSHIFT_CLUSTER = "redshift-cluster"
REDSHIFT_NAMESPACE = "redshift-serverless-namespace"
BACKUP_VAULT = "backup-vault"
GLACIER_VAULT = "glacier-vault"
FSX_FILE_SYSTEM = "fsx-file-system"
ELASTICACHE_GROUP = "elasticache-replication-group"
MEMORYDB_CLUSTER = "memorydb-cluster"
OPENSEARCH_DOMAIN = "opensearch-domain"

MEMBER_ACCOUNTS = {  # name -> e-mail; the account ids are chosen by moto
    "acme-prod-eu": "aws-prod-eu@acme.example",
    "acme-analytics-jp": "aws-analytics-jp@acme.example",
    "sandbox": "aws-sandbox@acme.example",
}


@dataclass(frozen=True)
class BucketSpec:
    account: str  # "management" or a member account name
    name: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    location_constraint: str | None = None  # None: the region's own code (none at all for us-east-1)


ESTATE_BUCKETS = (
    BucketSpec("management", "acme-mgmt-audit-logs-use1", "us-east-1", {"env": "shared"}),
    BucketSpec("management", "acme-mgmt-legacy-archive-eu", "eu-west-1", {**PERSONAL, "env": "archive"}, "EU"),
    BucketSpec("management", "acme-mgmt-build-artifacts-usw2", "us-west-2", {"env": "shared"}),
    BucketSpec("acme-prod-eu", "acme-prod-eu-customers-fra", "eu-central-1", {**PERSONAL, "env": "prod"}),
    BucketSpec("acme-prod-eu", "acme-prod-eu-customers-dr-use1", "us-east-1", {**PERSONAL, "env": "prod"}),
    BucketSpec("acme-prod-eu", "acme-prod-eu-invoices-dub", "eu-west-1", {**PERSONAL, "env": "prod"}),
    BucketSpec("acme-analytics-jp", "acme-analytics-jp-events-tyo", "ap-northeast-1", {**PERSONAL, "env": "prod"}),
    BucketSpec("acme-analytics-jp", "acme-analytics-jp-reports-syd", "ap-southeast-2", {"env": "prod"}),
    BucketSpec("acme-analytics-jp", "acme-analytics-jp-partners-hkg", "ap-east-1", {**PERSONAL, "env": "prod"}),
    BucketSpec("sandbox", "acme-sandbox-scratch-gru", "sa-east-1", {"env": "dev"}),
    BucketSpec("sandbox", "acme-sandbox-ml-cpt", "af-south-1", {"env": "dev"}),
    BucketSpec("sandbox", "acme-sandbox-signups-yul", "ca-central-1", {**PERSONAL, "env": "dev"}),
)
REPLICATION = ("acme-prod-eu-customers-fra", "acme-prod-eu-customers-dr-use1")  # source -> destination (EU -> US)
CONFIG_RECORDING_ACCOUNTS = ("management", "acme-prod-eu")  # AWS Config records S3 in these accounts
CONFIG_RECORDER = "default"  # the name the console gives the (one) customer-managed recorder
S3_CONFIG_TYPE = "AWS::S3::Bucket"
GLOBAL_TABLE = ("acme-prod-eu", "acme-prod-eu-sessions", "eu-west-1", ("us-east-1",))
RDS_PRIMARY = ("acme-prod-eu", "acme-prod-eu-orders", "eu-central-1")
RDS_REPLICA = ("acme-prod-eu-orders-replica-use1", "us-east-1")
EBS_SOURCE = ("acme-prod-eu", "eu-central-1", "us-west-2")  # account, snapshot region, copy region
EFS_SOURCE = ("acme-prod-eu", "acme-prod-eu-hr-files", "eu-central-1", "us-east-1")  # account, name, region, copy
REDSHIFT = ("acme-prod-eu", "acme-prod-eu-dwh", "eu-central-1", "us-east-1")  # account, name, region, snapshot copies
# account, Redshift Serverless namespace, region, its snapshot copy configuration's destination
REDSHIFT_SERVERLESS = ("acme-prod-eu", "acme-prod-eu-marketing", "eu-west-1", "us-west-2")
AURORA_GLOBAL = ("acme-prod-eu", "acme-prod-eu-ledger", "eu-central-1", "us-east-1")  # account, name, writer, secondary
# account, plan, region, its vault, the copy vault's region and name: copies every EFS file system tagged env=prod
BACKUP_PLAN = ("acme-prod-eu", "acme-prod-eu-nightly", "eu-central-1", "acme-prod-eu-vault-fra", "us-west-2",
               "acme-prod-eu-vault-dr")
GLACIER = ("acme-prod-eu", "acme-prod-eu-archive", "eu-central-1")  # account, vault, region
FSX_BACKUP = ("acme-prod-eu", "acme-prod-eu-cad-files", "eu-west-1", "us-west-2")  # account, name, region, copy
# account, name, primary region, secondary region: an ElastiCache global datastore; a MemoryDB multi-region cluster
# (active-active in both); an OpenSearch leader domain and its cross-cluster replication follower
ELASTICACHE_GLOBAL = ("acme-prod-eu", "acme-prod-eu-sessions-cache", "eu-west-1", "us-east-1")
MEMORYDB_MULTI_REGION = ("acme-prod-eu", "carts", "eu-central-1", "us-west-2")
OPENSEARCH_REPLICATION = ("acme-prod-eu", "acme-prod-eu-search", "eu-central-1", "us-west-2")
EFS_PROD_SELECTION = {
    "Resources": ["arn:aws:elasticfilesystem:*:*:file-system/*"],
    "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod"}]},
}


# Who holds the keys: buckets on each rung of the custody ladder, in acme-prod-eu's Frankfurt region
KEY_CUSTODY_ACCOUNT, KEY_CUSTODY_REGION = "acme-prod-eu", "eu-central-1"
CONFIDENTIAL = {"data-class": "confidential", "env": "prod"}
XKS_PROXY = "https://xks.acme-europe.example"  # the external key store's proxy: declared under the config's key_stores
HSM_CLUSTER = "cluster-1a23b4cdefg"
MRK_REPLICA_REGION = "us-east-1"


class EstateError(RuntimeError):
    """The server did not end up in the state the manifest describes."""


@dataclass
class SeededStore:
    """One data store the seed created: what a complete scan must find.

    `replica_regions`: for a primary, the regions other copies of its data (replicas or backups) were placed in by
    the seed.
    `replica_of`: for a copy (S3 replication destination, DynamoDB replica table, RDS read replica, copied
    snapshot), the id of its primary; its own `replica_regions` is empty.
    """

    id: str
    account: str
    kind: str
    name: str
    region: str
    replica_regions: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    replica_of: str | None = None
    custody: str | None = None  # who holds its keys (scanner/custody.py), where the seed chose it
    key_regions: tuple[str, ...] = ()  # regions of its key's material other than its own (a multi-region key)


@dataclass
class AwsEstate:
    endpoint_url: str
    management_account_id: str
    member_account_ids: dict[str, str]  # member account name -> account id
    organization_id: str
    manifest: list[SeededStore]
    role_name: str = ORG_ROLE_NAME

    @property
    def account_ids(self) -> list[str]:
        return [self.management_account_id, *self.member_account_ids.values()]

    def stores(self, kind: str | None = None, account: str | None = None) -> list[SeededStore]:
        return [
            store
            for store in self.manifest
            if (kind is None or store.kind == kind) and (account is None or store.account == account)
        ]

    def store(self, name: str, region: str | None = None) -> SeededStore:
        matches = [s for s in self.manifest if s.name == name and (region is None or s.region == region)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} seeded stores named {name!r} in {region or 'any region'}")
        return matches[0]

    def primaries(self) -> list[SeededStore]:
        return [s for s in self.manifest if s.replica_of is None]


# ---------------------------------------------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    access_key_id: str = TEST_ACCESS_KEY
    secret_access_key: str = TEST_SECRET_KEY
    session_token: str | None = None


class Clients:
    """boto3 clients for one identity against one endpoint, one per (service, region), created once."""

    def __init__(self, endpoint_url: str, credentials: Credentials | None = None, pool: int = 10) -> None:
        self.endpoint_url = endpoint_url
        credentials = credentials or Credentials()
        self._session = boto3.session.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=HOME_REGION,
        )
        self._config = Config(
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=pool,
            s3={"addressing_style": "path"},
        )
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str = HOME_REGION) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url, config=self._config
            )
        return self._clients[key]


def assume_member(endpoint_url: str, account_id: str, role_name: str = ORG_ROLE_NAME) -> Clients:
    """Clients acting as `account_id`, through sts:AssumeRole on the organization's access role."""
    sts = Clients(endpoint_url)("sts")
    answer = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}", RoleSessionName="custody-seed")
    creds = answer["Credentials"]
    return Clients(endpoint_url, Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]))


# ---------------------------------------------------------------------------------------------------------------
# the demo estate
# ---------------------------------------------------------------------------------------------------------------


def seed_aws_estate(endpoint_url: str, record_config: bool | None = None) -> AwsEstate:
    """Seed the demo estate (organization, 3 members, 12 buckets, global table, RDS, EBS) and return its manifest.

    `record_config`: start AWS Config recorders in `CONFIG_RECORDING_ACCOUNTS`; None (default) does so when the
    server's Config items show replication (the `s3_config_replication` patch), True requires it."""
    management = Clients(endpoint_url)
    organization_id, members = create_organization(management)
    clients = {"management": management} | {name: assume_member(endpoint_url, aid) for name, aid in members.items()}
    accounts = {"management": MANAGEMENT_ACCOUNT_ID, **members}
    manifest = [_seed_bucket(clients[spec.account], accounts[spec.account], spec) for spec in ESTATE_BUCKETS]
    _link_replication(clients, accounts, manifest)
    source = next(spec for spec in ESTATE_BUCKETS if spec.name == REPLICATION[0])
    if _wants_config(record_config, clients[source.account], source.name, source.region):
        for account in CONFIG_RECORDING_ACCOUNTS:
            regions = {spec.region for spec in ESTATE_BUCKETS if spec.account == account}
            record_s3_with_config(clients[account], accounts[account], sorted(regions))
    manifest += _seed_global_table(clients[GLOBAL_TABLE[0]], accounts[GLOBAL_TABLE[0]])
    # the primary table has an on-demand backup and point-in-time recovery: a backup copy in its own region
    seed_table_backups(clients[GLOBAL_TABLE[0]], GLOBAL_TABLE[1], GLOBAL_TABLE[2])
    manifest += _seed_rds(clients[RDS_PRIMARY[0]], accounts[RDS_PRIMARY[0]])
    manifest += _seed_snapshot(clients[EBS_SOURCE[0]], accounts[EBS_SOURCE[0]])
    manifest += seed_efs_replication(clients[EFS_SOURCE[0]], accounts[EFS_SOURCE[0]], *EFS_SOURCE[1:])
    manifest.append(seed_redshift_snapshot_copy(clients[REDSHIFT[0]], accounts[REDSHIFT[0]], *REDSHIFT[1:]))
    manifest.append(seed_redshift_serverless_copy(clients[REDSHIFT_SERVERLESS[0]], accounts[REDSHIFT_SERVERLESS[0]],
                                                  *REDSHIFT_SERVERLESS[1:]))
    manifest += seed_aurora_global(clients[AURORA_GLOBAL[0]], accounts[AURORA_GLOBAL[0]], *AURORA_GLOBAL[1:])
    manifest += seed_backup_plan(clients[BACKUP_PLAN[0]], accounts[BACKUP_PLAN[0]], *BACKUP_PLAN[1:],
                                 selection=EFS_PROD_SELECTION)
    # the plan's selection covers the EFS source (an EFS file system in the plan's region, tagged env=prod)
    efs_prod = next(s for s in manifest if s.kind == EFS_FILE_SYSTEM and s.replica_of is None)
    efs_prod.replica_regions += (BACKUP_PLAN[4],)
    # an on-demand copy job of its recovery point into the plan's copy vault too (the same region: nothing new)
    seed_recovery_point_copy(clients[BACKUP_PLAN[0]], accounts[BACKUP_PLAN[0]], efs_prod.id, *BACKUP_PLAN[2:6],
                             create_vaults=False)
    manifest.append(seed_glacier_vault(clients[GLACIER[0]], accounts[GLACIER[0]], *GLACIER[1:], {**PERSONAL}))
    manifest += seed_key_custody(clients[KEY_CUSTODY_ACCOUNT], accounts[KEY_CUSTODY_ACCOUNT])
    manifest += _seed_caches_and_file_systems(clients, accounts)
    return AwsEstate(endpoint_url, MANAGEMENT_ACCOUNT_ID, members, organization_id, manifest)


def create_organization(management: Clients) -> tuple[str, dict[str, str]]:
    """Create the organization (all features) and the member accounts; return (org id, {name: account id})."""
    org = management("organizations")
    organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    members = {}
    for name, email in MEMBER_ACCOUNTS.items():
        status = org.create_account(Email=email, AccountName=name)["CreateAccountStatus"]
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
        if status["State"] != "SUCCEEDED":
            raise EstateError(f"create_account {name}: {status}")
        members[name] = status["AccountId"]
    return organization_id, members


def _tag_set(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def bucket_arn(name: str) -> str:
    return f"arn:aws:s3:::{name}"


def create_bucket(s3_for_region: Callable[[str], Any], name: str, region: str, constraint: str | None = None) -> None:
    """CreateBucket as AWS wants it: no configuration in us-east-1, else a LocationConstraint.

    The legacy constraint "EU" (a bucket in eu-west-1) must be sent to the us-east-1 endpoint.
    """
    constraint = constraint or (None if region == "us-east-1" else region)
    client_region = "us-east-1" if constraint in (None, "EU") else region
    kwargs = {"CreateBucketConfiguration": {"LocationConstraint": constraint}} if constraint else {}
    s3_for_region(client_region).create_bucket(Bucket=name, **kwargs)


def _seed_bucket(clients: Clients, account: str, spec: BucketSpec) -> SeededStore:
    create_bucket(lambda region: clients("s3", region), spec.name, spec.region, spec.location_constraint)
    if spec.tags:
        clients("s3", spec.region).put_bucket_tagging(Bucket=spec.name, Tagging={"TagSet": _tag_set(spec.tags)})
    return SeededStore(bucket_arn(spec.name), account, S3_BUCKET, spec.name, spec.region, tags=dict(spec.tags))


def put_replication(s3: Any, account: str, source: str, destination: str, rule_id: str = "dr-copy") -> None:
    """Replicate every new object of `source` to `destination`; S3 requires versioning on both first."""
    s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{account}:role/s3-replication",
            "Rules": [
                {
                    "ID": rule_id,
                    "Priority": 1,
                    "Status": "Enabled",
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": bucket_arn(destination), "StorageClass": "STANDARD"},
                }
            ],
        },
    )


def enable_versioning(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def _link_replication(clients: dict[str, Clients], accounts: dict[str, str], manifest: list[SeededStore]) -> None:
    by_name = {store.name: store for store in manifest}
    source, destination = (by_name[name] for name in REPLICATION)
    owner = next(spec.account for spec in ESTATE_BUCKETS if spec.name == source.name)
    for store in (source, destination):
        enable_versioning(clients[owner]("s3", store.region), store.name)
    put_replication(clients[owner]("s3", source.region), accounts[owner], source.name, destination.name)
    source.replica_regions = (destination.region,)
    destination.replica_of = source.id


def record_s3_with_config(clients: Callable[[str, str], Any], account: str, regions: Iterable[str]) -> None:
    """Start an AWS Config recorder (all supported types, so S3 buckets) in each region, as the console's
    one-click setup does: a recorder, a delivery channel (Config needs one to start), then StartConfigurationRecorder.
    """
    for region in regions:
        config = clients("config", region)
        config.put_configuration_recorder(ConfigurationRecorder={
            "name": CONFIG_RECORDER,
            "roleARN": f"arn:aws:iam::{account}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": False},
        })
        config.put_delivery_channel(DeliveryChannel={"name": CONFIG_RECORDER, "s3BucketName": f"config-{account}"})
        config.start_configuration_recorder(ConfigurationRecorderName=CONFIG_RECORDER)


def config_shows_replication(clients: Clients, bucket: str, region: str) -> bool:
    """Whether the server's Config item for a replicating bucket carries its replication configuration."""
    answer = clients("config", region).batch_get_resource_config(
        resourceKeys=[{"resourceType": S3_CONFIG_TYPE, "resourceId": bucket}])
    return any("BucketReplicationConfiguration" in (item.get("supplementaryConfiguration") or {})
               for item in answer.get("baseConfigurationItems", []))


def _wants_config(record_config: bool | None, clients: Clients, bucket: str, region: str) -> bool:
    """Record with Config only where the server tells replication through it: else the items would lie."""
    if record_config is False:
        return False
    capable = config_shows_replication(clients, bucket, region)
    if record_config and not capable:
        raise EstateError(
            f"Config's item for {bucket} has no BucketReplicationConfiguration: moto's Config lacks it; start the "
            "server with start_moto(patches=['s3_config_replication'])"
        )
    return capable


def _seed_global_table(clients: Clients, account: str) -> list[SeededStore]:
    _, name, region, replica_regions = GLOBAL_TABLE
    ddb = clients("dynamodb", region)
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=_tag_set({**PERSONAL, "env": "prod"}),
    )
    ddb.update_table(TableName=name, ReplicaUpdates=[{"Create": {"RegionName": r}} for r in replica_regions])
    _require_replicas(ddb.describe_table(TableName=name)["Table"], replica_regions)
    tags = {**PERSONAL, "env": "prod"}
    primary = SeededStore(
        _table_arn(region, account, name), account, DYNAMODB_TABLE, name, region, replica_regions, tags
    )
    replicas = [
        SeededStore(_table_arn(r, account, name), account, DYNAMODB_TABLE, name, r, replica_of=primary.id)
        for r in replica_regions
    ]
    return [primary, *replicas]


def _table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _require_replicas(table: dict[str, Any], regions: Iterable[str]) -> None:
    shown = {replica["RegionName"] for replica in table.get("Replicas", [])}
    if not set(regions) <= shown:
        raise EstateError(
            f"describe_table shows replicas {sorted(shown)}, expected {sorted(regions)}: moto does not implement "
            "global tables; start the server with start_moto(patches=['dynamodb_replicas'])"
        )


def _seed_rds(clients: Clients, account: str) -> list[SeededStore]:
    _, name, region = RDS_PRIMARY
    replica_name, replica_region = RDS_REPLICA
    tags = {**PERSONAL, "env": "prod"}
    source = clients("rds", region).create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="orders_admin",
        MasterUserPassword="not-a-real-secret-1",
        StorageEncrypted=True,
        KmsKeyId=_customer_key(clients, region, "orders database"),
        Tags=_tag_set(tags),
    )["DBInstance"]
    replica = clients("rds", replica_region).create_db_instance_read_replica(
        DBInstanceIdentifier=replica_name, SourceDBInstanceIdentifier=source["DBInstanceArn"], Tags=_tag_set(tags),
        KmsKeyId=_customer_key(clients, replica_region, "orders replica"),  # a cross-region replica's own key
    )["DBInstance"]
    return [
        SeededStore(source["DBInstanceArn"], account, RDS_INSTANCE, name, region, (replica_region,), tags),
        SeededStore(
            replica["DBInstanceArn"],
            account,
            RDS_INSTANCE,
            replica_name,
            replica_region,
            tags=tags,
            replica_of=source["DBInstanceArn"],
        ),
    ]


def _customer_key(clients: Clients, region: str, purpose: str) -> str:
    return clients("kms", region).create_key(Description=purpose)["KeyMetadata"]["Arn"]


def snapshot_arn(region: str, account: str, snapshot_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:snapshot/{snapshot_id}"


def _seed_snapshot(clients: Clients, account: str) -> list[SeededStore]:
    _, region, copy_region = EBS_SOURCE
    tags = {**PERSONAL, "env": "prod", "Name": "acme-prod-eu-orders-volume-nightly"}
    tag_spec = [{"ResourceType": "snapshot", "Tags": _tag_set(tags)}]
    ec2 = clients("ec2", region)
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=20, VolumeType="gp3")
    snapshot_id = ec2.create_snapshot(
        VolumeId=volume["VolumeId"], Description="orders volume, nightly", TagSpecifications=tag_spec
    )["SnapshotId"]
    copy_id = clients("ec2", copy_region).copy_snapshot(
        SourceRegion=region,
        SourceSnapshotId=snapshot_id,
        Description=f"[Copied {snapshot_id} from {region}] orders volume, nightly",  # as the console words it
        TagSpecifications=tag_spec,
    )["SnapshotId"]
    source = SeededStore(
        snapshot_arn(region, account, snapshot_id), account, EBS_SNAPSHOT, snapshot_id, region, (copy_region,), tags
    )
    copy = SeededStore(
        snapshot_arn(copy_region, account, copy_id), account, EBS_SNAPSHOT, copy_id, copy_region, (), tags, source.id
    )
    return [source, copy]


def seed_efs_replication(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                         copy_region: str) -> list[SeededStore]:
    """An EFS file system replicated to `copy_region`: the source and the read-only destination EFS creates."""
    tags = {**PERSONAL, "env": "prod", "Name": name}
    efs = clients("efs", region)
    source = efs.create_file_system(CreationToken=name, Encrypted=True, Tags=_tag_set(tags))
    try:
        answer = efs.create_replication_configuration(
            SourceFileSystemId=source["FileSystemId"], Destinations=[{"Region": copy_region}])
    except ClientError as exc:
        raise EstateError(f"EFS replication could not be created ({exc}): moto does not implement it; start the "
                          "server with start_moto(patches=['efs_replication'])") from exc
    [destination] = answer["Destinations"]
    copy_arn = f"arn:aws:elasticfilesystem:{copy_region}:{account}:file-system/{destination['FileSystemId']}"
    return [
        SeededStore(source["FileSystemArn"], account, EFS_FILE_SYSTEM, name, region, (copy_region,), tags),
        SeededStore(copy_arn, account, EFS_FILE_SYSTEM, destination["FileSystemId"], copy_region, (), {},
                    source["FileSystemArn"]),
    ]


def seed_redshift_snapshot_copy(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                                copy_region: str, tags: dict[str, str] | None = None) -> SeededStore:
    """A Redshift cluster whose snapshots are copied to `copy_region` (cross-region snapshot copy)."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    redshift = clients("redshift", region)
    redshift.create_cluster(ClusterIdentifier=name, NodeType="ra3.xlplus", MasterUsername="dwh_admin",
                            MasterUserPassword="Not-a-real-secret-1", Tags=_tag_set(tags))
    redshift.enable_snapshot_copy(ClusterIdentifier=name, DestinationRegion=copy_region, RetentionPeriod=7)
    arn = f"arn:aws:redshift:{region}:{account}:cluster:{name}"
    return SeededStore(arn, account, REDSHIFT_CLUSTER, name, region, (copy_region,), tags)


def seed_redshift_serverless_copy(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                                  copy_region: str | None, tags: dict[str, str] | None = None) -> SeededStore:
    """A Redshift Serverless namespace with a snapshot copy configuration to `copy_region` (none: no copies).
    Needs the `redshift_serverless` patch (moto has no Redshift Serverless)."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    serverless = clients("redshift-serverless", region)
    namespace = serverless.create_namespace(
        namespaceName=name, dbName="marketing", tags=[{"key": k, "value": v} for k, v in tags.items()])["namespace"]
    if copy_region is not None:
        serverless.create_snapshot_copy_configuration(namespaceName=name, destinationRegion=copy_region,
                                                      snapshotRetentionPeriod=7)
    copies = () if copy_region is None else (copy_region,)
    return SeededStore(namespace["namespaceArn"], account, REDSHIFT_NAMESPACE, name, region, copies, tags)


def seed_aurora_global(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                       secondary_region: str, tags: dict[str, str] | None = None, engine: str = "aurora-postgresql"
                       ) -> list[SeededStore]:
    """An Aurora global database: its writer cluster `<name>-<region>` and a secondary cluster in the other region.
    `engine: neptune` seeds a Neptune global database the same way (the RDS API serves both)."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    clients("rds", region).create_global_cluster(GlobalClusterIdentifier=name, Engine=engine)
    seeded = []
    for where in (region, secondary_region):
        cluster = clients("rds", where).create_db_cluster(
            DBClusterIdentifier=f"{name}-{where}", Engine=engine, GlobalClusterIdentifier=name,
            Tags=_tag_set(tags), **({"MasterUsername": "ledger_admin", "MasterUserPassword": "Not-a-real-secret-1"}
                                    if where == region else {}))["DBCluster"]
        seeded.append(SeededStore(cluster["DBClusterArn"], account, RDS_CLUSTER, cluster["DBClusterIdentifier"], where,
                                  (secondary_region,) if where == region else (), tags,
                                  seeded[0].id if seeded else None))
    return seeded


def seed_key_custody(clients: Callable[[str, str], Any], account: str, region: str = KEY_CUSTODY_REGION
                     ) -> list[SeededStore]:
    """Buckets on each rung of the custody ladder: SSE-KMS with a customer managed key, with a key in a CloudHSM key
    store, with a key in an external key store (its proxy at `XKS_PROXY`), with a multi-region key replicated to
    `MRK_REPLICA_REGION`, and declared client-side encryption (the tag `encryption: client-side`). Needs the
    `kms_custom_key_stores` patch."""
    kms = clients("kms", region)
    keys = {"customer": kms.create_key(Description="acme-prod-eu data key")["KeyMetadata"]["Arn"]}
    try:
        keys["hsm"] = _custom_store_key(kms, "AWS_CLOUDHSM", CloudHsmClusterId=HSM_CLUSTER,
                                        TrustAnchorCertificate="-----BEGIN CERTIFICATE-----demo",
                                        KeyStorePassword="not-a-real-secret")
        keys["xks"] = _custom_store_key(kms, "EXTERNAL_KEY_STORE", XksProxyUriEndpoint=XKS_PROXY,
                                        XksProxyUriPath="/kms/xks/v1", XksProxyConnectivity="PUBLIC_ENDPOINT",
                                        XksProxyAuthenticationCredential={
                                            "AccessKeyId": "AKIAXKSDEMO000000001",
                                            "RawSecretAccessKey": "not-a-real-secret" * 3})
    except ClientError as exc:
        raise EstateError(f"custom key stores could not be created ({exc}): moto does not implement them; start the "
                          "server with start_moto(patches=['kms_custom_key_stores'])") from exc
    created = kms.create_key(Description="acme-prod-eu ledger key", MultiRegion=True)["KeyMetadata"]
    multi_region = created["Arn"]
    kms.replicate_key(KeyId=created["KeyId"], ReplicaRegion=MRK_REPLICA_REGION)
    buckets = (("acme-prod-eu-payroll-fra", "customer_managed_in_provider_kms", keys["customer"], ()),
               ("acme-prod-eu-health-fra", "customer_controlled_hsm_in_provider", keys["hsm"], ()),
               ("acme-prod-eu-contracts-fra", "external_key_manager", keys["xks"], ()),
               ("acme-prod-eu-ledger-archive-fra", "customer_managed_in_provider_kms", multi_region,
                (MRK_REPLICA_REGION,)),
               ("acme-prod-eu-escrow-fra", "client_side", None, ()))
    s3 = clients("s3", region)
    seeded = []
    for name, custody, key, key_regions in buckets:
        create_bucket(lambda where: clients("s3", where), name, region)
        tags = {**CONFIDENTIAL, **({} if key else {"encryption": "client-side"})}
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_set(tags)})
        if key:
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                "BucketKeyEnabled": True}]})
        seeded.append(SeededStore(bucket_arn(name), account, S3_BUCKET, name, region, tags=tags, custody=custody,
                                  key_regions=key_regions))
    return seeded


def _custom_store_key(kms: Any, kind: str, **store: Any) -> str:
    """A connected custom key store of `kind` and a key in it; the key's ARN."""
    store_id = kms.create_custom_key_store(CustomKeyStoreName=f"acme-{kind.lower()}", CustomKeyStoreType=kind,
                                           **store)["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    extra = {"XksKeyId": "acme-europe-xks-key-1"} if kind == "EXTERNAL_KEY_STORE" else {}
    return kms.create_key(Description=f"acme-prod-eu key in {kind}", CustomKeyStoreId=store_id, Origin=kind,
                          **extra)["KeyMetadata"]["Arn"]


def seed_backup_plan(clients: Callable[[str, str], Any], account: str, plan: str, region: str, vault: str,
                     copy_region: str, copy_vault: str, selection: dict[str, Any]) -> list[SeededStore]:
    """An AWS Backup plan in `region` whose rule backs up into `vault` and copies each recovery point to
    `copy_vault` in `copy_region`, assigned the resources `selection` names; returns the two vaults."""
    vaults = [(region, vault), (copy_region, copy_vault)]
    for where, name in vaults:
        clients("backup", where).create_backup_vault(BackupVaultName=name, BackupVaultTags={"env": "prod"})
    backup = clients("backup", region)
    copy_arn = f"arn:aws:backup:{copy_region}:{account}:backup-vault:{copy_vault}"
    plan_id = backup.create_backup_plan(BackupPlan={"BackupPlanName": plan, "Rules": [{
        "RuleName": "nightly", "TargetBackupVaultName": vault, "ScheduleExpression": "cron(0 3 * * ? *)",
        "CopyActions": [{"DestinationBackupVaultArn": copy_arn, "Lifecycle": {"DeleteAfterDays": 35}}],
    }]})["BackupPlanId"]
    try:
        backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={
            "SelectionName": f"{plan}-selection", "IamRoleArn": f"arn:aws:iam::{account}:role/service-role/backup",
            **selection})
    except ClientError as exc:
        raise EstateError(f"AWS Backup selection could not be created ({exc}): moto does not implement it; start "
                          "the server with start_moto(patches=['backup_selections'])") from exc
    return [SeededStore(f"arn:aws:backup:{where}:{account}:backup-vault:{name}", account, BACKUP_VAULT, name, where,
                        (), {"env": "prod"}) for where, name in vaults]


def seed_recovery_point_copy(clients: Callable[[str, str], Any], account: str, resource_arn: str, region: str,
                             vault: str, copy_region: str, copy_vault: str, create_vaults: bool = True
                             ) -> list[SeededStore]:
    """A backup job of `resource_arn` into `vault` (in `region`) and an on-demand copy job of its recovery point to
    `copy_vault` in `copy_region` (AWS Backup StartBackupJob, StartCopyJob); returns the two vaults."""
    vaults = [(region, vault), (copy_region, copy_vault)]
    if create_vaults:
        for where, name in vaults:
            clients("backup", where).create_backup_vault(BackupVaultName=name, BackupVaultTags={"env": "prod"})
    role = f"arn:aws:iam::{account}:role/service-role/backup"
    backup = clients("backup", region)
    try:
        point = backup.start_backup_job(BackupVaultName=vault, ResourceArn=resource_arn, IamRoleArn=role)
    except ClientError as exc:
        raise EstateError(f"AWS Backup job could not be started ({exc}): moto does not implement it; start the "
                          "server with start_moto(patches=['backup_recovery_points'])") from exc
    backup.start_copy_job(RecoveryPointArn=point["RecoveryPointArn"], SourceBackupVaultName=vault, IamRoleArn=role,
                          DestinationBackupVaultArn=f"arn:aws:backup:{copy_region}:{account}:backup-vault:{copy_vault}")
    return [SeededStore(f"arn:aws:backup:{where}:{account}:backup-vault:{name}", account, BACKUP_VAULT, name, where,
                        (), {"env": "prod"}) for where, name in vaults]


def seed_glacier_vault(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                       tags: dict[str, str]) -> SeededStore:
    """An S3 Glacier vault with tags (CreateVault, AddTagsToVault)."""
    glacier = clients("glacier", region)
    glacier.create_vault(accountId="-", vaultName=name)
    if tags:
        glacier.add_tags_to_vault(accountId="-", vaultName=name, Tags=tags)
    return SeededStore(f"arn:aws:glacier:{region}:{account}:vaults/{name}", account, GLACIER_VAULT, name, region,
                       (), dict(tags))


def seed_table_backups(clients: Callable[[str, str], Any], name: str, region: str, on_demand: int = 1,
                       pitr: bool = True) -> list[str]:
    """`on_demand` on-demand backups of an existing table (CreateBackup) and point-in-time recovery turned on
    (UpdateContinuousBackups); returns the backups' ARNs."""
    ddb = clients("dynamodb", region)
    arns = [ddb.create_backup(TableName=name, BackupName=f"{name}-{index}")["BackupDetails"]["BackupArn"]
            for index in range(on_demand)]
    if pitr:
        ddb.update_continuous_backups(TableName=name,
                                      PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return arns
def _seed_caches_and_file_systems(clients: dict[str, Clients], accounts: dict[str, str]) -> list[SeededStore]:
    """FSx (a backup copied to another region), ElastiCache, MemoryDB and OpenSearch stores of the estate."""
    seeded = [seed_fsx_backup_copy(clients[FSX_BACKUP[0]], accounts[FSX_BACKUP[0]], *FSX_BACKUP[1:])]
    for seed, (account, *args) in ((seed_elasticache_global, ELASTICACHE_GLOBAL),
                                   (seed_memorydb_multi_region, MEMORYDB_MULTI_REGION),
                                   (seed_opensearch_replication, OPENSEARCH_REPLICATION)):
        seeded += seed(clients[account], accounts[account], *args)
    return seeded


def seed_fsx_backup_copy(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                         copy_region: str | None, tags: dict[str, str] | None = None) -> SeededStore:
    """An FSx for Lustre file system (its Name tag `name`) with a backup in its region and, unless `copy_region` is
    None, that backup copied to `copy_region` (CopyBackup). Needs the `fsx_backups` patch."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    fsx = clients("fsx", region)
    file_system = fsx.create_file_system(FileSystemType="LUSTRE", StorageCapacity=1200,
                                         SubnetIds=["subnet-0a1b2c3d4e5f60718"],
                                         Tags=_tag_set({**tags, "Name": name}))["FileSystem"]
    backup = fsx.create_backup(FileSystemId=file_system["FileSystemId"])["Backup"]
    if copy_region is not None:
        try:
            clients("fsx", copy_region).copy_backup(SourceBackupId=backup["BackupId"], SourceRegion=region)
        except ClientError as exc:
            raise EstateError(f"FSx backup could not be copied ({exc}): moto does not implement CopyBackup; start "
                              "the server with start_moto(patches=['fsx_backups'])") from exc
    return SeededStore(file_system["ResourceARN"], account, FSX_FILE_SYSTEM, name, region,
                       (copy_region,) if copy_region else (), {**tags, "Name": name})


def _patched(service: str, patch: str, create: Callable[[], Any]) -> Any:
    """Call a create operation moto lacks; without the patch, one EstateError naming it."""
    try:
        return create()
    except ClientError as exc:
        raise EstateError(f"{service} could not be seeded ({exc}): moto does not implement it; start the server with "
                          f"start_moto(patches=[{patch!r}])") from exc


def seed_elasticache_global(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                            secondary_region: str, tags: dict[str, str] | None = None) -> list[SeededStore]:
    """An ElastiCache replication group `name` in `region`, primary of a global datastore whose secondary member
    `<name>-dr` is in `secondary_region`. Needs the `elasticache_global_datastores` patch."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    primary = clients("elasticache", region).create_replication_group(
        ReplicationGroupId=name, ReplicationGroupDescription=f"{name} sessions", Engine="redis",
        CacheNodeType="cache.r6g.large", NumCacheClusters=2, Tags=_tag_set(tags))["ReplicationGroup"]
    datastore = _patched("ElastiCache global datastore", "elasticache_global_datastores",
                         lambda: clients("elasticache", region).create_global_replication_group(
                             GlobalReplicationGroupIdSuffix=name, PrimaryReplicationGroupId=name))
    secondary = clients("elasticache", secondary_region).create_replication_group(
        ReplicationGroupId=f"{name}-dr", ReplicationGroupDescription=f"{name} sessions, secondary",
        GlobalReplicationGroupId=datastore["GlobalReplicationGroup"]["GlobalReplicationGroupId"],
        Tags=_tag_set(tags))["ReplicationGroup"]
    return [SeededStore(primary["ARN"], account, ELASTICACHE_GROUP, name, region, (secondary_region,), tags),
            SeededStore(secondary["ARN"], account, ELASTICACHE_GROUP, f"{name}-dr", secondary_region, (), tags,
                        primary["ARN"])]


def seed_memorydb_multi_region(clients: Callable[[str, str], Any], account: str, suffix: str, region: str,
                               other_region: str, tags: dict[str, str] | None = None) -> list[SeededStore]:
    """A MemoryDB multi-region cluster (its name suffix `suffix`) with a regional cluster `<suffix>-<region>` in each
    of the two regions, both taking writes. Needs the `memorydb_multi_region` patch."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    multi = _patched("MemoryDB multi-region cluster", "memorydb_multi_region",
                     lambda: clients("memorydb", region).create_multi_region_cluster(
                         MultiRegionClusterNameSuffix=suffix, NodeType="db.r7g.xlarge"))["MultiRegionCluster"]
    seeded = []
    for where, other in ((region, other_region), (other_region, region)):
        cluster = clients("memorydb", where).create_cluster(
            ClusterName=f"{suffix}-{where}", NodeType="db.r7g.xlarge", ACLName="open-access",
            MultiRegionClusterName=multi["MultiRegionClusterName"], Tags=_tag_set(tags))["Cluster"]
        seeded.append(SeededStore(cluster["ARN"], account, MEMORYDB_CLUSTER, cluster["Name"], where, (other,), tags))
    return seeded


def seed_opensearch_replication(clients: Callable[[str, str], Any], account: str, name: str, region: str,
                                follower_region: str | None, tags: dict[str, str] | None = None
                                ) -> list[SeededStore]:
    """An OpenSearch domain `name` in `region` and, unless `follower_region` is None, a follower domain
    `<name>-follower` there with the cross-cluster connection it replicates over (made from the follower to the
    leader). Needs the `opensearch_connections` patch."""
    tags = {**PERSONAL, "env": "prod"} if tags is None else tags
    leader = clients("opensearch", region).create_domain(DomainName=name, TagList=_tag_set(tags))["DomainStatus"]
    if follower_region is None:
        return [SeededStore(leader["ARN"], account, OPENSEARCH_DOMAIN, name, region, (), tags)]
    follower_name = f"{name}-follower"
    opensearch = clients("opensearch", follower_region)
    follower = opensearch.create_domain(DomainName=follower_name, TagList=_tag_set(tags))["DomainStatus"]
    domain = {"OwnerId": account, "DomainName": follower_name, "Region": follower_region}
    _patched("OpenSearch connection", "opensearch_connections", lambda: opensearch.create_outbound_connection(
        LocalDomainInfo={"AWSDomainInformation": domain}, ConnectionAlias=f"{name}-replication",
        RemoteDomainInfo={"AWSDomainInformation": {"OwnerId": account, "DomainName": name, "Region": region}}))
    return [SeededStore(leader["ARN"], account, OPENSEARCH_DOMAIN, name, region, (follower_region,), tags),
            SeededStore(follower["ARN"], account, OPENSEARCH_DOMAIN, follower_name, follower_region, (), tags,
                        leader["ARN"])]


# ---------------------------------------------------------------------------------------------------------------
# many buckets, for benchmarks
# ---------------------------------------------------------------------------------------------------------------


def spread(n: int, fraction: float) -> set[int]:
    """round(n * fraction) indices out of range(n), spread evenly (deterministic)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    count = round(n * fraction)
    return {(k * n) // count for k in range(count)} if count else set()


def seed_buckets(
    endpoint_url: str,
    n: int,
    regions: Sequence[str],
    replicate_fraction: float = 0.0,
    tag_fraction: float = 0.0,
    *,
    prefix: str = "bench",
    workers: int = 8,
    credentials: Credentials | None = None,
    record_config: bool = False,
) -> list[SeededStore]:
    """Create n buckets round-robin over `regions`, named `{prefix}-{i:05d}-{region}`, in parallel.

    `record_config`: also start an AWS Config recorder in every region (the server must have the
    `s3_config_replication` patch, checked on a replicating bucket, else EstateError).

    `tag_fraction` of them get `data-class: personal`; `replicate_fraction` of them get versioning and a
    replication rule to the next bucket (i + 1, so another region when there are several); the destinations are
    listed as ordinary buckets (no `replica_of`), since one may be a replication source itself. Returns the
    manifest in index order; the account is the caller's (moto's 123456789012 for the testing credentials).
    """
    if not regions:
        raise ValueError("seed_buckets needs at least one region")
    replicated = spread(n, replicate_fraction)
    if replicated and n < 2:
        raise ValueError("replication needs at least two buckets")
    clients = Clients(endpoint_url, credentials, pool=workers)
    account = clients("sts").get_caller_identity()["Account"]
    s3 = {region: clients("s3", region) for region in {*regions, "us-east-1"}}  # one client per region, made here
    stores = [_bench_store(prefix, i, regions[i % len(regions)], account) for i in range(n)]
    tagged = spread(n, tag_fraction)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        _run(pool, lambda s: create_bucket(s3.__getitem__, s.name, s.region), stores)
        _run(pool, lambda i: _tag_bucket(s3, stores[i]), tagged)
        versioned = replicated | {(i + 1) % n for i in replicated}
        _run(pool, lambda i: enable_versioning(s3[stores[i].region], stores[i].name), versioned)
        _run(pool, lambda i: _replicate(s3, account, stores, i), replicated)
    if record_config:
        probe = stores[min(replicated)] if replicated else None
        if probe is not None:
            _wants_config(True, clients, probe.name, probe.region)
        record_s3_with_config(clients, account, regions)
    return stores


def _bench_store(prefix: str, index: int, region: str, account: str) -> SeededStore:
    name = f"{prefix}-{index:05d}-{region}"
    return SeededStore(bucket_arn(name), account, S3_BUCKET, name, region)


def _run(pool: ThreadPoolExecutor, task: Callable[[Any], None], items: Iterable[Any]) -> None:
    for _ in pool.map(task, sorted(items) if isinstance(items, set) else items):
        pass  # iterate so the first exception is raised here


def _tag_bucket(s3: dict[str, Any], store: SeededStore) -> None:
    s3[store.region].put_bucket_tagging(Bucket=store.name, Tagging={"TagSet": _tag_set(PERSONAL)})
    store.tags = dict(PERSONAL)


def _replicate(s3: dict[str, Any], account: str, stores: list[SeededStore], index: int) -> None:
    source, destination = stores[index], stores[(index + 1) % len(stores)]
    put_replication(s3[source.region], account, source.name, destination.name)
    source.replica_regions = (destination.region,)
