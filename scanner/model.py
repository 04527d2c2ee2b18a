"""The data model: what a scan finds and what it concludes about each store.

Names here are the JSON contract (`scan --format json`); alerts, the dashboard
and users' scripts build on them, so rename nothing lightly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Role = Literal["primary", "replica", "backup"]
Basis = Literal["location", "control", "establishment", "offering_services", "all_organizations"]
BASES: tuple[str, ...] = ("location", "control", "establishment", "offering_services", "all_organizations")
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


@dataclass
class Reach:
    """One jurisdiction whose law can compel access to the store, and why."""

    jurisdiction: str
    basis: str
    law: str
    citation: str
    path: list[str]
    grounds: list[dict[str, Any]] = field(default_factory=list)  # every (basis, law, path) found

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
    operator: list[Entity] = field(default_factory=list)
    owner: list[Entity] = field(default_factory=list)
    reachable_by: list[Reach] = field(default_factory=list)
    status: Status = "not_evaluated"
    status_reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)  # facts we could not determine

    @property
    def tags_complete(self) -> bool:
        """False when the provider could not read the store's tags (see providers.base.tags_unreadable)."""
        return not any(unknown.startswith(TAGS_UNREADABLE) for unknown in self.unknowns)

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for reach, item in zip(self.reachable_by, doc["reachable_by"], strict=True):
            item["path_text"] = reach.path_text
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> DataStore:
        """The inverse of to_dict (a store judged on another replica, read back from the database)."""
        fields = dict(doc)
        fields["locations"] = [Location(**item) for item in doc.get("locations", [])]
        fields["operator"] = [Entity(**item) for item in doc.get("operator", [])]
        fields["owner"] = [Entity(**item) for item in doc.get("owner", [])]
        fields["reachable_by"] = [Reach(**{k: v for k, v in item.items() if k != "path_text"})
                                  for item in doc.get("reachable_by", [])]
        fields["findings"] = [Finding(**item) for item in doc.get("findings", [])]
        return cls(**fields)


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
    status: Literal["running", "complete", "partial", "failed", "interrupted"] = "running"
    home: list[str] = field(default_factory=list)
    targets: list[TargetResult] = field(default_factory=list)
    coverage_gaps: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
