"""Google Cloud change events: Cloud Audit Log entries (as a log sink publishes them) on a Pub/Sub topic served
by demo/pubsub_server.py, pulled with google-cloud-pubsub; the named bucket is re-read from the GCS server,
judged and alerted; a deleted one is gone only once a whole read confirms it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from google.pubsub_v1 import PublisherClient, SubscriberClient

from demo.cloud_events import audit_entry as cloud_audit_entry
from demo.gcp_estate import EU_PROJECT, GCP_OWNERS, gcp_accounts
from demo.pubsub_server import PubSubServer
from providers.events import MalformedEvent, OutOfScope
from providers.gcp_events import PubSubSource, parse, sink_filter
from tests.events_world import EventWorld

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "projects/security/topics/custody-events"
SUBSCRIPTION = "projects/security/subscriptions/custody-events"
# each Pub/Sub method the event source calls -> its IAM permission (Pub/Sub access control reference)
PERMISSIONS = {"Subscriber/Pull": "pubsub.subscriptions.consume",
               "Subscriber/Acknowledge": "pubsub.subscriptions.consume",
               "Subscriber/ModifyAckDeadline": "pubsub.subscriptions.consume"}


@pytest.fixture
def pubsub(monkeypatch) -> Iterator[PubSubServer]:
    with PubSubServer(pull_wait=0.5) as server:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", server.host)
        PublisherClient().create_topic(name=TOPIC)
        SubscriberClient().create_subscription(name=SUBSCRIPTION, topic=TOPIC, ack_deadline_seconds=60)
        server.calls.clear()
        yield server


@pytest.fixture
def world(tmp_path, gcp_estate) -> Iterator[EventWorld]:
    config = {"home": "EU", "companies": GCP_OWNERS, "accounts": gcp_accounts(),
              "providers": {"gcp": gcp_estate.config_section()}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    world = EventWorld.open(tmp_path, str(path))
    yield world
    world.close()


def audit_entry(method: str, bucket: str, when: dt.datetime | None = None, insert_id: str | None = None) -> bytes:
    return cloud_audit_entry(method, bucket, EU_PROJECT, when, insert_id)


def publish(*payloads: bytes) -> None:
    publisher = PublisherClient()
    from google.pubsub_v1 import PubsubMessage

    publisher.publish(topic=TOPIC, messages=[PubsubMessage(data=data) for data in payloads])


def pull(source: PubSubSource, expected: int) -> list:
    messages: list = []
    for _ in range(10):
        messages.extend(source.receive())
        if len(messages) >= expected:
            break
    return messages


def test_a_created_bucket_is_reread_judged_alerted_and_a_deleted_one_confirmed(world, gcp_estate, pubsub):
    world.scan()
    gcp_estate.gcs.add_bucket(EU_PROJECT, "nw-new-us-bucket", "US-EAST1", labels={"data-class": "personal"})
    store_id = "//storage.googleapis.com/projects/_/buckets/nw-new-us-bucket"
    created = audit_entry("storage.buckets.create", "nw-new-us-bucket", insert_id="log-1")
    publish(created, created)  # a sink delivers at least once

    source = PubSubSource(SUBSCRIPTION, timeout=5)
    recorded = world.handler.handle(source, pull(source, 2))
    assert recorded is not None and recorded.stores == [store_id]
    assert world.handler.counts["duplicate"] == 1
    assert world.state.scan(recorded.scan_id)["status"] == "targeted"
    alerts = world.alerts_about(store_id, recorded.scan_id)
    assert alerts and "US" in json.dumps(alerts[0]["payload"])
    assert source.receive() == [], "handled messages are acknowledged"

    # least privilege: only Pull and Acknowledge on the subscription (Publish is the test, playing the log sink)
    agent_calls = {call for call in pubsub.calls if call != "Publisher/Publish"}
    assert agent_calls == {"Subscriber/Pull", "Subscriber/Acknowledge"}
    role = yaml.safe_load((ROOT / "deploy" / "gcp-events-role.yaml").read_text())
    assert {PERMISSIONS[call] for call in agent_calls} == set(role["includedPermissions"])

    # deleted, but the re-read fails: nothing is concluded
    gcp_estate.gcs.buckets.pop("nw-new-us-bucket")  # deleted in Cloud Storage
    gcp_estate.gcs._bucket_project.pop("nw-new-us-bucket")
    gcp_estate.gcs.deny(EU_PROJECT)
    publish(audit_entry("storage.buckets.delete", "nw-new-us-bucket"))
    world.handler.handle(source, pull(source, 1))
    assert world.handler.counts["reread_partial"] == 1
    assert world.store(store_id)["gone_at"] is None

    gcp_estate.gcs.denied.clear()
    publish(audit_entry("storage.buckets.delete", "nw-new-us-bucket"))
    recorded = world.handler.handle(source, pull(source, 1))
    assert recorded is not None and recorded.gone == [store_id]
    assert world.store(store_id)["gone_scan_id"] == recorded.scan_id


def test_malformed_and_out_of_order_entries_are_counted_and_dropped(world, pubsub, caplog):
    world.scan()
    now = dt.datetime.now(dt.UTC)
    publish(b"\x00not json", json.dumps({"protoPayload": {"serviceName": "storage.googleapis.com"}}).encode(),
            audit_entry("storage.buckets.update", "nw-web-assets", when=now))
    source = PubSubSource(SUBSCRIPTION, timeout=5)
    first = world.handler.handle(source, pull(source, 3))
    assert first is not None and first.stores == ["//storage.googleapis.com/projects/_/buckets/nw-web-assets"]
    assert world.handler.counts["malformed"] == 2 and "missing protoPayload.methodName" in caplog.text

    publish(audit_entry("storage.buckets.create", "nw-web-assets", when=now - dt.timedelta(minutes=2)))
    assert world.handler.handle(source, pull(source, 1)) is None
    assert world.handler.counts["out_of_order"] == 1


def test_parse_names_database_kinds_and_refuses_foreign_methods():
    entry = {"insertId": "1", "timestamp": "2026-12-05T10:00:00Z", "resource": {"labels": {"project_id": "p"}},
             "protoPayload": {"serviceName": "cloudsql.googleapis.com", "methodName": "cloudsql.instances.create",
                              "resourceName": "projects/p/instances/orders"}}
    hint = parse(json.dumps(entry))
    assert (hint.service, hint.name, hint.store_id, hint.account) == (
        "cloudsql", "orders", "//sqladmin.googleapis.com/projects/p/instances/orders", "p")
    entry["protoPayload"].update(serviceName="bigtableadmin.googleapis.com",
                                 resourceName="projects/p/instances/t/clusters/t-c2",
                                 methodName="google.bigtable.admin.v2.BigtableInstanceAdmin.DeleteCluster")
    hint = parse(json.dumps(entry))  # a cluster's change names its instance, the store
    assert (hint.service, hint.store_id) == ("bigtable", "//bigtableadmin.googleapis.com/projects/p/instances/t")
    entry["protoPayload"]["methodName"] = "cloudsql.instances.get"
    with pytest.raises(OutOfScope):
        parse(json.dumps(entry))
    with pytest.raises(MalformedEvent, match="not JSON"):
        parse(b"{")


def test_the_published_sink_filter_is_the_code_s():
    sink = yaml.safe_load((ROOT / "deploy" / "gcp-events.yaml").read_text())["sink"]
    assert sink["filter"] == sink_filter()
    assert '"storage.buckets.create"' in sink["filter"] and '"storage.buckets.delete"' in sink["filter"]
