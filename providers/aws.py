"""AWS: S3 buckets, DynamoDB tables, RDS instances and clusters, EBS snapshots — read-only.

Credentials come from boto3's standard chain; `AWS_ENDPOINT_URL` is honoured by boto3 itself.
Config section `providers.aws` (every key optional):

    regions: [eu-central-1, us-east-1]   # default: the regions enabled for each account
    organization: false                  # true: also scan every ACTIVE member of the AWS Organization
    accounts: ["222222222222"]           # further accounts to scan by assuming `assume_role`
    assume_role: OrganizationAccountAccessRole
    external_id: null                    # for assume_role, if the role requires one
    services: [s3, dynamodb, rds, ebs]
    max_workers: 8                       # concurrent API calls per account
    max_attempts: 4                      # botocore adaptive-retry attempts per call
    list_buckets_page_size: 1000         # ListBuckets MaxBuckets (1 to 10000)

Where a copy lives: an S3 bucket's region comes from ListBuckets' `BucketRegion` where the
endpoint returns it, else from GetBucketLocation (null means us-east-1, "EU" eu-west-1);
replication rules give replica buckets; DynamoDB `Replicas`, RDS read replicas (instance and
cluster) and replicated automated backups, and EBS snapshot copies give the other copies.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from policies.yamlfile import Node
from providers.base import DiscoveredStore, Provider, TargetLog

SERVICES = ("s3", "dynamodb", "rds", "ebs")
DENIED_CODES = {
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
    "InvalidClientTokenId", "UnrecognizedClientException", "AuthFailure", "OptInRequired",
    "UnauthorizedAccess", "AccessDeniedForDependencyException",
}
COPIED_SNAPSHOT = re.compile(r"\[Copied (snap-[0-9a-f]+) from ([a-z0-9-]+)\]")


@dataclass(frozen=True)
class RdsFields:
    """Where DescribeDBInstances and DescribeDBClusters put the same facts."""

    api: str
    kind: str
    arn: str
    name: str
    source: str
    replicas: str


RDS_INSTANCE = RdsFields("DescribeDBInstances", "rds-instance", "DBInstanceArn", "DBInstanceIdentifier",
                         "ReadReplicaSourceDBInstanceIdentifier", "ReadReplicaDBInstanceIdentifiers")
RDS_CLUSTER = RdsFields("DescribeDBClusters", "rds-cluster", "DBClusterArn", "DBClusterIdentifier",
                        "ReplicationSourceIdentifier", "ReadReplicaIdentifiers")


@dataclass(frozen=True)
class AwsSettings:
    regions: tuple[str, ...] = ()
    organization: bool = False
    accounts: tuple[str, ...] = ()
    assume_role: str = "OrganizationAccountAccessRole"
    external_id: str | None = None
    services: tuple[str, ...] = SERVICES
    max_workers: int = 8
    max_attempts: int = 4
    list_buckets_page_size: int = 1000


@dataclass
class Account:
    id: str
    session: boto3.Session
    partition: str


def describe_error(exc: Exception) -> tuple[str, bool]:
    """A short error text (never credentials) and whether it means access was denied."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        message = exc.response.get("Error", {}).get("Message", "")
        return f"{code}: {message}".strip(": "), code in DENIED_CODES
    return f"{type(exc).__name__}: {exc}", False


def arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


