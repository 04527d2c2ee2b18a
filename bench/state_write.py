"""State-store bulk writes: one scan of N stores written to SQLite and to PostgreSQL, against a plain baseline.

    .venv/bin/python -m bench.state_write                      # 100,000 stores, both backends
    .venv/bin/python -m bench.state_write --stores 20000 --backends postgresql --json /tmp/state.json

The stores are dashboard.synthetic's deterministic estate (documents of a real size, about one finding per
store). For each backend, on a fresh database each time:

- `baseline`: the same `stores` and `findings` rows (documents serialised the same way) inserted with one plain
  executemany per table in one transaction, and nothing else: no reads, no derived tables, no events;
- `first scan`: StateStore.start_scan + finish_scan of a scan that sees every store for the first time
  (inserts, store_facets, store_index, events);
- `rescan`: the next complete scan seeing the same stores again (updates of every row, facets rewritten).

Times are wall seconds in this process, and ratios against the baseline of the same backend in the same run.
PostgreSQL is a server of its own started for the run on 127.0.0.1 (tests/fixtures_postgres.PostgresServer)
with PostgreSQL's default durability (fsync on); SQLite is a file in a temporary directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert

from dashboard.synthetic import make_stores
from scanner.model import DataStore, ScanResult, TargetResult
from state.documents import document
from state.engine import database_url
from state.schema import findings_table, metadata, stores_table
from state.store import StateStore
from tests.fixtures_postgres import PostgresServer, find_bindir


def _scan(number: int, stores: list[DataStore]) -> ScanResult:
    accounts = sorted({(store.provider, store.account) for store in stores})
    started = f"2026-05-{number:02d}T00:00:00+00:00"
    return ScanResult(
        id=f"bench-{number}",
        started_at=started,
        finished_at=f"2026-05-{number:02d}T00:10:00+00:00",
        status="complete",
        home=["EU"],
        targets=[TargetResult(provider, account, "global", "all", "ok") for provider, account in accounts],
        counts={"stores": len(stores)},
    )


def baseline(location: str, stores: list[DataStore]) -> float:
    """Plain executemany of the stores and findings rows: the floor any write path of these rows pays."""
    engine = create_engine(database_url(location))
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=[stores_table, findings_table])
        at, scan_id = "2026-05-01T00:00:00+00:00", "bench-baseline"
        started = time.perf_counter()
        store_rows, finding_rows = [], []
        for store in stores:
            store_rows.append({
                "id": store.id, "provider": store.provider, "account": store.account, "kind": store.kind,
                "name": store.name, "region": store.region, "status": store.status, "document": document(store),
                "jurisdictions": sorted({reach.jurisdiction for reach in store.reachable_by}),
                "locations": [[loc.region, loc.role] for loc in store.locations],
                "first_seen": at, "first_scan_id": scan_id, "last_seen": at, "last_scan_id": scan_id,
            })  # fmt: skip
            finding_rows += [
                {"fingerprint": f.fingerprint, "store_id": store.id, "policy": f.policy, "jurisdiction": f.jurisdiction,
                 "basis": f.basis, "severity": f.severity, "message": f.message, "waived": f.waiver is not None,
                 "waiver": f.waiver, "first_seen": at, "first_scan_id": scan_id, "last_seen": at,
                 "last_scan_id": scan_id}
                for f in store.findings
            ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(insert(stores_table), store_rows)
            if finding_rows:
                conn.execute(insert(findings_table), finding_rows)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def custody(location: str, stores: list[DataStore]) -> dict[str, float]:
    with StateStore(location) as state:
        times = {}
        for number, name in ((1, "first_scan"), (2, "rescan")):
            scan = _scan(number, stores)
            started = time.perf_counter()
            state.start_scan(scan)
            changes = state.finish_scan(scan, stores)
            times[name] = time.perf_counter() - started
            expected_new = len(stores) if number == 1 else 0
            assert len(changes.new_stores) == expected_new, (name, len(changes.new_stores))
        return times


def _database_bytes(location: str) -> int:
    if "://" not in location:
        return Path(location).stat().st_size
    engine = create_engine(database_url(location))
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())
    finally:
        engine.dispose()


def run_backend(backend: str, stores: list[DataStore], workdir: Path, server: PostgresServer | None) -> dict[str, Any]:
    def fresh(tag: str) -> str:
        if backend == "sqlite":
            return str(workdir / f"{tag}.db")
        assert server is not None
        return server.create_database(f"bench_{tag}")

    base = baseline(fresh("baseline"), stores)
    location = fresh("custody")
    times = custody(location, stores)
    size = _database_bytes(location)
    return {
        "backend": backend,
        "database_mb_after_rescan": round(size / 2**20, 1),
        "baseline_s": round(base, 3),
        **{f"{name}_s": round(value, 3) for name, value in times.items()},
        **{f"{name}_ratio": round(value / base, 2) for name, value in times.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    backends = [item.strip() for item in args.backends.split(",") if item.strip()]

    started = time.perf_counter()
    stores = list(make_stores(args.stores))
    findings = sum(len(store.findings) for store in stores)
    print(f"{len(stores)} stores, {findings} findings generated in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        server = None
        try:
            if "postgresql" in backends:
                bindir = find_bindir()
                if bindir is None:
                    raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql, or CUSTODY_PG_BIN)")
                server = PostgresServer(bindir).start()  # default durability: fsync on
            for backend in backends:
                results.append(run_backend(backend, stores, Path(tmp), server))
                print(json.dumps(results[-1]), file=sys.stderr)
        finally:
            if server is not None:
                server.stop()

    report = {
        "benchmark": "state_write",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "stores": len(stores),
        "findings": findings,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(f"\n{'backend':<12}{'baseline s':>12}{'first scan s':>14}{'ratio':>7}{'rescan s':>10}{'ratio':>7}")
    for row in results:
        print(f"{row['backend']:<12}{row['baseline_s']:>12.2f}{row['first_scan_s']:>14.2f}"
              f"{row['first_scan_ratio']:>7.2f}{row['rescan_s']:>10.2f}{row['rescan_ratio']:>7.2f}")  # fmt: skip
    sizes = ", ".join(f"{row['backend']} {row['database_mb_after_rescan']} MB" for row in results)
    print(f"database size after the rescan: {sizes}; peak RSS of this process {report['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
