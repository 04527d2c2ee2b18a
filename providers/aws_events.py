"""AWS change events: CloudTrail management events routed by EventBridge to an SQS queue, as hints.

The rule (deploy/aws-events.yaml, its pattern from `event_pattern()`) matches the CloudTrail calls that
create, delete or change a store of a kind in scanner/kinds.py or its copies (`CALLS`, one entry per config
service; tests/test_events_aws.py fails when a registry service has none). Member accounts forward those
events to an event bus in the security account; the rule there sends them to one queue, which the agent
long-polls (ReceiveMessage, WaitTimeSeconds up to 20) and from which it deletes what it has handled. Those
two calls (`sqs:ReceiveMessage`, `sqs:DeleteMessage` on that queue) are all the events need
(deploy/aws-events-policy.json); the re-read uses the scanner's own read-only role.

A message body is the EventBridge envelope (`detail-type` "AWS API Call via CloudTrail", `detail` the
CloudTrail record): the account is `detail.recipientAccountId` (else the envelope's `account`), the region
`detail.awsRegion`, the store the request's (or response's) identifier field named in `CALLS`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from providers.aws import AwsProvider
from providers.base import Provider
from providers.events import DELETE, WRITE, Hint, MalformedEvent, Message, OutOfScope, QueueSource, event_time, require

DETAIL_TYPE = "AWS API Call via CloudTrail"
ANY_SERVICE = "*"  # a backup plan's change: its copies land on stores of every kind in the region


@dataclasses.dataclass(frozen=True)
class Calls:
    """The CloudTrail calls of one config service that change a store or its copies."""

    event_source: str  # CloudTrail eventSource, e.g. "s3.amazonaws.com"
    writes: tuple[str, ...]
    deletes: tuple[str, ...] = ()
    name_fields: tuple[str, ...] = ()  # requestParameters / responseElements fields naming the store, first found
    whole_region: tuple[str, ...] = ()  # calls that change the copies of other stores: every service re-read

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.writes, *self.deletes)


CALLS: dict[str, Calls] = {
    "s3": Calls("s3.amazonaws.com",
                ("CreateBucket", "PutBucketReplication", "DeleteBucketReplication", "PutBucketTagging",
                 "DeleteBucketTagging", "PutBucketEncryption", "DeleteBucketEncryption"),
                ("DeleteBucket",), ("bucketName",)),
    "dynamodb": Calls("dynamodb.amazonaws.com",
                      ("CreateTable", "UpdateTable", "TagResource", "UntagResource", "CreateGlobalTable",
                       "UpdateGlobalTable", "RestoreTableFromBackup", "RestoreTableToPointInTime", "CreateBackup",
                       "UpdateContinuousBackups"),
                      ("DeleteTable",), ("tableName", "targetTableName", "globalTableName", "resourceArn")),
    "rds": Calls("rds.amazonaws.com",
                 ("CreateDBInstance", "CreateDBInstanceReadReplica", "ModifyDBInstance",
                  "RestoreDBInstanceFromDBSnapshot", "RestoreDBInstanceToPointInTime",
                  "StartDBInstanceAutomatedBackupsReplication", "StopDBInstanceAutomatedBackupsReplication",
                  "PromoteReadReplica", "CreateDBCluster", "ModifyDBCluster", "RestoreDBClusterFromSnapshot",
                  "PromoteReadReplicaDBCluster", "CreateGlobalCluster", "ModifyGlobalCluster",
                  "RemoveFromGlobalCluster", "FailoverGlobalCluster", "AddTagsToResource", "RemoveTagsFromResource"),
                 ("DeleteDBInstance", "DeleteDBCluster", "DeleteGlobalCluster"),
                 ("dBInstanceIdentifier", "dBClusterIdentifier", "targetDBInstanceIdentifier",
                  "resourceName")),
    "ebs": Calls("ec2.amazonaws.com", ("CreateSnapshot", "CopySnapshot", "CreateSnapshots", "CreateTags",
                                       "DeleteTags"),
                 ("DeleteSnapshot",), ("snapshotId",)),
    "efs": Calls("elasticfilesystem.amazonaws.com",
                 ("CreateFileSystem", "CreateReplicationConfiguration", "DeleteReplicationConfiguration",
                  "TagResource", "UntagResource"),
                 ("DeleteFileSystem",), ("fileSystemId", "sourceFileSystemId", "resourceId")),
    "redshift": Calls("redshift.amazonaws.com",
                      ("CreateCluster", "ModifyCluster", "RestoreFromClusterSnapshot", "EnableSnapshotCopy",
                       "DisableSnapshotCopy", "ModifySnapshotCopyRetentionPeriod", "CreateTags", "DeleteTags"),
                      ("DeleteCluster",), ("clusterIdentifier",)),
    # (Un)TagResource's resourceArn names a namespace by its id, not its name: no name, the region's are re-read;
    # Update/DeleteSnapshotCopyConfiguration name only the configuration's id: likewise
    "redshift-serverless": Calls("redshift-serverless.amazonaws.com",
                                 ("CreateNamespace", "UpdateNamespace", "CreateSnapshotCopyConfiguration",
                                  "UpdateSnapshotCopyConfiguration", "DeleteSnapshotCopyConfiguration",
                                  "TagResource", "UntagResource"),
                                 ("DeleteNamespace",), ("namespaceName",)),
    "backup": Calls("backup.amazonaws.com",
                    ("CreateBackupVault", "CreateBackupPlan", "UpdateBackupPlan", "CreateBackupSelection",
                     "DeleteBackupPlan", "DeleteBackupSelection", "TagResource", "UntagResource",
                     "PutBackupVaultLockConfiguration", "DeleteBackupVaultLockConfiguration"),
                    ("DeleteBackupVault",), ("backupVaultName",),
                    whole_region=("CreateBackupPlan", "UpdateBackupPlan", "CreateBackupSelection",
                                  "DeleteBackupPlan", "DeleteBackupSelection")),
    "glacier": Calls("glacier.amazonaws.com", ("CreateVault", "AddTagsToVault", "RemoveTagsFromVault"),
                     ("DeleteVault",), ("vaultName",)),
    # caches, search domains and FSx (providers/aws_kinds_cache.py, providers/aws_kinds_fsx.py): a copy made in
    # another region (CopyBackup, a global datastore's or multi-region cluster's member) is logged there; the source
    # store learns of it at its own region's next read
    "fsx": Calls("fsx.amazonaws.com",
                 ("CreateFileSystem", "CreateFileSystemFromBackup", "UpdateFileSystem", "CreateBackup", "CopyBackup",
                  "TagResource", "UntagResource"),
                 ("DeleteFileSystem", "DeleteBackup"), ("fileSystemId",)),
    "elasticache": Calls("elasticache.amazonaws.com",
                         ("CreateReplicationGroup", "ModifyReplicationGroup", "CreateGlobalReplicationGroup",
                          "ModifyGlobalReplicationGroup", "DisassociateGlobalReplicationGroup",
                          "FailoverGlobalReplicationGroup", "AddTagsToResource", "RemoveTagsFromResource"),
                         ("DeleteReplicationGroup", "DeleteGlobalReplicationGroup"),
                         ("replicationGroupId", "primaryReplicationGroupId", "resourceName")),
    "memorydb": Calls("memorydb.amazonaws.com",
                      ("CreateCluster", "UpdateCluster", "CreateMultiRegionCluster", "UpdateMultiRegionCluster",
                       "TagResource", "UntagResource"),
                      ("DeleteCluster", "DeleteMultiRegionCluster"), ("clusterName", "resourceArn")),
    "opensearch": Calls("es.amazonaws.com",
                        ("CreateDomain", "UpdateDomainConfig", "CreateOutboundConnection", "AcceptInboundConnection",
                         "AddTags", "RemoveTags"),
                        ("DeleteDomain", "DeleteOutboundConnection", "DeleteInboundConnection",
                         "RejectInboundConnection"), ("domainName",)),
}
BY_CALL = {(calls.event_source, name): service for service, calls in CALLS.items() for name in calls.names}
# EC2 tags name many resource types: only a snapshot's are ours
EC2_TAGGED_PREFIX = "snap-"


def event_pattern() -> dict[str, Any]:
    """The EventBridge rule's event pattern (deploy/aws-events.yaml holds the same)."""
    sources = sorted({calls.event_source for calls in CALLS.values()})
    names = sorted({name for calls in CALLS.values() for name in calls.names})
    return {
        "source": sorted(f"aws.{source.split('.')[0]}" for source in sources),
        "detail-type": [DETAIL_TYPE],
        "detail": {"eventSource": sources, "eventName": names},
    }


