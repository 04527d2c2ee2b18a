"""Detection latency from a change event to its alert, against the scheduled scan, in one run on the emulators.

    .venv/bin/python -m bench.events --events 120 --json bench/results/events-latest.json

The estate: N S3 buckets over 4 regions and DynamoDB tables on moto, the demo Azure estate on the ARM server, the
demo GCP estate on the GCS/BigQuery/asset fakes. The queues: moto's EventBridge bus with the published rule
routing to SQS, a Storage queue in Azurite, a Pub/Sub subscription on demo/pubsub_server.py. The agent's side is
what `agent.py run` starts: one EventConsumer thread per queue (SQS long poll 20 s, Storage queue polled every
second when empty, Pub/Sub Pull), one EventHandler, the state store (SQLite) and the alert pipeline.

1. Baseline: full scans of the same estate (the scheduled scan), `--scans` times; its median wall time.
2. Events, one at a time, round robin over the three clouds: a new store is created in a US region (so it fails
   the EU policy and is alerted), its change event is put where the cloud would put it, and the latency is the
   time from just before that put to the moment its alert is queued in the outbox (the targeted scan recorded and
   the alert pipeline run). Median and 95th percentile, per cloud and overall.
3. A last full scan, and every event-created store compared with it: same status and locations (the event path
   and the schedule must agree).

With an hourly schedule a store is found on average half an hour after it appears, plus the scan; the report gives
the ratios of event latency to the full scan's wall time and to that expected scheduled latency. The 2 cores are
shared with other work: compare the ratios of one run, not times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import yaml
from azure.storage.queue import QueueClient
from google.pubsub_v1 import PublisherClient, PubsubMessage, SubscriberClient

from demo.arm_server import ArmServer
from demo.aws_estate import MANAGEMENT_ACCOUNT_ID
from demo.azure_estate import SUB_EU, seed_estate
from demo.azurite_server import start_azurite
from demo.cloud_events import audit_entry, cloudtrail, event_grid, put_events, route_aws_events
from demo.gcp_estate import EU_PROJECT, GCP_OWNERS, gcp_accounts, start_gcp_estate
from demo.moto_server import start_moto
from demo.pubsub_server import PubSubServer
from providers.aws_events import SqsSource
from providers.azure_events import StorageQueueSource
from providers.gcp_events import PubSubSource
from runtime.events import EventConsumer, Recorded
from tests.events_world import EventWorld

AWS_REGIONS = ["us-east-1", "eu-central-1", "eu-west-1", "ap-northeast-1"]
SCHEDULE_S = 3600  # the default schedule: hourly
TOPIC = "projects/security/topics/custody-events"
SUBSCRIPTION = "projects/security/subscriptions/custody-events"
TIMEOUT_S = 60.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {"events": len(values), "median_s": round(statistics.median(values), 3),
            "p95_s": round(percentile(values, 0.95), 3), "max_s": round(max(values), 3)}


class Clock:
    """When each store's alert was queued (the handler's on_recorded, after the alert pipeline ran)."""

    def __init__(self, world: EventWorld) -> None:
        self.world = world
        self.alerted: dict[str, float] = {}
        self.changed = threading.Condition()

    def on_recorded(self, recorded: Recorded) -> None:
        self.world.pipeline.process()
        now = time.monotonic()
        with self.changed:
            for store_id in recorded.stores:
                self.alerted.setdefault(store_id, now)
            self.changed.notify_all()

    def wait(self, store_id: str) -> float:
        deadline = time.monotonic() + TIMEOUT_S
        with self.changed:
            while store_id not in self.alerted:
                if not self.changed.wait(timeout=deadline - time.monotonic()) and time.monotonic() >= deadline:
                    raise TimeoutError(f"no alert for {store_id} within {TIMEOUT_S} s")
            return self.alerted[store_id]


def seed_aws(url: str, buckets: int) -> None:
    for index in range(buckets):
        region = AWS_REGIONS[index % len(AWS_REGIONS)]
        s3 = boto3.client("s3", endpoint_url=url, region_name=region, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=f"seed-{index:05d}", **extra)
    for region in AWS_REGIONS[:2]:
        boto3.client("dynamodb", endpoint_url=url, region_name=region, aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_table(
            TableName=f"orders-{region}", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120, help="change events, round robin over the clouds")
    parser.add_argument("--buckets", type=int, default=200, help="S3 buckets in the AWS estate")
    parser.add_argument("--scans", type=int, default=3, help="full scans for the baseline")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp_dir, start_moto(("bucket_region",)) as moto, \
            start_azurite() as azurite, ArmServer() as arm, PubSubServer() as pubsub:
        tmp = Path(tmp_dir)
        gcp = start_gcp_estate()
        try:
            return run(args, tmp, moto.url, azurite.connection_string, arm, gcp, pubsub)
        finally:
            gcp.stop()


def run(args: argparse.Namespace, tmp: Path, moto_url: str, azurite: str, arm: ArmServer, gcp: Any,
        pubsub: PubSubServer) -> int:
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_url,
                       "AWS_CONFIG_FILE": str(tmp / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none"),
                       "AWS_EC2_METADATA_DISABLED": "true", "PUBSUB_EMULATOR_HOST": pubsub.host})
    print("seeding ...", file=sys.stderr, flush=True)
    seed_aws(moto_url, args.buckets)
    azure = seed_estate(arm)
    os.environ.update(azure.environment())
    queue_url = route_aws_events(moto_url)
    QueueClient.from_connection_string(azurite, "custody-events").create_queue()
    PublisherClient().create_topic(name=TOPIC)
    SubscriberClient().create_subscription(name=SUBSCRIPTION, topic=TOPIC, ack_deadline_seconds=60)
    config = {
        "home": "EU",
        "companies": [{"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
                      {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"},
                      {"id": "acme-brasil", "name": "Acme Brasil Ltda", "country": "BR", "parent": "acme-inc"},
                      *GCP_OWNERS],
        "accounts": {MANAGEMENT_ACCOUNT_ID: {"owner": "acme-europe"}, **azure.accounts(), **gcp_accounts()},
        "providers": {"aws": {"regions": AWS_REGIONS, "services": ["s3", "dynamodb"], "max_attempts": 2},
                      "azure": azure.provider_section(), "gcp": gcp.config_section()},
    }
    (tmp / "custody.yaml").write_text(yaml.safe_dump(config))
    world = EventWorld.open(tmp, str(tmp / "custody.yaml"))
    clock = Clock(world)
    world.handler.on_recorded = clock.on_recorded

    print("baseline: full scans ...", file=sys.stderr, flush=True)
    scans = []
    for _ in range(args.scans):
        started = time.perf_counter()
        scan = world.scan()
        scans.append(time.perf_counter() - started)
        if scan.status != "complete":
            print(f"baseline scan {scan.id} is {scan.status}: {scan.coverage_gaps}", file=sys.stderr)
            return 1
    full_scan_s = statistics.median(scans)

    stopping = threading.Event()
    sources = [SqsSource(queue_url, wait_seconds=20),
               StorageQueueSource(connection_string=azurite, queue="custody-events", stopping=stopping),
               PubSubSource(SUBSCRIPTION)]
    consumers = [EventConsumer(source, world.handler, stopping) for source in sources]
    for consumer in consumers:
        consumer.start()
    storage_queue = QueueClient.from_connection_string(azurite, "custody-events")
    publisher = PublisherClient()

    def aws_change(index: int) -> tuple[str, Callable[[], None]]:
        name = f"event-us-{index:05d}"
        boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1").create_bucket(Bucket=name)
        return f"arn:aws:s3:::{name}", lambda: put_events(
            moto_url, cloudtrail("CreateBucket", "s3", "us-east-1", {"bucketName": name}))

    def azure_change(index: int) -> tuple[str, Callable[[], None]]:
        doc = arm.add_storage_account(SUB_EU, "rg-prod-eu", f"evus{index:05d}", "eastus", "Standard_LRS")
        return doc["id"], lambda: storage_queue.send_message(event_grid(doc["id"]))

    def gcp_change(index: int) -> tuple[str, Callable[[], None]]:
        name = f"nw-event-us-{index:05d}"
        gcp.gcs.add_bucket(EU_PROJECT, name, "US-EAST1")
        data = audit_entry("storage.buckets.create", name, EU_PROJECT)
        return f"//storage.googleapis.com/projects/_/buckets/{name}", lambda: publisher.publish(
            topic=TOPIC, messages=[PubsubMessage(data=data)])

    changes = {"aws": aws_change, "azure": azure_change, "gcp": gcp_change}
    latencies: dict[str, list[float]] = {cloud: [] for cloud in changes}
    created: list[str] = []
    print(f"{args.events} events ...", file=sys.stderr, flush=True)
    try:
        for index in range(args.events):
            cloud = list(changes)[index % len(changes)]
            store_id, emit = changes[cloud](index)
            started = time.monotonic()
            emit()
            latencies[cloud].append(clock.wait(store_id) - started)
            created.append(store_id)
    finally:
        stopping.set()
        for consumer in consumers:
            consumer.join(timeout=25)

    final = world.scan()
    mismatched = compare_with_full_scan(world, created, final.id)
    alerted = sum(1 for store_id in created if world.alerts_about(store_id))
    every = [value for values in latencies.values() for value in values]
    overall = summary(every)
    scheduled_mean_s = SCHEDULE_S / 2 + full_scan_s
    result = {
        "events": args.events, "aws_buckets": args.buckets, "full_scan_s": round(full_scan_s, 3),
        "full_scans_s": [round(value, 3) for value in scans],
        "event_latency": overall, "by_cloud": {cloud: summary(values) for cloud, values in latencies.items()},
        "scheduled_hourly_mean_latency_s": round(scheduled_mean_s, 1),
        "ratio_median_to_full_scan": round(overall["median_s"] / full_scan_s, 3),
        "ratio_p95_to_full_scan": round(overall["p95_s"] / full_scan_s, 3),
        "ratio_median_to_hourly_schedule": round(overall["median_s"] / scheduled_mean_s, 6),
        "alerted": alerted, "mismatched_with_full_scan": mismatched,
        "handler_counts": dict(world.handler.counts),
    }
    world.close()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    ok = alerted == len(created) and not mismatched and overall["p95_s"] < TIMEOUT_S
    return 0 if ok else 1


def compare_with_full_scan(world: EventWorld, created: list[str], final_scan: str) -> list[str]:
    """The event-created stores the last full scan disagrees with: not seen by it, first recorded by it (the event
    path missed them), or changed by it (another status, reach or location than the targeted scan recorded)."""
    mismatched = []
    for store_id in created:
        history = world.store(store_id)
        if (history is None or history["last_scan_id"] != final_scan or history["first_scan_id"] == final_scan
                or any(event["scan_id"] == final_scan for event in history["events"])):
            mismatched.append(store_id)
    return mismatched


if __name__ == "__main__":
    sys.exit(main())
