"""The delivery loop: one worker per channel takes that channel's oldest pending outbox row,
sends it, and records the outcome in the statement right after the send returns.

- Order: a channel delivers its rows in the order they were queued; while its oldest row waits
  for a retry, the rows behind it wait too (Slack and mail servers fail for everyone at once).
- Rate limit: at least `min_interval_seconds` between two sends to a channel (Slack accepts
  about one message per second per webhook or channel).
- Retries: exponential backoff from `backoff_initial_seconds`, doubling, capped at
  `backoff_max_seconds`, with equal jitter (half fixed, half random, so many agents do not
  retry in step); a 429's Retry-After is honoured instead (at most an hour). After
  `give_up_after_hours` a row is marked failed, as is any permanent error.
- A send whose outcome cannot be recorded (the state store went read-only or its volume is
  full) stops delivery on that channel: the outcome is held in memory and written again every
  few seconds, and nothing more is sent on the channel until it is written (so nothing is sent
  twice while the process lives). Meanwhile `blocked()` names the channel and the reason, for
  the logs, /readyz and the metrics.
- A row that fails for good is told on every other channel (`channel_failed`, at most once a
  day per channel), so a bad secret or a removed webhook is noticed; `custody alerts retry
  --failed` queues the failed rows again once it is fixed.
- Guarantee: at least once. A row is marked delivered only after the channel accepted it, so a
  crash never drops one; the one remaining window is a crash (or a lost reply, e.g. a timeout)
  after the receiver accepted a message and before the row was marked: that message is sent
  again after the restart. Slack webhooks have no idempotency key to close it; e-mails carry a
  stable Message-ID so that clients de-duplicate them.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from alerts.config import DeliverySettings
from alerts.db import Database
from alerts.model import Alert
from alerts.outbox import FAILED, PENDING, enqueue, mark_delivered, mark_failed, mark_retry
from alerts.sending import Sender, SendResult
from scanner.clock import now, now_text, parse_time
from scanner.secrets import mask
from state.locks import Leadership
from state.schema import outbox_table

log = logging.getLogger(__name__)
RETRY_AFTER_CAP_SECONDS = 3600.0
IDLE_POLL_SECONDS = 2.0
RECORD_RETRY_SECONDS = 5.0


def backoff_delay(attempts: int, settings: DeliverySettings, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1, 2, ...): capped exponential, equal jitter."""
    base = min(settings.backoff_max_seconds, settings.backoff_initial_seconds * 2 ** max(0, attempts - 1))
    return base / 2 + rng() * base / 2


def next_attempt_delay(attempts: int, result: SendResult, settings: DeliverySettings,
                       rng: Callable[[], float] = random.random) -> float:
    if result.retry_after is not None:
        return min(max(result.retry_after, 0.0), RETRY_AFTER_CAP_SECONDS)
    return backoff_delay(attempts, settings, rng)


