"""An emulated estate for distributed scans: demo.replicas's Organization of 50 accounts on moto,
behind a proxy that can slow S3 down, and agent processes sharing one PostgreSQL database.
Used by tests/test_distributed.py and bench/replicas.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from demo.moto_server import MotoServer, free_port, start_moto
from demo.replicas import ROOT, aws_env, replica_config, seed_organization
from runtime.workqueue import conninfo
from tests.alert_receivers import SlackReceiver
from tests.fault_proxy import FaultProxy, Request

DEADLINE_S = 180.0


class Slow:
    """Delays every S3 request, so that a unit lasts long enough to be cut off in the middle."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, request: Request) -> bool:
        if request.service == "s3" and self.seconds:
            time.sleep(self.seconds)
        return False  # never a fault


@dataclass
class Organization:
    moto: MotoServer
    proxy: FaultProxy
    slow: Slow  # seconds added to every S3 request (0 unless a test needs long units)
    accounts: list[str]  # management first
    buckets: dict[str, str]  # bucket -> account

    def env(self, directory: Path) -> dict[str, str]:
        return aws_env(self.proxy.url, directory)


@contextmanager
def emulated_organization() -> Iterator[Organization]:
    """moto seeded with the Organization, behind a FaultProxy whose S3 delay starts at 0."""
    moto = start_moto(("bucket_region",))
    proxy = FaultProxy(moto.url)
    slow = Slow(0.0)
    proxy.deny(slow)
    proxy.start()
    try:
        accounts, buckets = seed_organization(moto.url)
        yield Organization(moto, proxy, slow, accounts, buckets)
    finally:
        proxy.stop()
        moto.stop()


def query(url: str, sql: str, *params: Any) -> list[tuple]:
    with psycopg.connect(conninfo(url)) as conn:
        return conn.execute(sql, params).fetchall()


class AgentProcess:
    def __init__(self, directory: Path, config: Path, env: dict[str, str]) -> None:
        self.log = directory / "agent.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, str(ROOT / "agent.py"), "run", "--config", str(config)],
                                            cwd=directory, env=env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=log)

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def units_in_flight(self) -> set[str]:
        started = {line.get("unit") for line in self.lines() if line.get("message") == "unit started"}
        scanned = {line.get("unit") for line in self.lines() if line.get("message") == "unit scanned"}
        return started - scanned

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_for(what: str, check: Any, timeout: float = DEADLINE_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (psycopg.OperationalError, psycopg.errors.UndefinedTable):  # down a while; not migrated yet
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_agents(count: int, organization: Organization, url: str, tmp_path: Path, slack: SlackReceiver
                 ) -> list[AgentProcess]:
    agents = []
    for index in range(count):
        directory = tmp_path / f"agent{index}"
        config = replica_config(directory, url, port=free_port(), slack=True)
        env = {**organization.env(directory), "CUSTODY_SLACK_WEBHOOK": slack.url + "/services/T0/B0/x"}
        agents.append(AgentProcess(directory, config, env))
    return agents
