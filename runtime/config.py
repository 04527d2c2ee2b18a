"""Reading the agent's config file into a scanner.config.Config: home jurisdictions, account owners,
providers, policies, state.

Example (every key optional):

    home: EU
    state: custody.db                 # SQLite path, or a SQLAlchemy URL
    policies: [policies/eu-personal.yaml]
    companies:                        # customer companies that own accounts, with parents
      - {id: acme-inc, name: "Acme Inc.", country: US}
      - {id: acme-europe, name: "Acme Europe GmbH", country: DE, parent: acme-inc}
    accounts:                         # AWS account, Azure subscription or GCP project id
      "111111111111": {owner: acme-europe, country: DE, name: prod-eu}
    providers:
      aws: {regions: [eu-central-1], organization: true, assume_role: OrganizationAccountAccessRole}
"""

from __future__ import annotations

from pathlib import Path

from policies.catalog_loader import entity_record
from providers import PROVIDERS, provider_kind
from scanner.catalog import Catalog
from scanner.config import Account, Config, KeyStore
from scanner.errors import InputError
from scanner.yamlfile import Node, read_yaml

# sections parsed by the package that owns them (agent daemon, alerts, dashboard), like providers
OWNED_SECTIONS = ("agent", "alerts", "dashboard")
CONFIG_KEYS = {"home", "state", "policies", "companies", "accounts", "providers", "key_stores", *OWNED_SECTIONS}
KEY_STORE_KEYS = {"country", "operator"}
ACCOUNT_KEYS = {"owner", "country", "name"}


def default_config() -> Config:
    """No config file: scan AWS with the standard credential chain."""
    return Config(providers={"aws": Node({}, "<default config>", 1, "providers.aws")})


def load_config(path: str, catalog: Catalog) -> Config:
    doc = read_yaml(path)
    if doc.value is None:
        raise doc.error("empty config file (expected a mapping with keys such as home, accounts, providers)")
    doc.mapping(CONFIG_KEYS)
    config = Config(path=path)
    config.home = [_jurisdiction(item, catalog) for item in _as_items(doc["home"])]
    config.state = doc["state"].str("custody.db") or "custody.db"
    base = Path(path).parent
    config.policy_files = [str(base / item) for item in doc["policies"].str_list()]
    for node in doc["companies"].items():
        record = entity_record(node, catalog, default_source=f"declared in {path}")
        if record.id in config.companies or record.id in catalog.entities:
            raise node.error(f"{node.name}: duplicate company id '{record.id}'")
        config.companies[record.id] = record
    for record in config.companies.values():
        for parent in record.parents:
            if parent in config.companies or parent in catalog.entities:
                continue
            problem = f"companies: '{record.id}' names unknown parent '{parent}'"
            raise InputError(problem, path, doc["companies"].line)
    for account_id, node in doc["accounts"].entries():
        node.mapping(ACCOUNT_KEYS)
        owner = node["owner"].str()
        if owner and owner not in config.companies:
            raise node["owner"].error(f"{node.name}.owner: unknown company '{owner}' (declare it under companies)")
        country = node["country"].str()
        if country:
            _jurisdiction(node["country"], catalog)
        config.accounts[account_id] = Account(account_id, owner, country, node["name"].str())
    for name, node in doc["providers"].entries():
        if provider_kind(name) not in PROVIDERS:
            raise node.error(f"providers: unknown provider '{name}' (expected one of: {', '.join(PROVIDERS)}, "
                             "optionally followed by /label for a second section of the same provider)")
        config.providers[name] = node
    if not config.providers:
        config.providers = default_config().providers
    for host, node in doc["key_stores"].entries():
        node.mapping(KEY_STORE_KEYS, {"country"})
        operator = node["operator"].str()
        if operator and operator not in config.companies and operator not in catalog.entities:
            raise node["operator"].error(f"{node.name}.operator: unknown company or entity '{operator}'")
        config.key_stores[host] = KeyStore(host, _jurisdiction(node["country"], catalog), operator)
    for name in OWNED_SECTIONS:
        if doc.has(name):
            config.sections[name] = doc[name]
    return config


def _as_items(node: Node) -> list[Node]:
    if isinstance(node.value, str):
        return [node]
    return list(node.items())


def _jurisdiction(node: Node, catalog: Catalog) -> str:
    code = node.req_str()
    if not catalog.is_jurisdiction(code):
        raise node.error(f"{node.name}: unknown jurisdiction '{code}' (expected an ISO 3166-1 alpha-2 code or EU)")
    return code
