"""The agent as a user runs it: `python agent.py run --config FILE`, a subprocess, against moto.

Real servers on 127.0.0.1: moto (AWS) behind tests/fault_proxy.py, a Slack stand-in that can
answer 200, 429 or 500, and aiosmtpd with STARTTLS and login. The estate changes between scans;
the receivers' logs must show exactly the alerts those changes call for, each once, through an
outage, a SIGKILL and two restarts.

Scans never race the test's changes: the proxy holds the first request of a scan (STS
GetCallerIdentity) while the test changes the estate, so each scan sees all of a change or none.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from demo.moto_server import MotoServer, free_port, start_moto
from tests.alert_receivers import MailServer, SlackReceiver
from tests.fault_proxy import FaultProxy, Request

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's default account
PERSONAL = {"data-class": "personal"}
SMTP_PASSWORD = "smtp-" + uuid.uuid4().hex
HOOK_SECRET = "/services/T0CUSTODY/B0CUSTODY/" + uuid.uuid4().hex
DEADLINE_S = 40.0

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ---- the world: moto, a gate in front of it, Slack and a mail server --------------------------------

class Gate:
    """Holds the agent's STS GetCallerIdentity (the first call of every scan) while closed."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self.holding = threading.Event()

    def __call__(self, request: Request) -> bool:
        if request.service == "sts" and not self._open.is_set():
            self.holding.set()
            self._open.wait(DEADLINE_S)
        return False  # never a fault: forward

    def close(self) -> None:
        self.holding.clear()
        self._open.clear()

    def open(self) -> None:
        self._open.set()


