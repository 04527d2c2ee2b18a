"""Organization-wide bulk reads against the per-subscription / per-project path, in the same run (issue 18 item 2):
Azure Resource Graph over a simulated 200-subscription tenant, Cloud Asset Inventory's ListAssets over a simulated
200-project organization.

    .venv/bin/python -m bench.org_azure_gcp                         # 200 subscriptions, 200 projects
    .venv/bin/python -m bench.org_azure_gcp --units 50 --json /tmp/org.json

Estates, on the project's own servers on 127.0.0.1 (demo/arm_server.py with its Resource Graph endpoint,
demo/gcs_server.py with ListAssets, demo/gcp_databases_server.py), paging 1,000 items as the real APIs do:

- Azure: N subscriptions, each with a storage account (StorageV2, every tenth geo-redundant), a Cosmos DB account
  in two regions, a SQL server with one database, a managed disk, a Recovery Services vault and a PostgreSQL
  flexible server, spread over 20 regions: 6 stores a subscription.
- Google Cloud: an organization with 4 folders and N projects, each with 2 buckets, a BigQuery dataset, a Spanner
  instance (regional configuration), a Cloud SQL instance, a Firestore database and a Bigtable instance with two
  clusters, spread over 16 regions: 7 stores a project.

Each cloud is inventoried twice in this process with the provider's own code (`discover`): once with the bulk source
(`resource_graph: true`; `asset_inventory: true`), once without (one listing per subscription or project and
service), in alternating order over `--rounds`. Reported: requests counted by the servers, wall seconds (median),
stores, and whether both paths gave the same stores (id, kind, account, region, tags, every copy and its role,
unknowns, key custody).

What stays per resource on the bulk path, on both: object replication policies per StorageV2 account and a SQL
server's databases, replication links and TDE protector (Resource Graph holds neither), Spanner's instanceConfigs.get
once per configuration (named per project). Loopback latency is ~1 ms a request; against the clouds' real latency
(tens of ms) and throttling the saved requests matter more than the wall times here suggest.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demo.arm_server import ArmServer
from demo.gcp_databases_server import FakeDatabasesServer
from demo.gcs_server import FakeBigQueryServer, FakeGcsServer, FakeKmsServer, FakeResourceServer
from policies.catalog_loader import load_catalog
from providers.azure import AzureProvider, AzureSettings
from providers.base import TargetLog
from providers.gcp import GcpProvider, GcpSettings
from providers.gcp_copies import ENDPOINTS as DATABASE_ENDPOINTS
from scanner.discovered import DiscoveredStore

RESULTS = Path(__file__).resolve().parent / "results" / "org-azure-gcp-latest.json"
PAGE = 1000
AZURE_REGIONS = ["westeurope", "northeurope", "germanywestcentral", "francecentral", "uksouth", "swedencentral",
                 "switzerlandnorth", "norwayeast", "eastus", "westus2", "centralus", "canadacentral", "brazilsouth",
                 "japaneast", "koreacentral", "australiaeast", "southeastasia", "centralindia", "southafricanorth",
                 "uaenorth"]
GCP_REGIONS = ["europe-west1", "europe-west3", "europe-west4", "europe-north1", "us-east1", "us-central1", "us-west1",
               "northamerica-northeast1", "southamerica-east1", "asia-east1", "asia-northeast1", "asia-southeast1",
               "asia-south1", "australia-southeast1", "me-west1", "africa-south1"]
ORGANIZATION = "organizations/424242424242"


def subscription(index: int) -> str:
    return f"0b0a0000-0000-4000-8000-{index:012d}"


def project(index: int) -> str:
    return f"org-bench-{index:04d}"


# ---- seeding -------------------------------------------------------------------------------------------------
def seed_azure(server: ArmServer, units: int) -> None:
    for index in range(units):
        sub, region = subscription(index), AZURE_REGIONS[index % len(AZURE_REGIONS)]
        other = AZURE_REGIONS[(index + 7) % len(AZURE_REGIONS)]
        server.add_subscription(sub, f"bench-{index:04d}")
        geo = index % 10 == 0
        server.add_storage_account(sub, "data", f"st{index:06d}", region, "Standard_GRS" if geo else "Standard_LRS",
                                   secondary_location=other if geo else None, tags={"data-class": "personal"})
        server.add_cosmos_account(sub, "data", f"cosmos{index:06d}", [(region, 0), (other, 1)])
        server.add_sql_server(sub, "data", f"sql{index:06d}", region)
        server.add_sql_database(sub, "data", f"sql{index:06d}", "orders", region)
        server.add_disk(sub, "vm", f"disk{index:06d}", other)
        server.add_recovery_vault(sub, "backup", f"rsv{index:06d}", region, "LocallyRedundant")
        server.add_flexible_server(sub, "data", "PostgreSQL", f"pg{index:06d}", other)


def seed_gcp(gcs: FakeGcsServer, bigquery: FakeBigQueryServer, resources: FakeResourceServer,
             databases: FakeDatabasesServer, units: int) -> None:
    resources.add_organization(ORGANIZATION.removeprefix("organizations/"))
    folders = [resources.add_folder(5000 + n, ORGANIZATION, f"folder-{n}") for n in range(4)]
    for source in (gcs.inventory, bigquery.inventory, databases.inventory):
        resources.add_inventory(source)
    for index in range(units):
        name, region = project(index), GCP_REGIONS[index % len(GCP_REGIONS)]
        number = 700000000000 + index
        resources.add_project(name, number, folders[index % len(folders)] if index % 5 else ORGANIZATION)
        gcs.add_project(name, number)
        gcs.add_bucket(name, f"{name}-data", region.upper(), labels={"data-class": "personal"})
        gcs.add_bucket(name, f"{name}-archive", "EU" if index % 2 else "US")
        bigquery.add_dataset(name, "analytics", region)
        databases.add_spanner_instance(name, "ledger", f"regional-{region}")
        databases.add_sql_instance(name, "orders", region, backup_location=region)
        databases.add_firestore_database(name, "(default)", region)
        databases.add_bigtable_instance(name, "events", [f"{region}-a", f"{region}-b"])


# ---- running -------------------------------------------------------------------------------------------------
def fingerprint(stores: list[DiscoveredStore]) -> dict[str, tuple[Any, ...]]:
    def keys(store: DiscoveredStore) -> tuple[Any, ...] | None:
        facts = store.encryption
        return None if facts is None else (facts.custody, facts.key, facts.key_region, facts.reason)

    return {store.id: (store.kind, store.account, store.region, tuple(sorted(store.tags.items())),
                       tuple((loc.region, loc.role) for loc in store.locations), tuple(sorted(store.unknowns)),
                       keys(store)) for store in stores}


_NAMES = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|org-bench-\d{4}|\d{6,}|"
                    r"(?<=/)[a-z]+\d{6}(?=/|$)|(?<=resourceGroups/)[^/]+", re.IGNORECASE)


def operation(request: str) -> str:
    """A request as its operation: method and path with the ids, names and query left out."""
    return _NAMES.sub("*", request.split("?", 1)[0])


class Recorded:
    """The requests the servers recorded since the last `reset` (each server keeps its own log)."""

    def __init__(self, logs: Callable[[], list[tuple[str, list[Any]]]], show: Callable[[str, Any], str]):
        self._logs = logs
        self._show = show

    def reset(self) -> None:
        for _, log in self._logs():
            log.clear()

    def requests(self) -> list[str]:
        return [self._show(server, request) for server, log in self._logs() for request in list(log)]


def measure(discover: Callable[[TargetLog], list[DiscoveredStore]], recorded: Recorded
            ) -> tuple[float, list[str], list[DiscoveredStore], TargetLog]:
    log = TargetLog()
    recorded.reset()
    start = time.perf_counter()
    stores = list(discover(log))
    return time.perf_counter() - start, recorded.requests(), stores, log


def compare(name: str, runs: dict[str, Callable[[TargetLog], list[DiscoveredStore]]], recorded: Recorded,
            rounds: int) -> dict[str, Any]:
    """Both paths, alternating, `rounds` times each; the first round's stores and requests are compared."""
    seconds: dict[str, list[float]] = {path: [] for path in runs}
    requests: dict[str, int] = {}
    calls: dict[str, dict[str, int]] = {}
    found: dict[str, list[DiscoveredStore]] = {}
    problems: dict[str, list[str]] = {}
    for round_index in range(rounds):
        order = list(runs) if round_index % 2 == 0 else list(reversed(runs))
        for path in order:
            wall, sent, stores, log = measure(runs[path], recorded)
            seconds[path].append(wall)
            requests.setdefault(path, len(sent))
            calls.setdefault(path, dict(Counter(operation(request) for request in sent).most_common()))
            found.setdefault(path, stores)
            problems.setdefault(path, [f"{r.account} {r.service}: {r.status} {r.error}" for r in log.results
                                       if r.status != "ok"])
    bulk, per_unit = (fingerprint(found[path]) for path in runs)
    median = {path: statistics.median(values) for path, values in seconds.items()}
    paths = list(runs)
    return {
        "cloud": name,
        **{path: {"requests": requests[path], "wall_seconds_median": round(median[path], 3),
                  "wall_seconds": [round(s, 3) for s in seconds[path]], "stores": len(found[path]),
                  "failed_targets": problems[path], "calls": calls[path]} for path in paths},
        "same_stores": bulk == per_unit,
        "differences": sorted(set(bulk) ^ set(per_unit))[:5] + [k for k in bulk if k in per_unit
                                                               and bulk[k] != per_unit[k]][:5],
        "requests_ratio": round(requests[paths[1]] / max(requests[paths[0]], 1), 2),
        "wall_ratio": round(median[paths[1]] / max(median[paths[0]], 1e-9), 2),
    }


