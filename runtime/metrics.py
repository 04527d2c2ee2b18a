"""Prometheus metrics of the agent (served at /metrics).

Counted by this process (reset on restart, as Prometheus counters may be):
    custody_scan_duration_seconds{status}           histogram of scan durations
    custody_scans_total{status}                     scans run
    custody_api_errors_total{provider,status}       scan targets (account/region/service) that failed
    custody_alerts_sent_total{channel}              alerts delivered
    custody_alerts_failed_total{channel,outcome}    failed sends: outcome retry (will be retried) or permanent
Read from the state store at each scrape:
    custody_stores{status}                          present stores by status (pass, fail, ...)
    custody_last_scan_target_errors{provider,status} failed targets of the latest finished scan
    custody_last_scan_finished_timestamp_seconds    when the latest complete or partial scan finished
    custody_alert_outbox{channel,status}            outbox rows: pending is the backlog
    custody_state_up                                1 when the state store answered
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from alerts.db import Database
from alerts.outbox import backlog
from scanner.clock import parse_time
from scanner.model import ScanResult
from state.schema import scan_targets_table, scans_table, stores_table

log = logging.getLogger(__name__)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))


class AgentMetrics:
    def __init__(self, db: Database | None, channels: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry()
        self.scan_duration = Histogram("custody_scan_duration_seconds", "Duration of scans", ["status"],
                                       buckets=DURATION_BUCKETS, registry=self.registry)
        self.scans = Counter("custody_scans", "Scans run by this agent", ["status"], registry=self.registry)
        self.api_errors = Counter("custody_api_errors", "Scan targets that failed, by provider",
                                  ["provider", "status"], registry=self.registry)
        self.alerts_sent = Counter("custody_alerts_sent", "Alerts delivered, by channel", ["channel"],
                                   registry=self.registry)
        self.alerts_failed = Counter("custody_alerts_failed", "Failed alert sends, by channel and outcome",
                                     ["channel", "outcome"], registry=self.registry)
        for channel in channels:
            self.alerts_sent.labels(channel)
            for outcome in ("retry", "permanent"):
                self.alerts_failed.labels(channel, outcome)
        if db is not None:
            self.registry.register(StateCollector(db))

    def observe_scan(self, scan: ScanResult, seconds: float) -> None:
        self.scan_duration.labels(scan.status).observe(seconds)
        self.scans.labels(scan.status).inc()
        for target in scan.targets:
            if target.status != "ok":
                self.api_errors.labels(target.provider, target.status).inc()

    def on_delivery(self, channel: str, outcome: str) -> None:
        if outcome == "delivered":
            self.alerts_sent.labels(channel).inc()
        else:
            self.alerts_failed.labels(channel, "permanent" if outcome == "failed" else "retry").inc()


class StateCollector(Collector):
    """Gauges read from the state store at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("custody_state_up", "1 when the state store answered this scrape")
        try:
            families = list(self._families())
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics: state store unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        stores = GaugeMetricFamily("custody_stores", "Present stores by status", labels=["status"])
        targets = GaugeMetricFamily("custody_last_scan_target_errors",
                                    "Failed targets of the latest finished scan, by provider",
                                    labels=["provider", "status"])
        finished = GaugeMetricFamily("custody_last_scan_finished_timestamp_seconds",
                                     "When the latest complete or partial scan finished (Unix time)")
        outbox = GaugeMetricFamily("custody_alert_outbox", "Alert outbox rows by channel and status",
                                   labels=["channel", "status"])
        with self.db.read() as conn:
            by_status = conn.execute(select(stores_table.c.status, func.count())
                                     .where(stores_table.c.gone_at.is_(None)).group_by(stores_table.c.status))
            for status, count in by_status:
                stores.add_metric([status], count)
            last = conn.execute(select(scans_table.c.id, scans_table.c.finished_at)
                                .where(scans_table.c.status.in_(("complete", "partial", "failed")))
                                .order_by(scans_table.c.seq.desc()).limit(1)).first()
            if last is not None:
                failed = conn.execute(
                    select(scan_targets_table.c.provider, scan_targets_table.c.status, func.count())
                    .where(scan_targets_table.c.scan_id == last.id, scan_targets_table.c.status != "ok")
                    .group_by(scan_targets_table.c.provider, scan_targets_table.c.status))
                for provider, status, count in failed:
                    targets.add_metric([provider, status], count)
            read = conn.execute(select(scans_table.c.finished_at)
                                .where(scans_table.c.status.in_(("complete", "partial")))
                                .order_by(scans_table.c.seq.desc()).limit(1)).scalar()
            if read:
                finished.add_metric([], parse_time(read).timestamp())
            for (channel, status), count in sorted(backlog(conn).items()):
                outbox.add_metric([channel, status], count)
        yield from (stores, targets, finished, outbox)
