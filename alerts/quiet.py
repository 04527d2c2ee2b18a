"""Keeping quiet: one summary instead of many messages, and the daily digest.

Per scan and channel: the first scan the agent records for an estate is always one summary
(what is watched, what fails); after that, a channel routed more than `summary_threshold`
store alerts from one scan gets one summary of them instead. Alerts about the scan itself
(failed, partial, recovered) are never folded into a threshold summary (there is at most one
per scan); in the first scan's summary they become one line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from alerts.config import Route
from alerts.model import STORE_KINDS, Alert, alert_key, severity_rank, worst
from alerts.routing import channels_for

MAX_LINES = 15
KIND_WORDS = {
    "store_failing": "newly failing", "waiver_expired": "waiver expired", "scope_changed": "no longer covered",
    "reach_added": "newly reachable", "location_added": "new copy location", "finding_resolved": "resolved",
}


@dataclass
class DigestFacts:
    day: str
    stores: dict[str, int] = field(default_factory=dict)  # status -> present stores
    open_findings: dict[str, int] = field(default_factory=dict)  # severity -> failing findings (unmuted)
    waived: int = 0
    changes: dict[str, int] = field(default_factory=dict)  # event kind -> count in the last 24 h
    last_scan: dict[str, Any] | None = None  # id, status, finished_at
    undelivered: int = 0  # outbox rows that failed for good in the last 24 h


def plan(alerts: list[Alert], routes: list[Route], channels: list[str], threshold: int, first: bool,
         scan: dict[str, Any], link: str | None) -> list[tuple[Alert, str]]:
    """(alert, channel) pairs to queue for one scan, after routing and keeping quiet."""
    store_level = [alert for alert in alerts if alert.kind in STORE_KINDS]
    scan_level = [alert for alert in alerts if alert.kind not in STORE_KINDS]
    routed = {alert.key: channels_for(alert, routes, channels) for alert in alerts}
    grouped = {name for route in routes if route.group for name in route.channels}
    result: list[tuple[Alert, str]] = []
    for channel in channels:
        mine = [alert for alert in store_level if channel in routed[alert.key]]
        if first:
            result.append((first_summary(scan, mine, scan_level, link), channel))
            continue
        if len(mine) > threshold:
            result.append((threshold_summary(scan, mine, link), channel))
        elif channel in grouped and len(mine) > 1:
            result.append((group_alert(scan, mine, link), channel))
        else:
            result.extend((alert, channel) for alert in mine)
        result.extend((alert, channel) for alert in scan_level if channel in routed[alert.key])
    return result


def first_summary(scan: dict[str, Any], alerts: list[Alert], scan_level: list[Alert], link: str | None) -> Alert:
    counts = scan.get("counts") or {}
    total = counts.get("stores", 0)
    title = (f"Custody is now watching {total} data store(s): {counts.get('fail', 0)} fail, "
             f"{counts.get('pass', 0)} pass, {counts.get('not_evaluated', 0)} not evaluated, "
             f"{counts.get('not_applicable', 0)} not applicable")
    changes = [f"First scan {scan['id']} ({scan['status']}). From now on, only changes are told."]
    changes += [alert.title for alert in scan_level]
    if alerts:
        changes.append(f"{len(alerts)} store(s) fail policies routed to this channel; the worst first:")
    return Alert(
        key=alert_key(scan["id"], "summary", scan["id"]), kind="summary", subject=scan["id"], scan_id=scan["id"],
        severity=worst([alert.severity for alert in alerts]), title=title, changes=changes,
        lines=_top(alerts), link=link,
        policies=sorted({p for alert in alerts for p in alert.policies}),
        accounts=sorted({a for alert in alerts for a in alert.accounts}),
    )


def threshold_summary(scan: dict[str, Any], alerts: list[Alert], link: str | None) -> Alert:
    why = f"More than the summary threshold in one scan, so one message instead of {len(alerts)}. The worst first:"
    return _scan_summary(scan, alerts, link, why, _top(alerts))


def group_alert(scan: dict[str, Any], alerts: list[Alert], link: str | None) -> Alert:
    """The store alerts of one scan as one message (a route with `group: true`): each with what changed."""
    ordered = sorted(alerts, key=lambda alert: (-severity_rank(alert.severity), alert.title))
    lines = []
    for alert in ordered[:MAX_LINES]:
        lines.append(f"[{alert.severity}] {alert.title}" + (f": {alert.changes[-1]}" if alert.changes else "")
                     + (f" {alert.link}" if alert.link else ""))
    if len(ordered) > MAX_LINES:
        lines.append(f"… and {len(ordered) - MAX_LINES} more: see the dashboard.")
    return _scan_summary(scan, alerts, link, "Grouped for this route: one message per scan, the worst first.", lines)


def _scan_summary(scan: dict[str, Any], alerts: list[Alert], link: str | None, why: str, lines: list[str]) -> Alert:
    """One message for a scan's store alerts: counted by kind, at the worst severity, with their policies and
    accounts."""
    by_kind = Counter(alert.kind for alert in alerts)
    counted = ", ".join(f"{by_kind[kind]} {KIND_WORDS[kind]}" for kind in STORE_KINDS if by_kind[kind])
    return Alert(
        key=alert_key(scan["id"], "summary", scan["id"]), kind="summary", subject=scan["id"], scan_id=scan["id"],
        severity=worst([alert.severity for alert in alerts]),
        title=f"{len(alerts)} stores changed in scan {scan['id']}: {counted}",
        changes=[why], lines=lines, link=link,
        policies=sorted({p for alert in alerts for p in alert.policies}),
        accounts=sorted({a for alert in alerts for a in alert.accounts}),
    )


def digest_alert(facts: DigestFacts, link: str | None) -> Alert:
    stores = facts.stores
    failing = sum(facts.open_findings.values())
    title = (f"Custody daily digest {facts.day}: {stores.get('fail', 0)} of {sum(stores.values())} store(s) "
             f"fail, {failing} open finding(s)")
    lines = ["Open findings by severity: " + (", ".join(
        f"{facts.open_findings[s]} {s}" for s in sorted(facts.open_findings, key=severity_rank, reverse=True))
        or "none") + f"; {facts.waived} muted by a waiver."]
    lines.append("Stores by status: " + (", ".join(f"{n} {status}" for status, n in sorted(stores.items()))
                                         or "none yet"))
    lines.append("Changes in the last 24 hours: " + (", ".join(
        f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(facts.changes.items())) or "none"))
    if facts.last_scan:
        scan = facts.last_scan
        lines.append(f"Last scan: {scan.get('id')} {scan.get('status')}, finished {scan.get('finished_at')}.")
    if facts.undelivered:
        lines.append(f"{facts.undelivered} alert(s) could not be delivered in the last 24 hours.")
    return Alert(
        key=alert_key("digest", facts.day, facts.day), kind="digest", subject=facts.day, severity="info",
        title=title, lines=lines, link=link,
    )


def _top(alerts: list[Alert]) -> list[str]:
    ordered = sorted(alerts, key=lambda alert: (-severity_rank(alert.severity), alert.title))
    lines = [f"[{alert.severity}] {alert.title}" for alert in ordered[:MAX_LINES]]
    if len(ordered) > MAX_LINES:
        lines.append(f"… and {len(ordered) - MAX_LINES} more: see the dashboard.")
    return lines
