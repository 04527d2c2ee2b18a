"""The scan writer: what one finished scan saw, written into the state in the caller's transaction,
and what it changed (ScanChanges, and one `events` row per change).

Stores and findings follow one lifecycle (`Tracked`), written by one upsert and one close:

- a row seen for the first time is inserted with first_seen; seen again, it is updated (last_seen;
  a gone store reappears, a resolved finding reopens); first_seen never moves;
- only a scan whose status is "complete" may close what it did not see (a store gone, a finding
  resolved). A "partial", "failed" or "interrupted" scan upserts what it saw and nothing else:
  not having looked is not having found nothing;
- a store seen with status "not_evaluated" keeps its earlier findings open: not knowing is not
  fixing. For the same reason an empty reach (or location) set on such a store is taken as
  unknown, not as "reach dropped": it is neither reported as a change nor kept as the baseline
  for the next comparison;
- a scan that is not complete never overwrites a verdict with "not_evaluated": a store it met
  but could not judge (its target failed half way) keeps its last verdict, document and
  findings, untouched; its `last_scan_id` still names the scan that last judged it, so it is
  stale (state.reads.is_stale) until a scan judges it again;
- every change is also appended to `events`, so a reappearance or a reopening does not erase the
  earlier gone/resolved interval;
- a "targeted" scan (runtime.events: the stores change events named, re-read) closes only what its
  caller confirmed: the stores a whole re-read did not find, and the findings of the stores it read
  whole (`ScanWriter.close_confirmed`);
- a row last seen by a targeted scan that started after this scan did is newer than what this scan
  read: it is neither overwritten nor closed by it.

Times: every timestamp a scan writes (first_seen, last_seen, gone_at, resolved_at, event at) is
that scan's `started_at`, exactly as given, with the scan's id beside it (first_scan_id,
last_scan_id, ...). Stored as text so that they round-trip unchanged; ISO 8601 in UTC sorts
correctly as text.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection

from scanner.clock import now_iso
from scanner.model import DataStore, Finding, ScanResult
from state.bulk import bulk_delete, bulk_insert, bulk_update, chunks, inlined, rows_by_key
from state.documents import document, facet_rows, location_set, reach_set, refresh_index
from state.schema import (
    EVENT_KINDS,
    TARGETED,
    events_table,
    findings_table,
    scan_targets_table,
    scans_table,
    store_facets_table,
    stores_table,
)

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
    changed_tags: list[str] = field(default_factory=list)
    changed_findings: list[str] = field(default_factory=list)
    # store id -> {"reach": {"before": [...], "after": [...]}, "locations": {"before": [...], "after": [...]},
    #              "tags": {"before": {key: value}, "after": {key: value}} (only the keys that changed),
    #              "findings": {fingerprint: {"before": {policy, severity}, "after": {policy, severity}}}}
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in EVENT_KINDS}

    def __bool__(self) -> bool:
        return any(self.counts().values())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Tracked:
    """A table of things scans see, one row per `key`: first_seen/first_scan_id written once,
    last_seen/last_scan_id by every sighting, `closed`/`closed_scan` set when a complete scan does not
    see the row and cleared when a scan sees it again. `new`, `again` and `unseen` name the
    ScanChanges lists (and so the event kinds) of the three steps."""

    table: Table
    key: str
    store: str  # the column naming the row's store: events are logged per store
    closed: str
    closed_scan: str
    new: str
    again: str
    unseen: str
    compared: tuple[str, ...] = ()  # more columns of the earlier row, read for the caller's own comparison

    def fingerprint(self, key: str) -> str | None:
        """The event's fingerprint: the key of a row that is not itself a store."""
        return key if self.store != self.key else None


STORES = Tracked(stores_table, key="id", store="id", closed="gone_at", closed_scan="gone_scan_id",
                 new="new_stores", again="reappeared_stores", unseen="gone_stores",
                 compared=("jurisdictions", "locations", "last_scan_id"))
FINDINGS = Tracked(findings_table, key="fingerprint", store="store_id", closed="resolved_at",
                   closed_scan="resolved_scan_id", new="new_findings", again="reopened_findings",
                   unseen="resolved_findings", compared=("policy", "severity"))

Compare = Callable[[str, Any, dict[str, Any]], None]  # (key, earlier row, new values) -> None


