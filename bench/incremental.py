"""Incremental rescans: a first scan against rescans of the same process, on moto without AWS Config.

    .venv/bin/python -m bench.incremental --buckets 2000 --json bench/results/incremental-latest.json

Seeds N buckets over bench.run's 20 regions (a tenth replicating, half tagged) on moto with bench.run's capable
patches and no Config recorder, so each bucket's replication is read per bucket (GetBucketReplication). Then, in this
process, through the real CLI code path (runtime.cli.prepare + scan_once, as the agent runs each scheduled scan):

1. `cold`: replication_max_age_minutes 360, nothing kept yet (every bucket read);
2. `warm`: the same setting again (unchanged buckets reuse the kept answers);
3. `zero`: replication_max_age_minutes 0, the default (every bucket read), as the same-run baseline.

API calls are counted at the server (its access log, cleared before each scan); wall time is around scan_once. Every
scan's (region, role) locations per bucket are checked against the seed. The 2 cores are shared: compare the ratios
of one run, not times across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bench.run import CAPABLE_PATCHES, REGIONS, custody_config, operation
from demo.aws_estate import SeededStore, seed_buckets
from demo.moto_server import MotoServer, start_moto
from providers.aws import REPLICATION_CACHED
from runtime.cli import prepare, scan_once

MAX_AGE = 360


def scan(server: MotoServer, config: Path, max_age: int, seeded: list[SeededStore]) -> dict[str, Any]:
    document = yaml.safe_load(config.read_text())
    document["providers"]["aws"]["replication_max_age_minutes"] = max_age
    path = config.with_name(f"custody-{max_age}.yaml")
    path.write_text(yaml.safe_dump(document))
    server.clear_log()
    started = time.perf_counter()
    result, stores = scan_once(prepare(str(path), []), state=None)
    wall = time.perf_counter() - started
    calls = server.request_log()
    found = {s.name: {(loc.region, loc.role) for loc in s.locations} for s in stores}
    expected = {s.name: {(s.region, "primary"), *((r, "replica") for r in s.replica_regions)} for s in seeded}
    cached = sum(1 for s in stores for loc in s.locations if loc.learned_from == REPLICATION_CACHED)
    return {"max_age_minutes": max_age, "status": result.status, "wall_s": round(wall, 3), "calls": len(calls),
            "calls_per_bucket": round(len(calls) / len(seeded), 3), "correct": found == expected,
            "cached_replica_locations": cached,
            "calls_by_operation": dict(Counter(operation(m, p) for m, p, _ in calls).most_common())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp, start_moto(CAPABLE_PATCHES) as server:
        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": server.url,
                           "AWS_CONFIG_FILE": str(Path(tmp) / "none"), "AWS_EC2_METADATA_DISABLED": "true",
                           "AWS_SHARED_CREDENTIALS_FILE": str(Path(tmp) / "none")})
        print(f"seeding {args.buckets} buckets ...", file=sys.stderr, flush=True)
        seeded = seed_buckets(server.url, args.buckets, REGIONS, replicate_fraction=0.1, tag_fraction=0.5)
        config = custody_config(Path(tmp), args.workers)
        runs = {name: scan(server, config, age, seeded) for name, age in (("cold", MAX_AGE), ("warm", MAX_AGE),
                                                                           ("zero", 0))}
    cold, warm, zero = runs["cold"], runs["warm"], runs["zero"]
    summary = {"buckets": args.buckets, "regions": len(REGIONS), "runs": runs,
               "calls_ratio_warm_vs_cold": round(warm["calls"] / cold["calls"], 3),
               "wall_ratio_warm_vs_cold": round(warm["wall_s"] / cold["wall_s"], 3),
               "wall_ratio_warm_vs_zero": round(warm["wall_s"] / zero["wall_s"], 3)}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(run["correct"] and run["status"] == "complete" for run in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
