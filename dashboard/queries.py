"""Read-only queries over the state store's tables for the dashboard.

Filtering, sorting, search and pagination happen in SQL: columns of `stores` for provider,
account, kind, region and status; `store_facets` (indexed by facet, value, store) for the
multi-valued country, reaching jurisdiction, law, policy and tag. Aggregates that every page
view would otherwise recompute (overview, map, filter choices) are cached per state version
(the newest scan row), so a new scan shows at once and nothing stale outlives it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.engine import Connection

from dashboard import keyset, reach
from scanner import clock
from state import reads
from state.schema import (
    TARGETED,
    events_table,
    findings_table,
    scan_targets_table,
    scans_table,
    store_facets_table,
    store_index_table,
    stores_table,
)
from state.store import StateStore

STATUSES = ("fail", "not_evaluated", "pass", "not_applicable")
COLUMN_FILTERS = ("provider", "account", "kind", "region", "status")
FACET_FILTERS = ("country", "primary", "replica", "jurisdiction", "law", "policy", "tag")
SORTS = {
    "name": store_index_table.c.name,
    "provider": store_index_table.c.provider,
    "account": store_index_table.c.account,
    "kind": store_index_table.c.kind,
    "region": store_index_table.c.region,
    "status": store_index_table.c.status,
    "first_seen": store_index_table.c.first_seen,
    "last_seen": store_index_table.c.last_seen,
}
FINDING_STATES = ("open", "new", "waived", "resolved", "all")
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
MAX_PER_PAGE = 500

s = store_index_table.c  # the narrow copy of the stores' scalar columns: filters, sorts, counts
f = store_facets_table.c


@dataclass
class InventoryQuery:
    filters: dict[str, list[str]] = field(default_factory=dict)  # COLUMN_FILTERS and FACET_FILTERS
    q: str = ""
    sort: str = "name"
    order: str = "asc"
    page: int = 1
    per_page: int = 50
    include_gone: bool = False

    def conditions(self) -> list[Any]:
        conds: list[Any] = []
        if not self.include_gone:
            conds.append(s.gone_at.is_(None))
        for name in COLUMN_FILTERS:
            values = self.filters.get(name)
            if values:
                conds.append(getattr(s, name).in_(values))
        for name in FACET_FILTERS:
            values = self.filters.get(name)
            if values:
                facet = select(f.store_id).where(f.facet == name, f.value.in_(values))
                conds.append(s.id.in_(facet))
        if self.q:
            pattern = "%" + self.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds.append(
                or_(func.lower(s.name).like(pattern, escape="\\"), func.lower(s.id).like(pattern, escape="\\"))
            )
        return conds

    def order_by(self) -> list[Any]:
        column = SORTS.get(self.sort, s.name)
        if self.order == "desc":
            return [column.desc(), s.id.desc()]
        return [column.asc(), s.id.asc()]


@dataclass
class FindingQuery:
    state: str = "open"
    severity: list[str] = field(default_factory=list)
    policy: list[str] = field(default_factory=list)
    jurisdiction: list[str] = field(default_factory=list)
    store: str = ""  # a store id
    q: str = ""
    sort: str = "age"  # age (oldest first) | severity | store
    page: int = 1
    per_page: int = 50


class Queries:
    """Read-only access to one state store, with aggregates cached per state version."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._cache: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    # ---- plumbing ------------------------------------------------------------------------------

    def connect(self) -> Any:
        return self.state.reading()

    def version(self, conn: Connection) -> tuple:
        row = conn.execute(
            select(scans_table.c.seq, scans_table.c.status, scans_table.c.finished_at)
            .order_by(scans_table.c.seq.desc())
            .limit(1)
        ).first()
        count = conn.scalar(select(func.count()).select_from(scans_table))
        return (count, tuple(row) if row else None)

    def _cached(self, key: str, conn: Connection, build: Any) -> Any:
        version = self.version(conn)
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] == version:
                return hit[1]
        value = build(conn)
        with self._lock:
            self._cache[key] = (version, value)
        return value

    # ---- scans ---------------------------------------------------------------------------------

    def latest_scan(self, conn: Connection, finished_only: bool = True) -> dict | None:
        query = reads.newest_scans().limit(1)
        if finished_only:  # the latest scan of the estate: not a targeted re-read of a few stores (runtime.events)
            query = query.where(scans_table.c.status.not_in(("running", TARGETED)))
        row = conn.execute(query).mappings().first()
        return dict(row) if row else None

    def scans(self, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
        with self.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(scans_table)) or 0
            rows = [
                dict(row)
                for row in conn.execute(reads.newest_scans().limit(limit).offset(offset)).mappings()
            ]
            tallies = self._target_tallies(conn, [row["id"] for row in rows])
        for row in rows:
            row["targets"] = tallies.get(row["id"], {})
        return total, rows

    def _target_tallies(self, conn: Connection, scan_ids: list[str]) -> dict[str, dict[str, int]]:
        if not scan_ids:
            return {}
        t = scan_targets_table.c
        result: dict[str, dict[str, int]] = {}
        query = (
            select(t.scan_id, t.status, func.count())
            .where(t.scan_id.in_(scan_ids))
            .group_by(t.scan_id, t.status)
        )
        for scan_id, status, count in conn.execute(query):
            result.setdefault(scan_id, {})[status] = count
        return result

    def scan(self, scan_id: str) -> dict | None:
        with self.connect() as conn:
            result = reads.scan_row(conn, scan_id)
            if result is None:
                return None
            t = scan_targets_table.c
            targets = [
                dict(item)
                for item in conn.execute(
                    select(t.provider, t.account, t.region, t.service, t.status, t.error, t.stores)
                    .where(t.scan_id == scan_id)
                    .order_by(t.provider, t.account, t.region, t.service)
                ).mappings()
            ]
            result["targets"] = targets
            result["events"] = {
                kind: count
                for kind, count in conn.execute(
                    select(events_table.c.kind, func.count())
                    .where(events_table.c.scan_id == scan_id)
                    .group_by(events_table.c.kind)
                )
            }
            result["stores_last_seen"] = conn.scalar(
                select(func.count()).select_from(stores_table).where(stores_table.c.last_scan_id == scan_id)
            )
        return result

    def scan_stores(self, scan_id: str, batch: int = 500) -> Iterator[dict]:
        """Documents of the stores whose latest sighting is this scan (the evidence report's body).

        Ids first, then documents in batches, each on a short read: a report streamed for minutes
        must not hold a read lock that would make the agent's next scan wait to commit.
        """
        st = stores_table.c
        with self.connect() as conn:
            order = (st.provider, st.account, st.kind, st.name, st.id)
            ids = list(conn.scalars(select(st.id).where(st.last_scan_id == scan_id).order_by(*order)))
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with self.connect() as conn:
                found = {
                    row["id"]: row
                    for row in conn.execute(
                        select(st.id, st.document, st.first_seen, st.gone_at).where(st.id.in_(chunk))
                    ).mappings()
                }
            for store_id in chunk:
                row = found.get(store_id)
                if row is not None:
                    yield {**row["document"], "first_seen": row["first_seen"], "gone_at": row["gone_at"]}

    # ---- overview ------------------------------------------------------------------------------

    def overview(self, trend: int = 20) -> dict:
        with self.connect() as conn:
            return self._cached(f"overview:{trend}", conn, lambda c: self._overview(c, trend))

    def _overview(self, conn: Connection, trend: int) -> dict:
        present = s.gone_at.is_(None)
        by_status = {status: 0 for status in STATUSES}
        for status, count in conn.execute(select(s.status, func.count()).where(present).group_by(s.status)):
            by_status[status] = count
        by_provider: dict[str, dict[str, int]] = {}
        for provider, status, count in conn.execute(
            select(s.provider, s.status, func.count()).where(present).group_by(s.provider, s.status)
        ):
            by_provider.setdefault(provider, {}).setdefault(status, 0)
            by_provider[provider][status] += count
        by_jurisdiction = self._facet_counts(conn, "jurisdiction")
        by_country = self._facet_counts(conn, "country")
        gone = conn.scalar(select(func.count()).select_from(store_index_table).where(s.gone_at.is_not(None))) or 0
        fc = findings_table.c
        open_findings = {
            severity: count
            for severity, count in conn.execute(
                select(fc.severity, func.count())
                .where(fc.resolved_at.is_(None), fc.waived.is_(False))
                .group_by(fc.severity)
            )
        }
        waived = conn.scalar(
            select(func.count()).select_from(findings_table).where(fc.resolved_at.is_(None), fc.waived.is_(True))
        )
        last = self.latest_scan(conn)
        health = None
        if last:
            t = scan_targets_table.c
            tally = self._target_tallies(conn, [last["id"]]).get(last["id"], {})
            failures = [
                dict(row)
                for row in conn.execute(
                    select(t.provider, t.account, t.region, t.service, t.status, t.error)
                    .where(t.scan_id == last["id"], t.status != "ok")
                    .order_by(t.provider, t.account, t.region, t.service)
                    .limit(50)
                ).mappings()
            ]
            new_findings = conn.scalar(
                select(func.count()).select_from(findings_table).where(
                    fc.first_scan_id == last["id"], fc.resolved_at.is_(None), fc.waived.is_(False)
                )
            )
            health = {"scan": last, "targets": tally, "failures": failures, "new_findings": new_findings}
        history = [
            dict(row)
            for row in conn.execute(
                select(scans_table.c.id, scans_table.c.started_at, scans_table.c.status, scans_table.c.counts)
                .where(scans_table.c.status.not_in(("running", TARGETED)))
                .order_by(scans_table.c.started_at.desc(), scans_table.c.seq.desc())
                .limit(trend)
            ).mappings()
        ][::-1]
        return {
            "stores": sum(by_status.values()),
            "by_status": by_status,
            "by_provider": dict(sorted(by_provider.items())),
            "by_jurisdiction": by_jurisdiction,
            "by_country": by_country,
            "gone": gone,
            "open_findings": dict(sorted(open_findings.items(), key=lambda kv: SEVERITY_ORDER.get(kv[0], 9))),
            "waived_findings": waived or 0,
            "last_scan": health,
            "trend": history,
        }

    def _facet_counts(self, conn: Connection, facet: str) -> dict[str, int]:
        query = (
            select(f.value, func.count(func.distinct(f.store_id)))
            .join(store_index_table, s.id == f.store_id)
            .where(f.facet == facet, s.gone_at.is_(None))
            .group_by(f.value)
        )
        rows = conn.execute(query).all()
        return dict(sorted(((value, count) for value, count in rows), key=lambda kv: (-kv[1], kv[0])))

    # ---- map -----------------------------------------------------------------------------------

    def map_data(self) -> dict:
        with self.connect() as conn:
            return self._cached("map", conn, self._map)

    def _map(self, conn: Connection) -> dict:
        present = s.gone_at.is_(None)
        countries: dict[str, dict[str, Any]] = {}
        for country, status, count in conn.execute(
            select(f.value, s.status, func.count(func.distinct(f.store_id)))
            .join(store_index_table, s.id == f.store_id)
            .where(f.facet == "country", present)
            .group_by(f.value, s.status)
        ):
            entry = countries.setdefault(country, {"stores": 0, "by_status": {}, "primary": 0, "replica": 0})
            entry["stores"] += count
            entry["by_status"][status] = count
        for facet in ("primary", "replica"):
            for country, count in conn.execute(
                select(f.value, func.count(func.distinct(f.store_id)))
                .join(store_index_table, s.id == f.store_id)
                .where(f.facet == facet, present)
                .group_by(f.value)
            ):
                countries.setdefault(country, {"stores": 0, "by_status": {}, "primary": 0, "replica": 0})[facet] = count
        p, r = store_facets_table.alias("p"), store_facets_table.alias("r")
        links = [
            {"from": src, "to": dst, "stores": count}
            for src, dst, count in conn.execute(
                select(p.c.value, r.c.value, func.count(func.distinct(p.c.store_id)))
                .select_from(p.join(r, and_(r.c.store_id == p.c.store_id, r.c.facet == "replica")))
                .join(store_index_table, s.id == p.c.store_id)
                .where(p.c.facet == "primary", p.c.value != r.c.value, present)
                .group_by(p.c.value, r.c.value)
            )
        ]
        return {
            "countries": countries,
            "links": sorted(links, key=lambda link: (-link["stores"], link["from"], link["to"])),
            "jurisdictions": self._facet_counts(conn, "jurisdiction"),
        }

    # ---- inventory -----------------------------------------------------------------------------

    def choices(self) -> dict[str, list[str]]:
        """The values each inventory filter can take (present stores), for the filter form."""
        with self.connect() as conn:
            return self._cached("choices", conn, self._choices)

    def _choices(self, conn: Connection) -> dict[str, list[str]]:
        present = s.gone_at.is_(None)
        result: dict[str, list[str]] = {}
        for name in COLUMN_FILTERS:
            column = getattr(s, name)
            query = select(column).where(present).distinct().order_by(column)
            result[name] = [value for (value,) in conn.execute(query)]
        for name in FACET_FILTERS:
            result[name] = [
                value
                for (value,) in conn.execute(
                    select(f.value).where(f.facet == name).distinct().order_by(f.value)
                )
            ]
        return result

    def tag_values(self, prefix: str, limit: int = 20) -> list[str]:
        """Tag filter values (key=value) starting with `prefix`, in order: an index range, not a scan."""
        query = select(f.value).where(f.facet == "tag", f.value >= prefix).distinct().order_by(f.value).limit(limit)
        if prefix:
            query = query.where(f.value < prefix + "\U0010ffff")
        with self.connect() as conn:
            return list(conn.scalars(query))

    def inventory(self, query: InventoryQuery) -> dict:
        conds = query.conditions()
        per_page = max(1, min(query.per_page, MAX_PER_PAGE))
        page = max(1, query.page)
        with self.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(store_index_table).where(*conds)) or 0
            rows = [
                dict(row)
                for row in conn.execute(
                    select(s.id, s.provider, s.account, s.kind, s.name, s.region, s.status, s.first_seen, s.last_seen,
                           s.gone_at)
                    .where(*conds)
                    .order_by(*query.order_by())
                    .limit(per_page)
                    .offset((page - 1) * per_page)
                ).mappings()
            ]
            ids = [row["id"] for row in rows]
            documents: dict[str, Any] = {}
            facets: dict[tuple[str, str], list[str]] = {}
            open_counts: dict[str, int] = {}
            if ids:
                for store_id, facet, value in conn.execute(
                    select(f.store_id, f.facet, f.value)
                    .where(f.store_id.in_(ids), f.facet.in_(("country", "jurisdiction")))
                    .order_by(f.value)
                ):
                    facets.setdefault((store_id, facet), []).append(value)
                fc = findings_table.c
                # by store id only (counted here): a resolved_at condition makes SQLite scan every open finding
                for store_id, resolved_at, waived in conn.execute(
                    select(fc.store_id, fc.resolved_at, fc.waived).where(fc.store_id.in_(ids))
                ):
                    if resolved_at is None and not waived:
                        open_counts[store_id] = open_counts.get(store_id, 0) + 1
                st = stores_table.c
                documents = dict(conn.execute(select(st.id, st.document).where(st.id.in_(ids))).all())
        for row in rows:
            row["countries"] = facets.get((row["id"], "country"), [])
            row["jurisdictions"] = facets.get((row["id"], "jurisdiction"), [])
            row["reach"] = reach.summary(documents.get(row["id"]) or {})
            row["open_findings"] = open_counts.get(row["id"], 0)
        pages = max(1, -(-total // per_page))
        return {"total": total, "page": page, "per_page": per_page, "pages": pages, "items": rows}

    def inventory_documents(self, query: InventoryQuery, batch: int = 500) -> Iterator[dict]:
        """Every matching store's document, in the query's order (for exports): ids first, documents in batches."""
        with self.connect() as conn:
            ids = list(conn.scalars(select(s.id).where(*query.conditions()).order_by(*query.order_by())))
        st = stores_table.c
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            with self.connect() as conn:
                found = {
                    row["id"]: row
                    for row in conn.execute(
                        select(st.id, st.document, st.first_seen, st.last_seen, st.gone_at).where(st.id.in_(chunk))
                    ).mappings()
                }
            for store_id in chunk:
                row = found.get(store_id)
                if row is not None:
                    yield {**row["document"], "first_seen": row["first_seen"], "last_seen": row["last_seen"],
                           "gone_at": row["gone_at"]}

    # ---- one store -----------------------------------------------------------------------------

    def store(self, store_id: str) -> dict | None:
        return self.state.store_history(store_id)

    # ---- findings ------------------------------------------------------------------------------

    def findings(self, query: FindingQuery, paginate: bool = True) -> dict:
        fc = findings_table.c
        with self.connect() as conn:
            last = self.latest_scan(conn)
            conds = _finding_conditions(query, last["id"] if last else None)
            base = select(func.count()).select_from(findings_table.join(store_index_table, s.id == fc.store_id))
            total = conn.scalar(base.where(*conds)) or 0
            counts = {}
            for state in FINDING_STATES:
                state_query = FindingQuery(**{**query.__dict__, "state": state})
                counts[state] = conn.scalar(
                    base.where(*_finding_conditions(state_query, last["id"] if last else None))
                ) or 0
            select_query = (
                select(
                    findings_table,
                    s.provider, s.account, s.kind, s.name.label("store_name"), s.gone_at.label("store_gone_at"),
                )
                .join(store_index_table, s.id == fc.store_id)
                .where(*conds)
                .order_by(*keyset.sorted_by(_finding_order(query.sort)))
            )
            per_page = max(1, min(query.per_page, MAX_PER_PAGE))
            page = max(1, query.page)
            if paginate:
                select_query = select_query.limit(per_page).offset((page - 1) * per_page)
            rows = [dict(row) for row in conn.execute(select_query).mappings()]
        now = clock.now()
        for row in rows:
            row["state"] = finding_state(row, last["id"] if last else None)
            row["age_days"] = age_days(row["first_seen"], row["resolved_at"], now)
        return {
            "total": total, "page": page, "per_page": per_page, "pages": max(1, -(-total // per_page)),
            "counts": counts, "items": rows, "last_scan": last["id"] if last else None,
        }

    def finding_rows(self, query: FindingQuery, batch: int = 1000) -> Iterator[dict]:
        """Every matching finding (for exports), with its store's document under `document`.

        Keyset batches of fingerprints in the view's order (the same cost for the last batch as the
        first), then those findings with their documents by primary key, each batch on a short read.
        """
        fc = findings_table.c
        with self.connect() as conn:
            last = self.latest_scan(conn)
        last_id = last["id"] if last else None
        keys = (
            select(fc.fingerprint)
            .select_from(findings_table.join(store_index_table, s.id == fc.store_id))
            .where(*_finding_conditions(query, last_id))
        )
        for page in keyset.batches(self.connect, keys, _finding_order(query.sort), batch):
            fingerprints = [row[0] for row in page]
            with self.connect() as conn:
                found = {
                    row["fingerprint"]: dict(row)
                    for row in conn.execute(
                        select(
                            findings_table,
                            s.provider, s.account, s.kind, s.region, s.name.label("store_name"),
                            s.gone_at.label("store_gone_at"), stores_table.c.document,
                        )
                        .join(store_index_table, s.id == fc.store_id)
                        .join(stores_table, stores_table.c.id == fc.store_id)
                        .where(fc.fingerprint.in_(fingerprints))
                    ).mappings()
                }
            now = clock.now()
            for fingerprint in fingerprints:
                row = found.get(fingerprint)
                if row is None:  # gone between the two reads
                    continue
                row["state"] = finding_state(row, last_id)
                row["age_days"] = age_days(row["first_seen"], row["resolved_at"], now)
                yield row

    def finding_choices(self) -> dict[str, list[str]]:
        fc = findings_table.c
        with self.connect() as conn:
            return {
                "severity": sorted(
                    (v for (v,) in conn.execute(select(fc.severity).distinct())), key=lambda v: SEVERITY_ORDER.get(v, 9)
                ),
                "policy": [v for (v,) in conn.execute(select(fc.policy).distinct().order_by(fc.policy))],
                "jurisdiction": list(conn.scalars(select(fc.jurisdiction).distinct().order_by(fc.jurisdiction))),
            }


def _finding_conditions(query: FindingQuery, last_scan: str | None) -> list[Any]:
    fc = findings_table.c
    conds: list[Any] = []
    if query.state == "open":
        conds += [fc.resolved_at.is_(None), fc.waived.is_(False)]
    elif query.state == "new":
        conds += [fc.resolved_at.is_(None), fc.waived.is_(False), fc.first_scan_id == (last_scan or literal(None))]
    elif query.state == "waived":
        conds += [fc.resolved_at.is_(None), fc.waived.is_(True)]
    elif query.state == "resolved":
        conds.append(fc.resolved_at.is_not(None))
    if query.severity:
        conds.append(fc.severity.in_(query.severity))
    if query.policy:
        conds.append(fc.policy.in_(query.policy))
    if query.jurisdiction:
        conds.append(fc.jurisdiction.in_(query.jurisdiction))
    if query.store:
        conds.append(fc.store_id == query.store)
    if query.q:
        pattern = "%" + query.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(
            or_(func.lower(s.name).like(pattern, escape="\\"), func.lower(fc.message).like(pattern, escape="\\"))
        )
    return conds


def _finding_order(sort: str) -> keyset.Order:
    """The findings view's order as (expression, descending?), ending in the unique fingerprint."""
    fc = findings_table.c
    if sort == "severity":
        return [(case(SEVERITY_ORDER, value=fc.severity, else_=9), False), (fc.first_seen, False),
                (fc.fingerprint, False)]
    if sort == "store":
        return [(s.name, False), (fc.store_id, False), (fc.fingerprint, False)]
    if sort == "recent":
        return [(fc.first_seen, True), (fc.fingerprint, False)]
    return [(fc.first_seen, False), (fc.fingerprint, False)]


def finding_state(row: dict, last_scan: str | None) -> str:
    if row.get("resolved_at"):
        return "resolved"
    if row.get("waived"):
        return "waived"
    if last_scan and row.get("first_scan_id") == last_scan:
        return "new"
    return "open"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def age_days(first_seen: str | None, until: str | None, now: datetime) -> int | None:
    start = parse_time(first_seen)
    end = parse_time(until) or now
    if start is None:
        return None
    return max(0, (end - start).days)
