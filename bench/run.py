"""S3 inventory benchmark on moto: Custody against a naive per-bucket scanner and the peers, same server, same run.

    .venv/bin/python -m bench.run --sizes 1000,5000
    .venv/bin/python -m bench.run --sizes 1000 --peers none --endpoints capable

For each endpoint and each size N, it seeds N buckets across 20 regions (a tenth replicating to the next bucket, in
another region; half tagged `data-class: personal`; demo.aws_estate.seed_buckets), then runs, each in a process of its
own (bench/child.py), the tools below. The endpoints (`ENDPOINTS`):

- `capable`: moto with the `bucket_region`, `s3_tagging_regions`, `s3_config_replication` and `s3_default_encryption`
  patches (ListBuckets with BucketRegion, GetResources per bucket region, Config's S3 items with replication and
  default encryption, as AWS answers), and an AWS Config recorder recording in every region: replication and
  default encryption come in bulk from Config;
- `no-config`: the same server with no Config recorder: replication and default encryption are read per bucket
  (GetBucketReplication, GetBucketEncryption);
- `stock`: moto 5.2.5 as installed, no recorder: GetBucketLocation per bucket, every tag listing in every region.

Tools:

- `custody`: a full scan through the real CLI code path (runtime.cli.prepare + scan_once), config limited to S3;
- `naive` (capable endpoint only; it makes the same calls on both): ListBuckets, then GetBucketLocation,
  GetBucketTagging and GetBucketReplication per bucket with boto3, at the same concurrency as Custody;
- `c7n`, `prowler` (capable endpoint, sizes up to --peers-max-size): the peers from their own venvs, if installed
  (bench/peers.py says how).

Custody runs before and after each other tool (the 2 cores are shared, and their load drifts), and each tool keeps
its fastest run. API calls are counted at the server (moto's access log, cleared before each run). Wall time is
measured inside the child for custody and naive (imports excluded) and around the process for the peers (start-up
included, as a user sees it). Peak memory is the child's peak RSS. Every run's answers are checked against the
seed. Results go to bench/results/s3-<time>.json (and latest.json) and a table on stdout. Speed is given as ratios
against the naive baseline and the peers measured in the same run; the peers' figures measured earlier on this
kind of machine (PUBLISHED below) are quoted beside them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from bench.child import check
from bench.peers import Peer, peers
from demo.aws_estate import seed_buckets
from demo.moto_server import MotoServer, start_moto

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2", "ap-south-1", "ap-east-1", "af-south-1", "me-south-1",
)


@dataclass(frozen=True)
class Endpoint:
    patches: tuple[str, ...]  # demo/moto_patches.py
    record_config: bool  # an AWS Config recorder recording in every region (seed_buckets(record_config=True))


CAPABLE_PATCHES = ("bucket_region", "s3_tagging_regions", "s3_config_replication", "s3_default_encryption")
ENDPOINTS = {"capable": Endpoint(CAPABLE_PATCHES, True), "no-config": Endpoint(CAPABLE_PATCHES, False),
             "stock": Endpoint((), False)}
ACCOUNT = "123456789012"  # moto's account for the testing credentials
# the peers measured earlier on this kind of machine (moto 5.2.5, 20 regions, 2 cores), quoted for comparison
PUBLISHED = {
    "c7n": {"calls_per_bucket": 10, "wall_s": {1000: 24.2, 5000: 123.0}, "calls": {1000: 10002, 5000: 50002},
            "note": "Cloud Custodian 0.9.53, default aws.s3 policy; 1000: 25.0 / 23.4 s"},
    "prowler": {"calls_per_bucket": 13, "wall_s": {1000: 44.4, 5000: 171.3}, "calls": {1000: 12404, 5000: 62004},
                "note": "Prowler 5.46.0, one S3 check; 1000: 45.4 / 43.4 s"},
}
S3_OPERATIONS = {"location": "GetBucketLocation", "tagging": "GetBucketTagging", "replication": "GetBucketReplication",
                 "versioning": "GetBucketVersioning", "policy": "GetBucketPolicy", "acl": "GetBucketAcl",
                 "website": "GetBucketWebsite", "logging": "GetBucketLogging", "encryption": "GetBucketEncryption",
                 "notification": "GetBucketNotificationConfiguration", "lifecycle": "GetBucketLifecycleConfiguration",
                 "publicAccessBlock": "GetPublicAccessBlock", "ownershipControls": "GetBucketOwnershipControls",
                 "object-lock": "GetObjectLockConfiguration", "max-buckets": "ListBuckets"}


def operation(method: str, path: str) -> str:
    """Name a request from moto's access log. JSON and query protocols (STS, tagging, ...) all POST to `/`."""
    parts = urlsplit(path)
    if method == "POST" and parts.path == "/":
        return "POST / (STS, tagging, Config: JSON and query APIs)"
    sub = parts.query.split("&")[0].split("=")[0]
    if parts.path == "/" and method == "GET":
        return "ListBuckets" + (f" ?{sub}" if sub and sub != "max-buckets" else "")
    return S3_OPERATIONS.get(sub, f"{method} {'?' + sub if sub else '/bucket'}") if method == "GET" else \
        f"{method} {'?' + sub if sub else '/bucket'}"


