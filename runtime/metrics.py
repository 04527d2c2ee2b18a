"""Prometheus metrics of the agent (served at /metrics).

Counted by this process (reset on restart, as Prometheus counters may be):
    custody_scan_duration_seconds{status}           histogram of scan durations
    custody_scans_total{status}                     scans run
    custody_api_errors_total{provider,status}       scan targets (account/region/service) that failed
    custody_alerts_sent_total{channel}              alerts delivered
    custody_alerts_failed_total{channel,outcome}    failed sends: outcome retry (will be retried) or permanent
    custody_scan_failures_total{reason}             scan jobs that failed: nothing_read (every target failed),
                                                    not_recorded (the state store refused it), error (a crash)
    custody_build_info{version,python}              always 1
    process_*, python_*                             the standard process and platform collectors
Read from the state store at each scrape:
    custody_stores{status}                          present stores by status (pass, fail, ...): a store a
                                                    partial scan could not read keeps its last verdict
    custody_stale_stores                            present stores the latest scan did not judge (their
                                                    verdict is from an earlier scan)
    custody_open_findings{severity,policy}          open findings no live waiver mutes, on present stores
    custody_alert_oldest_pending_age_seconds{channel} age of the oldest alert waiting on each channel
    custody_last_scan_target_errors{provider,status} failed targets of the latest finished scan
    custody_last_scan_finished_timestamp_seconds    when the latest complete or partial scan finished
    custody_alert_outbox{channel,status}            outbox rows: pending is the backlog
    custody_state_up                                1 when the state store answered and the last write worked
Kept by this process:
    custody_state_writable                          0 while a write to the state store fails
    custody_alert_delivery_blocked{channel}         1 while a channel stopped because it cannot record a send
    custody_consecutive_failed_scans                scan jobs failed in a row (readiness: agent.ready_max_failed_scans)
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from alerts.db import Database
from alerts.detect import muted
from alerts.outbox import PENDING, backlog
from scanner.clock import now, parse_time
from scanner.model import ScanResult
from state.reads import stale_stores
from state.schema import findings_table, outbox_table, scan_targets_table, scans_table, stores_table

FAILURE_REASONS = ("nothing_read", "not_recorded", "error")

log = logging.getLogger(__name__)
DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))


class AgentMetrics:
    def __init__(self, db: Database | None, channels: Iterable[str] = (),
                 blocked: Callable[[], dict[str, str]] = dict) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Gauge("custody_build_info", "The agent's version", ["version", "python"], registry=self.registry).labels(
            _version(), platform.python_version()).set(1)
        self.scan_failures = Counter("custody_scan_failures", "Scan jobs that failed, by reason", ["reason"],
                                     registry=self.registry)
        for reason in FAILURE_REASONS:
            self.scan_failures.labels(reason)
        self.consecutive_failures = 0
        Gauge("custody_consecutive_failed_scans", "Scan jobs failed in a row",
              registry=self.registry).set_function(lambda: self.consecutive_failures)
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
            self.registry.register(StateCollector(db, list(channels), blocked))

    def observe_scan(self, scan: ScanResult, seconds: float) -> None:
        """A scan this process ran (or, distributed, finished); a failed one counts as a failure."""
        self.scan_duration.labels(scan.status).observe(seconds)
        self.scans.labels(scan.status).inc()
        for target in scan.targets:
            if target.status != "ok":
                self.api_errors.labels(target.provider, target.status).inc()
        if scan.status == "failed":
            self.scan_failed("nothing_read")
        elif any(gap.startswith("state store: ") for gap in scan.coverage_gaps):
            self.scan_failed("not_recorded")
        elif scan.status in ("complete", "partial"):
            self.consecutive_failures = 0

    def scan_failed(self, reason: str) -> None:
        self.scan_failures.labels(reason).inc()
        self.consecutive_failures += 1

    def on_delivery(self, channel: str, outcome: str) -> None:
        if outcome == "delivered":
            self.alerts_sent.labels(channel).inc()
        else:
            self.alerts_failed.labels(channel, "permanent" if outcome == "failed" else "retry").inc()


class StateCollector(Collector):
    """Gauges read from the state store at scrape time."""

    def __init__(self, db: Database, channels: list[str], blocked: Callable[[], dict[str, str]]) -> None:
        self.db = db
        self.channels = channels
        self.blocked = blocked

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("custody_state_up",
                               "1 when the state store answered this scrape and its last write worked")
        writable = GaugeMetricFamily("custody_state_writable", "0 while a write to the state store fails")
        blocked = GaugeMetricFamily("custody_alert_delivery_blocked",
                                    "1 while a channel stopped because it cannot record a send", labels=["channel"])
        stopped = self.blocked()
        for channel in self.channels:
            blocked.add_metric([channel], 1 if channel in stopped else 0)
        can_write = self.db.write_error is None and not stopped
        writable.add_metric([], 1 if can_write else 0)
        yield from (writable, blocked)
        try:
            families = list(self._families())
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("metrics: state store unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1 if can_write else 0)
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
        stale = GaugeMetricFamily("custody_stale_stores", "Present stores the latest scan did not judge")
        findings = GaugeMetricFamily("custody_open_findings", "Open findings no live waiver mutes, on present stores",
                                     labels=["severity", "policy"])
        oldest = GaugeMetricFamily("custody_alert_oldest_pending_age_seconds",
                                   "Age of the oldest alert waiting on each channel", labels=["channel"])
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
            stale.add_metric([], stale_stores(conn))
            for severity, policy, count in _open_findings(conn):
                findings.add_metric([severity, policy], count)
            waiting = select(outbox_table.c.channel, func.min(outbox_table.c.created_at)).where(
                outbox_table.c.status == PENDING).group_by(outbox_table.c.channel)
            pending = dict(conn.execute(waiting).all())
            for channel in self.channels:
                since = pending.get(channel)
                oldest.add_metric([channel], (now() - parse_time(since)).total_seconds() if since else 0)
        yield from (stores, targets, finished, outbox, stale, findings, oldest)


def _open_findings(conn: Connection) -> list[tuple[str, str, int]]:
    """(severity, policy, count) of the open findings no live waiver mutes, on present stores."""
    rows = conn.execute(select(findings_table.c.severity, findings_table.c.policy, findings_table.c.waiver)
                        .join(stores_table, stores_table.c.id == findings_table.c.store_id)
                        .where(findings_table.c.resolved_at.is_(None), stores_table.c.gone_at.is_(None)))
    counts: dict[tuple[str, str], int] = {}
    for severity, policy, waiver in rows:
        if not muted({"waiver": waiver}):
            counts[(severity, policy)] = counts.get((severity, policy), 0) + 1
    return [(severity, policy, count) for (severity, policy), count in sorted(counts.items())]


def _version() -> str:
    try:
        return metadata.version("custody")
    except metadata.PackageNotFoundError:
        return "unknown"
