"""What is worth telling about one recorded scan: a pure function of what the state store holds.

Per store, one alert for everything that changed about it in the scan (so a replica added in
Tokyo is one message, not three for the new location, the new reach and the new finding); its
kind is the most important change (see alerts.model). Worth telling:

- a new or reopened finding that no live waiver mutes (the store newly fails);
- a finding whose waiver stopped muting it (expired, or removed from the policy file);
- a jurisdiction added to a store's reach; a location (region, role) added to a store;
- a failing finding resolved (only a complete scan resolves anything: see state.scan_writer);
  but when the jurisdiction still reaches the store, the store only left the policy's scope (a
  tag changed, the policy was edited): that is a scope change, told at the policy's severity,
  because it is how a finding is evaded;
- a new copy on soil where the store has an open finding is told at that finding's severity
  (a replica to the US of a store the US already reached through control is not `info`);
- a scan that failed or went partial (when the previous scan's status was different), and the
  complete scan after one.

Not told: new stores that pass, waived findings, reach or locations that went away without
resolving a finding, interrupted scans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from alerts.model import STORE_KINDS, Alert, alert_key, worst
from state.scan_writer import ScanChanges

MAX_TARGET_LINES = 20


@dataclass
class ScanFacts:
    """Everything detect() needs about one recorded scan."""

    scan: dict[str, Any]  # scans row (+ "targets"): id, status, started_at, counts
    previous_status: str | None  # the last earlier scan that was complete, partial or failed
    changes: ScanChanges
    stores: dict[str, dict[str, Any]]  # store id -> {"document", "gone_at", "status"}
    findings: dict[str, dict[str, Any]]  # fingerprint -> findings row
    unmuted: list[str] = field(default_factory=list)  # fingerprints a waiver stopped muting in this scan
    dashboard_url: str | None = None
    name_of: Callable[[str], str] = str  # jurisdiction code -> name
    scopes: dict[str, dict[str, str]] = field(default_factory=dict)  # policy id -> the tags its scope requires
    repeat: bool = False  # the scan is still failed or partial, and was last told longer ago than the interval


@dataclass
class _StoreNews:
    failing: list[tuple[dict[str, Any], bool]] = field(default_factory=list)  # (finding row, reopened)
    unmuted: list[dict[str, Any]] = field(default_factory=list)
    resolved: list[dict[str, Any]] = field(default_factory=list)
    uncovered: list[dict[str, Any]] = field(default_factory=list)  # resolved, but the reach is still there
    # (resolved, new): the same jurisdiction and policy on a new ground (a finding's fingerprint names its basis)
    regrounded: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    reach_added: list[str] = field(default_factory=list)
    locations_added: list[tuple[str, str]] = field(default_factory=list)


def muted(finding: dict[str, Any]) -> bool:
    """Is this finding (a findings row or a Finding dict) muted by a waiver that has not expired?"""
    waiver = finding.get("waiver")
    return bool(waiver) and not waiver.get("expired")


def detect(facts: ScanFacts) -> list[Alert]:
    """The alerts for one scan: one per store with news, then the scan's own, in a stable order."""
    return [*store_alerts(facts), *scan_alerts(facts)]


def store_alerts(facts: ScanFacts) -> list[Alert]:
    news = _collect(facts)
    alerts = []
    for store_id in sorted(news):
        record = facts.stores.get(store_id)
        if record is None:
            continue
        alerts.append(_store_alert(facts, store_id, record, news[store_id]))
    return alerts