def manifest_of(stores) -> dict[str, Any]:
    return {s.name: {"region": s.region, "replica_regions": list(s.replica_regions), "tags": s.tags} for s in stores}


def custody_config(workdir: Path, workers: int) -> Path:
    config = {
        "home": "EU",
        "policies": [str(ROOT / "demo" / "policy.yaml")],
        "companies": [{"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
                      {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"}],
        "accounts": {ACCOUNT: {"owner": "acme-europe"}},
        "providers": {"aws": {"services": ["s3"], "max_workers": workers, "max_workers_per_api": workers}},
    }
    path = workdir / "custody.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def aws_env(endpoint: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": endpoint, "AWS_CONFIG_FILE": str(workdir / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "none"), "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONPATH": str(ROOT)})
    return env


def child(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "bench.child", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"bench.child {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def attempt(server: MotoServer, name: str, n: int, run) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """One run, with the requests the server logged for it."""
    server.clear_log()
    load = os.getloadavg()[0]
    print(f"  {name:<8} N={n:<6} ...", end="", flush=True)
    result = run()
    log = server.request_log()
    result["load_avg_1m_before"] = load
    print(f" {result['wall_s']:7.2f} s  ({len(log) / result['wall_s']:.0f} calls/s, load {load:.1f})", flush=True)
    return result, log


def summarise(name: str, n: int, attempts: list[tuple[dict[str, Any], list]]) -> dict[str, Any]:
    """The fastest of a tool's runs (each run only reads, so they see the same estate)."""
    result, log = min(attempts, key=lambda item: item[0]["wall_s"])
    result["wall_s_all"] = [item[0]["wall_s"] for item in attempts]
    calls = len(log)
    result.update({
        "tool": name, "n": n, "server_calls": calls, "calls_per_bucket": calls / n,
        "server_calls_by_operation": dict(Counter(operation(m, p) for m, p, _ in log).most_common()),
        "server_errors": sum(1 for _, _, status in log if not status.startswith("2")),
        "stores_per_s": n / result["wall_s"] if result["wall_s"] else None,
        "calls_per_s": calls / result["wall_s"] if result["wall_s"] else None,
        "rss_peak_mb": round(result["rss_peak_kb"] / 1024, 1),
    })
    correct = result.get("check", {}).get("all")
    print(f"  {name:<8} N={n:<6} best {result['wall_s']:7.2f} s  {calls:>7} calls  ({calls / n:.3f}/bucket)  "
          f"{result['rss_peak_mb']:.0f} MB  correct: {correct if correct is not None else '-'}", flush=True)
    return result


def peer_run(peer: Peer, server: MotoServer, manifest: dict[str, Any], timeout: float):
    def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix=f"bench-{peer.name}-") as tmp:
            workdir = Path(tmp)
            result = child(["exec", "--timeout", str(timeout), "--", *peer.command(workdir)],
                           peer.env(server.url, workdir), timeout + 60)
            result["check"] = check(peer.found(workdir, manifest), manifest)
            return result

    return run


def bench_size(server: MotoServer, endpoint: str, n: int, args: argparse.Namespace, workdir: Path,
               tools: list[Peer]) -> list[dict[str, Any]]:
    """Seed N buckets, then run Custody between every other tool's runs (the machine's load drifts; each tool
    keeps its fastest run, and Custody gets a run next to each of the others)."""
    server.reset()
    started = time.perf_counter()
    seeded = seed_buckets(server.url, n, REGIONS, replicate_fraction=0.1, tag_fraction=0.5, workers=8,
                          record_config=ENDPOINTS[endpoint].record_config)
    seed_s = time.perf_counter() - started
    print(f"{endpoint}: seeded {n} buckets in {len(REGIONS)} regions in {seed_s:.1f} s "
          f"({sum(1 for s in seeded if s.replica_regions)} replicating, {sum(1 for s in seeded if s.tags)} tagged, "
          f"Config {'recording' if ENDPOINTS[endpoint].record_config else 'not recording'})")
    manifest = manifest_of(seeded)
    manifest_path = workdir / f"manifest-{endpoint}-{n}.json"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    env = aws_env(server.url, workdir)
    config = custody_config(workdir, args.workers)

    def custody() -> dict[str, Any]:
        return child(["custody", "--config", str(config), "--manifest", str(manifest_path)], env, args.timeout)

    def naive() -> dict[str, Any]:
        return child(["naive", "--workers", str(args.workers), "--manifest", str(manifest_path)], env, args.timeout)

    others: list[tuple[str, Any, int]] = []
    if endpoint == "capable" and args.naive:
        others.append(("naive", naive, args.repeat))
    if endpoint == "capable" and n <= args.peers_max_size:
        others += [(peer.name, peer_run(peer, server, manifest, args.timeout), 1) for peer in tools]
    custody_runs = [attempt(server, "custody", n, custody) for _ in range(args.repeat)]
    runs = []
    for name, run, times in others:
        runs.append(summarise(name, n, [attempt(server, name, n, run) for _ in range(times)]))
        custody_runs.append(attempt(server, "custody", n, custody))
    runs.insert(0, summarise("custody", n, custody_runs))
    for run in runs:
        run.update({"endpoint": endpoint, "seed_s": seed_s})
    return runs


def ratios(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size: how many times slower (wall) and costlier (calls) each other tool is than Custody (capable)."""
    out = []
    for n in sorted({r["n"] for r in runs}):
        custody = next((r for r in runs if r["n"] == n and r["tool"] == "custody" and r["endpoint"] == "capable"),
                       None)
        if custody is None:
            continue
        for other in runs:
            if other["n"] != n or other is custody:
                continue
            label = other["tool"] if other["tool"] != "custody" else f"custody ({other['endpoint']} endpoint)"
            out.append({"n": n, "versus": label, "measured": True,
                        "wall_ratio": other["wall_s"] / custody["wall_s"],
                        "calls_ratio": other["server_calls"] / custody["server_calls"]})
        for name, figures in PUBLISHED.items():
            if n in figures["wall_s"]:
                out.append({"n": n, "versus": f"{name} (published)", "measured": False,
                            "wall_ratio": figures["wall_s"][n] / custody["wall_s"],
                            "calls_ratio": figures["calls"][n] / custody["server_calls"], "note": figures["note"]})
    return out


def table(runs: list[dict[str, Any]], ratio_rows: list[dict[str, Any]]) -> str:
    head = (f"{'endpoint':<9} {'N':>6} {'tool':<8} {'wall s':>8} {'calls':>7} {'calls/bkt':>9} {'stores/s':>9} "
            f"{'calls/s':>8} {'RSS MB':>7} {'correct':>15}")
    lines = [head, "-" * len(head)]
    for r in runs:
        c = r.get("check", {})
        correct = f"{c.get('all')}/{c.get('expected')}" if c.get("all") is not None else \
            f"region {c.get('region')}/{c.get('expected')}"
        lines.append(f"{r['endpoint']:<9} {r['n']:>6} {r['tool']:<8} {r['wall_s']:>8.2f} {r['server_calls']:>7} "
                     f"{r['calls_per_bucket']:>9.3f} {r['stores_per_s']:>9.0f} {r['calls_per_s']:>8.0f} "
                     f"{r['rss_peak_mb']:>7.0f} {correct:>15}")
    lines += ["", f"{'N':>6}  {'versus Custody (capable endpoint)':<34} {'wall x':>7} {'calls x':>8}",
              "-" * 60]
    for row in ratio_rows:
        lines.append(f"{row['n']:>6}  {row['versus']:<34} {row['wall_ratio']:>7.1f} {row['calls_ratio']:>8.1f}")
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The tables of a results file, as Markdown (for bench/README.md)."""
    lines = ["| endpoint | N | tool | wall s | API calls (server) | calls/bucket | stores/s | calls/s | peak RSS MB "
             "| right (all facts) |", "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in result["runs"]:
        c = r.get("check", {})
        right = f"{c['all']}/{c['expected']}" if c.get("all") is not None else \
            f"region {c.get('region')}/{c.get('expected')} (no tags or replicas in its CSV)"
        lines.append(f"| {r['endpoint']} | {r['n']} | {r['tool']} | {r['wall_s']:.1f} | {r['server_calls']:,} | "
                     f"{r['calls_per_bucket']:.3f} | {r['stores_per_s']:.0f} | {r['calls_per_s']:.0f} | "
                     f"{r['rss_peak_mb']:.0f} | {right} |")
    lines += ["", "| N | versus Custody (capable endpoint) | wall time × | API calls × |",
              "| ---: | --- | ---: | ---: |"]
    for row in result["ratios"]:
        lines.append(f"| {row['n']} | {row['versus']} | {row['wall_ratio']:.1f} | {row['calls_ratio']:.1f} |")
    return "\n".join(lines)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("boto3", "botocore", "moto")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="bucket counts, comma-separated (default 1000,5000)")
    parser.add_argument("--endpoints", default="capable,no-config,stock",
                        help="some of capable, no-config, stock (default all three)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent calls, Custody and naive (default 8)")
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive per-bucket baseline")
    parser.add_argument("--peers", default="c7n,prowler", help="peers to run if installed: c7n, prowler or none")
    parser.add_argument("--peers-max-size", type=int, default=5000, help="run the peers up to this N (default 5000)")
    parser.add_argument("--c7n-venv", default="/tmp/peer-c7n")
    parser.add_argument("--prowler-venv", default="/tmp/peer-prowler")
    parser.add_argument("--timeout", type=float, default=1800, help="per run, seconds")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs of custody (plus one after each other tool) and of naive; the fastest is kept")
    parser.add_argument("--out", help="results file (default bench/results/s3-<time>.json)")
    parser.add_argument("--report", metavar="RESULTS", help="print a results file's tables as Markdown and exit")
    args = parser.parse_args(argv)
    if args.report:
        print(markdown(json.loads(Path(args.report).read_text(encoding="utf-8"))))
        return 0
    sizes = [int(size) for size in args.sizes.split(",") if size]
    endpoints = [e for e in args.endpoints.split(",") if e]
    unknown = [e for e in endpoints if e not in ENDPOINTS]
    if unknown:
        parser.error(f"unknown endpoint(s) {unknown}; expected some of {sorted(ENDPOINTS)}")
    wanted = {p for p in args.peers.split(",") if p and p != "none"}
    tools = [peer for peer in peers(args.c7n_venv, args.prowler_venv) if peer.name in wanted]
    for peer in tools:
        if not peer.installed:
            print(f"{peer.name}: not installed in {peer.venv}; skipped (see bench/peers.py)", file=sys.stderr)
    tools = [peer for peer in tools if peer.installed]
    started = dt.datetime.now(dt.UTC)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        for endpoint in endpoints:
            with start_moto(ENDPOINTS[endpoint].patches) as server:
                for n in sizes:
                    runs += bench_size(server, endpoint, n, args, Path(tmp), tools)
    ratio_rows = ratios(runs)
    result = {
        "benchmark": "s3-inventory",
        "started_at": started.isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python -m bench.run", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    **versions()},
        "regions": list(REGIONS), "workers": args.workers,
        "endpoints": {name: {"patches": list(e.patches), "config_recording": e.record_config}
                      for name, e in ENDPOINTS.items() if name in endpoints},
        "peers_run": [peer.name for peer in tools], "published_peers": PUBLISHED,
        "runs": runs, "ratios": ratio_rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"s3-{started.strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(result, indent=1, default=str)
    out.write_text(text, encoding="utf-8")
    (RESULTS / "latest.json").write_text(text, encoding="utf-8")
    print()
    print(table(runs, ratio_rows))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
