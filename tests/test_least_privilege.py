"""Least privilege, proven by the code's own calls: the published roles list exactly what the scanner uses.

The scanner scans the demo estates on the emulators, and every API operation it asks for is recorded
by the emulator side, never by the scanner itself:

- AWS: tests/fault_proxy.py between the scanner and moto (`FaultProxy.operations`);
- Azure: demo/arm_server.py's request log (`ArmServer.requests`);
- Google Cloud: the request logs of demo/gcs_server.py's fakes (`.requests`).

Each recorded operation is mapped to the permission the cloud checks for it: for AWS through the calls the
registry of store kinds declares (scanner/kinds.py, plus S3's REST table below), for Azure and Google Cloud
through the explicit tables below. The tests fail when

- an operation is not mapped (a new call: declare it in scanner/kinds.py, or add it to the table),
- a needed permission is missing from the published role (the scanner would be denied),
- a published permission is never needed (more than the scanner uses: remove it),
- a published permission is not read-only (Put, Create, Delete, Update, Set, Write, Tag/Untag, Modify,
  ...), or a wildcard.

Besides the full scan of each estate, a few scenarios drive the fallbacks that a healthy estate never
takes (GetBucketLocation when ListBuckets has no BucketRegion, GetBucketTagging when the tagging API is
denied, OU-scoped organizations, datasets.get when a listing lacks the location, the subscription
listing). For AWS, a static check adds that every botocore operation named in providers/aws*.py or declared in
the registry was called in some scenario, so no code path escapes the proof.

Published roles: deploy/aws-iam-policy.json, deploy/azure-role.json, deploy/gcp-role.yaml, generated from the
registry by scripts/generate_from_kinds.py (checked below: the committed files are the generated ones).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.session
import pytest
import yaml
from botocore import xform_name

from demo.aws_estate import seed_buckets
from demo.aws_org import AGGREGATOR, put_org_aggregator, seed_org
from demo.moto_patches import ESTATE_PATCHES
from demo.moto_server import start_moto
from providers.roles import ROLE_FILES, render
from runtime.cli import prepare, scan_once
from scanner.kinds import CLOUDS, PLATFORM, kinds_of
from tests.fault_proxy import DENIED_JSON, FaultProxy, Request

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"

# ---- AWS: recorded operation (tests/fault_proxy.operation_name) -> (API operation, IAM action) ----------
# The proxy names an operation by its SigV4 service and the query protocol's Action or the JSON
# protocol's X-Amz-Target; S3's REST calls by method and subresource.
# Every call but S3's is declared with its IAM action in the registry of store kinds (scanner/kinds.py); a call's
# recorded name is its SigV4 signing name (the IAM prefix, except where they differ) and its operation.
SIGNING_NAME = {"tag": "tagging"}  # IAM prefix -> SigV4 signing name, where they differ
S3_REST: dict[str, tuple[str, str]] = {
    # S3 REST: GET / is ListBuckets (asserted below: every bare GET is on the service root)
    "s3:GET": ("ListBuckets", "s3:ListAllMyBuckets"),
    "s3:GET ?max-buckets": ("ListBuckets", "s3:ListAllMyBuckets"),
    "s3:GET ?continuation-token": ("ListBuckets", "s3:ListAllMyBuckets"),
    "s3:GET ?bucket-region": ("ListBuckets", "s3:ListAllMyBuckets"),
    "s3:GET ?location": ("GetBucketLocation", "s3:GetBucketLocation"),
    "s3:GET ?tagging": ("GetBucketTagging", "s3:GetBucketTagging"),
    "s3:GET ?replication": ("GetBucketReplication", "s3:GetReplicationConfiguration"),
    "s3:GET ?encryption": ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
}
AWS_CALLS = [*PLATFORM["aws"].calls, *(call for spec in kinds_of("aws") for call in spec.calls)]
AWS_ACTIONS: dict[str, tuple[str, str]] = {
    **{f"{SIGNING_NAME.get(prefix, prefix)}:{call.operation}": (call.operation, call.permission)
       for call in AWS_CALLS if (prefix := call.permission.split(":")[0]) != "s3"},
    **S3_REST,
}
# The one published AWS action that is not a read, and why: member accounts are read through a
# read-only role there, and the statement may name only such roles (never "*").
AWS_NOT_READ = {"sts:AssumeRole": "assume the read-only CustodyScanner role in member accounts"}
BOTOCORE_SERVICES = ("s3", "ec2", "rds", "dynamodb", "organizations", "sts", "resourcegroupstaggingapi", "config",
                     "efs", "kms", "backup", "glacier", "fsx", "elasticache", "memorydb", "opensearch")

# ---- Azure: ARM request path (query removed) -> the RBAC permission ARM checks -----------------------
SUB = r"/subscriptions/[^/]+"
SQL_SERVER = SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Sql/servers/[^/]+"
AZURE_PERMISSIONS: list[tuple[str, str]] = [
    (r"/subscriptions", "Microsoft.Resources/subscriptions/read"),
    # Resource Graph's query (a POST that reads): resource_graph: true
    (r"/providers/Microsoft\.ResourceGraph/resources", "Microsoft.ResourceGraph/resources/read"),
    (SUB + r"/providers/Microsoft\.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/read"),
    (SUB + r"/providers/Microsoft\.DocumentDB/databaseAccounts", "Microsoft.DocumentDB/databaseAccounts/read"),
    (SUB + r"/providers/Microsoft\.Sql/servers", "Microsoft.Sql/servers/read"),
    (SQL_SERVER + r"/databases", "Microsoft.Sql/servers/databases/read"),
    # ReplicationLinks_ListByServer returns Microsoft.Sql/servers/databases/replicationLinks resources
    (SQL_SERVER + r"/replicationLinks", "Microsoft.Sql/servers/databases/replicationLinks/read"),
    (SUB + r"/providers/Microsoft\.Compute/disks", "Microsoft.Compute/disks/read"),
    (SUB + r"/providers/Microsoft\.Compute/snapshots", "Microsoft.Compute/snapshots/read"),
    # key custody: a SQL server's TDE protector, a disk encryption set, the subscription's key vaults (Resources_List)
    (SQL_SERVER + r"/encryptionProtector/current", "Microsoft.Sql/servers/encryptionProtector/read"),
    (SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Compute/diskEncryptionSets/[^/]+",
     "Microsoft.Compute/diskEncryptionSets/read"),
    (SUB + r"/resources", "Microsoft.Resources/subscriptions/resources/read"),
    # ObjectReplicationPolicies_List: per storage account
    (SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Storage/storageAccounts/[^/]+/objectReplicationPolicies",
     "Microsoft.Storage/storageAccounts/objectReplicationPolicies/read"),
    (SUB + r"/providers/Microsoft\.RecoveryServices/vaults", "Microsoft.RecoveryServices/vaults/read"),
    (SUB + r"/providers/Microsoft\.DataProtection/backupVaults", "Microsoft.DataProtection/backupVaults/read"),
    (SUB + r"/providers/Microsoft\.DBforPostgreSQL/flexibleServers", "Microsoft.DBforPostgreSQL/flexibleServers/read"),
    (SUB + r"/providers/Microsoft\.DBforMySQL/flexibleServers", "Microsoft.DBforMySQL/flexibleServers/read"),
    (SQL_SERVER + r"/failoverGroups", "Microsoft.Sql/servers/failoverGroups/read"),
    (SUB + r"/providers/Microsoft\.Sql/managedInstances", "Microsoft.Sql/managedInstances/read"),
    # InstanceFailoverGroups_ListByLocation: per resource group and location
    (SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Sql/locations/[^/]+/instanceFailoverGroups",
     "Microsoft.Sql/locations/instanceFailoverGroups/read"),
    (SUB + r"/providers/Microsoft\.Cache/redis", "Microsoft.Cache/redis/read"),
    (SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Cache/redis/[^/]+/linkedServers",
     "Microsoft.Cache/redis/linkedServers/read"),
    (SUB + r"/providers/Microsoft\.Cache/redisEnterprise", "Microsoft.Cache/redisEnterprise/read"),
    (SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Cache/redisEnterprise/[^/]+/databases",
     "Microsoft.Cache/redisEnterprise/databases/read"),
]

# ---- Google Cloud: (fake server, request path) -> the IAM permission Google checks -----------------------
GCP_PERMISSIONS: list[tuple[str, str, str]] = [
    ("gcs", r"/storage/v1/b", "storage.buckets.list"),
    ("gcs", r"/storage/v1/b/[^/]+", "storage.buckets.get"),
    # BigQuery: listing datasets needs bigquery.datasets.get ("List datasets", BigQuery docs)
    ("bigquery", r"/bigquery/v2/projects/[^/]+/datasets", "bigquery.datasets.get"),
    ("bigquery", r"/bigquery/v2/projects/[^/]+/datasets/[^/]+", "bigquery.datasets.get"),
    ("resources", r"/v3/projects", "resourcemanager.projects.list"),
    ("resources", r"/v3/folders", "resourcemanager.folders.list"),
    # ListAssets with contentType RESOURCE (providers/gcp_assets.py)
    ("resources", r"/v1/(?:organizations|folders|projects)/[^/:]+/assets", "cloudasset.assets.listResource"),
    ("kms", r"/v1/projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+", "cloudkms.cryptoKeys.get"),
    ("kms", r"/v1/projects/[^/]+/locations/[^/]+/ekmConnections/[^/]+", "cloudkms.ekmConnections.get"),
    ("databases", r"/v1/projects/[^/]+/instances", "spanner.instances.list"),
    ("databases", r"/v1/projects/[^/]+/instanceConfigs/[^/]+", "spanner.instanceConfigs.get"),
    ("databases", r"/v1/projects/[^/]+/databases", "datastore.databases.list"),
    ("databases", r"/sql/v1beta4/projects/[^/]+/instances", "cloudsql.instances.list"),
    ("databases", r"/v2/projects/[^/]+/instances", "bigtable.instances.list"),
    ("databases", r"/v2/projects/[^/]+/instances/-/clusters", "bigtable.clusters.list"),
    # the `locations/-` listings, served under their API's host (demo/gcp_databases_server.py PREFIXES)
    ("databases", r"/alloydb\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/clusters", "alloydb.clusters.list"),
    ("databases", r"/alloydb\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/backups", "alloydb.backups.list"),
    ("databases", r"/file\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/instances", "file.instances.list"),
    ("databases", r"/file\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/backups", "file.backups.list"),
    ("databases", r"/redis\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/instances", "redis.instances.list"),
    ("databases", r"/redis\.googleapis\.com/v1/projects/[^/]+/locations/[^/]+/clusters", "redis.clusters.list"),
]

# Words that make a permission more than a read, whatever the cloud.
WRITE_WORDS = {
    "put", "create", "delete", "update", "set", "write", "tag", "untag", "modify", "attach", "detach", "add",
    "remove", "enable", "disable", "start", "stop", "reboot", "run", "restore", "copy", "import", "export",
    "upload", "replace", "reset", "revoke", "authorize", "associate", "disassociate", "register", "deregister",
    "invoke", "send", "publish", "terminate", "cancel", "pass", "change", "accept", "reject", "apply", "execute",
    "grant", "sign", "encrypt", "decrypt", "generate", "purchase", "move", "rotate", "undelete", "action",
    "listkeys", "regeneratekey", "failover", "assume",
}
# Select: AWS Config advanced queries (SelectAggregateResourceConfig), "Read" in the service authorization reference
READ_VERBS = ("Get", "List", "Describe", "BatchGet", "Select")
# Azure resource types whose names hold a write word: nouns here (their `/read` action reads them, fails nothing over)
AZURE_NOUNS = {"failoverGroups", "instanceFailoverGroups"}
# AWS resource names that hold a write word: nouns here (the service authorization reference lists Redshift
# Serverless's ListSnapshotCopyConfigurations at access level List)
AWS_NOUNS = ("SnapshotCopyConfiguration",)


def words(name: str) -> list[str]:
    """CamelCase and snake/dotted words of a permission name, lower-cased: ListTagsOfResource -> list, tags, ..."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def not_read_only(permission: str) -> str | None:
    """Why a permission is not a plain read, or None."""
    if "*" in permission or "?" in permission:
        return "a wildcard"
    name = permission.split(":", 1)[-1]
    for noun in AWS_NOUNS:
        name = name.replace(noun, "")
    bad = sorted(set(words(name)) & WRITE_WORDS)
    return f"a write ({', '.join(bad)})" if bad else None


