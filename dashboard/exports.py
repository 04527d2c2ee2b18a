"""Exports of the current view: stores as CSV or JSON, findings as CSV or OCSF Detection Findings.

OCSF: each finding becomes a Detection Finding (class_uid 2004, category 2 "Findings",
schema 1.3.0), its resource the data store, its status New/Resolved/Suppressed (waived), and
Custody's own facts (jurisdiction, basis, law, citation, path) under `unmapped`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from dashboard.context import VERSION
from dashboard.queries import parse_time

STORE_COLUMNS = [
    "id", "provider", "account", "kind", "name", "region", "status", "countries", "locations", "operator",
    "contracting_party", "owner", "reachable_by", "key_custody", "key", "key_country", "status_reason", "first_seen",
    "last_seen", "gone_at", "tags",
]
FINDING_COLUMNS = [
    "fingerprint", "state", "severity", "policy", "jurisdiction", "basis", "store_id", "store_name", "provider",
    "account", "kind", "first_seen", "last_seen", "resolved_at", "age_days", "waived", "waiver_reason",
    "waiver_approver", "waiver_expires", "message",
]
REACH_COLUMNS = [
    "jurisdiction", "store_id", "name", "kind", "provider", "account", "region", "status", "basis", "route",
    "addressee", "law", "citation", "path", "agreement", "effective", "access", "finding", "policies", "gone_at",
]
OCSF_VERSION = "1.3.0"
OCSF_SEVERITY = {"info": 1, "informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
OCSF_PROVIDER = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}


def buffered(chunks: Iterable[str], size: int = 64 * 1024) -> Iterator[str]:
    """Small pieces joined into pieces of about `size` characters: one network write each, not one per piece."""
    pending: list[str] = []
    length = 0
    for chunk in chunks:
        pending.append(chunk)
        length += len(chunk)
        if length >= size:
            yield "".join(pending)
            pending, length = [], 0
    if pending:
        yield "".join(pending)


def safe_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def _csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def chain(entities: list[dict] | None) -> str:
    return " → ".join(f"{e.get('name')} ({e.get('country')})" for e in entities or [])


def where(locations: list[dict] | None) -> str:
    parts = []
    for loc in locations or []:
        place = " ".join(str(part) for part in (loc.get("country"), loc.get("city") or loc.get("region")) if part)
        parts.append(f"{place} ({loc.get('role')})")
    return "; ".join(parts) or "unknown"


def store_row(doc: dict) -> list[Any]:
    countries = sorted({str(loc.get("country")) for loc in doc.get("locations") or []})
    reach = "; ".join(
        f"{r.get('jurisdiction')}:{r.get('basis')}:{r.get('route', 'direct')}:{r.get('law')}"
        + ("" if r.get("effective", True) else ":not-effective") for r in doc.get("reachable_by") or []
    )
    encryption = doc.get("encryption") or {}
    return [
        doc.get("id"), doc.get("provider"), doc.get("account"), doc.get("kind"), doc.get("name"), doc.get("region"),
        doc.get("status"), " ".join(countries), where(doc.get("locations")), chain(doc.get("operator")),
        chain(doc.get("contracting_party")), chain(doc.get("owner")), reach, encryption.get("custody", "not read"),
        encryption.get("key") or "", encryption.get("key_country") or "", doc.get("status_reason") or "",
        doc.get("first_seen"), doc.get("last_seen"),
        doc.get("gone_at") or "", "; ".join(f"{key}={value}" for key, value in sorted((doc.get("tags") or {}).items())),
    ]


def stores_csv(documents: Iterable[dict]) -> Iterator[str]:
    return _csv_lines(STORE_COLUMNS, (store_row(doc) for doc in documents))


def json_array(items: Iterable[Any], head: str = "[", tail: str = "]") -> Iterator[str]:
    """A JSON array streamed item by item (the whole result never sits in memory as one string)."""
    yield head
    first = True
    for item in items:
        yield ("\n" if first else ",\n") + json.dumps(item, ensure_ascii=False, default=str)
        first = False
    yield "\n" + tail + "\n"


def stores_json(documents: Iterable[dict], meta: dict) -> Iterator[str]:
    head = '{"meta": ' + json.dumps(meta, ensure_ascii=False, default=str) + ', "stores": ['
    return json_array(documents, head, "]}")


def finding_row(row: dict) -> list[Any]:
    waiver = row.get("waiver") or {}
    return [
        row.get("fingerprint"), row.get("state"), row.get("severity"), row.get("policy"), row.get("jurisdiction"),
        row.get("basis"), row.get("store_id"), row.get("store_name"), row.get("provider"), row.get("account"),
        row.get("kind"), row.get("first_seen"), row.get("last_seen"), row.get("resolved_at") or "",
        row.get("age_days"), "yes" if row.get("waived") else "no", waiver.get("reason", ""),
        waiver.get("approver", ""), waiver.get("expires", ""), row.get("message"),
    ]


def findings_csv(rows: Iterable[dict]) -> Iterator[str]:
    return _csv_lines(FINDING_COLUMNS, (finding_row(row) for row in rows))


def reach_csv(rows: Iterable[dict]) -> Iterator[str]:
    """One jurisdiction's view (dashboard.jurisdiction rows) as CSV."""
    return _csv_lines(REACH_COLUMNS, ([
        " ".join(row[name]) if name == "policies" else ("yes" if row[name] else "no") if name == "effective"
        else row[name] for name in REACH_COLUMNS] for row in rows))