def azure(units: int, rounds: int) -> dict[str, Any]:
    server = ArmServer(page_size=PAGE).start()
    try:
        seed_azure(server, units)
        os.environ["AZURE_ACCESS_TOKEN"] = server.token
        catalog = load_catalog()

        def provider(graph: bool) -> AzureProvider:
            settings = AzureSettings(arm_endpoint=server.url, retries=0, timeout=30, resource_graph=graph,
                                     subscriptions=tuple(subscription(i) for i in range(units)))
            made = AzureProvider(settings)
            made.use_catalog(catalog)
            return made

        return compare("azure", {"resource_graph": lambda log: list(provider(True).discover(log)),
                                 "per_subscription": lambda log: list(provider(False).discover(log))},
                       Recorded(lambda: [("arm", server.requests)], lambda _, r: f"{r[0]} {r[1]}"), rounds)
    finally:
        server.stop()


def gcp(units: int, rounds: int) -> dict[str, Any]:
    gcs, bigquery, resources = FakeGcsServer(PAGE).start(), FakeBigQueryServer(PAGE).start(), \
        FakeResourceServer(PAGE).start()
    databases, kms = FakeDatabasesServer(PAGE).start(), FakeKmsServer(PAGE).start()
    servers = (gcs, bigquery, resources, databases, kms)
    try:
        seed_gcp(gcs, bigquery, resources, databases, units)

        def provider(bulk: bool) -> GcpProvider:
            return GcpProvider(GcpSettings(
                projects=(), organization=ORGANIZATION, services=("storage", "bigquery", *DATABASE_ENDPOINTS),
                timeout=30, retry_seconds=0, storage_endpoint=gcs.url, bigquery_endpoint=bigquery.url,
                resource_manager_endpoint=resources.url, asset_endpoint=resources.url, kms_endpoint=kms.url,
                emulator=True, database_endpoints={service: databases.url for service in DATABASE_ENDPOINTS},
                asset_inventory=bulk))

        return compare("gcp", {"asset_inventory": lambda log: list(provider(True).discover(log)),
                               "per_project": lambda log: list(provider(False).discover(log))},
                       Recorded(lambda: [(server.name, server.requests) for server in servers],
                                lambda name, r: f"{r.method} {name}{r.path}"), rounds)
    finally:
        for server in servers:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=200, help="subscriptions and projects (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="inventories per path and cloud (default 3)")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    args = parser.parse_args(argv)
    results = {"units": args.units, "rounds": args.rounds, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                          time.gmtime()),
               "clouds": [azure(args.units, args.rounds), gcp(args.units, args.rounds)]}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    for cloud in results["clouds"]:
        bulk, per_unit = [key for key in cloud if isinstance(cloud[key], dict)]
        print(f"{cloud['cloud']}: {bulk} {cloud[bulk]['requests']} requests, {cloud[bulk]['wall_seconds_median']} s, "
              f"{cloud[bulk]['stores']} stores | {per_unit} {cloud[per_unit]['requests']} requests, "
              f"{cloud[per_unit]['wall_seconds_median']} s, {cloud[per_unit]['stores']} stores | same stores: "
              f"{cloud['same_stores']} | requests ×{cloud['requests_ratio']}, wall ×{cloud['wall_ratio']}")
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
