"""Load and validate the catalog YAML under `policies/catalog/` into a `Catalog`.

Layout: `jurisdictions.yaml` (unions such as the EU), `entities.yaml` (legal entities and
contracting rules), one `regions/<provider>.yaml` per cloud, `laws/*.yaml` (compelled-access
laws), `agreements.yaml` (cross-border access agreements) and `blocking.yaml` (laws that forbid
complying with a foreign order).

Every fact names a public source; a source that points at a local file is refused, because a
user's copy of the project is no evidence of anything.
"""

from __future__ import annotations

import re
from pathlib import Path

from scanner.catalog import (
    BLOCKING_SCOPES,
    CHAIN_ROLES,
    CONDITION_TESTS,
    FOREIGN_ADDRESSEES,
    LAW_STATUSES,
    WILDCARD,
    Agreement,
    BlockingRule,
    Catalog,
    Condition,
    ContractingRule,
    EntityRecord,
    Law,
    Region,
    Union,
    Validity,
    is_country,
)
from scanner.model import BASES
from scanner.yamlfile import Node, read_yaml

CATALOG_DIR = Path(__file__).parent / "catalog"
# a path on this machine or in this project (../x, ./x, ~/x, /etc/x, policies/...): never a source
LOCAL_PATH = re.compile(
    r"(?<![\w/:.-])(\.{1,2}/|~/|/(?=\w)|(policies|scanner|providers|alerts|dashboard|docs|tests|demo)/)")


def load_catalog(directory: Path = CATALOG_DIR) -> Catalog:
    catalog = Catalog()
    _load_unions(read_yaml(directory / "jurisdictions.yaml"), catalog)
    _load_entities(read_yaml(directory / "entities.yaml"), catalog)
    for path in sorted((directory / "regions").glob("*.yaml")):
        _load_regions(read_yaml(path), catalog)
    for path in sorted((directory / "laws").glob("*.yaml")):
        _load_laws(read_yaml(path), catalog)
    _load_agreements(read_yaml(directory / "agreements.yaml"), catalog)
    _load_blocking(read_yaml(directory / "blocking.yaml"), catalog)
    return catalog


def _country(node: Node, catalog: Catalog | None = None) -> str:
    code = node.req_str()
    if not (is_country(code) or (catalog and code in catalog.unions)):
        raise node.error(f"{node.name}: '{code}' is not an ISO 3166-1 alpha-2 country code")
    return code


def _source(node: Node, default: str | None = None, public: bool = True) -> str:
    source = node["source"].str(default)
    if not source:
        raise node.error(f"{node.name}: missing required key 'source' (every fact names where it came from)")
    if public and (match := LOCAL_PATH.search(source)):
        raise node["source"].error(f"{node.name}.source: '{match.group(0).strip()}' is a local file; expected a "
                                   "public source (URL, statute, official journal, court decision, provider page)")
    return source


def _validity(node: Node) -> Validity:
    return Validity(
        applies_from=node["applies_from"].date(),
        applies_until=node["applies_until"].date(),
        status=node["status"].str("in_force", LAW_STATUSES) or "in_force",
        until_citation=node["until_citation"].str(),
    )


VALIDITY_KEYS = {"applies_from", "applies_until", "status", "until_citation"}


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
        parents += [(node["parent"], parent) for parent in record.parents]
    for node, parent in parents:
        if parent not in catalog.entities:
            raise node.error(f"{node.name}: unknown parent entity '{parent}'")
    for node in doc["contracting"].items():
        node.mapping(
            {"provider", "partition", "entity", "account_countries", "source", "unverified", "note", "checked"},
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


ENTITY_KEYS = {"id", "name", "country", "parent", "lei", "source", "unverified", "offers_services_in", "note",
               "checked"}


def entity_record(node: Node, catalog: Catalog, default_source: str | None = None) -> EntityRecord:
    """One legal entity; shared by the catalog and by the config's account owners (whose source
    defaults to the config file: the user's own declaration). `parent`: one id, or a list for a
    joint venture."""
    node.mapping(ENTITY_KEYS, {"id", "name", "country"})
    services = tuple(_country(item, catalog) for item in node["offers_services_in"].items())
    return EntityRecord(
        id=node["id"].req_str(),
        name=node["name"].req_str(),
        country=_country(node["country"]),
        parents=tuple(node["parent"].str_list()),
        source=_source(node, default_source, public=default_source is None),
        lei=node["lei"].str(),
        unverified=node["unverified"].bool(),
        offers_services_in=services,
        note=node["note"].str(),
        checked=node["checked"].date(),
    )


REGION_KEYS = {"name", "country", "city", "partition", "operator", "source", "unverified", "spans", "pair", "checked"}


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
    "id", "jurisdiction", "name", "citation", "triggers", "chains", "source", "summary", "location_scope",
    "entity_scope", "excludes", "foreign_addressees", "unverified", "checked", *VALIDITY_KEYS,
}


