"""Load policy YAML files (the built-in default and the user's) into Policy and Waiver objects.

File format:

    policies:
      - id: eu-personal-data
        description: Personal data stays within EU reach
        home: [EU]                 # optional; defaults to the run's home
        applies_to: {tags: {data-class: personal}, accounts: [...], kinds: [s3-bucket], providers: [aws]}
        accept: [CH]               # further jurisdictions whose reach is acceptable
        severity: high             # low | medium | high | critical
        count_routes: [direct, agreement, mutual_legal_assistance]   # optional; default: effective reach only
        accept_access: [ciphertext_only]   # optional: reach acceptable when the addressee could hand over only this
    waivers:
      - store: "arn:aws:s3:::legacy-*"   # exact store id or glob
        policy: eu-personal-data         # optional
        jurisdiction: US                 # optional
        reason: Migration to eu-central-1 planned, ticket SEC-123
        approver: dpo@example.com
        expires: 2027-03-31
"""

from __future__ import annotations

import difflib
from pathlib import Path

from scanner.catalog import Catalog
from scanner.custody import ACCESS, UNKNOWN
from scanner.errors import InputError
from scanner.kinds import CLOUDS, kind_names
from scanner.model import ROUTES
from scanner.policy import SEVERITIES, Policy, Scope, Waiver
from scanner.yamlfile import Node, read_yaml

ACCEPTABLE = tuple(level for level in ACCESS if level != UNKNOWN)  # accepting "unknown" would fail open
DEFAULT_POLICY = Path(__file__).parent / "default.yaml"
POLICY_KEYS = {"id", "description", "home", "applies_to", "accept", "severity", "count_routes", "accept_access"}
SCOPE_KEYS = {"tags", "accounts", "kinds", "providers"}
WAIVER_KEYS = {"store", "policy", "jurisdiction", "reason", "approver", "expires"}


def load_policies(
    paths: list[str], catalog: Catalog, home: list[str]
) -> tuple[list[Policy], list[Waiver]]:
    policies: list[Policy] = []
    waivers: list[Waiver] = []
    for path in [str(DEFAULT_POLICY), *paths]:
        doc = read_yaml(path)
        doc.mapping({"policies", "waivers"})
        for node in doc["policies"].items():
            policy = _policy(node, catalog, home)
            if any(existing.id == policy.id for existing in policies):
                raise node.error(f"{node.name}: duplicate policy id '{policy.id}'")
            policies.append(policy)
        waivers.extend(_waiver(node, catalog) for node in doc["waivers"].items())
    known = {policy.id for policy in policies}
    for waiver in waivers:
        if waiver.policy and waiver.policy not in known:
            raise InputError(f"waiver names unknown policy '{waiver.policy}'", waiver.source)
    return policies, waivers


def _jurisdictions(node: Node, catalog: Catalog) -> tuple[str, ...]:
    codes = node.str_list()
    for code in codes:
        if not catalog.is_jurisdiction(code):
            raise node.error(f"{node.name}: unknown jurisdiction '{code}' (expected an ISO 3166-1 alpha-2 code or EU)")
    return tuple(codes)


def _policy(node: Node, catalog: Catalog, home: list[str]) -> Policy:
    node.mapping(POLICY_KEYS, {"id"})
    policy_home = _jurisdictions(node["home"], catalog) if node.has("home") else tuple(home)
    if not policy_home:
        raise node.error(
            f"{node.name}: no home jurisdiction (set 'home' in the policy, 'home' in the config, or pass --home)"
        )
    scope_node = node["applies_to"]
    if scope_node.value is not None:
        scope_node.mapping(SCOPE_KEYS)
    scope = Scope(
        tags=scope_node["tags"].str_map(),
        accounts=tuple(scope_node["accounts"].str_list()),
        kinds=_known(scope_node["kinds"], kind_names(), "store kind"),
        providers=_known(scope_node["providers"], CLOUDS, "provider"),
    )
    return Policy(
        id=node["id"].req_str(),
        home=policy_home,
        scope=scope,
        accept=_jurisdictions(node["accept"], catalog),
        severity=node["severity"].str("high", SEVERITIES) or "high",
        description=node["description"].str("") or "",
        source=f"{node.file}:{node.line}",
        count_routes=_routes(node["count_routes"]) if node.has("count_routes") else None,
        accept_access=tuple(item.req_str(ACCEPTABLE) for item in node["accept_access"].items()),
    )


def _routes(node: Node) -> tuple[str, ...]:
    routes = tuple(item.req_str(ROUTES) for item in node.items())
    if not routes:
        raise node.error(f"{node.name}: expected a list of routes: {', '.join(ROUTES)}")
    return routes


def _known(node: Node, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """A list of names each of which must be one of `allowed` (a typo would make the policy match nothing)."""
    items = [node] if isinstance(node.value, str) else list(node.items())
    for item in items:
        name = item.req_str()
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise item.error(f"{node.name}: unknown {what} '{name}' ({hint}expected one of: {', '.join(allowed)})")
    return tuple(item.value for item in items)


def _waiver(node: Node, catalog: Catalog) -> Waiver:
    node.mapping(WAIVER_KEYS, {"store", "reason", "approver", "expires"})
    jurisdiction = node["jurisdiction"].str()
    if jurisdiction and not catalog.is_jurisdiction(jurisdiction):
        raise node["jurisdiction"].error(f"{node.name}.jurisdiction: unknown jurisdiction '{jurisdiction}'")
    expires = node["expires"].date()
    if expires is None:
        raise node["expires"].error(f"{node.name}.expires: expected a date YYYY-MM-DD")
    return Waiver(
        store=node["store"].req_str(),
        reason=node["reason"].req_str(),
        approver=node["approver"].req_str(),
        expires=expires,
        policy=node["policy"].str(),
        jurisdiction=jurisdiction,
        source=f"{node.file}:{node.line}",
    )
