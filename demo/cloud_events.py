"""Change events as each cloud delivers them, for the event tests and bench/events.py, with the routing in
front of the agent's queues on the emulators:

- AWS: a CloudTrail management event as a PutEvents entry on the security account's bus, routed by the
  published rule (deploy/aws-events-security-account.yaml) to the SQS queue (`route_aws_events`);
- Azure: an Event Grid event (Event Grid schema) as Event Grid writes it to a Storage queue (Base64 JSON);
- Google Cloud: a Cloud Audit Logs LogEntry as a log sink publishes it to Pub/Sub (JSON).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import yaml

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID

ROOT = Path(__file__).resolve().parent.parent
BUS = "custody-events"
RULE_TEMPLATE = ROOT / "deploy" / "aws-events-security-account.yaml"


def _client(url: str, service: str, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=url, region_name=region, aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def published_rule_pattern() -> dict[str, Any]:
    """The event pattern of the rule deploy/ publishes."""
    return yaml.safe_load(RULE_TEMPLATE.read_text())["Resources"]["Rule"]["Properties"]["EventPattern"]


def route_aws_events(url: str, queue_name: str = "custody-events") -> str:
    """The security account's bus, the published rule and the queue it targets, on a moto server; the queue URL."""
    sqs, events = _client(url, "sqs"), _client(url, "events")
    queue = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.create_event_bus(Name=BUS)
    events.put_rule(Name="custody-store-changes", EventBusName=BUS, EventPattern=json.dumps(published_rule_pattern()))
    events.put_targets(Rule="custody-store-changes", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])
    return queue


def cloudtrail(call: str, source: str, region: str, params: dict[str, Any], when: dt.datetime | None = None,
               event_id: str | None = None, response: dict[str, Any] | None = None,
               account: str = MANAGEMENT_ACCOUNT_ID) -> dict[str, Any]:
    """A PutEvents entry shaped like the CloudTrail management event EventBridge delivers for `call`."""
    when = when or dt.datetime.now(dt.UTC)
    detail = {"eventVersion": "1.09", "eventSource": f"{source}.amazonaws.com", "eventName": call,
              "awsRegion": region, "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "eventID": event_id or str(uuid.uuid4()), "recipientAccountId": account,
              "userIdentity": {"type": "AssumedRole", "accountId": account},
              "requestParameters": params, "responseElements": response, "eventType": "AwsApiCall",
              "managementEvent": True, "readOnly": False}
    return {"Source": f"aws.{source}", "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(detail),
            "EventBusName": BUS}


def put_events(url: str, *entries: dict[str, Any]) -> None:
    answer = _client(url, "events").put_events(Entries=list(entries))
    if answer["FailedEntryCount"]:
        raise RuntimeError(f"PutEvents failed: {answer['Entries']}")


def event_grid(resource_id: str, write: bool = True, event_id: str | None = None,
               when: dt.datetime | None = None, operation: str | None = None) -> str:
    """One Event Grid event of a subscription topic, as Event Grid puts it on a Storage queue (Base64 JSON)."""
    sub = resource_id.split("/")[2]
    kind = "ResourceWriteSuccess" if write else "ResourceDeleteSuccess"
    resource_type = "/".join(resource_id.split("/providers/", 1)[1].split("/")[0:2])
    verb = "write" if write else "delete"
    event = {
        "subject": resource_id, "eventType": f"Microsoft.Resources.{kind}",
        "eventTime": (when or dt.datetime.now(dt.UTC)).isoformat().replace("+00:00", "Z"),
        "id": event_id or str(uuid.uuid4()), "dataVersion": "2", "metadataVersion": "1",
        "topic": f"/subscriptions/{sub}",
        "data": {"authorization": {"scope": resource_id, "action": f"{resource_type}/{verb}",
                                   "evidence": {"role": "Contributor"}},
                 "claims": {}, "correlationId": str(uuid.uuid4()), "resourceProvider": resource_type.split("/")[0],
                 "resourceUri": resource_id, "status": "Succeeded", "subscriptionId": sub,
                 "operationName": operation or f"{resource_type}/{verb}",
                 "tenantId": "00000000-0000-0000-0000-000000000000"},
    }
    return base64.b64encode(json.dumps(event).encode()).decode()


def audit_entry(method: str, bucket: str, project: str, when: dt.datetime | None = None,
                insert_id: str | None = None) -> bytes:
    """A Cloud Audit Logs LogEntry for a Cloud Storage bucket, as a log sink publishes it to Pub/Sub (JSON)."""
    entry = {
        "insertId": insert_id or uuid.uuid4().hex[:12],
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                         "serviceName": "storage.googleapis.com", "methodName": method,
                         "resourceName": f"projects/_/buckets/{bucket}", "status": {},
                         "authenticationInfo": {"principalEmail": "dev@example.com"}},
        "resource": {"type": "gcs_bucket", "labels": {"bucket_name": bucket, "project_id": project}},
        "timestamp": (when or dt.datetime.now(dt.UTC)).isoformat().replace("+00:00", "Z"),
        "severity": "NOTICE",
    }
    return json.dumps(entry).encode()