def scan_alerts(facts: ScanFacts) -> list[Alert]:
    scan, status, before = facts.scan, facts.scan["status"], facts.previous_status
    scan_id = scan["id"]
    if status in ("failed", "partial") and (status != before or facts.repeat):
        failed = [t for t in scan.get("targets", []) if t.get("status") != "ok"]
        lines = [_target_line(t) for t in failed[:MAX_TARGET_LINES]]
        if len(failed) > MAX_TARGET_LINES:
            lines.append(f"… and {len(failed) - MAX_TARGET_LINES} more")
        if status == "failed":
            title = f"Scan {scan_id} failed: nothing could be read"
        else:
            title = f"Scan {scan_id} is partial: {len(failed)} part(s) of the estate could not be read"
        if status == before:
            title += " (still)"
        kind = f"scan_{status}"
        return [Alert(
            key=alert_key(scan_id, kind, scan_id), kind=kind, subject=scan_id, scan_id=scan_id,
            severity="high" if status == "failed" else "medium", title=title,
            changes=[f"Previous scan: {before or 'none'}; this scan: {status}. "
                     "Stores in the parts not read keep their last verdict, marked stale with the scan that last "
                     "judged them; nothing is resolved."],
            lines=lines, link=_link(facts.dashboard_url, None),
        )]
    if status == "complete" and before in ("failed", "partial"):
        return [Alert(
            key=alert_key(scan_id, "scan_recovered", scan_id), kind="scan_recovered", subject=scan_id,
            scan_id=scan_id, severity="info", title=f"Scan {scan_id} is complete again",
            changes=[f"Previous scan: {before}; this scan read every part of the estate."],
            link=_link(facts.dashboard_url, None),
        )]
    return []


def _collect(facts: ScanFacts) -> dict[str, _StoreNews]:
    changes, findings = facts.changes, facts.findings
    news: dict[str, _StoreNews] = {}

    def entry(store_id: str) -> _StoreNews:
        return news.setdefault(store_id, _StoreNews())

    reopened = set(changes.reopened_findings)
    fresh = set(changes.new_findings) | reopened
    for fingerprint in sorted(fresh):
        row = findings.get(fingerprint)
        if row is not None and not muted(row):
            entry(row["store_id"]).failing.append((row, fingerprint in reopened))
    for fingerprint in sorted(set(facts.unmuted) - fresh):
        row = findings.get(fingerprint)
        if row is not None and not muted(row) and row.get("resolved_at") is None:
            entry(row["store_id"]).unmuted.append(row)
    for fingerprint in changes.resolved_findings:
        row = findings.get(fingerprint)
        if row is not None and not muted(row):
            still = _still_reached(facts.stores.get(row["store_id"]), row, set(changes.gone_stores))
            (entry(row["store_id"]).uncovered if still else entry(row["store_id"]).resolved).append(row)
    for fingerprint in changes.changed_findings:
        row = findings.get(fingerprint)
        dropped = _dropped_policy(facts, row) if row is not None else None
        if dropped is not None:
            entry(row["store_id"]).uncovered.append(dropped)
    for item in news.values():
        _pair_regrounded(item)
    for store_id in changes.changed_reach:
        detail = changes.details.get(store_id, {}).get("reach") or {}
        added = sorted(set(detail.get("after") or []) - set(detail.get("before") or []))
        if added:
            entry(store_id).reach_added = added
    for store_id in changes.changed_locations:
        detail = changes.details.get(store_id, {}).get("locations") or {}
        before = {tuple(item) for item in detail.get("before") or []}
        added = sorted({tuple(item) for item in detail.get("after") or []} - before)
        if added:
            entry(store_id).locations_added = [(region, role) for region, role in added]
    return news


def _pair_regrounded(news: _StoreNews) -> None:
    """A finding resolved and one opened on the same jurisdiction and policy: the ground changed (a copy on
    its soil beside the control it had), neither a new failure nor a fix."""
    for old in list(news.resolved):
        new = next((item for item in news.failing if not item[1] and item[0]["jurisdiction"] == old["jurisdiction"]
                    and item[0]["policy"] == old["policy"]), None)
        if new is not None:
            news.resolved.remove(old)
            news.failing.remove(new)
            news.regrounded.append((old, new[0]))


def _dropped_policy(facts: ScanFacts, row: dict[str, Any]) -> dict[str, Any] | None:
    """An open finding whose headline policy changed: the earlier policy, when it no longer objects."""
    detail = facts.changes.details.get(row["store_id"], {}).get("findings", {}).get(row["fingerprint"]) or {}
    before = detail.get("before") or {}
    if not before or before.get("policy") == row["policy"] or muted(row):
        return None
    doc = (facts.stores.get(row["store_id"]) or {}).get("document") or {}
    objecting = {p for f in doc.get("findings") or [] if f.get("fingerprint") == row["fingerprint"]
                 for p in f.get("policies") or [f.get("policy")]}
    if before["policy"] in objecting:
        return None
    return {**row, "policy": before["policy"], "severity": before.get("severity") or row["severity"]}


