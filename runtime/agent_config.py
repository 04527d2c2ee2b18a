"""The `agent` config section: when to scan, where to listen, when to call the agent ready.

    agent:
      schedule:                    # exactly one of interval_minutes, interval_seconds, cron
        interval_minutes: 60       # default: every hour (interval_seconds for demos and tests)
        # cron: "0 * * * *"        # five-field crontab, in `timezone`
        timezone: UTC              # for cron (and the log of next run times)
      listen: "127.0.0.1:8080"     # health, metrics and dashboard; "0.0.0.0:8080" in a container
      ready_max_age_minutes: 125   # /readyz is 503 when the last finished scan is older
                                   # (default: twice the schedule's period plus 5 minutes)
      ready_max_failed_scans: 3    # /readyz is 503 once this many scan jobs in a row failed
                                   # (nothing read, not recorded, or crashed)
      misfire_grace_seconds: 3600  # a scan due while the agent was busy or asleep still runs if
                                   # no later than this (default: the period, at most an hour)
      stop_timeout_seconds: 30     # on SIGTERM, how long an in-flight scan may take to stop
      log_level: info              # debug | info | warning | error
      distributed:                 # several replicas share the scans (needs a PostgreSQL state store)
        worker_concurrency: 2      # units (accounts, subscriptions, projects) this replica scans at once
        heartbeat_seconds: 10      # how often this replica tells the queue it is alive
        stalled_after_seconds: 30  # a replica silent this long is dead: its units go to another one
        max_attempts: 3            # a unit whose scan crashed or was cut off this often is recorded failed
        scan_timeout_minutes: 360  # units still waiting after this are recorded failed (the scan is partial)
      events: {aws: {queue_url: …}}  # change events: re-read just the stores they name (runtime.events_config)
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from dataclasses import dataclass

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from runtime.events_config import EventSettings, load_event_settings
from scanner import clock
from scanner.errors import InputError
from scanner.yamlfile import Node

AGENT_KEYS = {"schedule", "listen", "ready_max_age_minutes", "ready_max_failed_scans", "misfire_grace_seconds",
              "stop_timeout_seconds", "log_level", "distributed", "events"}
DISTRIBUTED_KEYS = {"worker_concurrency", "heartbeat_seconds", "stalled_after_seconds", "max_attempts",
                    "scan_timeout_minutes"}
SCHEDULE_KEYS = {"interval_minutes", "interval_seconds", "cron", "timezone"}
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LISTEN = ("127.0.0.1", 8080)
GRID_START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class DistributedSettings:
    """How this replica takes part in scans spread over several replicas (runtime.workqueue)."""

    worker_concurrency: int = 2
    heartbeat_seconds: int = 10
    stalled_after_seconds: int = 30
    max_attempts: int = 3
    scan_timeout: dt.timedelta = dt.timedelta(hours=6)


@dataclass(frozen=True)
class AgentSettings:
    interval_seconds: int | None = 3600
    cron: str | None = None
    timezone: str = "UTC"
    host: str = DEFAULT_LISTEN[0]
    port: int = DEFAULT_LISTEN[1]
    ready_max_age: dt.timedelta = dt.timedelta(minutes=125)
    ready_max_failed_scans: int = 3
    misfire_grace_seconds: int = 3600
    stop_timeout_seconds: int = 30
    log_level: str = "info"
    period: dt.timedelta = dt.timedelta(hours=1)  # the schedule's (longest) gap between two scans
    distributed: DistributedSettings | None = None
    events: EventSettings | None = None  # the queues of change events (runtime.events_config)

    def trigger(self) -> BaseTrigger:
        tz = zoneinfo.ZoneInfo(self.timezone)
        if self.cron:
            return CronTrigger.from_crontab(self.cron, timezone=tz)
        # replicas of a distributed agent, started at different times, fire together on one grid
        start = GRID_START if self.distributed else None
        return IntervalTrigger(seconds=self.interval_seconds or 3600, timezone=tz, start_date=start)

    @property
    def schedule_text(self) -> str:
        return f"cron '{self.cron}' ({self.timezone})" if self.cron else f"every {self.interval_seconds} s"


def load_agent_settings(section: Node) -> AgentSettings:
    """Parse and validate the `agent` section (InputError naming file and line on any problem)."""
    if section.value is None:
        section = Node({}, section.file, section.line, section.name)
    section.mapping(AGENT_KEYS)
    schedule = section["schedule"]
    if schedule.value is not None:
        schedule.mapping(SCHEDULE_KEYS)
    given = [key for key in ("interval_minutes", "interval_seconds", "cron") if schedule.has(key)]
    if len(given) > 1:
        raise schedule.error(f"{schedule.name}: give one of interval_minutes, interval_seconds or cron, "
                             f"not {' and '.join(given)}")
    timezone = schedule["timezone"].str("UTC") or "UTC"
    try:
        tz = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise schedule["timezone"].error(f"{schedule.name}.timezone: unknown time zone {timezone!r}") from None
    interval: int | None = None
    cron = None
    if schedule.has("cron"):
        cron = schedule["cron"].req_str()
        try:
            trigger = CronTrigger.from_crontab(cron, timezone=tz)
        except ValueError as exc:
            raise schedule["cron"].error(f"{schedule.name}.cron: {exc} (expected five fields, e.g. \"0 * * * *\")"
                                         ) from None
        period = _cron_period(trigger)
    else:
        if schedule.has("interval_seconds"):
            interval = schedule["interval_seconds"].int(60, minimum=1)
        else:
            interval = schedule["interval_minutes"].int(60, minimum=1) * 60
        period = dt.timedelta(seconds=interval)
    host, port = _listen(section["listen"])
    default_age = 2 * period + dt.timedelta(minutes=5)
    age = section["ready_max_age_minutes"]
    ready_max_age = dt.timedelta(minutes=age.int(1, minimum=1)) if age.value is not None else default_age
    grace_default = int(min(period, dt.timedelta(hours=1)).total_seconds())
    return AgentSettings(
        interval_seconds=interval, cron=cron, timezone=timezone, host=host, port=port, ready_max_age=ready_max_age,
        ready_max_failed_scans=section["ready_max_failed_scans"].int(3, minimum=1),
        misfire_grace_seconds=section["misfire_grace_seconds"].int(grace_default, minimum=1),
        stop_timeout_seconds=section["stop_timeout_seconds"].int(30, minimum=1),
        log_level=section["log_level"].str("info", choices=LOG_LEVELS) or "info",
        period=period, distributed=_distributed(section["distributed"]),
        events=load_event_settings(section["events"]),
    )


def _distributed(node: Node) -> DistributedSettings | None:
    if node.value is None:
        return None
    node.mapping(DISTRIBUTED_KEYS)
    stalled = node["stalled_after_seconds"].int(30, minimum=2)
    heartbeat = node["heartbeat_seconds"].int(min(10, stalled // 2), minimum=1)
    if heartbeat * 2 > stalled:
        raise node["heartbeat_seconds"].error(f"{node.name}: heartbeat_seconds ({heartbeat}) must be at most half of "
                         f"stalled_after_seconds ({stalled}), or live replicas would be taken for dead")
    return DistributedSettings(
        worker_concurrency=node["worker_concurrency"].int(2, minimum=1),
        heartbeat_seconds=heartbeat, stalled_after_seconds=stalled,
        max_attempts=node["max_attempts"].int(3, minimum=1),
        scan_timeout=dt.timedelta(minutes=node["scan_timeout_minutes"].int(360, minimum=1)),
    )


def _listen(node: Node) -> tuple[str, int]:
    text = node.str()
    if text is None:
        return DEFAULT_LISTEN
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise node.error(f"{node.name}: expected HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080, got {text!r}")
    return host, int(port_text)


def _cron_period(trigger: CronTrigger) -> dt.timedelta:
    """The longest gap between the next few fire times (a weekday-only cron has a weekend gap)."""
    now = clock.now()
    times = []
    previous = None
    for _ in range(12):
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None:
            break
        times.append(nxt)
        previous, now = nxt, nxt + dt.timedelta(seconds=1)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    if not gaps:
        raise InputError("agent.schedule.cron: the expression never fires twice")
    return max(gaps)