def _load_laws(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"laws"}, {"laws"})
    seen = {law.id for law in catalog.laws}
    for node in doc["laws"].items():
        node.mapping(LAW_KEYS, {"id", "jurisdiction", "name", "citation", "triggers", "chains", "source"})
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
        chains = tuple(item.req_str(CHAIN_ROLES) for item in node["chains"].items())
        if not chains and triggers != ("location",):
            raise node["chains"].error(f"{node.name}.chains: expected at least one of: {', '.join(CHAIN_ROLES)}")
        catalog.laws.append(
            Law(
                id=law_id,
                jurisdiction=jurisdiction,
                name=node["name"].req_str(),
                citation=node["citation"].req_str(),
                triggers=triggers,
                chains=chains,
                source=_source(node),
                summary=node["summary"].str("") or "",
                validity=_validity(node),
                location_scope=tuple(_country(item) for item in node["location_scope"].items()),
                entity_scope=tuple(_country(item) for item in node["entity_scope"].items()),
                excludes=tuple(_country(item) for item in node["excludes"].items()),
                foreign_addressees=node["foreign_addressees"].str("agreement", FOREIGN_ADDRESSEES) or "agreement",
                unverified=node["unverified"].bool(),
                checked=node["checked"].date(),
            )
        )


def _jurisdiction(node: Node, catalog: Catalog) -> str:
    code = node.req_str()
    if not catalog.is_jurisdiction(code):
        raise node.error(f"{node.name}: unknown jurisdiction '{code}' (expected an ISO 3166-1 alpha-2 code or EU)")
    return code


AGREEMENT_KEYS = {"id", "name", "parties", "citation", "conditions", "source", "unverified", "checked", "summary",
                  *VALIDITY_KEYS}


def _load_agreements(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"agreements"}, {"agreements"})
    for node in doc["agreements"].items():
        node.mapping(AGREEMENT_KEYS, {"id", "name", "parties", "citation", "source"})
        parties = frozenset(_jurisdiction(item, catalog) for item in node["parties"].items())
        if len(parties) != 2:
            raise node["parties"].error(f"{node.name}.parties: expected the two parties of the agreement")
        conditions = []
        for item in node["conditions"].items():
            item.mapping({"text", "citation", "test"}, {"text", "citation", "test"})
            conditions.append(Condition(item["text"].req_str(), item["citation"].req_str(),
                                        item["test"].req_str(CONDITION_TESTS)))
        catalog.agreements.append(Agreement(
            id=node["id"].req_str(), name=node["name"].req_str(), parties=parties,
            citation=node["citation"].req_str(), source=_source(node), conditions=tuple(conditions),
            validity=_validity(node), unverified=node["unverified"].bool(), checked=node["checked"].date(),
        ))


BLOCKING_KEYS = {"id", "jurisdiction", "name", "citation", "applies_to", "prohibits", "except_agreements",
                 "summary", "source", "unverified", "checked", *VALIDITY_KEYS}


def _load_blocking(doc: Node, catalog: Catalog) -> None:
    doc.mapping({"blocking"}, {"blocking"})
    for node in doc["blocking"].items():
        node.mapping(BLOCKING_KEYS, {"id", "jurisdiction", "name", "citation", "applies_to", "source"})
        applies_to = tuple(item.req_str(BLOCKING_SCOPES) for item in node["applies_to"].items())
        catalog.blocking.append(BlockingRule(
            id=node["id"].req_str(), jurisdiction=_jurisdiction(node["jurisdiction"], catalog),
            name=node["name"].req_str(), citation=node["citation"].req_str(), applies_to=applies_to,
            source=_source(node), prohibits=node["prohibits"].bool(),
            except_agreements=node["except_agreements"].bool(), summary=node["summary"].str("") or "",
            validity=_validity(node), unverified=node["unverified"].bool(), checked=node["checked"].date(),
        ))