def parse(body: str) -> Hint:
    """One SQS message body → a Hint; MalformedEvent or OutOfScope (one line) otherwise."""
    try:
        envelope = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"not JSON ({exc})") from None
    if not isinstance(envelope, dict) or envelope.get("detail-type") != DETAIL_TYPE:
        raise MalformedEvent(f"expected an EventBridge event with detail-type {DETAIL_TYPE!r}")
    detail = require(envelope, "detail")
    source, call = require(envelope, "detail", "eventSource"), require(envelope, "detail", "eventName")
    service = BY_CALL.get((source, call))
    if service is None:
        raise OutOfScope(f"{source} {call} changes no store kind Custody reads")
    if detail.get("errorCode"):
        raise OutOfScope(f"{call} failed ({detail['errorCode']}): nothing changed")
    account = detail.get("recipientAccountId") or envelope.get("account")
    if not account:
        raise MalformedEvent("missing detail.recipientAccountId (and the envelope's account)")
    calls = CALLS[service]
    name = _store_name(detail, calls.name_fields)
    if call in calls.whole_region:
        service, name = ANY_SERVICE, None
    if service == "ebs" and name is not None and not name.startswith(EC2_TAGGED_PREFIX):
        raise OutOfScope(f"{call} on {name}: not a snapshot")
    return Hint(provider="aws", account=str(account), region=require(envelope, "detail", "awsRegion"), service=service,
                event_id=str(detail.get("eventID") or require(envelope, "id")),
                event_time=event_time(require(envelope, "detail", "eventTime"), "detail.eventTime"),
                action=DELETE if call in calls.deletes else WRITE, operation=f"{source.split('.')[0]}:{call}",
                name=name)


