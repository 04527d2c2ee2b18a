"""Alerts, unit by unit: which changes produce which alerts, keeping quiet, routing, idempotency,
the outbox and its retry schedule, the Slack and e-mail senders, and secret masking.

Scans are recorded in a real StateStore (SQLite in tmp_path) from stores judged by the real
control test and policies, so the alert pipeline reads exactly what an agent would.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import uuid
from pathlib import Path

import pytest

from alerts.config import (
    AlertSettings,
    DeliverySettings,
    EmailSettings,
    Route,
    SlackSettings,
    load_alert_settings,
)
from alerts.db import Database
from alerts.delivery import ChannelWorker, backoff_delay, next_attempt_delay
from alerts.email import EmailSender, build_message, message_id
from alerts.model import Alert
from alerts.outbox import DELIVERED, FAILED, PENDING, enqueue, rows_for
from alerts.pipeline import AlertPipeline
from alerts.routing import channels_for
from alerts.sending import SendResult
from alerts.slack import SlackSender, blocks, classify_http
from demo.moto_server import free_port
from runtime.agent_config import load_agent_settings
from runtime.health import readiness
from runtime.logging_json import JsonFormatter
from scanner.clock import now_text
from scanner.discovered import DiscoveredStore
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult, TargetResult
from scanner.policy import Policy, Scope, Waiver
from scanner.secrets import SecretRef, mask, register_secret
from scanner.yamlfile import Node, read_yaml
from state.store import StateStore
from tests.alert_receivers import MailServer, SlackReceiver
from tests.helpers import catalog, config, judge

ACCOUNT = "111111111111"
HOME = ("EU", "GB", "US")  # the operators' control reach is accepted: only where the copies are matters
PERSONAL = {"data-class": "personal"}
POLICIES = [
    Policy("default-home-only", HOME, Scope(), severity="high"),
    Policy("eu-personal", HOME, Scope(tags=PERSONAL), severity="critical"),
]
FAR_FUTURE, LONG_AGO = dt.date(2099, 12, 31), dt.date(2020, 1, 1)
_clock = itertools.count()


# ---- building blocks -----------------------------------------------------------------------------

def store(name: str, *locations: tuple[str, str], tags: dict | None = None, waivers: list[Waiver] | None = None,
          account: str = ACCOUNT) -> DataStore:
    found = DiscoveredStore(id=f"arn:aws:s3:::{name}", provider="aws", account=account, kind="s3-bucket", name=name,
                            region=locations[0][0], tags=tags or {})
    for region, role in locations:
        found.add_location(region, role, "test")
    # a US owner: the UK's and Australia's agreements with the US exclude its data (18 U.S.C. § 2523(b)(4)(A))
    cfg = config("acme-inc", account=account)
    return judge(found, cfg, home=HOME, policies=POLICIES, waivers=waivers or [])


def waiver(name: str, expires: dt.date) -> Waiver:
    return Waiver(store=f"arn:aws:s3:::{name}", reason="Migration planned, SEC-1", approver="dpo@example.com",
                  expires=expires)


def record(state: StateStore, stores: list[DataStore], status: str = "complete",
           failed_targets: int = 0) -> ScanResult:
    """Record a scan of `stores` as the scanner would (targets: the account's S3 read, or not)."""
    started = (dt.datetime(2026, 11, 27, tzinfo=dt.UTC) + dt.timedelta(minutes=next(_clock))).isoformat()
    targets = [TargetResult("aws", ACCOUNT, "*", "s3", "ok", None, len(stores))]
    targets += [TargetResult("aws", ACCOUNT, f"region-{i}", "dynamodb", "error", "EndpointConnectionError: boom")
                for i in range(failed_targets)]
    if status == "failed":
        targets = [TargetResult("aws", ACCOUNT, "*", "s3", "error", "AccessDenied: no")]
    scan = ScanResult(id=uuid.uuid4().hex[:12], started_at=started, status=status, targets=targets,
                      counts={"stores": len(stores), "fail": sum(s.status == "fail" for s in stores),
                              "pass": sum(s.status == "pass" for s in stores)})
    state.finish_scan(scan, stores)
    return scan


def slack_settings(name: str = "slack") -> SlackSettings:
    return SlackSettings(name, webhook_url=SecretRef("webhook_url", env="UNUSED_IN_THIS_TEST"))


def email_settings(name: str = "mail", port: int = 25, **kwargs) -> EmailSettings:
    return EmailSettings(name, host="127.0.0.1", sender="custody@example.com", to=("dpo@example.com",), port=port,
                         **kwargs)


def settings(routes: list[Route] | None = None, threshold: int = 20) -> AlertSettings:
    return AlertSettings(summary_threshold=threshold, channels={"slack": slack_settings(), "mail": email_settings()},
                         routes=routes or [])


@pytest.fixture
def state(tmp_path: Path):
    with StateStore(str(tmp_path / "state.db")) as store_:
        yield store_


def outbox(state: StateStore, channel: str | None = None) -> list[dict]:
    with Database(state).read() as conn:
        return rows_for(conn, channel)


def told(state: StateStore, channel: str, scan: ScanResult) -> set[tuple[str, str]]:
    """(kind, store name or scan id) of the alerts queued for a channel by one scan."""
    return {(row["kind"], row["payload"]["subject"].removeprefix("arn:aws:s3:::"))
            for row in outbox(state, channel) if row["scan_id"] == scan.id}


def make_pipeline(state: StateStore, alert_settings: AlertSettings | None = None) -> AlertPipeline:
    return AlertPipeline(Database(state), alert_settings or settings(), "https://custody.example.com",
                         name_of=catalog().jurisdiction_name)


# ---- what is worth telling ------------------------------------------------------------------------

ESTATE = {
    "fra": lambda: store("acme-fra", ("eu-central-1", "primary"), tags=PERSONAL),
    "dub": lambda: store("acme-dub", ("eu-west-1", "primary")),
    "gru": lambda: store("acme-gru", ("sa-east-1", "primary")),  # fails: Brazil by location
    "yul": lambda: store("acme-yul", ("ca-central-1", "primary"), waivers=[waiver("acme-yul", FAR_FUTURE)]),
}


def test_first_scan_is_one_summary_per_channel(state):
    pipeline = make_pipeline(state)
    scan = record(state, [make() for make in ESTATE.values()])
    done = pipeline.process()
    assert [(d.scan_id, d.baseline) for d in done] == [(scan.id, True)]
    rows = outbox(state)
    assert sorted((row["channel"], row["kind"]) for row in rows) == [("mail", "summary"), ("slack", "summary")]
    summary = rows[0]["payload"]
    assert summary["title"].startswith("Custody is now watching 4 data store(s): 1 fail, 3 pass")
    assert any("acme-gru" in line and "Brazil" in line for line in summary["lines"])


def test_each_kind_of_change_is_told_once_per_store(state):
    pipeline = make_pipeline(state)
    record(state, [make() for make in ESTATE.values()])
    pipeline.process()
    changed = [
        store("acme-fra", ("eu-central-1", "primary"), ("eu-west-3", "replica"), tags=PERSONAL),  # + France
        store("acme-dub", ("eu-west-1", "primary"), ("us-east-1", "replica")),  # new copy, reach unchanged (US)
        # acme-gru deleted
        store("acme-yul", ("ca-central-1", "primary"), waivers=[waiver("acme-yul", LONG_AGO)]),  # waiver expired
        store("acme-syd", ("ap-southeast-2", "primary"), tags=PERSONAL),  # a new store abroad
        store("acme-ber", ("eu-central-1", "primary")),  # a new store that passes: nothing to tell
    ]
    scan = record(state, changed)
    pipeline.process()
    expected = {
        ("reach_added", "acme-fra"), ("location_added", "acme-dub"), ("finding_resolved", "acme-gru"),
        ("waiver_expired", "acme-yul"), ("store_failing", "acme-syd"),
    }
    assert told(state, "slack", scan) == expected
    assert told(state, "mail", scan) == expected
    alerts = {row["payload"]["subject"].removeprefix("arn:aws:s3:::"): row["payload"]
              for row in outbox(state, "slack") if row["scan_id"] == scan.id}
    syd = alerts["acme-syd"]
    assert syd["severity"] == "critical" and syd["policies"] == ["default-home-only", "eu-personal"]
    assert syd["title"] == "New failing store: s3-bucket acme-syd — reachable by Australia"
    assert {(c["country"], c["city"], c["role"]) for c in syd["copies"]} == {("AU", "Sydney", "primary")}
    assert [r["jurisdiction"] for r in syd["reach"]] == ["AU"] and "territorial" in syd["reach"][0]["path"]
    assert syd["link"] == "https://custody.example.com/store?id=arn%3Aaws%3As3%3A%3A%3Aacme-syd"
    assert alerts["acme-fra"]["title"] == "Newly reachable by France: s3-bucket acme-fra"
    assert alerts["acme-fra"]["severity"] == "info"
    assert any("New replica copy in eu-west-3 (Paris, France)" in c for c in alerts["acme-fra"]["changes"])
    assert alerts["acme-dub"]["title"].startswith("New copy in us-east-1 (")
    assert alerts["acme-gru"]["title"] == "Resolved: s3-bucket acme-gru (store deleted)"
    assert alerts["acme-gru"]["severity"] == "high"
    assert any("Waiver expired on 2020-01-01" in c for c in alerts["acme-yul"]["changes"])
    # a scan with no changes tells nothing, and the same scan is never processed twice
    quiet = record(state, changed)
    assert pipeline.process()[0].queued == 0
    assert pipeline.process() == []
    assert told(state, "slack", quiet) == set()


def test_a_removed_waiver_and_a_reopened_finding_are_told(state):
    pipeline = make_pipeline(state)
    yul = [store("acme-yul", ("ca-central-1", "primary"), waivers=[waiver("acme-yul", FAR_FUTURE)])]
    record(state, [*yul, ESTATE["gru"]()])
    pipeline.process()
    record(state, [store("acme-yul", ("ca-central-1", "primary"))])  # waiver gone; acme-gru deleted
    pipeline.process()
    scan = record(state, [store("acme-yul", ("ca-central-1", "primary")), ESTATE["gru"]()])  # acme-gru is back
    pipeline.process()
    assert told(state, "slack", scan) == {("store_failing", "acme-gru")}
    row = next(r for r in outbox(state, "slack") if r["scan_id"] == scan.id)
    assert any("reopened" in change for change in row["payload"]["changes"])
    kinds = [(r["kind"], r["payload"]["changes"][0]) for r in outbox(state, "slack")]
    assert kinds[1:3] == [("finding_resolved", "Resolved: default-home-only — Brazil (location) no longer reaches it."),
                          ("waiver_expired", "Waiver removed; fails default-home-only [high] again: Canada can "
                           "compel access (location, direct, territorial jurisdiction (S.S. Lotus, PCIJ Ser. A No. 10 "
                           "(1927))) outside home EU/GB/US: s3-bucket acme-yul → primary copy in ca-central-1 "
                           "(Canada) → territorial jurisdiction (S.S. Lotus, PCIJ Ser. A No. 10 (1927))")]


def test_a_partial_scan_resolves_nothing_and_is_told_when_it_goes_partial(state):
    pipeline = make_pipeline(state)
    record(state, [ESTATE["gru"](), ESTATE["fra"]()])
    pipeline.process()
    partial = record(state, [ESTATE["fra"]()], status="partial", failed_targets=2)  # acme-gru not seen
    pipeline.process()
    assert told(state, "slack", partial) == {("scan_partial", partial.id)}
    alert = outbox(state, "slack")[-1]["payload"]
    assert alert["severity"] == "medium" and len(alert["lines"]) == 2 and "EndpointConnectionError" in alert["lines"][0]
    again = record(state, [ESTATE["fra"]()], status="partial", failed_targets=1)
    pipeline.process()
    assert told(state, "slack", again) == set()  # still partial: not told again
    complete = record(state, [ESTATE["fra"]()])
    pipeline.process()
    assert told(state, "slack", complete) == {("scan_recovered", complete.id), ("finding_resolved", "acme-gru")}


def test_a_failed_scan_is_told_even_before_any_baseline(state):
    pipeline = make_pipeline(state)
    failed = record(state, [], status="failed")
    pipeline.process()
    assert told(state, "slack", failed) == {("scan_failed", failed.id)}
    first = record(state, [ESTATE["fra"]()])
    pipeline.process()
    assert told(state, "slack", first) == {("summary", first.id)}  # the baseline, with the recovery in it
    assert any("complete again" in line for line in outbox(state, "slack")[-1]["payload"]["changes"])


def test_scans_recorded_before_the_agent_are_not_replayed_and_a_crash_is_caught_up(state):
    for _ in range(3):  # e.g. `agent.py scan` runs before the agent was deployed
        record(state, [ESTATE["fra"]()])
    baseline = record(state, [ESTATE["fra"](), ESTATE["gru"]()])
    make_pipeline(state).process()
    assert [row["kind"] for row in outbox(state, "slack")] == ["summary"]
    assert outbox(state, "slack")[0]["scan_id"] == baseline.id
    # two scans recorded, the agent died before queuing their alerts: a new pipeline catches up, in order
    first = record(state, [ESTATE["fra"](), ESTATE["gru"](), ESTATE["dub"](),
                           store("acme-syd", ("ap-southeast-2", "primary"))])
    second = record(state, [ESTATE["fra"](), ESTATE["dub"](), store("acme-syd", ("ap-southeast-2", "primary"))])
    done = make_pipeline(state).process()
    assert [d.scan_id for d in done] == [first.id, second.id]
    assert told(state, "slack", first) == {("store_failing", "acme-syd")}
    assert told(state, "slack", second) == {("finding_resolved", "acme-gru")}


# ---- keeping quiet --------------------------------------------------------------------------------

@pytest.mark.parametrize(("threshold", "expected"), [(20, ["summary"]), (25, ["store_failing"] * 25)])
def test_more_changes_than_the_threshold_make_one_summary(state, threshold, expected):
    pipeline = make_pipeline(state, settings(threshold=threshold))
    record(state, [ESTATE["fra"]()])
    pipeline.process()
    many = [store(f"acme-syd-{i:02d}", ("ap-southeast-2", "primary")) for i in range(25)]
    scan = record(state, [ESTATE["fra"](), *many])
    pipeline.process()
    rows = [row for row in outbox(state, "slack") if row["scan_id"] == scan.id]
    assert [row["kind"] for row in rows] == expected
    if expected == ["summary"]:
        summary = rows[0]["payload"]
        assert summary["title"] == f"25 stores changed in scan {scan.id}: 25 newly failing"
        assert len(summary["lines"]) == 16 and summary["lines"][-1].startswith("… and 10 more")


def test_the_threshold_counts_per_channel_after_routing(state):
    routes = [Route(("slack",)), Route(("mail",), policies=("eu-personal",))]
    pipeline = make_pipeline(state, settings(routes=routes, threshold=3))
    record(state, [ESTATE["fra"]()])
    pipeline.process()
    many = [store(f"acme-syd-{i:02d}", ("ap-southeast-2", "primary")) for i in range(5)]
    personal = store("acme-syd-personal", ("ap-southeast-2", "primary"), tags=PERSONAL)
    scan = record(state, [ESTATE["fra"](), *many, personal])
    pipeline.process()
    assert told(state, "slack", scan) == {("summary", scan.id)}
    assert told(state, "mail", scan) == {("store_failing", "acme-syd-personal")}


# ---- routing --------------------------------------------------------------------------------------

def alert(kind: str = "store_failing", severity: str = "high", policies: tuple[str, ...] = ("p",),
          accounts: tuple[str, ...] = (ACCOUNT,)) -> Alert:
    return Alert(key=f"s:{kind}:x", kind=kind, subject="x", severity=severity, title="t",
                 policies=list(policies), accounts=list(accounts))


def test_routing_by_severity_policy_account_and_kind():
    channels = ["ops", "dpo", "eu", "everything"]
    routes = [
        Route(("ops",), min_severity="high"),
        Route(("dpo",), policies=("eu-personal",)),
        Route(("eu",), accounts=("222",), kinds=("store_failing", "waiver_expired")),
        Route(("everything",)),
    ]
    assert channels_for(alert(severity="medium"), routes, channels) == ["everything"]
    assert channels_for(alert(severity="critical"), routes, channels) == ["ops", "everything"]
    assert channels_for(alert(policies=("eu-personal", "x")), routes, channels) == ["ops", "dpo", "everything"]
    assert channels_for(alert(accounts=("222",), severity="low"), routes, channels) == ["eu", "everything"]
    assert channels_for(alert("location_added", "info", (), ("222",)), routes, channels) == ["everything"]
    scan_alert = alert("scan_failed", "high", (), ())
    assert channels_for(scan_alert, routes, channels) == ["ops", "everything"]
    assert channels_for(alert(), [], channels) == channels  # no routes: everywhere


# ---- the outbox and its delivery ------------------------------------------------------------------

class FakeSender:
    def __init__(self, name: str, results: list[SendResult], min_interval_seconds: float = 0.0) -> None:
        self.name = name
        self.results = results
        self.min_interval_seconds = min_interval_seconds
        self.sent: list[str] = []

    def send(self, alert_: Alert, key: str) -> SendResult:
        self.sent.append(key)
        return self.results.pop(0) if self.results else SendResult("delivered")


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def queue(state: StateStore, keys: list[str], channel: str = "slack", at: str | None = None) -> None:
    with Database(state).write() as conn:
        enqueue(conn, [(alert_with_key(key), channel) for key in keys], at or now_text(FakeClock()()))


def alert_with_key(key: str) -> Alert:
    return Alert(key=key, kind="store_failing", subject=key, severity="high", title=f"title {key}", scan_id="s1")


def test_enqueue_is_idempotent_per_alert_and_channel(state):
    queue(state, ["a", "b"])
    queue(state, ["b", "c"])
    queue(state, ["a"], channel="mail")
    assert [(row["alert_key"], row["channel"]) for row in outbox(state)] == [
        ("a", "slack"), ("b", "slack"), ("c", "slack"), ("a", "mail")]


def test_backoff_doubles_with_jitter_up_to_the_cap():
    delivery = DeliverySettings(backoff_initial_seconds=5, backoff_max_seconds=60)
    low = [backoff_delay(n, delivery, rng=lambda: 0.0) for n in range(1, 8)]
    high = [backoff_delay(n, delivery, rng=lambda: 1.0) for n in range(1, 8)]
    assert high == [5, 10, 20, 40, 60, 60, 60]
    assert low == [value / 2 for value in high]
    assert next_attempt_delay(3, SendResult("retry", "429", retry_after=7), delivery) == 7
    assert next_attempt_delay(3, SendResult("retry", "429", retry_after=10**6), delivery) == 3600


def test_a_worker_retries_in_order_honours_retry_after_and_records_each_outcome(state):
    clock = FakeClock()
    queue(state, ["a", "b", "c", "d"])
    sender = FakeSender("slack", [
        SendResult("retry", "HTTP 500: internal_error"),
        SendResult("retry", "HTTP 429: rate_limited", retry_after=30),
        SendResult("delivered"),
        SendResult("failed", "HTTP 404: no_service"),
    ])
    delivery = DeliverySettings(backoff_initial_seconds=10, backoff_max_seconds=100)
    worker = ChannelWorker(Database(state), sender, delivery, clock=clock, rng=lambda: 1.0)
    assert worker.step() == 0  # a: 500 -> retry in 10 s
    row = outbox(state)[0]
    assert (row["status"], row["attempts"], row["last_error"]) == (PENDING, 1, "HTTP 500: internal_error")
    assert row["next_attempt_at"] == now_text(clock.now + dt.timedelta(seconds=10))
    assert worker.step() == pytest.approx(10)  # not due yet; b waits behind a
    clock.advance(10)
    worker.step()  # a: 429 -> Retry-After 30
    assert outbox(state)[0]["next_attempt_at"] == now_text(clock.now + dt.timedelta(seconds=30))
    clock.advance(30)
    for _ in range(3):
        worker.step()  # a delivered, b failed for good, c delivered
    worker.step()  # d delivered
    assert sender.sent == ["a", "a", "a", "b", "c", "d"]
    assert [(row["alert_key"], row["status"], row["attempts"]) for row in outbox(state)] == [
        ("a", DELIVERED, 3), ("b", FAILED, 1), ("c", DELIVERED, 1), ("d", DELIVERED, 1)]
    assert outbox(state)[1]["last_error"] == "HTTP 404: no_service"


def test_a_worker_gives_up_after_the_configured_age_and_keeps_the_rate_limit(state):
    clock = FakeClock()
    queue(state, ["old"], at=now_text(clock.now - dt.timedelta(hours=3)))
    queue(state, ["next"])
    sender = FakeSender("slack", [SendResult("retry", "URLError: refused")], min_interval_seconds=1.0)
    delivery = DeliverySettings(backoff_initial_seconds=1, backoff_max_seconds=1, give_up_after_hours=2)
    worker = ChannelWorker(Database(state), sender, delivery, clock=clock)
    worker.step()
    row = outbox(state)[0]
    assert row["status"] == FAILED and row["last_error"].startswith("gave up after 1 attempts over 2 h")
    assert 0 < worker.step() <= 1.0  # the next row is due, but the channel sent less than a second ago
    assert sender.sent == ["old"]


def test_a_row_for_a_channel_no_longer_configured_stays_pending(state):
    queue(state, ["a"], channel="removed")
    worker = ChannelWorker(Database(state), FakeSender("slack", []), DeliverySettings())
    worker.step()
    assert outbox(state)[0]["status"] == PENDING


# ---- Slack ----------------------------------------------------------------------------------------

@pytest.fixture
def slack_receiver():
    receiver = SlackReceiver()
    yield receiver
    receiver.stop()


def sample_alert() -> Alert:
    return Alert(
        key="scan1:store_failing:arn:aws:s3:::acme-<x>", kind="store_failing", subject="arn:aws:s3:::acme-<x>",
        severity="critical", title="New failing store: s3-bucket acme-<x> & co — reachable by Japan", scan_id="scan1",
        policies=["eu-personal"], accounts=[ACCOUNT],
        store={"id": "arn:aws:s3:::acme-<x>", "name": "acme-<x>", "kind": "s3-bucket", "provider": "aws",
               "account": ACCOUNT, "region": "eu-central-1"},
        changes=["New replica copy in ap-northeast-1 (Tokyo, Japan)."],
        copies=[{"country": "DE", "country_name": "Germany", "city": "Frankfurt", "region": "eu-central-1",
                 "role": "primary"},
                {"country": "JP", "country_name": "Japan", "city": "Tokyo", "region": "ap-northeast-1",
                 "role": "replica"}],
        reach=[{"jurisdiction": "JP", "name": "Japan", "basis": "location", "law": "territorial",
                "citation": "territorial jurisdiction",
                "path": "s3-bucket acme-<x> → replica copy in ap-northeast-1 (Tokyo, Japan) → territorial"}],
        link="https://custody.example.com/store?id=arn%3Aaws%3As3%3A%3A%3Aacme-%3Cx%3E",
    )


def test_slack_blocks_say_what_changed_where_the_copies_are_the_path_and_link():
    message = blocks(sample_alert())
    text = json.dumps(message, ensure_ascii=False)
    assert message[0] == {"type": "header", "text": {"type": "plain_text",
                                                     "text": "New failing store: s3-bucket acme-<x> & co — "
                                                             "reachable by Japan"}}
    sections = [block["text"]["text"] for block in message if block["type"] == "section"]
    assert sections[0].startswith("*What changed*\n• New replica copy in ap-northeast-1")
    assert sections[1] == ("*Where the copies are*\n• Germany, Frankfurt — primary (eu-central-1)\n"
                           "• Japan, Tokyo — replica (ap-northeast-1)")
    assert "replica copy in ap-northeast-1 (Tokyo, Japan) → territorial" in sections[2]
    assert "acme-&lt;x&gt;" in sections[2] and "acme-<x>" not in sections[2]  # mrkdwn escaped
    button = next(block for block in message if block["type"] == "actions")["elements"][0]
    assert button["url"] == sample_alert().link
    assert "Severity: critical · Policy: eu-personal" in text


@pytest.mark.parametrize(("status", "retry_after", "outcome", "wait"), [
    (200, None, "delivered", None), (429, 7, "retry", 7.0), (500, None, "retry", None), (503, None, "retry", None),
    (404, None, "failed", None), (400, None, "failed", None),
])
def test_slack_webhook_answers_are_classified(slack_receiver, monkeypatch, status, retry_after, outcome, wait):
    secret_path = "/services/T000/B000/" + uuid.uuid4().hex
    monkeypatch.setenv("TEST_SLACK_HOOK", slack_receiver.url + secret_path)
    sender = SlackSender(SlackSettings("slack", webhook_url=SecretRef("webhook_url", env="TEST_SLACK_HOOK")))
    slack_receiver.answer(status, retry_after)
    result = sender.send(sample_alert(), "k")
    assert (result.outcome, result.retry_after) == (outcome, wait)
    post = slack_receiver.all_posts()[-1]
    assert post.path == secret_path and post.payload["text"].startswith("[critical] New failing store")
    assert post.payload["blocks"][0]["type"] == "header"
    assert secret_path not in (result.error or "")


def test_slack_unreachable_is_retried_and_the_url_never_shows(monkeypatch):
    port = free_port()  # nothing listens there
    hook = f"http://127.0.0.1:{port}/services/T1/B1/{uuid.uuid4().hex}"
    monkeypatch.setenv("TEST_SLACK_HOOK", hook)
    sender = SlackSender(SlackSettings("slack", webhook_url=SecretRef("webhook_url", env="TEST_SLACK_HOOK"),
                                       timeout_seconds=2))
    result = sender.send(sample_alert(), "k")
    assert result.outcome == "retry" and result.error and hook not in result.error


def test_slack_bot_token_posts_to_the_configured_channel(slack_receiver, monkeypatch):
    token = "xoxb-" + uuid.uuid4().hex
    monkeypatch.setenv("TEST_SLACK_TOKEN", token)
    sender = SlackSender(SlackSettings("bot", token=SecretRef("token", env="TEST_SLACK_TOKEN"), channel="#custody",
                                       api_url=slack_receiver.url + "/api/"))
    assert sender.send(sample_alert(), "k").outcome == "delivered"
    post = slack_receiver.all_posts()[-1]
    assert post.path == "/api/chat.postMessage" and post.payload["channel"] == "#custody"
    assert post.headers["Authorization"] == f"Bearer {token}"
    slack_receiver.answer(429, retry_after=3)
    assert sender.send(sample_alert(), "k") == SendResult("retry", "HTTP 429: ratelimited", 3.0)


def test_http_classification_of_4xx_and_5xx():
    assert classify_http(204, "", {}).outcome == "delivered"
    assert classify_http(429, "", {"retry-after": "2"}).retry_after == 2.0
    assert classify_http(429, "", {}).retry_after is None
    assert classify_http(502, "", {}).outcome == "retry"
    assert classify_http(403, "invalid_token", {}).outcome == "failed"


# ---- e-mail ---------------------------------------------------------------------------------------

def test_email_has_a_text_and_an_html_part_with_the_same_content_escaped():
    message = build_message(sample_alert(), "k1", email_settings())
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert message["Subject"] == "[Custody] [critical] New failing store: s3-bucket acme-<x> & co — reachable by Japan"
    for fact in ("Germany, Frankfurt — primary (eu-central-1)", "Japan, Tokyo — replica (ap-northeast-1)",
                 "territorial", "https://custody.example.com/store?id="):
        assert fact in text and fact in html
    assert "acme-<x>" in text and "acme-&lt;x&gt; &amp; co" in html and "acme-<x>" not in html
    assert message["Message-ID"] == message_id("k1", "mail") == build_message(sample_alert(), "k1",
                                                                               email_settings())["Message-ID"]


@pytest.fixture
def mail_server(tmp_path):
    server = MailServer(tmp_path, "custody", "correct horse", free_port())
    yield server
    server.stop()


def test_email_over_starttls_with_login(tmp_path, mail_server, monkeypatch):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "correct horse")
    good = email_settings(port=mail_server.port, username="custody", ca_file=str(mail_server.cert),
                          password=SecretRef("password", env="TEST_SMTP_PASSWORD"))
    assert EmailSender(good).send(sample_alert(), "k1").outcome == "delivered"
    received = mail_server.received()
    assert len(received) == 1 and received[0]["X-Custody-Alert"] == "k1"
    assert received[0].get_body(("html",)) is not None
    mail_server.failing = True  # 451: temporary
    result = EmailSender(good).send(sample_alert(), "k2")
    assert result.outcome == "retry" and "451" in (result.error or "")
    mail_server.failing = False
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong password")
    result = EmailSender(good).send(sample_alert(), "k3")
    assert result.outcome == "failed" and "535" in (result.error or "") and "wrong password" not in result.error
    untrusted = email_settings(port=mail_server.port, username="custody",
                               password=SecretRef("password", env="TEST_SMTP_PASSWORD"))
    assert EmailSender(untrusted).send(sample_alert(), "k4").outcome == "retry"  # certificate not trusted


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the connection is TLS throughout
def test_email_over_implicit_tls(tmp_path, monkeypatch):
    server = MailServer(tmp_path, "custody", "correct horse", free_port(), implicit_tls=True)
    try:
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "correct horse")
        settings_ = email_settings(port=server.port, security="tls", username="custody", ca_file=str(server.cert),
                                   password=SecretRef("password", env="TEST_SMTP_PASSWORD"))
        assert EmailSender(settings_).send(sample_alert(), "k1").outcome == "delivered"
        assert [m["X-Custody-Alert"] for m in server.received()] == ["k1"] and server.logins == ["custody"]
    finally:
        server.stop()