@dataclass
class World:
    moto: MotoServer
    proxy: FaultProxy
    gate: Gate
    slack: SlackReceiver
    mail: MailServer
    tmp: Path

    def s3(self, region: str):
        return boto3.client("s3", region_name=region, endpoint_url=self.moto.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def bucket(self, name: str, region: str, tags: dict[str, str] | None = None) -> None:
        s3 = self.s3(region)
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **kwargs)
        if tags:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})

    def replicate(self, source: str, source_region: str, destination: str, destination_region: str) -> None:
        for name, region in ((source, source_region), (destination, destination_region)):
            self.s3(region).put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        self.s3(source_region).put_bucket_replication(Bucket=source, ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/s3-replication",
            "Rules": [{"ID": "dr", "Priority": 1, "Status": "Enabled", "Filter": {},
                       "DeleteMarkerReplication": {"Status": "Disabled"},
                       "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}}]})

    def delete(self, name: str, region: str) -> None:
        self.s3(region).delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("agent")
    moto = start_moto(("bucket_region",))
    gate = Gate()
    proxy = FaultProxy(moto.url)
    proxy.deny(gate)
    proxy.start()
    slack = SlackReceiver()
    mail = MailServer(tmp, "custody", SMTP_PASSWORD, free_port())
    try:
        yield World(moto, proxy, gate, slack, mail, tmp)
    finally:
        gate.open()
        for stop in (proxy.stop, slack.stop, mail.stop, moto.stop):
            stop()


def write_config(world: World, name: str, waiver_expires: str = "2099-12-31",
                 home: tuple[str, ...] = ("EU", "GB", "US"), agent: dict[str, Any] | None = None,
                 alerts: dict[str, Any] | None = None) -> tuple[Path, int]:
    """The agent's config and policy file, in a directory of its own; returns (config path, HTTP port)."""
    directory = world.tmp / name
    directory.mkdir(exist_ok=True)
    write_policy(directory, waiver_expires)
    (directory / "smtp-password").write_text(SMTP_PASSWORD + "\n")
    port = free_port()
    config = {
        # the operators' control reach is accepted: where the copies are decides. A US owner: the UK's and
        # Australia's agreements with the US may not target it (18 U.S.C. § 2523(b)(4)(A)), so they do not reach
        "home": list(home),
        "state": "state.db",
        "policies": ["policy.yaml"],
        "companies": [{"id": "acme-inc", "name": "Acme Inc.", "country": "US"}],
        "accounts": {ACCOUNT: {"owner": "acme-inc"}},
        "providers": {"aws": {"regions": ["us-east-1"], "services": ["s3"], "max_attempts": 1}},
        "agent": {"schedule": {"interval_seconds": 1}, "listen": f"127.0.0.1:{port}", "stop_timeout_seconds": 20},
        "alerts": {
            "dashboard_url": "https://custody.example.com",
            "delivery": {"backoff_initial_seconds": 0.2, "backoff_max_seconds": 0.5},
            "channels": {
                "secops": {"type": "slack", "webhook_url_env": "CUSTODY_SLACK_WEBHOOK", "min_interval_seconds": 0.1},
                "dpo": {"type": "email", "host": "127.0.0.1", "port": world.mail.port, "security": "starttls",
                        "username": "custody", "password_file": "smtp-password", "from": "custody@example.com",
                        "to": ["dpo@example.com"], "ca_file": str(world.mail.cert)},
            },
            "routes": [{"channels": ["secops"]}, {"channels": ["dpo"], "min_severity": "high"}],
        },
    }
    config["agent"].update(agent or {})
    config["alerts"].update(alerts or {})
    path = directory / "custody.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, port


def write_policy(directory: Path, waiver_expires: str) -> None:
    (directory / "policy.yaml").write_text(yaml.safe_dump({
        "policies": [{"id": "eu-personal", "applies_to": {"tags": PERSONAL}, "severity": "critical"}],
        "waivers": [{"store": "arn:aws:s3:::acme-yul-archive", "reason": "Archive moves to Frankfurt, SEC-7",
                     "approver": "dpo@example.com", "expires": waiver_expires}],
    }))


# ---- the agent process ----------------------------------------------------------------------------

class Agent:
    def __init__(self, world: World, config: Path, port: int, **extra_env: str) -> None:
        self.config, self.port = config, port
        self.db = config.parent / "state.db"
        self.log = config.parent / "agent.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_ENDPOINT_URL": world.proxy.url,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(config.parent / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(config.parent / "none"),
            "AWS_EC2_METADATA_DISABLED": "true", "CUSTODY_SLACK_WEBHOOK": world.slack.url + HOOK_SECRET,
            **extra_env,
        }
        # the log goes through a pipe that this process copies to a file, so that an agent whose own file
        # writes fail (a full volume, emulated with RLIMIT_FSIZE) still logs
        self.process = subprocess.Popen([sys.executable, str(ROOT / "agent.py"), "run", "--config", str(config)],
                                        cwd=config.parent, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._copier = threading.Thread(target=self._copy_log, daemon=True)
        self._copier.start()

    def _copy_log(self) -> None:
        assert self.process.stderr is not None
        with self.log.open("ab") as log:
            for line in self.process.stderr:
                log.write(line)
                log.flush()

    def signal(self, signum: int) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=DEADLINE_S)
        self._copier.join(timeout=5)
        return code

    def metric(self, name: str) -> float | None:
        """One sample's value from /metrics (`name` with its labels, as Prometheus writes it)."""
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def can_write_files(self, allowed: bool) -> None:
        """Emulate a full volume: no write of the agent may grow a file (the state database's journal)."""
        import resource

        limit = resource.RLIM_INFINITY if allowed else 0
        resource.prlimit(self.process.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def query(self, sql: str, *params: Any) -> list[tuple]:
        if not self.db.exists():
            return []
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:  # tables not created yet
                return []

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._copier.join(timeout=5)

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_lines() if line.startswith("{")]


def wait_for(what: str, check: Callable[[], Any], agent: Agent | None = None) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if agent is not None and agent.process.poll() is not None:
            pytest.fail(f"agent exited ({agent.process.returncode}) waiting for {what}:\n"
                        + "\n".join(agent.log_lines()[-30:]))
        time.sleep(0.05)
    tail = "\n".join(agent.log_lines()[-30:]) if agent else ""
    pytest.fail(f"timed out waiting for {what}\n{tail}")


def processed(agent: Agent) -> set[str]:
    return {row[0] for row in agent.query("SELECT scan_id FROM alert_scans")}


def change_between_scans(world: World, agent: Agent, change: Callable[[], None]) -> str:
    """Hold the next scan at its first request, change the estate, let it go; return its scan id
    once its alerts are queued."""
    world.gate.close()
    try:
        wait_for("the next scan to start", world.gate.holding.is_set, agent)
        running = wait_for("the held scan's row", lambda: agent.query(
            "SELECT id FROM scans WHERE status = 'running'"), agent)
        change()
    finally:
        world.gate.open()
    scan_id = running[0][0]
    wait_for(f"scan {scan_id} to be processed", lambda: scan_id in processed(agent), agent)
    return scan_id


def slack_texts(world: World) -> list[str]:
    return [payload["text"] for payload in world.slack.accepted()]


def mail_subjects(world: World) -> list[str]:
    return [str(message["Subject"]) for message in world.mail.received()]


def outbox(agent: Agent, scan_id: str | None = None) -> list[tuple]:
    sql = "SELECT channel, kind, status, attempts FROM alert_outbox"
    return agent.query(sql + " WHERE scan_id = ? ORDER BY id", scan_id) if scan_id else agent.query(sql)


# ---- the tests --------------------------------------------------------------------------------------

def test_agent_tells_each_change_once_through_outages_kills_and_restarts(world):
    world.bucket("acme-fra-customers", "eu-central-1", PERSONAL)
    world.bucket("acme-dub-invoices", "eu-west-1")
    world.bucket("acme-gru-export", "sa-east-1")  # fails: Brazil can compel access by location
    world.bucket("acme-yul-archive", "ca-central-1")  # Canada, waived until 2099
    config, port = write_config(world, "lifecycle")
    agent = Agent(world, config, port)
    try:
        # -- the first scan: one summary per channel
        wait_for("the baseline summary", lambda: len(slack_texts(world)) == 1 and len(mail_subjects(world)) == 1,
                 agent)
        summary = "Custody is now watching 4 data store(s): 1 fail, 3 pass, 0 not evaluated, 0 not applicable"
        assert slack_texts(world) == [f"[high] {summary}"]
        assert mail_subjects(world) == [f"[Custody] [high] {summary}"]

        # -- four changes between two scans
        def change() -> None:
            world.bucket("acme-syd-analytics", "ap-southeast-2", PERSONAL)  # a bucket abroad
            world.bucket("acme-use1-dr", "us-east-1")
            world.replicate("acme-fra-customers", "eu-central-1", "acme-use1-dr", "us-east-1")  # another continent
            world.delete("acme-gru-export", "sa-east-1")  # a failing store deleted
            write_policy(config.parent, waiver_expires="2020-01-01")  # the waiver has expired

        changed = change_between_scans(world, agent, change)  # (the policy file may be read by the scan after)
        expected = Counter({
            "[critical] New failing store: s3-bucket acme-syd-analytics — reachable by Australia": 1,
            "[info] New copy in us-east-1 (Northern Virginia, United States): s3-bucket acme-fra-customers": 1,
            "[high] Resolved: s3-bucket acme-gru-export (store deleted)": 1,
            "[high] Waiver expired: s3-bucket acme-yul-archive fails again — reachable by Canada": 1,
        })
        routed_to_mail = Counter({f"[Custody] {text}": n for text, n in expected.items() if "[info]" not in text})
        wait_for("the four alerts", lambda: len(slack_texts(world)) == 5 and len(mail_subjects(world)) == 4, agent)
        assert Counter((row[0], row[1]) for row in outbox(agent) if row[1] != "summary") == Counter({
            ("secops", "store_failing"): 1, ("secops", "location_added"): 1, ("secops", "finding_resolved"): 1,
            ("secops", "waiver_expired"): 1, ("dpo", "store_failing"): 1, ("dpo", "finding_resolved"): 1,
            ("dpo", "waiver_expired"): 1})
        # two more scans: nothing more is told
        seen = len(processed(agent))
        wait_for("two more scans", lambda: len(processed(agent)) >= seen + 2, agent)
        assert Counter(slack_texts(world)[1:]) == expected
        assert Counter(mail_subjects(world)[1:]) == routed_to_mail

        # what a message carries: what changed, where the copies are, the path with the law, a link
        syd = next(p for p in world.slack.accepted() if "acme-syd-analytics" in p["text"])
        sections = "\n".join(b["text"]["text"] for b in syd["blocks"] if b["type"] == "section")
        assert "Australia, Sydney — primary (ap-southeast-2)" in sections
        assert "s3-bucket acme-syd-analytics → primary copy in ap-southeast-2 (Sydney, Australia) → territorial" \
            in sections
        button = next(b for b in syd["blocks"] if b["type"] == "actions")["elements"][0]
        assert button["url"] == "https://custody.example.com/store?id=arn%3Aaws%3As3%3A%3A%3Aacme-syd-analytics"
        mail = next(m for m in world.mail.received() if "acme-syd-analytics" in str(m["Subject"]))
        assert "Australia, Sydney — primary (ap-southeast-2)" in mail.get_body(("plain",)).get_content()
        assert "Australia, Sydney — primary (ap-southeast-2)" in mail.get_body(("html",)).get_content()
        assert world.mail.logins and set(world.mail.logins) == {"custody"}

        # -- health, readiness and metrics
        assert agent.get("/healthz") == (200, '{"status":"alive"}')
        status, body = agent.get("/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        status, metrics = agent.get("/metrics")
        assert status == 200
        for line in ('custody_stores{status="fail"} 2.0', 'custody_stores{status="pass"} 3.0',
                     'custody_alerts_sent_total{channel="secops"} 5.0', 'custody_alerts_sent_total{channel="dpo"} 4.0',
                     'custody_alert_outbox{channel="secops",status="delivered"} 5.0', "custody_state_up 1.0",
                     'custody_scan_duration_seconds_count{status="complete"}'):
            assert line in metrics, line

        # -- Slack and the mail server go down with alerts pending; the agent is killed
        world.slack.answer(500)
        world.mail.failing = True

        def outage_change() -> None:
            world.bucket("acme-nrt-events", "ap-northeast-1", PERSONAL)
            world.delete("acme-syd-analytics", "ap-southeast-2")

        outage = change_between_scans(world, agent, outage_change)
        wait_for("failed attempts on both channels", lambda: {row[0] for row in outbox(agent, outage)
                                                              if row[2] == "pending" and row[3] >= 1}
                 == {"secops", "dpo"}, agent)
        agent.kill()
        assert {row[2] for row in outbox(agent, outage)} == {"pending"}

        # -- restart while still down, then stop it with SIGTERM: the alerts stay queued
        agent = Agent(world, config, port)
        attempts = sum(row[3] for row in outbox(agent, outage))
        wait_for("the restarted agent to retry", lambda: sum(row[3] for row in outbox(agent, outage)) > attempts,
                 agent)
        assert agent.signal(signal.SIGTERM) == 0
        assert {row[2] for row in outbox(agent, outage)} == {"pending"}
        assert world.slack.all_posts()[-1].status == 500 and world.mail.refused > 0

        # -- restart once more; the receivers recover; each alert arrives once
        world.slack.answer(200)
        world.mail.failing = False
        agent = Agent(world, config, port)
        wait_for("the queued alerts", lambda: {row[2] for row in outbox(agent, outage)} == {"delivered"}, agent)
        seen = len(processed(agent))
        wait_for("another scan", lambda: len(processed(agent)) >= seen + 1, agent)
        expected.update({
            "[critical] New failing store: s3-bucket acme-nrt-events — reachable by Japan": 1,
            "[critical] Resolved: s3-bucket acme-syd-analytics (store deleted)": 1,
        })
        assert Counter(slack_texts(world)[1:]) == expected
        assert Counter(mail_subjects(world)[1:]) == Counter(
            {f"[Custody] {text}": n for text, n in expected.items() if "[info]" not in text})
        assert not [row for row in outbox(agent) if row[2] != "delivered"]

        # -- logs: JSON lines, secrets never written
        assert agent.signal(signal.SIGTERM) == 0
        lines = agent.log_lines()
        docs = [json.loads(line) for line in lines]
        assert all({"time", "level", "logger", "message"} <= set(doc) for doc in docs)
        assert any(doc["message"] == "scan finished" and doc.get("scan_id") == changed for doc in docs)
        text = agent.log.read_text(encoding="utf-8")
        everything_sent = json.dumps([p.payload for p in world.slack.all_posts()]) + "".join(
            m.as_string() for m in world.mail.received())
        for secret in (HOOK_SECRET, SMTP_PASSWORD):
            assert secret not in text and secret not in everything_sent
    finally:
        agent.kill()


def test_sigterm_during_a_scan_records_it_interrupted_and_exits_0(world):
    config, port = write_config(world, "sigterm")
    world.gate.close()
    # with the dashboard mounted (when it is installed), the health routes still answer without sign-in
    agent = Agent(world, config, port, CUSTODY_DASHBOARD_PASSWORD="a dashboard password")
    try:
        wait_for("the first scan to start", world.gate.holding.is_set, agent)
        wait_for("health", lambda: agent.get("/healthz")[0] == 200, agent)
        status, body = agent.get("/readyz")
        assert status == 503 and json.loads(body) == {"ready": False, "reason": "no scan has finished yet"}
        assert agent.query("SELECT status FROM scans") == [("running",)]
        agent.process.send_signal(signal.SIGTERM)
        wait_for("the signal to be handled while the scan is held", lambda: any(
            json.loads(line)["message"] == "agent stopping" for line in agent.log_lines()), agent)
        world.gate.open()
        assert agent.process.wait(timeout=DEADLINE_S) == 0
        assert agent.query("SELECT status FROM scans") == [("interrupted",)]
        assert outbox(agent) == []
        messages = [json.loads(line)["message"] for line in agent.log_lines()]
        assert "received SIGTERM" in messages and messages[-1] == "agent stopped"
    finally:
        world.gate.open()
        agent.kill()


def test_a_missing_secret_stops_the_agent_with_one_line(world):
    config, _ = write_config(world, "no-secret")
    result = subprocess.run([sys.executable, str(ROOT / "agent.py"), "run", "--config", str(config)],
                            cwd=config.parent, env={"PATH": os.environ.get("PATH", "")}, capture_output=True,
                            text=True, timeout=DEADLINE_S)
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "webhook_url_env" in text)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {config}:{line}: webhook_url_env: environment variable CUSTODY_SLACK_WEBHOOK is not set or empty"]


def test_a_state_store_that_cannot_be_written_stops_delivery_and_never_repeats_a_send(world):
    """Issue 15.1: a send whose outcome cannot be recorded stops that channel (logs, metrics, /readyz) and is
    never repeated; once the state store can be written again the held outcome is recorded and nothing is resent."""
    slack = SlackReceiver()
    config, port = write_config(world, "storm")
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)
    try:
        wait_for("the baseline summary on both channels", lambda: len(slack.accepted()) == 1 and {
            row[2] for row in outbox(agent)} == {"delivered"}, agent)
        slack.answer(500)
        world.mail.failing = True
        storm = change_between_scans(world, agent, lambda: world.bucket("acme-bom-storm", "ap-south-1", PERSONAL))
        wait_for("a failed attempt on both channels", lambda: {row[0] for row in outbox(agent, storm)
                                                               if row[2] == "pending" and row[3] >= 1}
                 == {"secops", "dpo"}, agent)
        sent_before = agent.metric('custody_alerts_sent_total{channel="secops"}')
        key = next(row[0] for row in agent.query("SELECT alert_key FROM alert_outbox WHERE scan_id = ?", storm))

        def mails() -> int:
            return sum(1 for message in world.mail.received() if message["X-Custody-Alert"] == key)

        def stormed() -> list[dict[str, Any]]:
            return [payload for payload in slack.accepted() if "acme-bom-storm" in payload["text"]]

        agent.can_write_files(False)  # the state store's volume is full from now on
        slack.answer(200)
        world.mail.failing = False
        wait_for("both channels to stop", lambda: agent.metric('custody_alert_delivery_blocked{channel="secops"}')
                 == 1.0 and agent.metric('custody_alert_delivery_blocked{channel="dpo"}') == 1.0, agent)
        # scans run every second and cannot be recorded either: wait for several of them (the old loop resent
        # every 2 s), then count what arrived
        wait_for("six scans not recorded", lambda: (agent.metric(
            'custody_scan_failures_total{reason="not_recorded"}') or 0) >= 6, agent)
        assert len(stormed()) == 1 and mails() == 1
        assert agent.metric('custody_alerts_sent_total{channel="secops"}') == sent_before + 1
        assert agent.metric("custody_state_up") == 0.0 and agent.metric("custody_state_writable") == 0.0
        assert (agent.metric("custody_consecutive_failed_scans") or 0) >= 6
        status, body = agent.get("/readyz")
        reason = json.loads(body)["reason"]
        assert status == 503 and "alert delivery to dpo stopped: the state store cannot be written" in reason
        assert "alert delivery to secops stopped" in reason
        stopped = [doc for doc in agent.messages() if doc["message"].startswith("alert delivery to secops stopped")]
        assert len(stopped) == 1 and key in stopped[0]["message"]
        assert {row[2] for row in outbox(agent, storm)} == {"pending"}  # nothing could be recorded

        agent.can_write_files(True)  # space again: the held outcomes are recorded, nothing is sent again
        wait_for("the held outcomes to be recorded", lambda: {row[2] for row in outbox(agent, storm)}
                 == {"delivered"}, agent)
        wait_for("a scan to be recorded again", lambda: agent.get("/readyz")[0] == 200, agent)
        assert len(stormed()) == 1 and mails() == 1
        assert agent.metric('custody_alert_delivery_blocked{channel="secops"}') == 0.0
        assert agent.metric("custody_state_up") == 1.0 and agent.metric("custody_consecutive_failed_scans") == 0.0
        assert any(doc["message"] == "alert delivery to secops resumes: the held outcome was recorded"
                   for doc in agent.messages())
        assert agent.signal(signal.SIGTERM) == 0
    finally:
        world.mail.failing = False
        agent.kill()
        slack.stop()


def test_a_partial_scan_keeps_the_last_verdicts_marked_stale(world):
    """Issue 15.4: stores a partial scan met but could not judge keep their last verdict (stale) in the state and
    the metrics; the next complete scan judges them again, and nothing was resolved in between."""
    world.bucket("acme-gru-stale", "sa-east-1", PERSONAL)  # fails
    world.bucket("acme-fra-stale", "eu-central-1")  # passes
    slack = SlackReceiver()
    broken = threading.Event()
    # the endpoint goes away after the bucket listing: every bucket is met, none can be read or judged
    world.proxy.deny(lambda r: broken.is_set() and r.service != "sts" and r.path.split("?")[0] != "/",
                     True)  # type: ignore[arg-type] - True: the connection drops
    config, port = write_config(world, "stale")
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)
    try:
        wait_for("the baseline summary", lambda: len(slack.accepted()) == 1, agent)
        verdicts = dict(agent.query("SELECT id, status FROM stores WHERE gone_at IS NULL"))
        assert verdicts["arn:aws:s3:::acme-gru-stale"] == "fail" and verdicts["arn:aws:s3:::acme-fra-stale"] == "pass"
        fail, passing = agent.metric('custody_stores{status="fail"}'), agent.metric('custody_stores{status="pass"}')
        assert fail and passing and agent.metric("custody_stale_stores") == 0.0

        partial = change_between_scans(world, agent, broken.set)
        assert agent.query("SELECT status, counts FROM scans WHERE id = ?", partial)[0][0] == "partial"
        counts = json.loads(agent.query("SELECT counts FROM scans WHERE id = ?", partial)[0][0])
        unjudged = counts["not_evaluated"]
        assert unjudged >= 1  # the scan's own report: the passing bucket could not be judged ...
        assert dict(agent.query("SELECT id, status FROM stores WHERE gone_at IS NULL")) == verdicts  # ... kept
        assert agent.query("SELECT last_scan_id FROM stores WHERE id = 'arn:aws:s3:::acme-fra-stale'") != [(partial,)]
        assert agent.metric('custody_stores{status="fail"}') == fail
        assert agent.metric('custody_stores{status="pass"}') == passing
        assert agent.metric("custody_stale_stores") == unjudged
        assert not agent.query("SELECT kind FROM events WHERE scan_id = ?", partial)  # nothing changed
        told = wait_for("the partial scan's alert", lambda: [p["text"] for p in slack.accepted()[1:]], agent)
        regions = {row[0] for row in agent.query("SELECT region FROM stores WHERE gone_at IS NULL")}
        assert told == [f"[medium] Scan {partial} is partial: {len(regions)} part(s) of the estate could not be read"]
        body = "\n".join(b["text"]["text"] for b in slack.accepted()[1]["blocks"] if b["type"] == "section")
        assert "keep their last verdict, marked stale with the scan that last judged them" in body

        recovered = change_between_scans(world, agent, broken.clear)
        assert agent.query("SELECT status FROM scans WHERE id = ?", recovered) == [("complete",)]
        assert dict(agent.query("SELECT id, status FROM stores WHERE gone_at IS NULL")) == verdicts
        assert agent.metric("custody_stale_stores") == 0.0
        wait_for("the recovery alert", lambda: len(slack.accepted()) == 3, agent)
        assert slack.accepted()[2]["text"] == f"[info] Scan {recovered} is complete again"
        assert agent.signal(signal.SIGTERM) == 0
    finally:
        broken.clear()
        agent.kill()
        slack.stop()


def test_a_scope_change_is_not_a_fix_and_a_copy_on_foreign_soil_keeps_the_policy_severity(world):
    """Issues 15.2 and 15.3, with the US outside home: the US reaches every bucket through AWS's control, so a
    personal bucket fails. A replica to the US is told at the policy's severity with the new location ground
    beside control; retagging the bucket out of the policy's scope is told as a scope change, not a fix."""
    world.bucket("acme-fra-people", "eu-central-1", PERSONAL)
    world.bucket("acme-dub-people", "eu-west-1", PERSONAL)
    world.bucket("acme-iad-people", "us-east-1")
    slack = SlackReceiver()
    config, port = write_config(world, "scope", home=("EU",))
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)
    fra = "arn:aws:s3:::acme-fra-people"
    try:
        wait_for("the baseline summary", lambda: len(slack.accepted()) == 1, agent)
        assert agent.query("SELECT status FROM stores WHERE id = ?", fra) == [("fail",)]

        replica = change_between_scans(world, agent, lambda: world.replicate(
            "acme-fra-people", "eu-central-1", "acme-iad-people", "us-east-1"))
        copy = wait_for("the new copy's alert", lambda: [p for p in slack.accepted() if "acme-fra-people" in p["text"]],
                        agent)
        assert [p["text"] for p in copy] == [
            "[critical] New copy in us-east-1 (Northern Virginia, United States): s3-bucket acme-fra-people"]
        sections = "\n".join(b["text"]["text"] for b in copy[0]["blocks"] if b["type"] == "section")
        assert "• United States (US), location + control + " in sections  # the new ground beside control
        assert "direct, plaintext: s3-bucket acme-fra-people → replica copy in us-east-1 (Northern Virginia" in sections
        assert "United States now reaches it by location (before: control); still fails eu-personal" in sections
        subjects = wait_for("the mail", lambda: [str(m["Subject"]) for m in world.mail.received()
                                                 if m["X-Custody-Alert"].startswith(replica)], agent)
        assert subjects == ["[Custody] [critical] New copy in us-east-1 (Northern Virginia, United States): "
                            "s3-bucket acme-fra-people"]  # the route with min_severity high gets it

        def retag() -> None:  # both personal buckets: the one with a US copy, the one the US reaches by control
            for name, region in (("acme-fra-people", "eu-central-1"), ("acme-dub-people", "eu-west-1")):
                world.s3(region).put_bucket_tagging(Bucket=name, Tagging={"TagSet": [
                    {"Key": "data-class", "Value": "internal"}]})

        scoped = change_between_scans(world, agent, retag)
        told = wait_for("the scope changes", lambda: sorted(
            (p["text"], "\n".join(b["text"]["text"] for b in p["blocks"] if b["type"] == "section"))
            for p in slack.accepted()[2:]) if len(slack.accepted()) >= 4 else None, agent)
        assert [text for text, _ in told] == [
            "[critical] No longer covered by eu-personal: s3-bucket acme-dub-people — "
            "tag data-class changed from personal to internal",
            "[critical] No longer covered by eu-personal: s3-bucket acme-fra-people — "
            "tag data-class changed from personal to internal"]
        # dub: its finding was resolved although the US still reaches it; fra: the default policy objects instead
        assert "This is not a fix: United States (control) still reaches it." in told[0][1]
        assert "This is not a fix: United States (location) still reaches it." in told[1][1]
        assert not any("Resolved" in p["text"] for p in slack.accepted())
        assert agent.query("SELECT kind FROM alert_outbox WHERE scan_id = ? AND channel = 'secops'", scoped) == [
            ("scope_changed",), ("scope_changed",)]
        assert agent.signal(signal.SIGTERM) == 0
    finally:
        agent.kill()
        slack.stop()


