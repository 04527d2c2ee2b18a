"""The AWS emulator the other tests stand on: moto's documented gaps, our patches, and the seeded demo estate.

The stock-moto tests assert the gaps we patch around. If one of them starts failing, moto has fixed the gap:
check the patch in demo/moto_patches.py is still needed, then drop the test or the patch.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from demo.aws_estate import (
    DYNAMODB_TABLE,
    EBS_SNAPSHOT,
    EFS_FILE_SYSTEM,
    ELASTICACHE_GROUP,
    FSX_FILE_SYSTEM,
    MEMORYDB_CLUSTER,
    OPENSEARCH_DOMAIN,
    RDS_INSTANCE,
    REDSHIFT_NAMESPACE,
    S3_BUCKET,
    AwsEstate,
    Clients,
    SeededStore,
    assume_member,
    create_bucket,
    seed_buckets,
    spread,
)
from demo.moto_server import MotoServer, parse_access_log, start_moto
from scanner.kinds import kind_names
from tests.fixtures_aws import SeededMoto

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
CONTINENT_BY_PREFIX = {
    "eu": "Europe",
    "us": "North America",
    "ca": "North America",
    "sa": "South America",
    "af": "Africa",
    "me": "Asia",
    "il": "Asia",
}
OCEANIA = {"ap-southeast-2", "ap-southeast-4", "ap-southeast-6"}


def client(server: MotoServer | str, service: str, region: str = "us-east-1") -> Any:
    url = server if isinstance(server, str) else server.url
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRY,
    )


def make_buckets(server: MotoServer, names_by_region: dict[str, list[str]]) -> None:
    for region, names in names_by_region.items():
        for name in names:
            create_bucket(lambda r: client(server, "s3", r), name, region)


def continent(region: str) -> str:
    if region in OCEANIA:
        return "Oceania"
    return CONTINENT_BY_PREFIX.get(region.split("-")[0], "Asia")


def normalised_location(answer: dict[str, Any]) -> str:
    """GetBucketLocation's two traps: null means us-east-1, "EU" means eu-west-1."""
    constraint = answer.get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)


def create_table(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def list_bucket_queries(server: MotoServer) -> list[dict[str, list[str]]]:
    return [
        parse_qs(urlsplit(path).query)
        for method, path, _ in server.request_log()
        if method == "GET" and path.startswith("/?")
    ]


# ---------------------------------------------------------------------------------------------------------------
# stock moto: the gaps we document (fail here = moto fixed something)
# ---------------------------------------------------------------------------------------------------------------


def test_stock_list_buckets_has_no_bucket_region(moto_stock: MotoServer) -> None:
    make_buckets(moto_stock, {"us-east-1": ["gap-a"], "eu-central-1": ["gap-b"], "ap-northeast-1": ["gap-c"]})
    s3 = client(moto_stock, "s3")
    for kwargs in ({"MaxBuckets": 10}, {"Prefix": "gap-"}, {"BucketRegion": "eu-central-1"}):
        buckets = s3.list_buckets(**kwargs)["Buckets"]
        assert buckets, kwargs
        assert all("BucketRegion" not in bucket for bucket in buckets), kwargs


def test_stock_max_buckets_truncates_without_continuation_token(moto_stock: MotoServer) -> None:
    make_buckets(moto_stock, {"us-east-1": [f"trunc-{i}" for i in range(5)]})
    s3 = client(moto_stock, "s3")
    first = s3.list_buckets(MaxBuckets=2)
    assert len(first["Buckets"]) == 2
    assert "ContinuationToken" not in first
    seen = [
        b["Name"]
        for page in s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 2})
        for b in page["Buckets"]
    ]
    assert len(seen) == 2  # the paginator silently stops: 3 of 5 buckets are never listed


def test_stock_update_table_replicas_are_ignored(moto_stock: MotoServer) -> None:
    ddb = client(moto_stock, "dynamodb", "eu-west-1")
    create_table(ddb, "gap-global")
    ddb.update_table(TableName="gap-global", ReplicaUpdates=[{"Create": {"RegionName": "us-east-1"}}])
    table = ddb.describe_table(TableName="gap-global")["Table"]
    assert "Replicas" not in table
    assert "GlobalTableVersion" not in table
    assert client(moto_stock, "dynamodb", "us-east-1").list_tables()["TableNames"] == []


def test_stock_efs_has_no_replication_configurations(moto_stock: MotoServer) -> None:
    efs = _efs(moto_stock, "eu-central-1")
    source = efs.create_file_system(CreationToken="stock")["FileSystemId"]
    with pytest.raises(ClientError):
        efs.create_replication_configuration(SourceFileSystemId=source, Destinations=[{"Region": "us-east-1"}])
    with pytest.raises(ClientError):
        efs.describe_replication_configurations()


def _efs(server: MotoServer, region: str) -> Any:
    return boto3.client("efs", region_name=region, endpoint_url=server.url, aws_access_key_id="testing",
                        aws_secret_access_key="testing", config=NO_RETRY)


def test_patched_efs_replication_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    """CreateReplicationConfiguration makes a destination file system in the other region; the configuration is
    listed in both regions, and a file system without one is ReplicationNotFound."""
    efs, efs_us = _efs(moto_patched, "eu-central-1"), _efs(moto_patched, "us-east-1")
    source = efs.create_file_system(CreationToken="hr")
    lone = efs.create_file_system(CreationToken="lone")["FileSystemId"]
    answer = efs.create_replication_configuration(SourceFileSystemId=source["FileSystemId"],
                                                  Destinations=[{"Region": "us-east-1"}])
    [destination] = answer["Destinations"]
    assert answer["SourceFileSystemRegion"] == "eu-central-1" and answer["SourceFileSystemArn"] == source[
        "FileSystemArn"]
    assert destination["Region"] == "us-east-1" and destination["Status"] == "ENABLED"
    assert [fs["FileSystemId"] for fs in efs_us.describe_file_systems()["FileSystems"]] == [destination["FileSystemId"]]
    for client in (efs, efs_us):
        [listed] = client.describe_replication_configurations()["Replications"]
        assert listed["SourceFileSystemId"] == source["FileSystemId"]
    with pytest.raises(ClientError) as denied:
        efs.describe_replication_configurations(FileSystemId=lone)
    assert denied.value.response["Error"]["Code"] == "ReplicationNotFound"


def test_estate_efs_replica_is_in_the_other_region(moto_estate: SeededMoto) -> None:
    [source] = [s for s in moto_estate.estate.stores(EFS_FILE_SYSTEM) if s.replica_of is None]
    [copy] = [s for s in moto_estate.estate.stores(EFS_FILE_SYSTEM) if s.replica_of == source.id]
    # the EFS replica in us-east-1, and the backup plan's copies in us-west-2
    assert (source.region, source.replica_regions, copy.region) == ("eu-central-1", ("us-east-1", "us-west-2"),
                                                                    "us-east-1")


def _backup_plan(server: MotoServer) -> tuple[Any, str]:
    backup = client(server, "backup", "eu-central-1")
    plan = backup.create_backup_plan(BackupPlan={"BackupPlanName": "p", "Rules": [{
        "RuleName": "r", "TargetBackupVaultName": "v",
        "CopyActions": [{"DestinationBackupVaultArn": "arn:aws:backup:ca-central-1:123456789012:backup-vault:dr"}]}]})
    return backup, plan["BackupPlanId"]


