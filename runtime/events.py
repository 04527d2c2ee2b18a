"""Event-driven detection: the clouds' change events make the agent re-read just the stores they name.

Beside the schedule (which stays the safety net), one consumer thread per configured queue
(`agent.events`, see runtime.events_config) long-polls its queue. Each batch of messages is:

1. parsed into hints (providers/aws_events.py, azure_events.py, gcp_events.py); a malformed message, one about
   something the config does not scan, a duplicate (an event id already handled) and an out-of-order one (older
   than an event already handled for the same store: that one's re-read saw a later state) are counted, logged
   in one line and dropped;
2. coalesced: one re-read per store (or per region's service);
3. re-read through the provider's own read path, narrowed to that service, account and region (providers.events).
   An event is never a fact: the store is judged from what the read returned, and it is marked gone only when a
   whole read (every target ok) no longer finds it. A partial or failed read concludes nothing;
4. judged and recorded as one "targeted" scan (StateStore.finish_targeted), whose alerts the caller queues
   (the agent's alert pipeline, as after a scheduled scan);
5. deleted from the queue once recorded. A batch that could not be recorded stays on the queue and comes back.

A lost event (a queue outage, a message deleted by hand) costs only time: the next scheduled scan reads
everything. Every outcome is counted in `custody_events_total{outcome}` on /metrics.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as MetricCounter

from providers.base import Provider
from providers.events import DELETE, EventSource, Hint, MalformedEvent, Message, OutOfScope, Reread, kinds_for, reread
from runtime.events_config import EventSettings, build_sources
from runtime.scan import Judge, new_scan
from scanner.clock import now_iso
from scanner.errors import InputError
from scanner.kinds import kinds_of
from scanner.model import DataStore, ScanResult
from state.schema import TARGETED
from state.store import StateStore

log = logging.getLogger("custody.events")
OUTCOMES = ("received", "malformed", "out_of_scope", "duplicate", "out_of_order", "reread", "reread_partial",
            "reread_failed", "confirmed_gone", "recorded")
RETRY_SECONDS = 5.0  # after a failed receive


class Setup(Protocol):
    """What a re-read needs: the providers and the judge of the config in use (runtime.cli.ScanSetup, reloaded
    before each scheduled scan)."""

    providers: list[Provider]
    judge: Judge


@dataclass
class Recorded:
    """One targeted scan: its id, the hints it acted on, the stores it recorded and those it confirmed gone."""

    scan_id: str
    hints: list[Hint]
    stores: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)


class Ordering:
    """Duplicates and out-of-order events, judged over the last `window` event ids and store keys."""

    def __init__(self, window: int = 10000) -> None:
        self.window = window
        self._ids: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._latest: OrderedDict[tuple[str, ...], str] = OrderedDict()

    def verdict(self, hint: Hint) -> str | None:
        """"duplicate", "out_of_order" or None (handle it)."""
        if (hint.provider, hint.event_id) in self._ids:
            return "duplicate"
        latest = self._latest.get(hint.key)
        if latest is not None and _instant(hint.event_time) < _instant(latest):
            return "out_of_order"
        return None

    def handled(self, hint: Hint) -> None:
        self._remember(self._ids, (hint.provider, hint.event_id), None)
        latest = self._latest.get(hint.key)
        if latest is None or _instant(hint.event_time) > _instant(latest):
            self._remember(self._latest, hint.key, hint.event_time)

    def _remember(self, table: OrderedDict, key: object, value: object) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.window:
            table.popitem(last=False)


class EventHandler:
    """Turns batches of queue messages into targeted scans (thread-safe: one batch at a time)."""

    def __init__(self, state: StateStore, setup: Callable[[], Setup],
                 on_recorded: Callable[[Recorded], None] = lambda _: None,
                 registry: CollectorRegistry | None = None, window: int = 10000) -> None:
        self.state = state
        self.setup = setup
        self.on_recorded = on_recorded
        self.ordering = Ordering(window)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._metric = MetricCounter("custody_events", "Change events by outcome", ["outcome"],
                                     registry=registry) if registry is not None else None

    def handle(self, source: EventSource, messages: list[Message]) -> Recorded | None:
        """Handle one batch; delete its messages once recorded. Returns the targeted scan, if one was recorded."""
        with self._lock:
            self._count("received", len(messages))
            hints = self._admit(source, messages)
            try:
                recorded = self._rescan(source, hints) if hints else None
            except InputError as exc:  # the state store is down: the messages come back after their timeout
                log.error("events not recorded, left on the queue: %s", exc, extra={"queue": source.name})
                return None
            for hint in hints:
                self.ordering.handled(hint)
        source.delete(messages)
        if recorded is not None:
            self.on_recorded(recorded)
        return recorded

    # ---- 1, 2: parse, drop, coalesce ------------------------------------------------------------

    def _admit(self, source: EventSource, messages: list[Message]) -> list[Hint]:
        """The hints to act on, one per store key (the latest event of each), in event order."""
        chosen: dict[tuple[str, ...], Hint] = {}
        parsed = []
        for message in messages:
            try:
                parsed.append(source.parse(message))
            except MalformedEvent as exc:
                self._drop("malformed", source, f"malformed event: {exc}")
            except OutOfScope as exc:
                self._drop("out_of_scope", source, f"event not for Custody: {exc}")
        batch_ids: set[tuple[str, str]] = set()
        for hint in sorted(parsed, key=lambda item: _instant(item.event_time)):
            verdict = self.ordering.verdict(hint)
            if verdict is None and (hint.provider, hint.event_id) in batch_ids:
                verdict = "duplicate"
            if verdict is not None:
                self._drop(verdict, source, f"{verdict.replace('_', '-')} event {hint.event_id} "
                           f"({hint.operation} {hint.name or hint.store_id or ''}) dropped")
                continue
            batch_ids.add((hint.provider, hint.event_id))
            chosen[hint.key] = hint
        return sorted(chosen.values(), key=lambda item: _instant(item.event_time))

    # ---- 3, 4: re-read, judge, record -------------------------------------------------------------

    def _rescan(self, source: EventSource, hints: list[Hint]) -> Recorded | None:
        setup = self.setup()
        judge = setup.judge
        judge.today = dt.date.today()
        scan = new_scan(judge)
        scan.status = TARGETED
        stores: dict[str, DataStore] = {}
        gone: set[str] = set()
        whole: set[str] = set()
        for hint in hints:
            result = self._reread(source, setup.providers, hint)
            if result is None:
                continue
            scan.targets.extend(result.targets)
            for found in result.stores:
                store = judge.judge(found)
                stores[store.id] = store
                if result.whole:
                    whole.add(store.id)
            if result.confirmed_gone:
                gone.update(self._named_ids(hint))
        gone -= set(stores)
        if not stores and not gone:
            return None
        self._count("confirmed_gone", len(gone))
        self._finish(scan, list(stores.values()))
        self.state.finish_targeted(scan, stores.values(), sorted(gone), sorted(whole))
        self._count("recorded")
        log.info("targeted scan recorded", extra={"scan_id": scan.id, "stores": len(stores), "gone": len(gone),
                                                  "events": len(hints)})
        return Recorded(scan.id, hints, sorted(stores), sorted(gone))

    def _reread(self, source: EventSource, providers: list[Provider], hint: Hint) -> Reread | None:
        provider = next((item for item in providers if item.name == hint.provider), None)
        try:
            if provider is None:
                raise OutOfScope(f"provider {hint.provider} is not configured")
            result = reread(provider, hint, source.narrow)
        except OutOfScope as exc:
            self._drop("out_of_scope", source, f"event {hint.event_id} not re-read: {exc}")
            return None
        except Exception as exc:  # a dead endpoint or a bug: the scheduled scan will read it
            self._drop("reread_failed", source, f"event {hint.event_id} ({hint.operation}): re-read failed: "
                       f"{type(exc).__name__}: {exc}; left to the next scheduled scan")
            return None
        self._count("reread")
        if not result.whole:
            failed = [f"{t.service} {t.region}: {t.status}" for t in result.targets if t.status != "ok"]
            self._drop("reread_partial", source, f"event {hint.event_id} ({hint.operation}): the re-read was "
                       f"partial ({'; '.join(failed) or 'nothing read'}): nothing is marked gone or resolved")
        elif hint.action == DELETE and result.stores:
            log.info("event %s (%s): the store is still there", hint.event_id, hint.operation)
        return result

    def _named_ids(self, hint: Hint) -> list[str]:
        """The recorded stores a hint names (the ids to mark gone)."""
        kinds = kinds_for(hint.provider, hint.service)
        regional = {spec.kind for spec in kinds_of(hint.provider) if spec.scope == "regional"}
        region = hint.region if kinds <= regional else None
        return self.state.present_stores(hint.provider, hint.account, kinds, name=hint.name,
                                         store_id=hint.store_id, region=region)

    @staticmethod
    def _finish(scan: ScanResult, stores: list[DataStore]) -> None:
        statuses = Counter(store.status for store in stores)
        scan.counts = {"stores": len(stores), **{status: statuses.get(status, 0) for status in (
            "pass", "fail", "not_applicable", "not_evaluated")}}
        scan.finished_at = now_iso()

    def _drop(self, outcome: str, source: EventSource, line: str) -> None:
        self._count(outcome)
        level = logging.INFO if outcome in ("out_of_scope", "duplicate", "out_of_order") else logging.WARNING
        log.log(level, line, extra={"queue": source.name, "outcome": outcome})

    def _count(self, outcome: str, amount: int = 1) -> None:
        if amount:
            self.counts[outcome] += amount
            if self._metric is not None:
                self._metric.labels(outcome).inc(amount)


class EventConsumer:
    """One thread long-polling one queue until `stopping` is set."""

    def __init__(self, source: EventSource, handler: EventHandler, stopping: threading.Event) -> None:
        self.source = source
        self.handler = handler
        self.stopping = stopping
        self.thread = threading.Thread(target=self._run, name=f"events-{source.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def is_alive(self) -> bool:
        return self.thread.is_alive()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        log.info("event consumer started", extra={"queue": self.source.name})
        while not self.stopping.is_set():
            try:
                messages = self.source.receive()
            except Exception as exc:  # the queue is unreachable: retry; the schedule covers the gap
                log.warning("cannot read queue %s: %s: %s", self.source.name, type(exc).__name__, exc)
                self.stopping.wait(RETRY_SECONDS)
                continue
            if messages:
                try:
                    self.handler.handle(self.source, messages)
                except Exception:  # a bug must not stop the consumer; the messages come back
                    log.exception("event batch not handled", extra={"queue": self.source.name})
        log.info("event consumer stopped", extra={"queue": self.source.name})


def _instant(text: str) -> dt.datetime:
    """An event time (ISO 8601, `Z` or offset; naive taken as UTC) → an aware datetime; unreadable sorts first."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def start_consumers(settings: EventSettings | None, state: StateStore, setup: Callable[[], Setup],
                    on_recorded: Callable[[Recorded], None], registry: CollectorRegistry | None,
                    stopping: threading.Event) -> list[EventConsumer]:
    """Start one consumer per queue of `agent.events` (none when it is absent); they stop with `stopping`."""
    if settings is None:
        return []
    handler = EventHandler(state, setup, on_recorded, registry, settings.dedupe_window)
    consumers = [EventConsumer(source, handler, stopping) for source in build_sources(settings, stopping)]
    for consumer in consumers:
        consumer.start()
    return consumers