class AwsProvider(Provider):
    name = "aws"

    def __init__(self, settings: AwsSettings | None = None, session: boto3.Session | None = None):
        self.settings = settings or AwsSettings()
        self._session = session
        self._boto_config = BotoConfig(
            retries={"mode": "adaptive", "max_attempts": self.settings.max_attempts},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=max(10, self.settings.max_workers * 2),
        )

    @classmethod
    def from_config(cls, section: Node) -> AwsProvider:
        section.mapping({
            "regions", "organization", "accounts", "assume_role", "external_id",
            "services", "max_workers", "max_attempts", "list_buckets_page_size",
        })
        page_size = section["list_buckets_page_size"].int(1000, minimum=1)
        if page_size > 10000:
            raise section["list_buckets_page_size"].error(
                "providers.aws.list_buckets_page_size: expected a whole number from 1 to 10000")
        services = tuple(section["services"].str_list()) or SERVICES
        for service in services:
            if service not in SERVICES:
                raise section["services"].error(f"providers.aws.services: unknown service '{service}' "
                                                f"(expected some of: {', '.join(SERVICES)})")
        return cls(AwsSettings(
            regions=tuple(section["regions"].str_list()),
            organization=section["organization"].bool(False),
            accounts=tuple(section["accounts"].str_list()),
            assume_role=section["assume_role"].str("OrganizationAccountAccessRole") or "OrganizationAccountAccessRole",
            external_id=section["external_id"].str(),
            services=services,
            max_workers=section["max_workers"].int(8, minimum=1),
            max_attempts=section["max_attempts"].int(4, minimum=1),
            list_buckets_page_size=page_size,
        ))

    # -- accounts ------------------------------------------------------------------------------
    def discover(self, log: TargetLog) -> Iterator[DiscoveredStore]:
        session = self._session or boto3.Session()
        try:
            identity = session.client("sts", config=self._boto_config).get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            log.failed(self.name, "*", "*", "sts", error, denied)
            return
        partition = identity["Arn"].split(":")[1]
        home = Account(identity["Account"], session, partition)
        for account in self._accounts(home, log):
            yield from AccountScan(self, account, log).run()

    def _accounts(self, home: Account, log: TargetLog) -> Iterator[Account]:
        yield home
        member_ids = list(self.settings.accounts)
        if self.settings.organization:
            member_ids += self._organization_members(home, log)
        for account_id in dict.fromkeys(member_ids):
            if account_id == home.id:
                continue
            try:
                yield self._assume(home, account_id)
            except (ClientError, BotoCoreError) as exc:
                error, denied = describe_error(exc)
                log.failed(self.name, account_id, "*", "sts:AssumeRole", error, denied)

    def _organization_members(self, home: Account, log: TargetLog) -> list[str]:
        client = home.session.client("organizations", config=self._boto_config)
        try:
            pages = client.get_paginator("list_accounts").paginate()
            members = [a["Id"] for page in pages for a in page["Accounts"] if a.get("Status", "ACTIVE") == "ACTIVE"]
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            log.failed(self.name, home.id, "global", "organizations", error, denied)
            return []
        log.ok(self.name, home.id, "global", "organizations", 0)
        return members

    def _assume(self, home: Account, account_id: str) -> Account:
        role_arn = f"arn:{home.partition}:iam::{account_id}:role/{self.settings.assume_role}"
        kwargs = {"RoleArn": role_arn, "RoleSessionName": "custody-scan"}
        if self.settings.external_id:
            kwargs["ExternalId"] = self.settings.external_id
        creds = home.session.client("sts", config=self._boto_config).assume_role(**kwargs)["Credentials"]
        session = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=home.session.region_name,
        )
        return Account(account_id, session, home.partition)