def write_config(tmp_path: Path, providers: dict[str, Any], name: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"home": "EU", "providers": providers}, sort_keys=False))
    return str(path)


def scan(config: str):
    result, _ = scan_once(prepare(config, []), state=None)
    return result


# ---- the published roles ---------------------------------------------------------------------------------

def aws_policy() -> dict[str, Any]:
    return json.loads((DEPLOY / "aws-iam-policy.json").read_text())


def aws_published() -> set[str]:
    actions: set[str] = set()
    for statement in aws_policy()["Statement"]:
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def azure_published() -> set[str]:
    return set(json.loads((DEPLOY / "azure-role.json").read_text())["Actions"])


def gcp_published() -> set[str]:
    return set(yaml.safe_load((DEPLOY / "gcp-role.yaml").read_text())["includedPermissions"])


def test_aws_policy_is_read_only_and_scopes_assume_role_to_the_scanner_role():
    policy = aws_policy()
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            service, _, name = action.partition(":")
            assert re.fullmatch(r"[a-z0-9-]+", service) and name, action
            if action in AWS_NOT_READ:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else \
                    [statement["Resource"]]
                assert len(actions) == 1 and all(
                    re.fullmatch(r"arn:aws:iam::\*:role/[A-Za-z0-9+=,.@_-]+", r) for r in resources), statement
                continue
            assert name.startswith(READ_VERBS) and not_read_only(action) is None, \
                f"{action} is not read-only ({not_read_only(action) or 'not a Get/List/Describe'})"


