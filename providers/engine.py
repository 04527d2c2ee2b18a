"""The shared target runner: one (account, region, service) target read, its outcome recorded, never raised.

Every provider's inventory is a list of targets; `run_targets` runs them in a bounded thread pool and records each
outcome in the TargetLog the same way (ok with the count of stores, denied or error with the one error describer
of providers/errors.py). A target that found some stores before a part of it failed raises `PartialInventory`:
its stores are kept and the target is recorded as failed, so the scan is partial, never complete.

AWS adds what only it needs on top (providers/aws.py `AccountScan`): the region guard, per-API concurrency slots,
a request-rate ceiling and a plan that probes every region first; its targets' outcomes go to the same TargetLog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from providers.base import TargetLog
from providers.errors import describe_error

log = logging.getLogger(__name__)


class PartialInventory(Exception):
    """Some parts of a target failed; `stores` holds what was found."""

    def __init__(self, stores: list[Any], error: str, denied: bool):
        super().__init__(error)
        self.stores = stores
        self.error = error
        self.denied = denied


@dataclass(frozen=True)
class Target:
    provider: str
    account: str
    region: str
    service: str  # the target name in the scan record
    fetch: Callable[[], list[Any]]
    counts_stores: bool = True  # False: a listing of accounts or projects, recorded with 0 stores


def run_target(target: Target, record: TargetLog) -> list[Any]:
    """Run one target and record its outcome; a failure is recorded and gives no results (or the partial ones)."""
    where = (target.provider, target.account, target.region, target.service)
    try:
        found = target.fetch()
    except PartialInventory as partial:
        record.failed(*where, partial.error, partial.denied)
        return partial.stores
    except Exception as exc:  # one target's failure, whatever it is, must not end the scan
        error, denied = describe_error(exc)
        log.debug("%s %s %s %s failed: %s", *where, error)
        record.failed(*where, error, denied)
        return []
    record.ok(*where, len(found) if target.counts_stores else 0)
    return found


def run_targets(targets: Iterable[Target], record: TargetLog, workers: int, name: str = "inventory") -> list[Any]:
    """Run the targets, at most `workers` at once; every result, in target order."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        batches = list(pool.map(lambda target: run_target(target, record), targets))
    return [item for batch in batches for item in batch]
