"""The `aws-copies` case of bench/clouds.py: AWS's copy-bearing kinds of issue 14 on a moto server.

N stores in one account over two regions (eu-west-1, us-east-1), a sixth each: FSx for Lustre file systems (each
with a backup in its region, a tenth of them copied to the other region), ElastiCache replication groups (a tenth
the primary of a global datastore with a secondary in the other region), OpenSearch domains (a tenth followed by a
domain in the other region over a cross-cluster connection), S3 Glacier vaults, DynamoDB tables (half with
point-in-time recovery, a tenth with an on-demand backup) and AWS Backup vaults (a tenth holding a recovery point of
a table, copied to a vault in the other region). Half of every kind is tagged `data-class: personal`. The server is
moto with demo.moto_patches.ESTATE_PATCHES (demo/moto_server.py); requests are counted in its access log.

Custody scans it through the real config path (services fsx, elasticache, opensearch, glacier, dynamodb, backup).
The baseline lists each kind per region, then describes every resource one call at a time (and reads its tags
where the description lacks them; a table's continuous backups too), 8 at once.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from demo.aws_estate import (
    PERSONAL,
    Clients,
    seed_elasticache_global,
    seed_fsx_backup_copy,
    seed_glacier_vault,
    seed_opensearch_replication,
    seed_recovery_point_copy,
    seed_table_backups,
)
from demo.moto_patches import ESTATE_PATCHES
from demo.moto_server import MotoServer, start_moto

ACCOUNT = "123456789012"  # moto's account for the testing credentials
REGIONS = ("eu-west-1", "us-east-1")
SERVICES = ["fsx", "elasticache", "opensearch", "glacier", "dynamodb", "backup"]
KINDS = ("fs", "ec", "os", "gl", "db", "bv")  # name prefixes, one per kind, in the order stores are dealt


def start() -> MotoServer:
    return start_moto(ESTATE_PATCHES)


def section() -> dict[str, Any]:
    return {"services": SERVICES, "regions": list(REGIONS), "max_attempts": 1}


def env(server: MotoServer, workdir: Path) -> dict[str, str]:
    from bench.run import aws_env

    return aws_env(server.url, workdir)


def count(server: MotoServer) -> int:
    return len(server.request_log())


Manifest = dict[str, dict[str, Any]]


def seed(server: MotoServer, n: int) -> Manifest:
    """N slots dealt round-robin over the six kinds; a global datastore, a follower domain and a copy vault add a
    store each. Returns name -> expected region, copy regions (every non-primary location) and tags."""
    clients = Clients(server.url, pool=16)
    manifest: Manifest = {}
    last_table: dict[str, str] = {}  # region -> the ARN of the last table seeded there
    for index in range(n):
        prefix = KINDS[index % len(KINDS)]
        name, slot = f"{prefix}{index:06d}", index // len(KINDS)
        region, other = REGIONS[slot % 2], REGIONS[(slot + 1) % 2]
        tags = dict(PERSONAL) if slot % 4 < 2 else {}
        copied = slot % 10 == 0
        SEEDERS[prefix](clients, manifest, name, region, other, tags, copied, last_table)
    return manifest


def _fsx(clients: Clients, manifest: Manifest, name: str, region: str, other: str, tags: dict[str, str],
         copied: bool, _: dict[str, str]) -> None:
    seed_fsx_backup_copy(clients, ACCOUNT, name, region, other if copied else None, tags)
    # the backup in its own region adds no location (the first per region counts: the primary)
    manifest[name] = _expect(region, [other] if copied else [], {**tags, "Name": name})


def _elasticache(clients: Clients, manifest: Manifest, name: str, region: str, other: str, tags: dict[str, str],
                 copied: bool, _: dict[str, str]) -> None:
    if copied:
        seed_elasticache_global(clients, ACCOUNT, name, region, other, tags)
        manifest[name] = _expect(region, [other], tags)
        manifest[f"{name}-dr"] = _expect(other, [other], tags)  # the secondary: its own region holds a replica
        return
    clients("elasticache", region).create_replication_group(
        ReplicationGroupId=name, ReplicationGroupDescription=f"{name} sessions", Engine="redis",
        CacheNodeType="cache.r6g.large", NumCacheClusters=1, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    manifest[name] = _expect(region, [], tags)


def _opensearch(clients: Clients, manifest: Manifest, name: str, region: str, other: str, tags: dict[str, str],
                copied: bool, _: dict[str, str]) -> None:
    seed_opensearch_replication(clients, ACCOUNT, name, region, other if copied else None, tags)
    manifest[name] = _expect(region, [other] if copied else [], tags)
    if copied:
        manifest[f"{name}-follower"] = _expect(other, [], tags)  # it follows a primary: the leader's region


def _glacier(clients: Clients, manifest: Manifest, name: str, region: str, other: str, tags: dict[str, str],
             copied: bool, _: dict[str, str]) -> None:
    seed_glacier_vault(clients, ACCOUNT, name, region, tags)
    manifest[name] = _expect(region, [], tags)


def _dynamodb(clients: Clients, manifest: Manifest, name: str, region: str, other: str, tags: dict[str, str],
              copied: bool, last_table: dict[str, str]) -> None:
    table = clients("dynamodb", region).create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST", AttributeDefinitions=[{"AttributeName": "id",
                                                                               "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["TableDescription"]
    pitr = int(name[2:]) // len(KINDS) % 2 == 0
    if pitr or copied:
        seed_table_backups(clients, name, region, on_demand=1 if copied else 0, pitr=pitr)
    last_table[region] = table["TableArn"]
    manifest[name] = _expect(region, [region] if pitr or copied else [], tags)


def _backup(clients: Clients, manifest: Manifest, name: str, region: str, other: str, tags: dict[str, str],
            copied: bool, last_table: dict[str, str]) -> None:
    table = last_table.get(region)
    if copied and table:  # the table's recovery point, copied to a vault in the other region
        seed_recovery_point_copy(clients, ACCOUNT, table, region, name, other, f"{name}-copy")
        table_name = table.rsplit("/", 1)[-1]
        manifest[table_name]["replica_regions"] = sorted({*manifest[table_name]["replica_regions"], other})
        manifest[name] = _expect(region, [], {"env": "prod"})
        manifest[f"{name}-copy"] = _expect(other, [], {"env": "prod"})
        return
    clients("backup", region).create_backup_vault(BackupVaultName=name, BackupVaultTags=tags)
    manifest[name] = _expect(region, [], tags)


def _expect(region: str, copies: list[str], tags: dict[str, str]) -> dict[str, Any]:
    return {"region": region, "replica_regions": sorted(copies), "tags": dict(tags)}


SEEDERS: dict[str, Callable[..., None]] = {"fs": _fsx, "ec": _elasticache, "os": _opensearch, "gl": _glacier,
                                           "db": _dynamodb, "bv": _backup}


# ---- the baseline (in a child process, pointed at the server by AWS_ENDPOINT_URL) ---------------------------

def per_store(endpoint: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Each kind listed per region, then every resource described one call at a time, 8 at once."""
    clients = Clients(endpoint, pool=16)
    found: dict[str, tuple[str, dict[str, str]]] = {}
    with ThreadPoolExecutor(8) as pool:
        for region in REGIONS:
            jobs = [pool.submit(describe, clients, region, item)
                    for lister, describe in READERS for item in lister(clients, region)]
            for job in jobs:
                name, tags = job.result()
                found[name] = (region, tags)
    return found


