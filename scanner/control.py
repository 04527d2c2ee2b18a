"""The control test: which jurisdictions' laws reach a store, on what basis, through which path.

A pure function of a tagged store (its resolved locations and its operator and owner chains),
the catalog's laws and a date. It applies each law's triggers (see policies/catalog/laws.yaml):

- location:          a copy is on the jurisdiction's soil (or in the law's location_scope);
- control:           any entity of the operator or owner chain is incorporated there;
- establishment:     the operator itself, or the account owner itself, is established there;
- offering_services: an operator in the chain offers its service there (owners are customers,
                     not service providers, so their chain does not count for this trigger);
- all_organizations: any organization of the jurisdiction anywhere in either chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.catalog import WILDCARD, Catalog, Law
from scanner.model import UNKNOWN, DataStore, Entity, Location, Reach

# Which basis names an entry when a jurisdiction reaches a store on several: the one a
# lawyer would argue first (control reaches data anywhere; location only what is on soil).
BASIS_ORDER = ("control", "establishment", "all_organizations", "offering_services", "location")


@dataclass(frozen=True)
class Ground:
    jurisdiction: str
    basis: str
    law: Law
    path: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "basis": self.basis,
            "law": self.law.id,
            "law_name": self.law.name,
            "citation": self.law.citation,
            "path": list(self.path),
            "unverified": self.law.unverified,
        }


def reachable_by(
    store: DataStore, operator_chains: list[list[Entity]], catalog: Catalog, on: dt.date
) -> list[Reach]:
    """One Reach per jurisdiction whose law in force on `on` reaches `store`."""
    grounds: dict[str, list[Ground]] = {}
    label = f"{store.kind} {store.name}"
    for law in catalog.laws:
        if not law.in_force(on):
            continue
        for ground in _grounds(law, label, store, operator_chains, catalog):
            if ground not in grounds.setdefault(ground.jurisdiction, []):
                grounds[ground.jurisdiction].append(ground)
    reaches = []
    for jurisdiction in sorted(grounds):
        found = sorted(grounds[jurisdiction], key=lambda g: (BASIS_ORDER.index(g.basis), g.law.id))
        first = found[0]
        reaches.append(
            Reach(
                jurisdiction=jurisdiction,
                basis=first.basis,
                law=first.law.id,
                citation=first.law.citation,
                path=list(first.path),
                grounds=[ground.as_dict() for ground in found],
            )
        )
    return reaches


def _grounds(
    law: Law, label: str, store: DataStore, operator_chains: list[list[Entity]], catalog: Catalog
) -> Iterator[Ground]:
    chains = [*operator_chains, *([store.owner] if store.owner else [])]
    for trigger in law.triggers:
        if trigger == "location":
            yield from _by_location(law, label, store.locations, catalog)
        elif trigger in ("control", "all_organizations"):
            for chain in chains:
                yield from _by_chain(law, trigger, label, chain, catalog, whole_chain=True)
        elif trigger == "establishment":
            for chain in chains:
                yield from _by_chain(law, trigger, label, chain, catalog, whole_chain=False)
        elif trigger == "offering_services":
            for chain in operator_chains:
                yield from _by_services(law, label, chain, catalog)


def _by_location(law: Law, label: str, locations: list[Location], catalog: Catalog) -> Iterator[Ground]:
    for location in locations:
        if location.country == UNKNOWN:
            continue
        if law.jurisdiction == WILDCARD:
            jurisdiction = location.country
            covered = True
        else:
            jurisdiction = law.jurisdiction
            scope = law.location_scope
            covered = location.country in scope if scope else catalog.within(location.country, jurisdiction)
        if covered:
            place = ", ".join(part for part in (location.city, catalog.jurisdiction_name(location.country)) if part)
            hop = f"{location.role} copy in {location.region} ({place})"
            yield Ground(jurisdiction, "location", law, (label, hop, law.citation))


def _by_chain(
    law: Law, basis: str, label: str, chain: list[Entity], catalog: Catalog, whole_chain: bool
) -> Iterator[Ground]:
    candidates = chain if whole_chain else chain[:1]
    for depth, entity in enumerate(candidates):
        if _subject(entity.country, law, catalog):
            hops = tuple(_entity_label(link) for link in chain[: depth + 1])
            yield Ground(law.jurisdiction, basis, law, (label, *hops, law.citation))
            return


def _subject(country: str, law: Law, catalog: Catalog) -> bool:
    """Is an entity incorporated in `country` subject to `law`'s chain triggers?"""
    if law.entity_scope:  # e.g. a UK overseas production order served on a US company
        return country in law.entity_scope
    return law.jurisdiction != WILDCARD and catalog.within(country, law.jurisdiction)


def _by_services(law: Law, label: str, chain: list[Entity], catalog: Catalog) -> Iterator[Ground]:
    for depth, entity in enumerate(chain):
        record = catalog.entities.get(entity.id)
        offered = record.offers_services_in if record else ()
        if law.jurisdiction != WILDCARD and any(
            code == law.jurisdiction or catalog.within(code, law.jurisdiction) for code in offered
        ):
            hops = tuple(_entity_label(link) for link in chain[: depth + 1])
            offers = f"offers services in {catalog.jurisdiction_name(law.jurisdiction)}"
            yield Ground(law.jurisdiction, "offering_services", law, (label, *hops, offers, law.citation))
            return


def _entity_label(entity: Entity) -> str:
    return f"{entity.name} ({entity.country})"
