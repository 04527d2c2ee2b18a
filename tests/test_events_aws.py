"""AWS change events: CloudTrail-shaped events put on an EventBridge bus, routed by the published rule to an SQS
queue (moto server), consumed by the agent's EventHandler: the named store is re-read, judged and alerted."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
import yaml

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID
from demo.cloud_events import cloudtrail, published_rule_pattern, put_events
from demo.cloud_events import route_aws_events as route_events
from providers.aws_events import CALLS, SqsSource, event_pattern, parse
from providers.events import MalformedEvent, OutOfScope
from scanner.kinds import services_of
from scripts.generate_event_rules import FILES, render
from tests.events_world import EventWorld
from tests.fault_proxy import DENIED, FaultProxy, Request, operation_name

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ["eu-central-1", "us-east-1"]
# the IAM action of each SQS API the event source calls (botocore's operation -> the IAM action)
SQS_ACTIONS = {"sqs:ReceiveMessage": "sqs:ReceiveMessage", "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
               "sqs:DeleteMessage": "sqs:DeleteMessage"}


def client(url: str, service: str, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def write_config(tmp_path: Path) -> str:
    config = {
        "home": "EU",
        "companies": [{"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE"}],
        "accounts": {MANAGEMENT_ACCOUNT_ID: {"owner": "acme-europe"}},
        "providers": {"aws": {"services": ["s3", "dynamodb"], "regions": REGIONS, "max_attempts": 1}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def put(url: str, *entries: dict) -> None:
    put_events(url, *entries)


def drain(source: SqsSource, expected: int) -> list:
    """Receive until `expected` messages are in hand (the rule delivers asynchronously)."""
    messages: list = []
    for _ in range(10):
        messages.extend(source.receive())
        if len(messages) >= expected:
            break
    return messages


@pytest.fixture
def world(tmp_path, moto_patched, aws_env):
    aws_env(moto_patched)
    world = EventWorld.open(tmp_path, write_config(tmp_path))
    yield world
    world.close()


def bucket(url: str, name: str, region: str) -> str:
    s3 = client(url, "s3", region)
    s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": {"LocationConstraint": region}}
                                     if region != "us-east-1" else {}))
    return f"arn:aws:s3:::{name}"


def test_a_created_bucket_is_reread_judged_and_alerted_and_duplicates_dropped(world, moto_patched, aws_env):
    url = moto_patched.url
    queue = route_events(url)
    bucket(url, "eu-baseline", "eu-central-1")
    world.scan()

    new_id = bucket(url, "us-customer-data", "us-east-1")
    client(url, "dynamodb", "eu-central-1").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    created = cloudtrail("CreateBucket", "s3", "us-east-1", {"bucketName": "us-customer-data"}, event_id="ev-1")
    put(url, created, created,  # EventBridge delivers at least once: the same event twice
        cloudtrail("CreateTable", "dynamodb", "eu-central-1", {"tableName": "orders"}),
        cloudtrail("GetObject", "s3", "us-east-1", {"bucketName": "us-customer-data"}))  # not matched by the rule

    proxy = FaultProxy(url).start()
    try:
        aws_env(proxy.url)  # the queue and the re-reads, recorded
        source = SqsSource(queue, wait_seconds=1)
        messages = drain(source, 3)
        assert len(messages) == 3, "the rule routes the two store events (one twice), not GetObject"
        recorded = world.handler.handle(source, messages)
        assert source.receive() == [], "handled messages are deleted"
        sqs_calls = {op for op in proxy.operations if op.startswith("sqs:")}
    finally:
        proxy.stop()

    assert recorded is not None
    table_id = f"arn:aws:dynamodb:eu-central-1:{MANAGEMENT_ACCOUNT_ID}:table/orders"
    assert recorded.stores == sorted([new_id, table_id])
    assert world.handler.counts["duplicate"] == 1 and world.handler.counts["reread"] == 2
    history = world.store(new_id)
    assert history["last_scan_id"] == recorded.scan_id
    assert world.state.scan(recorded.scan_id)["status"] == "targeted"
    alerts = world.alerts_about(new_id, recorded.scan_id)
    assert alerts and "US" in json.dumps(alerts[0]["payload"]), "a US bucket fails the EU policy: told at once"
    assert world.store(f"arn:aws:s3:::{'eu-baseline'}")["last_scan_id"] != recorded.scan_id, \
        "only the stores the events named are re-read and recorded"

    # least privilege: the queue is only received from and deleted from
    assert sqs_calls == {"sqs:ReceiveMessage", "sqs:DeleteMessageBatch"}
    policy = json.loads((ROOT / "deploy" / "aws-events-policy.json").read_text())
    published = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert {SQS_ACTIONS[call] for call in sqs_calls} == published


def test_a_deleted_bucket_is_gone_only_once_a_whole_read_confirms_it(world, moto_patched, aws_env):
    url = moto_patched.url
    queue = route_events(url)
    store_id = bucket(url, "short-lived", "eu-central-1")
    world.scan()
    source = SqsSource(queue, wait_seconds=1, endpoint_url=url)

    # the event arrives while the bucket still exists (or the delete failed): not gone
    put(url, cloudtrail("DeleteBucket", "s3", "eu-central-1", {"bucketName": "short-lived"}))
    world.handler.handle(source, drain(source, 1))
    assert world.store(store_id)["gone_at"] is None

    # deleted, but the re-read is denied: a partial read concludes nothing
    client(url, "s3", "eu-central-1").delete_bucket(Bucket="short-lived")
    put(url, cloudtrail("DeleteBucket", "s3", "eu-central-1", {"bucketName": "short-lived"}))
    proxy = FaultProxy(url).start()
    proxy.deny(lambda request: request.service == "s3", DENIED)
    try:
        aws_env(proxy.url)
        world.handler.handle(source, drain(source, 1))
    finally:
        proxy.stop()
    assert world.handler.counts["reread_partial"] == 1
    assert world.store(store_id)["gone_at"] is None, "never gone from an event and a partial read"

    # the event comes again with the read working: confirmed gone
    aws_env(url)
    put(url, cloudtrail("DeleteBucket", "s3", "eu-central-1", {"bucketName": "short-lived"}))
    recorded = world.handler.handle(source, drain(source, 1))
    assert recorded is not None and recorded.gone == [store_id]
    assert world.store(store_id)["gone_scan_id"] == recorded.scan_id
    assert world.handler.counts["confirmed_gone"] == 1


def test_an_s3_event_rereads_only_its_bucket_and_gone_needs_s3_to_say_so(world, moto_patched, aws_env):
    """Issue 18: an S3 event re-reads the bucket it names (its location, replication, tags, encryption), never the
    account's S3 inventory (no ListBuckets, GetResources or AWS Config); a deleted bucket is gone only once S3
    answers NoSuchBucket, never when its location is denied."""
    url = moto_patched.url
    queue = route_events(url)
    bucket(url, "eu-neighbour", "eu-central-1")
    named = bucket(url, "eu-named", "eu-central-1")
    world.scan()
    s3 = client(url, "s3", "eu-central-1")
    s3.put_bucket_tagging(Bucket="eu-named", Tagging={"TagSet": [{"Key": "data-class", "Value": "personal"}]})
    s3.put_bucket_tagging(Bucket="eu-neighbour", Tagging={"TagSet": [{"Key": "data-class", "Value": "personal"}]})
    put(url, cloudtrail("PutBucketTagging", "s3", "eu-central-1", {"bucketName": "eu-named"}))

    requests: list[Request] = []
    proxy = FaultProxy(url).start()
    proxy.deny(lambda request: requests.append(request) is None and False)  # records, never denies
    try:
        aws_env(proxy.url)
        source = SqsSource(queue, wait_seconds=1)
        recorded = world.handler.handle(source, drain(source, 1))
    finally:
        proxy.stop()

    assert recorded is not None and recorded.stores == [named]
    assert world.store(named)["document"]["tags"] == {"data-class": "personal"}
    reads = [r for r in requests if r.service != "sqs"]
    assert {operation_name(r) for r in reads} == {"s3:GET ?location", "s3:GET ?replication", "s3:GET ?tagging",
                                                  "s3:GET ?encryption"}
    assert {urlsplit(r.path).path for r in reads} == {"/eu-named"}, "only the named bucket is read"
    assert world.store("arn:aws:s3:::eu-neighbour")["last_scan_id"] != recorded.scan_id

    # deleted; the event's re-read finds its location denied: nothing is concluded
    s3.delete_bucket(Bucket="eu-named")
    put(url, cloudtrail("DeleteBucket", "s3", "eu-central-1", {"bucketName": "eu-named"}))
    proxy = FaultProxy(url).start()
    proxy.deny(lambda request: operation_name(request) == "s3:GET ?location", DENIED)
    try:
        aws_env(proxy.url)
        source = SqsSource(queue, wait_seconds=1)
        assert world.handler.handle(source, drain(source, 1)) is None
    finally:
        proxy.stop()
    assert world.store(named)["gone_at"] is None, "a denied location is not an absent bucket"

    # S3 says NoSuchBucket: gone, and only that bucket
    aws_env(url)
    put(url, cloudtrail("DeleteBucket", "s3", "eu-central-1", {"bucketName": "eu-named"}))
    source = SqsSource(queue, wait_seconds=1)
    recorded = world.handler.handle(source, drain(source, 1))
    assert recorded is not None and recorded.gone == [named]
    assert world.store("arn:aws:s3:::eu-neighbour")["gone_at"] is None


def test_a_lost_event_is_caught_by_the_next_scheduled_scan(world, moto_patched):
    url = moto_patched.url
    route_events(url)
    world.scan()
    store_id = bucket(url, "event-lost", "us-east-1")  # its CreateBucket event never reaches the queue
    scan = world.scan()
    assert world.store(store_id)["first_scan_id"] == scan.id
    assert world.alerts_about(store_id, scan.id)


def test_malformed_and_out_of_order_events_are_counted_logged_and_dropped(world, moto_patched, caplog):
    url = moto_patched.url
    queue = route_events(url)
    store_id = bucket(url, "ordered", "eu-central-1")
    world.scan()
    sqs = client(url, "sqs")
    for body in ("not json", json.dumps({"detail-type": "AWS API Call via CloudTrail"}),
                 json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {
                     "eventSource": "s3.amazonaws.com", "eventName": "CreateBucket", "awsRegion": "eu-central-1",
                     "recipientAccountId": MANAGEMENT_ACCOUNT_ID, "eventID": "x", "eventTime": "yesterday",
                     "requestParameters": {"bucketName": "ordered"}}})):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    now = dt.datetime.now(dt.UTC)
    put(url, cloudtrail("PutBucketTagging", "s3", "eu-central-1", {"bucketName": "ordered"}, when=now))
    source = SqsSource(queue, wait_seconds=1, endpoint_url=url)
    first = world.handler.handle(source, drain(source, 4))
    assert first is not None and first.stores == [store_id]
    assert world.handler.counts["malformed"] == 3
    assert "malformed event: not JSON" in caplog.text and "detail.eventTime: expected an ISO 8601 time" in caplog.text

    put(url, cloudtrail("CreateBucket", "s3", "eu-central-1", {"bucketName": "ordered"},
                        when=now - dt.timedelta(minutes=5)))  # older than the change already handled
    assert world.handler.handle(source, drain(source, 1)) is None
    assert world.handler.counts["out_of_order"] == 1
    assert source.receive() == [], "dropped messages are deleted too"


def test_every_registry_service_has_its_change_calls_and_the_deploy_files_are_generated():
    assert set(CALLS) == set(services_of("aws")), "a kind in scanner/kinds.py has no CloudTrail calls in CALLS"
    pattern = event_pattern()
    for call in ("CreateBucket", "DeleteBucket", "PutBucketReplication", "PutBucketTagging", "PutBucketEncryption",
                 "CreateTable", "UpdateTable", "DeleteTable", "CreateDBInstance", "ModifyDBCluster",
                 "DeleteGlobalCluster", "UpdateBackupPlan"):
        assert call in pattern["detail"]["eventName"]
    for which, path in FILES.items():
        assert path.read_text() == render(which), f"{path}: run .venv/bin/python scripts/generate_event_rules.py"
    assert published_rule_pattern() == pattern


@pytest.mark.parametrize(("detail", "expected"), [
    ({"eventSource": "dynamodb.amazonaws.com", "eventName": "TagResource",
      "requestParameters": {"resourceArn": "arn:aws:dynamodb:eu-west-1:111111111111:table/orders"}},
     ("dynamodb", "orders")),
    ({"eventSource": "rds.amazonaws.com", "eventName": "ModifyDBCluster",
      "requestParameters": {"dBClusterIdentifier": "ledger"}}, ("rds", "ledger")),
    ({"eventSource": "backup.amazonaws.com", "eventName": "UpdateBackupPlan", "requestParameters": {}}, ("*", None)),
    ({"eventSource": "redshift-serverless.amazonaws.com", "eventName": "CreateSnapshotCopyConfiguration",
      "requestParameters": {"namespaceName": "finance", "destinationRegion": "us-east-1"}},
     ("redshift-serverless", "finance")),
    ({"eventSource": "redshift-serverless.amazonaws.com", "eventName": "TagResource", "requestParameters": {
        "resourceArn": "arn:aws:redshift-serverless:eu-west-1:111111111111:namespace/0b5f2c7e"}},
     ("redshift-serverless", None)),
    ({"eventSource": "ec2.amazonaws.com", "eventName": "CopySnapshot", "requestParameters": {},
      "responseElements": {"snapshotId": "snap-0123"}}, ("ebs", "snap-0123")),
])
def test_parse_names_the_store_and_service(detail, expected):
    body = {"detail-type": "AWS API Call via CloudTrail", "id": "e", "detail": {
        "awsRegion": "eu-west-1", "recipientAccountId": "111111111111", "eventID": "1",
        "eventTime": "2026-12-05T10:00:00Z", **detail}}
    hint = parse(json.dumps(body))
    assert (hint.service, hint.name) == expected and hint.account == "111111111111"


def test_parse_refuses_failed_calls_and_foreign_events():
    base = {"detail-type": "AWS API Call via CloudTrail", "detail": {
        "eventSource": "s3.amazonaws.com", "eventName": "CreateBucket", "awsRegion": "eu-west-1", "eventID": "1",
        "recipientAccountId": "1", "eventTime": "2026-12-05T10:00:00Z", "errorCode": "AccessDenied"}}
    with pytest.raises(OutOfScope, match="failed"):
        parse(json.dumps(base))
    with pytest.raises(MalformedEvent, match="detail-type"):
        parse(json.dumps({"detail-type": "Object Created"}))