def write_scan(conn: Connection, scan: ScanResult, stores: Iterable[DataStore], batch_size: int) -> ScanChanges:
    """Record a finished scan and everything it saw inside the caller's transaction; return what changed.

    `stores` is read once, `batch_size` stores at a time: each batch is diffed against its own
    previous rows and written before the next is read, so any number of stores fits in memory.
    What only the whole scan can tell (stores gone, findings resolved) is decided at the end,
    from the rows the batches wrote.
    """
    with _gc_paused():
        writer = ScanWriter(conn, scan)
        for batch in _batches(stores, batch_size):
            writer.write(batch)
        return writer.finish()


class ScanWriter:
    """The writes of one finished scan, batch after batch inside the caller's transaction.

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
        self.kept_verdicts = 0  # stores met but not judged, whose earlier verdict stays (stale)
        self.events: list[dict[str, Any]] = []
        # targeted scans (runtime.events) that started after this one: what they saw is newer than this scan's view
        self.newer_targeted = list(conn.scalars(select(scans_table.c.id).where(
            scans_table.c.status == TARGETED, scans_table.c.started_at > self.at, scans_table.c.id != scan.id)))
        row = scan_row(scan)
        row["finished_at"] = _text_time(scan.finished_at) if scan.finished_at else now_iso()
        put_scan(conn, row)
        put_targets(conn, scan)

    def write(self, batch: dict[str, DataStore]) -> None:
        """Diff and write one batch of stores (by id) and their findings."""
        batch = self._keep_verdicts(batch)
        stores = {store_id: _store_values(store) for store_id, store in batch.items()}
        inserts, updates = self._upsert(STORES, stores, lambda key, old, values: self._compare(batch[key], old, values))
        self._facets(inserts, updates)
        findings = {item.fingerprint: _finding_values(item, store.id) for store in batch.values()
                    for item in store.findings}
        self._upsert(FINDINGS, findings, self._compare_finding)
        self._flush_events()

    def finish(self) -> ScanChanges:
        """What needs the whole scan: gone stores, the derived index, resolved findings, the scan's change counts."""
        complete = self.scan.status == "complete"
        if complete:
            # only within the accounts it read: a store of an account that was dropped from the
            # config (or never answered) is stale, not proven deleted
            scanned = {(t.provider, t.account) for t in self.scan.targets if t.status == "ok"}
            self._close_unseen(STORES, columns=(stores_table.c.provider, stores_table.c.account),
                               keep=lambda row: (row.provider, row.account) in scanned)
        # derived index rows of every store this scan wrote (seen, or marked gone)
        refresh_index(self.conn, stores_table.c.last_scan_id == self.scan.id)
        for chunk in chunks(self.changes.gone_stores, 500):
            refresh_index(self.conn, stores_table.c.id.in_(chunk))
        if complete:
            # except on the stores it saw but could not evaluate (not knowing is not fixing)
            not_evaluated = select(stores_table.c.id).where(
                stores_table.c.last_scan_id == self.scan.id, stores_table.c.status == NOT_EVALUATED
            )
            self._close_unseen(FINDINGS, where=findings_table.c.store_id.not_in(not_evaluated))
        for name in EVENT_KINDS:
            getattr(self.changes, name).sort()
        self._flush_events()
        update_scan = update(scans_table).where(scans_table.c.id == self.scan.id)
        self.conn.execute(update_scan.values(changes=self.changes.counts()))
        return self.changes

    def _keep_verdicts(self, batch: dict[str, DataStore]) -> dict[str, DataStore]:
        """Leave out the stores an incomplete scan could not judge that carry an earlier verdict."""
        if self.scan.status == "complete":
            return batch
        unjudged = [store_id for store_id, store in batch.items() if store.status == NOT_EVALUATED]
        if not unjudged:
            return batch
        judged = rows_by_key(self.conn, stores_table.c.id, [stores_table.c.id, stores_table.c.status,
                                                             stores_table.c.gone_at], unjudged)
        keep = {key for key, row in judged.items() if row["status"] != NOT_EVALUATED and row["gone_at"] is None}
        self.kept_verdicts += len(keep)
        return {store_id: store for store_id, store in batch.items() if store_id not in keep}

    def close_confirmed(self, gone: list[str], read_whole: list[str]) -> None:
        """A targeted scan: close the stores `gone` (a whole re-read did not find them), and the open findings of
        those and of the stores `read_whole` that this scan did not raise again (unless it could not evaluate
        the store: not knowing is not fixing)."""
        for chunk in chunks(gone, 500):
            self._close_unseen(STORES, where=stores_table.c.id.in_(inlined(chunk)))
        judged = set(gone)
        for chunk in chunks([store_id for store_id in read_whole if store_id not in judged], 500):
            judged.update(self.conn.scalars(select(stores_table.c.id).where(
                stores_table.c.id.in_(inlined(chunk)), stores_table.c.status != NOT_EVALUATED)))
        for chunk in chunks(sorted(judged), 500):
            self._close_unseen(FINDINGS, where=findings_table.c.store_id.in_(inlined(chunk)))

    # -- the lifecycle shared by stores and findings

    def _upsert(self, tracked: Tracked, rows: dict[str, dict[str, Any]],
                compare: Compare | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Insert the rows seen for the first time, update (and reopen) the known ones; `rows`: key -> column
        values. Return (inserted rows, updated rows: the key as `b_<key>`)."""
        table, scan_id, at = tracked.table, self.scan.id, self.at
        columns = [table.c[name] for name in (tracked.key, tracked.closed, "last_scan_id", *tracked.compared)]
        prior = rows_by_key(self.conn, table.c[tracked.key], columns, rows)
        inserts, updates = [], []
        for key, values in rows.items():
            values.update({"last_seen": at, "last_scan_id": scan_id, tracked.closed: None, tracked.closed_scan: None})
            store_id, fingerprint = values.get(tracked.store, key), tracked.fingerprint(key)
            old = prior.get(key)
            if old is not None and old["last_scan_id"] in self.newer_targeted:
                continue  # a targeted scan that ran meanwhile read it later: its sighting stands
            if old is None:
                inserts.append({tracked.key: key, "first_seen": at, "first_scan_id": scan_id, **values})
                self._change(tracked.new, key, store_id, fingerprint)
                continue
            if old[tracked.closed] is not None:
                self._change(tracked.again, key, store_id, fingerprint, {tracked.closed: old[tracked.closed]})
            if compare is not None:
                compare(key, old, values)
            updates.append({f"b_{tracked.key}": key, **values})
        if inserts:
            bulk_insert(self.conn, table, inserts)
        if updates:
            bulk_update(self.conn, table, f"b_{tracked.key}", updates)
        return inserts, updates

    def _close_unseen(self, tracked: Tracked, where: Any = None, columns: tuple[Column, ...] = (),
                      keep: Callable[[Any], bool] | None = None) -> None:
        """Close the open rows this scan did not see (matching `where`, and `keep` of their row with `columns`)."""
        table = tracked.table
        query = select(table.c[tracked.key].label("key"), table.c[tracked.store].label("store"), *columns).where(
            table.c[tracked.closed].is_(None), table.c.last_scan_id != self.scan.id,
            table.c.last_scan_id.not_in(bindparam("newer", self.newer_targeted, expanding=True, literal_execute=True))
        )
        if where is not None:
            query = query.where(where)
        unseen = sorted((row.key, row.store) for row in self.conn.execute(query) if keep is None or keep(row))
        for chunk in chunks([key for key, _ in unseen], 500):
            closing = update(table).where(table.c[tracked.key].in_(inlined(chunk)))
            self.conn.execute(closing.values({tracked.closed: self.at, tracked.closed_scan: self.scan.id}))
        for key, store_id in unseen:
            self._change(tracked.unseen, key, store_id, tracked.fingerprint(key))

    # -- what only stores have: reach and locations compared, facets

    def _compare(self, store: DataStore, old: Any, values: dict[str, Any]) -> None:
        """Report how a known store's reach and locations changed; keep an unknown baseline in `values`."""
        again = old["last_scan_id"] == self.scan.id  # met in an earlier batch: already compared
        for key, name in (("jurisdictions", "changed_reach"), ("locations", "changed_locations")):
            before, after = old[key] or [], values[key]
            if store.status == NOT_EVALUATED and not after and before:
                values[key] = before  # unknown, not emptied: keep the baseline
                continue
            if not again and _as_set(before) != _as_set(after):
                detail = {"before": before, "after": after}
                self.changes.details.setdefault(store.id, {})["reach" if key == "jurisdictions" else key] = detail
                self._change(name, store.id, store.id, None, detail)

    def _facets(self, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
        """Rewrite the facets of the written stores whose facets changed: a rescan that finds the estate
        as it was writes none (100,000 stores carry ~1.1 million facet rows)."""
        wanted = {row.get("id") or row["b_id"]: facet_rows(row.get("id") or row["b_id"], row)
                  for row in [*inserts, *updates]}
        known: dict[str, set[tuple[str, str]]] = {}
        if updates:
            facet_columns = [store_facets_table.c[name] for name in ("store_id", "facet", "value")]
            updated = inlined(row["b_id"] for row in updates)
            query = select(*facet_columns).where(store_facets_table.c.store_id.in_(updated))
            for store_id, facet, value in self.conn.execute(query):
                known.setdefault(store_id, set()).add((facet, value))
        changed = [
            store_id
            for store_id, rows in wanted.items()
            if {(row["facet"], row["value"]) for row in rows} != known.get(store_id, set())
        ]
        for store_id in changed:
            if store_id in known:
                now = {(row["facet"], row["value"]) for row in wanted[store_id]}
                self._compare_tags(store_id, known[store_id], now)
        bulk_delete(self.conn, store_facets_table.c.store_id, [store_id for store_id in changed if store_id in known])
        rows = [row for store_id in changed for row in wanted[store_id]]
        if rows:
            bulk_insert(self.conn, store_facets_table, rows)

    def _compare_finding(self, fingerprint: str, old: Any, values: dict[str, Any]) -> None:
        """Report an open finding whose headline policy or severity changed."""
        before = {"policy": old["policy"], "severity": old["severity"]}
        after = {"policy": values["policy"], "severity": values["severity"]}
        if old["resolved_at"] is None and before != after:
            detail = {"before": before, "after": after}
            self.changes.details.setdefault(values["store_id"], {}).setdefault("findings", {})[fingerprint] = detail
            self._change("changed_findings", fingerprint, values["store_id"], fingerprint, detail)

    def _compare_tags(self, store_id: str, before: set[tuple[str, str]], after: set[tuple[str, str]]) -> None:
        """Report the tags of a known store that changed (what brings a store into a policy's scope)."""
        old, new = _tags(before), _tags(after)
        keys = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        if keys:
            detail = {"before": {key: old.get(key) for key in keys}, "after": {key: new.get(key) for key in keys}}
            self.changes.details.setdefault(store_id, {})["tags"] = detail
            self._change("changed_tags", store_id, store_id, None, detail)

    # -- changes and events

    def _change(self, name: str, key: str, store_id: str, fingerprint: str | None, detail: Any = None) -> None:
        """Note one change: in the ScanChanges list `name`, and as an event of its kind."""
        getattr(self.changes, name).append(key)
        self.events.append({"scan_id": self.scan.id, "at": self.at, "store_id": store_id,
                            "fingerprint": fingerprint, "kind": EVENT_KINDS[name], "detail": detail})

    def _flush_events(self) -> None:
        if self.events:
            bulk_insert(self.conn, events_table, self.events)
            self.events = []


# ---- the scan row and its targets ------------------------------------------------------------


def scan_row(scan: ScanResult) -> dict[str, Any]:
    return {
        "id": scan.id,
        "started_at": _text_time(scan.started_at),
        "finished_at": _text_time(scan.finished_at) if scan.finished_at else None,
        "status": scan.status,
        "home": list(scan.home),
        "counts": dict(scan.counts),
        "coverage_gaps": list(scan.coverage_gaps),
    }


def put_scan(conn: Connection, row: dict[str, Any]) -> None:
    """Insert the scan row (numbered in insertion order) or update it."""
    exists = conn.scalar(select(scans_table.c.id).where(scans_table.c.id == row["id"]))
    if exists is None:
        seq = (conn.scalar(select(func.max(scans_table.c.seq))) or 0) + 1
        conn.execute(insert(scans_table).values(seq=seq, **row))
    else:
        values = {key: value for key, value in row.items() if key != "id"}
        conn.execute(update(scans_table).where(scans_table.c.id == row["id"]).values(**values))


def put_targets(conn: Connection, scan: ScanResult) -> None:
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


# ---- helpers -------------------------------------------------------------------------------


def _tags(facets: set[tuple[str, str]]) -> dict[str, str]:
    """The tags among a store's facets ("tag", "key=value")."""
    return dict(value.split("=", 1) for facet, value in facets if facet == "tag" and "=" in value)


def _store_values(store: DataStore) -> dict[str, Any]:
    return {
        "provider": store.provider,
        "account": store.account,
        "kind": store.kind,
        "name": store.name,
        "region": store.region,
        "status": store.status,
        "document": document(store),
        "jurisdictions": reach_set(store),
        "locations": location_set(store),
    }


def _finding_values(finding: Finding, store_id: str) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "policy": finding.policy,
        "jurisdiction": finding.jurisdiction,
        "basis": finding.basis,
        "severity": finding.severity,
        "message": finding.message,
        "waived": finding.waiver is not None,
        "waiver": finding.waiver,
    }


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


def _as_set(items: list[Any]) -> set[Any]:
    return {tuple(item) if isinstance(item, list) else item for item in items}


def _text_time(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
