"""Peak memory of one scan as the estate grows: scanner, state store and report, without a cloud.

    .venv/bin/python -m bench.memory                                    # 1,000, 10,000 and 100,000 stores
    .venv/bin/python -m bench.memory --stores 10000 --format csv --json /tmp/memory.json

A synthetic provider yields N generated S3 buckets (several regions, a third with a replica, tags on all),
so the numbers are those of the scanner's own pipeline, not of a cloud SDK or an emulator. Each size runs
in a fresh child process (`--child N`) on the real code path: run_scan into a new SQLite state store, a
second scan of the same estate (the rescan: every store compared and updated), and after each scan the
report written to a file as `agent.py scan --output` writes it. The child reports its peak resident set
(ru_maxrss, which covers both scans), the same before the first scan, and the wall seconds of each scan
with its report.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from providers.base import Provider, TargetLog
from scanner.discovered import DiscoveredStore

ACCOUNT = "111111111111"
REGIONS = ("eu-central-1", "eu-west-1", "eu-north-1", "us-east-1", "us-west-2", "ap-northeast-1", "sa-east-1")
ROOT = Path(__file__).resolve().parents[1]


class SyntheticProvider(Provider):
    """`stores` S3 buckets of one account, generated on the fly (never held in a list)."""

    name = "aws"

    def __init__(self, stores: int) -> None:
        self.stores = stores

    @classmethod
    def from_config(cls, section: Any) -> Provider:
        raise NotImplementedError("built by bench.memory, never from a config")

    def units(self, log: TargetLog) -> list[str]:
        return [ACCOUNT]

    def discover_unit(self, unit: str, log: TargetLog) -> Iterable[DiscoveredStore]:
        yield from _buckets(unit, self.stores)
        log.ok(self.name, unit, "global", "s3", self.stores)


def _buckets(account: str, count: int) -> Iterator[DiscoveredStore]:
    for number in range(count):
        region = REGIONS[number % len(REGIONS)]
        name = f"bench-{number:07d}-{region}"
        store = DiscoveredStore(
            id=f"arn:aws:s3:::{name}", provider="aws", account=account, kind="s3-bucket", name=name, region=region,
            tags={"data-class": "personal" if number % 2 else "internal", "team": f"team-{number % 40}"},
        )
        store.add_location(region, "primary", "ListBuckets.BucketRegion")
        if number % 3 == 0:
            store.add_location(REGIONS[(number + 1) % len(REGIONS)], "replica", "GetBucketReplication")
        yield store


def _write_report(fmt: str, scan: Any, stores: Any, path: Path) -> None:
    """As `agent.py scan --output` does; the code before streaming reports had only report.render."""
    from scanner import report

    if hasattr(report, "write"):
        with open(path, "w", encoding="utf-8", newline="") as out:
            report.write(fmt, scan, stores, out)
    else:
        path.write_text(report.render(fmt, scan, stores), encoding="utf-8")


def child(stores: int, fmt: str, scans: int) -> dict[str, Any]:
    """Run `scans` scans of `stores` synthetic stores into a new SQLite file; return peak RSS and timings."""
    import scanner
    from policies.catalog_loader import load_catalog
    from policies.policy_loader import load_policies
    from runtime.scan import Judge, run_scan
    from scanner.catalog import EntityRecord
    from scanner.config import Account, Config
    from state.store import StateStore

    catalog = load_catalog()
    config = Config(companies={"owner": EntityRecord("owner", "Owner SE", "DE", (), "bench")},
                    accounts={ACCOUNT: Account(ACCOUNT, "owner", None)})
    policies, waivers = load_policies([], catalog, ["EU"])
    judge = Judge(catalog, config, policies, waivers)
    walls, statuses = [], []
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as workdir, StateStore(f"{workdir}/custody.db") as state:
        rss_before = _rss_kb()  # imports, catalog, policies, an open (migrated) state store
        for number in range(scans):
            started = time.perf_counter()
            scan, found = run_scan([SyntheticProvider(stores)], judge, state)
            _write_report(fmt, scan, found, Path(workdir) / f"report-{number}.{fmt}")
            walls.append(round(time.perf_counter() - started, 2))
            statuses.append(f"{scan.status}: {scan.counts['stores']} stores")
            del scan, found
    return {"stores": stores, "format": fmt, "rss_peak_kb": _rss_kb(), "rss_before_scan_kb": rss_before,
            "wall_s": walls, "scans": statuses, "code": str(Path(scanner.__file__).parent)}


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def measure(stores: int, fmt: str, scans: int) -> dict[str, Any]:
    """One child process for one size: its peak memory is its own."""
    command = [sys.executable, "-m", "bench.memory", "--child", str(stores), "--format", fmt, "--scans", str(scans)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench.memory: the child for {stores} stores failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--stores", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    parser.add_argument("--scans", type=int, default=2, help="scans of the same estate (the first inserts)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        sys.stdout.write(json.dumps(child(args.child, args.format, args.scans)) + "\n")
        return
    results = []
    print(f"{'stores':>8}  {'peak RSS MB':>11}  {'before scan MB':>14}  wall s (each scan + its report)")
    for stores in args.stores:
        result = measure(stores, args.format, args.scans)
        results.append(result)
        print(f"{stores:>8}  {result['rss_peak_kb'] / 1024:>11.0f}  {result['rss_before_scan_kb'] / 1024:>14.0f}  "
              f"{' + '.join(str(wall) for wall in result['wall_s'])}", flush=True)
    print(f"code: {results[0]['code'] if results else ROOT}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
