"""Tagging: turn what a provider saw into facts — countries, cities, and the three chains: the operator
of each location's infrastructure, the provider entity the account contracts with, and the owner.

A region the catalog does not know, or an entity chain that cannot be built, becomes an
explicit unknown on the store (and the store is then `not_evaluated`, never `pass`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from scanner.catalog import Catalog, Chain, Region
from scanner.config import Config
from scanner.control import StoreChains
from scanner.custody import Encryption, KeyFacts, encryption_of
from scanner.discovered import DiscoveredStore
from scanner.model import UNKNOWN, DataStore, Location


@dataclass
class TaggedStore:
    store: DataStore
    chains: StoreChains


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
        attributes=dict(found.attributes),
    )
    if not found.locations:
        store.unknowns.append("no location reported for this store")
    operators: list[str] = []
    parties: list[str] = []
    for seen in [*found.locations, *_key_locations(found)]:
        for location, region in _resolve(seen, found.provider, catalog, store.unknowns):
            if location not in store.locations:
                store.locations.append(location)
            party = catalog.contracting_party(region, account_country) if region else None
            _add(operators, location.operator)
            _add(parties, party)
    operator_chains = tuple(catalog.chain(entity, "operator") for entity in operators)
    party_chains = tuple(catalog.chain(entity, "contracting_party") for entity in parties)
    store.operator = list(operator_chains[0].entities) if operator_chains else []
    store.contracting_party = list(party_chains[0].entities) if party_chains else []
    if not operator_chains and store.locations:
        store.unknowns.append("operator unknown for every location")
    owner = config.owner_chain_start(found.account)
    owner_chain: Chain | None = None
    if owner:
        owner_chain = catalog.chain(owner, "owner", config.companies)
        store.owner = list(owner_chain.entities)
    else:
        store.unknowns.append(f"owner of account {found.account} not declared in the config")
    store.encryption = _encryption(found, store, catalog, config)
    key = store.encryption.key_operator if store.encryption else None
    key_chain = catalog.chain(key, "key", config.companies) if key else None
    return TaggedStore(store, StoreChains(operator_chains, party_chains, owner_chain, key_chain))


def _key_locations(found: DiscoveredStore) -> list[Location]:
    """Where the store's key material is, when that is a region none of its copies is in: the key's own region and
    a multi-region key's replicas (a state reaches key material on its soil as it reaches data)."""
    facts = found.encryption
    if facts is None:
        return []
    held = {location.region for location in found.locations}
    regions = [facts.key_region, *facts.replica_regions] if facts.key_region else list(facts.replica_regions)
    return [Location(region, "key", f"{facts.learned_from}: key material", observed_at=None)
            for region in dict.fromkeys(regions) if region not in held]


def _encryption(found: DiscoveredStore, store: DataStore, catalog: Catalog, config: Config) -> Encryption | None:
    """Who holds the store's keys, and where: a KMS key's region, or a declared external key store."""
    declared = store.tags.get("encryption") == "client-side"
    if found.encryption is None and not declared:
        return None
    facts = found.encryption or KeyFacts(UNKNOWN, "not read for this kind")
    encryption = encryption_of(facts, declared)
    if facts.key_store:
        host = urlparse(facts.key_store).hostname or facts.key_store
        declared_store = config.key_stores.get(host)
        if declared_store:
            encryption.key_country, encryption.key_operator = declared_store.country, declared_store.operator
        else:
            encryption.reason = f"key store {host} is not declared under key_stores: its country and operator unknown"
    elif facts.key_region and (region := catalog.region(found.provider, facts.key_region)):
        encryption.key_country, encryption.key_operator = region.country, region.operator
    elif store.locations and encryption.custody in ("provider_managed", "customer_managed_in_provider_kms"):
        primary = store.locations[0]  # the provider's key service in the store's own region
        encryption.key_country, encryption.key_operator = primary.country, primary.operator
    return encryption


def _add(ids: list[str], entity: str | None) -> None:
    if entity and entity not in ids:
        ids.append(entity)


def _resolve(seen: Location, provider: str, catalog: Catalog,
             unknowns: list[str]) -> list[tuple[Location, Region | None]]:
    """The catalog locations of what the provider saw (a multi-region: each member), with their regions."""
    region = catalog.region(provider, seen.region)
    if region is None:
        unknowns.append(f"region {seen.region} is not in the catalog: country and operator unknown")
        return [(Location(seen.region, seen.role, seen.learned_from, observed_at=seen.observed_at), None)]
    if region.spans:
        learned = f"{seen.learned_from}; catalog: {region.id} spans {', '.join(region.spans)}"
        members = [catalog.region(provider, member) for member in region.spans]
        return [(_location(member, seen, learned), member) for member in members if member]
    return [(_location(region, seen, seen.learned_from), region)]


def _location(region: Region, seen: Location, learned_from: str) -> Location:
    return Location(
        region=region.id,
        role=seen.role,
        learned_from=learned_from,
        country=region.country or UNKNOWN,
        city=region.city,
        partition=region.partition,
        operator=region.operator,
        observed_at=seen.observed_at,
    )
