"""The agent: `python agent.py run --config custody.yaml` — scheduled scans, alerts, health.

What it does:

1. Reads the config (the `agent` and `alerts` sections too, see runtime.agent_config and
   alerts.config), every alert channel's secret, and opens the state store; a problem with
   any of them stops it at once with one line (exit code 2).
2. Marks scans left "running" by a dead agent as interrupted, and queues the alerts of any
   scan recorded but not yet alerted (a crash between the two).
3. Serves /healthz, /readyz, /metrics (and the dashboard, when installed) on `agent.listen`.
4. Scans at start, then on the schedule (APScheduler: coalesced, one at a time, with a misfire
   grace time). Before each scan the config and policy files are read again, so a renewed or
   edited waiver takes effect at the next scan without a restart (a broken edit is logged and
   the previous config kept); `state`, `agent` and `alerts` are read at start only. Right
   after a scan is recorded, its alerts are queued in the outbox (alerts.pipeline), and one
   worker per channel delivers them (alerts.delivery).
   With `agent.distributed` (PostgreSQL only), the schedule only plans: one replica starts each
   scan, every replica's job-queue worker scans its units, and the replica that records the last
   unit finishes the scan and queues its alerts (runtime.workqueue, docs/scaling.md).
5. SIGTERM or SIGINT: the scan in flight stops within a fraction of a second, even inside an
   account (runtime.scan.cancellable), and is recorded as "interrupted" (nothing is resolved or
   gone on its account); pending alerts stay queued for the next start; exit code 0. The whole
   stop (scan, sends in progress, the HTTP server) is bounded by `agent.stop_timeout_seconds`:
   what has not finished by then is abandoned (a scan still running is marked interrupted) and
   the process exits. Orchestrators' grace periods must exceed it (deploy/: 45 s for 30 s).

Logs are JSON lines on stderr (runtime.logging_json); secrets never appear in them.

The `agent` section (every key optional; see runtime.agent_config for details):

    agent:
      schedule: {interval_minutes: 60}   # or {interval_seconds: 30}, or {cron: "0 * * * *", timezone: UTC}
      listen: "127.0.0.1:8080"           # "0.0.0.0:8080" in a container
      ready_max_age_minutes: 125         # default: twice the schedule's period + 5 minutes
      misfire_grace_seconds: 3600        # default: the period, at most an hour
      stop_timeout_seconds: 30
      log_level: info
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
import zoneinfo
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from alerts.config import AlertSettings, load_alert_settings, read_secrets
from alerts.db import Database
from alerts.delivery import Deliverer
from alerts.email import EmailSender
from alerts.pagerduty import PagerDutySender
from alerts.pipeline import AlertPipeline
from alerts.sending import Sender
from alerts.slack import SlackSender
from alerts.teams import TeamsSender
from alerts.webhook import WebhookSender
from runtime import logging_json
from runtime.agent_config import AgentSettings, load_agent_settings
from runtime.cli import ScanSetup, prepare
from runtime.events import start_consumers
from runtime.health import Readiness, create_agent_app
from runtime.metrics import AgentMetrics
from runtime.scan import run_scan
from runtime.workqueue import Replica
from scanner.errors import InputError
from state.engine import database_url
from state.store import StateStore

log = logging.getLogger("custody.agent")
EXIT_OK = 0
EXIT_RESERVE_SECONDS = 0.5  # of stop_timeout_seconds: for the last log lines and the exit itself


def run_agent(config_path: str | None) -> int:
    """Run until SIGTERM or SIGINT; 0 on a clean stop. Bad input raises InputError (exit code 2)."""
    setup = prepare(config_path, [])
    agent_settings = load_agent_settings(setup.config.section("agent"))
    alert_settings = load_alert_settings(setup.config.section("alerts"))
    read_secrets(alert_settings)
    logging_json.configure(agent_settings.log_level)
    return Agent(config_path, setup, agent_settings, alert_settings, alert_settings.dashboard_url).run()


SENDERS: dict[str, Callable[[Any], Sender]] = {
    "slack": SlackSender, "email": EmailSender, "webhook": WebhookSender, "teams": TeamsSender,
    "pagerduty": PagerDutySender,
}


def build_senders(settings: AlertSettings) -> dict[str, Sender]:
    return {name: SENDERS[channel.type](channel) for name, channel in settings.channels.items()}


class Agent:
    def __init__(self, config_path: str | None, setup: ScanSetup, settings: AgentSettings,
                 alert_settings: AlertSettings, dashboard_url: str | None) -> None:
        self.config_path = config_path
        self.setup = setup
        self.settings = settings
        self.alert_settings = alert_settings
        self.dashboard_url = dashboard_url
        self.stopping = threading.Event()
        self.cancel = threading.Event()  # tells the scan in flight to stop
        self._scan_lock = threading.Lock()
        self.replica: Replica | None = None
        self._first_plan = True

    # ---- lifecycle ----------------------------------------------------------------------

    def run(self) -> int:
        self._check_distributed_state()
        self._install_signal_handlers()
        listener = self._bind()
        self.state = StateStore(self.setup.config.state)
        try:
            return self._serve(listener)
        finally:
            self.state.close()

    def _serve(self, listener: socket.socket) -> int:
        if self.settings.distributed is None:  # replicas finish the scans of a stopped one instead
            interrupted = self.state.interrupt_running()
            if interrupted:
                log.warning("scans left running by a stopped agent marked interrupted: %s", ", ".join(interrupted),
                            extra={"scan_ids": interrupted})
        db = self.db = Database(self.state)
        self.pipeline = AlertPipeline(db, self.alert_settings, self.dashboard_url,
                                      name_of=self.setup.judge.catalog.jurisdiction_name,
                                      scopes=lambda: {policy.id: dict(policy.scope.tags)
                                                      for policy in self.setup.judge.policies})
        self.metrics = AgentMetrics(db, self.alert_settings.channels, blocked=lambda: self.deliverer.blocked())
        self.deliverer = Deliverer(db, build_senders(self.alert_settings), self.alert_settings.delivery,
                                   self.metrics.on_delivery)
        self._queue_alerts()  # a scan recorded before a crash, not yet alerted
        self.deliverer.start()
        self.replica = self._start_replica()
        server, server_thread = self._start_http(listener, db)
        scheduler = self._start_scheduler()
        consumers = start_consumers(self.settings.events, self.state, lambda: self.setup,  # change events
                                    lambda _recorded: self._queue_alerts(), self.metrics.registry, self.stopping)
        log.info("agent started", extra={"listen": f"{self.settings.host}:{self.settings.port}",
                                         "schedule": self.settings.schedule_text, "state": self.state.display,
                                         "channels": list(self.alert_settings.channels)})
        while not self.stopping.wait(timeout=1.0):
            pass
        log.info("agent stopping", extra={"stop_timeout_seconds": self.settings.stop_timeout_seconds})
        deadline = time.monotonic() + self.settings.stop_timeout_seconds - EXIT_RESERVE_SECONDS
        server.should_exit = True  # no new requests; in-flight ones finish while the rest stops

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        self._stop_scheduler(scheduler, left)
        for consumer in consumers:  # each ends its long poll and its batch in flight, within the stop bound
            consumer.join(timeout=left())
        if self.replica is not None:
            self.replica.stop(timeout=left())
        self.deliverer.stop(timeout=left())
        server_thread.join(timeout=left())
        if self.deliverer.running() or server_thread.is_alive() or any(c.is_alive() for c in consumers):
            log.warning("stop timeout reached: abandoning what is still running (sends in progress are retried "
                        "after the restart)", extra={"stop_timeout_seconds": self.settings.stop_timeout_seconds})
            self._exit_now()
        log.info("agent stopped")
        return EXIT_OK

    def _check_distributed_state(self) -> None:
        url = database_url(self.setup.config.state)
        if self.settings.distributed and url.get_backend_name() != "postgresql":
            raise InputError("agent.distributed: replicas share their work through PostgreSQL; set `state` to a "
                             f"postgresql:// URL (got {url.render_as_string(hide_password=True)})",
                             self.setup.config.path)

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            if not self.stopping.is_set():
                log.info("received %s", signal.Signals(signum).name)
            self.cancel.set()
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def _bind(self) -> socket.socket:
        host, port = self.settings.host, self.settings.port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as exc:
            listener.close()
            raise InputError(f"agent.listen: cannot listen on {host}:{port}: {exc.strerror or exc}",
                             self.setup.config.path) from None
        return listener

    def _start_http(self, listener: socket.socket, db: Database) -> tuple[uvicorn.Server, threading.Thread]:
        readiness = Readiness(db, self.settings.ready_max_age, blocked=self.deliverer.blocked,
                              failed_scans=lambda: self.metrics.consecutive_failures,
                              max_failed_scans=self.settings.ready_max_failed_scans)
        app = create_agent_app(readiness.check, self.metrics,
                               self.setup.config, self.setup.config.state)
        # X-Forwarded-For is trusted only from dashboard.trusted_proxies, never by uvicorn itself
        config = uvicorn.Config(app, log_config=None, access_log=False, server_header=False, lifespan="off",
                                proxy_headers=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="http", daemon=True)
        thread.start()
        return server, thread

    def _start_replica(self) -> Replica | None:
        if self.settings.distributed is None:
            return None
        replica = Replica(self.state, self._reload, self.settings.distributed, self.setup.config.state,
                          on_finished=self._queue_alerts, cancel=self.cancel, observe=self.metrics.observe_scan)
        replica.start()
        log.info("replica started", extra={"replica": replica.name})
        return replica

    def _start_scheduler(self) -> BackgroundScheduler:
        tz = zoneinfo.ZoneInfo(self.settings.timezone)
        scheduler = BackgroundScheduler(
            timezone=tz, executors={"default": ThreadPoolExecutor(max_workers=2)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.settings.misfire_grace_seconds},
        )
        scheduler.add_job(self.scan_job, self.settings.trigger(), id="scan", name="scan",
                          next_run_time=dt.datetime.now(tz))
        digest = self.alert_settings.digest
        if digest is not None:
            scheduler.add_job(self.digest_job, CronTrigger(hour=digest.at.hour, minute=digest.at.minute,
                                                           timezone=zoneinfo.ZoneInfo(digest.timezone)),
                              id="digest", name="digest")
        scheduler.start()
        return scheduler

    def _stop_scheduler(self, scheduler: BackgroundScheduler, left: Callable[[], float]) -> None:
        """Wait for the scan in flight (told to stop) to be recorded; give up at the stop deadline."""
        waiter = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        waiter.start()
        waiter.join(timeout=left())
        if waiter.is_alive():
            try:
                marked = self.state.interrupt_running()
            except InputError as exc:
                marked = [f"none (the state store refused: {exc})"]
            log.error("the scan in flight did not stop within %s s; marked interrupted: %s",
                      self.settings.stop_timeout_seconds, ", ".join(marked) or "none")
            self.deliverer.stop(timeout=left())
            self._exit_now()

    def _exit_now(self) -> None:
        """Exit at once, abandoning daemon threads stuck in a call (a hung scan or send)."""
        log.info("agent stopped")
        logging.shutdown()
        os._exit(EXIT_OK)

    # ---- jobs -----------------------------------------------------------------------------

    def scan_job(self) -> None:
        if self.stopping.is_set() or not self._scan_lock.acquire(blocking=False):
            return
        if self.replica is not None:
            self._plan_scan()
            return
        try:
            setup = self._reload()
            setup.judge.today = dt.date.today()
            started = time.monotonic()
            log.info("scan started")
            scan, stores = run_scan(setup.providers, setup.judge, self.state, cancel=self.cancel)
            seconds = time.monotonic() - started
            self.metrics.observe_scan(scan, seconds)
            unrecorded = [gap for gap in scan.coverage_gaps if gap.startswith("state store: ")]
            if unrecorded:
                self.db.write_error = unrecorded[0]
            failed = [t for t in scan.targets if t.status != "ok"]
            log.info("scan finished", extra={"scan_id": scan.id, "status": scan.status, "stores": len(stores),
                                             "counts": scan.counts, "failed_targets": len(failed),
                                             "duration_seconds": round(seconds, 3)})
            stores.close()  # the spool's temporary file: recorded, so no longer needed
            self._queue_alerts()
        except InputError as exc:  # the state store refused the scan's start
            self.metrics.scan_failed("not_recorded")
            self.db.write_error = str(exc)
            log.error("scan job failed: %s", exc)
        except Exception:
            self.metrics.scan_failed("error")
            log.exception("scan job failed")
        finally:
            self._scan_lock.release()

    def _plan_scan(self) -> None:
        """Distributed: start the scan of this slot unless another replica has (runtime.workqueue).
        At start-up, only when no scan started within a whole period (a replica joining late)."""
        assert self.replica is not None
        period = self.settings.period
        try:
            self.replica.start_scan(min_gap=period if self._first_plan else period / 2)
        except InputError as exc:
            log.error("scan not planned: %s", exc)
        except Exception:
            log.exception("scan not planned")
        finally:
            self._first_plan = False
            self._scan_lock.release()

    def digest_job(self) -> None:
        digest = self.alert_settings.digest
        assert digest is not None
        day = dt.datetime.now(zoneinfo.ZoneInfo(digest.timezone)).date()
        try:
            queued = self.pipeline.enqueue_digest(day)
            log.info("digest queued", extra={"day": day.isoformat(), "queued": queued})
            self.deliverer.wake()
        except Exception:
            log.exception("digest job failed")

    def _queue_alerts(self) -> None:
        try:
            for done in self.pipeline.process():
                log.info("alerts queued", extra={"scan_id": done.scan_id, "status": done.status,
                                                 "alerts": done.alerts, "queued": done.queued,
                                                 "baseline": done.baseline})
        except InputError as exc:  # the database went away: the next scan catches up
            log.error("alerts not queued: %s", exc)
        except Exception:  # a bug must not stop the scans; the scan stays unprocessed and is retried
            log.exception("alerts not queued")
        self.deliverer.wake()

    def _reload(self) -> ScanSetup:
        try:
            self.setup = prepare(self.config_path, [])
        except InputError as exc:
            log.error("config not reloaded, the previous one stays in use: %s", exc)
        return self.setup