# ---- secrets --------------------------------------------------------------------------------------

def test_mask_hides_registered_secrets_and_secret_shaped_tokens():
    secret = "s3cr3t-" + uuid.uuid4().hex
    register_secret(secret)
    assert mask(f"login failed for {secret}!") == "login failed for ***!"
    assert mask("post to https://hooks.slack.com/services/T0/B0/XYZ failed") == \
        "post to https://hooks.slack.com/services/*** failed"
    assert mask("token xoxb-1234-abcd rejected") == "token *** rejected"
    assert mask("postgresql://custody:hunter22@db/custody") == "postgresql://custody:***@db/custody"


def test_json_logs_mask_messages_fields_and_tracebacks():
    secret = "tok-" + uuid.uuid4().hex
    register_secret(secret)
    try:
        raise RuntimeError(f"bad {secret}")
    except RuntimeError:
        record = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "sent %s", (secret,), None,
                                                   extra={"scan_id": "abc", "url": f"https://x/{secret}"})
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    doc = json.loads(line)
    assert secret not in line
    assert (doc["level"], doc["logger"], doc["message"], doc["scan_id"]) == ("error", "t", "sent ***", "abc")
    assert doc["url"] == "https://x/***" and "RuntimeError: bad ***" in doc["exception"]


def test_secrets_come_from_env_or_files_and_errors_never_show_them(tmp_path, monkeypatch):
    path = tmp_path / "hook"
    path.write_text("https://hooks.slack.com/services/T/B/fromfile\n")
    assert SecretRef("webhook_url", file=str(path)).read() == "https://hooks.slack.com/services/T/B/fromfile"
    monkeypatch.setenv("TEST_EMPTY_SECRET", " ")
    with pytest.raises(InputError, match=r"cfg.yaml:3: webhook_url_env: environment variable TEST_EMPTY_SECRET"):
        SecretRef("webhook_url", env="TEST_EMPTY_SECRET", where="cfg.yaml:3").read()
    with pytest.raises(InputError, match="cannot read"):
        SecretRef("password", file=str(tmp_path / "missing")).read()


