"""Scan orchestration: inventory every provider, tag, judge, record.

One failing provider, account, region or service is recorded and the scan carries on; the
scan is then `partial` (or `failed` when nothing could be read), and the state store never
treats a partial scan as proof that anything is gone or fixed.

Memory stays flat however many stores a scan finds: each judged store goes to a StoreSpool
(a temporary file) as soon as it is judged, and the state store and the reports read the
spool back one batch or one store at a time.
"""

from __future__ import annotations

import datetime as dt
import heapq
import logging
import os
import pickle
import queue
import tempfile
import threading
import uuid
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise

from providers import provider_class
from providers.base import Provider, TargetLog
from scanner.catalog import Catalog
from scanner.clock import now_iso
from scanner.config import Config
from scanner.control import reachable_by
from scanner.discovered import DiscoveredStore
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
        store.reachable_by = reachable_by(store, tagged.chains, self.catalog, self.today)
        evaluate(store, self.policies, self.waivers, self.catalog, self.today)
        return store


def build_providers(config: Config, catalog: Catalog) -> list[Provider]:
    """Parse each enabled provider's config section (InputError on bad keys) and add the
    regions the config declares for it (partner clouds) to the catalog."""
    providers = [provider_class(name).from_config(section) for name, section in config.providers.items()]
    for provider in providers:
        for region in provider.catalog_regions(catalog):
            catalog.regions[(region.provider, region.id)] = region
        provider.use_catalog(catalog)
    return providers


class ScanCancelled(Exception):
    """The caller's cancel flag was set: the scan stops between stores and is recorded as interrupted."""


BATCH_SIZE = 1000  # judged stores held in memory at once before they go to the spool


def report_order(store: DataStore) -> tuple[str, str, str, str]:
    """The order of the stores in reports: provider, account, kind, id."""
    return store.provider, store.account, store.kind, store.id


class StoreSpool:
    """The judged stores of one scan, on disk: added one by one, read back (as often as needed) in
    report order, the last sighting of an id winning. Iterable, sized; close() deletes the file.

    Memory: the stores of the run being written (up to `batch_size`), each id's status (len and
    counts) and the accounts seen. Each run is sorted when written; reading merges the runs, so
    it holds one store per run. Pickled, so every store reads back exactly as it was written.
    """

    def __init__(self, batch_size: int = BATCH_SIZE) -> None:
        self.batch_size = batch_size
        self.accounts: set[tuple[str, str]] = set()  # (provider, account) of every store
        self._file = tempfile.TemporaryFile(prefix="custody-stores-")  # noqa: SIM115 - open until close()
        self._offsets = array("Q", [0])  # where each record starts; the last entry is the end of the file
        self._runs = [0]  # the record index each run starts at, then the end
        self._pending: dict[str, DataStore] = {}
        self._status: dict[str, str] = {}

    def add(self, store: DataStore) -> None:
        self._pending[store.id] = store
        self._status[store.id] = store.status
        self.accounts.add((store.provider, store.account))
        if len(self._pending) >= self.batch_size:
            self._write_run()

    def counts(self) -> dict[str, int]:
        """The scan's counts: stores, then each status."""
        counts = Counter(self._status.values())
        return {"stores": len(self._status), **{status: counts.get(status, 0) for status in (
            "pass", "fail", "not_applicable", "not_evaluated")}}

    def __len__(self) -> int:
        return len(self._status)

    def __iter__(self) -> Iterator[DataStore]:
        if self._pending:
            self._write_run()
        self._file.flush()
        runs = [self._read(start, end) for start, end in pairwise(self._runs)]
        last: DataStore | None = None
        for store in heapq.merge(*runs, key=report_order):  # equal keys: the earlier run first
            if last is not None and last.id != store.id:
                yield last
            last = store
        if last is not None:
            yield last

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StoreSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write_run(self) -> None:
        """Write the pending stores as one sorted run; recorded only once whole (a Ctrl-C mid-run loses nothing)."""
        self._file.seek(self._offsets[-1])
        ends = []
        for store in sorted(self._pending.values(), key=report_order):
            self._file.write(pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL))
            ends.append(self._file.tell())
        self._offsets.extend(ends)
        self._runs.append(len(self._offsets) - 1)
        self._pending.clear()

    def _read(self, start: int, end: int) -> Iterator[DataStore]:
        fd, offsets = self._file.fileno(), self._offsets
        for index in range(start, end):
            # the spool's own records, written by this process to a file only it can open
            yield pickle.loads(os.pread(fd, offsets[index + 1] - offsets[index], offsets[index]))