def test_azure_role_is_read_only_control_plane():
    role = json.loads((DEPLOY / "azure-role.json").read_text())
    assert role["IsCustom"] is True and role["AssignableScopes"]
    assert role["NotActions"] == [] and role["DataActions"] == [] and role["NotDataActions"] == []
    for action in role["Actions"]:
        assert re.fullmatch(r"Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/read", action), f"{action} is not a /read action"
        resource_types = [part for part in action.split("/")[:-1] if part not in AZURE_NOUNS]
        assert not_read_only("/".join(resource_types)) is None, action


def test_gcp_role_is_read_only():
    role = yaml.safe_load((DEPLOY / "gcp-role.yaml").read_text())
    assert role["stage"] == "GA" and role["title"]
    for permission in role["includedPermissions"]:
        service, *resource, verb = permission.split(".")
        assert service and resource and re.fullmatch(r"(get|list|listResource|search[A-Za-z]*)", verb), permission
        assert not_read_only(permission.replace(".", " ")) is None, permission


@pytest.mark.parametrize("permission", [
    "s3:PutBucketTagging", "s3:DeleteBucket", "ec2:CreateSnapshot", "dynamodb:UpdateTable", "s3:SetFoo",
    "s3:Get*", "ec2:ModifyInstanceAttribute", "dynamodb:TagResource", "rds:UntagResource", "s3:WriteGetObject",
    "Microsoft.Storage/storageAccounts/listKeys/action", "storage.buckets.setIamPolicy", "iam:PassRole",
])
def test_the_read_only_check_refuses_writes(permission):
    assert not_read_only(permission.replace(".", " ")) is not None


