"""The event tests' (and bench/events.py's) world: a state store, the alert pipeline, and an EventHandler whose
targeted scans go through the same state-store + alert path as a scheduled scan.

    world = EventWorld.open(tmp_path, config_path)
    world.scan()                                     # the scheduled scan: the baseline
    world.handler.handle(source, source.receive())   # events -> a targeted scan -> alerts queued
    world.alerts_about(store_id)                     # the outbox rows for that store
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.config import AlertSettings, SlackSettings
from alerts.db import Database
from alerts.outbox import rows_for
from alerts.pipeline import AlertPipeline
from runtime.cli import ScanSetup, prepare
from runtime.events import EventHandler, Recorded
from runtime.scan import run_scan
from scanner.model import ScanResult
from scanner.secrets import SecretRef
from state.store import StateStore


def alert_settings() -> AlertSettings:
    return AlertSettings(channels={"slack": SlackSettings("slack", webhook_url=SecretRef("webhook_url",
                                                                                          env="UNUSED_HERE"))})


@dataclass
class EventWorld:
    state: StateStore
    setup: ScanSetup
    pipeline: AlertPipeline
    handler: EventHandler = field(init=False)

    @classmethod
    def open(cls, tmp_path: Path, config_path: str, state: str | None = None) -> EventWorld:
        store = StateStore(state or str(tmp_path / "events-state.db"))
        setup = prepare(config_path, [])
        pipeline = AlertPipeline(Database(store), alert_settings(), name_of=setup.judge.catalog.jurisdiction_name)
        return cls(store, setup, pipeline)

    def __post_init__(self) -> None:
        self.handler = EventHandler(self.state, lambda: self.setup, on_recorded=self._alert)

    def _alert(self, _recorded: Recorded) -> None:
        self.pipeline.process()

    def scan(self) -> ScanResult:
        """A scheduled scan (every configured store), recorded, its alerts queued."""
        scan, stores = run_scan(self.setup.providers, self.setup.judge, self.state)
        stores.close()
        self.pipeline.process()
        return scan

    def alerts_about(self, store_id: str, scan_id: str | None = None) -> list[dict[str, Any]]:
        with Database(self.state).read() as conn:
            return [row for row in rows_for(conn) if row["payload"].get("subject") == store_id
                    and (scan_id is None or row["scan_id"] == scan_id)]

    def store(self, store_id: str) -> dict[str, Any] | None:
        return self.state.store_history(store_id)

    def close(self) -> None:
        self.state.close()
