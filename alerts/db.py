"""The state store's database, for the alert tables, and the text timestamps they use.

The alert tables live in the same database as the scans (alerts.outbox defines them on
`scanner.state.metadata`), and are written through the StateStore's own connection set-up:
the same engine, the same SQLite locking (BEGIN IMMEDIATE for writers), the same one-line
errors for a database that went away.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection

from scanner.state import StateStore


class Database:
    """Transactions on the state store's database."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def write(self) -> AbstractContextManager[Connection]:
        """One write transaction (committed on exit, rolled back on an exception)."""
        return self.state.writing()

    def read(self) -> AbstractContextManager[Connection]:
        return self.state.reading()


def now_text(at: dt.datetime | None = None) -> str:
    """UTC ISO 8601 with milliseconds: one fixed width, so text order is time order."""
    return (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="milliseconds")


def parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
