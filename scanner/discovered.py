"""What a provider reports: a data store it found and the raw places its copies live, as the cloud's
API named them (region codes, roles, how and when each was learned). Tagging (scanner.tagging) turns
these into countries, operators and law from the catalog, the same way for every cloud."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.clock import now_iso
from scanner.custody import KeyFacts
from scanner.model import Location, Role


@dataclass
class DiscoveredStore:
    id: str
    provider: str
    account: str
    kind: str
    name: str
    region: str
    tags: dict[str, str] = field(default_factory=dict)
    # where its copies live, as the API reported them: only region, role, learned_from and observed_at are filled;
    # tagging (scanner/tagging.py) fills country, city, partition and operator from the catalog
    locations: list[Location] = field(default_factory=list)
    unknowns: list[str] = field(default_factory=list)  # facts the API would not tell us
    encryption: KeyFacts | None = None  # what the provider read of its encryption; None: this kind does not read it
    # settings the provider read that are neither place nor key (an AWS Backup vault's lock), by name; in the report
    attributes: dict[str, Any] = field(default_factory=dict)

    def add_location(self, region: str, role: Role, learned_from: str, observed_at: str | None = None) -> None:
        """Record a place a copy lives (the first one per region counts). `observed_at`: when the API answered;
        default now, for a location added as the answer is read. A fact reused from an earlier answer (a cache,
        AWS Config's capture time) must pass the time of that answer, never now."""
        if all(loc.region != region for loc in self.locations):
            self.locations.append(Location(region, role, learned_from, observed_at=observed_at or now_iso()))