def _store_name(detail: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    for part in ("requestParameters", "responseElements"):
        values = detail.get(part) or {}
        if not isinstance(values, dict):
            continue
        for field in fields:
            value = values.get(field)
            if isinstance(value, dict):  # e.g. CreateSnapshots' nested answers
                continue
            if value:
                return _last_part(str(value))
        tagged = values.get("resourcesSet")
        resources = tagged.get("items") if isinstance(tagged, dict) else None
        if resources:  # EC2 CreateTags/DeleteTags
            return _last_part(str(resources[0].get("resourceId", ""))) or None
    return None


def _last_part(value: str) -> str:
    """A name from an ARN (…:table/orders, …:db:orders) or a plain name."""
    if not value.startswith("arn:"):
        return value
    tail = value.split(":", 5)[-1]
    return tail.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def narrow(provider: Provider, hint: Hint) -> tuple[Provider, list[str]]:
    """A copy of the AWS provider that reads only the hint's service in the hint's region of its account (for S3,
    only the bucket the hint names)."""
    if not isinstance(provider, AwsProvider):
        raise TypeError(f"not an AWS provider: {provider.name}")
    settings = provider.settings
    if hint.account in settings.exclude_accounts:
        raise OutOfScope(f"account {hint.account} is in exclude_accounts")
    if settings.regions and hint.region not in settings.regions:
        raise OutOfScope(f"region {hint.region} is not in providers.aws.regions")
    services = settings.services if hint.service == ANY_SERVICE else (hint.service,)
    if not set(services) <= set(settings.services):
        raise OutOfScope(f"service {hint.service} is not in providers.aws.services")
    # an S3 event reads only its bucket (GetBucketLocation, then that bucket's replication, tags and encryption)
    buckets = (hint.name,) if hint.service == "s3" and hint.name else ()
    narrowed = AwsProvider(dataclasses.replace(settings, regions=(hint.region,), services=tuple(services),
                                               buckets=buckets), provider._session)
    narrowed._identity = provider._identity  # the caller's account, looked up once
    return narrowed, [hint.account]


class SqsSource(QueueSource):
    """Long-polls one SQS queue; deletes a message once it is handled."""

    parse_body = staticmethod(parse)
    narrow_to = staticmethod(narrow)

    def __init__(self, queue_url: str, region: str | None = None, wait_seconds: int = 20, batch: int = 10,
                 session: boto3.Session | None = None, endpoint_url: str | None = None) -> None:
        self.name = f"aws:{queue_url.rsplit('/', 1)[-1]}"
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self.batch = batch
        config = BotoConfig(retries={"mode": "adaptive", "max_attempts": 4}, connect_timeout=5,
                            read_timeout=wait_seconds + 10)
        self.client = (session or boto3.Session()).client("sqs", region_name=region or _queue_region(queue_url),
                                                          config=config, endpoint_url=endpoint_url)

    def receive(self) -> list[Message]:
        answer = self.client.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch,
                                             WaitTimeSeconds=self.wait_seconds)
        return [Message(item.get("Body"), item["ReceiptHandle"], self.name) for item in answer.get("Messages", [])]

    def delete(self, messages: Iterable[Message]) -> None:
        entries = [{"Id": str(index), "ReceiptHandle": message.receipt} for index, message in enumerate(messages)]
        for start in range(0, len(entries), 10):  # DeleteMessageBatch: at most 10 entries
            self.client.delete_message_batch(QueueUrl=self.queue_url, Entries=entries[start:start + 10])


def _queue_region(queue_url: str) -> str | None:
    """sqs.<region>.amazonaws.com/<account>/<name> → region (None for another host: boto3's default)."""
    host = queue_url.split("//", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[1] if len(parts) > 3 and parts[0] == "sqs" else None
