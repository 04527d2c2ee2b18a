"""Scans spread over several replicas through procrastinate, on a real PostgreSQL and a real moto.

In-process tests drive `runtime.workqueue.Replica` (its planning and its jobs) against a real
database and emulator; the end-to-end test runs three `agent.py run` processes, kills one with
SIGKILL in the middle of a unit, and compares what they recorded with a one-agent scan.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from demo.replicas import replica_config
from runtime.agent_config import DistributedSettings
from runtime.cli import prepare
from runtime.workqueue import Replica
from state.store import StateStore
from state.units import DONE, FAILED, Unit
from tests.alert_receivers import SlackReceiver
from tests.distributed_world import (
    ROOT,
    AgentProcess,
    Organization,
    emulated_organization,
    query,
    start_agents,
    wait_for,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def organization() -> Iterator[Organization]:
    with emulated_organization() as world:
        yield world


# ---- in-process: planning and the jobs, on one database ---------------------------------------------

SETTINGS = DistributedSettings(worker_concurrency=1, heartbeat_seconds=1, stalled_after_seconds=3, max_attempts=2)


def replica(config: Path, url: str, name: str) -> tuple[Replica, StateStore]:
    state = StateStore(url)
    return Replica(state, lambda: prepare(str(config), []), SETTINGS, url, on_finished=lambda: None,
                   cancel=threading.Event(), name=name), state


def test_replicas_firing_together_start_one_scan(organization: Organization, postgres_url: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in organization.env(tmp_path).items():
        monkeypatch.setenv(name, value)
    config = replica_config(tmp_path, postgres_url)
    replicas = [replica(config, postgres_url, f"r{i}") for i in range(3)]
    started: list[str | None] = []
    barrier = threading.Barrier(3)

    def fire(r: Replica) -> None:
        barrier.wait()
        started.append(r.start_scan(min_gap=dt.timedelta(minutes=30)))

    threads = [threading.Thread(target=fire, args=(r,)) for r, _ in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scan_ids = [scan for scan in started if scan]
    assert len(scan_ids) == 1, started
    units = query(postgres_url, "SELECT unit_id FROM scan_units WHERE scan_id = %s", scan_ids[0])
    assert sorted(u for (u,) in units) == sorted(organization.accounts)
    jobs = query(postgres_url, "SELECT args->>'unit' FROM procrastinate_jobs WHERE task_name = 'custody.scan_unit'")
    assert sorted(j for (j,) in jobs) == sorted(f"aws|{a}" for a in organization.accounts)
    # a scan still running blocks the next; and within the gap nothing starts either
    assert replicas[0][0].start_scan(min_gap=dt.timedelta(0)) is None
    for _, state in replicas:
        state.close()


def test_units_count_once_and_a_unit_that_keeps_failing_makes_the_scan_partial(
        organization: Organization, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unit scanned by one of two replicas (one twice): the scan completes with every bucket once.
    Next scan: one unit's replicas die every time, so it is recorded failed; the scan is partial and
    nothing of that account is gone, while the rest is judged afresh."""
    for name, value in organization.env(tmp_path).items():
        monkeypatch.setenv(name, value)
    config = replica_config(tmp_path, postgres_url)
    (a, state), (b, _) = replica(config, postgres_url, "a"), replica(config, postgres_url, "b")
    scan_id = a.start_scan(min_gap=dt.timedelta(0))
    assert scan_id is not None
    units = [Unit("aws", account) for account in organization.accounts]
    for index, unit in enumerate(units):
        (a if index % 2 else b).scan_unit(scan_id, unit.key, attempts=0)
        if index == 0:  # the same unit again, as after a replica died just after recording it
            a.scan_unit(scan_id, unit.key, attempts=1)
    status = query(postgres_url, "SELECT status FROM scans WHERE id = %s", scan_id)
    assert status == [("running",)]  # finished by its own job, not by the last unit's replica
    a.finish_scan(scan_id)
    a.finish_scan(scan_id)  # a finish job run twice records once
    scans = query(postgres_url, "SELECT id, status, counts->>'stores' FROM scans")
    assert scans == [(scan_id, "complete", str(len(organization.buckets)))]
    recorded = query(postgres_url, "SELECT replica, status, attempts FROM scan_units WHERE scan_id = %s "
                                   "AND unit = %s", scan_id, units[0].key)
    assert recorded == [("b", DONE, 1)]  # the first run's result stands; the second counted for nothing
    stores = dict(query(postgres_url, "SELECT name, account FROM stores WHERE gone_at IS NULL"))
    assert stores == organization.buckets
    targets = Counter(query(postgres_url, "SELECT account, region, service FROM scan_targets WHERE scan_id = %s",
                            scan_id))
    assert max(targets.values()) == 1  # no account's targets counted twice
    assert {account for account, _, _ in targets} == set(organization.accounts)
    failing_before = set(query(postgres_url, "SELECT fingerprint FROM findings WHERE resolved_at IS NULL"))
    assert failing_before  # the tagged buckets in us-east-1 fail the EU policy

    # the next scan: the last account's unit is cut off every time
    second = a.start_scan(min_gap=dt.timedelta(0))
    assert second is not None
    for unit in units[:-1]:
        a.scan_unit(second, unit.key, attempts=0)
    b.scan_unit(second, units[-1].key, attempts=SETTINGS.max_attempts)
    assert query(postgres_url, "SELECT status FROM scan_units WHERE scan_id = %s AND unit = %s",
                 second, units[-1].key) == [(FAILED,)]
    b.finish_scan(second)
    assert query(postgres_url, "SELECT status FROM scans WHERE id = %s", second) == [("partial",)]
    lost = [name for name, account in organization.buckets.items() if account == units[-1].unit_id]
    assert query(postgres_url, "SELECT gone_at FROM stores WHERE name = %s", lost[0]) == [(None,)]
    assert set(query(postgres_url, "SELECT fingerprint FROM findings WHERE resolved_at IS NULL")) == failing_before
    gaps = query(postgres_url, "SELECT coverage_gaps FROM scans WHERE id = %s", second)[0][0]
    assert any(units[-1].unit_id in gap and "stopped 2 times" in gap for gap in gaps), gaps
    state.close()