def custody(config: Path, *args: str) -> subprocess.CompletedProcess:
    """`agent.py ARGS --config FILE`, as an operator runs it beside the agent."""
    return subprocess.run([sys.executable, str(ROOT / "agent.py"), *args, "--config", str(config)], cwd=config.parent,
                          env={"PATH": os.environ.get("PATH", "")}, capture_output=True, text=True, timeout=DEADLINE_S)


def test_a_channel_that_fails_for_good_is_told_elsewhere_and_its_alerts_can_be_retried(world):
    """Issue 15.6: Slack answers 404 (a removed webhook): the alert fails for good, the mail channel is told once;
    `alerts list --state failed` shows it, and `alerts retry --failed` sends it once Slack is back."""
    slack = SlackReceiver()
    config, port = write_config(world, "retry")
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)
    try:
        wait_for("the baseline summary on both channels", lambda: len(slack.accepted()) == 1 and {
            row[2] for row in outbox(agent)} == {"delivered"}, agent)
        slack.answer(404)
        lost = change_between_scans(world, agent, lambda: world.bucket("acme-cpt-lost", "af-south-1", PERSONAL))
        wait_for("the alert to fail for good on Slack", lambda: ("secops", "store_failing", "failed", 1) in
                 outbox(agent, lost), agent)
        told = wait_for("the mail about the channel", lambda: [m for m in world.mail.received()
                                                                if m["X-Custody-Alert"].startswith("channel:secops:")],
                        agent)
        assert len(told) == 1
        assert str(told[0]["Subject"]) == "[Custody] [high] Alert channel secops failed for good: HTTP 404: " \
                                          "invalid_payload"
        assert "custody alerts retry --failed" in told[0].get_body(("plain",)).get_content()
        assert HOOK_SECRET not in told[0].as_string()

        listing = custody(config, "alerts", "list", "--state", "failed", "--format", "json")
        assert listing.returncode == 0, listing.stderr
        rows = json.loads(listing.stdout)
        assert [(row["channel"], row["kind"], row["status"], row["last_error"]) for row in rows] == [
            ("secops", "store_failing", "failed", "HTTP 404: invalid_payload")]
        assert "acme-cpt-lost" in rows[0]["title"]
        table = custody(config, "alerts", "list", "--state", "failed").stdout.splitlines()
        assert table[0].split()[:3] == ["id", "status", "channel"] and "acme-cpt-lost" in table[1]
        assert custody(config, "alerts", "retry").returncode == 2  # neither --failed nor ids: one line
        assert custody(config, "alerts", "retry").stderr.startswith("error: alerts retry: give --failed or")

        slack.answer(200)
        retried = custody(config, "alerts", "retry", "--failed")
        assert retried.returncode == 0 and retried.stdout.strip() == f"1 alert(s) queued again: {rows[0]['id']}"
        wait_for("the retried alert", lambda: ("secops", "store_failing", "delivered", 2) in outbox(agent, lost),
                 agent)
        assert [p["text"] for p in slack.accepted()[1:]] == [
            "[critical] New failing store: s3-bucket acme-cpt-lost — reachable by South Africa"]
        assert custody(config, "alerts", "retry", str(rows[0]["id"])).returncode == 1  # delivered: never again
        assert len([m for m in world.mail.received() if m["X-Custody-Alert"].startswith("channel:secops:")]) == 1
        assert agent.signal(signal.SIGTERM) == 0
    finally:
        agent.kill()
        slack.stop()


