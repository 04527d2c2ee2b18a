"""The agent as a user runs it (`python agent.py run`) with `agent.events.aws`: a bucket created between two
scheduled scans an hour apart is told on Slack from its CloudTrail event, through a targeted scan."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from demo.cloud_events import cloudtrail, route_aws_events
from demo.moto_server import free_port, start_moto
from tests.alert_receivers import SlackReceiver

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"  # moto's default account
DEADLINE_S = 60.0


def wait_for(what: str, check: Callable[[], Any], process: subprocess.Popen, log: Path) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if process.poll() is not None:
            pytest.fail(f"agent exited ({process.returncode}) waiting for {what}:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def query(db: Path, sql: str) -> list[tuple]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []


def test_the_agent_consumes_change_events_between_scheduled_scans(tmp_path):
    hook = "/services/T0CUSTODY/B0EVENTS/" + uuid.uuid4().hex
    with start_moto(("bucket_region",)) as moto:
        slack = SlackReceiver()
        try:
            queue = route_aws_events(moto.url)
            config = {
                "home": "EU", "state": "state.db",
                "companies": [{"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE"}],
                "accounts": {ACCOUNT: {"owner": "acme-europe"}},
                "providers": {"aws": {"regions": ["us-east-1", "eu-central-1"], "services": ["s3"],
                                      "max_attempts": 1}},
                "agent": {"schedule": {"interval_minutes": 60}, "listen": f"127.0.0.1:{free_port()}",
                          "events": {"aws": {"queue_url": queue, "wait_seconds": 1}}},
                "alerts": {"channels": {"secops": {"type": "slack", "webhook_url_env": "CUSTODY_SLACK_WEBHOOK",
                                                   "min_interval_seconds": 0.1}}},
            }
            (tmp_path / "custody.yaml").write_text(yaml.safe_dump(config))
            log = tmp_path / "agent.log"
            env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "testing",
                   "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                   "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                   "AWS_EC2_METADATA_DISABLED": "true", "CUSTODY_SLACK_WEBHOOK": slack.url + hook}
            with log.open("ab") as stderr:
                process = subprocess.Popen([sys.executable, str(ROOT / "agent.py"), "run", "--config",
                                            str(tmp_path / "custody.yaml")], cwd=tmp_path, env=env,
                                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
            try:
                db = tmp_path / "state.db"
                wait_for("the start-up scan's alerts", lambda: query(db, "SELECT scan_id FROM alert_scans"),
                         process, log)
                s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1",
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
                s3.create_bucket(Bucket="us-made-at-ten")
                events = boto3.client("events", endpoint_url=moto.url, region_name="us-east-1",
                                      aws_access_key_id="testing", aws_secret_access_key="testing")
                entry = cloudtrail("CreateBucket", "s3", "us-east-1", {"bucketName": "us-made-at-ten"})
                events.put_events(Entries=[entry])

                texts = wait_for("the bucket told on Slack", lambda: [
                    p["text"] for p in slack.accepted() if "us-made-at-ten" in json.dumps(p)], process, log)
                assert texts
                scans = query(db, "SELECT status FROM scans ORDER BY seq")
                assert [status for (status,) in scans] == ["complete", "targeted"], \
                    "told from the event, not from a second scheduled scan"
                assert process.send_signal(signal.SIGTERM) is None and process.wait(timeout=30) == 0
                lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
                assert any(line.get("message") == "event consumer stopped" for line in lines)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        finally:
            slack.stop()
