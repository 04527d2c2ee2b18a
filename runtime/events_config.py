"""The `agent.events` config section: which queues of change events the agent consumes (runtime.events).

    agent:
      events:                                   # absent: scheduled scans only
        aws:   {queue_url: "https://sqs.eu-central-1.amazonaws.com/111111111111/custody-events", wait_seconds: 20}
        azure: {queue_url: "https://custodyevents.queue.core.windows.net/custody-events"}   # managed identity
        # or   {connection_string_env: CUSTODY_EVENTS_QUEUE, queue: custody-events}
        gcp:   {subscription: projects/security/subscriptions/custody-events}
        dedupe_window: 10000                    # event ids and stores remembered for duplicates and order
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from providers.events import EventSource
from scanner.secrets import register_secret
from scanner.yamlfile import Node

EVENTS_KEYS = {"aws", "azure", "gcp", "dedupe_window"}


@dataclass(frozen=True)
class AwsQueue:
    queue_url: str
    region: str | None = None
    wait_seconds: int = 20


@dataclass(frozen=True)
class AzureQueue:
    queue_url: str | None = None
    connection_string_env: str | None = None
    queue: str = "custody-events"


@dataclass(frozen=True)
class GcpSubscription:
    subscription: str


@dataclass(frozen=True)
class EventSettings:
    aws: AwsQueue | None = None
    azure: AzureQueue | None = None
    gcp: GcpSubscription | None = None
    dedupe_window: int = 10000


def load_event_settings(node: Node) -> EventSettings | None:
    """Parse `agent.events` (None when absent); InputError naming the file and line on any problem."""
    if node.value is None:
        return None
    node.mapping(EVENTS_KEYS)
    settings = EventSettings(aws=_aws(node["aws"]), azure=_azure(node["azure"]), gcp=_gcp(node["gcp"]),
                             dedupe_window=node["dedupe_window"].int(10000, minimum=100))
    if not (settings.aws or settings.azure or settings.gcp):
        raise node.error(f"{node.name}: name at least one queue (aws, azure or gcp)")
    return settings


def _aws(node: Node) -> AwsQueue | None:
    if node.value is None:
        return None
    node.mapping({"queue_url", "region", "wait_seconds"})
    url = node["queue_url"].req_str()
    if not url.startswith(("https://", "http://")):
        raise node["queue_url"].error(f"{node.name}.queue_url: expected the queue's URL (https://sqs.…), got {url!r}")
    wait = node["wait_seconds"].int(20, minimum=0)
    if wait > 20:
        raise node["wait_seconds"].error(f"{node.name}.wait_seconds: SQS long polls 0 to 20 seconds, got {wait}")
    return AwsQueue(url, node["region"].str(), wait)


def _azure(node: Node) -> AzureQueue | None:
    if node.value is None:
        return None
    node.mapping({"queue_url", "connection_string_env", "queue"})
    url, env = node["queue_url"].str(), node["connection_string_env"].str()
    if bool(url) == bool(env):
        raise node.error(f"{node.name}: give one of queue_url (managed identity) or connection_string_env")
    if env and not os.environ.get(env):
        raise node["connection_string_env"].error(f"{node.name}.connection_string_env: ${env} is not set")
    return AzureQueue(url, env, node["queue"].str("custody-events") or "custody-events")


def _gcp(node: Node) -> GcpSubscription | None:
    if node.value is None:
        return None
    node.mapping({"subscription"})
    name = node["subscription"].req_str()
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "subscriptions":
        raise node["subscription"].error(f"{node.name}.subscription: expected projects/<project>/subscriptions/"
                                         f"<name>, got {name!r}")
    return GcpSubscription(name)


def build_sources(settings: EventSettings, stopping: threading.Event) -> list[EventSource]:
    """One source per configured queue (their clients are built here: credentials are looked up lazily)."""
    sources: list[EventSource] = []
    if settings.aws:
        from providers.aws_events import SqsSource

        sources.append(SqsSource(settings.aws.queue_url, settings.aws.region, settings.aws.wait_seconds))
    if settings.azure:
        from providers.azure_events import StorageQueueSource

        azure = settings.azure
        connection = os.environ.get(azure.connection_string_env) if azure.connection_string_env else None
        if connection:
            register_secret(connection)  # masked in every log line and stored error
        sources.append(StorageQueueSource(queue_url=azure.queue_url, connection_string=connection, queue=azure.queue,
                                          stopping=stopping))
    if settings.gcp:
        from providers.gcp_events import PubSubSource

        sources.append(PubSubSource(settings.gcp.subscription))
    return sources
