"""The `alerts` config section. Every key is optional; with no channels, nothing is sent (the
outbox stays empty) but changes are still computed and logged.

    alerts:
      summary_threshold: 20          # per scan and channel: more alerts than this -> one summary
      dashboard_url: https://custody.example.com   # links in alerts: {url}/store?id={store id}
      remind_after_hours: 24         # remind of critical findings open longer than this, this often
      repeat_failed_scan_minutes: 60 # a scan still failed or partial is told again this often (0: once)
      digest: {at: "08:00", timezone: UTC}   # optional daily digest to every channel
      delivery:
        backoff_initial_seconds: 5   # first retry after ~5 s, then doubling (with jitter) ...
        backoff_max_seconds: 900     # ... up to 15 minutes between attempts
        give_up_after_hours: 72      # then the row is marked failed (recorded, counted, logged)
      channels:
        secops:                      # a name of your choosing, used by routes and metrics
          type: slack
          webhook_url_env: CUSTODY_SLACK_WEBHOOK       # incoming webhook (or webhook_url_file), or
          # token_env: CUSTODY_SLACK_TOKEN             # a bot token (or token_file) ...
          # channel: "#custody"                        # ... and the channel to post to
          # api_url: https://slack.com/api/            # Web API base URL (a proxy, a test receiver)
          min_interval_seconds: 1    # at most one message per second per webhook / channel
        dpo:
          type: email
          host: smtp.example.com
          port: 587                  # default: 587 for starttls, 465 for tls, 25 for none
          security: starttls         # starttls | tls (implicit) | none
          username: custody@example.com
          password_env: CUSTODY_SMTP_PASSWORD          # or password_file
          from: custody@example.com
          to: [dpo@example.com, grc@example.com]
          ca_file: null              # a private CA bundle for the server's certificate
          timeout_seconds: 30
      routes:                        # an alert goes to the channels of every route it matches
        - {channels: [secops]}                         # no condition: everything
        - {channels: [dpo], min_severity: high, policies: [eu-personal-data], accounts: ["1111"], group: true}

A route matches when all the conditions it gives hold: `min_severity` (info < low < medium <
high < critical), `policies` and `accounts` (any one of the alert's), `kinds` (alert kinds, see
alerts.model); `group: true` sends the store alerts of one scan as one message to the route's
channels. Alerts about the scan itself name no policy or account, so they match only
routes without `policies` and `accounts`. With no routes at all, every alert goes to every
channel. Secrets are never read from this file: see scanner.secrets.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from alerts.model import KINDS, SEVERITY_ORDER
from scanner.secrets import SecretRef, secret_ref
from scanner.yamlfile import Node

SECTION_KEYS = {"summary_threshold", "dashboard_url", "digest", "delivery", "channels", "routes",
                "remind_after_hours", "repeat_failed_scan_minutes"}
DELIVERY_KEYS = {"backoff_initial_seconds", "backoff_max_seconds", "give_up_after_hours"}
DIGEST_KEYS = {"at", "timezone"}
SLACK_KEYS = {"type", "webhook_url_env", "webhook_url_file", "token_env", "token_file", "channel", "api_url",
              "min_interval_seconds", "timeout_seconds", "webhook_url", "token"}
EMAIL_KEYS = {"type", "host", "port", "security", "username", "password_env", "password_file", "from", "to",
              "ca_file", "timeout_seconds", "min_interval_seconds", "password"}
WEBHOOK_KEYS = {"type", "url_env", "url_file", "url", "secret_env", "secret_file", "secret", "timeout_seconds",
                "min_interval_seconds"}
TEAMS_KEYS = {"type", "url_env", "url_file", "url", "timeout_seconds", "min_interval_seconds"}
PAGERDUTY_KEYS = {"type", "routing_key_env", "routing_key_file", "routing_key", "events_url", "min_severity",
                  "timeout_seconds", "min_interval_seconds"}
CHANNEL_TYPES = ("slack", "email", "teams", "pagerduty", "webhook")
ROUTE_KEYS = {"channels", "min_severity", "policies", "accounts", "kinds", "group"}
SECURITY_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class SlackSettings:
    name: str
    webhook_url: SecretRef | None = None
    token: SecretRef | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/"
    min_interval_seconds: float = 1.0
    timeout_seconds: int = 15
    type: str = "slack"


@dataclass(frozen=True)
class EmailSettings:
    name: str
    host: str
    sender: str
    to: tuple[str, ...]
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    ca_file: str | None = None
    timeout_seconds: int = 30
    min_interval_seconds: float = 0.0
    type: str = "email"


@dataclass(frozen=True)
class WebhookSettings:
    """A generic HTTPS endpoint: the alert as JSON, signed with HMAC-SHA256 (alerts.webhook)."""

    name: str
    url: SecretRef
    secret: SecretRef
    timeout_seconds: int = 15
    min_interval_seconds: float = 0.0
    type: str = "webhook"


@dataclass(frozen=True)
class TeamsSettings:
    """A Microsoft Teams workflow webhook ("Post to a channel when a webhook request is received")."""

    name: str
    url: SecretRef
    timeout_seconds: int = 15
    min_interval_seconds: float = 1.0
    type: str = "teams"


@dataclass(frozen=True)
class PagerDutySettings:
    """PagerDuty Events API v2: trigger per new finding at or above `min_severity`, resolve on resolution."""

    name: str
    routing_key: SecretRef
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    min_severity: str = "critical"
    timeout_seconds: int = 15
    min_interval_seconds: float = 0.0
    type: str = "pagerduty"


ChannelSettings = SlackSettings | EmailSettings | WebhookSettings | TeamsSettings | PagerDutySettings


@dataclass(frozen=True)
class Route:
    channels: tuple[str, ...]
    min_severity: str | None = None
    policies: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    group: bool = False  # the store alerts of one scan as one message on this route's channels


@dataclass(frozen=True)
class DeliverySettings:
    backoff_initial_seconds: float = 5.0
    backoff_max_seconds: float = 900.0
    give_up_after_hours: float = 72.0


@dataclass(frozen=True)
class DigestSettings:
    at: dt.time
    timezone: str = "UTC"


@dataclass
class AlertSettings:
    summary_threshold: int = 20
    dashboard_url: str | None = None
    digest: DigestSettings | None = None
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    remind_after_hours: float | None = None  # remind of critical findings open longer than this, this often
    repeat_failed_scan_minutes: float = 60.0  # a scan still failed (or partial) is told again this often; 0: never


def load_alert_settings(section: Node) -> AlertSettings:
    """Parse and validate the `alerts` section (InputError naming file and line on any problem)."""
    if section.value is None:
        return AlertSettings()
    section.mapping(SECTION_KEYS)
    settings = AlertSettings(summary_threshold=section["summary_threshold"].int(20, minimum=1))
    if section["remind_after_hours"].value is not None:
        settings.remind_after_hours = number(section["remind_after_hours"], 24.0, 0.001)
    settings.repeat_failed_scan_minutes = number(section["repeat_failed_scan_minutes"], 60.0)
    url = section["dashboard_url"].str()
    if url and not url.startswith(("https://", "http://")):
        raise section["dashboard_url"].error(f"{section.name}.dashboard_url: expected an http(s) URL, got {url!r}")
    settings.dashboard_url = url
    if section["digest"].value is not None:
        settings.digest = _digest(section["digest"])
    if section["delivery"].value is not None:
        settings.delivery = _delivery(section["delivery"])
    for name, node in section["channels"].entries():
        node.mapping(SLACK_KEYS | EMAIL_KEYS | WEBHOOK_KEYS | TEAMS_KEYS | PAGERDUTY_KEYS, {"type"})
        kind = node["type"].req_str(CHANNEL_TYPES)
        settings.channels[name] = CHANNEL_PARSERS[kind](name, node)
    for node in section["routes"].items():
        settings.routes.append(_route(node, settings.channels))
    return settings


def read_secrets(settings: AlertSettings) -> None:
    """Read every channel's secret once at start, so a missing one stops the agent with one line."""
    for channel in settings.channels.values():
        for ref in (getattr(channel, "webhook_url", None), getattr(channel, "token", None),
                    getattr(channel, "password", None), getattr(channel, "url", None),
                    getattr(channel, "secret", None), getattr(channel, "routing_key", None)):
            if ref is not None:
                ref.read()


