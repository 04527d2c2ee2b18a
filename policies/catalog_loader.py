"""Load and validate the catalog YAML under `policies/catalog/` into a `Catalog`.

Layout: `jurisdictions.yaml` (unions such as the EU), `entities.yaml` (legal entities and
contracting rules), `laws.yaml`, and one `regions/<provider>.yaml` per cloud.
"""

from __future__ import annotations

from pathlib import Path

from scanner.catalog import (
    WILDCARD,
    Catalog,
    ContractingRule,
    EntityRecord,
    Law,
    Region,
    Union,
    is_country,
)
from scanner.model import BASES
from scanner.yamlfile import Node, read_yaml

CATALOG_DIR = Path(__file__).parent / "catalog"


def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    catalog = Catalog()
    _load_unions(read_yaml(directory / "jurisdictions.yaml"), catalog)
    _load_entities(read_yaml(directory / "entities.yaml"), catalog)
    for path in sorted((directory / "regions").glob("*.yaml")):
        _load_regions(read_yaml(path), catalog)
    _load_laws(read_yaml(directory / "laws.yaml"), catalog)
    return catalog


def _country(node: Node, catalog: Catalog | None = None) -> str:
    code = node.req_str()
    if not (is_country(code) or (catalog and code in catalog.unions)):
        raise node.error(f"{node.name}: '{code}' is not an ISO 3166-1 alpha-2 country code")
    return code


def _source(node: Node, default: str | None = None) -> str:
    source = node["source"].str(default)
    if not source:
        raise node.error(f"{node.name}: missing required key 'source' (every fact names where it came from)")
    return source


def _load_unions(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"unions"}, {"unions"})
    for union_id, node in doc["unions"].entries():
        node.mapping({"name", "members", "source"}, {"name", "members", "source"})
        members = frozenset(_country(item) for item in node["members"].items())
        catalog.unions[union_id] = Union(union_id, node["name"].req_str(), members, _source(node))


def _load_entities(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"entities", "contracting"}, {"entities"})
    parents: list[tuple[Node, str]] = []
    for node in doc["entities"].items():
        record = entity_record(node, catalog)
        if record.id in catalog.entities:
            raise node.error(f"{node.name}: duplicate entity id '{record.id}'")
        catalog.entities[record.id] = record
        if record.parent:
            parents.append((node["parent"], record.parent))
    for node, parent in parents:
        if parent not in catalog.entities:
            raise node.error(f"{node.name}: unknown parent entity '{parent}'")
    for node in doc["contracting"].items():
        node.mapping(
            {"provider", "partition", "entity", "account_countries", "source", "unverified"},
            {"provider", "partition", "entity", "account_countries"},
        )
        entity = node["entity"].req_str()
        if entity not in catalog.entities:
            raise node["entity"].error(f"{node.name}.entity: unknown entity '{entity}'")
        countries = frozenset(_country(item) for item in node["account_countries"].items())
        catalog.contracting.append(
            ContractingRule(
                node["provider"].req_str(),
                node["partition"].req_str(),
                entity,
                countries,
                _source(node),
                node["unverified"].bool(),
            )
        )


ENTITY_KEYS = {"id", "name", "country", "parent", "lei", "source", "unverified", "offers_services_in", "note"}


def entity_record(node: Node, catalog: Catalog, default_source: str | None = None) -> EntityRecord:
    """One legal entity; shared by the catalog and by the config's account owners."""
    node.mapping(ENTITY_KEYS, {"id", "name", "country"})
    services = tuple(_country(item, catalog) for item in node["offers_services_in"].items())
    return EntityRecord(
        id=node["id"].req_str(),
        name=node["name"].req_str(),
        country=_country(node["country"]),
        parent=node["parent"].str(),
        source=_source(node, default_source),
        lei=node["lei"].str(),
        unverified=node["unverified"].bool(),
        offers_services_in=services,
        note=node["note"].str(),
    )


REGION_KEYS = {"name", "country", "city", "partition", "operator", "source", "unverified", "spans", "pair"}


def _load_regions(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"provider", "source", "partitions", "regions"}, {"provider", "regions"})
    provider = doc["provider"].req_str()
    default_source = doc["source"].str()
    partition_operators = doc["partitions"].str_map()
    added: list[tuple[Node, Region]] = []
    for region_id, node in doc["regions"].entries():
        node.mapping(REGION_KEYS, {"name", "partition"})
        partition = node["partition"].req_str()
        spans = tuple(node["spans"].str_list())
        if not spans and not node.has("country"):
            raise node.error(f"{node.name}: missing required key 'country' (or 'spans' for a multi-region)")
        operator = node["operator"].str(partition_operators.get(partition))
        if operator and operator not in catalog.entities:
            raise node["operator"].error(f"{node.name}.operator: unknown entity '{operator}'")
        region = Region(
            provider=provider,
            id=region_id,
            name=node["name"].req_str(),
            country=_country(node["country"]) if node.has("country") else None,
            city=node["city"].str(),
            partition=partition,
            operator=operator,
            source=_source(node, default_source),
            unverified=node["unverified"].bool(),
            spans=spans,
            pair=node["pair"].str(),
        )
        if (provider, region_id) in catalog.regions:
            raise node.error(f"{node.name}: duplicate region '{region_id}'")
        catalog.regions[(provider, region_id)] = region
        added.append((node, region))
    for node, region in added:
        for ref in (*region.spans, *([region.pair] if region.pair else [])):
            if (provider, ref) not in catalog.regions:
                raise node.error(f"{node.name}: refers to unknown {provider} region '{ref}'")


LAW_KEYS = {
    "id", "jurisdiction", "name", "citation", "triggers", "source", "summary",
    "applies_from", "location_scope", "entity_scope", "unverified",
}


def _load_laws(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"laws"}, {"laws"})
    seen: set[str] = set()
    for node in doc["laws"].items():
        node.mapping(LAW_KEYS, {"id", "jurisdiction", "name", "citation", "triggers", "source"})
        law_id = node["id"].req_str()
        if law_id in seen:
            raise node.error(f"{node.name}: duplicate law id '{law_id}'")
        seen.add(law_id)
        jurisdiction = node["jurisdiction"].req_str()
        if jurisdiction != WILDCARD and not catalog.is_jurisdiction(jurisdiction):
            raise node["jurisdiction"].error(f"{node.name}.jurisdiction: unknown jurisdiction '{jurisdiction}'")
        triggers = tuple(item.req_str(BASES) for item in node["triggers"].items())
        if not triggers:
            raise node["triggers"].error(f"{node.name}.triggers: expected at least one of: {', '.join(BASES)}")
        catalog.laws.append(
            Law(
                id=law_id,
                jurisdiction=jurisdiction,
                name=node["name"].req_str(),
                citation=node["citation"].req_str(),
                triggers=triggers,
                source=_source(node),
                summary=node["summary"].str("") or "",
                applies_from=node["applies_from"].date(),
                location_scope=tuple(_country(item) for item in node["location_scope"].items()),
                entity_scope=tuple(_country(item) for item in node["entity_scope"].items()),
                unverified=node["unverified"].bool(),
            )
        )
