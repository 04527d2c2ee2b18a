"""A deterministic synthetic estate written through StateStore, for the dashboard's tests and benchmark.

Not a scan: stores, locations, reaches and findings are made up from a few templates so
that every inventory filter has something to find and the expected answer of any query can
be computed from the documents themselves (`expected` below). Two scans are recorded: the
first sees every store, the second (complete) drops some stores (gone) and some findings
(resolved), so history, gone stores and resolved findings exist too.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.control import strongest_first
from scanner.model import DataStore, Entity, Finding, Location, Reach, ScanResult, TargetResult
from state.store import StateStore

# (provider, region, country, city, operator entity, operator country, parent, parent country)
REGIONS = [
    ("aws", "eu-central-1", "DE", "Frankfurt", "aws-emea-sarl", "LU", "amazon-com-inc", "US"),
    ("aws", "eu-west-1", "IE", "Dublin", "aws-emea-sarl", "LU", "amazon-com-inc", "US"),
    ("aws", "us-east-1", "US", "Northern Virginia", "aws-inc", "US", "amazon-com-inc", "US"),
    ("aws", "ap-northeast-1", "JP", "Tokyo", "aws-japan", "JP", "amazon-com-inc", "US"),
    ("aws", "cn-north-1", "CN", "Beijing", "beijing-sinnet", "CN", "beijing-sinnet", "CN"),
    ("azure", "westeurope", "NL", "Amsterdam", "microsoft-ireland", "IE", "microsoft-corp", "US"),
    ("azure", "switzerlandnorth", "CH", "Zurich", "microsoft-ireland", "IE", "microsoft-corp", "US"),
    ("azure", "brazilsouth", "BR", "Sao Paulo State", "microsoft-corp", "US", "microsoft-corp", "US"),
    ("gcp", "europe-west3", "DE", "Frankfurt", "google-cloud-emea", "IE", "alphabet-inc", "US"),
    ("gcp", "asia-east2", "HK", "Hong Kong", "google-llc", "US", "alphabet-inc", "US"),
]
KINDS = {"aws": ["s3-bucket", "dynamodb-table", "rds-instance"], "azure": ["azure-storage-account",
         "azure-sql-database"], "gcp": ["gcs-bucket", "bigquery-dataset"]}
ACCOUNTS = {"aws": ["111111111111", "222222222222"], "azure": ["sub-eu", "sub-latam"], "gcp": ["proj-eu", "proj-apac"]}
EU = {"DE", "IE", "NL", "LU", "FR", "BE", "FI", "SE", "IT", "ES", "PL"}
LAWS = {"US": ("us-cloud-act", "CLOUD Act", "18 U.S.C. § 2713"), "CN": ("cn-dsl", "Data Security Law", "DSL Art. 35"),
        "GB": ("gb-copo-2019", "Crime (Overseas Production Orders) Act 2019", "COPO 2019 s. 1")}
TERRITORIAL = ("territorial", "Territorial jurisdiction", "territorial jurisdiction (S.S. Lotus)")
EU_LAW = ("eu-e-evidence", "e-Evidence Regulation", "Regulation (EU) 2023/1543, Art. 1(1)")


def _entity(entity_id: str, country: str) -> Entity:
    return Entity(entity_id, entity_id.replace("-", " ").title(), country, source="synthetic")


def make_store(index: int, rng: random.Random) -> DataStore:
    provider = ("aws", "azure", "gcp")[index % 3]
    regions = [r for r in REGIONS if r[0] == provider]
    primary = regions[rng.randrange(len(regions))]
    kind = KINDS[provider][index % len(KINDS[provider])]
    account = ACCOUNTS[provider][(index // 3) % 2]
    name = f"{kind.split('-')[0]}-{index:06d}"
    store_id = f"{provider}:{account}:{kind}:{name}"
    locations = [Location(primary[1], "primary", "synthetic", primary[2], primary[3], provider, primary[4])]
    if index % 4 == 0:  # a replica in another region of the same provider
        other = regions[(regions.index(primary) + 1) % len(regions)]
        locations.append(Location(other[1], "replica" if index % 8 == 0 else "backup", "synthetic", other[2],
                                  other[3], provider, other[4]))
    operator = [_entity(primary[4], primary[5])]
    if primary[6] != primary[4]:
        operator.append(_entity(primary[6], primary[7]))
    owner = [_entity("acme-europe", "DE"), _entity("acme-inc", "US")] if index % 5 else []
    label = f"{kind} {name}"
    reaches: dict[str, Reach] = {}
    for loc in locations:
        code = loc.country
        reaches.setdefault(code, Reach(code, "location", TERRITORIAL[0], TERRITORIAL[2],
                                       [label, f"{loc.role} copy in {loc.region} ({loc.city})", TERRITORIAL[2]]))
        if code in EU:
            reaches.setdefault("EU", Reach("EU", "location", EU_LAW[0], EU_LAW[2],
                                           [label, f"{loc.role} copy in {loc.region}", EU_LAW[2]]))
    chain = [f"{e.name} ({e.country})" for e in operator]
    for code in ("US", "CN"):
        if any(e.country == code for e in operator):
            law = LAWS[code]
            reaches.setdefault(code, Reach(code, "control", law[0], law[2], [label, *chain, law[2]]))
    if index % 2 == 0 and "US" in {e.country for e in operator}:
        law = LAWS["GB"]
        reaches.setdefault("GB", Reach("GB", "control", law[0], law[2], [label, *chain, law[2]]))
    for reach in reaches.values():
        reach.grounds = [{"basis": reach.basis, "law": reach.law, "law_name": reach.law, "citation": reach.citation,
                          "path": reach.path, "unverified": False}]
    tags = {"env": ("prod", "dev", "test")[index % 3]}
    if index % 3 != 2:
        tags["data-class"] = "personal" if index % 2 == 0 else "internal"
    findings = []
    if index % 7 == 6:
        status = "not_evaluated"
    elif not owner:
        status = "fail"
    else:
        status = "fail" if any(code not in EU and code not in ("EU", "CH") for code in reaches) else "pass"
    if status == "fail":
        for code in sorted(reaches):
            if code in EU or code in ("EU", "CH"):
                continue
            policy = "eu-personal-data" if tags.get("data-class") == "personal" else "default-home-only"
            waiver = None
            if index % 10 == 0:
                waiver = {"reason": "Migration planned, ticket SEC-1", "approver": "dpo@example.com",
                          "expires": "2027-06-30"}
            severity = "critical" if policy == "eu-personal-data" else "high"
            findings.append(Finding(f"fp-{index:06d}-{code}", policy, code, reaches[code].basis, severity,
                                    f"{code} can compel access: {' → '.join(reaches[code].path)}", waiver))
    reach_list = strongest_first(list(reaches.values()))  # the reach contract's order
    return DataStore(
        id=store_id, provider=provider, account=account, kind=kind, name=name, region=primary[1], tags=tags,
        locations=locations, operator=operator, owner=owner, reachable_by=reach_list, status=status,
        status_reason=None if status != "not_evaluated" else "region unknown to the catalog",
        findings=findings,
    )


def make_stores(count: int, seed: int = 7) -> Iterator[DataStore]:
    rng = random.Random(seed)
    for index in range(count):
        yield make_store(index, rng)


@dataclass
class Estate:
    first_scan: str
    second_scan: str
    stores: list[DataStore]  # as the second scan saw them
    gone: list[str]  # ids seen by the first scan only


def _targets(stores: list[DataStore]) -> list[TargetResult]:
    seen = sorted({(s.provider, s.account, s.region, s.kind) for s in stores})
    targets = [TargetResult(p, a, r, k, "ok", stores=sum(1 for s in stores if (s.provider, s.account, s.region,
                                                                                   s.kind) == (p, a, r, k)))
               for p, a, r, k in seen]
    return targets


def write_estate(state: StateStore, count: int, seed: int = 7) -> Estate:
    """Two scans: the first sees all `count` stores, the second every store but each 25th."""
    stores = list(make_stores(count, seed))
    first = ScanResult("scan-synthetic-1", "2026-03-01T00:00:00+00:00", "2026-03-01T00:10:00+00:00", "complete",
                       ["EU"], _targets(stores), [], _counts(stores))
    state.start_scan(first)
    state.finish_scan(first, stores)
    kept = [s for i, s in enumerate(stores) if i % 25 != 24]
    for i, store in enumerate(kept):  # some findings resolve: a third of the failing stores drop their GB finding
        if i % 3 == 0:
            store.findings = [f for f in store.findings if f.jurisdiction != "GB"]
    targets = _targets(stores)
    targets.append(TargetResult("aws", "222222222222", "ap-northeast-1", "rds-instance", "denied",
                                "AccessDenied: rds:DescribeDBInstances"))
    second = ScanResult("scan-synthetic-2", "2026-03-02T00:00:00+00:00", "2026-03-02T00:10:00+00:00", "complete",
                        ["EU"], targets, ["aws account 222222222222: no owner declared"], _counts(kept))
    state.start_scan(second)
    state.finish_scan(second, kept)
    return Estate(first.id, second.id, kept, sorted(s.id for i, s in enumerate(stores) if i % 25 == 24))


def _counts(stores: list[DataStore]) -> dict[str, int]:
    counts = {"stores": len(stores), "pass": 0, "fail": 0, "not_applicable": 0, "not_evaluated": 0}
    for store in stores:
        counts[store.status] += 1
    return counts
