"""The one clock: the current time in UTC, the two text forms it is stored in, and parsing them back.

Times are stored as ISO 8601 text in UTC, which sorts as time does: `now_iso` to the second (scan
start and end, a location's `observed_at`), `now_text` to the millisecond in one fixed width (the
alert outbox, whose rows are ordered by it).
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def now_iso(at: dt.datetime | None = None) -> str:
    """`at` (default now) as UTC ISO 8601 to the second, e.g. 2026-01-31T12:00:00+00:00."""
    return (at or now()).astimezone(dt.UTC).isoformat(timespec="seconds")


def now_text(at: dt.datetime | None = None) -> str:
    """`at` (default now) as UTC ISO 8601 with milliseconds: one fixed width, so text order is time order."""
    return (at or now()).astimezone(dt.UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 text back to an aware datetime (a time without an offset is taken as UTC)."""
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
