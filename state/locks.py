"""Database locks that replicas sharing one PostgreSQL database use to take turns.

PostgreSQL advisory locks, keyed by a name hashed in the database. On SQLite (one agent per
database) every lock is granted at once: its writers already queue behind BEGIN IMMEDIATE.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

log = logging.getLogger(__name__)


def try_transaction_lock(conn: Connection, name: str) -> bool:
    """Take the lock `name` until the current transaction ends, if no other session holds it."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(name)))))


def transaction_lock(conn: Connection, name: str) -> None:
    """Wait for the lock `name` and hold it until the current transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))


class Leadership:
    """Holds the lock `name` for as long as this process lives, on a connection of its own.

    `held()` is True on exactly one replica at a time: the lock goes with the session, so when a
    replica dies (or its connection does) another one takes it over at its next `held()`.
    """

    def __init__(self, connect: Callable[[], Connection], backend: str, name: str) -> None:
        self._connect = connect
        self._backend = backend
        self.name = name
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def held(self) -> bool:
        if self._backend != "postgresql":
            return True
        with self._lock:
            try:
                if self._conn is not None:
                    self._conn.execute(text("SELECT 1"))  # still our session, so still our lock
                    return True
                conn = self._connect()
                conn.execution_options(isolation_level="AUTOCOMMIT")
                if conn.scalar(select(func.pg_try_advisory_lock(func.hashtext(self.name)))):
                    self._conn = conn
                    log.info("this replica now leads %s", self.name)
                    return True
                conn.close()
                return False
            except Exception as exc:  # the database went away (InputError, OperationalError): not the leader
                log.warning("lost the lead of %s: %s", self.name, type(exc).__name__)
                self._drop()
                return False

    def release(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
