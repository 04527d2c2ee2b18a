"""Azure change events: Event Grid events (the documented Event Grid schema, Base64 as Event Grid writes them)
on a Storage queue in Azurite, read with azure-storage-queue; the named resource is re-read from the ARM server,
judged and alerted; a deleted one is gone only once a whole read confirms it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from azure.storage.queue import QueueClient

from demo.arm_server import ArmServer
from demo.azure_estate import SUB_EU, AzureEstate
from demo.azurite_server import Azurite, start_azurite
from demo.cloud_events import event_grid
from providers.azure_events import FILTER_VALUES_MAX, StorageQueueSource, arm_types, operation_filter, parse
from providers.events import MalformedEvent, OutOfScope
from scanner.kinds import KINDS, kind, kind_names, kinds_of
from scripts.generate_event_rules import AZURE_FILE, render_azure
from tests.events_world import EventWorld
from tests.fault_proxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
QUEUE = "custody-events"
# the data action of each Queue service request the event source makes (Azure RBAC for queue data)
DATA_ACTIONS = [
    ("GET", re.compile(r"^/[^/]+/[^/]+/messages\?"),
     "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read"),
    ("DELETE", re.compile(r"^/[^/]+/[^/]+/messages/[^/?]+\?popreceipt="),
     "Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete"),
]


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    with start_azurite() as server:
        yield server


@pytest.fixture
def queue(azurite: Azurite) -> Iterator[QueueClient]:
    client = QueueClient.from_connection_string(azurite.connection_string, QUEUE)
    client.create_queue()
    yield client
    client.delete_queue()


@pytest.fixture
def world(tmp_path, azure_estate: AzureEstate) -> Iterator[EventWorld]:
    config = {"home": "EU", "companies": [
        {"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
        {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"},
        {"id": "acme-brasil", "name": "Acme Brasil Ltda", "country": "BR", "parent": "acme-inc"}],
        "accounts": azure_estate.accounts(), "providers": {"azure": azure_estate.provider_section()}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    world = EventWorld.open(tmp_path, str(path))
    yield world
    world.close()


def remove(server: ArmServer, resource_id: str) -> None:
    """The resource is deleted in ARM: gone from its item and every listing."""
    with server.state.lock:
        server.state.items.pop(resource_id.lower(), None)
        for listing in server.state.collections.values():
            listing[:] = [item for item in listing if item["id"].lower() != resource_id.lower()]


def test_a_written_storage_account_is_reread_judged_alerted_and_a_deleted_one_confirmed(
        world, azure_estate, arm_server, azurite, queue):
    world.scan()
    doc = arm_server.add_storage_account(SUB_EU, "rg-prod-eu", "acmeeunewus", "eastus", "Standard_LRS",
                                         tags={"data-class": "personal"})
    store_id = doc["id"]
    written = event_grid(store_id, event_id="eg-1")
    queue.send_message(written)
    queue.send_message(written)  # Event Grid delivers at least once
    queue.send_message(event_grid(f"{store_id}/blobServices/default", operation="Microsoft.Storage/storageAccounts/"
                                  "blobServices/write"))  # a child resource names its account

    requests: list = []
    proxy = FaultProxy(f"http://127.0.0.1:{azurite.port}").start()
    proxy.deny(lambda request: requests.append(request) is None and False)  # records, never denies
    try:
        source = StorageQueueSource(connection_string=azurite.connection_string.replace(
            f":{azurite.port}/", f":{proxy.url.rsplit(':', 1)[1]}/"), queue=QUEUE)
        recorded = world.handler.handle(source, source.receive())
        assert source.receive() == [], "handled messages are deleted"
    finally:
        proxy.stop()

    assert recorded is not None and recorded.stores == [store_id]
    assert world.handler.counts["duplicate"] == 1
    assert world.state.scan(recorded.scan_id)["status"] == "targeted"
    alerts = world.alerts_about(store_id, recorded.scan_id)
    assert alerts and "US" in json.dumps(alerts[0]["payload"])

    # least privilege: only read and delete messages of the queue
    actions = set()
    for request in requests:
        action = next((name for method, path, name in DATA_ACTIONS
                       if method == request.method and path.match(request.path)), None)
        assert action is not None, f"a queue request with no data action mapping: {request.method} {request.path}"
        actions.add(action)
    role = json.loads((ROOT / "deploy" / "azure-events-role.json").read_text())
    assert actions == set(role["DataActions"]) and role["Actions"] == []

    # deleted in ARM, but the re-read is denied: nothing is concluded
    source = StorageQueueSource(connection_string=azurite.connection_string, queue=QUEUE)
    remove(arm_server, store_id)
    arm_server.deny_path("Microsoft.Storage/storageAccounts")
    queue.send_message(event_grid(store_id, write=False))
    world.handler.handle(source, source.receive())
    assert world.handler.counts["reread_partial"] == 1
    assert world.store(store_id)["gone_at"] is None

    arm_server.state.denied_paths.clear()
    queue.send_message(event_grid(store_id, write=False))
    recorded = world.handler.handle(source, source.receive())
    assert recorded is not None and recorded.gone == [store_id]
    assert world.store(store_id)["gone_scan_id"] == recorded.scan_id


def test_a_redis_cache_written_in_the_us_and_a_linked_server_are_reread_judged_alerted_and_a_deletion_confirmed(
        world, arm_server, azurite, queue):
    world.scan()
    personal = {"data-class": "personal"}
    cache = arm_server.add_redis_cache(SUB_EU, "rg-prod-eu", "acme-eu-carts-us", "East US", tags=personal)
    source = StorageQueueSource(connection_string=azurite.connection_string, queue=QUEUE)
    queue.send_message(event_grid(cache["id"], operation="Microsoft.Cache/redis/write"))
    recorded = world.handler.handle(source, source.receive())
    assert recorded is not None and recorded.stores == [cache["id"]]
    assert world.state.scan(recorded.scan_id)["status"] == "targeted"
    alerts = world.alerts_about(cache["id"], recorded.scan_id)
    assert alerts and "US" in json.dumps(alerts[0]["payload"])

    # a linked server (geo-replication to the US cache) is a child resource: its event names the primary cache
    primary = arm_server.add_redis_cache(SUB_EU, "rg-prod-eu", "acme-eu-carts", "West Europe", tags=personal)
    arm_server.add_redis_link(primary, cache)
    queue.send_message(event_grid(f"{primary['id']}/linkedServers/{cache['name']}",
                                  operation="Microsoft.Cache/redis/linkedServers/write"))
    recorded = world.handler.handle(source, source.receive())
    assert recorded is not None and recorded.stores == [primary["id"]]
    alerts = world.alerts_about(primary["id"], recorded.scan_id)
    assert alerts and "US" in json.dumps(alerts[0]["payload"])

    # deleted in ARM, but the re-read of the caches is denied: nothing is concluded
    remove(arm_server, cache["id"])
    arm_server.deny_path("Microsoft.Cache/redis")
    queue.send_message(event_grid(cache["id"], write=False))
    assert world.handler.handle(source, source.receive()) is None
    assert world.handler.counts["reread_partial"] == 1
    assert world.store(cache["id"])["gone_at"] is None

    arm_server.state.denied_paths.clear()
    queue.send_message(event_grid(cache["id"], write=False))
    recorded = world.handler.handle(source, source.receive())
    assert recorded is not None and recorded.gone == [cache["id"]]
    assert world.store(cache["id"])["gone_scan_id"] == recorded.scan_id
    assert world.store(primary["id"])["gone_at"] is None


def test_malformed_and_out_of_order_messages_are_counted_and_dropped(world, azure_estate, azurite, queue, caplog):
    world.scan()
    store = azure_estate.by_name("acmeeulogs")
    now = dt.datetime.now(dt.UTC)
    for body in ("%%% not an event", base64.b64encode(b'{"eventType": "Microsoft.Resources.ResourceWriteSuccess"}')
                 .decode(), event_grid(store.id, when=now)):
        queue.send_message(body)
    source = StorageQueueSource(connection_string=azurite.connection_string, queue=QUEUE)
    first = world.handler.handle(source, source.receive())
    assert first is not None and first.stores == [store.id]
    assert world.handler.counts["malformed"] == 2 and "missing data" in caplog.text

    queue.send_message(event_grid(store.id, when=now - dt.timedelta(minutes=1)))
    assert world.handler.handle(source, source.receive()) is None
    assert world.handler.counts["out_of_order"] == 1
    assert source.receive() == []


GROUP = "/subscriptions/S/resourceGroups/g/providers/"


@pytest.mark.parametrize(("path", "service", "store"), [
    ("Microsoft.Sql/servers/srv/databases/db/replicationLinks/l", "sql", "Microsoft.Sql/servers/srv/databases/db"),
    ("Microsoft.Sql/servers/srv", "sql", None),
    ("Microsoft.Sql/servers/srv/failoverGroups/fg", "sql", None),  # a server's change: every database re-read
    ("Microsoft.Compute/disks/d/providers/Microsoft.Resources/tags/default", "disks", "Microsoft.Compute/disks/d"),
    ("Microsoft.Storage/storageAccounts/a/objectReplicationPolicies/p", "storage",
     "Microsoft.Storage/storageAccounts/a"),
    ("Microsoft.Sql/managedInstances/mi/databases/db", "sqlmi", "Microsoft.Sql/managedInstances/mi"),
    ("Microsoft.Sql/locations/westeurope/instanceFailoverGroups/fg", "sqlmi", None),
    ("Microsoft.Cache/Redis/c/linkedServers/c2", "redis", "Microsoft.Cache/Redis/c"),
    ("Microsoft.Cache/redisEnterprise/c/databases/default", "redis", "Microsoft.Cache/redisEnterprise/c"),
    ("Microsoft.DBforPostgreSQL/flexibleServers/pg", "postgresql", "Microsoft.DBforPostgreSQL/flexibleServers/pg"),
    ("Microsoft.DataProtection/backupVaults/v/backupInstances/i", "backup", "Microsoft.DataProtection/backupVaults/v"),
])
def test_parse_maps_resource_types_to_services(path, service, store):
    uri = GROUP + path
    hint = parse(json.dumps({"eventType": "Microsoft.Resources.ResourceWriteSuccess", "id": "1",
                             "eventTime": "2026-12-05T10:00:00Z", "subject": uri, "data": {"resourceUri": uri}}))
    assert (hint.service, hint.store_id, hint.account) == (service, store and GROUP + store, "s")


def test_every_azure_kind_of_the_registry_has_its_events(azure_estate):
    for spec in KINDS:
        if spec.cloud == "azure":
            assert spec.arm_type.startswith(f"{spec.api}/"), f"{spec.kind}: no arm_type in its namespace {spec.api}"
        else:
            assert not spec.arm_type and not spec.arm_related, f"{spec.kind}: ARM types on a {spec.cloud} kind"
    declared = [name.lower() for spec in kinds_of("azure") for name in (spec.arm_type, *spec.arm_related)]
    assert len(declared) == len(set(declared)), "an ARM type declared by two kinds"
    assert len(arm_types()) == len(declared)
    # an event about every store of the demo estate (every Azure kind) names that store and its kind's service
    assert {store.kind for store in azure_estate.stores.values()} == set(kind_names("azure"))
    for store in azure_estate.stores.values():
        hint = parse(event_grid(store.id))
        assert (hint.service, hint.store_id) == (kind(store.kind).service, store.id), store.kind


def test_the_published_event_subscription_filter_covers_every_arm_type():
    assert AZURE_FILE.read_text() == render_azure(AZURE_FILE.read_text()), \
        f"{AZURE_FILE}: run .venv/bin/python scripts/generate_event_rules.py"
    values = operation_filter()
    assert len(values) <= FILTER_VALUES_MAX
    for name in [*arm_types(), "Microsoft.Resources/tags"]:
        for verb in ("write", "delete"):
            assert any(value.lower() in f"{name}/{verb}".lower() for value in values), name


def test_parse_refuses_other_resources_and_event_types():
    uri = "/subscriptions/S/resourceGroups/g/providers/Microsoft.Web/sites/app"
    with pytest.raises(OutOfScope, match=r"Microsoft\.Web/sites"):
        parse(json.dumps({"eventType": "Microsoft.Resources.ResourceWriteSuccess", "id": "1",
                          "eventTime": "2026-12-05T10:00:00Z", "data": {"resourceUri": uri}}))
    with pytest.raises(OutOfScope, match="not a resource write"):
        parse(json.dumps({"eventType": "Microsoft.Resources.ResourceActionSuccess", "id": "1"}))
    with pytest.raises(MalformedEvent, match="ARM resource id"):
        parse(json.dumps({"eventType": "Microsoft.Resources.ResourceWriteSuccess", "id": "1",
                          "eventTime": "2026-12-05T10:00:00Z", "data": {"resourceUri": "storage"}}))
