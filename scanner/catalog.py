"""The catalog of facts the control test runs on: regions, legal entities, laws, agreements,
blocking rules and jurisdictions.

Every fact carries `source` (a public source: statute, official journal, court decision, the
provider's own page or machine-readable data), `checked` (the date it was last checked against
that source, when it was) and `unverified` (true when no primary source confirmed it). The YAML
that fills it lives under `policies/catalog/`.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import pycountry

from scanner.model import Entity

WILDCARD = "*"  # a law whose jurisdiction is "*" belongs to every country (territorial reach)

ChainRole = Literal["operator", "contracting_party", "owner"]
CHAIN_ROLES: tuple[str, ...] = ("operator", "contracting_party", "owner")
PROVIDER_CHAINS: tuple[str, ...] = ("operator", "contracting_party")
LAW_STATUSES: tuple[str, ...] = ("in_force", "lapsed", "unverified", "not_in_force")
CONDITION_TESTS: tuple[str, ...] = ("owner_not_of_receiving_state", "not_evaluable")
BLOCKING_SCOPES: tuple[str, ...] = ("addressee", "location", "owner")
FOREIGN_ADDRESSEES: tuple[str, ...] = ("direct", "agreement")


@dataclass(frozen=True)
class Validity:
    """When a rule applies: from/until dates and whether its force is verified.

    Past `until`, a rule whose status is `unverified` (a sunset whose renewal we could not
    confirm) is still applied, flagged, because dropping it could make a store look compliant.
    """

    applies_from: dt.date | None = None
    applies_until: dt.date | None = None  # the first day it no longer applies (a sunset)
    status: str = "in_force"  # in_force | lapsed | unverified | not_in_force
    until_citation: str | None = None  # the provision that sets the end date

    def applies(self, on: dt.date) -> bool:
        if self.status == "not_in_force" or (self.applies_from and on < self.applies_from):
            return False
        if self.status == "lapsed" and (self.applies_until is None or on >= self.applies_until):
            return False
        return not (self.applies_until and on >= self.applies_until and self.status != "unverified")

    def note(self, on: dt.date) -> str | None:
        """Why an applied rule's force on `on` is uncertain, or None."""
        if self.applies_until and on >= self.applies_until and self.status == "unverified":
            return (f"past its sunset on {self.applies_until.isoformat()} ({self.until_citation or 'sunset'}); "
                    "continued force unverified")
        if self.status == "unverified":
            return "in force status unverified"
        return None


@dataclass(frozen=True)
class Region:
    provider: str
    id: str
    name: str
    country: str | None  # ISO 3166-1 alpha-2; None for a multi-region that spans others
    city: str | None
    partition: str
    operator: str | None  # entity id of the entity that runs the region's infrastructure
    source: str
    unverified: bool = False
    spans: tuple[str, ...] = ()  # member region ids of a dual- or multi-region
    pair: str | None = None  # the provider's paired region, where one exists


@dataclass(frozen=True)
class EntityRecord:
    id: str
    name: str
    country: str
    parents: tuple[str, ...]  # direct parents (two for a joint venture); () for an ultimate parent
    source: str
    lei: str | None = None
    unverified: bool = False
    offers_services_in: tuple[str, ...] = ()
    note: str | None = None
    checked: dt.date | None = None

    def as_entity(self) -> Entity:
        return Entity(self.id, self.name, self.country, self.lei, self.source, self.unverified, self.parents)