@pytest.mark.parametrize("permission", [
    "dynamodb:ListTagsOfResource", "s3:GetBucketTagging", "tag:GetResources", "s3:GetReplicationConfiguration",
    "config:BatchGetResourceConfig",
])
def test_the_read_only_check_accepts_reads_whose_names_mention_tags(permission):
    assert not_read_only(permission) is None


# ---- AWS: every call the scanner makes -----------------------------------------------------------------

class Recorder:
    """Scans through a fault proxy in front of a moto server and collects what was asked for."""

    def __init__(self, tmp_path: Path, aws_env: Callable[[str], Any]) -> None:
        self.tmp_path = tmp_path
        self.aws_env = aws_env
        self.operations: dict[str, set[str]] = {}  # recorded operation -> scenarios that asked for it
        self.requests: list[Request] = []

    def run(self, scenario: str, upstream: str, aws: dict[str, Any],
            deny: tuple[Callable[[Request], bool], Any] | None = None) -> tuple[Any, list[str]]:
        proxy = FaultProxy(upstream).start()
        proxy.deny(lambda request: self.requests.append(request) is None and False)  # records, never denies
        if deny:
            proxy.deny(*deny)
        try:
            self.aws_env(proxy.url)
            result = scan(write_config(self.tmp_path, {"aws": {"max_attempts": 1, **aws}}, scenario))
        finally:
            proxy.stop()
        for operation in proxy.operations:
            self.operations.setdefault(operation, set()).add(scenario)
        return result, list(proxy.operations)