class AccountScan:
    """Everything scanned in one account: S3 once, the regional services per enabled region."""

    def __init__(self, provider: AwsProvider, account: Account, log: TargetLog):
        self.provider = provider
        self.settings = provider.settings
        self.account = account
        self.log = log
        self._clients: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._snapshot_copies: dict[str, str] = {}  # copy's store id -> source snapshot id
        self.api_region = account.session.region_name or "us-east-1"

    def client(self, service: str, region: str):
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self.account.session.client(
                    service, region_name=region, config=self.provider._boto_config
                )
            return self._clients[key]

    def run(self) -> Iterator[DiscoveredStore]:
        regions = self._regions()
        tasks: list[tuple[str, str, Callable[[str], list[DiscoveredStore]]]] = []
        if "s3" in self.settings.services:
            tasks.append(("s3", "global", lambda _region: S3Inventory(self).stores()))
        regional = {"dynamodb": self._dynamodb, "rds": self._rds, "ebs": self._ebs}
        for service, scan in regional.items():
            if service in self.settings.services:
                tasks.extend((service, region, scan) for region in regions)
        with ThreadPoolExecutor(max_workers=self.settings.max_workers) as pool:
            futures = [(service, region, pool.submit(scan, region)) for service, region, scan in tasks]
            results = []
            for service, region, future in futures:
                try:
                    stores = future.result()
                except Exception as exc:  # one region or service failing never stops the others
                    error, denied = describe_error(exc)
                    self.log.failed("aws", self.account.id, region, service, error, denied)
                    continue
                self.log.ok("aws", self.account.id, region, service, len(stores))
                results.extend(stores)
        yield from link_snapshot_copies(results, self._snapshot_copies)

    def _regions(self) -> list[str]:
        if self.settings.regions:
            return list(self.settings.regions)
        try:
            answer = self.client("ec2", self.api_region).describe_regions()
        except (ClientError, BotoCoreError) as exc:
            error, denied = describe_error(exc)
            self.log.failed("aws", self.account.id, self.api_region, "ec2:DescribeRegions", error, denied)
            return [self.api_region]
        return sorted(r["RegionName"] for r in answer["Regions"] if r.get("OptInStatus") != "not-opted-in")

    def store(self, arn: str, kind: str, name: str, region: str, tags: dict[str, str]) -> DiscoveredStore:
        return DiscoveredStore(id=arn, provider="aws", account=self.account.id, kind=kind, name=name,
                               region=region, tags=tags)

    # -- DynamoDB ------------------------------------------------------------------------------
    def _dynamodb(self, region: str) -> list[DiscoveredStore]:
        client = self.client("dynamodb", region)
        names = [n for page in client.get_paginator("list_tables").paginate() for n in page["TableNames"]]
        stores = []
        for name in names:
            table = client.describe_table(TableName=name)["Table"]
            arn = table["TableArn"]
            tags = {t["Key"]: t["Value"] for t in client.list_tags_of_resource(ResourceArn=arn).get("Tags", [])}
            store = self.store(arn, "dynamodb-table", name, region, tags)
            store.add_location(region, "primary", "DescribeTable.TableArn")
            for replica in table.get("Replicas", []):
                store.add_location(replica["RegionName"], "replica", "DescribeTable.Replicas")
            stores.append(store)
        return stores

    # -- RDS -----------------------------------------------------------------------------------
    def _rds(self, region: str) -> list[DiscoveredStore]:
        client = self.client("rds", region)
        stores = []
        for page in client.get_paginator("describe_db_instances").paginate():
            for db in page["DBInstances"]:
                store = self._rds_store(db, RDS_INSTANCE, region)
                for backup in db.get("DBInstanceAutomatedBackupsReplications", []):
                    backup_region = arn_region(backup.get("DBInstanceAutomatedBackupsArn", ""))
                    if backup_region:
                        store.add_location(backup_region, "backup",
                                           "DescribeDBInstances.DBInstanceAutomatedBackupsReplications")
                stores.append(store)
        for page in client.get_paginator("describe_db_clusters").paginate():
            stores.extend(self._rds_store(cluster, RDS_CLUSTER, region) for cluster in page["DBClusters"])
        return stores

    def _rds_store(self, item: dict, fields: RdsFields, region: str) -> DiscoveredStore:
        """An RDS instance or cluster, with the source it replicates from and its read replicas."""
        store = self.store(item[fields.arn], fields.kind, item[fields.name], region, _tag_list(item.get("TagList")))
        source = item.get(fields.source)
        if source:
            store.add_location(arn_region(source) or region, "primary", f"{fields.api}.{fields.source}")
            store.add_location(region, "replica", f"{fields.api}.{fields.arn}")
        else:
            store.add_location(region, "primary", f"{fields.api}.{fields.arn}")
        for replica in item.get(fields.replicas, []):
            store.add_location(arn_region(replica) or region, "replica", f"{fields.api}.{fields.replicas}")
        return store

    # -- EBS snapshots -------------------------------------------------------------------------
    def _ebs(self, region: str) -> list[DiscoveredStore]:
        client = self.client("ec2", region)
        stores = []
        for page in client.get_paginator("describe_snapshots").paginate(OwnerIds=["self"]):
            for snap in page["Snapshots"]:
                arn = f"arn:{self.account.partition}:ec2:{region}:{self.account.id}:snapshot/{snap['SnapshotId']}"
                store = self.store(arn, "ebs-snapshot", snap["SnapshotId"], region, _tag_list(snap.get("Tags")))
                copied = COPIED_SNAPSHOT.search(snap.get("Description") or "")
                if copied and copied.group(2) != region:
                    store.add_location(copied.group(2), "primary", "DescribeSnapshots.Description copy marker")
                    store.add_location(region, "replica", "DescribeSnapshots")
                    with self._lock:
                        self._snapshot_copies[arn] = copied.group(1)
                else:
                    store.add_location(region, "primary", "DescribeSnapshots")
                stores.append(store)
        return stores