def run_scan(
    providers: list[Provider], judge: Judge, state=None, cancel: threading.Event | None = None,
    batch_size: int = BATCH_SIZE,
) -> tuple[ScanResult, StoreSpool]:
    """Run one scan; return it and its stores (a StoreSpool: the caller closes it when done, else
    garbage collection does). `state` (a StateStore) records it when given. Setting `cancel`
    (the agent is stopping) ends the scan within a fraction of a second, even inside an account
    (see cancellable), recorded as "interrupted"."""
    scan = new_scan(judge)
    if state is not None:
        state.start_scan(scan)
    targets = TargetLog()
    stores = StoreSpool(batch_size)
    try:
        for provider in providers:
            _check(cancel)
            _inventory(provider, targets, judge, stores, cancel)
        _check(cancel)
    except (KeyboardInterrupt, ScanCancelled):
        scan.status = "interrupted"
    scan.targets = targets.results
    conclude(scan, stores, judge.config)
    if state is not None:
        try:
            state.finish_scan(scan, stores)
        except InputError as exc:  # the database went away: still hand back the report
            log.error("scan %s not recorded: %s", scan.id, exc)
            scan.coverage_gaps.append(f"state store: this scan was not recorded ({exc})")
    return scan, stores


def new_scan(judge: Judge) -> ScanResult:
    """A scan starting now, with a fresh id and the policies' home jurisdictions."""
    return ScanResult(id=uuid.uuid4().hex[:12], started_at=now_iso(), home=_homes(judge.policies),
                      judged_on=judge.today.isoformat())


def conclude(scan: ScanResult, stores: StoreSpool, config: Config) -> None:
    """Once every target is in `scan.targets` and every store in `stores`: the scan's status (unless
    interrupted), coverage gaps, counts and end time."""
    if scan.status != "interrupted":
        scan.status = _status(scan)
    scan.coverage_gaps = _coverage_gaps(scan, stores.accounts, config)
    scan.counts = stores.counts()
    scan.finished_at = now_iso()


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ScanCancelled


CANCEL_POLL_SECONDS = 0.1
_DONE = object()


def cancellable(items: Iterable[DiscoveredStore], cancel: threading.Event | None) -> Iterator[DiscoveredStore]:
    """`items`, one at a time as a plain loop would take them, but a `cancel` set while the provider is inside
    an account (a call that hangs, a slow region) ends the loop within CANCEL_POLL_SECONDS: the provider runs
    in a thread of its own, asked for each next store, and is abandoned when cancelled (its calls are
    read-only; the process is stopping)."""
    if cancel is None:
        yield from items
        return
    iterator = iter(items)
    asks: queue.Queue[bool] = queue.Queue()
    answers: queue.Queue[tuple[bool, object]] = queue.Queue()

    def work() -> None:
        while asks.get():
            try:
                answers.put((True, next(iterator)))
            except StopIteration:
                answers.put((True, _DONE))
            except Exception as exc:  # handed to the consumer, which raises it
                answers.put((False, exc))

    threading.Thread(target=work, name="inventory", daemon=True).start()
    try:
        while True:
            _check(cancel)
            asks.put(True)
            while True:
                try:
                    ok, value = answers.get(timeout=CANCEL_POLL_SECONDS)
                    break
                except queue.Empty:
                    _check(cancel)
            if not ok:
                raise value  # type: ignore[misc]
            if value is _DONE:
                return
            yield value  # type: ignore[misc]
    finally:
        asks.put(False)  # the worker ends after the call in progress (or with the process, if it hangs)


def _inventory(
    provider: Provider, targets: TargetLog, judge: Judge, stores: StoreSpool, cancel: threading.Event | None = None,
) -> None:
    try:
        for found in cancellable(provider.discover(targets), cancel):
            stores.add(judge.judge(found))
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


def _coverage_gaps(scan: ScanResult, store_accounts: set[tuple[str, str]], config: Config) -> list[str]:
    gaps = []
    accounts = sorted(store_accounts | {(t.provider, t.account) for t in scan.targets})
    for provider, account in accounts:
        if account != "*" and config.owner_chain_start(account) is None:
            gaps.append(f"{provider} account {account}: no owner declared (add it under 'accounts' in the config)")
    for target in scan.targets:
        if target.status != "ok":
            where = "/".join(part for part in (target.account, target.region, target.service) if part != "*")
            gaps.append(f"{target.provider} {where or 'provider'}: not scanned ({target.status}: {target.error})")
    return gaps