def number(node: Node, default: float, minimum: float = 0.0) -> float:
    """A whole or decimal number >= minimum."""
    if node.value is None:
        return default
    if isinstance(node.value, bool) or not isinstance(node.value, int | float) or node.value < minimum:
        raise node.error(f"{node.name}: expected a number >= {minimum:g}, got {node.value!r}")
    return float(node.value)


def _digest(node: Node) -> DigestSettings:
    node.mapping(DIGEST_KEYS, {"at"})
    text = node["at"].req_str()
    try:
        at = dt.time.fromisoformat(text)
    except ValueError:
        raise node["at"].error(f"{node.name}.at: expected a time HH:MM, got {text!r}") from None
    tz = node["timezone"].str("UTC") or "UTC"
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise node["timezone"].error(f"{node.name}.timezone: unknown time zone {tz!r}") from None
    return DigestSettings(at, tz)


def _delivery(node: Node) -> DeliverySettings:
    node.mapping(DELIVERY_KEYS)
    initial = number(node["backoff_initial_seconds"], 5.0, 0.01)
    cap = number(node["backoff_max_seconds"], 900.0, 0.01)
    if cap < initial:
        raise node["backoff_max_seconds"].error(
            f"{node.name}.backoff_max_seconds: must be at least backoff_initial_seconds ({initial:g})")
    return DeliverySettings(initial, cap, number(node["give_up_after_hours"], 72.0, 0.001))


