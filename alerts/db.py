"""The state store's database, for the alert tables.

The alert tables live in the same database as the scans (declared with them in state/schema.py),
and are written through the StateStore's own connection set-up:
the same engine, the same SQLite locking (BEGIN IMMEDIATE for writers), the same one-line
errors for a database that went away.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy.engine import Connection

from state.store import StateStore


class Database:
    """Transactions on the state store's database."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    def write(self) -> AbstractContextManager[Connection]:
        """One write transaction (committed on exit, rolled back on an exception)."""
        return self.state.writing()

    def read(self) -> AbstractContextManager[Connection]:
        return self.state.reading()