def test_stock_backup_has_no_selections(moto_stock: MotoServer) -> None:
    backup, plan_id = _backup_plan(moto_stock)
    with pytest.raises(ClientError):
        backup.list_backup_selections(BackupPlanId=plan_id)


def test_patched_backup_selections_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    backup, plan_id = _backup_plan(moto_patched)
    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    wanted = {"SelectionName": "prod", "IamRoleArn": "arn:aws:iam::123456789012:role/b", "Resources": ["*"],
              "Conditions": {"StringEquals": [{"ConditionKey": "aws:ResourceTag/env", "ConditionValue": "prod"}]}}
    created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=wanted)
    [listed] = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert (listed["SelectionId"], listed["SelectionName"], listed["BackupPlanId"]) == (
        created["SelectionId"], "prod", plan_id)
    answer = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert answer["BackupSelection"] == wanted and answer["BackupPlanId"] == plan_id
    # GetBackupPlan keeps the rule's CopyActions (stock moto already does)
    [rule] = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"]
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"].startswith("arn:aws:backup:ca-central-1:")
    for call in (lambda: backup.get_backup_selection(BackupPlanId=plan_id, SelectionId="sel-nope"),
                 lambda: backup.list_backup_selections(BackupPlanId="no-such-plan")):
        with pytest.raises(ClientError) as missing:
            call()
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def _vaults(server: MotoServer) -> tuple[Any, Any]:
    """Vaults `src` in eu-central-1 and `dr` in sa-east-1; their clients."""
    clients = [boto3.client("backup", endpoint_url=server.url, region_name=region, aws_access_key_id="testing",
                            aws_secret_access_key="testing") for region in ("eu-central-1", "sa-east-1")]
    for client, name in zip(clients, ("src", "dr"), strict=True):
        client.create_backup_vault(BackupVaultName=name)
    return clients[0], clients[1]


def test_stock_backup_has_no_recovery_points(moto_stock: MotoServer) -> None:
    source, _ = _vaults(moto_stock)
    with pytest.raises(ClientError):
        source.start_backup_job(BackupVaultName="src", ResourceArn=TABLE, IamRoleArn=ROLE)
    with pytest.raises(ClientError):
        source.list_recovery_points_by_backup_vault(BackupVaultName="src")


TABLE = "arn:aws:dynamodb:eu-central-1:123456789012:table/orders"
ROLE = "arn:aws:iam::123456789012:role/backup"


def test_patched_recovery_points_and_copy_jobs_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    source, dr = _vaults(moto_patched)
    assert source.list_recovery_points_by_backup_vault(BackupVaultName="src")["RecoveryPoints"] == []
    job = source.start_backup_job(BackupVaultName="src", ResourceArn=TABLE, IamRoleArn=ROLE)
    source.start_backup_job(BackupVaultName="src", ResourceArn=TABLE.replace("orders", "other"), IamRoleArn=ROLE)
    copy = source.start_copy_job(RecoveryPointArn=job["RecoveryPointArn"], SourceBackupVaultName="src",
                                 DestinationBackupVaultArn="arn:aws:backup:sa-east-1:123456789012:backup-vault:dr",
                                 IamRoleArn=ROLE)
    assert job["BackupJobId"] and copy["CopyJobId"]
    [point] = dr.list_recovery_points_by_backup_vault(BackupVaultName="dr")["RecoveryPoints"]
    assert (point["ResourceArn"], point["ResourceType"], point["Status"], point["BackupVaultArn"]) == (
        TABLE, "DynamoDB", "COMPLETED", "arn:aws:backup:sa-east-1:123456789012:backup-vault:dr")
    assert point["SourceBackupVaultArn"] == "arn:aws:backup:eu-central-1:123456789012:backup-vault:src"
    # filtered by resource, and paged with NextToken (boto3's paginator follows it)
    only = source.list_recovery_points_by_backup_vault(BackupVaultName="src", ByResourceArn=TABLE)
    assert [p["ResourceArn"] for p in only["RecoveryPoints"]] == [TABLE]
    first = source.list_recovery_points_by_backup_vault(BackupVaultName="src", MaxResults=1)
    assert len(first["RecoveryPoints"]) == 1 and first["NextToken"]
    pages = source.get_paginator("list_recovery_points_by_backup_vault").paginate(
        BackupVaultName="src", PaginationConfig={"PageSize": 1})
    assert len([p for page in pages for p in page["RecoveryPoints"]]) == 2
    assert dr.list_backup_vaults()["BackupVaultList"][0]["NumberOfRecoveryPoints"] == 1
    with pytest.raises(ClientError) as missing:
        dr.list_recovery_points_by_backup_vault(BackupVaultName="no-such-vault")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_stock_glacier_has_no_vault_tags(moto_stock: MotoServer) -> None:
    glacier = client(moto_stock, "glacier", "eu-central-1")
    glacier.create_vault(accountId="-", vaultName="archive")
    with pytest.raises(ClientError):
        glacier.list_tags_for_vault(accountId="-", vaultName="archive")