def test_readiness_and_metrics_follow_failed_scans_open_findings_and_the_backlog(world):
    """Issue 15.7: /readyz turns 503 after `ready_max_failed_scans` failed scans in a row and back after one that
    reads; failures are counted by reason; open findings by severity and policy, the oldest pending alert's age,
    build info and the process collectors are exported."""
    world.bucket("acme-nrt-ready", "ap-northeast-1", PERSONAL)
    slack = SlackReceiver()
    down = threading.Event()
    world.proxy.deny(lambda r: down.is_set(), True)  # type: ignore[arg-type] - True: the connection drops
    config, port = write_config(world, "ready", agent={"ready_max_failed_scans": 2})
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)
    try:
        wait_for("the baseline summary", lambda: len(slack.accepted()) == 1, agent)
        assert agent.get("/readyz")[0] == 200
        metrics = agent.get("/metrics")[1]
        assert 'custody_build_info{python="' in metrics and 'version="' in metrics
        assert "process_resident_memory_bytes" in metrics and "process_open_fds" in metrics
        assert agent.metric('custody_scan_failures_total{reason="nothing_read"}') == 0.0
        open_findings = dict(agent.query(
            "SELECT f.policy, count(*) FROM findings f JOIN stores s ON s.id = f.store_id WHERE f.resolved_at IS NULL "
            "AND s.gone_at IS NULL AND f.severity = 'critical' AND f.waived = 0 GROUP BY f.policy"))
        assert agent.metric('custody_open_findings{policy="eu-personal",severity="critical"}') \
            == open_findings["eu-personal"] >= 1
        assert agent.metric('custody_alert_oldest_pending_age_seconds{channel="secops"}') == 0.0

        slack.answer(500)  # an alert waits: its age shows
        change_between_scans(world, agent, lambda: world.bucket("acme-icn-ready", "ap-northeast-2", PERSONAL))
        wait_for("a pending alert with an age", lambda: (agent.metric(
            'custody_alert_oldest_pending_age_seconds{channel="secops"}') or 0) > 0, agent)
        slack.answer(200)

        down.set()  # nothing can be read: each scan fails
        wait_for("two failed scans", lambda: (agent.metric('custody_scan_failures_total{reason="nothing_read"}') or 0)
                 >= 2, agent)
        status, body = agent.get("/readyz")
        assert status == 503 and "scan jobs failed" in json.loads(body)["reason"]
        assert agent.metric("custody_consecutive_failed_scans") >= 2
        down.clear()
        wait_for("a scan that reads", lambda: agent.get("/readyz")[0] == 200, agent)
        assert agent.metric("custody_consecutive_failed_scans") == 0.0
        assert agent.signal(signal.SIGTERM) == 0
    finally:
        down.clear()
        agent.kill()
        slack.stop()


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung mail server."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[Any] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def stop(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


