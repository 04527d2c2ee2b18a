"""Small builders shared by the unit tests."""

from __future__ import annotations

import datetime as dt
from functools import cache

from policies.catalog_loader import load_catalog
from runtime.scan import Judge
from scanner.catalog import Catalog, EntityRecord
from scanner.config import Account, Config
from scanner.discovered import DiscoveredStore
from scanner.model import DataStore
from scanner.policy import Policy, Scope, Waiver

TODAY = dt.date(2026, 11, 27)


@cache
def catalog() -> Catalog:
    return load_catalog()


ACME = {
    "acme-inc": EntityRecord("acme-inc", "Acme Inc.", "US", (), "test"),
    "acme-europe": EntityRecord("acme-europe", "Acme Europe GmbH", "DE", ("acme-inc",), "test"),
    "eurobank": EntityRecord("eurobank", "Eurobank SE", "DE", (), "test"),
}


def config(owner: str | None = "eurobank", country: str | None = None, account: str = "111111111111") -> Config:
    accounts = {account: Account(account, owner, country)} if owner else {}
    return Config(companies=dict(ACME), accounts=accounts)


def bucket(*locations: tuple[str, str], account: str = "111111111111", tags: dict | None = None) -> DiscoveredStore:
    store = DiscoveredStore(id=f"arn:aws:s3:::b-{locations[0][0]}", provider="aws", account=account,
                            kind="s3-bucket", name=f"b-{locations[0][0]}", region=locations[0][0], tags=tags or {})
    for region, role in locations:
        store.add_location(region, role, "test")
    return store


def judge(found: DiscoveredStore, cfg: Config | None = None, home: tuple[str, ...] = ("EU",),
          policies: list[Policy] | None = None, waivers: list[Waiver] | None = None,
          today: dt.date = TODAY) -> DataStore:
    policies = policies if policies is not None else [Policy("default-home-only", home, Scope())]
    return Judge(catalog(), cfg or config(), policies, waivers or [], today).judge(found)


def reach_of(store: DataStore, jurisdiction: str):
    return next((r for r in store.reachable_by if r.jurisdiction == jurisdiction), None)


def assert_matches_seed(stores, seeded, min_replicating: int = 0) -> None:
    """Every seeded bucket found once, with its tags, its region and its replicas' regions, and no
    unknown about replication (seeded: demo.aws_estate.SeededStore)."""
    found = {store.name: store for store in stores}
    assert set(found) == {s.name for s in seeded}
    assert sum(1 for s in seeded if s.replica_regions) >= min_replicating  # the check must see replicas
    for expected in seeded:
        store = found[expected.name]
        assert store.tags == expected.tags, expected.name
        assert {(loc.region, loc.role) for loc in store.locations} == {
            (expected.region, "primary"), *((r, "replica") for r in expected.replica_regions if r != expected.region)
        }, expected.name
        assert not [u for u in store.unknowns if "replica" in u], store.unknowns