@dataclass(frozen=True)
class Chain:
    """An entity and its ancestors, breadth first: `entities[0]` is the head; `via[i]` is the index of
    the entity whose parent `entities[i]` is (None for the head)."""

    role: str  # operator | contracting_party | owner
    entities: tuple[Entity, ...]
    via: tuple[int | None, ...]

    def path_to(self, index: int) -> tuple[Entity, ...]:
        """The entities from the head down to entities[index], through the parent links."""
        path: list[Entity] = []
        current: int | None = index
        while current is not None:
            path.append(self.entities[current])
            current = self.via[current]
        return tuple(reversed(path))


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
    chains: tuple[str, ...]  # which chains its orders are served on: operator, contracting_party, owner
    source: str
    summary: str = ""
    validity: Validity = field(default_factory=Validity)
    location_scope: tuple[str, ...] = ()  # countries whose soil a location trigger covers, if not its own
    entity_scope: tuple[str, ...] = ()  # foreign countries whose entities its chain triggers address
    unverified: bool = False
    checked: dt.date | None = None
    excludes: tuple[str, ...] = ()  # members of a union jurisdiction the law does not bind (Denmark, e-Evidence)
    # "direct": the law binds an addressee abroad itself (a mandatory local representative, or personal
    # jurisdiction over a provider serving the state); "agreement": abroad only under an agreement in force
    foreign_addressees: str = "agreement"

    def in_force(self, on: dt.date) -> bool:
        return self.validity.applies(on)


@dataclass(frozen=True)
class Condition:
    text: str
    citation: str
    test: str  # owner_not_of_receiving_state | not_evaluable


@dataclass(frozen=True)
class Agreement:
    """A treaty or executive agreement that lets one party's orders be served on the other's providers."""

    id: str
    name: str
    parties: frozenset[str]
    citation: str
    source: str
    conditions: tuple[Condition, ...] = ()
    validity: Validity = field(default_factory=Validity)
    unverified: bool = False
    checked: dt.date | None = None


@dataclass(frozen=True)
class BlockingRule:
    """A law that forbids complying with a foreign order (or makes it unenforceable) where it applies."""

    id: str
    jurisdiction: str
    name: str
    citation: str
    applies_to: tuple[str, ...]  # addressee | location | owner
    source: str
    prohibits: bool = False  # forbids the addressee to comply: a foreign order then needs an agreement or MLA
    except_agreements: bool = False  # an agreement in force lifts the prohibition
    summary: str = ""
    validity: Validity = field(default_factory=Validity)
    unverified: bool = False
    checked: dt.date | None = None


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
    agreements: list[Agreement] = field(default_factory=list)
    blocking: list[BlockingRule] = field(default_factory=list)
    unions: dict[str, Union] = field(default_factory=dict)

    def region(self, provider: str, region_id: str) -> Region | None:
        return self.regions.get((provider, region_id))

    def chain(self, entity_id: str, role: str, extra: dict[str, EntityRecord] | None = None) -> Chain:
        """The entity and all its ancestors up to the ultimate parent(s), breadth first."""
        known = {**self.entities, **(extra or {})}
        entities: list[Entity] = []
        via: list[int | None] = []
        index_of: dict[str, int] = {}
        queue: deque[tuple[str, int | None]] = deque([(entity_id, None)])
        while queue:
            current, child = queue.popleft()
            if current in index_of:
                continue
            record = known[current]
            index_of[current] = len(entities)
            entities.append(record.as_entity())
            via.append(child)
            queue.extend((parent, index_of[current]) for parent in record.parents)
        return Chain(role, tuple(entities), tuple(via))

    def contracting_party(self, region: Region, account_country: str | None) -> str | None:
        """The entity an account registered in `account_country` contracts with for `region`:
        the partition's rule for that country, else the region's operator."""
        for rule in self.contracting:
            if (
                rule.provider == region.provider
                and rule.partition == region.partition
                and account_country in rule.account_countries
            ):
                return rule.entity
        return region.operator

    def agreement(self, issuing: str, receiving: str, on: dt.date) -> Agreement | None:
        """The agreement in force on `on` under which `issuing`'s orders reach providers of `receiving`."""
        for agreement in self.agreements:
            if not agreement.validity.applies(on):
                continue
            receiving_party = next((p for p in agreement.parties if self.within(receiving, p)), None)
            if receiving_party and issuing in agreement.parties and issuing != receiving_party:
                return agreement
        return None

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
