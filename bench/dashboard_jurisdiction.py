"""Benchmark (not a test): the jurisdiction view's first load, documents against the `reach` facet.

    .venv/bin/python bench/dashboard_jurisdiction.py [--stores 20000] [--code US] [--db PATH --reuse]

Writes a synthetic estate (dashboard.synthetic, two scans) through StateStore into a fresh SQLite
file, then, in the same run, builds the summary of every store one jurisdiction reaches (what the
first load of `/jurisdiction/US` after a scan does) two ways:

- baseline: the way it was before the `reach` facet, kept below as `summary_from_documents`: every
  reached store's JSON document read in keyset batches of 500 and its strongest ground picked;
- facet: `JurisdictionReach.summary`, which reads the `reach` facet rows (jurisdiction|basis|route)
  and the narrow index in SQL.

Both must give the same stores with the same basis and route; the figures are the wall time of
each (best of three) and the ratio baseline / facet. Times are from one run on a shared machine:
read the ratio, not the seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench import synthetic_db
from dashboard import keyset, reach
from dashboard.jurisdiction import JurisdictionReach, Reached, finding_states
from dashboard.queries import Queries
from state.schema import store_facets_table, store_index_table, stores_table
from state.store import StateStore


def summary_from_documents(queries: Queries, code: str) -> list[Reached]:
    """The baseline: every reached store's document read (keyset batches of 500), its lead ground picked."""
    s, f, st = store_index_table.c, store_facets_table.c, stores_table.c
    reached = select(f.store_id).where(f.facet == "jurisdiction", f.value == code)
    with queries.connect() as conn:
        findings = finding_states(conn, code)
    query = (
        select(s.id, s.name, s.kind, s.provider, s.account, s.region, s.status, s.gone_at, st.document)
        .join(stores_table, st.id == s.id)
        .where(s.id.in_(reached), s.gone_at.is_(None))
    )
    result = []
    for batch in keyset.batches(queries.connect, query, [(s.id, False)], 500):
        for row in batch:
            entry = reach.entry(row.document or {}, code)
            if entry is None:
                continue
            cols = reach.columns(entry)
            result.append(Reached(row.id, row.name, row.kind, row.provider, row.account, row.region, row.status,
                                  row.gone_at, cols["basis"], cols["route"], findings.get(row.id, "none")))
    return sorted(result, key=Reached.order)


def best_of(runs: int, build) -> tuple[float, list[Reached]]:
    times, result = [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = build()
        times.append(time.perf_counter() - started)
    return min(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic_db.add_arguments(parser)
    parser.add_argument("--code", default="US", help="the jurisdiction whose view is built")
    args = parser.parse_args(argv)
    location = synthetic_db.prepared(args)

    with StateStore(location) as state:
        queries = Queries(state)
        base_s, base = best_of(3, lambda: summary_from_documents(queries, args.code))
        # a new JurisdictionReach each time: its cache would otherwise answer the second run
        facet_s, facet = best_of(3, lambda: JurisdictionReach(queries).summary(args.code, include_gone=False))
    assert base == facet, "the facet and the documents disagree"
    print(f"jurisdiction {args.code}: {len(facet):,} reached stores (first load, best of 3)")
    print(f"  documents (baseline) {base_s:8.3f} s")
    print(f"  reach facet          {facet_s:8.3f} s")
    print(f"  ratio                {base_s / facet_s:8.1f}× documents / facet")
    print(f"\nreproduce: .venv/bin/python bench/dashboard_jurisdiction.py --stores {args.stores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
