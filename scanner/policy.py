"""Policies: which reach is acceptable for which stores, and the verdict for each store.

`evaluate` is pure: a store with its `reachable_by` filled in, the policies, the waivers and
a date give the store's status and findings. Unknown is never pass: a store with an unknown
location or controller and no failing finding is `not_evaluated`, with the reason.

A policy judges effective reach (an order that binds its addressee directly or under an agreement
whose conditions are not known to fail) unless it lists `count_routes`: then a ground counts when
its route is listed, effective or not. A store gets one finding per jurisdiction, however many
policies cover it: the headline policy is the most severe of those that do not accept the reach.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
from dataclasses import dataclass, field
from typing import Any

from scanner.catalog import Catalog
from scanner.model import UNKNOWN, DataStore, Finding, Reach

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Scope:
    """Which stores a policy covers; every condition given must hold."""

    tags: dict[str, str] = field(default_factory=dict)
    accounts: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()

    def covers(self, store: DataStore) -> bool:
        return all(store.tags.get(key) == value for key, value in self.tags.items()) and self.covers_but_tags(store)

    def covers_but_tags(self, store: DataStore) -> bool:
        return (
            (not self.accounts or store.account in self.accounts)
            and (not self.kinds or store.kind in self.kinds)
            and (not self.providers or store.provider in self.providers)
        )


@dataclass(frozen=True)
class Policy:
    id: str
    home: tuple[str, ...]
    scope: Scope
    accept: tuple[str, ...] = ()
    severity: str = "high"
    description: str = ""
    source: str = ""  # the file and line it was declared at
    count_routes: tuple[str, ...] | None = None  # None: effective reach only
    accept_access: tuple[str, ...] = ()  # reach acceptable at these access levels (e.g. ciphertext_only)

    def counted(self, reach: Reach) -> dict[str, Any] | None:
        """The strongest ground of `reach` this policy counts, or None."""
        for ground in reach.grounds:
            counts = ground["effective"] if self.count_routes is None else ground["route"] in self.count_routes
            if counts and ground.get("access", UNKNOWN) not in self.accept_access:
                return ground
        return None


@dataclass(frozen=True)
class Waiver:
    store: str  # an exact store id or a glob pattern
    reason: str
    approver: str
    expires: dt.date
    policy: str | None = None
    jurisdiction: str | None = None
    source: str = ""

    def matches(self, store_id: str, policy: str, jurisdiction: str) -> bool:
        return (
            fnmatch.fnmatchcase(store_id, self.store)
            and self.policy in (None, policy)
            and self.jurisdiction in (None, jurisdiction)
        )


def fingerprint(store_id: str, jurisdiction: str, basis: str) -> str:
    return hashlib.sha256(f"{store_id}|{jurisdiction}|{basis}".encode()).hexdigest()[:20]


def evaluate(
    store: DataStore, policies: list[Policy], waivers: list[Waiver], catalog: Catalog, today: dt.date
) -> None:
    """Set store.status, store.status_reason and store.findings."""
    covering = [policy for policy in policies if policy.scope.covers(store)]
    # tags unreadable: a tag-scoped policy may cover the store without our knowing it
    maybe = [p for p in policies if p not in covering and p.scope.tags and not store.tags_complete
             and p.scope.covers_but_tags(store)]
    store.findings = []
    if not covering and not maybe:
        store.status, store.status_reason = "not_applicable", "no policy covers this store"
        return
    for reach in store.reachable_by:
        objections = [(policy, ground) for policy in covering
                      if not _accepted(reach.jurisdiction, policy, catalog) and (ground := policy.counted(reach))]
        if objections:
            store.findings.append(_finding(store, reach, objections, waivers, catalog, today))
    failing = [finding for finding in store.findings if finding.waiver is None or finding.waiver["expired"]]
    if failing:
        # the worst: highest severity, then the strongest reach (findings follow reachable_by's order)
        worst = min(failing, key=lambda f: -SEVERITIES.index(f.severity))
        store.status = "fail"
        store.status_reason = f"{len(failing)} unacceptable reach(es); worst: {worst.message}"
    elif store.unknowns or maybe:
        store.status = "not_evaluated"
        unsure = [f"tags unreadable: cannot tell whether policy {p.id} covers this store" for p in maybe]
        store.status_reason = "; ".join([*store.unknowns, *unsure])
    else:
        store.status = "pass"
        waived = len(store.findings)
        store.status_reason = (
            f"{waived} finding(s) waived" if waived else "only accepted jurisdictions reach this store"
        )


def _accepted(jurisdiction: str, policy: Policy, catalog: Catalog) -> bool:
    return any(catalog.within(jurisdiction, ok) for ok in (*policy.home, *policy.accept))


def _finding(store: DataStore, reach: Reach, objections: list[tuple[Policy, dict[str, Any]]],
             waivers: list[Waiver], catalog: Catalog, today: dt.date) -> Finding:
    """One finding for a jurisdiction: waived only when a waiver covers every objecting policy."""
    waived = {policy.id: _waiver_doc(store, policy, reach, waivers, today) for policy, _ in objections}
    open_ = [(policy, ground) for policy, ground in objections if waived[policy.id] is None
             or waived[policy.id]["expired"]]
    policy, ground = max(open_ or objections, key=lambda item: SEVERITIES.index(item[0].severity))
    route = ground["route"].replace("_", " ")
    if ground.get("agreement"):
        route += f" under the {ground['agreement']['name']}"
    name = catalog.jurisdiction_name(reach.jurisdiction)
    message = (
        f"{name} can compel access ({ground['basis'].replace('_', ' ')}, {route}, {ground['citation']}) "
        f"outside home {'/'.join(policy.home)}: {' → '.join(ground['path'])}"
    )
    return Finding(
        fingerprint=fingerprint(store.id, reach.jurisdiction, ground["basis"]),
        policy=policy.id,
        jurisdiction=reach.jurisdiction,
        basis=ground["basis"],
        severity=policy.severity,
        message=message,
        waiver=waived[policy.id],
        route=ground["route"],
        effective=ground["effective"],
        access=ground.get("access", UNKNOWN),
        policies=[p.id for p, _ in objections],
    )


def _waiver_doc(store: DataStore, policy: Policy, reach: Reach, waivers: list[Waiver],
                today: dt.date) -> dict[str, Any] | None:
    waiver = next((w for w in waivers if w.matches(store.id, policy.id, reach.jurisdiction)), None)
    if waiver is None:
        return None
    return {
        "reason": waiver.reason,
        "approver": waiver.approver,
        "expires": waiver.expires.isoformat(),
        "expired": waiver.expires < today,
        "source": waiver.source,
    }
