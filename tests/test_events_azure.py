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
from providers.azure_events import StorageQueueSource, parse
from providers.events import MalformedEvent, OutOfScope
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


@pytest.mark.parametrize(("uri", "service", "store"), [
    ("/subscriptions/S/resourceGroups/g/providers/Microsoft.Sql/servers/srv/databases/db/replicationLinks/l",
     "sql", "/subscriptions/S/resourceGroups/g/providers/Microsoft.Sql/servers/srv/databases/db"),
    ("/subscriptions/S/resourceGroups/g/providers/Microsoft.Sql/servers/srv", "sql", None),
    ("/subscriptions/S/resourceGroups/g/providers/Microsoft.Compute/disks/d/providers/Microsoft.Resources/tags/default",
     "disks", "/subscriptions/S/resourceGroups/g/providers/Microsoft.Compute/disks/d"),
])
def test_parse_maps_resource_types_to_services(uri, service, store):
    hint = parse(json.dumps({"eventType": "Microsoft.Resources.ResourceWriteSuccess", "id": "1",
                             "eventTime": "2026-12-05T10:00:00Z", "subject": uri, "data": {"resourceUri": uri}}))
    assert (hint.service, hint.store_id, hint.account) == (service, store, "s")


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
