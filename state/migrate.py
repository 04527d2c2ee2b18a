"""The state database's schema version: the Alembic revisions in state/migrations, run up to head
whenever the state store opens (one replica at a time on PostgreSQL)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from state.schema import metadata

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x437573746F6479  # PostgreSQL advisory lock key ("Custody"): one replica migrates at a time


def alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


@functools.cache
def schema_head() -> str:
    """The newest migration revision."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def schema_revision(conn: Connection) -> str | None:
    """The migration revision the database is at; None for an empty (or pre-migrations) database."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(conn: Connection, revision: str = "head") -> str | None:
    """Run the migrations up to `revision` inside the caller's transaction; return the revision reached.

    On PostgreSQL a transaction-scoped advisory lock makes replicas starting together migrate
    one after the other (SQLite's BEGIN IMMEDIATE does the same). A database already at
    head costs one SELECT. A table dropped by hand is recreated empty afterwards, as the
    create_all of earlier versions did.
    """
    from alembic import command

    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
    current = schema_revision(conn)
    if revision == "head" and current == schema_head():
        metadata.create_all(conn)
        return current
    command.upgrade(alembic_config(conn), revision)
    if revision == "head":
        metadata.create_all(conn)
    return schema_revision(conn)
