"""Benchmark (not a test): the dashboard's inventory API at 100,000 stores.

    .venv/bin/python bench/dashboard_inventory.py [--stores 100000] [--repeat 7] [--db PATH]

Writes a synthetic estate (dashboard.synthetic, two scans) through StateStore into a fresh
SQLite file, serves the dashboard with uvicorn on 127.0.0.1, signs in, then times GET
/api/stores for filtered, sorted, searched and paginated queries over HTTP. Each query runs
once to warm up and then `--repeat` times; the median is reported in milliseconds and as a
ratio to the baseline measured in the same run (the unfiltered first page, sorted by name).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.synthetic import write_estate
from state.store import StateStore

PASSWORD = "benchmark-password-1"
QUERIES: list[tuple[str, dict]] = [
    ("baseline: first page, no filter, by name", {}),
    ("status=fail", {"status": "fail"}),
    ("provider=aws & account", {"provider": "aws", "account": "111111111111"}),
    ("country=DE (any copy)", {"country": "DE"}),
    ("jurisdiction=US (reach)", {"jurisdiction": "US"}),
    ("jurisdiction=CN (rare)", {"jurisdiction": "CN"}),
    ("tag=data-class=personal", {"tag": "data-class=personal"}),
    ("policy=eu-personal-data", {"policy": "eu-personal-data"}),
    ("replica=US", {"replica": "US"}),
    ("jurisdiction=US & status=fail & country=DE", {"jurisdiction": "US", "status": "fail", "country": "DE"}),
    ("search q=000123", {"q": "000123"}),
    ("sort last_seen desc", {"sort": "last_seen", "order": "desc"}),
    ("sort status, jurisdiction=GB", {"sort": "status", "jurisdiction": "GB"}),
    ("page 1000 (offset 49,950)", {"page": 1000}),
    ("include_gone", {"include_gone": "true"}),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--db", help="SQLite file to write (default: a temporary file)")
    parser.add_argument("--reuse", action="store_true", help="query the existing --db instead of writing it anew")
    args = parser.parse_args(argv)
    command = f".venv/bin/python bench/dashboard_inventory.py --stores {args.stores} --repeat {args.repeat}"

    folder = tempfile.mkdtemp(prefix="custody-bench-")
    location = args.db or str(Path(folder) / "custody.db")
    if not (args.reuse and args.db and Path(location).exists()):
        Path(location).unlink(missing_ok=True)
        started = time.perf_counter()
        with StateStore(location) as state:
            estate = write_estate(state, args.stores)
        written = time.perf_counter() - started
        print(f"wrote {args.stores:,} stores in two scans through StateStore in {written:.1f} s "
              f"({len(estate.stores):,} present, {len(estate.gone):,} gone); "
              f"{Path(location).stat().st_size / 1e6:.0f} MB")
    else:
        print(f"reusing {location} ({Path(location).stat().st_size / 1e6:.0f} MB)")

    from dashboard.app import create_app
    from scanner.config import Config
    from tests.test_dashboard import Client, Served  # the same real-server harness the tests use

    os.environ["CUSTODY_DASHBOARD_PASSWORD"] = PASSWORD
    started = time.perf_counter()
    app = create_app(Config(path=None, state=location), location)
    print(f"dashboard opened the state in {time.perf_counter() - started:.2f} s")
    served = Served(app)
    try:
        client = Client(served.port)
        assert client.sign_in(PASSWORD).status == 303
        rows = []
        baseline = None
        for label, query in QUERIES:
            path = "/api/stores?" + urlencode({**query, "per_page": 50})
            reply = client.get(path)
            assert reply.status == 200, reply.text
            total = reply.json()["total"]
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                reply = client.get(path)
                times.append(time.perf_counter() - start)
                assert reply.status == 200
            median = statistics.median(times) * 1000
            baseline = baseline or median
            rows.append((label, total, median, min(times) * 1000, median / baseline))
        for label, query in (("export CSV jurisdiction=CN", {"jurisdiction": "CN"}),
                             ("export CSV status=fail & country=DE", {"status": "fail", "country": "DE"})):
            path = "/export/stores.csv?" + urlencode(query)
            start = time.perf_counter()
            reply = client.get(path)
            elapsed = (time.perf_counter() - start) * 1000
            lines = reply.text.count("\n") - 1
            rows.append((label, lines, elapsed, elapsed, elapsed / baseline))
        overview = []
        for path in ("/api/overview", "/api/map", "/api/filters"):
            start = time.perf_counter()
            client.get(path)
            cold = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            client.get(path)
            warm = (time.perf_counter() - start) * 1000
            overview.append((path, cold, warm))
    finally:
        served.stop()

    print(f"\nGET /api/stores (per_page=50) over HTTP at {args.stores:,} stores; median of {args.repeat} "
          "after one warm-up\n")
    print(f"{'query':48} {'matches':>8} {'median ms':>10} {'min ms':>8} {'× baseline':>11}")
    for label, total, median, fastest, ratio in rows:
        print(f"{label:48} {total:>8,} {median:>10.1f} {fastest:>8.1f} {ratio:>11.2f}")
    print("\naggregates (cached per state version: first call after a scan, then cached)")
    for path, cold, warm in overview:
        print(f"{path:48} {'':>8} {cold:>10.1f} {warm:>8.1f}  (first, cached)")
    print(f"\nreproduce: {command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
