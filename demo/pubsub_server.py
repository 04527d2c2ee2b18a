"""A minimal Pub/Sub server (gRPC, google.pubsub.v1) on 127.0.0.1, for the event tests and bench/events.py.

PyPI and Debian ship no Pub/Sub emulator (Google's is part of the gcloud SDK), so this implements the few
methods Custody's event source and the tests use, to the documented shapes (the request and response
messages are the protos shipped in google-cloud-pubsub): Publisher CreateTopic, GetTopic, Publish; Subscriber
CreateSubscription, GetSubscription, Pull, Acknowledge, ModifyAckDeadline. Messages are at-least-once: a pulled
message not acknowledged within the subscription's ack deadline is delivered again. A Pull with nothing to
deliver waits up to `pull_wait` seconds, then answers with no messages. Point google-cloud-pubsub at it
with PUBSUB_EMULATOR_HOST=127.0.0.1:<port> (the library then uses an insecure channel and no credentials).

    with PubSubServer() as server:
        os.environ["PUBSUB_EMULATOR_HOST"] = server.host
        server.calls   # ["Subscriber/Pull", "Subscriber/Acknowledge", ...]: every method called, in order
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types

HOST = "127.0.0.1"


@dataclass
class _Lease:
    message: types.PubsubMessage
    attempts: int = 0
    leased_until: float = 0.0  # monotonic; 0: available


@dataclass
class _Subscription:
    config: types.Subscription
    pending: dict[str, _Lease] = field(default_factory=dict)  # ack id -> message


class PubSubServer:
    def __init__(self, pull_wait: float = 1.0) -> None:
        self.pull_wait = pull_wait
        self.topics: dict[str, types.Topic] = {}
        self.subscriptions: dict[str, _Subscription] = {}
        self.calls: list[str] = []
        self._lock = threading.Condition()
        self._ids = 0
        self._server: grpc.Server | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> PubSubServer:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        server.add_generic_rpc_handlers([
            self._service("google.pubsub.v1.Publisher", {
                "CreateTopic": (types.Topic, types.Topic, self._create_topic),
                "GetTopic": (types.GetTopicRequest, types.Topic, self._get_topic),
                "Publish": (types.PublishRequest, types.PublishResponse, self._publish),
            }),
            self._service("google.pubsub.v1.Subscriber", {
                "CreateSubscription": (types.Subscription, types.Subscription, self._create_subscription),
                "GetSubscription": (types.GetSubscriptionRequest, types.Subscription, self._get_subscription),
                "Pull": (types.PullRequest, types.PullResponse, self._pull),
                "Acknowledge": (types.AcknowledgeRequest, None, self._acknowledge),
                "ModifyAckDeadline": (types.ModifyAckDeadlineRequest, None, self._modify_ack_deadline),
            }),
        ])
        self.port = server.add_insecure_port(f"{HOST}:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=1).wait()
            self._server = None

    def __enter__(self) -> PubSubServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- gRPC plumbing ------------------------------------------------------------------------------

    def _service(self, name: str, methods: dict[str, tuple[Any, Any, Callable]]) -> grpc.GenericRpcHandler:
        handlers = {}
        for method, (request_type, response_type, function) in methods.items():
            def call(request: Any, context: grpc.ServicerContext, function: Callable = function,
                     label: str = f"{name.rsplit('.', 1)[-1]}/{method}") -> Any:
                with self._lock:
                    self.calls.append(label)
                return function(request, context)

            serialize = response_type.serialize if response_type is not None else empty_pb2.Empty.SerializeToString
            handlers[method] = grpc.unary_unary_rpc_method_handler(
                call, request_deserializer=request_type.deserialize, response_serializer=serialize)
        return grpc.method_handlers_generic_handler(name, handlers)

    # ---- Publisher ----------------------------------------------------------------------------------

    def _create_topic(self, topic: types.Topic, context: grpc.ServicerContext) -> types.Topic:
        with self._lock:
            if topic.name in self.topics:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Topic already exists: {topic.name}")
            self.topics[topic.name] = topic
        return topic

    def _get_topic(self, request: types.GetTopicRequest, context: grpc.ServicerContext) -> types.Topic:
        with self._lock:
            topic = self.topics.get(request.topic)
        if topic is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {request.topic}")
        return topic

    def _publish(self, request: types.PublishRequest, context: grpc.ServicerContext) -> types.PublishResponse:
        ids = []
        with self._lock:
            if request.topic not in self.topics:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {request.topic}")
            for message in request.messages:
                self._ids += 1
                stored = types.PubsubMessage(data=message.data, attributes=dict(message.attributes),
                                             message_id=str(self._ids), publish_time=dt.datetime.now(dt.UTC))
                ids.append(stored.message_id)
                for subscription in self.subscriptions.values():
                    if subscription.config.topic == request.topic:
                        subscription.pending[f"ack-{self._ids}-{id(subscription)}"] = _Lease(stored)
            self._lock.notify_all()
        return types.PublishResponse(message_ids=ids)

    # ---- Subscriber ---------------------------------------------------------------------------------

    def _create_subscription(self, config: types.Subscription, context: grpc.ServicerContext) -> types.Subscription:
        with self._lock:
            if config.topic not in self.topics:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Topic not found: {config.topic}")
            if config.name in self.subscriptions:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Subscription already exists: {config.name}")
            if not config.ack_deadline_seconds:
                config.ack_deadline_seconds = 10
            self.subscriptions[config.name] = _Subscription(config)
        return config

    def _get_subscription(self, request: types.GetSubscriptionRequest,
                          context: grpc.ServicerContext) -> types.Subscription:
        subscription = self._subscription(request.subscription, context)
        return subscription.config

    def _pull(self, request: types.PullRequest, context: grpc.ServicerContext) -> types.PullResponse:
        subscription = self._subscription(request.subscription, context)
        deadline = time.monotonic() + self.pull_wait
        with self._lock:
            while True:
                now = time.monotonic()
                ready = [(ack_id, lease) for ack_id, lease in subscription.pending.items() if lease.leased_until <= now]
                if ready or now >= deadline or not context.is_active():
                    break
                self._lock.wait(timeout=min(0.05, deadline - now))
            received = []
            for ack_id, lease in ready[: max(1, request.max_messages or 1)]:
                lease.attempts += 1
                lease.leased_until = now + subscription.config.ack_deadline_seconds
                received.append(types.ReceivedMessage(ack_id=ack_id, message=lease.message,
                                                      delivery_attempt=lease.attempts))
        return types.PullResponse(received_messages=received)

    def _acknowledge(self, request: types.AcknowledgeRequest, context: grpc.ServicerContext) -> empty_pb2.Empty:
        subscription = self._subscription(request.subscription, context)
        with self._lock:
            for ack_id in request.ack_ids:
                subscription.pending.pop(ack_id, None)
        return empty_pb2.Empty()

    def _modify_ack_deadline(self, request: types.ModifyAckDeadlineRequest,
                             context: grpc.ServicerContext) -> empty_pb2.Empty:
        subscription = self._subscription(request.subscription, context)
        with self._lock:
            for ack_id in request.ack_ids:
                lease = subscription.pending.get(ack_id)
                if lease is not None:
                    lease.leased_until = time.monotonic() + request.ack_deadline_seconds
            self._lock.notify_all()
        return empty_pb2.Empty()

    def _subscription(self, name: str, context: grpc.ServicerContext) -> _Subscription:
        with self._lock:
            subscription = self.subscriptions.get(name)
        if subscription is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Subscription does not exist: {name}")
        return subscription
