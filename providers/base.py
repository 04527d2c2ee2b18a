"""The one interface every cloud provider module implements.

A provider only inventories: it lists data stores and the raw places their copies live
(region codes, roles, how each was learned). It never resolves countries, operators or
law — the scanner does that from the catalog, the same way for every cloud.
A provider is read-only: it must never call a mutating API.
"""

from __future__ import annotations

import ipaddress
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable

from scanner.catalog import Catalog, Region
from scanner.discovered import DiscoveredStore
from scanner.model import TAGS_UNREADABLE, TargetResult
from scanner.yamlfile import Node


def is_loopback(host: str | None) -> bool:
    """localhost or a loopback IP: the only hosts a plain http:// endpoint may name."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tags_unreadable(reason: str) -> str:
    """The unknown a provider records when a store's tags could not be read: policies scoped by
    tags then cannot tell whether they cover the store (see scanner.policy.evaluate)."""
    return f"{TAGS_UNREADABLE} ({reason}): policy scope may be wrong"


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

    def use_catalog(self, catalog: Catalog) -> None:
        """The catalog the scan resolves against, given before discovery (Azure places geo-redundant copies,
        which name no region, in the catalog's region pair). Most providers need nothing from it."""
        return None

    def catalog_regions(self, catalog: Catalog) -> list[Region]:
        """Regions the config declares for this provider (e.g. a partner cloud), added to the catalog."""
        return []