def _pages(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
    return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items or []}


def _fsx_list(clients: Clients, region: str) -> list[str]:
    return [fs["FileSystemId"] for fs in _pages(clients("fsx", region), "describe_file_systems", "FileSystems")]


def _fsx_describe(clients: Clients, region: str, item: str) -> tuple[str, dict[str, str]]:
    fsx = clients("fsx", region)
    tags = _tags(fsx.describe_file_systems(FileSystemIds=[item])["FileSystems"][0].get("Tags"))
    fsx.describe_backups(Filters=[{"Name": "file-system-id", "Values": [item]}])
    return tags.get("Name", item), tags


def _ec_list(clients: Clients, region: str) -> list[str]:
    return [group["ReplicationGroupId"] for group in
            _pages(clients("elasticache", region), "describe_replication_groups", "ReplicationGroups")]


def _ec_describe(clients: Clients, region: str, item: str) -> tuple[str, dict[str, str]]:
    client = clients("elasticache", region)
    group = client.describe_replication_groups(ReplicationGroupId=item)["ReplicationGroups"][0]
    return item, _tags(client.list_tags_for_resource(ResourceName=group["ARN"]).get("TagList"))


def _os_list(clients: Clients, region: str) -> list[str]:
    return [domain["DomainName"] for domain in clients("opensearch", region).list_domain_names()["DomainNames"]]


def _os_describe(clients: Clients, region: str, item: str) -> tuple[str, dict[str, str]]:
    client = clients("opensearch", region)
    domain = client.describe_domain(DomainName=item)["DomainStatus"]
    return item, _tags(client.list_tags(ARN=domain["ARN"]).get("TagList"))


def _gl_list(clients: Clients, region: str) -> list[str]:
    return [vault["VaultName"] for vault in _pages(clients("glacier", region), "list_vaults", "VaultList",
                                                   accountId="-")]


def _gl_describe(clients: Clients, region: str, item: str) -> tuple[str, dict[str, str]]:
    client = clients("glacier", region)
    client.describe_vault(accountId="-", vaultName=item)
    return item, dict(client.list_tags_for_vault(accountId="-", vaultName=item).get("Tags") or {})


def _db_list(clients: Clients, region: str) -> list[str]:
    return _pages(clients("dynamodb", region), "list_tables", "TableNames")


def _db_describe(clients: Clients, region: str, item: str) -> tuple[str, dict[str, str]]:
    client = clients("dynamodb", region)
    table = client.describe_table(TableName=item)["Table"]
    client.describe_continuous_backups(TableName=item)
    return item, _tags(client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags"))


def _bv_list(clients: Clients, region: str) -> list[str]:
    return [vault["BackupVaultName"] for vault in
            _pages(clients("backup", region), "list_backup_vaults", "BackupVaultList")]


def _bv_describe(clients: Clients, region: str, item: str) -> tuple[str, dict[str, str]]:
    client = clients("backup", region)
    vault = client.describe_backup_vault(BackupVaultName=item)
    return item, dict(client.list_tags(ResourceArn=vault["BackupVaultArn"]).get("Tags") or {})


READERS: list[tuple[Callable[[Clients, str], list[str]], Callable[[Clients, str, str], tuple[str, dict[str, str]]]]] \
    = [(_fsx_list, _fsx_describe), (_ec_list, _ec_describe), (_os_list, _os_describe), (_gl_list, _gl_describe),
       (_db_list, _db_describe), (_bv_list, _bv_describe)]