def operations_in_source(path: Path) -> set[str]:
    """The botocore operations (CamelCase) named in a module: client method calls and paginator names."""
    session = botocore.session.get_session()
    by_method: dict[str, str] = {}
    for service in BOTOCORE_SERVICES:
        model = session.get_service_model(service)
        by_method.update({xform_name(op): op for op in model.operation_names})
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in by_method:
                found.add(by_method[node.func.attr])
            if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(by_method.get(node.args[0].value, node.args[0].value))
    return found


def test_aws_published_policy_is_exactly_what_the_scanner_calls(tmp_path, moto_estate, moto_stock, aws_env):
    recorder = Recorder(tmp_path, aws_env)

    # 1. the whole demo estate: organization, every enabled region, every service
    full, _ = recorder.run("full", moto_estate.server.url, {"organization": True})
    assert full.status == "complete"

    # 2. accounts chosen by organizational unit (the organization root), nested OUs walked
    org = boto3.client("organizations", endpoint_url=moto_estate.server.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    root = org.list_roots()["Roots"][0]["Id"]
    _, calls = recorder.run("ous", moto_estate.server.url, {"organizational_units": [root], "services": ["s3"],
                                                            "regions": ["us-east-1"]})
    assert "organizations:ListAccountsForParent" in calls

    # 3. the Resource Groups Tagging API denied: tags fall back to GetBucketTagging per bucket
    _, calls = recorder.run("tagging-denied", moto_estate.server.url, {"services": ["s3"], "regions": ["us-east-1"]},
                            deny=(lambda r: r.service == "tagging", DENIED_JSON))
    assert "s3:GET ?tagging" in calls

    # 4. an endpoint whose ListBuckets has no BucketRegion (stock moto): GetBucketLocation per bucket
    for name, region in (("lp-frankfurt", "eu-central-1"), ("lp-virginia", None)):
        client = boto3.client("s3", endpoint_url=moto_stock.url, region_name=region or "us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=name, **({"CreateBucketConfiguration": {"LocationConstraint": region}}
                                             if region else {}))
    _, calls = recorder.run("no-bucket-region", moto_stock.url, {"services": ["s3"], "regions": ["us-east-1"]})
    assert "s3:GET ?location" in calls

    # 5. AWS Config recording S3: replication in bulk (BatchGetResourceConfig), no per-bucket read
    with start_moto(("bucket_region", "s3_tagging_regions", "s3_config_replication")) as config_server:
        aws_env(config_server.url)
        seed_buckets(config_server.url, 20, ["eu-central-1", "us-east-1"], replicate_fraction=0.1,
                     record_config=True)
        _, calls = recorder.run("config-recording", config_server.url, {"services": ["s3"]})
    assert "config:BatchGetResourceConfig" in calls and "s3:GET ?replication" not in calls

    # 6. an AWS Config aggregator (config_aggregator): the organization in bulk, no member account entered
    with start_moto((*ESTATE_PATCHES, "config_aggregator_query")) as aggregator_server:
        aws_env(aggregator_server.url)
        seed_org(aggregator_server.url, 2, ["eu-central-1", "us-east-1"])
        put_org_aggregator(aggregator_server.url)
        _, calls = recorder.run("config-aggregator", aggregator_server.url, {
            "organization": True, "config_aggregator": AGGREGATOR, "services": ["s3", "dynamodb", "rds"],
            "regions": ["eu-central-1", "us-east-1"]})
    assert "config:SelectAggregateResourceConfig" in calls and "sts:AssumeRole" not in calls

    unknown = sorted(set(recorder.operations) - set(AWS_ACTIONS))
    assert not unknown, (f"the scanner calls operations with no IAM mapping: {unknown} (scenarios: "
                         f"{ {op: sorted(recorder.operations[op]) for op in unknown} }); add each to AWS_ACTIONS "
                         "with its IAM action to scanner/kinds.py, then run scripts/generate_from_kinds.py")
    bare = {urlsplit(r.path).path for r in recorder.requests if r.service == "s3" and r.method == "GET"
            and not urlsplit(r.path).query}
    assert bare <= {"/"}, f"S3 GETs without a subresource other than ListBuckets: {bare}"

    needed = {AWS_ACTIONS[op][1] for op in recorder.operations}
    published = aws_published()
    assert not needed - published, f"missing from deploy/aws-iam-policy.json: {sorted(needed - published)}"
    assert not published - needed, f"published but never called (remove them): {sorted(published - needed)}"

    readers = [path for path in (ROOT / "providers").glob("aws*.py") if path.name != "aws_events.py"]
    in_source = set().union(*(operations_in_source(path) for path in readers))
    declared = {call.operation for call in AWS_CALLS}
    called = {AWS_ACTIONS[op][0] for op in recorder.operations}
    assert not (in_source | declared) - called, (
        f"providers/aws*.py or scanner/kinds.py name {sorted((in_source | declared) - called)} but no scenario here "
        "called it: add a scenario so its permission is proven")


