"""After each scan: detect, route, keep quiet, queue — in one transaction with the bookkeeping.

`AlertPipeline.process()` handles every finished scan in the state store that has not been
processed yet (normally the one just recorded; after a crash, any recorded but not alerted),
oldest first. For each, in the same transaction: the outbox rows, the finding mute states
(to notice a waiver expiring next time) and the alert_scans row that marks it processed.
So a scan's alerts are queued exactly once, whatever dies when.

The first scan that read something (complete or partial) on a database the agent has never
alerted from is the baseline: one summary per channel. Scans recorded before it (say by
`agent.py scan` runs) are marked processed without alerts.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from alerts.changes import changes_of, finding_rows, store_documents, waiver_rows
from alerts.config import AlertSettings
from alerts.db import Database
from alerts.detect import ScanFacts, detect, muted
from alerts.model import Alert
from alerts.outbox import FAILED, enqueue
from alerts.quiet import DigestFacts, digest_alert, plan
from alerts.routing import channels_for
from scanner.clock import now_text
from state.locks import transaction_lock
from state.schema import (
    FINAL_STATUSES,
    alert_finding_state_table,
    alert_scans_table,
    events_table,
    findings_table,
    outbox_table,
    scan_targets_table,
    scans_table,
    stores_table,
)

log = logging.getLogger(__name__)
READ_STATUSES = ("complete", "partial")  # scans that saw something
TOLD_STATUSES = ("complete", "partial", "failed")  # what "the previous scan" means for scan alerts


@dataclass
class Processed:
    scan_id: str
    status: str
    alerts: int  # detected
    queued: int  # outbox rows added
    baseline: bool


class AlertPipeline:
    def __init__(self, db: Database, settings: AlertSettings, dashboard_url: str | None = None,
                 name_of: Callable[[str], str] = str, clock: Callable[[], str] = now_text,
                 scopes: Callable[[], dict[str, dict[str, str]]] = dict) -> None:
        self.db = db
        self.scopes = scopes  # policy id -> the tags its scope requires (read again with each reloaded config)
        self.settings = settings
        self.dashboard_url = dashboard_url.rstrip("/") if dashboard_url else None
        self.name_of = name_of
        self.clock = clock

    @property
    def channels(self) -> list[str]:
        return list(self.settings.channels)

    def process(self) -> list[Processed]:
        """Queue the alerts of every finished scan not processed yet; return what was done."""
        with self.db.write() as conn:
            transaction_lock(conn, "custody:alerts")  # replicas sharing the database queue each scan once
            done = {row.scan_id: row for row in conn.execute(select(alert_scans_table))}
            has_baseline = any(row.baseline for row in done.values())
            scans = [dict(row) for row in conn.execute(
                select(scans_table.c.id, scans_table.c.seq, scans_table.c.status, scans_table.c.started_at,
                       scans_table.c.finished_at, scans_table.c.counts)
                .where(scans_table.c.status.in_(FINAL_STATUSES)).order_by(scans_table.c.seq)).mappings()]
            todo = [scan for scan in scans if scan["id"] not in done]
            self._remind(conn)
            if not todo:
                return []
            baseline_id = None
            if not has_baseline:
                readable = [scan for scan in todo if scan["status"] in READ_STATUSES]
                baseline_id = readable[-1]["id"] if readable else None
            mute_state = {row.fingerprint: row for row in conn.execute(select(alert_finding_state_table))}
            results = []
            previous: str | None = None
            silent = baseline_id is not None
            for scan in scans:
                if scan["id"] not in done:
                    if silent and scan["id"] != baseline_id:
                        self._mark(conn, scan, 0, baseline=False)
                        results.append(Processed(scan["id"], scan["status"], 0, 0, False))
                    else:
                        silent = False
                        results.append(self._one(conn, scan, previous, mute_state, scan["id"] == baseline_id))
                if scan["status"] in TOLD_STATUSES:
                    previous = scan["status"]
            return results

    def enqueue_digest(self, day: dt.date) -> int:
        """Queue the daily digest for `day` to every channel (once per day and channel)."""
        with self.db.write() as conn:
            facts = digest_facts(conn, day.isoformat(), self.clock())
            alert = digest_alert(facts, f"{self.dashboard_url}/" if self.dashboard_url else None)
            return enqueue(conn, [(alert, channel) for channel in self.channels], self.clock())

    # ---- one scan -------------------------------------------------------------------------

    def _one(self, conn: Connection, scan: dict[str, Any], previous: str | None,
             mute_state: dict[str, Any], baseline: bool) -> Processed:
        scan = {**scan, "targets": [dict(row) for row in conn.execute(
            select(scan_targets_table).where(scan_targets_table.c.scan_id == scan["id"])).mappings()]}
        changes = changes_of(conn, scan["id"], scan["status"])
        wanted = (set(changes.new_findings) | set(changes.resolved_findings) | set(changes.reopened_findings)
                  | set(changes.changed_findings))
        were_muted = {fingerprint for fingerprint, state in mute_state.items() if state.muted}
        findings = {**waiver_rows(conn, scan["id"], were_muted), **finding_rows(conn, wanted)}
        unmuted = self._update_mutes(conn, scan["id"], findings, mute_state)
        store_ids = {row["store_id"] for row in findings.values()}
        for name in ("new_stores", "gone_stores", "reappeared_stores", "changed_reach", "changed_locations"):
            store_ids.update(getattr(changes, name))
        facts = ScanFacts(
            scan=scan, previous_status=previous, changes=changes, stores=store_documents(conn, store_ids),
            findings=findings, unmuted=unmuted, dashboard_url=self.dashboard_url, name_of=self.name_of,
            scopes=self.scopes(), repeat=self._repeat_due(conn, scan["status"], previous),
        )
        alerts = detect(facts)
        link = f"{self.dashboard_url}/" if self.dashboard_url else None
        items = plan(alerts, self.settings.routes, self.channels, self.settings.summary_threshold, baseline,
                     scan, link)
        queued = enqueue(conn, items, self.clock())
        self._mark(conn, scan, len(alerts), baseline)
        for alert in alerts:
            log.info("alert: %s", alert.title, extra={"scan_id": scan["id"], "alert_key": alert.key,
                                                      "alert_kind": alert.kind, "severity": alert.severity})
        return Processed(scan["id"], scan["status"], len(alerts), queued, baseline)

    def _repeat_due(self, conn: Connection, status: str, previous: str | None) -> bool:
        """Still failed (or partial), and told longer ago than `repeat_failed_scan_minutes`?"""
        minutes = self.settings.repeat_failed_scan_minutes
        if status not in ("failed", "partial") or status != previous or minutes <= 0:
            return False
        last = conn.scalar(select(func.max(outbox_table.c.created_at)).where(outbox_table.c.kind == f"scan_{status}"))
        return last is None or _age_seconds(self.clock(), last) >= minutes * 60

    def _remind(self, conn: Connection) -> int:
        """Queue a reminder of the critical findings open longer than `remind_after_hours`, at most once that often."""
        hours = self.settings.remind_after_hours
        if not hours or not self.channels:
            return 0
        now = self.clock()
        last = conn.scalar(select(func.max(outbox_table.c.created_at)).where(outbox_table.c.kind == "reminder"))
        if last is not None and _age_seconds(now, last) < hours * 3600:
            return 0
        alert = reminder_alert(conn, now, hours, f"{self.dashboard_url}/findings" if self.dashboard_url else None)
        if alert is None:
            return 0
        items = [(alert, channel) for channel in channels_for(alert, self.settings.routes, self.channels)]
        return enqueue(conn, items, now)

    def _update_mutes(self, conn: Connection, scan_id: str, findings: dict[str, dict[str, Any]],
                      mute_state: dict[str, Any]) -> list[str]:
        """Record whether each finding seen in this scan is muted; return those a waiver stopped muting."""
        unmuted, inserts, updates = [], [], []
        for fingerprint, row in findings.items():
            if row["last_scan_id"] != scan_id:
                continue
            now_muted = muted(row)
            expires = (row.get("waiver") or {}).get("expires")
            old = mute_state.get(fingerprint)
            values = {"muted": now_muted, "waiver_expires": expires, "scan_id": scan_id}
            if old is None:
                if now_muted:  # only findings a waiver ever muted are followed
                    inserts.append({"fingerprint": fingerprint, **values})
            else:
                if old.muted and not now_muted:
                    unmuted.append(fingerprint)
                if old.muted != now_muted or old.waiver_expires != expires:
                    updates.append((fingerprint, values))
            if old is not None or now_muted:
                mute_state[fingerprint] = _State(now_muted, expires)
        if inserts:
            conn.execute(insert(alert_finding_state_table), inserts)
        for fingerprint, values in updates:
            conn.execute(update(alert_finding_state_table)
                         .where(alert_finding_state_table.c.fingerprint == fingerprint).values(**values))
        return sorted(unmuted)

    def _mark(self, conn: Connection, scan: dict[str, Any], alerts: int, baseline: bool) -> None:
        conn.execute(insert(alert_scans_table).values(
            scan_id=scan["id"], scan_status=scan["status"], processed_at=self.clock(), alerts=alerts,
            baseline=baseline))


@dataclass
class _State:
    muted: bool
    waiver_expires: str | None


def _age_seconds(now: str, then: str) -> float:
    return (dt.datetime.fromisoformat(now) - dt.datetime.fromisoformat(then)).total_seconds()


def reminder_alert(conn: Connection, now: str, hours: float, link: str | None) -> Alert | None:
    """One alert listing the critical findings (unmuted, on present stores) first seen more than `hours` ago
    (the caller queues it at most once every `hours`)."""
    since = (dt.datetime.fromisoformat(now) - dt.timedelta(hours=hours)).isoformat()
    rows = conn.execute(
        select(findings_table.c.policy, findings_table.c.jurisdiction, findings_table.c.basis,
               findings_table.c.first_seen, findings_table.c.waiver, stores_table.c.kind, stores_table.c.name,
               stores_table.c.account)
        .join(stores_table, stores_table.c.id == findings_table.c.store_id)
        .where(findings_table.c.resolved_at.is_(None), stores_table.c.gone_at.is_(None),
               findings_table.c.severity == "critical", findings_table.c.first_seen <= since[:19] + "+00:00")
        .order_by(findings_table.c.first_seen)).mappings().all()
    rows = [row for row in rows if not muted({"waiver": row["waiver"]})]
    if not rows:
        return None
    lines = [f"{row['policy']}: {row['kind']} {row['name']} (account {row['account']}) — {row['jurisdiction']} "
             f"({row['basis'].replace('_', ' ')}), open since {row['first_seen']}" for row in rows[:15]]
    if len(rows) > 15:
        lines.append(f"… and {len(rows) - 15} more: see the dashboard.")
    return Alert(
        key=f"remind:{now}", kind="reminder", subject=now, severity="critical",
        title=f"Reminder: {len(rows)} critical finding(s) still open after more than {hours:g} h",
        policies=sorted({row["policy"] for row in rows}), accounts=sorted({str(row["account"]) for row in rows}),
        lines=lines, link=link,
        next_steps=["Fix each store, or record a waiver with an approver and an expiry; the reminder repeats "
                    f"every {hours:g} h while any stays open."],
    )


def digest_facts(conn: Connection, day: str, now: str) -> DigestFacts:
    since = (dt.datetime.fromisoformat(now) - dt.timedelta(hours=24)).isoformat()
    facts = DigestFacts(day=day)
    present = select(stores_table.c.status, func.count()).where(stores_table.c.gone_at.is_(None))
    facts.stores = dict(conn.execute(present.group_by(stores_table.c.status)).all())
    open_rows = conn.execute(select(findings_table.c.severity, findings_table.c.waiver)
                             .join(stores_table, stores_table.c.id == findings_table.c.store_id)
                             .where(findings_table.c.resolved_at.is_(None), stores_table.c.gone_at.is_(None)))
    severities: Counter[str] = Counter()
    for severity, waiver in open_rows:
        if muted({"waiver": waiver}):
            facts.waived += 1
        else:
            severities[severity] += 1
    facts.open_findings = dict(severities)
    recent = select(events_table.c.kind, func.count()).where(events_table.c.at >= since[:19])
    facts.changes = dict(conn.execute(recent.group_by(events_table.c.kind)).all())
    last = conn.execute(select(scans_table.c.id, scans_table.c.status, scans_table.c.finished_at)
                        .where(scans_table.c.status.in_(FINAL_STATUSES))
                        .order_by(scans_table.c.seq.desc()).limit(1)).mappings().first()
    facts.last_scan = dict(last) if last else None
    facts.undelivered = conn.scalar(select(func.count()).select_from(outbox_table).where(
        outbox_table.c.status == FAILED, outbox_table.c.last_attempt_at >= since)) or 0
    return facts

