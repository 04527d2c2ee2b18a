"""The state store's database, for the alert tables.

The alert tables live in the same database as the scans (declared with them in state/schema.py),
and are written through the StateStore's own connection set-up:
the same engine, the same SQLite locking (BEGIN IMMEDIATE for writers), the same one-line
errors for a database that went away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection

from scanner.errors import InputError
from state.store import StateStore


class Database:
    """Transactions on the state store's database."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.write_error: str | None = None  # the last write's database error; None once one succeeds

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (committed on exit, rolled back on an exception). Whether the last
        one reached the database is kept in `write_error` (metrics and readiness report it)."""
        try:
            with self.state.writing() as conn:
                yield conn
        except InputError as exc:  # the state store's one-line database errors
            self.write_error = str(exc)
            raise
        self.write_error = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.state.reading() as conn:
            yield conn