def _still_reached(record: dict[str, Any] | None, row: dict[str, Any], gone: set[str]) -> bool:
    """Does the finding's jurisdiction still reach its store (present), with no finding of that policy on it?"""
    if record is None or row["store_id"] in gone:
        return False
    doc = record.get("document") or {}
    if doc.get("status") == "not_evaluated":
        return False
    reached = {reach.get("jurisdiction") for reach in doc.get("reachable_by") or []}
    objecting = {p for f in doc.get("findings") or [] if f.get("jurisdiction") == row["jurisdiction"]
                 for p in f.get("policies") or [f.get("policy")]}
    return row["jurisdiction"] in reached and row["policy"] not in objecting


def _tag_changes(detail: dict[str, Any] | None) -> list[str]:
    """'tag data-class changed from personal to internal', '... removed (was personal)', '... added (x)'."""
    if not detail:
        return []
    before, after = detail.get("before") or {}, detail.get("after") or {}
    lines = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old is not None and new is not None:
            lines.append(f"tag {key} changed from {old} to {new}")
        elif old is not None:
            lines.append(f"tag {key} removed (was {old})")
        else:
            lines.append(f"tag {key} added ({new})")
    return lines


def _copy_jurisdictions(doc: dict[str, Any], region: str) -> list[str]:
    """The jurisdictions that reach the store through its copy in `region` (a location ground)."""
    marker = f" copy in {region} ("
    return sorted({reach.get("jurisdiction") for reach in doc.get("reachable_by") or []
                   for ground in reach.get("grounds") or [reach]
                   if ground.get("basis") == "location" and any(marker in str(hop) for hop in ground.get("path") or [])
                   })


