"""The control test: which jurisdictions can compel access to a store, on what basis, by which route.

A pure function of a tagged store (its resolved locations and its three chains: the operator of
the infrastructure, the contracting party, the owner), the catalog and a date. Reach is built in
two steps.

**Power.** Each law in force applies its triggers (see policies/catalog/laws.yaml) to the chains it
binds (`chains`: provider-only laws bind the operator and contracting-party chains; a state's
ordinary power over a company's own records binds the owner chain):

- location:          a copy is on the jurisdiction's soil (or in the law's location_scope);
- control:           an entity of the chain is incorporated there (a parent produces what its
                     subsidiaries hold), or in the law's entity_scope (a foreign addressee);
- establishment:     the chain's head entity itself is established there;
- offering_services: an entity of the chain offers its service there;
- all_organizations: any organization of the jurisdiction anywhere in the chain.

**Route.** An order reaches its addressee `direct` when the addressee is within the issuing
jurisdiction; abroad, through an `agreement` in force between the issuing state and the addressee's
state (whose conditions are evaluated against what we know), else `direct` when the law binds
foreign addressees itself (`foreign_addressees: direct`, e.g. a mandatory EU legal representative)
and the addressee's own state does not forbid it to comply (18 U.S.C. § 2702 for US providers),
else only by `mutual_legal_assistance`. A copy on the soil is always direct. Conflicting blocking laws
(GDPR Art. 48, PRC DSL Art. 36, ...) are listed beside each order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from scanner.catalog import PROVIDER_CHAINS, WILDCARD, Agreement, Catalog, Chain, Law
from scanner.custody import access
from scanner.model import UNKNOWN, DataStore, Entity, Location, Reach

# A lawyer argues the strongest ground first: an effective route before one that is not, direct
# before an agreement before mutual legal assistance, then a copy on the soil before control
# before establishment or offering services; provider chains before the owner's.
BASIS_ORDER = ("location", "control", "all_organizations", "establishment", "offering_services")
ROUTE_ORDER = ("direct", "agreement", "mutual_legal_assistance")
CHAIN_ORDER = (None, "operator", "contracting_party", "owner")


@dataclass(frozen=True)
class StoreChains:
    """The chains of one store: an operator chain per distinct operator of its locations, a
    contracting-party chain per distinct contracting party, and the owner's chain (if declared)."""

    operator: tuple[Chain, ...] = ()
    contracting_party: tuple[Chain, ...] = ()
    owner: Chain | None = None
    key_operator: Chain | None = None  # who runs the store's key store, to its ultimate parent

    def binding(self, roles: tuple[str, ...]) -> Iterator[Chain]:
        """The chains a law binds, in the order operator, contracting party, owner."""
        if "operator" in roles:
            yield from self.operator
        if "contracting_party" in roles:
            yield from self.contracting_party
        if "owner" in roles and self.owner:
            yield self.owner


@dataclass(frozen=True)
class Power:
    """A law's trigger met by a store: who an order would be served on, and the path to them."""

    jurisdiction: str
    basis: str
    law: Law
    hops: tuple[str, ...]  # from the store to the addressee, or to the copy on the soil
    addressee: Entity | None = None
    chain: str | None = None


