"""An AWS Organization with stores in many accounts and regions, and an AWS Config aggregator over it, on moto
(seeded over HTTP, as a customer's estate would be made). Used by tests/test_aws_aggregator.py and bench/org_aws.py.

Each account gets, round-robin over the regions: one S3 bucket (every other one tagged `data-class: personal`, the
management account's first bucket replicating to a second one in another region), one DynamoDB table (tagged), and
every other account one RDS instance (every fourth one encrypted with a customer managed KMS key).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from scanner.discovered import DiscoveredStore

MANAGEMENT = "123456789012"  # moto's account for the testing credentials
AGGREGATOR = "org-aggregator"
PERSONAL = [{"Key": "data-class", "Value": "personal"}]


@dataclass
class SeededOrg:
    accounts: list[str]  # management first
    stores: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # name -> (account, kind, region)


def store_facts(stores: Iterable[DiscoveredStore]) -> dict[str, tuple]:
    """What each store says (account, kind, name, region, copies, tags, encryption, unknowns), apart from where each
    fact was learned: two scans of one estate by different paths must agree on it."""
    return {store.id: (store.account, store.kind, store.name, store.region,
                       sorted((loc.region, loc.role) for loc in store.locations), store.tags,
                       (store.encryption.custody, store.encryption.key, store.encryption.key_region)
                       if store.encryption else None,
                       sorted(store.unknowns))
            for store in stores}


def client(url: str, service: str, region: str = "us-east-1", **credentials: str) -> Any:
    credentials = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name=region, endpoint_url=url,
                        config=Config(retries={"max_attempts": 2}, max_pool_connections=20), **credentials)


def member_credentials(url: str, account: str) -> dict[str, str]:
    if account == MANAGEMENT:
        return {}
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    issued = client(url, "sts").assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
    return {"aws_access_key_id": issued["AccessKeyId"], "aws_secret_access_key": issued["SecretAccessKey"],
            "aws_session_token": issued["SessionToken"]}


def seed_org(url: str, accounts: int, regions: Sequence[str], workers: int = 8) -> SeededOrg:
    """The Organization (management plus `accounts - 1` members) and each account's stores."""
    org = client(url, "organizations")
    org.create_organization(FeatureSet="ALL")
    ids = [MANAGEMENT]
    for index in range(accounts - 1):
        status = org.create_account(Email=f"member{index}@acme.example", AccountName=f"member-{index}")
        ids.append(status["CreateAccountStatus"]["AccountId"])
    seeded = SeededOrg(ids)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for found in pool.map(lambda pair: _seed_account(url, pair[0], pair[1], regions), enumerate(ids)):
            seeded.stores.update(found)
    return seeded


def _seed_account(url: str, index: int, account: str, regions: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    creds = member_credentials(url, account)
    stores: dict[str, tuple[str, str, str]] = {}
    region = regions[index % len(regions)]
    bucket = f"org{index:04d}-data"
    _bucket(url, bucket, region, creds, tagged=bool(index % 2))
    stores[bucket] = (account, "s3-bucket", region)
    if index == 0 and len(regions) > 1:
        replica_region = regions[1]
        _bucket(url, "org0000-replica", replica_region, creds, tagged=False)
        stores["org0000-replica"] = (account, "s3-bucket", replica_region)
        s3 = client(url, "s3", region, **creds)
        for name in (bucket, "org0000-replica"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={
            "Role": f"arn:aws:iam::{account}:role/replication",
            "Rules": [{"ID": "all", "Status": "Enabled", "Prefix": "",
                       "Destination": {"Bucket": "arn:aws:s3:::org0000-replica"}}]})
    table_region = regions[(index + 1) % len(regions)]
    table = f"org{index:04d}-orders"
    client(url, "dynamodb", table_region, **creds).create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        Tags=PERSONAL)
    stores[table] = (account, "dynamodb-table", table_region)
    if index % 2 == 0:
        db_region = regions[(index + 2) % len(regions)]
        db = f"org{index:04d}-db"
        extra: dict[str, Any] = {}
        if index % 4 == 0:
            key = client(url, "kms", db_region, **creds).create_key(Description=f"{db} key")["KeyMetadata"]["Arn"]
            extra = {"StorageEncrypted": True, "KmsKeyId": key}
        client(url, "rds", db_region, **creds).create_db_instance(
            DBInstanceIdentifier=db, Engine="postgres", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
            MasterUsername="admin_user", MasterUserPassword="not-a-secret-1", Tags=PERSONAL, **extra)
        stores[db] = (account, "rds-instance", db_region)
    return stores


def _bucket(url: str, name: str, region: str, creds: dict[str, str], tagged: bool) -> None:
    s3 = client(url, "s3", region, **creds)
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **extra)
    if tagged:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": PERSONAL})


def put_org_aggregator(url: str, regions: Sequence[str] | None = None, name: str = AGGREGATOR) -> None:
    """An organization aggregator in the management account (us-east-1): `regions`, or all regions."""
    where: dict[str, Any] = {"AwsRegions": list(regions)} if regions else {"AllAwsRegions": True}
    client(url, "config").put_configuration_aggregator(
        ConfigurationAggregatorName=name,
        OrganizationAggregationSource={"RoleArn": f"arn:aws:iam::{MANAGEMENT}:role/config-aggregator", **where})


def put_account_aggregator(url: str, accounts: Sequence[str], regions: Sequence[str], authorized: Sequence[str],
                           name: str = AGGREGATOR) -> None:
    """An aggregator over named accounts; only the `authorized` ones authorize it (in each region), so the others'
    sources fail, as unauthorized source accounts do in AWS Config."""
    client(url, "config").put_configuration_aggregator(
        ConfigurationAggregatorName=name,
        AccountAggregationSources=[{"AccountIds": list(accounts), "AwsRegions": list(regions)}])
    for account in authorized:
        creds = member_credentials(url, account)
        for region in regions:
            client(url, "config", region, **creds).put_aggregation_authorization(
                AuthorizedAccountId=MANAGEMENT, AuthorizedAwsRegion="us-east-1")