def test_shutdown_with_a_hung_scan_and_a_hung_mail_server_is_bounded_by_the_stop_timeout(world):
    """Issue 15.5: SIGTERM while a scan hangs inside an account (its first call held) and a send hangs on a mail
    server that never answers: the scan is recorded interrupted and the process exits 0 within
    stop_timeout_seconds (plus the interpreter's own exit)."""
    stop_timeout = 3
    hung = SilentServer()
    slack = SlackReceiver()
    channels = {
        "secops": {"type": "slack", "webhook_url_env": "CUSTODY_SLACK_WEBHOOK", "min_interval_seconds": 0.1},
        "dpo": {"type": "email", "host": "127.0.0.1", "port": hung.port, "security": "none",
                "from": "custody@example.com", "to": ["dpo@example.com"], "timeout_seconds": 120},
    }
    config, port = write_config(world, "bounded", agent={"stop_timeout_seconds": stop_timeout},
                                alerts={"channels": channels, "routes": []})
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)
    try:
        wait_for("the baseline summary on Slack", lambda: len(slack.accepted()) == 1, agent)
        wait_for("the mail channel to hang", lambda: hung.accepted, agent)
        world.gate.close()
        wait_for("a scan to hang inside the account", world.gate.holding.is_set, agent)
        running = wait_for("the hung scan's row", lambda: agent.query("SELECT id FROM scans WHERE status = 'running'"),
                           agent)
        started = time.monotonic()
        agent.process.send_signal(signal.SIGTERM)
        code = agent.process.wait(timeout=DEADLINE_S)
        elapsed = time.monotonic() - started
        print(f"shutdown took {elapsed:.2f} s (stop_timeout_seconds {stop_timeout})")
        agent.kill()
        assert code == 0
        assert elapsed < stop_timeout + 2.0, f"stopped in {elapsed:.1f} s with stop_timeout_seconds {stop_timeout}"
        assert agent.query("SELECT status FROM scans WHERE id = ?", running[0][0]) == [("interrupted",)]
        messages = [doc["message"] for doc in agent.messages()]
        assert messages[-1] == "agent stopped"
        assert any(m.startswith("stop timeout reached: abandoning") for m in messages)  # the hung send
        assert not any(m.startswith("the scan in flight did not stop") for m in messages)  # cancelled inside
        assert ("dpo", "summary", "pending", 0) in outbox(agent)  # the hung send stays queued
    finally:
        world.gate.open()
        agent.kill()
        hung.stop()
        slack.stop()


