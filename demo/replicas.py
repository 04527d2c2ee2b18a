"""Several agent replicas on one machine: an emulated AWS Organization, PostgreSQL, N agents.

    .venv/bin/python -m demo.replicas --state postgresql+psycopg://postgres@127.0.0.1:5432/custody

starts moto on 127.0.0.1 with an Organization of 50 accounts (one S3 bucket each, every other one
tagged personal), writes one config per agent under `--dir` (all the same but the listen port),
starts `--agents` `agent.py run` processes against the PostgreSQL database given by `--state`,
and prints each scan as the replicas record it, with how many units each replica scanned. Kill
one with `kill -9 PID` at any time: the scans go on with the others. Ctrl-C stops everything.

PostgreSQL is yours to start (docs/scaling.md, "Try it on one machine"); the database must exist.
tests/test_distributed.py and bench/replicas.py use the same Organization and configs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import yaml
from sqlalchemy import text

from demo.moto_server import free_port, start_moto
from scanner.errors import InputError
from state.store import StateStore

ROOT = Path(__file__).resolve().parent.parent
MANAGEMENT = "123456789012"  # moto's default account: the caller of the testing credentials
REGIONS = ["us-east-1", "eu-west-1"]
PERSONAL = {"data-class": "personal"}


def _client(service: str, url: str, region: str = "us-east-1", **creds: str) -> Any:
    creds = creds or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name=region, endpoint_url=url, **creds)


def seed_organization(url: str, accounts: int = 50) -> tuple[list[str], dict[str, str]]:
    """An Organization of `accounts` accounts (management first), each with one bucket in one of
    REGIONS, every other one tagged personal. Returns the account ids and bucket -> account."""
    org = _client("organizations", url)
    org.create_organization(FeatureSet="ALL")
    ids = [MANAGEMENT]
    for index in range(accounts - 1):
        status = org.create_account(Email=f"member{index}@acme.example", AccountName=f"member-{index}")
        ids.append(status["CreateAccountStatus"]["AccountId"])
    sts = _client("sts", url)
    buckets = {}
    for index, account in enumerate(ids):
        creds: dict[str, str] = {}
        if account != MANAGEMENT:
            role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
            issued = sts.assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
            creds = {"aws_access_key_id": issued["AccessKeyId"], "aws_secret_access_key": issued["SecretAccessKey"],
                     "aws_session_token": issued["SessionToken"]}
        region = REGIONS[index % 2]
        s3 = _client("s3", url, region, **creds)
        name = f"acct{index:02d}-data"
        extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **extra)
        if index % 2:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "data-class", "Value": "personal"}]})
        buckets[name] = account
    return ids, buckets


def replica_config(directory: Path, state: str, port: int | None = None, slack: bool = False,
                   schedule: dict[str, int] | None = None, distributed: dict[str, Any] | None = None) -> Path:
    """Write `custody.yaml` (and its policy) for one agent scanning the Organization; return its path.
    With `port`, an `agent` section: distributed, quick heartbeats (units of dead replicas move in 3 s)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "policy.yaml").write_text(yaml.safe_dump({
        "policies": [{"id": "eu-personal", "applies_to": {"tags": PERSONAL}, "severity": "critical"}]}))
    config: dict[str, Any] = {
        "home": ["EU"],
        "state": state,
        "policies": ["policy.yaml"],
        "companies": [{"id": "acme", "name": "Acme SE", "country": "DE"}],
        "accounts": {MANAGEMENT: {"owner": "acme"}},
        "providers": {"aws": {"organization": True, "regions": REGIONS, "services": ["s3"], "max_attempts": 1,
                              "max_accounts": 2}},
    }
    if port is not None:
        config["agent"] = {"schedule": schedule or {"interval_minutes": 60}, "listen": f"127.0.0.1:{port}",
                           "stop_timeout_seconds": 10,
                           "distributed": distributed or {"worker_concurrency": 2, "heartbeat_seconds": 1,
                                                          "stalled_after_seconds": 3, "max_attempts": 3}}
    if slack:
        config["alerts"] = {"delivery": {"backoff_initial_seconds": 0.2, "backoff_max_seconds": 0.5},
                            "channels": {"secops": {"type": "slack", "webhook_url_env": "CUSTODY_SLACK_WEBHOOK",
                                                    "min_interval_seconds": 0.1}},
                            "routes": [{"channels": ["secops"]}]}
    path = directory / "custody.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def aws_env(endpoint: str, directory: Path) -> dict[str, str]:
    """The environment of an agent scanning the emulator (and nothing on the machine's own AWS setup)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(directory / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(directory / "none"),
        "AWS_EC2_METADATA_DISABLED": "true", "PGPASSWORD": os.environ.get("PGPASSWORD", ""),
    }


def _scans(store: StateStore) -> list[tuple[str, str, str, dict[str, int]]]:
    with store.reading() as conn:
        rows = conn.execute(text(
            "SELECT s.id, s.status, s.finished_at, u.replica, count(*) FROM scans s JOIN scan_units u "
            "ON u.scan_id = s.id WHERE s.status <> 'running' GROUP BY s.id, s.status, s.finished_at, u.replica "
            "ORDER BY s.finished_at")).all()
    scans: dict[str, tuple[str, str, dict[str, int]]] = {}
    for scan_id, status, finished, replica, units in rows:
        scans.setdefault(scan_id, (status, finished, {}))[2][replica or "-"] = units
    return [(scan_id, status, finished, units) for scan_id, (status, finished, units) in scans.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.replicas", description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="postgresql+psycopg://... (the database must exist)")
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--interval-seconds", type=int, default=60, help="the agents' schedule")
    parser.add_argument("--dir", default="custody-replicas", help="configs and logs go here")
    args = parser.parse_args(argv)
    workdir = Path(args.dir).resolve()
    try:
        store = StateStore(args.state)  # created and migrated here: a bad URL stops the demo before anything starts
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the agents and moto on the way out
    moto = start_moto(("bucket_region",))
    agents: list[subprocess.Popen[bytes]] = []
    try:
        accounts, _ = seed_organization(moto.url, args.accounts)
        print(f"moto {moto.url}: an Organization of {len(accounts)} accounts")
        for index in range(args.agents):
            directory = workdir / f"agent{index}"
            port = free_port()
            config = replica_config(directory, args.state, port, schedule={"interval_seconds": args.interval_seconds})
            with (directory / "agent.log").open("ab") as log:
                agents.append(subprocess.Popen([sys.executable, str(ROOT / "agent.py"), "run", "--config", str(config)],
                                               cwd=directory, env=aws_env(moto.url, directory),
                                               stdout=subprocess.DEVNULL, stderr=log))
            print(f"agent {index}: pid {agents[-1].pid}, http://127.0.0.1:{port}/healthz, log {directory}/agent.log")
        print("kill -9 one of them at any time; Ctrl-C stops everything")
        seen: set[str] = set()
        while True:
            time.sleep(2)
            try:
                scans = _scans(store)
            except InputError as exc:  # the database restarting, say
                print(f"(state not readable: {exc})")
                continue
            for scan_id, status, finished, units in scans:
                if scan_id not in seen:
                    seen.add(scan_id)
                    print(f"scan {scan_id} {status} at {finished}; units per replica: {units}")
    except KeyboardInterrupt:
        return 0
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            agent.wait(timeout=60)
        moto.stop()
        store.close()


if __name__ == "__main__":
    sys.exit(main())
