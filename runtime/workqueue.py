"""Scans spread over several agent replicas through the procrastinate job queue, in PostgreSQL.

A scan is planned by one replica, scanned in units by any of them, and finished by whichever
replica records its last unit:

1. **Plan** (`Replica.start_scan`, fired by each replica's APScheduler): in one transaction
   holding an advisory lock, and only if no scan is running and none started lately, list the
   units (accounts, subscriptions, projects: `Provider.units`), record the scan as running with
   a `scan_units` row per unit, and queue one `custody.scan_unit` job per unit on the same
   connection. All of it commits or none of it does; replicas that fire at the same moment
   find the lock taken or the scan started, and do nothing.
2. **Scan a unit** (`custody.scan_unit`, on any replica's worker): discover, tag and judge the
   unit's stores, and write them to its row once (state.units). The replica that writes the
   last unit queues `custody.finish_scan`.
3. **Finish** (`custody.finish_scan`): gather every unit's stores and targets, decide the
   scan's status, and record it through `StateStore.finish_scan`, which opens and resolves
   findings: they are judged only when every unit is in. The alerts are queued then, once.

Faults: a replica that dies stops sending heartbeats; after `stalled_after_seconds` another
replica's reaper puts its jobs back in the queue, and the unit is scanned again and counted
once. A unit whose scan raised, or whose replica died, `max_attempts` times is recorded as
failed, and its scan ends `partial`: nothing on that unit is marked gone or resolved. A scan
still running after `scan_timeout_minutes` has its waiting units recorded as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import procrastinate
from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.worker import Worker
from sqlalchemy import select
from sqlalchemy.engine import Connection, make_url

from providers.base import TargetLog
from runtime.agent_config import DistributedSettings
from runtime.cli import ScanSetup
from runtime.scan import ScanCancelled, StoreSpool, cancellable, conclude, new_scan
from scanner import clock
from scanner.model import DataStore, ScanResult, TargetResult
from state.locks import try_transaction_lock
from state.schema import scans_table
from state.store import StateStore
from state.units import (
    DONE,
    FAILED,
    TODO,
    Unit,
    add_units,
    lock_scan,
    record_unit,
    unit_results,
    unit_status,
    units_left,
    waiting_units,
)

log = logging.getLogger(__name__)
QUEUE = "custody"
SCAN_UNIT, FINISH_SCAN = "custody.scan_unit", "custody.finish_scan"
PLAN_LOCK = "custody:plan-scan"
KEEP_JOBS_HOURS = 24 * 30  # finished jobs kept for inspection, then deleted (with their events)
PRUNE_EVERY_SECONDS = 3600
CATCH_UP_EVERY_SECONDS = 60  # the alerts of a scan whose finisher died before queueing them: a minute late


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def conninfo(state_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (postgresql+psycopg://…)."""
    url = make_url(state_url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Replica:
    """This agent process's part in distributed scans: it plans scans, and its worker scans units."""

    def __init__(self, state: StateStore, setup: Callable[[], ScanSetup], settings: DistributedSettings,
                 state_url: str, on_finished: Callable[[], None], cancel: threading.Event,
                 name: str | None = None, observe: Callable[[ScanResult, float], None] | None = None) -> None:
        self.state = state
        self._load_setup = setup  # reads the config, policies and providers again
        self._setup: tuple[str, ScanSetup] | None = None  # (scan id, the setup its units use here)
        self._setup_lock = threading.Lock()
        self.settings = settings
        self.on_finished = on_finished  # queue the alerts of scans just recorded
        self.observe = observe  # the finisher's metrics: (scan, seconds from start to finish)
        self.cancel = cancel
        self.name = name or replica_name()
        libpq = conninfo(state_url)
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=libpq))
        # jobs are queued on our own SQLAlchemy connection, inside our transaction, by a sync connector
        self._defer_app = procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=libpq))
        retry = RetryStrategy(max_attempts=settings.max_attempts, wait=1)
        self.app.task(name=SCAN_UNIT, queue=QUEUE, pass_context=True, retry=retry)(self._scan_unit_job)
        self.app.task(name=FINISH_SCAN, queue=QUEUE, pass_context=True,
                      retry=RetryStrategy(max_attempts=10, wait=5))(self._finish_scan_job)
        self._running: set[int] = set()  # ids of the jobs this replica's worker is running now
        self._suspects: set[int] = set()  # jobs the queue says we run, but we do not: seen once
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ---- planning (the scheduler's thread) ---------------------------------------------------

    def start_scan(self, min_gap: dt.timedelta) -> str | None:
        """Plan and queue a scan unless one is running or one started less than `min_gap` ago; its id."""
        setup = self.setup_for(None)
        with self.state.writing() as conn:
            if not try_transaction_lock(conn, PLAN_LOCK):
                return None  # another replica is planning this very scan
            running = conn.scalar(select(scans_table.c.id).where(scans_table.c.status == "running").limit(1))
            if running is not None:
                log.info("scan not started: scan %s is still running", running)
                return None
            last = conn.scalar(select(scans_table.c.started_at).order_by(scans_table.c.seq.desc()).limit(1))
            if last is not None and _since(last) < min_gap:
                return None  # another replica started this slot's scan
            scan = new_scan(setup.judge)
            targets = TargetLog()
            units = [Unit(section, unit_id) for section, provider in zip(setup.config.providers, setup.providers,
                                                                         strict=True)
                     for unit_id in provider.units(targets)]
            scan.targets = targets.results
            self.state.record_start(conn, scan)
            add_units(conn, scan.id, units)
            for unit in units:
                self._defer(conn, SCAN_UNIT, f"unit:{scan.id}:{unit.key}", scan_id=scan.id, unit=unit.key)
            if not units:
                self._defer(conn, FINISH_SCAN, f"finish:{scan.id}", scan_id=scan.id)
        log.info("scan planned", extra={"scan_id": scan.id, "units": len(units), "replica": self.name})
        return scan.id

    def _defer(self, conn: Connection, task: str, key: str, **kwargs: Any) -> None:
        """Queue a job inside `conn`'s transaction. `key` is its queueing lock (one waiting job per key)
        and its lock (one running job per key: a finish never runs twice at once)."""
        raw = conn.connection.driver_connection
        with contextlib.suppress(AlreadyEnqueued):  # the same job is already waiting: once is enough
            self._defer_app.configure_task(task, queue=QUEUE, queueing_lock=key, lock=key,
                                           connection=raw).defer(**kwargs)

    # ---- the jobs (the worker's threads) -----------------------------------------------------

    def _scan_unit_job(self, context: JobContext, scan_id: str, unit: str) -> None:
        with self._tracking(context):
            self.scan_unit(scan_id, unit, context.job.attempts)

    def _finish_scan_job(self, context: JobContext, scan_id: str) -> None:
        with self._tracking(context):
            self.finish_scan(scan_id)

    @contextlib.contextmanager
    def _tracking(self, context: JobContext) -> Iterator[None]:
        job_id = context.job.id
        if job_id is not None:
            self._running.add(job_id)
        try:
            yield
        finally:
            self._running.discard(job_id or 0)

    def scan_unit(self, scan_id: str, unit: str, attempts: int = 0) -> None:
        """Scan one unit (`attempts`: how often it was tried before) and record it once;
        the last unit of a scan queues its finish."""
        part = Unit.from_key(unit)
        with self.state.reading() as conn:
            if unit_status(conn, scan_id, part) != TODO:
                return  # recorded already: a second run of a unit counts for nothing
        if attempts >= self.settings.max_attempts:
            self._record(scan_id, part, FAILED, [], [_failed(part, f"not scanned: the replicas scanning it stopped "
                                                             f"{attempts} times")], attempts)
            return
        log.info("unit started", extra={"scan_id": scan_id, "unit": unit, "attempt": attempts + 1})
        try:
            stores, targets = self._scan(scan_id, part)
        except ScanCancelled:
            raise  # this replica is stopping: the queue hands the unit to another one
        except Exception as exc:
            if attempts + 1 < self.settings.max_attempts:
                raise  # retried by the queue
            log.exception("unit %s failed for good", unit)
            self._record(scan_id, part, FAILED, [], [_failed(part, f"{type(exc).__name__}: {exc}")], attempts + 1)
            return
        self._record(scan_id, part, DONE, stores, targets, attempts + 1)
        log.info("unit scanned", extra={"scan_id": scan_id, "unit": unit, "stores": len(stores)})

    def setup_for(self, scan_id: str | None) -> ScanSetup:
        """The setup for a scan's units: the config files are read again once per scan (None: now)."""
        with self._setup_lock:
            if scan_id is None or self._setup is None or self._setup[0] != scan_id:
                setup = self._load_setup()
                setup.judge.today = dt.date.today()
                self._setup = (scan_id or "", setup)
            return self._setup[1]

    def _scan(self, scan_id: str, part: Unit) -> tuple[list[dict[str, Any]], list[TargetResult]]:
        setup = self.setup_for(scan_id)
        providers = dict(zip(setup.config.providers, setup.providers, strict=True))
        provider = providers.get(part.section)
        if provider is None:
            raise LookupError(f"no provider section {part.section!r} in this replica's config")
        targets = TargetLog()
        stores: dict[str, dict[str, Any]] = {}
        for found in cancellable(provider.discover_unit(part.unit_id, targets), self.cancel):
            if self.cancel.is_set():
                raise ScanCancelled
            stores[found.id] = setup.judge.judge(found).to_dict()
        return list(stores.values()), targets.results

    def _record(self, scan_id: str, part: Unit, status: str, stores: list[dict[str, Any]],
                targets: list[TargetResult], attempts: int) -> None:
        with self.state.writing() as conn:
            if lock_scan(conn, scan_id) != "running":
                return
            if not record_unit(conn, scan_id, part, status, stores, targets, self.name, attempts, clock.now_iso()):
                return
            if units_left(conn, scan_id) == 0:
                self._defer(conn, FINISH_SCAN, f"finish:{scan_id}", scan_id=scan_id)

    def finish_scan(self, scan_id: str) -> None:
        """Every unit is in: judge the scan as a whole and record it (findings opened and resolved)."""
        recorded = self.state.scan(scan_id)
        if recorded is None or recorded["status"] != "running":
            return  # finished already (this job ran before and was cut off after recording)
        scan = ScanResult(id=scan_id, started_at=recorded["started_at"], home=list(recorded["home"] or []),
                          targets=[TargetResult(**target) for target in recorded["targets"]])  # the plan's
        stores = StoreSpool()  # the stores judged on the replicas, read back one unit at a time
        with stores, self.state.reading() as conn:
            units = 0
            for result in unit_results(conn, scan_id):
                units += 1
                scan.targets += result.targets
                for doc in result.stores:
                    stores.add(DataStore.from_dict(doc))
            conn.rollback()  # done reading: no transaction left open while the scan is recorded
            conclude(scan, stores, self.setup_for(scan_id).config)
            self.state.finish_scan(scan, stores)
        log.info("scan finished", extra={"scan_id": scan_id, "status": scan.status, "stores": scan.counts["stores"],
                                         "units": units, "replica": self.name})
        if self.observe is not None and scan.finished_at:
            seconds = (clock.parse_time(scan.finished_at) - clock.parse_time(scan.started_at)).total_seconds()
            self.observe(scan, max(0.0, seconds))
        self.on_finished()

    # ---- the worker and its reaper (a thread with its own event loop) ------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="workqueue", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        if self._loop is not None and self._worker is not None:
            self._loop.call_soon_threadsafe(self._worker.stop)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                asyncio.run(self._serve())
            except Exception:  # the database went away: start a fresh worker (a new heartbeat) shortly
                log.exception("job queue worker stopped; starting again")
            self._stopping.wait(timeout=self.settings.heartbeat_seconds)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        async with self.app.open_async():
            self._worker = Worker(
                self.app, queues=[QUEUE], name=self.name, concurrency=self.settings.worker_concurrency,
                install_signal_handlers=False, update_heartbeat_interval=self.settings.heartbeat_seconds,
                stalled_worker_timeout=self.settings.stalled_after_seconds,
                fetch_job_polling_interval=self.settings.heartbeat_seconds,
                shutdown_graceful_timeout=self.settings.stalled_after_seconds,
            )
            reaper = asyncio.create_task(self._reap_forever())
            try:
                await self._worker.run()
            finally:
                reaper.cancel()

    async def _reap_forever(self) -> None:
        caught_up_at = pruned_at = float("-inf")
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self._retry_stalled()
                await self._retry_orphans()
                await asyncio.to_thread(self._expire_scans)
                if time.monotonic() - caught_up_at > CATCH_UP_EVERY_SECONDS:
                    await asyncio.to_thread(self.on_finished)  # a finisher that died before queueing alerts
                    caught_up_at = time.monotonic()
                if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                    await self.app.job_manager.delete_old_jobs(KEEP_JOBS_HOURS, queue=QUEUE, include_failed=True)
                    pruned_at = time.monotonic()
            except Exception:
                log.exception("reaper round failed")

    async def _retry_stalled(self) -> None:
        """Put the jobs of replicas that stopped sending heartbeats back in the queue."""
        stalled = await self.app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=self.settings.stalled_after_seconds)
        for job in stalled:
            try:
                await self.app.job_manager.retry_job(job)
                log.warning("job of a stopped replica queued again", extra={"job": job.task_name,
                                                                            "task_args": job.task_kwargs})
            except Exception:
                log.debug("stalled job %s not retried", job.id, exc_info=True)

    async def _retry_orphans(self) -> None:
        """Put back in the queue the jobs it says this worker runs when it does not: the database went
        away as a job ended, so the queue never heard the end (seen in two rounds in a row, to let a job
        just fetched, or just ending, get there)."""
        worker_id = self._worker.worker_id if self._worker else None
        if worker_id is None:
            return
        rows = await self.app.connector.execute_query_all_async(
            "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = %(worker_id)s",
            worker_id=worker_id)
        orphans = {row["id"] for row in rows} - self._running
        for job_id in orphans & self._suspects:
            await self.app.job_manager.retry_job_by_id_async(job_id, retry_at=clock.now())
            log.warning("job cut off by a database outage queued again", extra={"job_id": job_id})
        self._suspects = orphans - self._suspects

    def _expire_scans(self) -> None:
        """Record as failed the units of scans running longer than the scan timeout; the scan then finishes."""
        cutoff = clock.now() - self.settings.scan_timeout
        with self.state.reading() as conn:
            running = [(row.id, row.started_at) for row in conn.execute(
                select(scans_table.c.id, scans_table.c.started_at).where(scans_table.c.status == "running"))]
        for scan_id, started_at in running:
            if clock.parse_time(started_at) > cutoff:
                continue
            with self.state.reading() as conn:
                waiting = waiting_units(conn, scan_id)
            minutes = int(self.settings.scan_timeout.total_seconds() // 60)
            for part in waiting:
                self._record(scan_id, part, FAILED, [], [_failed(part, f"not scanned within {minutes} minutes")], 0)


def _failed(part: Unit, error: str) -> TargetResult:
    provider = part.section.split("/", 1)[0]
    return TargetResult(provider, part.unit_id, "*", "*", "error", error)


def _since(text: str) -> dt.timedelta:
    return clock.now() - clock.parse_time(text)