# ---- config ---------------------------------------------------------------------------------------

def section(tmp_path: Path, text: str, name: str = "alerts") -> Node:
    path = tmp_path / "custody.yaml"
    path.write_text(text)
    return read_yaml(path)[name]


def test_alerts_config_is_parsed_with_defaults(tmp_path):
    parsed = load_alert_settings(section(tmp_path, """
alerts:
  channels:
    secops: {type: slack, webhook_url_env: HOOK}
    bot: {type: slack, token_file: token.txt, channel: "#c"}
    dpo: {type: email, host: smtp.example.com, security: tls, username: u, password_env: P,
          from: custody@example.com, to: dpo@example.com}
  routes:
    - {channels: [dpo], min_severity: high, policies: [eu-personal]}
"""))
    assert parsed.summary_threshold == 20 and parsed.digest is None
    assert parsed.delivery == DeliverySettings(5.0, 900.0, 72.0)
    dpo = parsed.channels["dpo"]
    assert isinstance(dpo, EmailSettings) and (dpo.port, dpo.to) == (465, ("dpo@example.com",))
    bot = parsed.channels["bot"]
    assert isinstance(bot, SlackSettings) and bot.token and bot.token.file == str(tmp_path / "token.txt")
    assert parsed.routes == [Route(("dpo",), "high", ("eu-personal",))]


