"""Reads of the scan history, shared by StateStore and the dashboard's queries: each takes an open
connection, so the caller chooses the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from state.schema import events_table, findings_table, scan_targets_table, scans_table, stores_table


def newest_scans() -> Select:
    """Every scan row, newest first (seq breaks the tie between scans started in one second)."""
    return select(scans_table).order_by(scans_table.c.started_at.desc(), scans_table.c.seq.desc())


def scan_row(conn: Connection, scan_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(scans_table).where(scans_table.c.id == scan_id)).mappings().first()
    return dict(row) if row is not None else None


def targets_of(conn: Connection, scan_ids: list[str]) -> dict[str, list[dict]]:
    """Each scan's per-target results (provider, account, region, service, status, error, stores), as recorded."""
    result: dict[str, list[dict]] = {}
    if not scan_ids:
        return result
    query = (
        select(scan_targets_table)
        .where(scan_targets_table.c.scan_id.in_(scan_ids))
        .order_by(scan_targets_table.c.scan_id, scan_targets_table.c.id)
    )
    for row in conn.execute(query).mappings():
        item = dict(row)
        item.pop("id")
        result.setdefault(item.pop("scan_id"), []).append(item)
    return result


def latest_read_scan(conn: Connection) -> str | None:
    """The id of the latest scan that read the estate (complete or partial)."""
    query = select(scans_table.c.id).where(scans_table.c.status.in_(("complete", "partial")))
    return conn.execute(query.order_by(scans_table.c.seq.desc()).limit(1)).scalar()


def stale_stores(conn: Connection) -> int:
    """Present stores whose verdict is older than the latest scan that read the estate: that scan
    did not read them, or met them but could not judge them (state.scan_writer keeps their verdict)."""
    latest = latest_read_scan(conn)
    if latest is None:
        return 0
    query = select(func.count()).select_from(stores_table).where(stores_table.c.gone_at.is_(None),
                                                                 stores_table.c.last_scan_id != latest)
    return conn.scalar(query) or 0


def store_history(conn: Connection, store_id: str) -> dict | None:
    """One store: its last document, first_seen/last_seen/gone_at, every finding ever raised on it
    (open and resolved, with first_seen/resolved_at), and its event log; None if never seen.
    `stale`: present, and its verdict (from scan `last_scan_id`) is older than the latest scan's."""
    row = conn.execute(select(stores_table).where(stores_table.c.id == store_id)).mappings().first()
    if row is None:
        return None
    result = dict(row)
    latest = latest_read_scan(conn)
    result["stale"] = row["gone_at"] is None and latest is not None and row["last_scan_id"] != latest
    findings = (
        select(findings_table)
        .where(findings_table.c.store_id == store_id)
        .order_by(findings_table.c.first_seen, findings_table.c.fingerprint)
    )
    result["findings"] = [dict(item) for item in conn.execute(findings).mappings()]
    events = select(events_table).where(events_table.c.store_id == store_id).order_by(events_table.c.id)
    result["events"] = [dict(item) for item in conn.execute(events).mappings()]
    return result


def open_findings(conn: Connection) -> list[dict]:
    """Every unresolved finding (waived ones included, flagged), with its store's provider, account, kind, name."""
    query = (
        select(
            findings_table,
            stores_table.c.provider,
            stores_table.c.account,
            stores_table.c.kind,
            stores_table.c.name.label("store_name"),
            stores_table.c.gone_at.label("store_gone_at"),
        )
        .join(stores_table, stores_table.c.id == findings_table.c.store_id)
        .where(findings_table.c.resolved_at.is_(None))
        .order_by(findings_table.c.store_id, findings_table.c.fingerprint)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
