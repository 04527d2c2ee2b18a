"""A scan's ScanChanges, rebuilt from the state store's append-only event log.

`StateStore.finish_scan` returns a ScanChanges and, in the same transaction, appends the same
changes to `events`. Rebuilding from the log lets the alert pipeline handle a scan recorded by
any process (`agent.py scan`, or an agent killed between recording a scan and queuing its
alerts) exactly like one it has just run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from state.scan_writer import ScanChanges
from state.schema import EVENT_KINDS, events_table, findings_table, stores_table

FIELD_OF_KIND = {kind: name for name, kind in EVENT_KINDS.items()}
DETAIL_KEY = {"reach_changed": "reach", "locations_changed": "locations", "tags_changed": "tags"}


def changes_of(conn: Connection, scan_id: str, status: str) -> ScanChanges:
    """The ScanChanges `finish_scan` returned for `scan_id`, from its events."""
    changes = ScanChanges(scan_id=scan_id, status=status)
    query = select(events_table).where(events_table.c.scan_id == scan_id).order_by(events_table.c.id)
    for event in conn.execute(query).mappings():
        name = FIELD_OF_KIND.get(event["kind"])
        if name is None:
            continue
        subject = event["fingerprint"] if name.endswith("_findings") else event["store_id"]
        getattr(changes, name).append(subject)
        if event["kind"] == "finding_changed" and event["detail"] is not None:
            changes.details.setdefault(event["store_id"], {}).setdefault("findings", {})[subject] = event["detail"]
        elif event["kind"] in DETAIL_KEY and event["detail"] is not None:
            changes.details.setdefault(event["store_id"], {})[DETAIL_KEY[event["kind"]]] = event["detail"]
    for name in EVENT_KINDS:
        getattr(changes, name).sort()
    return changes


def store_documents(conn: Connection, store_ids: set[str]) -> dict[str, dict[str, Any]]:
    """store id -> {document (DataStore.to_dict() of the last sighting), gone_at, status}."""
    result: dict[str, dict[str, Any]] = {}
    ids = sorted(store_ids)
    for start in range(0, len(ids), 500):
        query = select(stores_table.c.id, stores_table.c.document, stores_table.c.gone_at,
                       stores_table.c.status).where(stores_table.c.id.in_(ids[start : start + 500]))
        for row in conn.execute(query).mappings():
            result[row["id"]] = dict(row)
    return result


def finding_rows(conn: Connection, fingerprints: set[str]) -> dict[str, dict[str, Any]]:
    """fingerprint -> findings row, for the given fingerprints."""
    result: dict[str, dict[str, Any]] = {}
    wanted = sorted(fingerprints)
    for start in range(0, len(wanted), 500):
        query = select(findings_table).where(findings_table.c.fingerprint.in_(wanted[start : start + 500]))
        result.update((row["fingerprint"], dict(row)) for row in conn.execute(query).mappings())
    return result


def waiver_rows(conn: Connection, scan_id: str, were_muted: set[str]) -> dict[str, dict[str, Any]]:
    """Findings last seen in `scan_id` that carry a waiver now, or were muted by one before (the
    candidates for a waiver that expired or was removed)."""
    seen_now = findings_table.c.last_scan_id == scan_id
    query = select(findings_table).where(seen_now, findings_table.c.waived.is_(True))
    result = {row["fingerprint"]: dict(row) for row in conn.execute(query).mappings()}
    rest = sorted(were_muted - set(result))
    for start in range(0, len(rest), 500):
        query = select(findings_table).where(seen_now, findings_table.c.fingerprint.in_(rest[start : start + 500]))
        result.update((row["fingerprint"], dict(row)) for row in conn.execute(query).mappings())
    return result
