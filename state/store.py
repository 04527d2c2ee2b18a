"""The state store: what every scan saw, since when, and what changed since the last one.

SQLite by default (the config's `state` setting is a file path); any SQLAlchemy URL is
accepted, and only portable SQLAlchemy Core constructs are used, so PostgreSQL runs the
same code. Opening runs the Alembic migrations in state/migrations up to head
(upgrade_schema); a database written by the create_all of earlier versions is adopted by
the baseline revision. Every table lives in `metadata`, the alert tables included.

The rules ("fail closed, lose nothing"):

- Only a scan whose status is "complete" may mark an unseen store gone or an unseen
  finding resolved. A "partial", "failed" or "interrupted" scan upserts what it saw and
  nothing else: not having looked is not having found nothing.
- A store seen with status "not_evaluated" keeps its earlier findings open: not knowing
  is not fixing. For the same reason an empty reach (or location) set on such a store is
  taken as unknown, not as "reach dropped": it is neither reported as a change nor kept
  as the baseline for the next comparison.
- A store seen again after it was gone is reappeared (gone_at cleared); a finding seen
  again after it was resolved is reopened (resolved_at cleared). first_seen never moves.
- Every change is also appended to `events`, so a reappearance or a reopening does not
  erase the earlier gone/resolved interval.
- All writes of one scan happen in one transaction.

Times: every timestamp a scan writes (first_seen, last_seen, gone_at, resolved_at, event
at) is that scan's `started_at`, exactly as given, with the scan's id beside it
(first_scan_id, last_scan_id, ...). Stored as text so that they round-trip unchanged;
ISO 8601 in UTC sorts correctly as text.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gc
import json
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.sql.elements import BindParameter

from scanner.clock import now_iso
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from state.schema import (
    EVENT_KINDS,
    INDEX_COLUMNS,
    events_table,
    findings_table,
    metadata,
    scan_targets_table,
    scans_table,
    store_facets_table,
    store_index_table,
    stores_table,
)

SETTING = "state"  # the config key this store is opened from; every InputError names it
FINAL_STATUSES = ("complete", "partial", "failed", "interrupted")
NOT_EVALUATED = "not_evaluated"


@dataclass
class ScanChanges:
    """What one finished scan changed in the state. Lists hold store ids or finding fingerprints, sorted."""

    scan_id: str
    status: str
    new_stores: list[str] = field(default_factory=list)
    gone_stores: list[str] = field(default_factory=list)
    reappeared_stores: list[str] = field(default_factory=list)
    new_findings: list[str] = field(default_factory=list)
    resolved_findings: list[str] = field(default_factory=list)
    reopened_findings: list[str] = field(default_factory=list)
    changed_reach: list[str] = field(default_factory=list)
    changed_locations: list[str] = field(default_factory=list)
    # store id -> {"reach": {"before": [...], "after": [...]}, "locations": {"before": [...], "after": [...]}}
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in EVENT_KINDS}

    def __bool__(self) -> bool:
        return any(self.counts().values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StateStore:
    """The scan history, store inventory and finding lifecycle, in one SQL database."""

    batch_size = 1000  # stores finish_scan diffs and writes at a time: its memory is one batch, not the scan

    def __init__(self, location: str) -> None:
        self.url = database_url(location)
        self.display = self.url.render_as_string(hide_password=True)
        self._engine = _create_engine(self.url, self.display)
        try:
            with self._write("cannot open") as conn:
                self.revision = upgrade_schema(conn)
        except InputError:
            self._engine.dispose()
            raise
        except SQLAlchemyError as exc:  # e.g. a file that is not a SQLite database
            self._engine.dispose()
            raise InputError(f"{SETTING}: cannot open database {self.display}: {_reason(exc)}") from None

    # ---- writing ---------------------------------------------------------------

    def start_scan(self, scan: ScanResult) -> None:
        """Record a scan as running (whatever scan.status says), with any targets it already has."""
        with self._write() as conn:
            self.record_start(conn, scan)

    def record_start(self, conn: Connection, scan: ScanResult) -> None:
        """start_scan inside the caller's write transaction (a distributed scan's plan)."""
        row = _scan_row(scan)
        row.update(status="running", finished_at=None, changes=None)
        self._put_scan(conn, row)
        self._put_targets(conn, scan)

    def finish_scan(self, scan: ScanResult, stores: Iterable[DataStore]) -> ScanChanges:
        """Record a finished scan and everything it saw, in one transaction; return what changed.

        `stores` is read once, `batch_size` stores at a time: each batch is diffed against its own
        previous rows and written before the next is read, so any number of stores fits in memory.
        What only the whole scan can tell (stores gone, findings resolved) is decided at the end,
        from the rows the batches wrote. A failure anywhere rolls back everything, batches included.
        """
        if scan.status not in FINAL_STATUSES:
            raise ValueError(
                f"finish_scan: scan status must be one of {', '.join(FINAL_STATUSES)}, not {scan.status!r}"
            )
        with _gc_paused(), self._write() as conn:
            writer = _ScanWriter(conn, scan)
            for batch in _batches(stores, self.batch_size):
                writer.write(batch)
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
            rows = conn.execute(
                select(scans_table).order_by(scans_table.c.started_at.desc(), scans_table.c.seq.desc()).limit(limit)
            ).mappings()
            result = [dict(row) for row in rows]
            targets = _targets_of(conn, [row["id"] for row in result])
        for row in result:
            row["targets"] = targets.get(row["id"], [])
        return result

    def scan(self, scan_id: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute(select(scans_table).where(scans_table.c.id == scan_id)).mappings().first()
            if row is None:
                return None
            result = dict(row)
            result["targets"] = _targets_of(conn, [scan_id]).get(scan_id, [])
        return result

    def store_history(self, store_id: str) -> dict | None:
        """One store: its last document, first_seen/last_seen/gone_at, every finding ever raised on it
        (open and resolved, with first_seen/resolved_at), and its event log; None if never seen."""
        with self._read() as conn:
            row = conn.execute(select(stores_table).where(stores_table.c.id == store_id)).mappings().first()
            if row is None:
                return None
            result = dict(row)
            result["findings"] = [
                dict(item)
                for item in conn.execute(
                    select(findings_table)
                    .where(findings_table.c.store_id == store_id)
                    .order_by(findings_table.c.first_seen, findings_table.c.fingerprint)
                ).mappings()
            ]
            result["events"] = [
                dict(item)
                for item in conn.execute(
                    select(events_table).where(events_table.c.store_id == store_id).order_by(events_table.c.id)
                ).mappings()
            ]
        return result

    def open_findings(self) -> list[dict]:
        """Every unresolved finding (waived ones included, flagged), with its store's provider, account, kind, name."""
        query = (
            select(
                findings_table,
                stores_table.c.provider,
                stores_table.c.account,
                stores_table.c.kind,
                stores_table.c.name.label("store_name"),
                stores_table.c.gone_at.label("store_gone_at"),
            )
            .join(stores_table, stores_table.c.id == findings_table.c.store_id)
            .where(findings_table.c.resolved_at.is_(None))
            .order_by(findings_table.c.store_id, findings_table.c.fingerprint)
        )
        with self._read() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

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
            if only_if_missing:
                if conn.scalar(select(stores_table.c.id).limit(1)) is None:
                    return 0
                indexed = conn.scalar(select(store_index_table.c.id).limit(1)) is not None
                if indexed and conn.scalar(select(store_facets_table.c.store_id).limit(1)) is not None:
                    return 0
            conn.execute(delete(store_facets_table))
            conn.execute(delete(store_index_table))
            _refresh_index(conn, None)
            written = 0
            batch: list[dict[str, Any]] = []
            query = select(stores_table.c.id, stores_table.c.document, stores_table.c.jurisdictions)
            for row in conn.execute(query).mappings().all():
                batch += _facet_rows(row["id"], row)
                if len(batch) >= 5000:
                    conn.execute(insert(store_facets_table), batch)
                    written, batch = written + len(batch), []
            if batch:
                conn.execute(insert(store_facets_table), batch)
                written += len(batch)
        return written

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
            raise InputError(f"{SETTING}: {doing} database {self.display}: {_reason(exc)}") from None

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

    @staticmethod
    def _put_scan(conn: Connection, row: dict[str, Any]) -> None:
        exists = conn.scalar(select(scans_table.c.id).where(scans_table.c.id == row["id"]))
        if exists is None:
            seq = (conn.scalar(select(func.max(scans_table.c.seq))) or 0) + 1
            conn.execute(insert(scans_table).values(seq=seq, **row))
        else:
            values = {key: value for key, value in row.items() if key != "id"}
            conn.execute(update(scans_table).where(scans_table.c.id == row["id"]).values(**values))

    @staticmethod
    def _put_targets(conn: Connection, scan: ScanResult) -> None:
        """The scan's targets replace whatever was recorded for it before (start, then finish)."""
        conn.execute(delete(scan_targets_table).where(scan_targets_table.c.scan_id == scan.id))
        rows = [
            {
                "scan_id": scan.id,
                "provider": target.provider,
                "account": target.account,
                "region": target.region,
                "service": target.service,
                "status": target.status,
                "error": target.error,
                "stores": target.stores,
            }
            for target in scan.targets
        ]
        if rows:
            conn.execute(insert(scan_targets_table), rows)


