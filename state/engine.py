"""Opening the state database: the `state` setting (a SQLite path or a SQLAlchemy URL) to an engine,
SQLite's transactions made real, and every database error as one line naming the setting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine as sqlalchemy_engine
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from scanner.errors import InputError

SETTING = "state"  # the config key the store is opened from; every InputError names it


def database_url(location: str) -> URL:
    """The SQLAlchemy URL for the `state` setting: a SQLite file path or a SQLAlchemy URL."""
    text = (location or "").strip() if isinstance(location, str) else ""
    if not text:
        raise InputError(f"{SETTING}: empty (expected a SQLite file path such as custody.db, or a SQLAlchemy URL)")
    if "://" in text:
        try:
            url = make_url(text)
        except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
            raise InputError(
                f"{SETTING}: '{_mask(text)}' is not a valid database URL "
                "(expected e.g. sqlite:///custody.db or postgresql+psycopg://user@host/db)"
            ) from None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            _check_sqlite_path(url.database, text)
        return url
    _check_sqlite_path(text, text)
    return URL.create("sqlite", database=str(Path(text).expanduser()))


def _check_sqlite_path(path_text: str, setting: str) -> None:
    if path_text == ":memory:" or path_text.startswith("file:"):
        return
    path = Path(path_text).expanduser()
    if path.is_dir():
        raise InputError(f"{SETTING}: '{_mask(setting)}' is a directory (expected a SQLite database file)")
    if not path.parent.is_dir():
        raise InputError(f"{SETTING}: directory '{path.parent}' for the database '{_mask(setting)}' does not exist")


def create_engine(url: URL, display: str) -> Engine:
    connect_args: dict[str, Any] = {}
    backend, _, driver = url.drivername.partition("+")  # get_driver_name() would load the dialect
    if backend == "sqlite":
        connect_args["timeout"] = 30  # seconds to wait for another writer's lock
    elif backend == "postgresql" and driver in ("psycopg", "psycopg2") and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    try:
        engine = sqlalchemy_engine(url, connect_args=connect_args, pool_pre_ping=True)
    except NoSuchModuleError:
        raise InputError(f"{SETTING}: unknown database kind '{url.drivername}' in {display}") from None
    except ImportError as exc:
        raise InputError(
            f"{SETTING}: the database driver for '{url.drivername}' is not installed ({exc}) for {display}"
        ) from None
    except (ArgumentError, TypeError, ValueError) as exc:
        raise InputError(f"{SETTING}: cannot use {display}: {_one_line(str(exc))}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: Engine) -> None:
    """Make SQLite transactions real (SQLAlchemy's documented recipe) and enforce foreign keys.

    pysqlite otherwise runs SELECTs outside the transaction; a scan's reads and writes must
    see one snapshot. Writers take the lock up front (BEGIN IMMEDIATE) so two agents queue
    rather than fail half-way. Connection setup only: the queries themselves stay portable.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("custody_write") else "BEGIN")


def reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return _one_line(str(orig if orig is not None else exc))


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _mask(text: str) -> str:
    """Hide a password in a URL we could not parse (user:secret@host)."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
