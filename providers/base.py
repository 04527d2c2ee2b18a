"""The one interface every cloud provider module implements.

A provider only inventories: it lists data stores and the raw places their copies live
(region codes, roles, how each was learned). It never resolves countries, operators or
law — the scanner does that from the catalog, the same way for every cloud.
A provider is read-only: it must never call a mutating API.
"""

from __future__ import annotations

import datetime as dt
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

from policies.yamlfile import Node
from scanner.catalog import Catalog, Region
from scanner.model import TAGS_UNREADABLE, Location, Role, TargetResult


def tags_unreadable(reason: str) -> str:
    """The unknown a provider records when a store's tags could not be read: policies scoped by
    tags then cannot tell whether they cover the store (see scanner.policy.evaluate)."""
    return f"{TAGS_UNREADABLE} ({reason}): policy scope may be wrong"


def observed_now() -> str:
    """The current time as a location's `observed_at`: UTC ISO 8601, to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class DiscoveredStore:
    id: str
    provider: str
    account: str
    kind: str
    name: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    # where its copies live, as the API reported them: only region, role, learned_from and observed_at are filled;
    # tagging (scanner/tagging.py) fills country, city, partition and operator from the catalog
    locations: list[Location] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)  # facts the API would not tell us

    def add_location(self, region: str, role: Role, learned_from: str, observed_at: str | None = None) -> None:
        """Record a place a copy lives (the first one per region counts). `observed_at`: when the API answered;
        default now, for a location added as the answer is read. A fact reused from an earlier answer (a cache,
        AWS Config's capture time) must pass the time of that answer, never now."""
        if all(loc.region != region for loc in self.locations):
            self.locations.append(Location(region, role, learned_from, observed_at=observed_at or observed_now()))


class TargetLog:
    """Thread-safe record of how each (account, region, service) went."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.results: list[TargetResult] = []

    def add(self, result: TargetResult) -> None:
        with self._lock:
            self.results.append(result)

    def ok(self, provider: str, account: str, region: str, service: str, stores: int) -> None:
        self.add(TargetResult(provider, account, region, service, "ok", None, stores))

    def failed(self, provider: str, account: str, region: str, service: str, error: str, denied: bool) -> None:
        self.add(TargetResult(provider, account, region, service, "denied" if denied else "error", error))


class Provider(ABC):
    """Inventories one cloud. Subclasses register in `providers.PROVIDERS`."""

    name: str

    @classmethod
    @abstractmethod
    def from_config(cls, section: Node) -> Provider:
        """Build from the provider's section of the config; raise InputError on bad keys."""

    @abstractmethod
    def units(self, log: TargetLog) -> list[str]:
        """The independent parts of this cloud's inventory (accounts, subscriptions, projects), each
        scannable alone by `discover_unit`, on this replica or another. Listing failures go to `log`."""

    @abstractmethod
    def discover_unit(self, unit: str, log: TargetLog) -> Iterable[DiscoveredStore]:
        """Every store of one unit. Record each account/region/service outcome in `log`; a failure
        of one part is recorded and the rest carries on."""

    def discover(self, log: TargetLog) -> Iterable[DiscoveredStore]:
        """Every store of every unit (a provider may override this to scan units concurrently)."""
        for unit in self.units(log):
            yield from self.discover_unit(unit, log)

    def catalog_regions(self, catalog: Catalog) -> list[Region]:
        """Regions the config declares for this provider (e.g. a partner cloud), added to the catalog."""
        return []