def _store_alert(facts: ScanFacts, store_id: str, record: dict[str, Any], news: _StoreNews) -> Alert:
    doc = record.get("document") or {}
    name_of = facts.name_of
    scan_id = facts.scan["id"]
    gone = store_id in set(facts.changes.gone_stores)
    label = f"{doc.get('kind', 'store')} {doc.get('name', store_id)}"
    flags = {
        "store_failing": bool(news.failing), "waiver_expired": bool(news.unmuted),
        "scope_changed": bool(news.uncovered),
        "reach_added": bool(news.reach_added or (news.regrounded and not news.locations_added)),
        "location_added": bool(news.locations_added), "finding_resolved": bool(news.resolved),
    }
    kind = next(k for k in STORE_KINDS if flags[k])
    involved = ([row for row, _ in news.failing] + news.unmuted + news.uncovered + [new for _, new in news.regrounded]
                + news.resolved)
    # a new copy on soil where the store has an open finding: at least that finding's severity
    soil = {code for region, _ in news.locations_added for code in _copy_jurisdictions(doc, region)}
    abroad = [f for f in doc.get("findings") or [] if f.get("jurisdiction") in soil and not muted(f)]
    jurisdictions = sorted({row["jurisdiction"] for row in involved} | set(news.reach_added)
                           | {f["jurisdiction"] for f in abroad})
    tag_lines = _tag_changes(facts.changes.details.get(store_id, {}).get("tags"))

    changes: list[str] = []
    if store_id in set(facts.changes.new_stores):
        changes.append("New store: first seen in this scan.")
    if store_id in set(facts.changes.reappeared_stores):
        changes.append("Seen again after it had gone.")
    for row, was_reopened in news.failing:
        again = " (reopened: it had been resolved)" if was_reopened else ""
        changes.append(f"Fails {row['policy']} [{row['severity']}]{again}: {row['message']}")
    for row in news.unmuted:
        waiver = row.get("waiver")
        if waiver:
            changes.append(f"Waiver expired on {waiver.get('expires')} (approved by {waiver.get('approver')}: "
                           f"{waiver.get('reason')}); fails {row['policy']} [{row['severity']}] again: "
                           f"{row['message']}")
        else:
            changes.append(f"Waiver removed; fails {row['policy']} [{row['severity']}] again: {row['message']}")
    reach_by_code = {reach.get("jurisdiction"): reach for reach in doc.get("reachable_by") or []}
    for code in news.reach_added:
        reach = reach_by_code.get(code, {})
        changes.append(f"Newly reachable by {name_of(code)} ({str(reach.get('basis', '?')).replace('_', ' ')}, "
                       f"{reach.get('citation', 'law unknown')}).")
    places = {(loc.get("region"), loc.get("role")): loc for loc in doc.get("locations") or []}
    added_places = []
    for region, role in news.locations_added:
        place = _place(places.get((region, role), {"region": region}), name_of)
        added_places.append(f"{region} ({place})" if place else region)
        changes.append(f"New {role} copy in {region}" + (f" ({place})." if place else "."))
    for old, new in news.regrounded:
        changes.append(f"{name_of(new['jurisdiction'])} now reaches it by {new['basis'].replace('_', ' ')} "
                       f"(before: {old['basis'].replace('_', ' ')}); still fails {new['policy']} [{new['severity']}]: "
                       f"{new['message']}")
    for row in news.uncovered:
        why = "; ".join(tag_lines) or "the policy's scope no longer includes it"
        changes.append(f"No longer covered by {row['policy']} [{row['severity']}]: {why}. This is not a fix: "
                       f"{name_of(row['jurisdiction'])} ({row['basis'].replace('_', ' ')}) still reaches it.")
    for row in news.resolved:
        changes.append(f"Resolved: {row['policy']} — {name_of(row['jurisdiction'])} "
                       f"({row['basis'].replace('_', ' ')}) no longer reaches it.")
    if gone:
        changes.append("The store no longer exists: a complete scan did not find it.")

    titles = {
        "store_failing": f"{'New failing store' if store_id in set(facts.changes.new_stores) else 'Now failing'}: "
                         f"{label} — reachable by {_names(jurisdictions, name_of)}",
        "waiver_expired": f"Waiver expired: {label} fails again — reachable by {_names(jurisdictions, name_of)}",
        "scope_changed": f"No longer covered by {', '.join(sorted({row['policy'] for row in news.uncovered}))}: "
                         f"{label} — " + ("; ".join(tag_lines) or "the policy's scope no longer includes it"),
        "reach_added": f"Newly reachable by {_names(news.reach_added, name_of)}: {label}" if news.reach_added else
                       f"Reachable by {_names(sorted({new['jurisdiction'] for _, new in news.regrounded}), name_of)} "
                       f"on a new ground: {label}",
        "location_added": f"New copy in {', '.join(added_places)}: {label}",
        "finding_resolved": f"Resolved: {label}" + (" (store deleted)" if gone else ""),
    }
    # a finding names its headline policy; every policy that objects to the reach is in the store's document
    objecting = {f.get("fingerprint"): f.get("policies") or [f.get("policy")] for f in doc.get("findings") or []}
    policies = {p for row in involved for p in objecting.get(row["fingerprint"]) or [row["policy"]]}
    policies |= {p for f in abroad for p in f.get("policies") or [f.get("policy")]}
    relevant = [reach_by_code[code] for code in jurisdictions if code in reach_by_code]
    reach = relevant or list(reach_by_code.values())
    return Alert(
        key=alert_key(scan_id, kind, store_id), kind=kind, subject=store_id, scan_id=scan_id,
        severity=worst([row["severity"] for row in involved] + [f["severity"] for f in abroad]),
        title=titles[kind],
        policies=sorted(policies),
        accounts=[str(doc.get("account"))] if doc.get("account") is not None else [],
        store={key: doc.get(key) for key in ("id", "name", "kind", "provider", "account", "region", "status")}
        | {"gone": gone, "owner": _owner(doc)},
        scope=_scope_lines(sorted(policies), doc, facts.scopes),
        next_steps=[NEXT_STEPS[kind]],
        changes=changes,
        copies=[{"country": loc.get("country"), "country_name": name_of(loc.get("country") or ""),
                 "city": loc.get("city"), "region": loc.get("region"), "role": loc.get("role")}
                for loc in doc.get("locations") or []],
        reach=[{"jurisdiction": r.get("jurisdiction"), "name": name_of(r.get("jurisdiction") or ""),
                "basis": r.get("basis"), "law": r.get("law"), "citation": r.get("citation"),
                "route": r.get("route", "direct"), "effective": r.get("effective", True),
                "access": r.get("access", "unknown"),
                "grounds": [basis for basis in dict.fromkeys(g.get("basis") for g in r.get("grounds") or [])
                            if basis != r.get("basis")],  # the other grounds, strongest first
                "addressee": r.get("addressee_name"),
                "path": r.get("path_text") or " → ".join(r.get("path") or [])} for r in reach],
        findings=_finding_items(news),
        link=_link(facts.dashboard_url, store_id),
    )