def _only(node: Node, allowed: set[str], kind: str) -> None:
    for key in node.value:
        if key not in allowed:
            raise node[key].error(f"{node.name}: key '{key}' does not apply to a {kind} channel "
                                  f"(expected one of: {', '.join(sorted(allowed))})")


def _slack(name: str, node: Node) -> SlackSettings:
    _only(node, SLACK_KEYS, "slack")
    webhook = secret_ref(node, "webhook_url", required=False)
    token = secret_ref(node, "token", required=False)
    if bool(webhook) == bool(token):
        raise node.error(f"{node.name}: give an incoming webhook (webhook_url_env or webhook_url_file) "
                         "or a bot token (token_env or token_file) with a channel, not both and not neither")
    channel = node["channel"].str()
    if token and not channel:
        raise node.error(f"{node.name}: a bot token needs 'channel' (e.g. \"#custody\" or a channel id)")
    if webhook and channel:
        raise node["channel"].error(f"{node.name}.channel: an incoming webhook posts to its own channel; "
                                    "remove 'channel' or use a bot token")
    api_url = node["api_url"].str("https://slack.com/api/") or "https://slack.com/api/"
    if not api_url.startswith(("https://", "http://")):
        raise node["api_url"].error(f"{node.name}.api_url: expected an http(s) URL")
    return SlackSettings(
        name=name, webhook_url=webhook, token=token, channel=channel, api_url=api_url,
        min_interval_seconds=number(node["min_interval_seconds"], 1.0),
        timeout_seconds=node["timeout_seconds"].int(15, minimum=1),
    )


