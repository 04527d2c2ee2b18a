"""One measured run, in a process of its own so that its peak memory is its own.

    python -m bench.child custody --config CONFIG --manifest MANIFEST   # the real CLI code path (S3 only)
    python -m bench.child naive --workers 8 --manifest MANIFEST         # per-bucket boto3 baseline
    python -m bench.child exec --cwd DIR -- COMMAND ...                  # a peer tool, measured from outside

Each prints one JSON object on its last stdout line: wall time of the scan (interpreter start-up and imports
excluded for custody and naive, included for exec, as a user sees it), peak RSS, the API calls the client made
(custody and naive: counted by wrapping botocore's BaseClient._make_api_call, in this process only), and how
many stores came back right against the seeded manifest. The endpoint comes from AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def _count_api_calls() -> Counter[str]:
    """Count every API call (not HTTP retries) made by any botocore client in this process."""
    from botocore.client import BaseClient

    counts: Counter[str] = Counter()
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def counted(self: Any, operation_name: str, api_params: Any) -> Any:
        with lock:
            counts[f"{self.meta.service_model.service_name}:{operation_name}"] += 1
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = counted  # type: ignore[method-assign]
    return counts


def _rss_kb(who: int = resource.RUSAGE_SELF) -> int:
    return resource.getrusage(who).ru_maxrss  # kilobytes on Linux


def _load_manifest(path: str) -> dict[str, dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def check(found: dict[str, tuple[Any, Any, Any]], manifest: dict[str, Any]) -> dict[str, Any]:
    """found: name -> (region, replica regions, tags); None where the tool does not report (or could not read) that
    fact. Count the stores whose facts equal the seed; a fact no store reports at all is given as null."""
    right: dict[str, Any] = {"stores": len(found), "expected": len(manifest), "region": 0, "replicas": 0,
                             "tags": 0, "all": 0}
    for name, expected in manifest.items():
        if name not in found:
            continue
        region, replicas, tags = found[name]
        ok_region = region == expected["region"]
        ok_replicas = replicas == {r for r in expected["replica_regions"] if r != expected["region"]}
        ok_tags = tags == expected["tags"]
        right["region"] += ok_region
        right["replicas"] += ok_replicas
        right["tags"] += ok_tags
        right["all"] += ok_region and ok_replicas and ok_tags
    for index, fact in ((1, "replicas"), (2, "tags")):
        if found and all(value[index] is None for value in found.values()):
            right[fact] = right["all"] = None
    return right


def run_custody(config: str, manifest_path: str) -> dict[str, Any]:
    counts = _count_api_calls()
    from runtime.cli import prepare, scan_once  # imported before the clock starts, as in a long-running agent
    from runtime.scan import Judge

    judging = [0.0]
    judge = Judge.judge

    def timed_judge(self: Any, found: Any) -> Any:  # judging runs in the scan's main thread, one store at a time
        started = time.perf_counter()
        try:
            return judge(self, found)
        finally:
            judging[0] += time.perf_counter() - started

    Judge.judge = timed_judge  # type: ignore[method-assign]
    manifest = _load_manifest(manifest_path)
    rss_before = _rss_kb()
    started = time.perf_counter()
    setup = prepare(config, [])
    prepared = time.perf_counter() - started
    scan, stores = scan_once(setup, state=None)
    wall = time.perf_counter() - started
    found = {}
    for store in stores:
        primary = next((loc.region for loc in store.locations if loc.role == "primary"), None)
        replicas = {loc.region for loc in store.locations if loc.role == "replica"}
        tags_known = not any(u.startswith("tags unreadable") for u in store.unknowns)
        found[store.name] = (primary, replicas, dict(store.tags) if tags_known else None)
    return {"wall_s": wall, "prepare_s": prepared, "judge_s": judging[0], "rss_peak_kb": _rss_kb(),
            "rss_before_scan_kb": rss_before, "client_calls": dict(counts), "scan_status": scan.status,
            "check": check(found, manifest),
            "statuses": dict(Counter(store.status for store in stores))}


def run_naive(workers: int, manifest_path: str) -> dict[str, Any]:
    """ListBuckets, then GetBucketLocation, GetBucketTagging and GetBucketReplication for every bucket, with
    `workers` threads: what a scanner does without BucketRegion or the tagging API."""
    counts = _count_api_calls()
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    manifest = _load_manifest(manifest_path)
    config = Config(max_pool_connections=workers * 2, retries={"mode": "standard", "max_attempts": 4})
    session = boto3.Session()
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def client(region: str) -> Any:
        with lock:
            if region not in clients:
                clients[region] = session.client("s3", region_name=region, config=config)
            return clients[region]

    def bucket(name: str) -> tuple[str, tuple[str, set[str], dict[str, str]]]:
        constraint = client("us-east-1").get_bucket_location(Bucket=name).get("LocationConstraint")
        region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(constraint, constraint)
        s3 = client(region)
        try:
            tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}
        except ClientError:
            tags = {}
        try:
            rules = s3.get_bucket_replication(Bucket=name)["ReplicationConfiguration"]["Rules"]
            targets = [rule["Destination"]["Bucket"].split(":::")[-1] for rule in rules]
        except ClientError:
            targets = []
        return name, (region, set(targets), tags)

    rss_before = _rss_kb()
    started = time.perf_counter()
    names = [b["Name"] for b in client("us-east-1").list_buckets()["Buckets"]]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        raw = dict(pool.map(bucket, names))
    wall = time.perf_counter() - started
    found = {name: (region, {raw[t][0] for t in targets if t in raw} - {region}, tags)
             for name, (region, targets, tags) in raw.items()}
    return {"wall_s": wall, "rss_peak_kb": _rss_kb(), "rss_before_scan_kb": rss_before,
            "client_calls": dict(counts), "check": check(found, manifest)}


def run_exec(command: Sequence[str], cwd: str | None, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout)
        returncode, tail = done.returncode, (done.stdout[-1500:] + done.stderr[-1500:])
    except subprocess.TimeoutExpired:
        returncode, tail = None, f"timed out after {timeout:.0f} s"
    return {"wall_s": time.perf_counter() - started, "rss_peak_kb": _rss_kb(resource.RUSAGE_CHILDREN),
            "returncode": returncode, "output_tail": tail}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("mode", choices=("custody", "naive", "exec"))
    parser.add_argument("--config")
    parser.add_argument("--manifest")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--cwd")
    parser.add_argument("--timeout", type=float, default=1800)
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.command = argv[split + 1:]
    if args.mode == "custody":
        result = run_custody(args.config, args.manifest)
    elif args.mode == "naive":
        result = run_naive(args.workers, args.manifest)
    else:
        result = run_exec(args.command, args.cwd, args.timeout)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