NEXT_STEPS = {
    "store_failing": "Move the copies that the objecting jurisdiction reaches (or stop the replication or backup "
                     "that put them there), or, if the reach is accepted, record a waiver with an approver and an "
                     "expiry in the policy file. The dashboard shows every path.",
    "waiver_expired": "Fix the store as its waiver planned, or have the approver renew the waiver with a new expiry.",
    "scope_changed": "Ask the store's owner why it left the policy's scope. If its data is still in scope, restore "
                     "the tag (the finding reopens); if not, nothing more to do.",
    "reach_added": "Check that the new path (operator, contract, owner or copy) is intended; if the policy accepts "
                   "it, nothing more to do, otherwise move or waive as for a failing store.",
    "location_added": "Check that the new copy (replica or backup) is intended and allowed for this data; remove it "
                      "or move it to an accepted region if not.",
    "finding_resolved": "Nothing to do: this is for the record.",
}


def _owner(doc: dict[str, Any]) -> str | None:
    """The company that owns the store's account (the start of its owner chain), by name."""
    owners = doc.get("owner") or []
    return (owners[0].get("name") or owners[0].get("id")) if owners else None


def _scope_lines(policies: list[str], doc: dict[str, Any], scopes: dict[str, dict[str, str]]) -> list[str]:
    """Which tags bring the store into each policy's scope (or brought it, for a store that left it)."""
    lines = []
    for policy in policies:
        required = scopes.get(policy)
        if required:
            held = ", ".join(f"{key}={value}" for key, value in sorted(required.items()))
            now = all((doc.get("tags") or {}).get(key) == value for key, value in required.items())
            lines.append(f"{policy}: tag {held}" + ("" if now else " (no longer on the store)"))
        elif required is not None:
            lines.append(f"{policy}: every store of its accounts, kinds and providers")
    return lines


def _finding_items(news: _StoreNews) -> list[dict[str, Any]]:
    """The findings an alert is about, each with its `state`: open (failing now), resolved, or uncovered (the
    policy no longer covers the store; the reach is still there)."""
    states = ([(row, "open") for row, _ in news.failing] + [(row, "open") for row in news.unmuted]
              + [(new, "open") for _, new in news.regrounded] + [(old, "resolved") for old, _ in news.regrounded]
              + [(row, "uncovered") for row in news.uncovered] + [(row, "resolved") for row in news.resolved])
    keys = ("fingerprint", "policy", "jurisdiction", "basis", "severity", "message")
    return [{**{key: row.get(key) for key in keys}, "state": state} for row, state in states]


def _names(codes: list[str], name_of: Callable[[str], str]) -> str:
    return ", ".join(name_of(code) for code in codes) or "no other jurisdiction"


def _place(location: dict[str, Any], name_of: Callable[[str], str]) -> str:
    country = location.get("country")
    parts = [location.get("city"), name_of(country) if country and country != "unknown" else None]
    return ", ".join(part for part in parts if part)


def _target_line(target: dict[str, Any]) -> str:
    where = "/".join(str(part) for part in (target.get("account"), target.get("region"), target.get("service"))
                     if part and part != "*")
    return f"{target.get('provider')} {where or 'provider'}: {target.get('status')}: {target.get('error')}"


def _link(dashboard_url: str | None, store_id: str | None) -> str | None:
    if not dashboard_url:
        return None
    base = dashboard_url.rstrip("/")
    return f"{base}/store?id={quote(store_id, safe='')}" if store_id else f"{base}/"