def test_the_deploy_manifests_grace_periods_exceed_the_agents_stop_timeout():
    """Issue 15.5: the orchestrator must not kill the agent before its own bound on stopping is up."""
    from runtime.agent_config import load_agent_settings
    from scanner.yamlfile import Node

    deploy = ROOT / "deploy"

    def stop_timeout(text: str) -> int:
        agent_section = (yaml.safe_load(text) or {}).get("agent")
        return load_agent_settings(Node(agent_section, "custody.yaml", 1, "agent")).stop_timeout_seconds

    kubernetes = list(yaml.safe_load_all((deploy / "kubernetes" / "deployment.yaml").read_text()))
    grace = next(doc for doc in kubernetes if doc and doc.get("kind") == "Deployment")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"]
    configmap = yaml.safe_load((deploy / "kubernetes" / "configmap.yaml").read_text())
    assert grace > stop_timeout(configmap["data"]["custody.yaml"]) + 5
    for compose, mounted in (("compose.yaml", "custody.example.yaml"), ("compose.replicas.yaml",
                                                                        "custody.replicas.yaml")):
        services = yaml.safe_load((deploy / compose).read_text())["services"]
        periods = [int(str(s["stop_grace_period"]).rstrip("s")) for s in services.values() if "stop_grace_period" in s]
        assert periods and min(periods) > stop_timeout((deploy / mounted).read_text()) + 5, compose