class _ScanWriter:
    """The writes of one finish_scan, batch after batch inside the caller's transaction.

    Between batches it keeps only the ScanChanges; the database itself remembers what this scan
    saw (last_scan_id). A store met again in a later batch of the same scan (run_scan's spool
    never does that; another iterable may) is rewritten with the later sighting but not compared
    again: its changes are those of its first sighting, and a finding only the first had stays open.
    """

    def __init__(self, conn: Connection, scan: ScanResult) -> None:
        self.conn = conn
        self.scan = scan
        self.at = _text_time(scan.started_at)
        self.changes = ScanChanges(scan_id=scan.id, status=scan.status)
        self.events: list[dict[str, Any]] = []
        row = _scan_row(scan)
        row["finished_at"] = _text_time(scan.finished_at) if scan.finished_at else now_iso()
        StateStore._put_scan(conn, row)
        StateStore._put_targets(conn, scan)

    def write(self, batch: dict[str, DataStore]) -> None:
        """Diff and write one batch of stores (by id) and their findings."""
        inserts, updates = self._stores(batch)
        self._facets(inserts, updates)
        self._findings(batch)
        self._flush_events()

    def finish(self) -> ScanChanges:
        """What needs the whole scan: gone stores, the derived index, resolved findings, the scan's change counts."""
        complete = self.scan.status == "complete"
        if complete:
            self._mark_gone()
        # derived index rows of every store this scan wrote (seen, or marked gone)
        _refresh_index(self.conn, stores_table.c.last_scan_id == self.scan.id)
        for chunk in _chunks(self.changes.gone_stores, 500):
            _refresh_index(self.conn, stores_table.c.id.in_(chunk))
        if complete:
            self._resolve()
        for name in EVENT_KINDS:
            getattr(self.changes, name).sort()
        self._flush_events()
        update_scan = update(scans_table).where(scans_table.c.id == self.scan.id)
        self.conn.execute(update_scan.values(changes=self.changes.counts()))
        return self.changes

    # -- stores

    def _stores(self, batch: dict[str, DataStore]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Insert the new stores and update the known ones; return (inserted rows, updated rows)."""
        columns = [stores_table.c[name] for name in ("id", "gone_at", "jurisdictions", "locations", "last_scan_id")]
        prior = _rows_by_key(self.conn, stores_table.c.id, columns, batch)
        scan_id, at = self.scan.id, self.at
        inserts, updates = [], []
        for store_id, store in batch.items():
            values = {
                "provider": store.provider,
                "account": store.account,
                "kind": store.kind,
                "name": store.name,
                "region": store.region,
                "status": store.status,
                "document": _document(store),
                "jurisdictions": _reach_set(store),
                "locations": _location_set(store),
                "last_seen": at,
                "last_scan_id": scan_id,
                "gone_at": None,
                "gone_scan_id": None,
            }
            old = prior.get(store_id)
            if old is None:
                inserts.append({"id": store_id, "first_seen": at, "first_scan_id": scan_id, **values})
                self.changes.new_stores.append(store_id)
                self._log("store_new", store_id)
                continue
            self._compare(store, old, values)
            updates.append({"b_id": store_id, **values})
        if inserts:
            _bulk_insert(self.conn, stores_table, inserts)
        if updates:
            _bulk_update(self.conn, stores_table, "b_id", updates)
        return inserts, updates

    def _compare(self, store: DataStore, old: Any, values: dict[str, Any]) -> None:
        """Report how a known store changed (reappeared, reach, locations); keep an unknown baseline in `values`."""
        store_id = store.id
        if old["gone_at"] is not None:
            self.changes.reappeared_stores.append(store_id)
            self._log("store_reappeared", store_id, detail={"gone_at": old["gone_at"]})
        again = old["last_scan_id"] == self.scan.id  # met in an earlier batch: already compared
        for key, name in (("jurisdictions", "changed_reach"), ("locations", "changed_locations")):
            before, after = old[key] or [], values[key]
            if store.status == NOT_EVALUATED and not after and before:
                values[key] = before  # unknown, not emptied: keep the baseline
                continue
            if not again and _as_set(before) != _as_set(after):
                getattr(self.changes, name).append(store_id)
                detail = {"before": before, "after": after}
                self.changes.details.setdefault(store_id, {})["reach" if key == "jurisdictions" else key] = detail
                self._log(EVENT_KINDS[name], store_id, detail=detail)

    def _facets(self, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
        """Rewrite the facets of the written stores whose facets changed: a rescan that finds the estate
        as it was writes none (100,000 stores carry ~1.1 million facet rows)."""
        wanted = {row.get("id") or row["b_id"]: _facet_rows(row.get("id") or row["b_id"], row)
                  for row in [*inserts, *updates]}
        known: dict[str, set[tuple[str, str]]] = {}
        if updates:
            facet_columns = [store_facets_table.c[name] for name in ("store_id", "facet", "value")]
            updated = _inlined(row["b_id"] for row in updates)
            query = select(*facet_columns).where(store_facets_table.c.store_id.in_(updated))
            for store_id, facet, value in self.conn.execute(query):
                known.setdefault(store_id, set()).add((facet, value))
        changed = [
            store_id
            for store_id, rows in wanted.items()
            if {(row["facet"], row["value"]) for row in rows} != known.get(store_id, set())
        ]
        _bulk_delete(self.conn, store_facets_table.c.store_id, [store_id for store_id in changed if store_id in known])
        rows = [row for store_id in changed for row in wanted[store_id]]
        if rows:
            _bulk_insert(self.conn, store_facets_table, rows)

    def _mark_gone(self) -> None:
        """Mark gone the stores this complete scan did not see, only within the accounts it read: a store of
        an account that was dropped from the config (or never answered) is stale, not proven deleted."""
        scanned = {(t.provider, t.account) for t in self.scan.targets if t.status == "ok"}
        unseen = self.conn.execute(
            select(stores_table.c.id, stores_table.c.provider, stores_table.c.account).where(
                stores_table.c.gone_at.is_(None), stores_table.c.last_scan_id != self.scan.id
            )
        )
        self.changes.gone_stores = sorted(row.id for row in unseen if (row.provider, row.account) in scanned)
        for chunk in _chunks(self.changes.gone_stores, 500):
            gone = update(stores_table).where(stores_table.c.id.in_(chunk))
            self.conn.execute(gone.values(gone_at=self.at, gone_scan_id=self.scan.id))
        for store_id in self.changes.gone_stores:
            self._log("store_gone", store_id)

    # -- findings

    def _findings(self, batch: dict[str, DataStore]) -> None:
        """Insert the batch's new findings, update (or reopen) the known ones."""
        found = {finding.fingerprint: (finding, store.id) for store in batch.values() for finding in store.findings}
        prior = _rows_by_key(
            self.conn, findings_table.c.fingerprint, [findings_table.c.fingerprint, findings_table.c.resolved_at], found
        )
        scan_id, at = self.scan.id, self.at
        inserts, updates = [], []
        for fingerprint, (finding, store_id) in found.items():
            values = {
                "store_id": store_id,
                "policy": finding.policy,
                "jurisdiction": finding.jurisdiction,
                "basis": finding.basis,
                "severity": finding.severity,
                "message": finding.message,
                "waived": finding.waiver is not None,
                "waiver": finding.waiver,
                "last_seen": at,
                "last_scan_id": scan_id,
                "resolved_at": None,
                "resolved_scan_id": None,
            }
            old = prior.get(fingerprint)
            if old is None:
                inserts.append({"fingerprint": fingerprint, "first_seen": at, "first_scan_id": scan_id, **values})
                self.changes.new_findings.append(fingerprint)
                self._log("finding_new", store_id, fingerprint)
                continue
            if old["resolved_at"] is not None:
                self.changes.reopened_findings.append(fingerprint)
                self._log("finding_reopened", store_id, fingerprint, {"resolved_at": old["resolved_at"]})
            updates.append({"b_fingerprint": fingerprint, **values})
        if inserts:
            _bulk_insert(self.conn, findings_table, inserts)
        if updates:
            _bulk_update(self.conn, findings_table, "b_fingerprint", updates)

    def _resolve(self) -> None:
        """Resolve the open findings this complete scan did not see, except on the stores it saw but could
        not evaluate (not knowing is not fixing)."""
        not_evaluated = select(stores_table.c.id).where(
            stores_table.c.last_scan_id == self.scan.id, stores_table.c.status == NOT_EVALUATED
        )
        resolved = self.conn.execute(
            select(findings_table.c.fingerprint, findings_table.c.store_id).where(
                findings_table.c.resolved_at.is_(None),
                findings_table.c.last_scan_id != self.scan.id,
                findings_table.c.store_id.not_in(not_evaluated),
            )
        ).all()
        if not resolved:
            return
        rows = [{"b_fingerprint": fp, "resolved_at": self.at, "resolved_scan_id": self.scan.id} for fp, _ in resolved]
        _bulk_update(self.conn, findings_table, "b_fingerprint", rows)
        for fp, store_id in resolved:
            self.changes.resolved_findings.append(fp)
            self._log("finding_resolved", store_id, fp)

    # -- events

    def _log(self, kind: str, store_id: str, fingerprint: str | None = None, detail: Any = None) -> None:
        self.events.append(
            {
                "scan_id": self.scan.id,
                "at": self.at,
                "store_id": store_id,
                "fingerprint": fingerprint,
                "kind": kind,
                "detail": detail,
            }
        )

    def _flush_events(self) -> None:
        if self.events:
            _bulk_insert(self.conn, events_table, self.events)
            self.events = []


def _batches(stores: Iterable[DataStore], size: int) -> Iterator[dict[str, DataStore]]:
    """`stores` in batches of up to `size` stores by id; the same id twice in a batch: the last sighting wins."""
    batch: dict[str, DataStore] = {}
    for store in stores:
        batch[store.id] = store
        if len(batch) >= size:
            yield batch
            batch = {}
    if batch:
        yield batch


# ---- opening -------------------------------------------------------------------


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


MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x437573746F6479  # PostgreSQL advisory lock key ("Custody"): one replica migrates at a time


def _alembic_config(conn: Connection | None = None) -> Any:
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

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
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
    command.upgrade(_alembic_config(conn), revision)
    if revision == "head":
        metadata.create_all(conn)
    return schema_revision(conn)


def _check_sqlite_path(path_text: str, setting: str) -> None:
    if path_text == ":memory:" or path_text.startswith("file:"):
        return
    path = Path(path_text).expanduser()
    if path.is_dir():
        raise InputError(f"{SETTING}: '{_mask(setting)}' is a directory (expected a SQLite database file)")
    if not path.parent.is_dir():
        raise InputError(f"{SETTING}: directory '{path.parent}' for the database '{_mask(setting)}' does not exist")


def _create_engine(url: URL, display: str) -> Engine:
    connect_args: dict[str, Any] = {}
    backend, _, driver = url.drivername.partition("+")  # get_driver_name() would load the dialect
    if backend == "sqlite":
        connect_args["timeout"] = 30  # seconds to wait for another writer's lock
    elif backend == "postgresql" and driver in ("psycopg", "psycopg2") and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    try:
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
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


# ---- helpers -------------------------------------------------------------------


# ---- bulk writes ---------------------------------------------------------------
#
# SQLAlchemy's executemany is portable and, on SQLite, already the fastest path. On PostgreSQL it
# is one round trip per row even when pipelined; COPY streams the rows instead (about 10x faster
# for 100,000 stores). A batch below COPY_MIN_ROWS goes through executemany everywhere.

COPY_MIN_ROWS = 1000


def _copy_connection(conn: Connection, rows: Sequence[dict[str, Any]]) -> Any | None:
    """The psycopg (3) connection under `conn` when COPY is worth it and available, else None."""
    if len(rows) < COPY_MIN_ROWS or conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
        return None
    return conn.connection.driver_connection


@contextmanager
def _copying(statement: str) -> Iterator[None]:
    """Raise a driver error of a COPY as SQLAlchemy would (e.g. OperationalError), so _guard sees it."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _copy_rows(driver: Any, target: str, columns: list[Column], names: list[str], rows: Sequence[dict]) -> None:
    """COPY rows (dicts that all hold every one of `names`) into `target`'s `columns`, JSON as SQLAlchemy binds it."""
    column_list = ", ".join(f'"{column.name}"' for column in columns)
    json_at = [index for index, column in enumerate(columns) if isinstance(column.type, JSON)]
    dumps = json.dumps
    statement = f"COPY {target} ({column_list}) FROM STDIN"
    with _copying(statement), driver.cursor() as cursor, cursor.copy(statement) as copy_in:
        for row in rows:
            values = [row[name] for name in names]
            for index in json_at:
                if values[index] is not None:
                    values[index] = dumps(values[index])
            copy_in.write_row(values)


def _bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT rows that all have the same keys; missing columns take their Python default (as insert() would)."""
    driver = _copy_connection(conn, rows)
    if driver is None:
        conn.execute(insert(table), rows)
        return
    keys = set().union(*(row.keys() for row in rows[:1]))
    defaults = {
        column.name: column.default.arg
        for column in table.columns
        if column.name not in keys and column.default is not None and column.default.is_scalar
    }
    columns = [table.c[name] for name in rows[0] if name in table.c] + [table.c[name] for name in defaults]
    names = [column.name for column in columns]
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    _copy_rows(driver, f'"{table.name}"', columns, names, rows)


def _bulk_update(conn: Connection, table: Table, key_param: str, rows: Sequence[dict[str, Any]]) -> None:
    """UPDATE table SET (every other key of the rows) WHERE primary key = row[key_param]; all rows share keys."""
    [key] = table.primary_key.columns
    driver = _copy_connection(conn, rows)
    if driver is None:
        conn.execute(update(table).where(key == bindparam(key_param)), rows)
        return
    names = [name for name in rows[0] if name != key_param]
    columns = [key] + [table.c[name] for name in names]
    temp = f"custody_bulk_{table.name}"
    column_list = ", ".join(f'"{column.name}"' for column in columns)
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS pg_temp."{temp}"')
    conn.exec_driver_sql(
        f'CREATE TEMPORARY TABLE "{temp}" ON COMMIT DROP AS SELECT {column_list} FROM "{table.name}" WITH NO DATA'
    )
    _copy_rows(driver, f'"{temp}"', columns, [key_param, *names], rows)
    assignments = ", ".join(f'"{name}" = t."{name}"' for name in names)
    conn.exec_driver_sql(
        f'UPDATE "{table.name}" SET {assignments} FROM "{temp}" AS t WHERE "{table.name}"."{key.name}" = t."{key.name}"'
    )
    conn.exec_driver_sql(f'DROP TABLE "{temp}"')


def _bulk_delete(conn: Connection, column: Column, keys: Sequence[str]) -> None:
    """DELETE the rows whose `column` is one of `keys` (through a temporary table and COPY on PostgreSQL)."""
    if not keys:
        return
    table = column.table
    driver = _copy_connection(conn, keys)
    if driver is None:
        conn.execute(delete(table).where(column == bindparam("b_key")), [{"b_key": key} for key in keys])
        return
    temp = f"custody_bulk_{table.name}"
    conn.exec_driver_sql(f'DROP TABLE IF EXISTS pg_temp."{temp}"')
    conn.exec_driver_sql(f'CREATE TEMPORARY TABLE "{temp}" ("key" VARCHAR PRIMARY KEY) ON COMMIT DROP')
    statement = f'COPY "{temp}" ("key") FROM STDIN'
    with _copying(statement), driver.cursor() as cursor, cursor.copy(statement) as copy_in:
        for key in set(keys):
            copy_in.write_row((key,))
    conn.exec_driver_sql(
        f'DELETE FROM "{table.name}" USING "{temp}" AS t WHERE "{table.name}"."{column.name}" = t."key"'
    )
    conn.exec_driver_sql(f'DROP TABLE "{temp}"')


def _rows_by_key(conn: Connection, key: Column, columns: list[Column], wanted: Collection[str]) -> dict[str, Any]:
    """The rows whose key is one of `wanted` (one batch), read with one SELECT of the narrow columns."""
    if not wanted:
        return {}
    query = select(*columns).where(key.in_(_inlined(wanted)))
    return {row[key.name]: row for row in conn.execute(query).mappings()}


def _inlined(keys: Iterable[str]) -> BindParameter:
    """An IN list whose values are rendered into the SQL text (quoted by the dialect), not bound.

    Bound, psycopg prepares the statement after a few runs, and PostgreSQL's generic plan for a
    long IN list of parameters scanned the whole table each time (7 s for 10,000 stores
    instead of 2.6 s). Inlined, each batch is a statement of its own, planned with its values,
    and no database's limit on bound parameters applies.
    """
    return bindparam("b_keys", list(keys), expanding=True, literal_execute=True)


def _targets_of(conn: Connection, scan_ids: list[str]) -> dict[str, list[dict]]:
    result: dict[str, list[dict]] = {}
    if not scan_ids:
        return result
    query = (
        select(scan_targets_table)
        .where(scan_targets_table.c.scan_id.in_(scan_ids))
        .order_by(scan_targets_table.c.scan_id, scan_targets_table.c.id)
    )
    for row in conn.execute(query).mappings():
        item = dict(row)
        item.pop("id")
        result.setdefault(item.pop("scan_id"), []).append(item)
    return result


def _scan_row(scan: ScanResult) -> dict[str, Any]:
    return {
        "id": scan.id,
        "started_at": _text_time(scan.started_at),
        "finished_at": _text_time(scan.finished_at) if scan.finished_at else None,
        "status": scan.status,
        "home": list(scan.home),
        "counts": dict(scan.counts),
        "coverage_gaps": list(scan.coverage_gaps),
    }


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a scan's millions of small dicts and tuples are built.

    With 100,000 stores in memory every generation-2 pass walks them all: building the documents
    took twice as long with the collector on. Reference counting still frees everything as usual;
    the collector resumes (if it was on) when the write ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_ATOMS = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type, None for any other type."""
    if dataclasses.is_dataclass(cls):
        return tuple(item.name for item in dataclasses.fields(cls))
    return None


def _plain(value: Any) -> Any:
    """dataclasses.asdict without its per-value deepcopy: the same result, several times faster on a document."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is list:
        return [_plain(item) for item in value]
    if kind is dict:
        return {_plain(key): _plain(item) for key, item in value.items()}
    names = _field_names(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list):
        return kind(_plain(item) for item in value)
    if isinstance(value, dict):
        return kind((_plain(key), _plain(item)) for key, item in value.items())
    if isinstance(value, tuple):
        items = [_plain(item) for item in value]
        return kind(*items) if hasattr(value, "_fields") else kind(items)
    return copy.deepcopy(value)


def _document(store: DataStore) -> dict[str, Any]:
    """store.to_dict(), built without dataclasses.asdict (which costs ~0.4 ms a store): the tests hold them equal."""
    if type(store).to_dict is not DataStore.to_dict:  # a subclass with its own document
        return store.to_dict()
    document = _plain(store)
    for reach, item in zip(store.reachable_by, document["reachable_by"], strict=True):
        item["path_text"] = reach.path_text
    return document


def _reach_set(store: DataStore) -> list[str]:
    return sorted({reach.jurisdiction for reach in store.reachable_by})


def _location_set(store: DataStore) -> list[list[str]]:
    return [list(pair) for pair in sorted({(loc.region, loc.role) for loc in store.locations})]


def _refresh_index(conn: Connection, where: Any) -> None:
    """Rewrite the store_index rows of the stores matching `where` (None: all) from `stores`, in SQL."""
    columns = [stores_table.c[name] for name in INDEX_COLUMNS]
    source = select(*columns) if where is None else select(*columns).where(where)
    if where is not None:
        conn.execute(delete(store_index_table).where(store_index_table.c.id.in_(select(stores_table.c.id).where(where))))
    conn.execute(insert(store_index_table).from_select(list(INDEX_COLUMNS), source))


def _facet_rows(store_id: str, values: Any) -> list[dict[str, str]]:
    """The store_facets rows of one store, from its stores-row values (document and jurisdictions)."""
    document = values["document"] or {}
    found: set[tuple[str, str]] = {("jurisdiction", code) for code in values["jurisdictions"] or []}
    for location in document.get("locations") or []:
        country = str(location.get("country") or "unknown")
        found.add(("country", country))
        found.add(("primary" if location.get("role") == "primary" else "replica", country))
    for reach in document.get("reachable_by") or []:
        found |= {("law", str(ground["law"])) for ground in reach.get("grounds") or [] if ground.get("law")}
        if reach.get("law"):
            found.add(("law", str(reach["law"])))
    found |= {("policy", str(item["policy"])) for item in document.get("findings") or [] if item.get("policy")}
    found |= {("tag", f"{key}={value}") for key, value in (document.get("tags") or {}).items()}
    return [{"store_id": store_id, "facet": facet, "value": value} for facet, value in sorted(found)]


def _as_set(items: list[Any]) -> set[Any]:
    return {tuple(item) if isinstance(item, list) else item for item in items}


def _text_time(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return _one_line(str(orig if orig is not None else exc))


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _mask(text: str) -> str:
    """Hide a password in a URL we could not parse (user:secret@host)."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)


__all__ = [
    "EVENT_KINDS",
    "FINAL_STATUSES",
    "ScanChanges",
    "StateStore",
    "database_url",
    "events_table",
    "findings_table",
    "metadata",
    "scan_targets_table",
    "scans_table",
    "schema_head",
    "schema_revision",
    "store_facets_table",
    "store_index_table",
    "stores_table",
    "upgrade_schema",
]


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