def link_snapshot_copies(stores: list[DiscoveredStore], copies: dict[str, str]) -> list[DiscoveredStore]:
    """A snapshot copied to another region gains that copy's region as a replica location.

    `copies` maps a copy's store id to the snapshot id it was copied from."""
    by_snapshot_id = {s.name: s for s in stores if s.kind == "ebs-snapshot"}
    for store in stores:
        source = by_snapshot_id.get(copies.get(store.id, ""))
        if source is not None:
            source.add_location(store.region, "replica", f"DescribeSnapshots.Description of copy {store.name}")
    return stores


def _tag_list(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


class S3Inventory:
    """All buckets of one account: regions, tags and replication targets."""

    def __init__(self, scan: AccountScan):
        self.scan = scan

    def stores(self) -> list[DiscoveredStore]:
        listing = self._list_buckets()
        regions = dict(listing)
        with ThreadPoolExecutor(max_workers=self.scan.settings.max_workers) as pool:
            missing = [name for name, region in listing if region is None]
            for name, region in zip(missing, pool.map(self._bucket_location, missing), strict=True):
                regions[name] = region
            learned = {name: "GetBucketLocation" if name in missing else "ListBuckets.BucketRegion"
                       for name, _ in listing}
            return list(pool.map(lambda item: self._bucket(item[0], regions, learned[item[0]]), listing))

    def _list_buckets(self) -> list[tuple[str, str | None]]:
        """(name, region or None) for every bucket, paging with ContinuationToken.

        Guard: an endpoint that truncates at MaxBuckets without a ContinuationToken (stock moto)
        would silently hide buckets, so a full page without a token is checked by an unpaginated list.
        """
        client = self.scan.client("s3", self.scan.api_region)
        page_size = self.scan.settings.list_buckets_page_size
        buckets: dict[str, str | None] = {}
        token = None
        while True:
            kwargs = {"MaxBuckets": page_size, **({"ContinuationToken": token} if token else {})}
            page = client.list_buckets(**kwargs)
            for bucket in page.get("Buckets", []):
                buckets[bucket["Name"]] = bucket.get("BucketRegion")
            token = page.get("ContinuationToken")
            if not token:
                if len(page.get("Buckets", [])) >= page_size:
                    for bucket in client.list_buckets().get("Buckets", []):
                        buckets.setdefault(bucket["Name"], bucket.get("BucketRegion"))
                break
        return list(buckets.items())

    def _bucket_location(self, name: str) -> str | None:
        try:
            answer = self.scan.client("s3", self.scan.api_region).get_bucket_location(Bucket=name)
        except ClientError:  # denied or gone: unknown; a dead endpoint fails the whole S3 target
            return None
        constraint = answer.get("LocationConstraint")
        # GetBucketLocation: null means us-east-1, the legacy "EU" means eu-west-1 (botocore S3 model)
        return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)

    def _bucket(self, name: str, regions: dict[str, str | None], learned: str) -> DiscoveredStore:
        region = regions.get(name)
        arn = f"arn:{self.scan.account.partition}:s3:::{name}"
        store = self.scan.store(arn, "s3-bucket", name, region or "unknown", {})
        if region is None:
            store.unknowns.append("bucket region unreadable (GetBucketLocation failed)")
            return store
        store.add_location(region, "primary", learned)
        client = self.scan.client("s3", region)
        store.tags = self._tags(client, name, store)
        for target in self._replication_targets(client, name, store):
            target_region = regions.get(target) or self._bucket_location(target)
            if target_region:
                store.add_location(target_region, "replica", "GetBucketReplication.Rules.Destination")
            else:
                store.unknowns.append(f"replica bucket {target}: region unreadable")
        return store

    def _tags(self, client, name: str, store: DiscoveredStore) -> dict[str, str]:
        try:
            tag_set = client.get_bucket_tagging(Bucket=name).get("TagSet", [])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchTagSet":
                return {}
            store.unknowns.append(f"tags unreadable ({describe_error(exc)[0]}): policy scope may be wrong")
            return {}
        return _tag_list(tag_set)

    def _replication_targets(self, client, name: str, store: DiscoveredStore) -> list[str]:
        try:
            config = client.get_bucket_replication(Bucket=name)["ReplicationConfiguration"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ReplicationConfigurationNotFoundError":
                return []
            store.unknowns.append(f"replication unreadable ({describe_error(exc)[0]}): replicas unknown")
            return []
        targets = []
        for rule in config.get("Rules", []):
            if rule.get("Status") == "Enabled":
                bucket_arn = rule.get("Destination", {}).get("Bucket", "")
                targets.append(bucket_arn.split(":::")[-1])
        return targets