@pytest.mark.parametrize(("text", "message"), [
    ("alerts:\n  channels:\n    s: {type: slack, webhook_url: https://hooks.slack.com/x}\n",
     r"custody.yaml:3: alerts.channels.s.webhook_url: secrets are not read from the config file"),
    ("alerts:\n  channels:\n    s: {type: slack, webhook_url_env: A}\n  routes:\n    - {channels: [nope]}\n",
     r"custody.yaml:5: alerts.routes\[0\].channels: unknown channel 'nope' \(channels: s\)"),
    ("alerts:\n  channels:\n    s: {type: slack, token_env: T}\n",
     r"custody.yaml:3: alerts.channels.s: a bot token needs 'channel'"),
    ("alerts:\n  channels:\n    m: {type: email, host: h, from: a@b, to: c@d, security: ssl}\n",
     r"custody.yaml:3: alerts.channels.m.security: 'ssl' is not one of: starttls, tls, none"),
    ("alerts:\n  digest: {at: '25:00'}\n", r"custody.yaml:2: alerts.digest.at: expected a time HH:MM"),
    ("alerts:\n  channels:\n    m: {type: email, host: h, from: a@b, to: c@d, webhook_url_env: X}\n",
     r"key 'webhook_url_env' does not apply to a email channel"),
    ("alerts:\n  channels:\n    h: {type: webhook, url_env: U}\n",
     r"custody.yaml:3: alerts.channels.h: missing secret_env or secret_file"),
    ("alerts:\n  channels:\n    t: {type: teams, url: https://x.example/workflows}\n",
     r"custody.yaml:3: alerts.channels.t.url: secrets are not read from the config file"),
    ("alerts:\n  channels:\n    p: {type: pagerduty, routing_key_env: K, events_url: ftp://x}\n",
     r"custody.yaml:3: alerts.channels.p.events_url: expected an http\(s\) URL"),
    ("alerts:\n  channels:\n    p: {type: pagerduty, routing_key_env: K, min_severity: urgent}\n",
     r"custody.yaml:3: alerts.channels.p.min_severity: 'urgent' is not one of"),
    ("alerts:\n  channels:\n    x: {type: opsgenie}\n",
     r"custody.yaml:3: alerts.channels.x.type: 'opsgenie' is not one of: slack, email, teams, pagerduty, webhook"),
    ("alerts:\n  channels:\n    s: {type: slack, webhook_url_env: A}\n  routes:\n"
     "    - {channels: [s], group: yes please}\n",
     r"custody.yaml:5: alerts.routes\[0\].group: expected true or false"),
    ("alerts:\n  remind_after_hours: soon\n", r"custody.yaml:2: alerts.remind_after_hours: expected a number"),
])
def test_alerts_config_errors_are_one_line_with_file_and_line(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        load_alert_settings(section(tmp_path, text))


def test_agent_config_schedules_listen_and_readiness_defaults(tmp_path):
    default = load_agent_settings(section(tmp_path, "home: EU\n", "agent"))
    assert (default.interval_seconds, default.host, default.port) == (3600, "127.0.0.1", 8080)
    assert default.ready_max_age == dt.timedelta(minutes=125)
    cron = load_agent_settings(section(tmp_path, "agent:\n  schedule: {cron: '0 */6 * * *'}\n"
                                                 "  listen: 0.0.0.0:9000\n", "agent"))
    assert cron.cron == "0 */6 * * *" and cron.ready_max_age == dt.timedelta(hours=12, minutes=5)
    assert (cron.host, cron.port) == ("0.0.0.0", 9000)
    fast = load_agent_settings(section(tmp_path, "agent:\n  schedule: {interval_seconds: 2}\n", "agent"))
    assert fast.interval_seconds == 2 and fast.misfire_grace_seconds == 2
    for text, message in [
        ("agent:\n  schedule: {cron: '61 * * * *'}\n", r"custody.yaml:2: agent.schedule.cron: "),
        ("agent:\n  schedule: {cron: '* * * * *', interval_minutes: 5}\n", "give one of"),
        ("agent:\n  listen: localhost\n", r"custody.yaml:2: agent.listen: expected HOST:PORT"),
    ]:
        with pytest.raises(InputError, match=message):
            load_agent_settings(section(tmp_path, text, "agent"))


def test_readiness_needs_a_recent_scan_that_read_the_estate():
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    age = dt.timedelta(minutes=10)
    fresh = {"id": "s2", "status": "complete", "finished_at": "2026-11-27T11:55:00+00:00"}
    stale = {"id": "s1", "status": "partial", "finished_at": "2026-11-27T11:00:00+00:00"}
    failed = {"id": "s3", "status": "failed", "finished_at": "2026-11-27T11:59:00+00:00"}
    assert readiness(fresh, fresh, now, age) == (True, "scan s2 (complete) finished 300 s ago")
    assert readiness(None, None, now, age) == (False, "no scan has finished yet")
    assert readiness(None, failed, now, age) == (False, "no scan has read the estate yet (latest scan s3: failed)")
    ready, reason = readiness(stale, failed, now, age)
    assert not ready and reason == ("the last scan that read the estate (s1) finished 3600 s ago, more than 600 s; "
                                    "latest scan s3: failed")


def test_digest_is_queued_once_per_day_and_channel(state):
    pipeline = make_pipeline(state)
    record(state, [ESTATE["gru"](), ESTATE["yul"]()])
    pipeline.process()
    day = dt.date(2026, 11, 27)
    assert pipeline.enqueue_digest(day) == 2
    assert pipeline.enqueue_digest(day) == 0
    digest = [row for row in outbox(state, "slack") if row["kind"] == "digest"]
    assert len(digest) == 1
    payload = digest[0]["payload"]
    assert payload["title"] == "Custody daily digest 2026-11-27: 1 of 2 store(s) fail, 1 open finding(s)"
    assert payload["lines"][0] == "Open findings by severity: 1 high; 1 muted by a waiver."


def test_the_alert_tables_are_portable_to_postgresql():
    from sqlalchemy import create_mock_engine

    from state.schema import metadata

    ddl: list[str] = []
    engine = create_mock_engine("postgresql+psycopg://",
                                lambda sql, *a, **k: ddl.append(str(sql.compile(dialect=engine.dialect))))
    metadata.create_all(engine, checkfirst=False)
    text = "\n".join(ddl)
    for table in ("alert_outbox", "alert_scans", "alert_finding_state"):
        assert f"CREATE TABLE {table}" in text
    assert "UNIQUE (alert_key, channel)" in text


# ---- on call: repeats, reminders, grouping (issue 15.8) -----------------------------------------------

class SteppedClock:
    """The pipeline's clock, moved by the test."""

    def __init__(self, start: str) -> None:
        self.at = dt.datetime.fromisoformat(start)

    def __call__(self) -> str:
        return now_text(self.at)

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


def test_a_scan_that_stays_failed_is_told_again_every_interval(state):
    clock = SteppedClock("2026-11-27T00:00:00+00:00")
    alert_settings = settings()
    alert_settings.repeat_failed_scan_minutes = 60
    pipeline = AlertPipeline(Database(state), alert_settings, None, clock=clock)
    titles = []
    for minutes in (0, 10, 55, 10, 70):  # told at 0, 65 and 145 minutes
        clock.advance(minutes=minutes)
        failed = record(state, [], status="failed")
        pipeline.process()
        titles += [row["payload"]["title"] for row in outbox(state, "slack") if row["scan_id"] == failed.id]
    assert [title.split(": ", 1)[1] for title in titles] == [
        "nothing could be read", "nothing could be read (still)", "nothing could be read (still)"]


def test_critical_findings_open_too_long_are_reminded_once_per_period(state):
    clock = SteppedClock("2026-11-27T00:00:00+00:00")
    alert_settings = settings(routes=[Route(channels=("slack",), min_severity="critical")])
    alert_settings.remind_after_hours = 24
    pipeline = AlertPipeline(Database(state), alert_settings, "https://custody.example.com", clock=clock)
    record(state, [store("acme-syd", ("ap-southeast-2", "primary"), tags=PERSONAL), ESTATE["gru"]()])
    pipeline.process()

    def reminders() -> list[dict]:
        return [row for row in outbox(state) if row["kind"] == "reminder"]

    clock.advance(hours=23)
    record(state, [store("acme-syd", ("ap-southeast-2", "primary"), tags=PERSONAL), ESTATE["gru"]()])
    pipeline.process()
    assert reminders() == []  # not open long enough yet
    clock.advance(hours=2)
    pipeline.process()
    pipeline.process()  # the same period: not again
    [row] = reminders()
    assert row["channel"] == "slack" and row["severity"] == "critical"  # routed: the mail route gets none
    assert row["payload"]["title"] == "Reminder: 1 critical finding(s) still open after more than 24 h"
    assert row["payload"]["lines"][0].startswith("eu-personal: s3-bucket acme-syd (account 111111111111) — AU")
    clock.advance(hours=24)
    pipeline.process()
    assert len(reminders()) == 2  # the next period


def test_a_grouped_route_gets_one_message_per_scan(state):
    routes = [Route(channels=("mail",), group=True), Route(channels=("slack",))]
    pipeline = make_pipeline(state, settings(routes=routes))
    record(state, [ESTATE["fra"]()])
    pipeline.process()
    scan = record(state, [ESTATE["fra"](), ESTATE["gru"](), store("acme-syd", ("ap-southeast-2", "primary")),
                          store("acme-nrt", ("ap-northeast-1", "primary"))])
    pipeline.process()
    assert told(state, "slack", scan) == {("store_failing", "acme-gru"), ("store_failing", "acme-syd"),
                                          ("store_failing", "acme-nrt")}
    [grouped] = [row["payload"] for row in outbox(state, "mail") if row["scan_id"] == scan.id]
    assert grouped["kind"] == "summary" and grouped["title"] == f"3 stores changed in scan {scan.id}: 3 newly failing"
    assert len(grouped["lines"]) == 3 and all("https://custody.example.com/store?id=" in line
                                              for line in grouped["lines"])
    assert any("acme-nrt" in line and "Japan" in line for line in grouped["lines"])
