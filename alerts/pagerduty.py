"""PagerDuty Events API v2, through the outbox like every channel.

- A finding newly failing (new, reopened, waiver expired, on a new ground) at or above the
  channel's `min_severity` (default critical) triggers an event; its dedup key is the finding's
  fingerprint ("custody:<fingerprint>"), so one incident per finding, however often it is told.
- A finding resolved resolves that dedup key.
- Other alerts routed here (scan alerts, summaries, digests, findings below `min_severity`) send
  nothing and are recorded as delivered; route only what pages (e.g. `kinds: [store_failing,
  waiver_expired, reach_added, location_added, finding_resolved]`).

Events are sent one by one; a retry after a failure re-sends them all, which PagerDuty's dedup
key makes harmless. Answers: 202 delivered; 429 and 5xx retried; other 4xx fail for good.
"""

from __future__ import annotations

import json
from typing import Any

from alerts.config import PagerDutySettings
from alerts.model import Alert, severity_rank
from alerts.sending import DELIVERED, SendResult, post_json
from scanner.secrets import mask

PD_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}


def dedup_key(fingerprint: str) -> str:
    return f"custody:{fingerprint}"


def events(alert: Alert, routing_key: str, min_severity: str) -> list[dict[str, Any]]:
    """The Events API v2 bodies for one alert: a trigger per open finding at or above min_severity, a resolve
    per resolved finding."""
    result = []
    store = alert.store or {}
    for finding in alert.findings:
        key = dedup_key(str(finding.get("fingerprint")))
        if finding.get("state") == "resolved":
            result.append({"routing_key": routing_key, "event_action": "resolve", "dedup_key": key})
            continue
        if finding.get("state") != "open" or severity_rank(str(finding.get("severity"))) < severity_rank(min_severity):
            continue
        event: dict[str, Any] = {
            "routing_key": routing_key, "event_action": "trigger", "dedup_key": key,
            "payload": {
                "summary": mask(f"{finding.get('policy')}: {store.get('kind')} {store.get('name')} reachable by "
                                f"{finding.get('jurisdiction')} ({finding.get('basis')})")[:1024],
                "source": str(store.get("id") or alert.subject), "severity": PD_SEVERITY.get(
                    str(finding.get("severity")), "error"),
                "component": str(store.get("kind") or ""), "group": str(store.get("account") or ""),
                "class": str(finding.get("policy") or ""),
                "custom_details": {"alert": mask(alert.title), "message": mask(str(finding.get("message") or "")),
                                   "changes": [mask(line) for line in alert.changes]},
            },
        }
        if alert.link:
            event["links"] = [{"href": mask(alert.link), "text": "Open in the Custody dashboard"}]
        result.append(event)
    return result


class PagerDutySender:
    def __init__(self, settings: PagerDutySettings) -> None:
        self.name = settings.name
        self.min_interval_seconds = settings.min_interval_seconds
        self.timeout = settings.timeout_seconds
        self.url = settings.events_url
        self.min_severity = settings.min_severity
        self._routing_key = settings.routing_key.read()

    def send(self, alert: Alert, key: str) -> SendResult:
        for event in events(alert, self._routing_key, self.min_severity):
            result = post_json(self.url, json.dumps(event).encode(), self.timeout)
            if result.outcome != "delivered":
                return result
        return DELIVERED