# ---- end to end: three agents, one killed ---------------------------------------------------------

def test_three_agents_share_a_scan_and_survive_a_sigkill(organization: Organization, postgres_url: str,
                                                         tmp_path: Path) -> None:
    slack = SlackReceiver()
    organization.slow.seconds = 0.25  # a unit lasts a few seconds: long enough to kill its agent half-way
    agents: list[AgentProcess] = []
    try:
        agents = start_agents(3, organization, postgres_url, tmp_path, slack)
        victim = agents[1]
        in_flight = wait_for("agent 1 to be in the middle of a unit", victim.units_in_flight)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)

        scans = wait_for("the scan to finish", lambda: query(
            postgres_url, "SELECT id, status FROM scans WHERE status <> 'running'"))
        assert len(scans) == 1, scans
        scan_id, status = scans[0]
        assert status == "complete"
        units = query(postgres_url, "SELECT unit_id, status, replica, attempts FROM scan_units WHERE scan_id = %s",
                      scan_id)
        assert sorted(u for u, *_ in units) == sorted(organization.accounts)  # every account, once
        assert {s for _, s, _, _ in units} == {DONE}
        by_unit = {f"aws|{u}": (replica, attempts) for u, _, replica, attempts in units}
        # what the killed agent was scanning was scanned again by another agent (a unit that it
        # recorded in the instant before the kill, if any, stands as it recorded it)
        again = [unit for unit in in_flight if by_unit[unit][0] != by_unit_replica_of(victim)]
        assert again
        assert all(by_unit[unit][1] >= 2 for unit in again)
        assert len({replica for replica, _ in by_unit.values()}) >= 2  # the work was shared
        targets = Counter(query(postgres_url, "SELECT account, region, service FROM scan_targets "
                                              "WHERE scan_id = %s", scan_id))
        assert max(targets.values()) == 1
        stores = dict(query(postgres_url, "SELECT name, account FROM stores WHERE gone_at IS NULL"))
        assert stores == organization.buckets

        # the replica that finished the scan observed it in its metrics (issue 15.7), and only that one
        survivors = [agent for agent in agents if agent is not victim]
        finished = wait_for("the finisher's metrics", lambda: sorted(
            scans_observed(agent, tmp_path / f"agent{agents.index(agent)}") for agent in survivors)
            if sum(scans_observed(a, tmp_path / f"agent{agents.index(a)}") for a in survivors) == 1 else None)
        assert finished == [0.0, 1.0]

        # alerts: one baseline summary, sent by one replica, not one per replica
        assert_one_alert_sent_once(agents, postgres_url, slack)

        # the same estate scanned by one plain agent gives the same verdicts
        organization.slow.seconds = 0
        single = replica_config(tmp_path / "single", str(tmp_path / "single" / "state.db"))
        report = subprocess.run([sys.executable, str(ROOT / "agent.py"), "scan", "--config", str(single),
                                 "--format", "json"], capture_output=True, text=True,
                                env=organization.env(tmp_path / "single"), timeout=300, check=False)
        assert report.returncode in (0, 1), report.stderr
        alone = {s["id"]: (s["status"], sorted(r["jurisdiction"] for r in s["reachable_by"]))
                 for s in json.loads(report.stdout)["stores"]}
        shared = {row[0]: (row[1], sorted(r["jurisdiction"] for r in row[2]["reachable_by"])) for row in query(
            postgres_url, "SELECT id, status, document FROM stores WHERE gone_at IS NULL")}
        assert shared == alone
    finally:
        organization.slow.seconds = 0
        for agent in agents:
            agent.stop()
        slack.stop()