def test_teams_pagerduty_and_a_signed_webhook_go_through_the_outbox(world):
    """Issue 15.8: a Teams workflow gets an Adaptive Card, PagerDuty a trigger per new critical finding and a resolve
    with the same dedup key when it is fixed, a generic webhook a body signed with HMAC-SHA256 (retried after a 500
    like every channel); e-mails carry Auto-Submitted and the store alert names the owner, the scope tag and what
    to do next."""
    from alerts.webhook import verify_signature

    teams, pagerduty, hook = SlackReceiver(), SlackReceiver(), SlackReceiver()
    pagerduty.answer(202)
    teams.answer(202)
    hook.answer(500)  # the first attempt fails: retried with backoff
    hook_secret = "whsec-" + uuid.uuid4().hex
    routing_key = "R0" + uuid.uuid4().hex
    channels = {
        "teams": {"type": "teams", "url_env": "CUSTODY_TEAMS_URL", "min_interval_seconds": 0.1},
        "oncall": {"type": "pagerduty", "routing_key_env": "CUSTODY_PD_KEY", "events_url": pagerduty.url
                   + "/v2/enqueue"},
        "hook": {"type": "webhook", "url_env": "CUSTODY_HOOK_URL", "secret_env": "CUSTODY_HOOK_SECRET"},
        "dpo": {"type": "email", "host": "127.0.0.1", "port": world.mail.port, "security": "starttls",
                "username": "custody", "password_file": "smtp-password", "from": "custody@example.com",
                "to": ["dpo@example.com"], "ca_file": str(world.mail.cert)},
    }
    config, port = write_config(world, "channels", alerts={"channels": channels, "routes": []})
    agent = Agent(world, config, port, CUSTODY_TEAMS_URL=teams.url + "/workflows/custody",
                  CUSTODY_PD_KEY=routing_key, CUSTODY_HOOK_URL=hook.url + "/custody", CUSTODY_HOOK_SECRET=hook_secret)
    try:
        wait_for("the baseline on every channel", lambda: {row[0] for row in outbox(agent) if row[2] == "delivered"}
                 == {"teams", "oncall", "dpo"} and len(hook.all_posts()) >= 1, agent)
        assert pagerduty.all_posts() == []  # a summary pages nobody
        hook.answer(200)
        wait_for("the webhook's retry", lambda: ("hook", "summary", "delivered", 2) in outbox(agent), agent)

        opened = change_between_scans(world, agent, lambda: world.bucket("acme-cpt-paged", "af-south-1", PERSONAL))
        wait_for("the alert on every channel", lambda: {row[2] for row in outbox(agent, opened)} == {"delivered"}
                 and len(outbox(agent, opened)) == 4, agent)
        title = "[critical] New failing store: s3-bucket acme-cpt-paged — reachable by South Africa"

        card = teams.accepted()[-1]["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["type"] == "AdaptiveCard" and card["content"]["body"][0]["text"] == title
        texts = [block["text"] for block in card["content"]["body"]]
        assert "What to do next" in texts and "Why it is covered" in texts
        assert card["content"]["actions"][0]["url"].startswith("https://custody.example.com/store?id=")

        [trigger] = pagerduty.accepted()
        assert trigger["routing_key"] == routing_key and trigger["event_action"] == "trigger"
        assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["class"] == "eu-personal"
        fingerprint = agent.query("SELECT fingerprint FROM findings WHERE store_id = 'arn:aws:s3:::acme-cpt-paged'")
        assert trigger["dedup_key"] == f"custody:{fingerprint[0][0]}"

        post = hook.all_posts()[-1]
        assert post.status == 200 and post.payload["alert"]["title"] == title[len("[critical] "):]
        assert post.headers["X-Custody-Alert"] == post.payload["key"]
        assert verify_signature(hook_secret, post.headers["X-Custody-Signature"], post.raw)
        assert not verify_signature("another secret", post.headers["X-Custody-Signature"], post.raw)
        assert not verify_signature(hook_secret, post.headers["X-Custody-Signature"], post.raw + b" ")

        mail = next(m for m in world.mail.received() if m["X-Custody-Alert"] == post.payload["key"])
        assert mail["Auto-Submitted"] == "auto-generated"
        text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert "(aws account 123456789012 of Acme Inc., af-south-1)" in text
        assert "Why it is covered\n" in text and "\n  - eu-personal: tag data-class=personal\n" in text
        assert "What to do next\n  - Move the copies" in text

        resolved = change_between_scans(world, agent, lambda: world.delete("acme-cpt-paged", "af-south-1"))
        wait_for("the resolution", lambda: len(pagerduty.accepted()) == 2, agent)
        assert pagerduty.accepted()[1] == {"routing_key": routing_key, "event_action": "resolve",
                                           "dedup_key": trigger["dedup_key"]}
        wait_for("the resolution everywhere", lambda: {row[2] for row in outbox(agent, resolved)} == {"delivered"},
                 agent)
        everything = "".join(p.raw.decode() for r in (teams, pagerduty, hook) for p in r.all_posts())
        assert hook_secret not in everything and HOOK_SECRET not in everything
        assert agent.signal(signal.SIGTERM) == 0
        assert hook_secret not in agent.log.read_text() and routing_key not in agent.log.read_text()
    finally:
        agent.kill()
        for receiver in (teams, pagerduty, hook):
            receiver.stop()


def test_a_failed_scan_is_told_again_on_an_interval_and_critical_findings_are_reminded(world):
    """Issue 15.8 as a running agent (scans every second, intervals of seconds): a scan that stays failed is told
    again every repeat_failed_scan_minutes, not once and not every scan; an open critical finding is reminded
    once per remind_after_hours."""
    repeat_s, remind_s = 3.0, 3.6
    world.bucket("acme-jnb-remind", "af-south-1", PERSONAL)
    slack = SlackReceiver()
    down = threading.Event()
    world.proxy.deny(lambda r: down.is_set(), True)  # type: ignore[arg-type] - True: the connection drops
    config, port = write_config(world, "repeat", alerts={"repeat_failed_scan_minutes": repeat_s / 60,
                                                         "remind_after_hours": remind_s / 3600})
    agent = Agent(world, config, port, CUSTODY_SLACK_WEBHOOK=slack.url + HOOK_SECRET)

    def rows(kind: str) -> list[tuple[str, str]]:
        return agent.query("SELECT created_at, payload FROM alert_outbox WHERE kind = ? AND channel = 'secops' "
                           "ORDER BY id", kind)

    def gaps(kind: str) -> list[float]:
        times = [dt.datetime.fromisoformat(created) for created, _ in rows(kind)]
        return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]

    try:
        wait_for("two reminders", lambda: len(rows("reminder")) >= 2, agent)
        assert min(gaps("reminder")) >= remind_s  # at most once per remind_after_hours
        reminder = json.loads(rows("reminder")[0][1])
        assert reminder["severity"] == "critical" and "acme-jnb-remind" in "\n".join(reminder["lines"])
        down.set()
        wait_for("three failed-scan alerts", lambda: len(rows("scan_failed")) >= 3, agent)
        failed_scans = agent.query("SELECT count(*) FROM scans WHERE status = 'failed'")[0][0]
        assert failed_scans > len(rows("scan_failed"))  # not every scan ...
        assert min(gaps("scan_failed")) >= repeat_s  # ... but every interval
        titles = [json.loads(payload)["title"] for _, payload in rows("scan_failed")]
        assert not titles[0].endswith("(still)") and all(title.endswith("(still)") for title in titles[1:])
        wait_for("the alerts on Slack", lambda: sum(p["text"].startswith("[high] Scan") for p in slack.accepted())
                 >= 3, agent)
        down.clear()
        assert agent.signal(signal.SIGTERM) == 0
    finally:
        down.clear()
        agent.kill()
        slack.stop()