def test_patched_glacier_vault_tags_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    glacier = client(moto_patched, "glacier", "eu-central-1")
    glacier.create_vault(accountId="-", vaultName="archive")
    assert glacier.list_tags_for_vault(accountId="-", vaultName="archive")["Tags"] == {}
    glacier.add_tags_to_vault(accountId="-", vaultName="archive", Tags={"env": "prod"})
    glacier.add_tags_to_vault(accountId="-", vaultName="archive", Tags={"data-class": "personal"})
    assert glacier.list_tags_for_vault(accountId="-", vaultName="archive")["Tags"] == {
        "env": "prod", "data-class": "personal"}
    [vault] = glacier.list_vaults(accountId="-")["VaultList"]
    assert vault["VaultARN"] == "arn:aws:glacier:eu-central-1:123456789012:vaults/archive"
    with pytest.raises(ClientError) as missing:
        glacier.list_tags_for_vault(accountId="-", vaultName="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_stock_docdb_global_cluster_can_have_no_members(moto_stock: MotoServer) -> None:
    rds = client(moto_stock, "rds", "eu-central-1")
    # (without EngineVersion stock moto answers 500: it has no default version for docdb)
    rds.create_global_cluster(GlobalClusterIdentifier="docs", Engine="docdb", EngineVersion="5.0.0")
    with pytest.raises(ClientError) as refused:
        rds.create_db_cluster(DBClusterIdentifier="docs-fra", Engine="docdb", GlobalClusterIdentifier="docs",
                              MasterUsername="admin_user", MasterUserPassword="Not-a-real-secret-1")
    assert "docdb" in str(refused.value)


def test_patched_docdb_global_cluster_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    primary, secondary = client(moto_patched, "rds", "eu-central-1"), client(moto_patched, "docdb", "us-east-1")
    primary.create_global_cluster(GlobalClusterIdentifier="docs", Engine="docdb")
    writer = primary.create_db_cluster(DBClusterIdentifier="docs-fra", Engine="docdb", GlobalClusterIdentifier="docs",
                                       MasterUsername="admin_user", MasterUserPassword="Not-a-real-secret-1")
    reader = secondary.create_db_cluster(DBClusterIdentifier="docs-iad", Engine="docdb",  # the DocumentDB client
                                         GlobalClusterIdentifier="docs")["DBCluster"]
    [listed] = primary.describe_db_clusters(DBClusterIdentifier="docs-fra")["DBClusters"]
    assert (listed["Engine"], listed["Port"], listed["DBClusterParameterGroup"], listed["EngineVersion"]) == (
        "docdb", 27017, "default.docdb5.0", "5.0.0")
    [docs] = primary.describe_global_clusters(GlobalClusterIdentifier="docs")["GlobalClusters"]
    assert docs["Engine"] == "docdb"
    assert {(m["DBClusterArn"], m["IsWriter"]) for m in docs["GlobalClusterMembers"]} == {
        (writer["DBCluster"]["DBClusterArn"], True), (reader["DBClusterArn"], False)}
    # the other engines keep moto's defaults
    aurora = primary.create_db_cluster(DBClusterIdentifier="pg", Engine="aurora-postgresql",
                                       MasterUsername="admin_user", MasterUserPassword="Not-a-real-secret-1")
    assert aurora["DBCluster"]["Port"] == 5432


def test_stock_legacy_eu_bucket_keeps_region_eu(moto_stock: MotoServer) -> None:
    """GetBucketLocation "EU" is right; HeadBucket should say eu-west-1 but moto says "EU" (not patched)."""
    s3 = client(moto_stock, "s3")
    s3.create_bucket(Bucket="gap-legacy-eu", CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert s3.get_bucket_location(Bucket="gap-legacy-eu")["LocationConstraint"] == "EU"
    assert s3.head_bucket(Bucket="gap-legacy-eu")["BucketRegion"] == "EU"


# ---------------------------------------------------------------------------------------------------------------
# patched moto: ListBuckets as real S3 answers it
# ---------------------------------------------------------------------------------------------------------------


def test_patched_list_buckets_returns_bucket_region_for_every_bucket(moto_patched: MotoServer) -> None:
    expected = {"br-use1": "us-east-1", "br-fra": "eu-central-1", "br-tyo": "ap-northeast-1", "br-gru": "sa-east-1"}
    for name, region in expected.items():
        create_bucket(lambda r: client(moto_patched, "s3", r), name, region)
    create_bucket(lambda r: client(moto_patched, "s3", r), "br-legacy-eu", "eu-west-1", "EU")
    expected["br-legacy-eu"] = "eu-west-1"  # a region code, not the legacy constraint
    s3 = client(moto_patched, "s3")
    for kwargs in ({"MaxBuckets": 100}, {"Prefix": "br-"}, {"ContinuationToken": ""}):
        answer = s3.list_buckets(**kwargs)
        assert {b["Name"]: b["BucketRegion"] for b in answer["Buckets"]} == expected, kwargs
        assert "ContinuationToken" not in answer
    assert s3.list_buckets(Prefix="br-")["Prefix"] == "br-"


def test_patched_bucket_region_filter(moto_patched: MotoServer) -> None:
    make_buckets(moto_patched, {"eu-west-1": ["flt-dub-1", "flt-dub-2"], "us-west-2": ["flt-pdx"]})
    create_bucket(lambda r: client(moto_patched, "s3", r), "flt-legacy-eu", "eu-west-1", "EU")
    answer = client(moto_patched, "s3").list_buckets(BucketRegion="eu-west-1", MaxBuckets=10)
    assert [b["Name"] for b in answer["Buckets"]] == ["flt-dub-1", "flt-dub-2", "flt-legacy-eu"]
    assert {b["BucketRegion"] for b in answer["Buckets"]} == {"eu-west-1"}


def test_patched_plain_list_buckets_is_unchanged(moto_patched: MotoServer) -> None:
    """Without any parameter real S3 returns no BucketRegion; the patch leaves that request to moto."""
    make_buckets(moto_patched, {"eu-central-1": ["plain-b", "plain-a"]})
    answer = client(moto_patched, "s3").list_buckets()
    assert {b["Name"] for b in answer["Buckets"]} == {"plain-a", "plain-b"}
    assert all("BucketRegion" not in b for b in answer["Buckets"])
    assert "ContinuationToken" not in answer


def test_patched_paginates_250_buckets_in_pages_of_100(moto_patched: MotoServer) -> None:
    regions = ["eu-central-1", "us-east-1", "ap-northeast-1", "sa-east-1", "af-south-1"]
    stores = seed_buckets(moto_patched.url, 250, regions)
    moto_patched.clear_log()
    pages = list(client(moto_patched, "s3").get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 100}))
    assert [len(page["Buckets"]) for page in pages] == [100, 100, 50]
    assert ["ContinuationToken" in page for page in pages] == [True, True, False]
    names = [b["Name"] for page in pages for b in page["Buckets"]]
    assert len(names) == len(set(names)) == 250
    assert names == sorted(names)  # S3 lists in ascending name order
    regions_seen = {b["Name"]: b["BucketRegion"] for page in pages for b in page["Buckets"]}
    assert regions_seen == {store.name: store.region for store in stores}
    queries = list_bucket_queries(moto_patched)
    assert [q["max-buckets"] for q in queries] == [["100"]] * 3
    assert ["continuation-token" in q for q in queries] == [False, True, True]


def test_patched_continuation_token_is_opaque_and_checked(moto_patched: MotoServer) -> None:
    make_buckets(moto_patched, {"us-east-1": ["tok-a", "tok-b", "tok-c"]})
    s3 = client(moto_patched, "s3")
    token = s3.list_buckets(MaxBuckets=1)["ContinuationToken"]
    assert "tok-a" not in token
    assert [b["Name"] for b in s3.list_buckets(MaxBuckets=5, ContinuationToken=token)["Buckets"]] == ["tok-b", "tok-c"]
    for bad in ("bogus", "dG9rLWE="):  # not base64 at all; base64 of a bare bucket name
        with pytest.raises(ClientError) as error:
            s3.list_buckets(MaxBuckets=1, ContinuationToken=bad)
        assert error.value.response["Error"]["Code"] == "InvalidArgument"


def test_patched_max_buckets_out_of_range_is_rejected(moto_patched: MotoServer) -> None:
    with pytest.raises(ClientError) as error:
        client(moto_patched, "s3").list_buckets(MaxBuckets=10_001)
    assert error.value.response["Error"]["Code"] == "InvalidArgument"


# ---------------------------------------------------------------------------------------------------------------
# patched moto: DynamoDB global tables (version 2019.11.21)
# ---------------------------------------------------------------------------------------------------------------


def test_patched_describe_table_shows_replicas(moto_patched: MotoServer) -> None:
    dub, iad = client(moto_patched, "dynamodb", "eu-west-1"), client(moto_patched, "dynamodb", "us-east-1")
    create_table(dub, "gt-orders")
    updated = dub.update_table(TableName="gt-orders", ReplicaUpdates=[{"Create": {"RegionName": "us-east-1"}}])
    assert updated["TableDescription"]["Replicas"] == [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}]
    home = dub.describe_table(TableName="gt-orders")["Table"]
    assert home["GlobalTableVersion"] == "2019.11.21"
    assert home["Replicas"] == [{"RegionName": "us-east-1", "ReplicaStatus": "ACTIVE"}]
    assert iad.list_tables()["TableNames"] == ["gt-orders"]
    replica = iad.describe_table(TableName="gt-orders")["Table"]
    assert replica["TableArn"].startswith("arn:aws:dynamodb:us-east-1:")
    assert replica["KeySchema"] == home["KeySchema"]
    assert replica["Replicas"] == [{"RegionName": "eu-west-1", "ReplicaStatus": "ACTIVE"}]