def assert_one_alert_sent_once(agents: list[AgentProcess], url: str, slack: SlackReceiver) -> None:
    """The scan's alerts are queued (its alert_scans row) and none is pending: then every agent stops, so
    no send can still be on its way, and the outbox holds one alert, delivered at the first attempt, which
    is the one message the receiver accepted."""
    wait_for("the scan's alerts queued and none pending", lambda: query(
        url, "SELECT scan_id FROM alert_scans WHERE NOT EXISTS "
             "(SELECT 1 FROM alert_outbox WHERE status = 'pending')"))
    for agent in agents:
        agent.stop()
    assert query(url, "SELECT kind, status, attempts FROM alert_outbox") == [("summary", "delivered", 1)]
    assert len(slack.accepted()) == 1, slack.accepted()


def scans_observed(agent: AgentProcess, directory: Path) -> float:
    """custody_scans_total{status="complete"} on an agent's /metrics."""
    import urllib.request

    import yaml

    config = yaml.safe_load((directory / "custody.yaml").read_text())
    port = int(str(config["agent"]["listen"]).rsplit(":", 1)[1])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('custody_scans_total{status="complete"} '):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def by_unit_replica_of(agent: AgentProcess) -> str:
    names = {line.get("replica") for line in agent.lines() if line.get("message") == "replica started"}
    assert len(names) == 1, names
    return names.pop()


def test_the_database_restarting_mid_scan_loses_nothing(organization: Organization, postgres_server: Any,
                                                        postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL crashes and comes back 3 s later while two agents are half-way through a scan: they
    reconnect, the units cut off are scanned again, and the scan completes with every account once."""
    slack = SlackReceiver()
    organization.slow.seconds = 0.25
    agents: list[AgentProcess] = []
    try:
        agents = start_agents(2, organization, postgres_url, tmp_path, slack)
        wait_for("a few units to be recorded", lambda: query(
            postgres_url, "SELECT count(*) FROM scan_units WHERE status = 'done'")[0][0] >= 3)
        began = time.monotonic()
        postgres_server.crash_and_restart(down_seconds=3)
        print(f"database down and up again in {time.monotonic() - began:.1f} s")
        scans = wait_for("the scan to finish", lambda: query(
            postgres_url, "SELECT id, status FROM scans WHERE status <> 'running'"))
        assert [status for _, status in scans] == ["complete"]
        units = query(postgres_url, "SELECT unit_id, status FROM scan_units")
        assert sorted(u for u, _ in units) == sorted(organization.accounts)
        assert {s for _, s in units} == {DONE}
        stores = dict(query(postgres_url, "SELECT name, account FROM stores WHERE gone_at IS NULL"))
        assert stores == organization.buckets
        wait_for("the summary", lambda: slack.accepted())
        assert all(agent.process.poll() is None for agent in agents)  # reconnected, not crashed
        assert_one_alert_sent_once(agents, postgres_url, slack)
    finally:
        organization.slow.seconds = 0
        for agent in agents:
            agent.stop()
        slack.stop()


def test_a_job_whose_end_was_lost_is_queued_again_by_its_own_replica(postgres_url: str, tmp_path: Path) -> None:
    """The queue says this replica's worker runs a job that it does not run (the database went away as
    the job ended): two reaper rounds in a row see it, and it goes back to the queue; a job the replica
    does run is left alone."""
    config = replica_config(tmp_path, postgres_url)
    r, state = replica(config, postgres_url, "r")

    async def scenario() -> list[str]:
        async with r.app.open_async():
            worker_id = await r.app.job_manager.register_worker()
            r._worker = SimpleNamespace(worker_id=worker_id)  # the part of procrastinate's Worker the reaper reads
            for unit in ("aws|1", "aws|2"):
                await r.app.configure_task("custody.scan_unit", queue="custody").defer_async(scan_id="x", unit=unit)
            lost = await r.app.job_manager.fetch_job(["custody"], worker_id)
            running = await r.app.job_manager.fetch_job(["custody"], worker_id)
            assert lost is not None and running is not None and running.id is not None
            r._running.add(running.id)
            await r._retry_orphans()  # first sighting: only suspected
            first = [row[0] for row in query(postgres_url, "SELECT status FROM procrastinate_jobs ORDER BY id")]
            await r._retry_orphans()
            return first + [row[0] for row in query(postgres_url, "SELECT status FROM procrastinate_jobs ORDER BY id")]

    statuses = asyncio.run(scenario())
    assert statuses == ["doing", "doing", "todo", "doing"]
    state.close()
