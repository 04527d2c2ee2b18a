"""Benchmark (not a test): the dashboard's exports and evidence report at size, OFFSET against keyset.

    .venv/bin/python bench/dashboard_exports.py [--stores 20000] [--db PATH --reuse]

Writes a synthetic estate (dashboard.synthetic, two scans) through StateStore into a fresh
SQLite file, then, in the same run:

- findings CSV and OCSF of every finding (`state=all`): the baseline reads them in OFFSET
  batches of 500 (the code the dashboard had before, kept below as `offset_finding_rows`), the
  dashboard in keyset batches (`Queries.finding_rows`). Both feed the same export writers; the
  figures are the wall time to produce every byte, the time of the first and of the last batch
  (an OFFSET batch costs more the further it starts), and the ratio baseline / keyset.
- the evidence report of the latest scan, streamed over HTTP by uvicorn (the tests' harness):
  time to the first byte and to the last.
- the jurisdiction view of US over HTTP: the first call after a scan (builds its summary) and a
  cached one.

Times are from one run on a shared machine: read the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bench import synthetic_db
from dashboard import exports
from dashboard.queries import (
    FindingQuery,
    Queries,
    _finding_conditions,
    _finding_order,
    age_days,
    finding_state,
    findings_table,
    keyset,
    s,
    store_index_table,
    stores_table,
)
from state.store import StateStore

PASSWORD = "benchmark-password-1"


def offset_finding_rows(queries: Queries, query: FindingQuery, batch: int = 500,
                        marks: list[float] | None = None) -> Iterator[dict]:
    """The baseline: the findings export as it was, OFFSET batches of full rows with their documents."""
    fc = findings_table.c
    offset = 0
    while True:
        with queries.connect() as conn:
            last = queries.latest_scan(conn)
            last_id = last["id"] if last else None
            rows = conn.execute(
                select(findings_table, s.provider, s.account, s.kind, s.region, s.name.label("store_name"),
                       s.gone_at.label("store_gone_at"), stores_table.c.document)
                .join(store_index_table, s.id == fc.store_id)
                .join(stores_table, stores_table.c.id == fc.store_id)
                .where(*_finding_conditions(query, last_id))
                .order_by(*keyset.sorted_by(_finding_order(query.sort)))
                .limit(batch)
                .offset(offset)
            ).mappings().all()
        if marks is not None:
            marks.append(time.perf_counter())
        now = datetime.now(UTC)
        for item in rows:
            row = dict(item)
            row["state"] = finding_state(row, last_id)
            row["age_days"] = age_days(row["first_seen"], row["resolved_at"], now)
            yield row
        if len(rows) < batch:
            return
        offset += batch


def keyset_finding_rows(queries: Queries, query: FindingQuery, marks: list[float]) -> Iterator[dict]:
    """Queries.finding_rows, noting when each batch of 1,000 has arrived."""
    for index, row in enumerate(queries.finding_rows(query)):
        if index % 1000 == 0:
            marks.append(time.perf_counter())
        yield row


def timed(make_rows, render) -> tuple[float, int, float, float]:
    """(seconds, bytes, first batch seconds, last batch seconds) to produce a whole export."""
    marks: list[float] = []
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in render(make_rows(marks)))
    total = time.perf_counter() - started
    points = [started, *marks]
    steps = [b - a for a, b in pairwise(points)] or [total]
    return total, size, steps[0], steps[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    synthetic_db.add_arguments(parser)
    args = parser.parse_args(argv)
    location = synthetic_db.prepared(args)

    state = StateStore(location)
    queries = Queries(state)
    query = FindingQuery(state="all")
    with state.reading() as conn:
        findings = conn.scalar(select(func.count()).select_from(findings_table))
    print(f"{findings:,} findings (state=all)\n")
    results = []
    for label, render in (("findings CSV", exports.findings_csv),
                          ("findings OCSF", lambda rows: exports.json_array(exports.ocsf_event(r) for r in rows))):
        base = timed(lambda marks: offset_finding_rows(queries, query, marks=marks), render)
        keyed = timed(lambda marks: keyset_finding_rows(queries, query, marks), render)
        assert base[1] == keyed[1] or label == "findings OCSF", (label, base[1], keyed[1])  # same bytes
        results.append((label, base, keyed))
    print(f"{'export':16} {'way':8} {'seconds':>8} {'MB':>6} {'first batch s':>14} {'last batch s':>13}")
    for label, base, keyed in results:
        for way, (total, size, first, last) in (("OFFSET", base), ("keyset", keyed)):
            print(f"{label:16} {way:8} {total:8.2f} {size / 1e6:6.1f} {first:14.3f} {last:13.3f}")
        print(f"{'':16} {'ratio':8} {base[0] / keyed[0]:7.1f}× OFFSET/keyset over the whole export\n")
    state.close()

    from dashboard.app import create_app
    from scanner.config import Config
    from tests.test_dashboard import Client, Served  # the same real-server harness the tests use

    os.environ["CUSTODY_DASHBOARD_PASSWORD"] = PASSWORD
    served = Served(create_app(Config(path=None, state=location), location))
    try:
        client = Client(served.port)
        assert client.sign_in(PASSWORD).status == 303
        scan_id = client.get("/api/scans?limit=1").json()["items"][0]["id"]
        started = time.perf_counter()
        reply = client.get(f"/scans/{scan_id}/report")
        report_s = time.perf_counter() - started
        assert reply.status == 200
        stores = reply.text.count('<article class="store">')
        print(f"evidence report of {scan_id}: {stores:,} stores, {len(reply.body) / 1e6:.1f} MB in {report_s:.2f} s "
              f"({report_s / max(stores, 1) * 1000:.2f} ms a store)")
        for name in ("first (builds the summary)", "cached"):
            started = time.perf_counter()
            body = client.get("/api/jurisdiction/US").json()
            print(f"/api/jurisdiction/US {name}: {body['stores']:,} stores in {time.perf_counter() - started:.2f} s")
    finally:
        served.stop()
    print(f"\nreproduce: .venv/bin/python bench/dashboard_exports.py --stores {args.stores}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
