"""The agent's HTTP app: /healthz, /readyz and /metrics, with the dashboard mounted at "/".

The three routes are the agent's own, unauthenticated, and answer whether or not the dashboard
imports: `dashboard.app.create_app(config, state_location)` is mounted when available.

- /healthz  200 while the process serves requests.
- /readyz   200 when the latest complete or partial scan finished within `ready_max_age`, fewer
            than `ready_max_failed_scans` scan jobs in a row failed, and every alert channel
            can record what it sends; 503 otherwise, with the reason (no scan yet, too old,
            scans failing, a channel stopped, the state store unreachable).
- /metrics  Prometheus text format (runtime.metrics).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from alerts.db import Database
from runtime.metrics import AgentMetrics
from scanner.clock import now, parse_time
from scanner.config import Config
from state.schema import scans_table

log = logging.getLogger(__name__)


def readiness(last_read: dict[str, Any] | None, latest: dict[str, Any] | None, now: dt.datetime,
              max_age: dt.timedelta) -> tuple[bool, str]:
    """(ready, reason) from the latest complete/partial scan and the latest finished scan of any status."""
    if last_read is None or not last_read.get("finished_at"):
        if latest is not None:
            return False, f"no scan has read the estate yet (latest scan {latest['id']}: {latest['status']})"
        return False, "no scan has finished yet"
    age = now - parse_time(last_read["finished_at"])
    if age > max_age:
        newer = latest is not None and latest["id"] != last_read["id"]
        detail = f"; latest scan {latest['id']}: {latest['status']}" if newer else ""
        return False, (f"the last scan that read the estate ({last_read['id']}) finished {int(age.total_seconds())} s "
                       f"ago, more than {int(max_age.total_seconds())} s{detail}")
    return True, f"scan {last_read['id']} ({last_read['status']}) finished {int(age.total_seconds())} s ago"


class Readiness:
    def __init__(self, db: Database, max_age: dt.timedelta,
                 clock: Callable[[], dt.datetime] = now, blocked: Callable[[], dict[str, str]] = dict,
                 failed_scans: Callable[[], int] = lambda: 0, max_failed_scans: int = 3) -> None:
        self.db = db
        self.max_age = max_age
        self.clock = clock
        self.blocked = blocked
        self.failed_scans = failed_scans
        self.max_failed_scans = max_failed_scans

    def check(self) -> tuple[bool, str]:
        stopped = self.blocked()
        if stopped:
            return False, "; ".join(f"alert delivery to {channel} stopped: {reason}"
                                    for channel, reason in sorted(stopped.items()))
        failed = self.failed_scans()
        if failed >= self.max_failed_scans:
            return False, f"the last {failed} scan jobs failed (see custody_scan_failures_total and the logs)"
        try:
            with self.db.read() as conn:
                columns = (scans_table.c.id, scans_table.c.status, scans_table.c.finished_at)
                newest = select(*columns).order_by(scans_table.c.seq.desc()).limit(1)
                last_read = conn.execute(newest.where(scans_table.c.status.in_(("complete", "partial"))))
                last_read = last_read.mappings().first()
                latest = conn.execute(newest.where(scans_table.c.status != "running")).mappings().first()
        except Exception as exc:
            return False, f"state store unavailable: {exc}"
        return readiness(dict(last_read) if last_read else None, dict(latest) if latest else None, self.clock(),
                         self.max_age)


def create_agent_app(check_ready: Callable[[], tuple[bool, str]], metrics: AgentMetrics,
                     config: Config | None = None, state_location: str | None = None) -> FastAPI:
    app = FastAPI(title="Custody agent", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        ready, reason = check_ready()
        return JSONResponse({"ready": ready, "reason": reason}, status_code=200 if ready else 503)

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if config is not None and state_location is not None:
        dashboard = _dashboard(config, state_location)
        if dashboard is not None:
            app.mount("/", dashboard)
    return app


def _dashboard(config: Config, state_location: str) -> Any:
    try:
        from dashboard.app import create_app
    except ModuleNotFoundError as exc:
        if exc.name in ("dashboard", "dashboard.app"):
            log.info("dashboard not installed: serving health and metrics only")
            return None
        log.error("dashboard unavailable: %s", exc)
        return None
    except Exception as exc:
        log.error("dashboard unavailable: %s: %s", type(exc).__name__, exc)
        return None
    try:
        return create_app(config, state_location)
    except Exception as exc:  # the health routes must not depend on the dashboard
        log.warning("dashboard not mounted: %s: %s", type(exc).__name__, exc)
        return None
