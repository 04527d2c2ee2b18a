"""Scan orchestration: inventory every provider, tag, judge, record.

One failing provider, account, region or service is recorded and the scan carries on; the
scan is then `partial` (or `failed` when nothing could be read), and the state store never
treats a partial scan as proof that anything is gone or fixed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field

from providers import provider_class
from providers.base import DiscoveredStore, Provider, TargetLog
from scanner.catalog import Catalog
from scanner.config import Config
from scanner.control import reachable_by
from scanner.errors import InputError
from scanner.model import DataStore, ScanResult
from scanner.policy import Policy, Waiver, evaluate
from scanner.tagging import tag

log = logging.getLogger(__name__)


@dataclass
class Judge:
    """Everything needed to turn a discovered store into a verdict."""

    catalog: Catalog
    config: Config
    policies: list[Policy]
    waivers: list[Waiver]
    today: dt.date = field(default_factory=dt.date.today)

    def judge(self, found: DiscoveredStore) -> DataStore:
        tagged = tag(found, self.catalog, self.config)
        store = tagged.store
        store.reachable_by = reachable_by(store, tagged.operator_chains, self.catalog, self.today)
        evaluate(store, self.policies, self.waivers, self.catalog, self.today)
        return store


def build_providers(config: Config, catalog: Catalog) -> list[Provider]:
    """Parse each enabled provider's config section (InputError on bad keys) and add the
    regions the config declares for it (partner clouds) to the catalog."""
    providers = [provider_class(name).from_config(section) for name, section in config.providers.items()]
    for provider in providers:
        for region in provider.catalog_regions(catalog):
            catalog.regions[(region.provider, region.id)] = region
    return providers


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class ScanCancelled(Exception):
    """The caller's cancel flag was set: the scan stops between stores and is recorded as interrupted."""


def run_scan(
    providers: list[Provider], judge: Judge, state=None, cancel: threading.Event | None = None
) -> tuple[ScanResult, list[DataStore]]:
    """Run one scan. `state` (a StateStore) records it when given. Setting `cancel` (the agent is
    stopping) ends the scan at the next store or provider boundary, recorded as "interrupted"."""
    scan = ScanResult(id=uuid.uuid4().hex[:12], started_at=now_iso(), home=_homes(judge.policies))
    if state is not None:
        state.start_scan(scan)
    targets = TargetLog()
    stores: dict[str, DataStore] = {}
    try:
        for provider in providers:
            _check(cancel)
            _inventory(provider, targets, judge, stores, cancel)
        _check(cancel)
    except (KeyboardInterrupt, ScanCancelled):
        scan.status = "interrupted"
    scan.targets = targets.results
    if scan.status != "interrupted":
        scan.status = _status(scan)
    scan.coverage_gaps = _coverage_gaps(scan, list(stores.values()), judge.config)
    scan.counts = _counts(list(stores.values()))
    scan.finished_at = now_iso()
    result = sorted(stores.values(), key=lambda s: (s.provider, s.account, s.kind, s.id))
    if state is not None:
        try:
            state.finish_scan(scan, result)
        except InputError as exc:  # the database went away: still hand back the report
            log.error("scan %s not recorded: %s", scan.id, exc)
            scan.coverage_gaps.append(f"state store: this scan was not recorded ({exc})")
    return scan, result


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ScanCancelled


def _inventory(
    provider: Provider, targets: TargetLog, judge: Judge, stores: dict[str, DataStore],
    cancel: threading.Event | None = None,
) -> None:
    try:
        for found in provider.discover(targets):
            stores[found.id] = judge.judge(found)
            _check(cancel)
    except ScanCancelled:
        raise
    except Exception as exc:  # a provider bug or a dead endpoint must not lose the other providers
        log.warning("provider %s failed: %s: %s", provider.name, type(exc).__name__, exc)
        log.debug("provider %s failure", provider.name, exc_info=True)
        targets.failed(provider.name, "*", "*", "*", f"{type(exc).__name__}: {exc}", denied=False)


def _status(scan: ScanResult) -> str:
    failed = [t for t in scan.targets if t.status != "ok"]
    if not failed:
        return "complete"
    if len(failed) == len(scan.targets):
        return "failed"
    return "partial"


def _homes(policies: list[Policy]) -> list[str]:
    homes: list[str] = []
    for policy in policies:
        homes.extend(code for code in policy.home if code not in homes)
    return homes


def _coverage_gaps(scan: ScanResult, stores: list[DataStore], config: Config) -> list[str]:
    gaps = []
    accounts = sorted({(s.provider, s.account) for s in stores} | {(t.provider, t.account) for t in scan.targets})
    for provider, account in accounts:
        if account != "*" and config.owner_chain_start(account) is None:
            gaps.append(f"{provider} account {account}: no owner declared (add it under 'accounts' in the config)")
    for target in scan.targets:
        if target.status != "ok":
            where = "/".join(part for part in (target.account, target.region, target.service) if part != "*")
            gaps.append(f"{target.provider} {where or 'provider'}: not scanned ({target.status}: {target.error})")
    return gaps


def _counts(stores: list[DataStore]) -> dict[str, int]:
    counts = Counter(store.status for store in stores)
    return {"stores": len(stores), **{status: counts.get(status, 0) for status in (
        "pass", "fail", "not_applicable", "not_evaluated")}}