@pytest.mark.parametrize("cloud", CLOUDS)
def test_published_roles_are_generated_from_the_registry(cloud):
    """deploy/'s role files list exactly the permissions scanner/kinds.py declares (scripts/generate_from_kinds.py)."""
    committed = ROLE_FILES[cloud].read_text()
    assert committed == render(cloud, committed), (
        f"{ROLE_FILES[cloud]} differs from scanner/kinds.py: run .venv/bin/python scripts/generate_from_kinds.py")


# ---- Azure ---------------------------------------------------------------------------------------------

def azure_permission(path: str) -> str | None:
    bare = urlsplit(path).path
    for pattern, permission in AZURE_PERMISSIONS:
        if re.fullmatch(pattern, bare, flags=re.IGNORECASE):
            return permission
    return None


def test_azure_published_role_is_exactly_what_the_scanner_calls(tmp_path, azure_estate, arm_server):
    section = azure_estate.provider_section()
    full = scan(write_config(tmp_path, {"azure": section}, "full"))
    assert full.status == "complete"
    listing = {key: value for key, value in section.items() if key != "subscriptions"}
    scan(write_config(tmp_path, {"azure": listing}, "subscriptions-listed"))
    bulk = scan(write_config(tmp_path, {"azure": {**section, "resource_graph": True}}, "resource-graph"))
    assert bulk.status == "complete" and bulk.counts["stores"] == full.counts["stores"] > 0

    posts = {urlsplit(path).path.lower() for method, path in arm_server.requests if method != "GET"}
    assert posts == {"/providers/microsoft.resourcegraph/resources"}, posts  # the one POST: a graph query
    paths = [path for _, path in arm_server.requests]
    unknown = sorted({urlsplit(p).path for p in paths if azure_permission(p) is None})
    assert not unknown, f"ARM calls with no permission mapping: {unknown}; add them to AZURE_PERMISSIONS " \
                        "and deploy/azure-role.json"
    needed = {azure_permission(p) for p in paths}
    published = azure_published()
    assert not needed - published, f"missing from deploy/azure-role.json: {sorted(needed - published)}"
    assert not published - needed, f"published but never called (remove them): {sorted(published - needed)}"


# ---- Google Cloud ----------------------------------------------------------------------------------------

def gcp_permission(server: str, path: str) -> str | None:
    for name, pattern, permission in GCP_PERMISSIONS:
        if name == server and re.fullmatch(pattern, path):
            return permission
    return None


def test_gcp_published_role_is_exactly_what_the_scanner_calls(tmp_path, gcp_estate):
    full = scan(write_config(tmp_path, {"gcp": gcp_estate.config_section()}, "full"))
    assert full.status == "complete"
    gcp_estate.bigquery.list_includes_location = False  # a listing without `location`: datasets.get per dataset
    scan(write_config(tmp_path, {"gcp": gcp_estate.config_section(use_organization=False)}, "projects"))
    assert any(re.fullmatch(r"/v1/organizations/[^/]+/assets", r.path) for r in gcp_estate.resources.requests)

    recorded = [(server.name, request) for server in gcp_estate.servers() for request in server.requests]
    assert {request.method for _, request in recorded} == {"GET"}
    unknown = sorted({f"{name} {r.path}" for name, r in recorded if gcp_permission(name, r.path) is None})
    assert not unknown, f"Google API calls with no permission mapping: {unknown}; add them to GCP_PERMISSIONS " \
                        "and deploy/gcp-role.yaml"
    assert any(re.fullmatch(r"/bigquery/v2/projects/[^/]+/datasets/[^/]+", r.path) for _, r in recorded)
    needed = {gcp_permission(name, r.path) for name, r in recorded}
    published = gcp_published()
    assert not needed - published, f"missing from deploy/gcp-role.yaml: {sorted(needed - published)}"
    assert not published - needed, f"published but never called (remove them): {sorted(published - needed)}"
