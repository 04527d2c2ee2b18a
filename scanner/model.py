"""The data model: what a scan finds and what it concludes about each store.

Names here are the JSON contract (`scan --format json`); alerts, the dashboard
and users' scripts build on them, so rename nothing lightly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from scanner.custody import Encryption

Role = Literal["primary", "replica", "backup", "key"]  # key: where the store's key material is
Basis = Literal["location", "control", "establishment", "offering_services", "all_organizations"]
BASES: tuple[str, ...] = ("location", "control", "establishment", "offering_services", "all_organizations")
Route = Literal["direct", "agreement", "mutual_legal_assistance"]
ROUTES: tuple[str, ...] = ("direct", "agreement", "mutual_legal_assistance")
Status = Literal["pass", "fail", "not_applicable", "not_evaluated"]
UNKNOWN = "unknown"
TAGS_UNREADABLE = "tags unreadable"  # how an unknown about a store's tags begins


@dataclass(frozen=True)
class Location:
    """One place a copy of the store's data lives."""

    region: str
    role: Role
    learned_from: str  # the API call or field that told us, e.g. "ListBuckets.BucketRegion"
    country: str = UNKNOWN  # ISO 3166-1 alpha-2, or "unknown" when the catalog lacks the region
    city: str | None = None
    partition: str | None = None
    operator: str | None = None  # catalog entity id of the operator for this location
    observed_at: str | None = None  # when the provider's API told us (UTC ISO 8601, seconds); None: not recorded


@dataclass(frozen=True)
class Entity:
    """A legal entity in an operator or owner chain."""

    id: str
    name: str
    country: str
    lei: str | None = None
    source: str | None = None
    unverified: bool = False
    parents: tuple[str, ...] = ()  # ids of its direct parents (two for a joint venture)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Entity:
        return cls(**{**doc, "parents": tuple(doc.get("parents", ()))})


@dataclass
class Reach:
    """One jurisdiction whose law can compel access to the store: its strongest ground, and every ground.

    A ground is a power (law and basis) plus the route an order would take to its addressee
    (`direct`, `agreement`, `mutual_legal_assistance`), the route's conditions (each `met`: true,
    false or "unknown"), and the blocking laws that forbid the addressee to comply (`conflicts`).
    `effective`: the route is direct or an agreement and no condition is known to fail.
    """

    jurisdiction: str
    basis: str
    law: str
    citation: str
    path: list[str]
    grounds: list[dict[str, Any]] = field(default_factory=list)  # every ground found, strongest first
    addressee: str | None = None  # entity id an order would be served on; None for a copy on the soil
    addressee_name: str | None = None
    chain: str | None = None  # operator | contracting_party | owner; None for soil
    route: str = "direct"
    agreement: dict[str, str] | None = None  # id, name, citation of the agreement the route uses
    conditions: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    effective: bool = True
    access: str = "unknown"  # plaintext | plaintext_while_key_released | ciphertext_only | unknown (scanner/custody.py)

    @property
    def path_text(self) -> str:
        return " → ".join(self.path)


@dataclass
class Finding:
    """A policy's verdict on one unacceptable reach."""

    fingerprint: str
    policy: str
    jurisdiction: str
    basis: str
    severity: str
    message: str
    waiver: dict[str, Any] | None = None
    route: str = "direct"
    effective: bool = True
    policies: list[str] = field(default_factory=list)  # every covering policy that does not accept this reach
    access: str = "unknown"  # what the addressee could hand over


@dataclass
class DataStore:
    """A data store as inventoried, tagged and judged."""

    id: str  # stable id: ARN or the provider's equivalent
    provider: str
    account: str
    kind: str
    name: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=list)
    operator: list[Entity] = field(default_factory=list)  # who runs the infrastructure, to its ultimate parent
    contracting_party: list[Entity] = field(default_factory=list)  # whom the account contracts with
    owner: list[Entity] = field(default_factory=list)  # the customer company that owns the account
    encryption: Encryption | None = None  # who holds the keys; None when this kind's encryption is not read
    reachable_by: list[Reach] = field(default_factory=list)
    status: Status = "not_evaluated"
    status_reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)  # facts we could not determine
    attributes: dict[str, Any] = field(default_factory=dict)  # settings read that are neither place nor key

    @property
    def tags_complete(self) -> bool:
        """False when the provider could not read the store's tags (see providers.base.tags_unreadable)."""
        return not any(unknown.startswith(TAGS_UNREADABLE) for unknown in self.unknowns)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for reach, item in zip(self.reachable_by, doc["reachable_by"], strict=True):
            item["path_text"] = reach.path_text
        lists_for_parents(doc)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DataStore:
        """The inverse of to_dict (a store judged on another replica, read back from the database)."""
        fields = dict(doc)
        fields["locations"] = [Location(**item) for item in doc.get("locations", [])]
        for chain in ("operator", "contracting_party", "owner"):
            fields[chain] = [Entity.from_dict(item) for item in doc.get(chain, [])]
        if doc.get("encryption"):
            fields["encryption"] = Encryption(**doc["encryption"])
        fields["reachable_by"] = [Reach(**{k: v for k, v in item.items() if k != "path_text"})
                                  for item in doc.get("reachable_by", [])]
        fields["findings"] = [Finding(**item) for item in doc.get("findings", [])]
        return cls(**fields)


def lists_for_parents(doc: dict[str, Any]) -> None:
    """A store document's entity `parents` as lists, as JSON has them (the dataclass holds tuples)."""
    for chain in ("operator", "contracting_party", "owner"):
        for entity in doc[chain]:
            entity["parents"] = list(entity["parents"])


@dataclass
class TargetResult:
    """How one (provider, account, region, service) part of a scan went."""

    provider: str
    account: str
    region: str
    service: str
    status: Literal["ok", "error", "denied"]
    error: str | None = None
    stores: int = 0


@dataclass
class ScanResult:
    id: str
    started_at: str
    finished_at: str | None = None
    status: Literal["running", "complete", "partial", "failed", "interrupted", "targeted"] = "running"
    home: list[str] = field(default_factory=list)
    targets: list[TargetResult] = field(default_factory=list)
    coverage_gaps: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    judged_on: str | None = None  # the day whose laws judged the stores (scan --as-of), ISO date

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
