"""Alembic environment of the state store: every table of state/schema.py.

StateStore.__init__ runs `upgrade head` through state.migrate.upgrade_schema(), passing its own
connection (already inside the write transaction, under the migration lock) in
config.attributes["connection"]. For the alembic command line, set sqlalchemy.url (or
CUSTODY_STATE) and point script_location here.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from state.engine import database_url
from state.migrations import ours
from state.schema import metadata

config = context.config


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite needs batch mode
        compare_type=True,
        include_name=ours,
    )


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():  # joins the caller's open transaction
            context.run_migrations()
        return
    location = config.get_main_option("sqlalchemy.url") or os.environ.get("CUSTODY_STATE", "")
    engine = create_engine(database_url(location))
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def run_offline() -> None:
    location = config.get_main_option("sqlalchemy.url") or os.environ.get("CUSTODY_STATE", "")
    context.configure(url=database_url(location), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
