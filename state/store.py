"""The state store: what every scan saw, since when, and what changed since the last one.

SQLite by default (the config's `state` setting is a file path); any SQLAlchemy URL is
accepted, and only portable SQLAlchemy Core constructs are used, so PostgreSQL runs the
same code. The package, by responsibility:

    schema.py       every table (the alert outbox and scan units included)
    engine.py       the `state` setting to an engine; one-line database errors
    migrate.py      the Alembic revisions in migrations/, run up to head when the store opens
    scan_writer.py  a finished scan's stores and findings: upsert what was seen, close what was
                    not (complete scans only), ScanChanges and the event log
    documents.py    a store's stored document and what is derived from it (facets, index rows)
    bulk.py         bulk inserts, updates and deletes (COPY on PostgreSQL)
    reads.py        reads of the history shared with the dashboard's queries
    units.py, locks.py  distributed scans: their units; advisory locks

StateStore (here) opens the database (migrating it) and is the one handle the other packages use:
scans are started and finished through it, in one transaction each.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from scanner.clock import now_iso
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from state import reads
from state.documents import rebuild_derived
from state.engine import SETTING, create_engine, database_url, reason
from state.migrate import upgrade_schema
from state.scan_writer import ScanChanges, ScanWriter, put_scan, put_targets, scan_row, write_scan
from state.schema import FINAL_STATUSES, TARGETED, scans_table, stores_table


class StateStore:
    """The scan history, store inventory and finding lifecycle, in one SQL database."""

    batch_size = 1000  # stores finish_scan diffs and writes at a time: its memory is one batch, not the scan

    def __init__(self, location: str) -> None:
        self.url = database_url(location)
        self.display = self.url.render_as_string(hide_password=True)
        self._engine = create_engine(self.url, self.display)
        try:
            with self._write("cannot open") as conn:
                self.revision = upgrade_schema(conn)
        except InputError:
            self._engine.dispose()
            raise
        except SQLAlchemyError as exc:  # e.g. a file that is not a SQLite database
            self._engine.dispose()
            raise InputError(f"{SETTING}: cannot open database {self.display}: {reason(exc)}") from None

    # ---- writing ---------------------------------------------------------------

    def start_scan(self, scan: ScanResult) -> None:
        """Record a scan as running (whatever scan.status says), with any targets it already has."""
        with self._write() as conn:
            self.record_start(conn, scan)

    def record_start(self, conn: Connection, scan: ScanResult) -> None:
        """start_scan inside the caller's write transaction (a distributed scan's plan)."""
        row = scan_row(scan)
        row.update(status="running", finished_at=None, changes=None)
        put_scan(conn, row)
        put_targets(conn, scan)

    def finish_scan(self, scan: ScanResult, stores: Iterable[DataStore]) -> ScanChanges:
        """Record a finished scan and everything it saw, in one transaction; return what changed
        (state.scan_writer). A failure anywhere rolls back everything, batches included."""
        if scan.status not in FINAL_STATUSES:
            raise ValueError(
                f"finish_scan: scan status must be one of {', '.join(FINAL_STATUSES)}, not {scan.status!r}"
            )
        with self._write() as conn:
            return write_scan(conn, scan, stores, self.batch_size)

    def finish_targeted(self, scan: ScanResult, stores: Iterable[DataStore], gone: list[str],
                        read_whole: list[str]) -> ScanChanges:
        """Record a targeted scan (runtime.events): the stores it re-read, the stores a whole re-read confirmed
        `gone` (ids) and, for the stores it read whole, their findings not raised again as resolved."""
        if scan.status != TARGETED:
            raise ValueError(f"finish_targeted: scan status must be {TARGETED!r}, not {scan.status!r}")
        with self._write() as conn:
            writer = ScanWriter(conn, scan)
            batch = {store.id: store for store in stores}
            if batch:
                writer.write(batch)
            writer.close_confirmed(sorted(gone), sorted(read_whole))
            return writer.finish()

    def interrupt_running(self, finished_at: str | None = None) -> list[str]:
        """Mark scans still 'running' (their process died) as 'interrupted'; return their ids.

        Call it only when no other agent writes to the same database.
        """
        with self._write() as conn:
            ids = list(conn.scalars(select(scans_table.c.id).where(scans_table.c.status == "running")))
            if ids:
                conn.execute(
                    update(scans_table)
                    .where(scans_table.c.status == "running")
                    .values(status="interrupted", finished_at=finished_at or now_iso())
                )
        return sorted(ids)

    # ---- reading ---------------------------------------------------------------

    def scans(self, limit: int = 20) -> list[dict]:
        """The latest scans, newest first, each with its per-target results under 'targets'."""
        with self._read() as conn:
            result = [dict(row) for row in conn.execute(reads.newest_scans().limit(limit)).mappings()]
            targets = reads.targets_of(conn, [row["id"] for row in result])
        for row in result:
            row["targets"] = targets.get(row["id"], [])
        return result

    def scan(self, scan_id: str) -> dict | None:
        with self._read() as conn:
            result = reads.scan_row(conn, scan_id)
            if result is not None:
                result["targets"] = reads.targets_of(conn, [scan_id]).get(scan_id, [])
        return result

    def store_history(self, store_id: str) -> dict | None:
        """One store's last document, times, every finding ever raised on it and its events (reads.store_history)."""
        with self._read() as conn:
            return reads.store_history(conn, store_id)

    def open_findings(self) -> list[dict]:
        """Every unresolved finding (waived ones included, flagged), with its store's provider, account, kind, name."""
        with self._read() as conn:
            return reads.open_findings(conn)

    def present_stores(self, provider: str, account: str, kinds: Iterable[str], name: str | None = None,
                       store_id: str | None = None, region: str | None = None) -> list[str]:
        """Ids of the stores not gone with this provider, account (compared without case, as Azure's subscription
        ids are), kind, and the given name (or id, compared without case) and region: the stores a change event
        may be naming."""
        table = stores_table
        query = select(table.c.id).where(table.c.provider == provider, func.lower(table.c.account) == account.lower(),
                                         table.c.kind.in_(list(kinds)), table.c.gone_at.is_(None))
        if store_id is not None:
            query = query.where(func.lower(table.c.id) == store_id.lower())
        elif name is not None:
            query = query.where(table.c.name == name)
        if region is not None:
            query = query.where(table.c.region == region)
        with self._read() as conn:
            return sorted(conn.scalars(query))

    def reading(self) -> AbstractContextManager[Connection]:
        """A read-only connection whose database errors become one-line InputErrors (the dashboard's queries)."""
        return self._read()

    def writing(self) -> AbstractContextManager[Connection]:
        """One write transaction with the store's own locking (the alert tables share the database)."""
        return self._write()

    def connect(self) -> Connection:
        """A connection of the caller's own, kept open (a PostgreSQL advisory lock held for its session)."""
        with self._guard():
            return self._engine.connect()

    @property
    def backend(self) -> str:
        """"postgresql" or "sqlite"."""
        return self._engine.dialect.name

    def rebuild_facets(self, only_if_missing: bool = True) -> int:
        """Recompute `store_facets` and `store_index` from `stores` (a database written before these
        tables existed); with only_if_missing, only when stores exist and no facet does. Returns facet rows."""
        with self._write() as conn:
            return rebuild_derived(conn, only_if_missing)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals -------------------------------------------------------------

    @contextmanager
    def _guard(self, doing: str = "cannot use") -> Iterator[None]:
        """Turn a lost or unreachable database into one line naming the setting."""
        try:
            yield
        except (OperationalError, InterfaceError) as exc:
            raise InputError(f"{SETTING}: {doing} database {self.display}: {reason(exc)}") from None

    @contextmanager
    def _write(self, doing: str = "cannot use") -> Iterator[Connection]:
        with self._guard(doing), self._engine.connect() as conn:
            conn.execution_options(custody_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._guard(), self._engine.connect() as conn:
            yield conn
