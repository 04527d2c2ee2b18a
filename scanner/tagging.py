"""Tagging: turn what a provider saw into facts — countries, cities, operator and owner chains.

A region the catalog does not know, or an entity chain that cannot be built, becomes an
explicit unknown on the store (and the store is then `not_evaluated`, never `pass`).
"""

from __future__ import annotations

from dataclasses import dataclass

from providers.base import DiscoveredStore
from scanner.catalog import Catalog, Region
from scanner.config import Config
from scanner.model import UNKNOWN, DataStore, Entity, Location


@dataclass
class TaggedStore:
    store: DataStore
    operator_chains: list[list[Entity]]  # one per distinct operator of the store's locations


def tag(found: DiscoveredStore, catalog: Catalog, config: Config) -> TaggedStore:
    account_country = config.account_country(found.account)
    store = DataStore(
        id=found.id,
        provider=found.provider,
        account=found.account,
        kind=found.kind,
        name=found.name,
        region=found.region,
        tags=dict(found.tags),
        unknowns=list(found.unknowns),
    )
    if not found.locations:
        store.unknowns.append("no location reported for this store")
    operators: list[str] = []
    for seen in found.locations:
        for location in _resolve(seen, found.provider, catalog, account_country, store.unknowns):
            if location not in store.locations:
                store.locations.append(location)
            if location.operator and location.operator not in operators:
                operators.append(location.operator)
    chains = [catalog.chain(operator) for operator in operators]
    store.operator = chains[0] if chains else []
    if not chains and store.locations:
        store.unknowns.append("operator unknown for every location")
    owner = config.owner_chain_start(found.account)
    if owner:
        store.owner = catalog.chain(owner, config.companies)
    else:
        store.unknowns.append(f"owner of account {found.account} not declared in the config")
    return TaggedStore(store, chains)


def _resolve(
    seen: Location, provider: str, catalog: Catalog, account_country: str | None, unknowns: list[str]
) -> list[Location]:
    region = catalog.region(provider, seen.region)
    if region is None:
        unknowns.append(f"region {seen.region} is not in the catalog: country and operator unknown")
        return [Location(seen.region, seen.role, seen.learned_from, observed_at=seen.observed_at)]
    if region.spans:
        learned = f"{seen.learned_from}; catalog: {region.id} spans {', '.join(region.spans)}"
        members = [catalog.region(provider, member) for member in region.spans]
        return [_location(member, seen, learned, catalog, account_country) for member in members if member]
    return [_location(region, seen, seen.learned_from, catalog, account_country)]


def _location(region: Region, seen: Location, learned_from: str, catalog: Catalog,
              account_country: str | None) -> Location:
    return Location(
        region=region.id,
        role=seen.role,
        learned_from=learned_from,
        country=region.country or UNKNOWN,
        city=region.city,
        partition=region.partition,
        operator=catalog.operator_of(region, account_country),
        observed_at=seen.observed_at,
    )