class ChannelWorker:
    """Delivers one channel's outbox rows, in order, until stopped."""

    def __init__(self, db: Database, sender: Sender, settings: DeliverySettings,
                 on_result: Callable[[str, str], None] | None = None,
                 clock: Callable[[], dt.datetime] = now,
                 rng: Callable[[], float] = random.random, others: tuple[str, ...] = ()) -> None:
        self.db = db
        self.others = others  # the other channels: told when this one fails for good
        self.sender = sender
        self.settings = settings
        self.on_result = on_result or (lambda channel, outcome: None)
        self.clock = clock
        self.rng = rng
        self.wake = threading.Event()
        self.blocked: str | None = None  # why delivery stopped: an outcome that could not be recorded
        self._held: tuple[dict[str, Any], int, SendResult, dt.datetime] | None = None
        self._last_send = float("-inf")  # monotonic time of the last send
        # one replica at a time delivers a channel (a PostgreSQL session lock; always held on SQLite)
        self.leadership = Leadership(db.state.connect, db.state.backend, f"custody:deliver:{sender.name}")

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                wait = self.step()
            except Exception as exc:  # the database went away: keep the rows, try again later
                log.error("delivery to %s: %s", self.sender.name, mask(str(exc)), extra={"channel": self.sender.name})
                wait = 5.0
            if wait > 0:
                self.wake.wait(timeout=min(wait, IDLE_POLL_SECONDS))
                self.wake.clear()

    def step(self) -> float:
        """Send the channel's oldest pending row if it is due; return seconds until the next try (0: now)."""
        if self._held is not None and not self._record_held():
            return RECORD_RETRY_SECONDS
        if not self.leadership.held():  # another replica delivers this channel
            return IDLE_POLL_SECONDS
        with self.db.read() as conn:
            head = conn.execute(
                select(outbox_table)
                .where(outbox_table.c.channel == self.sender.name, outbox_table.c.status == PENDING)
                .order_by(outbox_table.c.id).limit(1)
            ).mappings().first()
        if head is None:
            return IDLE_POLL_SECONDS
        now = self.clock()
        due_in = (parse_time(head["next_attempt_at"]) - now).total_seconds()
        if due_in > 0:
            return due_in
        spacing = self.sender.min_interval_seconds - (time.monotonic() - self._last_send)
        if spacing > 0:
            return spacing
        self.deliver(dict(head))
        return 0.0

    def deliver(self, row: dict[str, Any]) -> SendResult:
        """Send one row and record the outcome; an outcome that cannot be recorded is held (see above)."""
        alert = Alert.from_dict(row["payload"])
        attempts = row["attempts"] + 1
        self._last_send = time.monotonic()
        result = self.sender.send(alert, row["alert_key"])
        now = self.clock()
        result = self._outcome(row, attempts, result, now)
        self.on_result(self.sender.name, result.outcome)
        self._held = (row, attempts, result, now)
        self._record_held()
        return result

    def _outcome(self, row: dict[str, Any], attempts: int, result: SendResult, now: dt.datetime) -> SendResult:
        """What to record: delivered; retry (retry_after: the delay chosen); or failed (for good, or too old)."""
        if result.outcome == "delivered":
            return result
        if result.outcome == "retry" and not self._expired(row, now):
            return SendResult("retry", result.error or "unknown error",
                              next_attempt_delay(attempts, result, self.settings, self.rng))
        error = result.error or "unknown error"
        if result.outcome == "retry":
            error = f"gave up after {attempts} attempts over {self.settings.give_up_after_hours:g} h: {error}"
        return SendResult("failed", error)

    def _record_held(self) -> bool:
        """Write the held outcome; on failure stop the channel (logged once) and return False."""
        assert self._held is not None
        row, attempts, result, at = self._held
        try:
            outcome = self._record(row, attempts, result, at)
        except Exception as exc:
            if self.blocked is None:
                self.blocked = mask(f"the state store cannot be written: {' '.join(str(exc).split())[:300]}")
                log.error("alert delivery to %s stopped: the %s outcome of alert %s could not be recorded (%s); "
                          "nothing more is sent on this channel until it is", self.sender.name, result.outcome,
                          row["alert_key"], self.blocked,
                          extra={"channel": self.sender.name, "alert_key": row["alert_key"]})
            return False
        self._held = None
        if self.blocked is not None:
            self.blocked = None
            log.warning("alert delivery to %s resumes: the held outcome was recorded", self.sender.name,
                        extra={"channel": self.sender.name, "alert_key": row["alert_key"]})
        self._log(row, attempts, outcome)
        return True

    def _record(self, row: dict[str, Any], attempts: int, result: SendResult, at: dt.datetime) -> SendResult:
        with self.db.write() as conn:
            if result.outcome == "delivered":
                mark_delivered(conn, row["id"], attempts, now_text(at))
            elif result.outcome == "retry":
                next_at = now_text(at + dt.timedelta(seconds=result.retry_after or 0.0))
                mark_retry(conn, row["id"], attempts, now_text(at), next_at, result.error or "unknown error")
            else:
                mark_failed(conn, row["id"], attempts, now_text(at), result.error or "unknown error")
                if row["kind"] != "channel_failed" and self.others:
                    alert = channel_failed_alert(conn, self.sender.name, result.error or "unknown error", at)
                    enqueue(conn, [(alert, other) for other in self.others], now_text(at))
        return result

    def _log(self, row: dict[str, Any], attempts: int, result: SendResult) -> None:
        extra: dict[str, Any] = {"channel": self.sender.name, "alert_key": row["alert_key"], "attempts": attempts,
                                 "scan_id": row.get("scan_id")}
        if result.outcome == "delivered":
            log.info("alert delivered", extra=extra)
        elif result.outcome == "retry":
            extra["retry_in_seconds"] = round(result.retry_after or 0.0, 3)
            log.warning("alert delivery failed, will retry: %s", result.error, extra=extra)
        else:
            log.error("alert delivery failed for good: %s", result.error, extra=extra)

    def _expired(self, row: dict[str, Any], now: dt.datetime) -> bool:
        age = now - parse_time(row["created_at"])
        return age > dt.timedelta(hours=self.settings.give_up_after_hours)


def channel_failed_alert(conn: Connection, channel: str, error: str, at: dt.datetime) -> Alert:
    """The alert told on the other channels when `channel` fails for good (one a day per channel)."""
    failed = conn.scalar(select(func.count()).select_from(outbox_table).where(
        outbox_table.c.channel == channel, outbox_table.c.status == FAILED)) or 0
    day = at.date().isoformat()
    return Alert(
        key=f"channel:{channel}:failed:{day}", kind="channel_failed", subject=channel, severity="high",
        title=f"Alert channel {channel} failed for good: {error}",
        changes=[f"{failed} alert(s) could not be delivered to {channel} and will not be retried on their own.",
                 "Fix the channel (its secret, address or webhook), then run `custody alerts retry --failed` "
                 "(`custody alerts list --state failed` shows them)."],
    )


class Deliverer:
    """One worker thread per channel."""

    def __init__(self, db: Database, senders: dict[str, Sender], settings: DeliverySettings,
                 on_result: Callable[[str, str], None] | None = None) -> None:
        self.workers = {name: ChannelWorker(db, sender, settings, on_result,
                                            others=tuple(other for other in senders if other != name))
                        for name, sender in senders.items()}
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        for name, worker in self.workers.items():
            thread = threading.Thread(target=worker.run, args=(self._stop,), name=f"deliver-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def blocked(self) -> dict[str, str]:
        """channel -> why its delivery stopped (an outcome it could not record); empty when all deliver."""
        return {name: worker.blocked for name, worker in self.workers.items() if worker.blocked}

    def wake(self) -> None:
        for worker in self.workers.values():
            worker.wake.set()

    def running(self) -> bool:
        """Is a worker still running (a send in progress past the stop timeout)?"""
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the sends in progress (each bounded by its channel's timeout) are recorded."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for name, worker in self.workers.items():
            if not any(thread.is_alive() and thread.name == f"deliver-{name}" for thread in self._threads):
                worker.leadership.release()  # (a worker still sending keeps it until the process exits)