@dataclass
class Ground:
    power: Power
    route: str
    agreement: Agreement | None = None
    conditions: list[dict[str, object]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    access: str = UNKNOWN  # what the addressee could be made to hand over (scanner/custody.py)

    @property
    def effective(self) -> bool:
        return self.route in ("direct", "agreement") and all(c["met"] is not False for c in self.conditions)

    def strength(self) -> tuple[int, int, int, int, str]:
        """Sort key: lower is stronger."""
        return (*_rank(self.effective, self.route, self.power.basis, self.power.chain), self.power.law.id)

    def as_dict(self) -> dict[str, object]:
        law, addressee = self.power.law, self.power.addressee
        return {
            "basis": self.power.basis,
            "law": law.id,
            "law_name": law.name,
            "citation": law.citation,
            "path": [*self.power.hops, law.citation],
            "unverified": law.unverified or bool(self.notes),
            "addressee": addressee.id if addressee else None,
            "addressee_name": _entity_label(addressee) if addressee else None,
            "chain": self.power.chain,
            "route": self.route,
            "agreement": _agreement_ref(self.agreement),
            "conditions": self.conditions,
            "conflicts": self.conflicts,
            "effective": self.effective,
            "access": self.access,
            "notes": self.notes,
        }


def reachable_by(store: DataStore, chains: StoreChains, catalog: Catalog, on: dt.date) -> list[Reach]:
    """One Reach per jurisdiction whose law in force on `on` reaches `store`, strongest first."""
    by_jurisdiction: dict[str, list[Ground]] = {}
    for law in catalog.laws:
        if not law.in_force(on):
            continue
        for power in _powers(law, store, chains, catalog):
            ground = _ground(power, store, chains, catalog, on)
            ground.access = _access(power, store, chains, catalog)
            found = by_jurisdiction.setdefault(power.jurisdiction, [])
            if not any(_same(ground, other) for other in found):
                found.append(ground)
    return strongest_first([_reach(jurisdiction, sorted(grounds, key=Ground.strength))
                            for jurisdiction, grounds in by_jurisdiction.items()])


def strongest_first(reaches: list[Reach]) -> list[Reach]:
    """Reaches in headline order: by the strength of each one's headline ground, then jurisdiction."""
    return sorted(reaches, key=lambda r: (*_rank(r.effective, r.route, r.basis, r.chain), r.jurisdiction))


def _rank(effective: bool, route: str, basis: str, chain: str | None) -> tuple[int, int, int, int]:
    """Lower is stronger (see BASIS_ORDER, ROUTE_ORDER, CHAIN_ORDER)."""
    return (0 if effective else 1, ROUTE_ORDER.index(route), BASIS_ORDER.index(basis), CHAIN_ORDER.index(chain))


def _same(ground: Ground, other: Ground) -> bool:
    a, b = ground.power, other.power
    same_addressee = (a.addressee.id if a.addressee else None) == (b.addressee.id if b.addressee else None)
    return a.law.id == b.law.id and a.basis == b.basis and same_addressee and a.hops[-1:] == b.hops[-1:]


def _reach(jurisdiction: str, grounds: list[Ground]) -> Reach:
    head = grounds[0]
    doc = head.as_dict()
    return Reach(
        jurisdiction=jurisdiction,
        basis=head.power.basis,
        law=head.power.law.id,
        citation=head.power.law.citation,
        path=list(doc["path"]),
        grounds=[ground.as_dict() for ground in grounds],
        addressee=doc["addressee"],
        addressee_name=doc["addressee_name"],
        chain=head.power.chain,
        route=head.route,
        agreement=doc["agreement"],
        conditions=head.conditions,
        conflicts=head.conflicts,
        effective=head.effective,
        access=head.access,
    )


# -- power: which laws' triggers the store meets ------------------------------------------------

def _powers(law: Law, store: DataStore, chains: StoreChains, catalog: Catalog) -> Iterator[Power]:
    label = f"{store.kind} {store.name}"
    for trigger in law.triggers:
        if trigger == "location":
            yield from _by_location(law, label, store.locations, catalog)
            continue
        for chain in chains.binding(law.chains):
            if trigger in ("control", "all_organizations"):
                yield from _by_chain(law, trigger, label, chain, catalog, whole_chain=True)
            elif trigger == "establishment":
                yield from _by_chain(law, trigger, label, chain, catalog, whole_chain=False)
            elif trigger == "offering_services" and chain.role in PROVIDER_CHAINS:
                yield from _by_services(law, label, chain, catalog)


def _by_location(law: Law, label: str, locations: list[Location], catalog: Catalog) -> Iterator[Power]:
    for location in locations:
        if location.country == UNKNOWN:
            continue
        if law.jurisdiction == WILDCARD:
            jurisdiction = location.country
            covered = True
        else:
            jurisdiction = law.jurisdiction
            scope = law.location_scope
            covered = location.country in scope if scope else _binds(law, location.country, catalog)
        if covered:
            place = ", ".join(part for part in (location.city, catalog.jurisdiction_name(location.country)) if part)
            yield Power(jurisdiction, "location", law, (label, f"{location.role} copy in {location.region} ({place})"))


def _by_chain(law: Law, basis: str, label: str, chain: Chain, catalog: Catalog, whole_chain: bool) -> Iterator[Power]:
    candidates = range(len(chain.entities)) if whole_chain else range(min(1, len(chain.entities)))
    for index in candidates:
        entity = chain.entities[index]
        if _binds(law, entity.country, catalog) or entity.country in law.entity_scope:
            hops = tuple(_entity_label(link) for link in chain.path_to(index))
            yield Power(law.jurisdiction, basis, law, (label, *hops), entity, chain.role)
            return


def _by_services(law: Law, label: str, chain: Chain, catalog: Catalog) -> Iterator[Power]:
    for index, entity in enumerate(chain.entities):
        record = catalog.entities.get(entity.id)
        offered = record.offers_services_in if record else ()
        if law.jurisdiction != WILDCARD and any(
            code == law.jurisdiction or _binds(law, code, catalog) for code in offered
        ):
            hops = tuple(_entity_label(link) for link in chain.path_to(index))
            offers = f"offers services in {catalog.jurisdiction_name(law.jurisdiction)}"
            yield Power(law.jurisdiction, "offering_services", law, (label, *hops, offers), entity, chain.role)
            return


def _binds(law: Law, country: str, catalog: Catalog) -> bool:
    """Is `country` within the law's own jurisdiction (less the members it excludes)?"""
    return law.jurisdiction != WILDCARD and country not in law.excludes and catalog.within(country, law.jurisdiction)


# -- route: how an order would reach the addressee ------------------------------------------------

def _ground(power: Power, store: DataStore, chains: StoreChains, catalog: Catalog, on: dt.date) -> Ground:
    notes = [note for note in (power.law.validity.note(on),) if note]
    addressee = power.addressee
    if addressee is None:  # a copy on the soil: the state acts on its own territory
        return Ground(power, "direct", notes=notes)
    conflicts = _conflicts(power, store, chains, catalog, on)
    if catalog.within(addressee.country, power.jurisdiction):
        return Ground(power, "direct", conflicts=conflicts, notes=notes)
    forbidding = [rule for rule in catalog.blocking if rule.prohibits and rule.validity.applies(on)
                  and "addressee" in rule.applies_to and catalog.within(addressee.country, rule.jurisdiction)]
    agreement = catalog.agreement(power.jurisdiction, addressee.country, on)
    if agreement and all(rule.except_agreements for rule in forbidding):
        conditions = [_condition(c.text, c.citation, c.test, addressee, chains, catalog)
                      for c in agreement.conditions]
        if agreement.validity.status == "unverified":  # the route may not be open yet: say so, as a condition
            conditions.append({"text": f"The {agreement.name} is in force and usable for this order",
                               "citation": agreement.citation, "met": UNKNOWN,
                               "why": "its entry into force (or designation) is not verified"})
        lifted = {rule.id for rule in forbidding}  # the agreement is the exception these rules allow
        conflicts = [conflict for conflict in conflicts if conflict["law"] not in lifted]
        return Ground(power, "agreement", agreement, conditions, conflicts, notes)
    direct = power.law.foreign_addressees == "direct" and not forbidding
    return Ground(power, "direct" if direct else "mutual_legal_assistance", conflicts=conflicts, notes=notes)


def _access(power: Power, store: DataStore, chains: StoreChains, catalog: Catalog) -> str:
    """What the addressee (or the state, for a copy on its soil) could obtain, given who holds the keys."""
    encryption = store.encryption
    if encryption is None:
        return UNKNOWN
    key_holders = {entity.id for entity in chains.key_operator.entities} if chains.key_operator else set()
    controls_key = power.addressee is not None and power.addressee.id in key_holders
    on_soil = bool(encryption.key_country) and catalog.within(encryption.key_country, power.jurisdiction)
    return access(encryption.custody, power.chain, controls_key, on_soil)


def _condition(text: str, citation: str, test: str, addressee: Entity, chains: StoreChains,
               catalog: Catalog) -> dict[str, object]:
    met: bool | str = UNKNOWN
    why = "Custody cannot know whom an order would target"
    if test == "owner_not_of_receiving_state":
        owner = chains.owner.entities[0] if chains.owner else None
        if owner is None:
            why = "the account's owner is not declared"
        else:
            met = not catalog.within(owner.country, addressee.country)
            state = catalog.jurisdiction_name(addressee.country)
            why = f"the account owner {_entity_label(owner)} is {'not ' if met else ''}a person of {state}"
    return {"text": text, "citation": citation, "met": met, "why": why}


def _conflicts(power: Power, store: DataStore, chains: StoreChains, catalog: Catalog,
               on: dt.date) -> list[dict[str, str]]:
    """The blocking laws of other states that an order served on the addressee would meet."""
    assert power.addressee is not None
    owner = chains.owner.entities[0] if chains.owner else None
    places = {
        "addressee": {power.addressee.country},
        "location": {loc.country for loc in store.locations if loc.country != UNKNOWN},
        "owner": {owner.country} if owner else set(),
    }
    found = []
    for rule in catalog.blocking:
        own = catalog.within(power.jurisdiction, rule.jurisdiction) or catalog.within(rule.jurisdiction,
                                                                                     power.jurisdiction)
        if own or not rule.validity.applies(on):  # a state's own blocking rule, or its union's, is no conflict
            continue
        if any(catalog.within(country, rule.jurisdiction) for scope in rule.applies_to for country in places[scope]):
            found.append({"law": rule.id, "name": rule.name, "jurisdiction": rule.jurisdiction,
                          "citation": rule.citation})
    return found


def _agreement_ref(agreement: Agreement | None) -> dict[str, str] | None:
    if agreement is None:
        return None
    return {"id": agreement.id, "name": agreement.name, "citation": agreement.citation}


def _entity_label(entity: Entity) -> str:
    return f"{entity.name} ({entity.country})"