def _email(name: str, node: Node) -> EmailSettings:
    _only(node, EMAIL_KEYS, "email")
    security = node["security"].str("starttls", choices=tuple(SECURITY_PORTS)) or "starttls"
    username = node["username"].str()
    password = secret_ref(node, "password", required=False)
    if password and not username:
        raise node.error(f"{node.name}: a password needs a username")
    if username and not password:
        raise node.error(f"{node.name}: username given without password_env or password_file")
    to = tuple(node["to"].str_list())
    if not to:
        raise node.error(f"{node.name}: missing 'to' (one address or a list)")
    for address in (*to, node["from"].req_str()):
        if "@" not in address:
            raise node.error(f"{node.name}: '{address}' is not an e-mail address")
    port = node["port"].int(SECURITY_PORTS[security], minimum=1)
    if port > 65535:
        raise node["port"].error(f"{node.name}.port: expected a port from 1 to 65535")
    return EmailSettings(
        name=name, host=node["host"].req_str(), sender=node["from"].req_str(), to=to, port=port,
        security=security, username=username, password=password, ca_file=node["ca_file"].str(),
        timeout_seconds=node["timeout_seconds"].int(30, minimum=1),
        min_interval_seconds=number(node["min_interval_seconds"], 0.0),
    )


def _url(node: Node, key: str, default: str | None = None) -> str | None:
    url = node[key].str(default) or default
    if url is not None and not url.startswith(("https://", "http://")):
        raise node[key].error(f"{node.name}.{key}: expected an http(s) URL, got {url!r}")
    return url


def _webhook(name: str, node: Node) -> WebhookSettings:
    _only(node, WEBHOOK_KEYS, "webhook")
    url, secret = secret_ref(node, "url"), secret_ref(node, "secret")
    assert url is not None and secret is not None
    return WebhookSettings(name=name, url=url, secret=secret,
                           timeout_seconds=node["timeout_seconds"].int(15, minimum=1),
                           min_interval_seconds=number(node["min_interval_seconds"], 0.0))


def _teams(name: str, node: Node) -> TeamsSettings:
    _only(node, TEAMS_KEYS, "teams")
    url = secret_ref(node, "url")
    assert url is not None
    return TeamsSettings(name=name, url=url, timeout_seconds=node["timeout_seconds"].int(15, minimum=1),
                         min_interval_seconds=number(node["min_interval_seconds"], 1.0))


def _pagerduty(name: str, node: Node) -> PagerDutySettings:
    _only(node, PAGERDUTY_KEYS, "pagerduty")
    key = secret_ref(node, "routing_key")
    assert key is not None
    return PagerDutySettings(
        name=name, routing_key=key,
        events_url=_url(node, "events_url", "https://events.pagerduty.com/v2/enqueue") or "",
        min_severity=node["min_severity"].str("critical", choices=SEVERITY_ORDER) or "critical",
        timeout_seconds=node["timeout_seconds"].int(15, minimum=1),
        min_interval_seconds=number(node["min_interval_seconds"], 0.0))


def _route(node: Node, channels: dict[str, ChannelSettings]) -> Route:
    node.mapping(ROUTE_KEYS, {"channels"})
    names = tuple(node["channels"].str_list())
    if not names:
        raise node["channels"].error(f"{node.name}.channels: name at least one channel")
    for channel in names:
        if channel not in channels:
            known = ", ".join(channels) or "none declared"
            raise node["channels"].error(f"{node.name}.channels: unknown channel '{channel}' (channels: {known})")
    kinds = tuple(node["kinds"].str_list())
    for kind in kinds:
        if kind not in KINDS:
            raise node["kinds"].error(f"{node.name}.kinds: unknown alert kind '{kind}' "
                                      f"(expected some of: {', '.join(KINDS)})")
    return Route(
        channels=names,
        min_severity=node["min_severity"].str(choices=SEVERITY_ORDER),
        policies=tuple(node["policies"].str_list()),
        accounts=tuple(node["accounts"].str_list()),
        kinds=kinds,
        group=_flag(node["group"]),
    )


def _flag(node: Node) -> bool:
    if node.value is None:
        return False
    if not isinstance(node.value, bool):
        raise node.error(f"{node.name}: expected true or false, got {node.value!r}")
    return node.value


CHANNEL_PARSERS = {"slack": _slack, "email": _email, "webhook": _webhook, "teams": _teams, "pagerduty": _pagerduty}
