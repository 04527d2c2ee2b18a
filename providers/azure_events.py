"""Azure change events: an Event Grid subscription on each subscription (ResourceWriteSuccess,
ResourceDeleteSuccess) delivering to a Storage queue, read with azure-storage-queue, as hints.

Each queue message is one Event Grid event in the Event Grid schema (Event Grid writes it Base64-encoded;
plain JSON is accepted too): `eventType` Microsoft.Resources.ResourceWriteSuccess or ...DeleteSuccess,
`id`, `eventTime`, `subject` and `data.resourceUri` the ARM id of the resource written or deleted,
`data.operationName` (e.g. Microsoft.Storage/storageAccounts/write), `data.subscriptionId`. The resource
type picks the config service, from the registry (`TYPES`: each Azure StoreKind's `arm_type` and
`arm_related`, so a new kind needs no edit here); a child resource (a storage account's blob service, a
database's replication link, a cache's linked server, a resource's tags) names its store, and a related
type (a SQL server, an instance failover group) every store of its service. The subscription's event
subscription is deploy/azure-events.json (its filter: `operation_filter`, written by
scripts/generate_event_rules.py); the agent needs only the data actions of the built-in role
"Storage Queue Data Message Processor" on that one queue (read and delete messages:
deploy/azure-events-role.json).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from providers.azure import AzureProvider
from providers.base import Provider
from providers.events import DELETE, WRITE, Hint, MalformedEvent, Message, OutOfScope, QueueSource, event_time, require
from scanner.kinds import kinds_of

EVENT_TYPES = {"Microsoft.Resources.ResourceWriteSuccess": WRITE, "Microsoft.Resources.ResourceDeleteSuccess": DELETE}
TAGS_TYPE = "Microsoft.Resources/tags"  # a resource's tags: .../providers/Microsoft.Resources/tags/default
# Event Grid allows 25 filter values across the advanced filters of one event subscription
# (https://learn.microsoft.com/en-us/azure/event-grid/event-filtering, "Limitations"; unverified: the section's
# text could not be read from here on 2026-12-05)
FILTER_VALUES_MAX = 25


@dataclass(frozen=True)
class ArmType:
    """What an event about one ARM resource type names: a store of `service` (its id), or every store of it."""

    service: str
    names_store: bool


def arm_types() -> dict[str, ArmType]:
    """ARM resource type (as declared) -> what its events name, from the registry: each Azure kind's `arm_type`
    (its stores' own type) and `arm_related` (types whose change reaches every store of the service)."""
    types: dict[str, ArmType] = {}
    for spec in kinds_of("azure"):
        types.update({related: ArmType(spec.service, names_store=False) for related in spec.arm_related})
    for spec in kinds_of("azure"):
        if spec.arm_type:
            types[spec.arm_type] = ArmType(spec.service, names_store=True)
    return types


TYPES = {name.lower(): known for name, known in arm_types().items()}  # looked up by the event's type, lower case


def operation_filter() -> list[str]:
    """The `data.operationName` StringContains values of the event subscription (deploy/azure-events.json): every
    ARM type of the registry and tags, leaving out those another value already contains."""
    names = [*arm_types(), TAGS_TYPE]
    return sorted(name for name in names
                  if not any(other.lower() != name.lower() and other.lower() in name.lower() for other in names))


_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/[^/]+/providers/(?P<path>.+)$", re.IGNORECASE)
TAGS_SUFFIX = re.compile(r"/providers/microsoft\.resources/tags/[^/]+$", re.IGNORECASE)
ANY_REGION = "*"


def decode(body: Any) -> dict[str, Any]:
    """A queue message's text → the Event Grid event (Base64 JSON as Event Grid writes it, or plain JSON)."""
    text = body if isinstance(body, str) else (body or b"").decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = json.loads(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise MalformedEvent("neither JSON nor Base64-encoded JSON") from None
    if isinstance(data, list) and len(data) == 1:  # an array of one event, as the webhook schema sends
        data = data[0]
    if not isinstance(data, dict):
        raise MalformedEvent("expected one Event Grid event (a JSON object)")
    return data


def parse(body: Any) -> Hint:
    event = decode(body)
    event_type = require(event, "eventType")
    action = EVENT_TYPES.get(event_type)
    if action is None:
        raise OutOfScope(f"event type {event_type} is not a resource write or delete")
    data = require(event, "data")
    uri = TAGS_SUFFIX.sub("", str(data.get("resourceUri") or require(event, "subject")))
    match = _ID.match(uri)
    if match is None:
        raise MalformedEvent(f"data.resourceUri: expected an ARM resource id, got {uri[:80]!r}")
    service, store_id = _store_of(match.group("path"), uri)
    if data.get("status") not in (None, "Succeeded"):
        raise OutOfScope(f"{data.get('operationName')} did not succeed ({data.get('status')})")
    sub = match.group("sub")
    return Hint(provider="azure", account=str(data.get("subscriptionId") or sub).lower(), region=ANY_REGION,
                service=service, event_id=str(require(event, "id")),
                event_time=event_time(require(event, "eventTime"), "eventTime"), action=action,
                operation=str(data.get("operationName") or event_type), store_id=store_id)


def _store_of(path: str, uri: str) -> tuple[str, str | None]:
    """(service, the store's ARM id or None for every store of the service) of a resource path after /providers/."""
    parts = path.split("/")  # namespace, type, name, [child type, child name, ...]
    if len(parts) < 3:
        raise MalformedEvent(f"data.resourceUri: no resource name in {uri[:80]!r}")
    prefix = uri[: len(uri) - len(path)]
    longest = len(parts) if len(parts) % 2 else len(parts) - 1
    for depth in range(longest, 2, -2):  # the longest known type first: servers/databases before servers
        known = TYPES.get("/".join(parts[:1] + parts[1:depth:2]).lower())
        if known is not None:
            return known.service, prefix + "/".join(parts[:depth]) if known.names_store else None
    raise OutOfScope(f"resource type {'/'.join(parts[:2])} is not a store kind Custody reads")


def narrow(provider: Provider, hint: Hint) -> tuple[Provider, list[str]]:
    """A copy of the Azure provider that reads only the hint's service in the hint's subscription."""
    if not isinstance(provider, AzureProvider):
        raise TypeError(f"not an Azure provider: {provider.name}")
    settings = provider.settings
    subscription = hint.account  # spelt as the config spells it, so the store's account is the scans' own
    if settings.subscriptions:
        subscription = next((sub for sub in settings.subscriptions if sub.lower() == hint.account), "")
        if not subscription:
            raise OutOfScope(f"subscription {hint.account} is not in providers.azure.subscriptions")
    if hint.service not in settings.services:
        raise OutOfScope(f"service {hint.service} is not in providers.azure.services")
    narrowed = dataclasses.replace(settings, subscriptions=(subscription,), services=(hint.service,))
    return AzureProvider(narrowed, provider._credential), [subscription]


class StorageQueueSource(QueueSource):
    """Reads one Storage queue: receive a batch (each message hidden for `visibility_seconds`), delete handled ones.

    Storage queues have no long poll: an empty receive waits `idle_seconds` before the next."""

    parse_body = staticmethod(parse)
    narrow_to = staticmethod(narrow)

    def __init__(self, queue_url: str | None = None, connection_string: str | None = None, queue: str | None = None,
                 credential: Any = None, batch: int = 32, visibility_seconds: int = 300,
                 idle_seconds: float = 1.0, stopping: Any = None) -> None:
        from azure.storage.queue import QueueClient

        if connection_string:
            self.client = QueueClient.from_connection_string(connection_string, queue or "custody-events")
        else:
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            self.client = QueueClient.from_queue_url(queue_url, credential=credential)
        self.name = f"azure:{self.client.queue_name}"
        self.batch = batch
        self.visibility_seconds = visibility_seconds
        self.idle_seconds = idle_seconds
        self.stopping = stopping

    def receive(self) -> list[Message]:
        pages = self.client.receive_messages(messages_per_page=self.batch, max_messages=self.batch,
                                             visibility_timeout=self.visibility_seconds)
        messages = [Message(item.content, item, self.name) for item in pages]
        if not messages and self.stopping is not None:
            self.stopping.wait(self.idle_seconds)
        return messages

    def delete(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.client.delete_message(message.receipt)
