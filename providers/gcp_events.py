"""Google Cloud change events: Cloud Audit Logs (Admin Activity) routed by an organization log sink to a Pub/Sub
topic, pulled from its subscription with google-cloud-pubsub, as hints.

Each Pub/Sub message's data is one LogEntry as JSON (what a log sink to Pub/Sub publishes): `insertId`,
`timestamp`, `protoPayload` (an AuditLog: `serviceName`, `methodName`, `resourceName`, `status`) and `resource`
(`type`, `labels.project_id`). `METHODS` says which audit methods write or delete a store of which config
service; the sink's filter (deploy/gcp-events.yaml) selects the same. The agent needs only
`pubsub.subscriptions.consume` on that one subscription (Pull, Acknowledge, ModifyAckDeadline:
deploy/gcp-events-role.yaml).

The databases and file stores (Cloud SQL, Spanner, AlloyDB, ...) are re-read per project like buckets and datasets:
their store ids are `//HOST/` and the audit entry's resourceName (`ID_HOSTS`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from providers.base import Provider
from providers.events import DELETE, WRITE, Hint, MalformedEvent, Message, OutOfScope, QueueSource, event_time, require
from providers.gcp import GcpProvider

ANY = "*"


@dataclasses.dataclass(frozen=True)
class Methods:
    service: str  # the provider's config service
    writes: tuple[str, ...]
    deletes: tuple[str, ...]


# audit serviceName -> the methods that change a store of a kind Custody reads
METHODS: dict[str, Methods] = {
    "storage.googleapis.com": Methods("storage", ("storage.buckets.create", "storage.buckets.update"),
                                      ("storage.buckets.delete",)),
    "bigquery.googleapis.com": Methods(
        "bigquery",
        ("google.cloud.bigquery.v2.DatasetService.InsertDataset",
         "google.cloud.bigquery.v2.DatasetService.UpdateDataset",
         "google.cloud.bigquery.v2.DatasetService.PatchDataset",
         "datasetservice.insert", "datasetservice.update", "datasetservice.patch"),
        ("google.cloud.bigquery.v2.DatasetService.DeleteDataset", "datasetservice.delete")),
    "cloudsql.googleapis.com": Methods("cloudsql", ("cloudsql.instances.create", "cloudsql.instances.update",
                                                 "cloudsql.instances.failover", "cloudsql.instances.promoteReplica"),
                                       ("cloudsql.instances.delete",)),
    "spanner.googleapis.com": Methods("spanner", ("google.spanner.admin.instance.v1.InstanceAdmin.CreateInstance",
                                                "google.spanner.admin.instance.v1.InstanceAdmin.UpdateInstance"),
                                      ("google.spanner.admin.instance.v1.InstanceAdmin.DeleteInstance",)),
    "bigtableadmin.googleapis.com": Methods("bigtable", ("google.bigtable.admin.v2.BigtableInstanceAdmin.CreateCluster",
                                                      "google.bigtable.admin.v2.BigtableInstanceAdmin.UpdateCluster",
                                                      "google.bigtable.admin.v2.BigtableInstanceAdmin.CreateInstance"),
                                            ("google.bigtable.admin.v2.BigtableInstanceAdmin.DeleteCluster",)),
    "firestore.googleapis.com": Methods("firestore", ("google.firestore.admin.v1.FirestoreAdmin.CreateDatabase",
                                                  "google.firestore.admin.v1.FirestoreAdmin.UpdateDatabase"),
                                        ("google.firestore.admin.v1.FirestoreAdmin.DeleteDatabase",)),
    "alloydb.googleapis.com": Methods("alloydb", ("google.cloud.alloydb.v1.AlloyDBAdmin.CreateCluster",
                                                "google.cloud.alloydb.v1.AlloyDBAdmin.UpdateCluster",
                                                "google.cloud.alloydb.v1.AlloyDBAdmin.CreateSecondaryCluster"),
                                      ("google.cloud.alloydb.v1.AlloyDBAdmin.DeleteCluster",)),
    "file.googleapis.com": Methods("filestore", ("google.cloud.filestore.v1.CloudFilestoreManager.CreateInstance",
                                             "google.cloud.filestore.v1.CloudFilestoreManager.UpdateInstance"),
                                   ("google.cloud.filestore.v1.CloudFilestoreManager.DeleteInstance",)),
    "redis.googleapis.com": Methods("redis", ("google.cloud.redis.v1.CloudRedis.CreateInstance",
                                              "google.cloud.redis.v1.CloudRedis.UpdateInstance"),
                                    ("google.cloud.redis.v1.CloudRedis.DeleteInstance",)),
}


def sink_filter() -> str:
    """The log sink's filter: Admin Activity audit entries of the methods in METHODS that succeeded."""
    methods = sorted({name for entry in METHODS.values() for name in (*entry.writes, *entry.deletes)})
    names = " OR ".join(f'"{name}"' for name in methods)
    return ('logName:"cloudaudit.googleapis.com%2Factivity" AND protoPayload.methodName=(' + names + ")"
            " AND NOT protoPayload.status.code:*")


