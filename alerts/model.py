"""Alert: one thing worth telling, as it is stored in the outbox and rendered for each channel.

Kinds (the headline; an alert about one store lists every change to that store in the scan):

    store_failing      a store newly fails: a new or reopened finding that no live waiver mutes
    waiver_expired     a waiver that muted a finding has expired (or was removed)
    scope_changed      a store left a policy's scope (a tag changed, the policy was edited) while the
                       reach it objected to is still there: not a fix, told at the policy's severity
    reach_added        a store became reachable by another jurisdiction
    location_added     a copy appeared somewhere new (a replica abroad, a region moved); at least the
                       severity of the store's open findings on the new copy's jurisdiction
    finding_resolved   a failing finding went away (the store changed or was deleted)
    scan_failed        the scan could read nothing (told when the previous scan was not failed, and
                       again every `repeat_failed_scan_minutes` while it stays so)
    scan_partial       parts of the estate could not be read (likewise)
    scan_recovered     a complete scan after a failed or partial one
    reminder           critical findings still open after `remind_after_hours`, told again that often
    channel_failed     a channel failed for good (a bad secret, a removed webhook), told on the others
    summary            one message instead of many (the first scan; more than the threshold)
    digest             the optional daily digest

Idempotency: `key` is "<scan id>:<kind>:<subject>" (subject: a store id, or the scan id), or
"digest:<date>:<date>". The outbox holds one row per (key, channel), so nothing is told twice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "store_failing", "waiver_expired", "scope_changed", "reach_added", "location_added", "finding_resolved",
    "scan_failed", "scan_partial", "scan_recovered", "channel_failed", "reminder", "summary", "digest",
)
STORE_KINDS = KINDS[:6]  # in headline priority order
SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 0


def worst(severities: list[str], default: str = "info") -> str:
    return max(severities, key=severity_rank) if severities else default


def alert_key(scan_id: str, kind: str, subject: str) -> str:
    return f"{scan_id}:{kind}:{subject}"


@dataclass
class Alert:
    """What is told. Lists hold plain dicts so that the outbox stores it as JSON unchanged."""

    key: str
    kind: str
    subject: str
    severity: str
    title: str
    scan_id: str | None = None
    policies: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    store: dict[str, Any] | None = None  # id, name, kind, provider, account, region, status
    changes: list[str] = field(default_factory=list)  # sentences: what changed
    copies: list[dict[str, Any]] = field(default_factory=list)  # country, city, region, role
    reach: list[dict[str, Any]] = field(default_factory=list)  # jurisdiction, basis, law, citation, path
    findings: list[dict[str, Any]] = field(default_factory=list)  # policy, jurisdiction, basis, severity, ...
    lines: list[str] = field(default_factory=list)  # summaries and digests: the items
    scope: list[str] = field(default_factory=list)  # why the store is covered: "eu-personal: tag data-class=personal"
    next_steps: list[str] = field(default_factory=list)  # what to do about it
    link: str | None = None  # the dashboard page, when `dashboard.url` is configured

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in data.items() if key in names})