def test_patched_replica_updates_validate_and_delete(moto_patched: MotoServer) -> None:
    dub = client(moto_patched, "dynamodb", "eu-west-1")
    create_table(dub, "gt-events")
    dub.update_table(TableName="gt-events", ReplicaUpdates=[{"Create": {"RegionName": "ap-northeast-1"}}])
    with pytest.raises(ClientError) as twice:
        dub.update_table(TableName="gt-events", ReplicaUpdates=[{"Create": {"RegionName": "ap-northeast-1"}}])
    assert twice.value.response["Error"]["Code"] == "ValidationException"
    dub.update_table(TableName="gt-events", ReplicaUpdates=[{"Delete": {"RegionName": "ap-northeast-1"}}])
    table = dub.describe_table(TableName="gt-events")["Table"]
    assert "Replicas" not in table
    assert client(moto_patched, "dynamodb", "ap-northeast-1").list_tables()["TableNames"] == []
    with pytest.raises(ClientError) as absent:
        dub.update_table(TableName="gt-events", ReplicaUpdates=[{"Delete": {"RegionName": "ap-northeast-1"}}])
    assert absent.value.response["Error"]["Code"] == "ValidationException"


def test_patched_plain_table_has_no_replicas(moto_patched: MotoServer) -> None:
    ddb = client(moto_patched, "dynamodb", "eu-central-1")
    create_table(ddb, "regional-only")
    table = ddb.describe_table(TableName="regional-only")["Table"]
    assert "Replicas" not in table
    assert "GlobalTableVersion" not in table


# ---------------------------------------------------------------------------------------------------------------
# Resource Groups Tagging API: S3 buckets per region (stock gap, `s3_tagging_regions` patch)
# ---------------------------------------------------------------------------------------------------------------

TAGGING_BUCKETS = {  # name -> (region, legacy constraint or None, tags)
    "tg-use1": ("us-east-1", None, {"data-class": "personal"}),
    "tg-fra-1": ("eu-central-1", None, {"data-class": "personal", "env": "prod"}),
    "tg-fra-2": ("eu-central-1", None, {"env": "dev"}),
    "tg-fra-3": ("eu-central-1", None, {"env": "dev"}),
    "tg-fra-untagged": ("eu-central-1", None, {}),
    "tg-legacy-eu": ("eu-west-1", "EU", {"env": "archive"}),
}


@pytest.fixture(scope="module")
def moto_tagging() -> Any:
    """A server with the `s3_tagging_regions` patch (and `bucket_region`), for this module's tagging tests."""
    with start_moto(["bucket_region", "s3_tagging_regions"]) as server:
        yield server


def seed_tagging_buckets(server: MotoServer) -> None:
    for name, (region, constraint, tags) in TAGGING_BUCKETS.items():
        create_bucket(lambda r: client(server, "s3", r), name, region, constraint)
        if tags:
            tag_set = [{"Key": k, "Value": v} for k, v in tags.items()]
            client(server, "s3", region).put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_set})


def tagged_buckets(server: MotoServer, region: str, page_size: int = 100) -> dict[str, dict[str, str]]:
    pages = client(server, "resourcegroupstaggingapi", region).get_paginator("get_resources").paginate(
        ResourceTypeFilters=["s3"], PaginationConfig={"PageSize": page_size})
    return {item["ResourceARN"].split(":::")[-1]: {t["Key"]: t["Value"] for t in item["Tags"]}
            for page in pages for item in page["ResourceTagMappingList"]}


def test_stock_tagging_api_lists_every_bucket_in_every_region(moto_stock: MotoServer) -> None:
    seed_tagging_buckets(moto_stock)
    every_tagged = {name for name, (_, _, tags) in TAGGING_BUCKETS.items() if tags}
    for region in ("us-east-1", "eu-central-1", "sa-east-1"):  # sa-east-1 holds no bucket at all
        assert set(tagged_buckets(moto_stock, region)) == every_tagged, region


def test_patched_tagging_api_lists_each_bucket_in_its_own_region(moto_tagging: MotoServer) -> None:
    moto_tagging.reset()
    seed_tagging_buckets(moto_tagging)
    assert tagged_buckets(moto_tagging, "us-east-1") == {"tg-use1": {"data-class": "personal"}}
    frankfurt = tagged_buckets(moto_tagging, "eu-central-1", page_size=1)  # three pages, through moto's tokens
    assert frankfurt == {name: tags for name, (region, _, tags) in TAGGING_BUCKETS.items()
                         if region == "eu-central-1" and tags}  # never-tagged buckets are not listed
    assert tagged_buckets(moto_tagging, "eu-west-1") == {"tg-legacy-eu": {"env": "archive"}}  # "EU" is eu-west-1
    assert tagged_buckets(moto_tagging, "sa-east-1") == {}


