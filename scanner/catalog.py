"""The catalog of facts the control test runs on: regions, legal entities, laws, jurisdictions.

Every fact carries `source` (where it came from) and `unverified` (true when only one
third-party source backs it). The YAML that fills it lives under `policies/catalog/`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pycountry

from scanner.model import Entity

WILDCARD = "*"  # a law whose jurisdiction is "*" belongs to every country (territorial reach)


@dataclass(frozen=True)
class Region:
    provider: str
    id: str
    name: str
    country: str | None  # ISO 3166-1 alpha-2; None for a multi-region that spans others
    city: str | None
    partition: str
    operator: str | None  # entity id; None when it depends on the account (see ContractingRule)
    source: str
    unverified: bool = False
    spans: tuple[str, ...] = ()  # member region ids of a dual- or multi-region
    pair: str | None = None  # the provider's paired region, where one exists


@dataclass(frozen=True)
class EntityRecord:
    id: str
    name: str
    country: str
    parent: str | None
    source: str
    lei: str | None = None
    unverified: bool = False
    offers_services_in: tuple[str, ...] = ()
    note: str | None = None

    def as_entity(self) -> Entity:
        return Entity(self.id, self.name, self.country, self.lei, self.source, self.unverified)


@dataclass(frozen=True)
class ContractingRule:
    """Which entity the customer contracts with in a partition, by the account's country."""

    provider: str
    partition: str
    entity: str
    account_countries: frozenset[str]
    source: str
    unverified: bool = False


@dataclass(frozen=True)
class Law:
    id: str
    jurisdiction: str  # ISO alpha-2, a union id such as "EU", or "*" for every country
    name: str
    citation: str
    triggers: tuple[str, ...]
    source: str
    summary: str = ""
    applies_from: dt.date | None = None
    location_scope: tuple[str, ...] = ()  # countries whose soil a location trigger covers, if not its own
    entity_scope: tuple[str, ...] = ()  # countries whose entities chain triggers cover, if not its own
    unverified: bool = False

    def in_force(self, on: dt.date) -> bool:
        return self.applies_from is None or self.applies_from <= on


@dataclass(frozen=True)
class Union:
    id: str
    name: str
    members: frozenset[str]
    source: str


@dataclass
class Catalog:
    regions: dict[tuple[str, str], Region] = field(default_factory=dict)
    entities: dict[str, EntityRecord] = field(default_factory=dict)
    contracting: list[ContractingRule] = field(default_factory=list)
    laws: list[Law] = field(default_factory=list)
    unions: dict[str, Union] = field(default_factory=dict)

    def region(self, provider: str, region_id: str) -> Region | None:
        return self.regions.get((provider, region_id))

    def chain(self, entity_id: str, extra: dict[str, EntityRecord] | None = None) -> list[Entity]:
        """The entity and its parents up to the ultimate parent."""
        known = {**self.entities, **(extra or {})}
        chain: list[Entity] = []
        seen: set[str] = set()
        current: str | None = entity_id
        while current and current not in seen:
            seen.add(current)
            record = known[current]
            chain.append(record.as_entity())
            current = record.parent
        return chain

    def operator_of(self, region: Region, account_country: str | None) -> str | None:
        """The entity that operates `region` for an account registered in `account_country`."""
        for rule in self.contracting:
            if (
                rule.provider == region.provider
                and rule.partition == region.partition
                and account_country in rule.account_countries
            ):
                return rule.entity
        return region.operator

    def is_jurisdiction(self, code: str) -> bool:
        return code in self.unions or is_country(code)

    def within(self, country: str, jurisdiction: str) -> bool:
        """True when `country` is, or is a member of, `jurisdiction`."""
        if country == jurisdiction:
            return True
        union = self.unions.get(jurisdiction)
        return bool(union and country in union.members)

    def jurisdiction_name(self, code: str) -> str:
        if code in self.unions:
            return self.unions[code].name
        return country_name(code)


def is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name