def _millis(text: str | None) -> int | None:
    value = parse_time(text)
    return int(value.timestamp() * 1000) if value else None


def ocsf_finding(row: dict, reach: dict | None = None, product_version: str = "0.1.0") -> dict:
    """One finding as an OCSF Detection Finding (class 2004)."""
    state = row.get("state") or "open"
    if state == "resolved":
        status_id, status, activity_id, activity = 4, "Resolved", 3, "Close"
    elif state == "waived":
        status_id, status, activity_id, activity = 3, "Suppressed", 2, "Update"
    else:
        status_id, status, activity_id, activity = 1, "New", 1 if state == "new" else 2, "Create" if state == "new" \
            else "Update"
    severity = str(row.get("severity") or "").lower()
    severity_id = OCSF_SEVERITY.get(severity, 99)
    first, last = _millis(row.get("first_seen")), _millis(row.get("last_seen"))
    resolved = _millis(row.get("resolved_at"))
    provider = str(row.get("provider") or "")
    title = f"{row.get('jurisdiction')} can compel access to {row.get('kind')} {row.get('store_name')}"
    event: dict[str, Any] = {
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "activity_id": activity_id,
        "activity_name": activity,
        "type_uid": 2004 * 100 + activity_id,
        "type_name": f"Detection Finding: {activity}",
        "time": resolved or last or first,
        "severity_id": severity_id,
        "severity": severity.capitalize() if severity_id != 99 else (row.get("severity") or "Other"),
        "status_id": status_id,
        "status": status,
        "message": row.get("message"),
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "Custody", "vendor_name": "Custody", "version": product_version},
            "uid": row.get("fingerprint"),
        },
        "finding_info": {
            "uid": row.get("fingerprint"),
            "title": title,
            "desc": row.get("message"),
            "types": ["Data Residency", f"Compelled access: {row.get('basis')}"],
            "analytic": {"uid": row.get("policy"), "name": row.get("policy"), "type_id": 1, "type": "Rule"},
            "first_seen_time": first,
            "last_seen_time": last,
            "created_time": first,
            "modified_time": last,
        },
        "resources": [
            {
                "uid": row.get("store_id"),
                "name": row.get("store_name"),
                "type": row.get("kind"),
                "cloud_partition": provider,
                "owner": {"account": {"uid": row.get("account")}},
            }
        ],
        "cloud": {"provider": OCSF_PROVIDER.get(provider, provider), "account": {"uid": row.get("account")}},
        "unmapped": {
            "jurisdiction": row.get("jurisdiction"),
            "basis": row.get("basis"),
            "policy": row.get("policy"),
            "waiver": row.get("waiver"),
        },
    }
    if reach:
        event["unmapped"].update(
            law=reach.get("law"), citation=reach.get("citation"), path=reach.get("path"),
            path_text=reach.get("path_text"),
        )
    if resolved:
        event["end_time"] = resolved
    return event


def ocsf_event(row: dict) -> dict:
    """A finding row of Queries.finding_rows (its store's document under `document`) as an OCSF event."""
    document = row.get("document") or {}
    reach = next((r for r in document.get("reachable_by") or [] if r.get("jurisdiction") == row.get("jurisdiction")),
                 None)
    event = ocsf_finding(row, reach, VERSION)
    if row.get("region"):
        event["cloud"]["region"] = row["region"]
        event["resources"][0]["region"] = row["region"]
    return event
