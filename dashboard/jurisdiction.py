"""One jurisdiction's view: every store its law reaches, led by the strongest ground, grouped by basis and route.

Filtering by basis or route needs each store's strongest ground, which the state store writes
beside its other facets (`reach`: jurisdiction|basis|route). So for one jurisdiction a light
summary of every reached store (ids, names, basis, route, finding state) is built once per state
version in SQL alone, and kept for a few jurisdictions at a time; pages, counts and filters then
work on the summary, and only the rows shown (or exported, in batches) read their documents.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from dashboard import keyset, reach
from dashboard.queries import MAX_PER_PAGE, Queries
from state.documents import reach_value
from state.schema import findings_table, store_facets_table, store_index_table, stores_table

FINDING_STATES = ("open", "waived", "none")  # of the store's finding for this jurisdiction; none: accepted
BATCH = 500  # documents read at a time (rows shown or exported)
SUMMARY_BATCH = 5000  # summary rows (narrow index and facet rows) read at a time


@dataclass(slots=True)
class Reached:
    """One store the jurisdiction reaches, as much as filters, counts and order need."""

    store_id: str
    name: str
    kind: str
    provider: str
    account: str
    region: str
    status: str
    gone_at: str | None
    basis: str
    route: str
    finding: str  # FINDING_STATES

    def order(self) -> tuple:
        return (reach.basis_rank(self.basis), reach.route_rank(self.route), self.name, self.store_id)


@dataclass
class ReachQuery:
    code: str
    basis: list[str] = field(default_factory=list)
    route: list[str] = field(default_factory=list)
    provider: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    finding: list[str] = field(default_factory=list)
    q: str = ""
    include_gone: bool = False
    page: int = 1
    per_page: int = 50

    def matches(self, item: Reached) -> bool:
        wanted = (("basis", item.basis), ("route", item.route), ("provider", item.provider),
                  ("status", item.status), ("finding", item.finding))
        if any(getattr(self, name) and value not in getattr(self, name) for name, value in wanted):
            return False
        needle = self.q.lower()
        return not needle or needle in item.name.lower() or needle in item.store_id.lower()

    def filters(self) -> dict[str, Any]:
        names = ("basis", "route", "provider", "status", "finding")
        return {name: getattr(self, name) for name in names if getattr(self, name)}


class JurisdictionReach:
    """Reached stores per jurisdiction over one state store, summaries cached per state version."""

    def __init__(self, queries: Queries, keep: int = 3) -> None:
        self.queries = queries
        self.keep = keep
        self._cache: OrderedDict[tuple[str, bool], tuple[Any, list[Reached]]] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, code: str) -> bool:
        """Whether any store, present or gone, is reached by this jurisdiction (else the view is a 404)."""
        f = store_facets_table.c
        with self.queries.connect() as conn:
            found = conn.scalar(select(f.store_id).where(f.facet == "jurisdiction", f.value == code).limit(1))
        return found is not None

    def summary(self, code: str, include_gone: bool) -> list[Reached]:
        key = (code, include_gone)
        with self.queries.connect() as conn:
            version = self.queries.version(conn)
        with self._lock:
            hit = self._cache.get(key)
            if hit and hit[0] == version:
                self._cache.move_to_end(key)
                return hit[1]
        built = sorted(self._build(code, include_gone), key=Reached.order)
        with self._lock:
            self._cache[key] = (version, built)
            self._cache.move_to_end(key)
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return built

    def _build(self, code: str, include_gone: bool) -> Iterator[Reached]:
        """Every reached store with its strongest ground's basis and route, from the `reach` facet: SQL only."""
        s, f = store_index_table.c, store_facets_table.c
        prefix = reach_value(code, "", "")[:-1]  # "US|": the facet values of this jurisdiction, an index range
        conds = [f.facet == "reach", f.value >= prefix, f.value < prefix + "\U0010ffff"]
        if not include_gone:
            conds.append(s.gone_at.is_(None))
        with self.queries.connect() as conn:
            findings = finding_states(conn, code)
        query = (
            select(s.id, s.name, s.kind, s.provider, s.account, s.region, s.status, s.gone_at, f.value)
            .join(store_facets_table, f.store_id == s.id)
            .where(*conds)
        )
        for batch in keyset.batches(self.queries.connect, query, [(s.id, False)], SUMMARY_BATCH):
            for row in batch:
                if not row.value.startswith(prefix):  # a collation that orders "|" elsewhere
                    continue
                _, basis, route = row.value.split("|", 2)
                yield Reached(
                    row.id, row.name, sys.intern(row.kind), sys.intern(row.provider), sys.intern(row.account),
                    sys.intern(row.region), sys.intern(row.status), row.gone_at, sys.intern(basis),
                    sys.intern(route), findings.get(row.id, "none"),
                )

    # ---- views ---------------------------------------------------------------------------------

    def view(self, query: ReachQuery) -> dict[str, Any]:
        """Counts by basis and route, the filtered total and one page of full rows."""
        everything = self.summary(query.code, query.include_gone)
        matching = [item for item in everything if query.matches(item)]
        per_page = max(1, min(query.per_page, MAX_PER_PAGE))
        pages = max(1, -(-len(matching) // per_page))
        page = max(1, query.page)
        shown = matching[(page - 1) * per_page : page * per_page]
        return {
            "jurisdiction": query.code, "total": len(matching), "stores": len(everything), "page": page,
            "per_page": per_page, "pages": pages, "filters": query.filters(), "q": query.q,
            "groups": groups(everything), "choices": choices(everything),
            "items": list(self._rows(query.code, shown)),
        }

    def rows(self, query: ReachQuery) -> Iterator[dict[str, Any]]:
        """Every matching store's full row, in the view's order, documents read in batches (exports)."""
        matching = [item for item in self.summary(query.code, query.include_gone) if query.matches(item)]
        for start in range(0, len(matching), BATCH):
            yield from self._rows(query.code, matching[start : start + BATCH])

    def _rows(self, code: str, items: list[Reached]) -> Iterator[dict[str, Any]]:
        if not items:
            return
        st, fc = stores_table.c, findings_table.c
        ids = [item.store_id for item in items]
        policies: dict[str, set[str]] = {}
        with self.queries.connect() as conn:
            documents = dict(conn.execute(select(st.id, st.document).where(st.id.in_(ids))).all())
            for store_id, policy in conn.execute(
                select(fc.store_id, fc.policy).where(fc.store_id.in_(ids), fc.jurisdiction == code,
                                                     fc.resolved_at.is_(None))
            ):
                policies.setdefault(store_id, set()).add(policy)
        for item in items:
            entry = reach.entry(documents.get(item.store_id) or {}, code)
            if entry is None:  # the store changed since the summary was built: its next version will tell
                continue
            yield {**asdict(item), **reach.columns(entry), "jurisdiction": code,
                   "policies": sorted(policies.get(item.store_id, ()))}


def groups(items: list[Reached]) -> list[dict[str, Any]]:
    """Stores per (basis, route), strongest first; with how many have an open or waived finding."""
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:
        group = counts.setdefault((item.basis, item.route), {"basis": item.basis, "route": item.route, "stores": 0,
                                                             "open": 0, "waived": 0, "none": 0})
        group["stores"] += 1
        group[item.finding] += 1
    return sorted(counts.values(), key=lambda g: (reach.basis_rank(g["basis"]), reach.route_rank(g["route"])))


def choices(items: list[Reached]) -> dict[str, list[str]]:
    return {
        "basis": sorted({i.basis for i in items}, key=reach.basis_rank),
        "route": sorted({i.route for i in items}, key=reach.route_rank),
        "provider": sorted({i.provider for i in items}),
        "status": sorted({i.status for i in items}),
        "finding": [state for state in FINDING_STATES if any(i.finding == state for i in items)],
    }


def finding_states(conn: Any, code: str) -> dict[str, str]:
    """Store id -> the state of its unresolved findings for a jurisdiction: `open`, or `waived` when every one is."""
    fc = findings_table.c
    states: dict[str, str] = {}
    for store_id, waived in conn.execute(
        select(fc.store_id, fc.waived).where(fc.jurisdiction == code, fc.resolved_at.is_(None))
    ):
        states[store_id] = "open" if not waived or states.get(store_id) == "open" else "waived"
    return states