def test_patched_tagging_api_leaves_other_resource_types_alone(moto_tagging: MotoServer) -> None:
    moto_tagging.reset()
    create_bucket(lambda r: client(moto_tagging, "s3", r), "tg-only-bucket", "eu-central-1")
    client(moto_tagging, "s3", "eu-central-1").put_bucket_tagging(
        Bucket="tg-only-bucket", Tagging={"TagSet": [{"Key": "env", "Value": "prod"}]})
    ddb = client(moto_tagging, "dynamodb", "ap-northeast-1")
    create_table(ddb, "tg-table")
    arn = ddb.describe_table(TableName="tg-table")["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
    tokyo = client(moto_tagging, "resourcegroupstaggingapi", "ap-northeast-1").get_resources()
    assert [item["ResourceARN"] for item in tokyo["ResourceTagMappingList"]] == [arn]

def _fsx_backup(server: MotoServer, region: str = "eu-central-1") -> tuple[Any, dict[str, Any], dict[str, Any]]:
    fsx = client(server, "fsx", region)
    file_system = fsx.create_file_system(FileSystemType="LUSTRE", StorageCapacity=1200,
                                         SubnetIds=["subnet-0a1b2c3d4e5f60718"])["FileSystem"]
    return fsx, file_system, fsx.create_backup(FileSystemId=file_system["FileSystemId"])["Backup"]


def test_stock_fsx_backups_lack_the_file_system_and_cannot_be_copied(moto_stock: MotoServer) -> None:
    fsx, _, backup = _fsx_backup(moto_stock)
    [listed] = fsx.describe_backups()["Backups"]
    assert "FileSystem" not in listed and "OwnerId" not in listed and "Type" not in listed
    with pytest.raises(ClientError):
        client(moto_stock, "fsx", "sa-east-1").copy_backup(SourceBackupId=backup["BackupId"],
                                                           SourceRegion="eu-central-1")


def test_patched_fsx_backups_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    """A backup carries its file system's metadata; CopyBackup makes the copy in the region it is sent to, naming
    its source backup and region; an unknown source is BackupNotFound."""
    fsx, file_system, backup = _fsx_backup(moto_patched)
    assert backup["FileSystem"]["ResourceARN"] == file_system["ResourceARN"] and "FileSystemId" not in backup
    assert (backup["Type"], backup["ResourceType"], backup["OwnerId"]) == ("USER_INITIATED", "FILE_SYSTEM",
                                                                           "123456789012")
    fsx_br = client(moto_patched, "fsx", "sa-east-1")
    copy = fsx_br.copy_backup(SourceBackupId=backup["BackupId"], SourceRegion="eu-central-1")["Backup"]
    [listed] = fsx_br.describe_backups()["Backups"]
    assert listed["BackupId"] == copy["BackupId"] != backup["BackupId"]
    assert (listed["SourceBackupId"], listed["SourceBackupRegion"]) == (backup["BackupId"], "eu-central-1")
    assert listed["FileSystem"]["FileSystemId"] == file_system["FileSystemId"]
    assert listed["ResourceARN"].startswith("arn:aws:fsx:sa-east-1:")
    assert [b["BackupId"] for b in fsx.describe_backups()["Backups"]] == [backup["BackupId"]]
    with pytest.raises(ClientError) as missing:
        fsx_br.copy_backup(SourceBackupId="backup-0000000000000000", SourceRegion="eu-central-1")
    assert missing.value.response["Error"]["Code"] == "BackupNotFound"

def _replication_group(server: MotoServer, name: str, region: str = "eu-central-1", **extra: Any) -> dict[str, Any]:
    return client(server, "elasticache", region).create_replication_group(
        ReplicationGroupId=name, ReplicationGroupDescription=name, Engine="redis", CacheNodeType="cache.t3.micro",
        NumCacheClusters=1, **extra)["ReplicationGroup"]


def test_stock_elasticache_has_no_global_datastores(moto_stock: MotoServer) -> None:
    _replication_group(moto_stock, "sessions")
    elasticache = client(moto_stock, "elasticache", "eu-central-1")
    for call in (lambda: elasticache.describe_global_replication_groups(ShowMemberInfo=True),
                 lambda: elasticache.create_global_replication_group(GlobalReplicationGroupIdSuffix="s",
                                                                     PrimaryReplicationGroupId="sessions")):
        with pytest.raises((ClientError, ResponseParserError)):  # moto answers an HTML internal error
            call()


def test_patched_elasticache_global_datastores_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    """The primary's region is prefixed to the datastore's id; members carry GlobalReplicationGroupInfo; members are
    listed only with ShowMemberInfo; an unknown id is GlobalReplicationGroupNotFoundFault."""
    _replication_group(moto_patched, "sessions")
    _replication_group(moto_patched, "plain")
    eu, us = client(moto_patched, "elasticache", "eu-central-1"), client(moto_patched, "elasticache", "us-east-1")
    datastore = eu.create_global_replication_group(GlobalReplicationGroupIdSuffix="sessions",
                                                   PrimaryReplicationGroupId="sessions")["GlobalReplicationGroup"]
    global_id = datastore["GlobalReplicationGroupId"]
    assert global_id.endswith("-sessions") and len(global_id) > len("-sessions")
    us.create_replication_group(ReplicationGroupId="sessions-us", ReplicationGroupDescription="secondary",
                                GlobalReplicationGroupId=global_id)
    roles = {g["ReplicationGroupId"]: g.get("GlobalReplicationGroupInfo")
             for c in (eu, us) for g in c.describe_replication_groups()["ReplicationGroups"]}
    assert roles["sessions"] == {"GlobalReplicationGroupId": global_id, "GlobalReplicationGroupMemberRole": "PRIMARY"}
    assert roles["sessions-us"]["GlobalReplicationGroupMemberRole"] == "SECONDARY" and roles["plain"] is None
    [listed] = us.describe_global_replication_groups(ShowMemberInfo=True)["GlobalReplicationGroups"]
    assert {(m["ReplicationGroupId"], m["ReplicationGroupRegion"], m["Role"]) for m in listed["Members"]} == {
        ("sessions", "eu-central-1", "PRIMARY"), ("sessions-us", "us-east-1", "SECONDARY")}
    [bare] = eu.describe_global_replication_groups()["GlobalReplicationGroups"]
    assert "Members" not in bare and bare["GlobalReplicationGroupId"] == global_id
    with pytest.raises(ClientError) as missing:
        eu.describe_global_replication_groups(GlobalReplicationGroupId="nope-x")
    assert missing.value.response["Error"]["Code"] == "GlobalReplicationGroupNotFoundFault"


def test_stock_memorydb_has_no_multi_region_clusters(moto_stock: MotoServer) -> None:
    memorydb = client(moto_stock, "memorydb", "eu-central-1")
    with pytest.raises(ClientError):
        memorydb.describe_multi_region_clusters()
    with pytest.raises(ClientError):
        memorydb.create_multi_region_cluster(MultiRegionClusterNameSuffix="carts", NodeType="db.r7g.xlarge")


def test_patched_memorydb_multi_region_clusters_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    eu, us = client(moto_patched, "memorydb", "eu-central-1"), client(moto_patched, "memorydb", "us-east-1")
    name = eu.create_multi_region_cluster(MultiRegionClusterNameSuffix="carts",
                                          NodeType="db.r7g.xlarge")["MultiRegionCluster"]["MultiRegionClusterName"]
    assert name.endswith("-carts") and len(name) > len("-carts")
    for region, memorydb in (("eu-central-1", eu), ("us-east-1", us)):
        cluster = memorydb.create_cluster(ClusterName=f"carts-{region}", NodeType="db.r7g.xlarge",
                                          ACLName="open-access", MultiRegionClusterName=name)["Cluster"]
        assert cluster["MultiRegionClusterName"] == name
    eu.create_cluster(ClusterName="plain", NodeType="db.t4g.small", ACLName="open-access")
    assert {c["Name"]: c.get("MultiRegionClusterName") for c in eu.describe_clusters()["Clusters"]} == {
        "carts-eu-central-1": name, "plain": None}
    [listed] = us.describe_multi_region_clusters(ShowClusterDetails=True)["MultiRegionClusters"]
    assert {(c["ClusterName"], c["Region"]) for c in listed["Clusters"]} == {
        ("carts-eu-central-1", "eu-central-1"), ("carts-us-east-1", "us-east-1")}
    assert "Clusters" not in us.describe_multi_region_clusters()["MultiRegionClusters"][0]
    with pytest.raises(ClientError) as missing:
        us.describe_multi_region_clusters(MultiRegionClusterName="nope")
    assert missing.value.response["Error"]["Code"] == "MultiRegionClusterNotFoundFault"


DOMAIN = {"OwnerId": "123456789012", "DomainName": "follower", "Region": "us-east-1"}
LEADER = {"OwnerId": "123456789012", "DomainName": "leader", "Region": "eu-central-1"}


def test_stock_opensearch_has_no_connections(moto_stock: MotoServer) -> None:
    opensearch = client(moto_stock, "opensearch", "us-east-1")
    for call in (opensearch.describe_outbound_connections, opensearch.describe_inbound_connections):
        with pytest.raises(ClientError):
            call()


def test_patched_opensearch_connections_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    """An outbound connection is listed on the source domain's side (outbound) and the destination's (inbound)."""
    us, eu = client(moto_patched, "opensearch", "us-east-1"), client(moto_patched, "opensearch", "eu-central-1")
    created = us.create_outbound_connection(LocalDomainInfo={"AWSDomainInformation": DOMAIN},
                                            RemoteDomainInfo={"AWSDomainInformation": LEADER},
                                            ConnectionAlias="replication")
    assert created["ConnectionId"] and created["ConnectionStatus"]["StatusCode"] == "ACTIVE"
    [outbound] = us.describe_outbound_connections()["Connections"]
    [inbound] = eu.describe_inbound_connections()["Connections"]
    for connection in (outbound, inbound):
        assert connection["ConnectionId"] == created["ConnectionId"]
        assert connection["LocalDomainInfo"]["AWSDomainInformation"] == DOMAIN
        assert connection["RemoteDomainInfo"]["AWSDomainInformation"] == LEADER
    assert eu.describe_outbound_connections()["Connections"] == []
    assert us.describe_inbound_connections()["Connections"] == []


def test_stock_moto_has_no_redshift_serverless(moto_stock: MotoServer) -> None:
    """The server finds no backend for the `redshift-serverless` signing name and answers 500."""
    with pytest.raises(ClientError) as denied:
        client(moto_stock, "redshift-serverless", "eu-central-1").list_namespaces()
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "Unable to find appropriate backend for redshift-serverless.eu-central-1" in moto_stock.log_text()


def test_patched_redshift_serverless_as_the_api_reference_says(moto_patched: MotoServer) -> None:
    """Namespaces, snapshot copy configurations and tags, per region, with botocore's shapes and errors."""
    eu, us = client(moto_patched, "redshift-serverless", "eu-central-1"), client(moto_patched, "redshift-serverless")
    namespace = eu.create_namespace(namespaceName="finance", tags=[{"key": "env", "value": "prod"}])["namespace"]
    assert namespace["namespaceArn"] == (f"arn:aws:redshift-serverless:eu-central-1:123456789012:namespace/"
                                         f"{namespace['namespaceId']}")
    assert (namespace["namespaceName"], namespace["status"], namespace["kmsKeyId"]) == (
        "finance", "AVAILABLE", "AWS_OWNED_KMS_KEY")  # no key given: the service's own
    config = eu.create_snapshot_copy_configuration(namespaceName="finance", destinationRegion="us-east-1",
                                                   snapshotRetentionPeriod=7)["snapshotCopyConfiguration"]
    assert (config["namespaceName"], config["destinationRegion"], config["snapshotRetentionPeriod"]) == (
        "finance", "us-east-1", 7)
    assert config["snapshotCopyConfigurationId"] in config["snapshotCopyConfigurationArn"]
    eu.create_namespace(namespaceName="scratch")

    assert [n["namespaceName"] for n in eu.list_namespaces()["namespaces"]] == ["finance", "scratch"]
    pages = list(eu.get_paginator("list_namespaces").paginate(PaginationConfig={"PageSize": 1}))
    assert [[n["namespaceName"] for n in page["namespaces"]] for page in pages] == [["finance"], ["scratch"]]
    assert eu.list_snapshot_copy_configurations()["snapshotCopyConfigurations"] == [config]
    assert eu.list_snapshot_copy_configurations(namespaceName="scratch")["snapshotCopyConfigurations"] == []
    assert eu.list_tags_for_resource(resourceArn=namespace["namespaceArn"])["tags"] == [
        {"key": "env", "value": "prod"}]
    assert us.list_namespaces()["namespaces"] == []  # a namespace lives in its own region only
    with pytest.raises(ClientError) as missing:
        eu.list_snapshot_copy_configurations(namespaceName="nowhere")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as same_region:
        eu.create_snapshot_copy_configuration(namespaceName="scratch", destinationRegion="eu-central-1")
    assert same_region.value.response["Error"]["Code"] == "ValidationException"


# ---------------------------------------------------------------------------------------------------------------
# the seeded demo estate round-trips
# ---------------------------------------------------------------------------------------------------------------


def clients_for(seeded: SeededMoto, account: str) -> Clients:
    estate = seeded.estate
    if account == estate.management_account_id:
        return Clients(seeded.server.url)
    return assume_member(seeded.server.url, account)


def test_estate_shape(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    assert estate.management_account_id == "123456789012"
    assert set(estate.member_account_ids) == {"acme-prod-eu", "acme-analytics-jp", "sandbox"}
    assert len(set(estate.account_ids)) == 4
    buckets = estate.stores(S3_BUCKET)
    assert len({b.region for b in buckets}) >= 8
    assert len({continent(b.region) for b in buckets}) >= 4
    assert {"us-east-1", "eu-west-1", "ap-east-1"} <= {b.region for b in buckets}
    # every AWS kind of the registry is seeded (a new kind comes with its seed)
    assert {s.kind for s in estate.manifest} == set(kind_names("aws"))
    assert {S3_BUCKET, DYNAMODB_TABLE, RDS_INSTANCE, EBS_SNAPSHOT, EFS_FILE_SYSTEM} <= {s.kind for s in estate.manifest}
    assert any(b.tags.get("data-class") == "personal" for b in buckets)
    assert any("data-class" not in b.tags for b in buckets)
    assert len({s.id for s in estate.manifest}) == len(estate.manifest)
    for store in estate.manifest:
        assert store.account in estate.account_ids
        if store.replica_of:
            assert store.replica_of in {s.id for s in estate.primaries()}


def test_estate_organization_lists_every_account(moto_estate: SeededMoto) -> None:
    org = client(moto_estate.server, "organizations")
    accounts = [a for page in org.get_paginator("list_accounts").paginate() for a in page["Accounts"]]
    by_id = {a["Id"]: a["Name"] for a in accounts}
    assert set(by_id) == set(moto_estate.estate.account_ids)
    for name, account_id in moto_estate.estate.member_account_ids.items():
        assert by_id[account_id] == name


def test_estate_buckets_are_where_the_manifest_says(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    for account in estate.account_ids:
        s3 = clients_for(moto_estate, account)("s3")
        for store in estate.stores(S3_BUCKET, account):
            answer = s3.get_bucket_location(Bucket=store.name)
            assert normalised_location(answer) == store.region, store.name
            if store.region == "us-east-1":
                assert answer["LocationConstraint"] is None  # the null trap is really seeded
    legacy = estate.store("acme-mgmt-legacy-archive-eu")
    assert client(moto_estate.server, "s3").get_bucket_location(Bucket=legacy.name)["LocationConstraint"] == "EU"


def test_estate_tags_round_trip(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    for account in estate.account_ids:
        s3 = clients_for(moto_estate, account)("s3")
        for store in estate.stores(S3_BUCKET, account):
            tag_set = s3.get_bucket_tagging(Bucket=store.name)["TagSet"]
            assert {t["Key"]: t["Value"] for t in tag_set} == store.tags, store.name


def test_estate_members_see_only_their_own_buckets(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    for account in estate.account_ids:
        clients = clients_for(moto_estate, account)
        assert clients("sts").get_caller_identity()["Account"] == account
        listed = {b["Name"]: b["BucketRegion"] for b in clients("s3").list_buckets(MaxBuckets=1000)["Buckets"]}
        assert listed == {s.name: s.region for s in estate.stores(S3_BUCKET, account)}, account


def test_estate_replication_crosses_continents(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    [source] = [s for s in estate.stores(S3_BUCKET) if s.replica_regions]
    [destination] = [s for s in estate.stores(S3_BUCKET) if s.replica_of == source.id]
    assert source.region == "eu-central-1"
    assert source.replica_regions == (destination.region,)
    assert continent(destination.region) != continent(source.region)
    s3 = clients_for(moto_estate, source.account)("s3")
    rules = s3.get_bucket_replication(Bucket=source.name)["ReplicationConfiguration"]["Rules"]
    assert [rule["Destination"]["Bucket"] for rule in rules] == [destination.id]
    assert [rule["Status"] for rule in rules] == ["Enabled"]
    for store in (source, destination):
        assert s3.get_bucket_versioning(Bucket=store.name)["Status"] == "Enabled"


def test_estate_global_table_lists_its_replica(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    [primary] = [s for s in estate.stores(DYNAMODB_TABLE) if s.replica_of is None]
    clients = clients_for(moto_estate, primary.account)
    table = clients("dynamodb", primary.region).describe_table(TableName=primary.name)["Table"]
    assert table["TableArn"] == primary.id
    assert [r["RegionName"] for r in table["Replicas"]] == list(primary.replica_regions)
    for region in primary.replica_regions:
        replica = clients("dynamodb", region).describe_table(TableName=primary.name)["Table"]
        assert replica["TableArn"] == estate.store(primary.name, region).id
    tags = clients("dynamodb", primary.region).list_tags_of_resource(ResourceArn=primary.id)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == primary.tags


def test_estate_rds_replica_names_its_source(moto_estate: SeededMoto) -> None:
    estate = moto_estate.estate
    [source] = [s for s in estate.stores(RDS_INSTANCE) if s.replica_of is None]
    [replica] = [s for s in estate.stores(RDS_INSTANCE) if s.replica_of == source.id]
    clients = clients_for(moto_estate, source.account)
    [described] = clients("rds", replica.region).describe_db_instances(DBInstanceIdentifier=replica.name)["DBInstances"]
    assert described["DBInstanceArn"] == replica.id
    assert described["ReadReplicaSourceDBInstanceIdentifier"] == source.id
    [primary] = clients("rds", source.region).describe_db_instances(DBInstanceIdentifier=source.name)["DBInstances"]
    assert primary["ReadReplicaDBInstanceIdentifiers"] == [replica.id]
    assert source.replica_regions == (replica.region,) != (source.region,)


def test_estate_snapshot_copy_exists_in_the_other_region(moto_estate: SeededMoto) -> None:
    """Also proves MOTO_EC2_LOAD_DEFAULT_AMIS=false reached the server: no preloaded AMI snapshots."""
    estate = moto_estate.estate
    [source] = [s for s in estate.stores(EBS_SNAPSHOT) if s.replica_of is None]
    [copy] = [s for s in estate.stores(EBS_SNAPSHOT) if s.replica_of == source.id]
    assert (source.region, copy.region) == ("eu-central-1", "us-west-2")
    clients = clients_for(moto_estate, source.account)
    for store in (source, copy):
        snapshots = clients("ec2", store.region).describe_snapshots(OwnerIds=["self"])["Snapshots"]
        assert [s["SnapshotId"] for s in snapshots] == [store.name]
        assert store.id == f"arn:aws:ec2:{store.region}:{store.account}:snapshot/{store.name}"
        assert {t["Key"]: t["Value"] for t in snapshots[0]["Tags"]} == store.tags


def test_estate_redshift_serverless_copies_where_the_manifest_says(moto_estate: SeededMoto) -> None:
    """The namespace is in its member account's region, its copy configuration names the manifest's copy region."""
    [namespace] = moto_estate.estate.stores(REDSHIFT_NAMESPACE)
    serverless = clients_for(moto_estate, namespace.account)("redshift-serverless", namespace.region)
    assert [n["namespaceArn"] for n in serverless.list_namespaces()["namespaces"]] == [namespace.id]
    configs = serverless.list_snapshot_copy_configurations()["snapshotCopyConfigurations"]
    assert tuple(c["destinationRegion"] for c in configs) == namespace.replica_regions == ("us-west-2",)
    tags = serverless.list_tags_for_resource(resourceArn=namespace.id)["tags"]
    assert {t["key"]: t["value"] for t in tags} == namespace.tags


def test_estate_caches_search_and_fsx_copies_are_where_the_manifest_says(moto_estate: SeededMoto) -> None:
    """The FSx backup copy, the global datastore's secondary, the multi-region cluster's members and the follower's
    connection are in the other region, as the manifest's replica regions say."""
    estate = moto_estate.estate
    [file_system] = estate.stores(FSX_FILE_SYSTEM)
    clients = clients_for(moto_estate, file_system.account)
    [copy] = clients("fsx", file_system.replica_regions[0]).describe_backups()["Backups"]
    assert (copy["SourceBackupRegion"], copy["FileSystem"]["ResourceARN"]) == (file_system.region, file_system.id)
    primary = next(s for s in estate.stores(ELASTICACHE_GROUP) if s.replica_of is None)
    [secondary] = [s for s in estate.stores(ELASTICACHE_GROUP) if s.replica_of == primary.id]
    [datastore] = clients("elasticache", primary.region).describe_global_replication_groups(
        ShowMemberInfo=True)["GlobalReplicationGroups"]
    assert {(m["ReplicationGroupRegion"], m["Role"]) for m in datastore["Members"]} == {
        (primary.region, "PRIMARY"), (secondary.region, "SECONDARY")} and primary.replica_regions == (secondary.region,)
    members = estate.stores(MEMORYDB_CLUSTER)
    [multi] = clients("memorydb", members[0].region).describe_multi_region_clusters(
        ShowClusterDetails=True)["MultiRegionClusters"]
    assert {(c["ARN"], c["Region"]) for c in multi["Clusters"]} == {(m.id, m.region) for m in members}
    leader = next(s for s in estate.stores(OPENSEARCH_DOMAIN) if s.replica_of is None)
    [inbound] = clients("opensearch", leader.region).describe_inbound_connections()["Connections"]
    assert inbound["LocalDomainInfo"]["AWSDomainInformation"]["Region"] == leader.replica_regions[0]


def test_estate_manifest_lookup(moto_estate: SeededMoto) -> None:
    estate: AwsEstate = moto_estate.estate
    assert estate.store("acme-prod-eu-sessions", "eu-west-1").replica_regions == ("us-east-1",)
    with pytest.raises(KeyError):
        estate.store("acme-prod-eu-sessions")  # two tables of that name: the primary and its replica
    assert all(isinstance(s, SeededStore) for s in estate.primaries())


# ---------------------------------------------------------------------------------------------------------------
# seed_buckets, the server wrapper and the fixtures
# ---------------------------------------------------------------------------------------------------------------


def test_spread_picks_exact_counts() -> None:
    assert len(spread(1000, 0.1)) == 100
    assert spread(10, 0.0) == set()
    assert spread(4, 1.0) == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        spread(10, 1.5)


def test_seed_buckets_tags_and_replication(moto_patched: MotoServer) -> None:
    regions = ["eu-central-1", "us-east-1", "ap-southeast-2", "af-south-1"]
    stores = seed_buckets(moto_patched.url, 40, regions, replicate_fraction=0.25, tag_fraction=0.5)
    assert [s.name for s in stores[:2]] == ["bench-00000-eu-central-1", "bench-00001-us-east-1"]
    assert sum(1 for s in stores if s.tags == {"data-class": "personal"}) == 20
    replicated = [s for s in stores if s.replica_regions]
    assert len(replicated) == 10
    s3 = client(moto_patched, "s3")
    for index, store in enumerate(stores):
        assert normalised_location(s3.get_bucket_location(Bucket=store.name)) == store.region
        if store.replica_regions:
            destination = stores[(index + 1) % len(stores)]
            rules = s3.get_bucket_replication(Bucket=store.name)["ReplicationConfiguration"]["Rules"]
            assert rules[0]["Destination"]["Bucket"] == destination.id
            assert store.replica_regions == (destination.region,) != (store.region,)


def test_request_log_strips_colours_and_skips_control_calls(moto_stock: MotoServer) -> None:
    s3 = client(moto_stock, "s3")
    s3.create_bucket(Bucket="logged")
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="missing")
    assert moto_stock.request_log() == [("PUT", "/logged", "200"), ("HEAD", "/missing", "404")]
    moto_stock.reset()
    assert ("POST", "/moto-api/reset", "200") in moto_stock.request_log(include_control=True)
    assert len(moto_stock.request_log()) == 2


def test_parse_access_log_handles_ansi_and_noise() -> None:
    text = (
        " * Running on http://127.0.0.1:5000\n"
        '127.0.0.1 - - [27/Nov/2026 10:00:00] "GET /?max-buckets=100 HTTP/1.1" 200 -\n'
        '127.0.0.1 - - [27/Nov/2026 10:00:01] "\x1b[33mHEAD /nope HTTP/1.1\x1b[0m" 404 -\n'
        '127.0.0.1 - - [27/Nov/2026 10:00:02] "\x1b[35m\x1b[1mPOST / HTTP/1.1\x1b[0m" 500 -\n'
    )
    assert parse_access_log(text) == [
        ("GET", "/?max-buckets=100", "200"),
        ("HEAD", "/nope", "404"),
        ("POST", "/", "500"),
    ]


def test_server_lifecycle_stop_and_kill() -> None:
    with start_moto() as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.alive()
        assert client(server, "sts").get_caller_identity()["Account"] == "123456789012"
    assert not server.alive()
    assert server.process.returncode is not None
    crashed = start_moto()
    crashed.kill()
    assert crashed.process.returncode == -9
    crashed.stop()  # stopping a dead server is harmless and removes its log


def test_unknown_patch_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown moto patch"):
        start_moto(["no_such_patch"])


def test_aws_env_points_plain_boto3_at_the_server(aws_env: Any, moto_stock: MotoServer) -> None:
    env = aws_env(moto_stock)
    assert env["AWS_ENDPOINT_URL"] == moto_stock.url
    sts = boto3.client("sts")
    assert sts.meta.endpoint_url == moto_stock.url
    assert sts.meta.region_name == "us-east-1"
    assert sts.get_caller_identity()["Account"] == "123456789012"


# -- config_aggregator_query (demo/moto_aggregator.py) -------------------------------------------------------------
AGGREGATE_SELECT = ("SELECT accountId, awsRegion, resourceType, resourceId, configuration, tags "
                    "WHERE resourceType IN ('AWS::DynamoDB::Table', 'AWS::S3::Bucket')")


def _aggregated_estate(server: MotoServer) -> Any:
    """Three buckets and one table of the caller's account in two regions, and an account aggregator over it."""
    make_buckets(server, {"eu-west-1": ["agg-one", "agg-two"], "us-east-1": ["agg-three"]})
    create_table(client(server, "dynamodb", "eu-west-1"), "agg-table")
    config = client(server, "config")
    config.put_configuration_aggregator(ConfigurationAggregatorName="agg", AccountAggregationSources=[
        {"AccountIds": ["123456789012", "111122223333"], "AwsRegions": ["eu-west-1", "us-east-1"]}])
    return config


def test_stock_config_has_no_aggregate_query(moto_stock: MotoServer) -> None:
    config = _aggregated_estate(moto_stock)
    with pytest.raises(ClientError):
        config.select_aggregate_resource_config(ConfigurationAggregatorName="agg", Expression=AGGREGATE_SELECT)
    with pytest.raises(ClientError):
        config.describe_configuration_aggregator_sources_status(ConfigurationAggregatorName="agg")


def test_patched_aggregate_query_as_the_api_reference_says(_moto_pool: Any) -> None:
    server = _moto_pool.fresh(("config_aggregator_query",))
    config = _aggregated_estate(server)
    first = config.select_aggregate_resource_config(ConfigurationAggregatorName="agg", Expression=AGGREGATE_SELECT,
                                                    Limit=3)
    assert [f["Name"] for f in first["QueryInfo"]["SelectFields"]] == [
        "accountId", "awsRegion", "resourceType", "resourceId", "configuration", "tags"]
    assert len(first["Results"]) == 3 and first["NextToken"]
    rest = config.select_aggregate_resource_config(ConfigurationAggregatorName="agg", Expression=AGGREGATE_SELECT,
                                                   Limit=3, NextToken=first["NextToken"])
    assert "NextToken" not in rest
    items = [json.loads(result) for result in first["Results"] + rest["Results"]]  # each result is a JSON string
    assert sorted((i["resourceType"], i["resourceId"], i["awsRegion"]) for i in items) == [
        ("AWS::DynamoDB::Table", "agg-table", "eu-west-1"), ("AWS::S3::Bucket", "agg-one", "eu-west-1"),
        ("AWS::S3::Bucket", "agg-three", "us-east-1"), ("AWS::S3::Bucket", "agg-two", "eu-west-1")]
    table = next(i for i in items if i["resourceType"] == "AWS::DynamoDB::Table")
    assert table["configuration"]["tableName"] == "agg-table" and "tableArn" in table["configuration"]
    assert all(set(i) == {"accountId", "awsRegion", "resourceType", "resourceId", "configuration", "tags"}
               for i in items)
    # the unauthorized source account fails; the aggregator's own account needs no authorization
    statuses = config.describe_configuration_aggregator_sources_status(ConfigurationAggregatorName="agg")
    by_source = {(s["SourceId"], s["AwsRegion"]): s["LastUpdateStatus"]
                 for s in statuses["AggregatedSourceStatusList"]}
    assert by_source == {("123456789012", "eu-west-1"): "SUCCEEDED", ("123456789012", "us-east-1"): "SUCCEEDED",
                         ("111122223333", "eu-west-1"): "FAILED", ("111122223333", "us-east-1"): "FAILED"}
    for bad, code in (({"Limit": 101}, "InvalidLimitException"),
                      ({"Expression": "SELECT * FROM resources"}, "InvalidExpressionException"),
                      ({"NextToken": "bm9wZQ=="}, "InvalidNextTokenException"),
                      ({"ConfigurationAggregatorName": "nope"}, "NoSuchConfigurationAggregatorException")):
        request = {"ConfigurationAggregatorName": "agg", "Expression": AGGREGATE_SELECT, **bad}
        with pytest.raises(ClientError) as refused:
            config.select_aggregate_resource_config(**request)
        assert refused.value.response["Error"]["Code"] == code
