"""The agent's config, as read from its file (runtime.config loads it): home jurisdictions, account
owners, the raw provider sections, policy files, the state location and the raw sections owned by
other packages (agent, alerts, dashboard)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scanner.catalog import EntityRecord
from scanner.yamlfile import Node


@dataclass(frozen=True)
class Account:
    id: str
    owner: str | None  # company id
    country: str | None  # the account's registered country, which picks the contracting entity
    name: str | None = None


@dataclass(frozen=True)
class KeyStore:
    """A key manager outside the provider (an AWS external key store's proxy, a Cloud EKM manager): where it is
    and who runs it, as the customer declares them (no API tells)."""

    host: str
    country: str
    operator: str | None = None  # a company id (companies) or catalog entity id


@dataclass
class Config:
    path: str | None = None
    home: list[str] = field(default_factory=list)
    state: str = "custody.db"
    policy_files: list[str] = field(default_factory=list)
    companies: dict[str, EntityRecord] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    providers: dict[str, Node] = field(default_factory=dict)  # raw sections, parsed by each provider
    sections: dict[str, Node] = field(default_factory=dict)  # agent, alerts, dashboard: raw, parsed by their owners
    key_stores: dict[str, KeyStore] = field(default_factory=dict)  # by endpoint host

    def section(self, name: str) -> Node:
        """A raw owned section (`agent`, `alerts`, `dashboard`); an empty mapping when absent."""
        return self.sections.get(name) or Node({}, self.path or "<default config>", 1, name)

    def owner_chain_start(self, account: str) -> str | None:
        entry = self.accounts.get(account)
        return entry.owner if entry else None

    def account_country(self, account: str) -> str | None:
        entry = self.accounts.get(account)
        if entry is None:
            return None
        if entry.country:
            return entry.country
        owner = self.companies.get(entry.owner) if entry.owner else None
        return owner.country if owner else None
