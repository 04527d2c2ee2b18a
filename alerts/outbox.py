"""The outbox: every alert for every channel, until it is delivered (or fails for good).

One row per (alert key, channel), unique, so enqueuing the same alert twice is a no-op.
Rows are written in the same transaction that marks the scan as processed (alert_scans), so
a scan's alerts are either all queued or not at all, and a crash in between is caught up at
the next start. A row is `pending` until a send succeeds (`delivered`, in the statement right
after the channel accepted it) or fails for good (`failed`: a 4xx other than 429, a channel
removed from the config, or retries past `give_up_after_hours`).

The tables are declared with every other table in state/schema.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from alerts.model import Alert
from state.schema import outbox_table

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


def enqueue(conn: Connection, items: list[tuple[Alert, str]], now: str) -> int:
    """Queue (alert, channel) pairs; pairs already queued (same key and channel) are skipped."""
    if not items:
        return 0
    keys = sorted({alert.key for alert, _ in items})
    existing: set[tuple[str, str]] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        query = select(outbox_table.c.alert_key, outbox_table.c.channel).where(outbox_table.c.alert_key.in_(chunk))
        existing.update((row.alert_key, row.channel) for row in conn.execute(query))
    rows = []
    for alert, channel in items:
        if (alert.key, channel) in existing:
            continue
        existing.add((alert.key, channel))
        rows.append({
            "alert_key": alert.key, "channel": channel, "scan_id": alert.scan_id, "kind": alert.kind,
            "severity": alert.severity, "payload": alert.to_dict(), "status": PENDING, "attempts": 0,
            "created_at": now, "next_attempt_at": now,
        })
    if rows:
        conn.execute(insert(outbox_table), rows)
    return len(rows)



def mark_delivered(conn: Connection, row_id: int, attempts: int, now: str) -> None:
    conn.execute(
        update(outbox_table)
        .where(outbox_table.c.id == row_id, outbox_table.c.status == PENDING)
        .values(status=DELIVERED, attempts=attempts, last_attempt_at=now, delivered_at=now, last_error=None)
    )


def mark_retry(conn: Connection, row_id: int, attempts: int, now: str, next_at: str, error: str) -> None:
    conn.execute(
        update(outbox_table)
        .where(outbox_table.c.id == row_id, outbox_table.c.status == PENDING)
        .values(attempts=attempts, last_attempt_at=now, next_attempt_at=next_at, last_error=error)
    )


def mark_failed(conn: Connection, row_id: int, attempts: int, now: str, error: str) -> None:
    conn.execute(
        update(outbox_table)
        .where(outbox_table.c.id == row_id, outbox_table.c.status == PENDING)
        .values(status=FAILED, attempts=attempts, last_attempt_at=now, last_error=error)
    )


def listed(conn: Connection, status: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Outbox rows, newest first (of one status): id, channel, status, kind, severity, attempts, times, error, title."""
    query = select(outbox_table).order_by(outbox_table.c.id.desc()).limit(limit)
    if status:
        query = query.where(outbox_table.c.status == status)
    rows = []
    for row in conn.execute(query).mappings():
        item = {key: row[key] for key in ("id", "alert_key", "channel", "status", "kind", "severity", "attempts",
                                          "created_at", "last_attempt_at", "delivered_at", "last_error")}
        item["title"] = (row["payload"] or {}).get("title", "")
        rows.append(item)
    return rows


def requeue(conn: Connection, now: str, ids: list[int] | None = None) -> list[int]:
    """Make failed rows pending again, due now, with a fresh give-up window (`ids`, or every failed row).
    Delivered rows are never sent again. Returns the ids requeued."""
    query = select(outbox_table.c.id).where(outbox_table.c.status == FAILED)
    if ids is not None:
        query = query.where(outbox_table.c.id.in_(ids))
    chosen = sorted(conn.scalars(query))
    if chosen:
        conn.execute(update(outbox_table).where(outbox_table.c.id.in_(chosen)).values(
            status=PENDING, created_at=now, next_attempt_at=now))
    return chosen


def backlog(conn: Connection) -> dict[tuple[str, str], int]:
    """(channel, status) -> number of rows."""
    query = select(outbox_table.c.channel, outbox_table.c.status, func.count()).group_by(
        outbox_table.c.channel, outbox_table.c.status
    )
    return {(channel, status): count for channel, status, count in conn.execute(query)}


def rows_for(conn: Connection, channel: str | None = None) -> list[dict[str, Any]]:
    """Every outbox row (of one channel), oldest first."""
    query = select(outbox_table).order_by(outbox_table.c.id)
    if channel:
        query = query.where(outbox_table.c.channel == channel)
    return [dict(row) for row in conn.execute(query).mappings()]