def parse(data: Any) -> Hint:
    """One Pub/Sub message's data (a LogEntry as JSON) → a Hint."""
    try:
        entry = json.loads(data)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"not JSON ({exc})") from None
    if not isinstance(entry, dict):
        raise MalformedEvent("expected a LogEntry (a JSON object)")
    payload = require(entry, "protoPayload")
    service_name = require(entry, "protoPayload", "serviceName")
    method = require(entry, "protoPayload", "methodName")
    known = METHODS.get(service_name)
    if known is None or method not in (*known.writes, *known.deletes):
        raise OutOfScope(f"{service_name} {method} changes no store kind Custody reads")
    if (payload.get("status") or {}).get("code"):
        raise OutOfScope(f"{method} failed ({payload['status'].get('message', payload['status']['code'])})")
    resource_name = require(entry, "protoPayload", "resourceName")
    project = (entry.get("resource") or {}).get("labels", {}).get("project_id") or _project_of(resource_name)
    if not project:
        raise MalformedEvent("missing resource.labels.project_id")
    name, store_id = _store(known.service, resource_name, project)
    return Hint(provider="gcp", account=project, region=ANY, service=known.service,
                event_id=str(require(entry, "insertId")), event_time=event_time(require(entry, "timestamp"),
                                                                                "timestamp"),
                action=DELETE if method in known.deletes else WRITE, operation=f"{service_name}:{method}",
                name=name, store_id=store_id)


def _project_of(resource_name: str) -> str | None:
    parts = resource_name.split("/")
    return parts[1] if len(parts) > 1 and parts[0] == "projects" and parts[1] != "_" else None


# config service -> the host its store ids start with (`//HOST/` + the resource name), for the resourceName an audit
# entry carries; Bigtable's cluster methods name `projects/P/instances/I/clusters/C`, whose instance is the store
ID_HOSTS = {"cloudsql": "sqladmin.googleapis.com", "spanner": "spanner.googleapis.com",
            "firestore": "firestore.googleapis.com", "bigtable": "bigtableadmin.googleapis.com",
            "alloydb": "alloydb.googleapis.com", "filestore": "file.googleapis.com", "redis": "redis.googleapis.com"}


def _store(service: str, resource_name: str, project: str) -> tuple[str | None, str | None]:
    """(name, store id) of the resource: the ids the GCP provider gives its stores."""
    tail = resource_name.rstrip("/").rsplit("/", 1)[-1]
    if service == "storage":
        return tail, f"//storage.googleapis.com/projects/_/buckets/{tail}"
    if service == "bigquery":
        return tail, f"//bigquery.googleapis.com/projects/{project}/datasets/{tail}"
    name = resource_name.strip("/")
    if service == "bigtable":
        name = "/".join(name.split("/")[:4])
    return name.rsplit("/", 1)[-1], f"//{ID_HOSTS[service]}/{name}"


def narrow(provider: Provider, hint: Hint) -> tuple[Provider, list[str]]:
    """A copy of the GCP provider reading only the hint's service in its project."""
    if not isinstance(provider, GcpProvider):
        raise TypeError(f"not a Google Cloud provider: {provider.name}")
    settings = provider.settings
    if hint.service not in settings.services:
        raise OutOfScope(f"service {hint.service} is not in providers.gcp.services")
    if not settings.scopes and hint.account not in settings.projects:
        raise OutOfScope(f"project {hint.account} is not in providers.gcp.projects")
    narrowed = dataclasses.replace(settings, projects=(hint.account,), organization=None, folder=None,
                                   services=(hint.service,))
    return GcpProvider(narrowed), [hint.account]


class PubSubSource(QueueSource):
    """Pulls one Pub/Sub subscription (synchronous Pull, up to `batch` messages); acknowledges handled ones.
    PUBSUB_EMULATOR_HOST, when set, is honoured by google-cloud-pubsub itself."""

    parse_body = staticmethod(parse)
    narrow_to = staticmethod(narrow)

    def __init__(self, subscription: str, batch: int = 100, timeout: float = 30.0) -> None:
        from google.pubsub_v1 import SubscriberClient

        self.subscription = subscription
        self.name = f"gcp:{subscription.rsplit('/', 1)[-1]}"
        self.batch = batch
        self.timeout = timeout
        self.client = SubscriberClient()

    def receive(self) -> list[Message]:
        from google.api_core import exceptions

        try:
            answer = self.client.pull(subscription=self.subscription, max_messages=self.batch, timeout=self.timeout)
        except exceptions.DeadlineExceeded:  # nothing arrived in time
            return []
        return [Message(item.message.data, item.ack_id, self.name) for item in answer.received_messages]

    def delete(self, messages: Iterable[Message]) -> None:
        ack_ids = [message.receipt for message in messages]
        for start in range(0, len(ack_ids), 1000):
            self.client.acknowledge(subscription=self.subscription, ack_ids=ack_ids[start:start + 1000])
