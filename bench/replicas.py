"""One scan of an AWS Organization of 50 accounts by 1, 2 and 3 agent replicas sharing PostgreSQL.

    .venv/bin/python -m bench.replicas                          # 1, 2, 3 replicas, 0.2 s per S3 call
    .venv/bin/python -m bench.replicas --replicas 1,3 --latency 0.1 --json /tmp/replicas.json

The estate is tests/distributed_world.py's: moto with 50 accounts (one bucket each) behind a proxy
that adds `--latency` seconds to every S3 request, standing in for the round trip to a real cloud
(moto on loopback answers in about 2 ms; AWS from another region in 50 to 200 ms). For each replica
count, on a fresh database of one PostgreSQL server started for the run, the replicas are started
as `agent.py run` processes with `agent.distributed` (2 units at once each); the time is from the
scan's planning to its recording (both read from the replicas' logs), and the ratio is against one
replica in the same run. Each replica also reports how many units it scanned.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.alert_receivers import SlackReceiver
from tests.distributed_world import AgentProcess, Organization, emulated_organization, query, start_agents, wait_for
from tests.fixtures_postgres import FAST, PostgresServer, find_bindir


def run_once(organization: Organization, server: PostgresServer, replicas: int, workdir: Path) -> dict[str, Any]:
    url = server.create_database(f"replicas_{replicas}")
    slack = SlackReceiver()
    agents: list[AgentProcess] = []
    try:
        agents = start_agents(replicas, organization, url, workdir, slack)
        wait_for("the scan to finish", lambda: any(line.get("message") == "scan finished"
                                                   for agent in agents for line in agent.lines()), timeout=900)
        events = [line for agent in agents for line in agent.lines()]
        planned = min(_time(e) for e in events if e.get("message") == "scan planned")
        finished = max(_time(e) for e in events if e.get("message") == "scan finished")
        (status,), = query(url, "SELECT status FROM scans")
        per_replica = Counter(replica for (replica,) in query(url, "SELECT replica FROM scan_units"))
        return {"replicas": replicas, "seconds": round((finished - planned).total_seconds(), 2), "status": status,
                "units_per_replica": sorted(per_replica.values(), reverse=True)}
    finally:
        for agent in agents:
            agent.stop()
        slack.stop()


def _time(event: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(event["time"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", default="1,2,3", help="replica counts, comma-separated (first: the baseline)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds added to every S3 request")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    counts = [int(part) for part in args.replicas.split(",")]
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    results = []
    with PostgresServer(bindir, FAST) as server, emulated_organization() as organization, \
            tempfile.TemporaryDirectory(prefix="custody-replicas-") as tmp:
        organization.slow.seconds = args.latency
        for count in counts:
            results.append(run_once(organization, server, count, Path(tmp) / f"r{count}"))
            time.sleep(1)
    base = results[0]["seconds"]
    print(f"{'replicas':>8} {'seconds':>8} {'speed-up':>8}  status    units per replica")
    for row in results:
        row["speedup"] = round(base / row["seconds"], 2)
        print(f"{row['replicas']:>8} {row['seconds']:>8.1f} {row['speedup']:>7.2f}x  {row['status']:<9} "
              f"{row['units_per_replica']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"latency_seconds": args.latency, "results": results}, indent=2))


if __name__ == "__main__":
    main()
