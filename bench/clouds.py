"""Azure storage accounts and GCS buckets at size, and the copy-bearing kinds of issue 14 (Azure backup vaults and
flexible servers; Google Spanner, Cloud SQL, Bigtable, Firestore, AlloyDB, Filestore and Memorystore): Custody against
a one-GET-per-store baseline.

    .venv/bin/python -m bench.clouds                          # 1,000 and 10,000 stores per cloud
    .venv/bin/python -m bench.clouds --sizes 1000 --json /tmp/clouds.json
    .venv/bin/python -m bench.clouds --sizes 1000 --clouds azure-copies,gcp-databases,gcp-located
    .venv/bin/python -m bench.clouds --sizes 100,500 --clouds aws-copies,azure-databases

`aws-copies` (bench/clouds_aws.py): FSx file systems, ElastiCache replication groups, OpenSearch domains, Glacier
vaults, DynamoDB tables and Backup vaults on a moto server with the estate's patches, some with copies in a second
region. `azure-databases` (bench/clouds_azure.py): SQL managed instances, Azure Cache for Redis and Azure Managed
Redis, some geo-replicated. Each module's docstring says what Custody and its baseline read. Where a copy is a store
of its own (a global datastore's secondary, a follower domain, a copy vault), requests per store count every store
seeded; both tools must find the same set of stores (`same_stores_as_custody`, by name).

`azure-copies`: N resources in 10 subscriptions, a third each Recovery Services vaults, Backup vaults and
PostgreSQL flexible servers (a tenth of the vaults geo-redundant: a copy in the pair; a tenth of the servers read
replicas of the one before, in the next region). Custody lists each type once per subscription; the baseline lists
too, then GETs every resource. `gcp-databases`: N resources in 10 projects, a quarter each Spanner instances (over
regional configurations and eur3/nam-eur-asia1), Cloud SQL instances (a tenth replicas), Bigtable instances with two
clusters and Firestore databases. Custody lists each API once per project (plus one instanceConfigs.get per
configuration in use and one clusters.list per project); the baseline lists, then GETs every resource (and each
Spanner instance's configuration, each Bigtable instance's clusters). `gcp-located`: N resources in 10 projects, a
third each AlloyDB clusters (a tenth with automated backups in the next region), Filestore instances in a zone (a
tenth with a backup in the next region) and Memorystore for Redis instances (a replica zone); Custody lists each
collection once per project over every location (`locations/-`: clusters and backups, instances and backups,
instances and clusters); the baseline lists the same, then GETs every resource.

The estates live on the project's own ARM and Cloud Storage servers (demo/arm_server.py,
demo/gcs_server.py) on 127.0.0.1, which page as the real APIs do (1,000 items a page here): N
storage accounts in 10 subscriptions over 20 regions (a tenth geo-redundant with a secondary
region, half tagged `data-class: personal`), and N buckets in 10 projects over 20 locations (half
labelled). Both are read in bulk by Custody: a list call returns each store's location, replica
location and tags, so no call per store is needed (the issue's Resource Graph and Cloud Asset
Inventory would add nothing for these facts; they matter for services whose list calls lack tags).

Each run is a process of its own (`--child`), so its peak memory (ru_maxrss) is its own:

- `custody`: `runtime.cli.prepare` + `scan_once` through the real config path (judging included,
  no state store), for one cloud at a time;
- `baseline`: the same SDK clients listing the stores, then one GET per store (storage account
  properties, bucket metadata) at 8 at once: what a per-resource scanner does.

Reported: wall seconds (imports excluded), HTTP requests per store counted at the server, peak RSS,
stores per second, how many stores came back with the seeded region, replica and tags, and the
wall-time ratio baseline/custody measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from demo.arm_server import ArmServer
from demo.gcp_databases_server import FakeDatabasesServer
from demo.gcs_server import FakeGcsServer
from providers.gcp_copies import ENDPOINTS as DATABASE_ENDPOINTS

REGIONS = {  # Azure region -> its pair (the secondary of a geo-redundant account); GCS location beside it
    "westeurope": "northeurope", "northeurope": "westeurope", "germanywestcentral": "germanynorth",
    "francecentral": "francesouth", "uksouth": "ukwest", "swedencentral": "swedensouth",
    "switzerlandnorth": "switzerlandwest", "norwayeast": "norwaywest", "eastus": "westus",
    "westus2": "westcentralus", "centralus": "eastus2", "canadacentral": "canadaeast",
    "brazilsouth": "southcentralus", "japaneast": "japanwest", "koreacentral": "koreasouth",
    "australiaeast": "australiasoutheast", "southeastasia": "eastasia", "centralindia": "southindia",
    "southafricanorth": "southafricawest", "uaenorth": "uaecentral",
}
GCS_LOCATIONS = ["EUROPE-WEST1", "EUROPE-WEST3", "EUROPE-WEST4", "EUROPE-NORTH1", "EUROPE-WEST9", "US-EAST1",
                 "US-CENTRAL1", "US-WEST1", "NORTHAMERICA-NORTHEAST1", "SOUTHAMERICA-EAST1", "ASIA-EAST1",
                 "ASIA-NORTHEAST1", "ASIA-SOUTHEAST1", "ASIA-SOUTH1", "AUSTRALIA-SOUTHEAST1", "ME-WEST1",
                 "AFRICA-SOUTH1", "EU", "US", "EUR4"]
SUBSCRIPTIONS = [f"5ab00000-0000-4000-8000-{index:012d}" for index in range(10)]
PROJECTS = [f"bench-project-{index}" for index in range(10)]
PERSONAL = {"data-class": "personal"}
PAGE_SIZE = 1000


# ---- seeding (in this process: the servers run here, the scanners in children) -----------------------

def seed_azure(server: ArmServer, n: int) -> dict[str, dict[str, Any]]:
    for sub in SUBSCRIPTIONS:
        server.add_subscription(sub, f"bench-{sub[-2:]}")
    manifest = {}
    regions = list(REGIONS)
    for index in range(n):
        region = regions[index % len(regions)]
        geo = index % 10 == 0
        tags = PERSONAL if index % 2 else {}
        name = f"bench{index:07d}"
        server.add_storage_account(SUBSCRIPTIONS[index % len(SUBSCRIPTIONS)], "bench", name, region,
                                   "Standard_GRS" if geo else "Standard_LRS",
                                   secondary_location=REGIONS[region] if geo else None, tags=dict(tags))
        manifest[name] = {"region": region, "replica_regions": [REGIONS[region]] if geo else [], "tags": tags}
    return manifest


def seed_gcs(server: FakeGcsServer, n: int) -> dict[str, dict[str, Any]]:
    for project in PROJECTS:
        server.add_project(project)
    manifest = {}
    for index in range(n):
        location = GCS_LOCATIONS[index % len(GCS_LOCATIONS)]
        labels = PERSONAL if index % 2 else {}
        name = f"bench-{index:07d}"
        server.add_bucket(PROJECTS[index % len(PROJECTS)], name, location, labels=dict(labels))
        manifest[name] = {"region": location.lower(), "tags": labels}
    return manifest


def seed_azure_copies(server: ArmServer, n: int) -> dict[str, dict[str, Any]]:
    for sub in SUBSCRIPTIONS:
        server.add_subscription(sub, f"bench-{sub[-2:]}")
    manifest: dict[str, dict[str, Any]] = {}
    regions = list(REGIONS)
    last_server: dict[str, Any] | None = None
    for index in range(n):
        sub, region, name = SUBSCRIPTIONS[index % len(SUBSCRIPTIONS)], regions[index % len(regions)], f"b{index:07d}"
        geo = index % 10 == 0
        replicas = [REGIONS[region]] if geo else []
        if index % 3 == 0:
            server.add_recovery_vault(sub, "bench", name, region, "GeoRedundant" if geo else "LocallyRedundant")
        elif index % 3 == 1:
            server.add_backup_vault(sub, "bench", name, region, "GeoRedundant" if geo else "LocallyRedundant")
        else:
            source = last_server if index % 10 == 2 and last_server and last_server["id"].split("/")[2] == sub \
                else None
            doc = server.add_flexible_server(sub, "bench", "PostgreSQL", name, region,
                                             source_id=source["id"] if source else None)
            replicas = []
            if source:  # the replica reports its source's region; the source reports the replica's
                replicas = [source["location"]]
                manifest[source["name"]]["replica_regions"].append(region)
            last_server = doc
        manifest[name] = {"region": region, "replica_regions": replicas, "tags": {}}
    return manifest


SPANNER_BENCH_CONFIGS = ["regional-europe-west3", "regional-us-east1", "eur3", "nam-eur-asia1"]


def seed_gcp_databases(server: FakeDatabasesServer, n: int) -> dict[str, dict[str, Any]]:
    from demo.gcp_databases_server import SPANNER_CONFIGS

    manifest: dict[str, dict[str, Any]] = {}
    locations = [loc.lower() for loc in GCS_LOCATIONS if "-" in loc]
    for index in range(n):
        project, region, name = PROJECTS[index % len(PROJECTS)], locations[index % len(locations)], f"d{index:07d}"
        kind = index % 4
        if kind == 0:
            config = SPANNER_BENCH_CONFIGS[index % len(SPANNER_BENCH_CONFIGS)]
            server.add_spanner_instance(project, name, config)
            members = SPANNER_CONFIGS.get(config, [(config.removeprefix("regional-"), "READ_WRITE")])
            manifest[name] = {"region": members[0][0], "tags": {},
                              "replica_regions": [loc for loc, role in members if role != "READ_WRITE"]}
        elif kind == 1:
            server.add_sql_instance(project, name, region, backup_location=region)
            manifest[name] = {"region": region, "replica_regions": [], "tags": {}}
        elif kind == 2:
            server.add_bigtable_instance(project, name, [f"{region}-a", f"{region}-b"])
            manifest[name] = {"region": region, "replica_regions": [], "tags": {}}
        else:
            server.add_firestore_database(project, name, region)
            manifest[name] = {"region": region, "replica_regions": [], "tags": {}}
    return manifest


def seed_gcp_located(server: FakeDatabasesServer, n: int) -> dict[str, dict[str, Any]]:
    """AlloyDB clusters, Filestore instances and Memorystore instances; a tenth of the first two with a backup in the
    next region."""
    manifest: dict[str, dict[str, Any]] = {}
    locations = [loc.lower() for loc in GCS_LOCATIONS if "-" in loc]
    for index in range(n):
        project, name = PROJECTS[index % len(PROJECTS)], f"l{index:07d}"
        region, other = locations[index % len(locations)], locations[(index + 1) % len(locations)]
        abroad = [other] if (index // 3) % 10 == 0 else []  # a tenth of each kind (Redis: no backups)
        if index % 3 == 0:
            server.add_alloydb_cluster(project, region, name, backup_location=other if abroad else None)
        elif index % 3 == 1:
            instance = server.add_filestore_instance(project, f"{region}-a", name)
            if abroad:
                server.add_filestore_backup(project, other, f"{name}-b", instance["name"])
        else:
            server.add_redis_instance(project, f"{region}-a", name, alternative_zone=f"{region}-b")
            abroad = []
        manifest[name] = {"region": region, "replica_regions": abroad, "tags": {}}
    return manifest


# ---- the children --------------------------------------------------------------------------------------

def child_custody(config: str, manifest_path: str) -> dict[str, Any]:
    from runtime.cli import prepare, scan_once

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    setup = prepare(config, [])
    scan, stores = scan_once(setup, None)
    manifest = json.loads(Path(manifest_path).read_text())
    right = found = 0
    names = []
    for store in stores:
        found += 1
        names.append(store.name)
        expected = manifest.get(store.name)
        if expected is None:
            continue
        replicas = sorted(loc.region for loc in store.locations if loc.role != "primary")
        if "replica_regions" not in expected:  # GCS: a multi- or dual-region bucket spans several regions
            replicas = []
        if (store.region == expected["region"] and replicas == sorted(expected.get("replica_regions", []))
                and store.tags == expected["tags"]):
            right += 1
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "status": scan.status, "stores": found, "right": right, "names": digest(names),
            "rss_before_kb": before, "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def child_baseline(cloud: str, endpoint: str, token: str, manifest_path: str) -> dict[str, Any]:
    from bench import clouds_aws, clouds_azure  # they import this module's estate constants

    manifest = json.loads(Path(manifest_path).read_text())
    started = time.perf_counter()
    per_store = {"azure": lambda: _azure_per_store(endpoint, token), "gcp": lambda: _gcs_per_store(endpoint),
                 "azure-copies": lambda: _azure_copies_per_store(endpoint, token),
                 "gcp-databases": lambda: _gcp_databases_per_store(endpoint),
                 "gcp-located": lambda: _gcp_located_per_store(endpoint),
                 "aws-copies": lambda: clouds_aws.per_store(endpoint),
                 "azure-databases": lambda: clouds_azure.per_store(endpoint, token)}
    found = per_store[cloud]()
    seconds = time.perf_counter() - started
    right = sum(1 for name, (region, tags) in found.items()
                if name in manifest and region == manifest[name]["region"] and tags == manifest[name]["tags"])
    return {"seconds": seconds, "status": "complete", "stores": len(found), "right": right, "names": digest(found),
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def digest(names: Iterable[str]) -> str:
    """A short fingerprint of the set of store names a tool found (the same set: the same fingerprint)."""
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16]


def _azure_per_store(endpoint: str, token: str) -> dict[str, tuple[str, dict[str, str]]]:
    from azure.mgmt.storage import StorageManagementClient

    from providers.azure import PlainHttpBearerPolicy, StaticTokenCredential

    credential = StaticTokenCredential(token)
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for sub in SUBSCRIPTIONS:
        client = StorageManagementClient(credential, sub, base_url=endpoint,
                                         authentication_policy=PlainHttpBearerPolicy(credential, "x/.default"))
        names = [(account.id.split("/")[4], account.name) for account in client.storage_accounts.list()]
        with ThreadPoolExecutor(8) as pool:
            for account in pool.map(lambda item, c=client: c.storage_accounts.get_properties(*item), names):
                found[account.name] = (account.location, dict(account.tags or {}))
    return found


def _gcs_per_store(endpoint: str) -> dict[str, tuple[str, dict[str, str]]]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    found: dict[str, tuple[str, dict[str, str]]] = {}
    for project in PROJECTS:
        client = storage.Client(project=project, credentials=AnonymousCredentials(),
                                client_options={"api_endpoint": endpoint})
        names = [bucket.name for bucket in client.list_buckets()]
        with ThreadPoolExecutor(8) as pool:
            for bucket in pool.map(client.get_bucket, names):
                found[bucket.name] = (bucket.location.lower(), dict(bucket.labels or {}))
    return found


def _get_json(url: str, token: str = "") -> dict[str, Any]:
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _azure_copies_per_store(endpoint: str, token: str) -> dict[str, tuple[str, dict[str, str]]]:
    """List each type per subscription (following nextLink), then GET every resource, 8 at once."""
    types = {"Microsoft.RecoveryServices/vaults": "2024-04-01", "Microsoft.DataProtection/backupVaults": "2024-04-01",
             "Microsoft.DBforPostgreSQL/flexibleServers": "2024-08-01"}
    ids: list[tuple[str, str]] = []
    for sub in SUBSCRIPTIONS:
        for resource_type, version in types.items():
            url: str | None = f"{endpoint}/subscriptions/{sub}/providers/{resource_type}?api-version={version}"
            while url:
                body = _get_json(url, token)
                ids.extend((item["id"], version) for item in body["value"])
                url = body.get("nextLink")
    with ThreadPoolExecutor(8) as pool:
        docs = pool.map(lambda item: _get_json(f"{endpoint}{item[0]}?api-version={item[1]}", token), ids)
        return {doc["name"]: (doc["location"].lower().replace(" ", ""), dict(doc.get("tags") or {})) for doc in docs}


def _gcp_databases_per_store(endpoint: str) -> dict[str, tuple[str, dict[str, str]]]:
    """List each API per project, then GET every resource (a Spanner instance's configuration, a Bigtable
    instance's clusters), 8 at once."""
    found: dict[str, tuple[str, dict[str, str]]] = {}

    def pages(path: str, key: str) -> list[dict[str, Any]]:
        items, token = [], ""
        while True:
            body = _get_json(f"{endpoint}{path}" + (f"?pageToken={token}" if token else ""))
            items += body.get(key) or []
            token = body.get("nextPageToken") or ""
            if not token:
                return items

    def spanner(item: dict[str, Any]) -> tuple[str, str]:
        doc = _get_json(f"{endpoint}/v1/{item['name']}")
        config = _get_json(f"{endpoint}/v1/{doc['config']}")
        return doc["name"].rsplit("/", 1)[-1], config["replicas"][0]["location"]

    def sql(project: str, item: dict[str, Any]) -> tuple[str, str]:
        doc = _get_json(f"{endpoint}/sql/v1beta4/projects/{project}/instances/{item['name']}")
        return doc["name"], doc["region"]

    def bigtable(item: dict[str, Any]) -> tuple[str, str]:
        _get_json(f"{endpoint}/v2/{item['name']}")
        clusters = _get_json(f"{endpoint}/v2/{item['name']}/clusters")["clusters"]
        return item["name"].rsplit("/", 1)[-1], clusters[0]["location"].rsplit("/", 1)[-1][:-2]

    def firestore(item: dict[str, Any]) -> tuple[str, str]:
        doc = _get_json(f"{endpoint}/v1/{item['name']}")
        return doc["name"].rsplit("/", 1)[-1], doc["locationId"]

    with ThreadPoolExecutor(8) as pool:
        for project in PROJECTS:
            sql_items = pages(f"/sql/v1beta4/projects/{project}/instances", "items")
            jobs = [*(pool.submit(spanner, i) for i in pages(f"/v1/projects/{project}/instances", "instances")),
                    *(pool.submit(sql, project, i) for i in sql_items),
                    *(pool.submit(bigtable, i) for i in pages(f"/v2/projects/{project}/instances", "instances")),
                    *(pool.submit(firestore, i) for i in pages(f"/v1/projects/{project}/databases", "databases"))]
            for job in jobs:
                name, region = job.result()
                found[name] = (region, {})
    return found


def _gcp_located_per_store(endpoint: str) -> dict[str, tuple[str, dict[str, str]]]:
    """List each collection per project over every location (and the backups), then GET every resource, 8 at once."""
    from demo.gcp_databases_server import PREFIXES
    from providers.gcp import region_of

    def pages(url: str, key: str) -> list[dict[str, Any]]:
        items, token = [], ""
        while True:
            body = _get_json(url + (f"?pageToken={token}" if token else ""))
            items += body.get(key) or []
            token = body.get("nextPageToken") or ""
            if not token:
                return items

    collections = [("alloydb", "clusters"), ("alloydb", "backups"), ("filestore", "instances"),
                   ("filestore", "backups"), ("redis", "instances")]
    names = [(PREFIXES[service], item["name"]) for project in PROJECTS for service, collection in collections
             for item in pages(f"{endpoint}{PREFIXES[service]}/v1/projects/{project}/locations/-/{collection}",
                               collection) if collection != "backups"]
    with ThreadPoolExecutor(8) as pool:
        docs = pool.map(lambda item: _get_json(f"{endpoint}{item[0]}/v1/{item[1]}"), names)
        return {doc["name"].rsplit("/", 1)[-1]: (region_of(doc["name"].split("/")[3]), dict(doc.get("labels") or {}))
                for doc in docs}


# ---- the parent ----------------------------------------------------------------------------------------

def run_child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    import os

    result = subprocess.run([sys.executable, "-m", "bench.clouds", "--child", *args], capture_output=True,
                            text=True, check=False, env={**os.environ, **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"child {args[0]} failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure(cloud: str, n: int, tmp: Path) -> list[dict[str, Any]]:
    from bench import clouds_aws, clouds_azure  # they import this module's estate constants

    rows = []
    for tool in ("custody", "baseline"):
        if cloud == "azure":
            server: Any = ArmServer(page_size=PAGE_SIZE).start()
            manifest = seed_azure(server, n)
            section = {"cloud": "AzureCloud", "arm_endpoint": server.url, "subscriptions": SUBSCRIPTIONS,
                       "services": ["storage"], "timeout": 30}
            env = {"AZURE_ACCESS_TOKEN": server.token}
            count = lambda s=server: len(s.requests)  # noqa: E731
        elif cloud == "azure-copies":
            server = ArmServer(page_size=PAGE_SIZE).start()
            manifest = seed_azure_copies(server, n)
            section = {"cloud": "AzureCloud", "arm_endpoint": server.url, "subscriptions": SUBSCRIPTIONS,
                       "services": ["backup", "postgresql"], "timeout": 30}
            env = {"AZURE_ACCESS_TOKEN": server.token}
            count = lambda s=server: len(s.requests)  # noqa: E731
        elif cloud == "azure-databases":
            server = ArmServer(page_size=PAGE_SIZE).start()
            manifest = clouds_azure.seed(server, n)
            section = {"cloud": "AzureCloud", "arm_endpoint": server.url, "subscriptions": SUBSCRIPTIONS,
                       "services": clouds_azure.SERVICES, "timeout": 30}
            env = {"AZURE_ACCESS_TOKEN": server.token}
            count = lambda s=server: len(s.requests)  # noqa: E731
        elif cloud == "aws-copies":
            server = clouds_aws.start()
            manifest = clouds_aws.seed(server, n)
            section = clouds_aws.section()
            env = clouds_aws.env(server, tmp)
            count = lambda s=server: clouds_aws.count(s)  # noqa: E731
        elif cloud == "gcp-databases":
            server = FakeDatabasesServer(page_size=PAGE_SIZE).start()
            manifest = seed_gcp_databases(server, n)
            section = {"projects": PROJECTS, "emulator": True, "timeout": 30, "retry_seconds": 0,
                       "services": ["spanner", "firestore", "cloudsql", "bigtable"],  # the kinds seeded
                       **{key: server.endpoint(service) for service, (key, _) in DATABASE_ENDPOINTS.items()}}
            env = {}
            count = lambda s=server: len(s.requests)  # noqa: E731
        elif cloud == "gcp-located":
            server = FakeDatabasesServer(page_size=PAGE_SIZE).start()
            manifest = seed_gcp_located(server, n)
            section = {"projects": PROJECTS, "emulator": True, "timeout": 30, "retry_seconds": 0,
                       "services": ["alloydb", "filestore", "redis"],
                       **{key: server.endpoint(service) for service, (key, _) in DATABASE_ENDPOINTS.items()}}
            env = {}
            count = lambda s=server: len(s.requests)  # noqa: E731
        else:
            server = FakeGcsServer(page_size=PAGE_SIZE).start()
            manifest = seed_gcs(server, n)
            section = {"projects": PROJECTS, "storage_endpoint": server.url, "emulator": True, "services": ["storage"],
                       "timeout": 30, "retry_seconds": 0}
            env = {}
            count = lambda s=server: len(s.requests)  # noqa: E731
        manifest_path = tmp / f"{cloud}-{n}.json"
        manifest_path.write_text(json.dumps(manifest))
        before = count()
        try:
            if tool == "custody":
                config = tmp / f"{cloud}-{n}.yaml"
                provider = cloud.split("-")[0]  # azure-copies -> azure, gcp-databases -> gcp, aws-copies -> aws
                config.write_text(yaml.safe_dump({"home": ["EU"], "providers": {provider: section}}))
                result = run_child(["custody", str(config), str(manifest_path)], env)
            else:
                token = getattr(server, "token", "")
                result = run_child(["baseline", cloud, server.url, token, str(manifest_path)], env)
            calls = count() - before
        finally:
            server.stop()
        seeded = len(manifest)  # N, or a few more where a copy is a store of its own (aws-copies)
        rows.append({"cloud": cloud, "stores": n, "seeded": seeded, "tool": tool, **result, "requests": calls,
                     "requests_per_store": round(calls / seeded, 4),
                     "stores_per_second": round(seeded / result["seconds"], 1),
                     "peak_mb": round(result["peak_rss_kb"] / 1024, 1)})
    rows[1]["ratio_vs_custody"] = round(rows[1]["seconds"] / rows[0]["seconds"], 2)
    rows[1]["same_stores_as_custody"] = rows[0]["names"] == rows[1]["names"]
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        print(json.dumps(child_custody(*rest) if kind == "custody" else child_baseline(*rest)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--clouds", default="azure,gcp")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="custody-clouds-") as tmp:
        for n in (int(size) for size in args.sizes.split(",")):
            for cloud in args.clouds.split(","):
                rows += measure(cloud, n, Path(tmp))
    print(f"{'cloud':<13} {'stores':>7} {'tool':<9} {'seconds':>8} {'req/store':>9} {'peak MB':>8} {'stores/s':>9} "
          f"{'right':>7}  baseline/custody")
    for row in rows:
        print(f"{row['cloud']:<13} {row['stores']:>7} {row['tool']:<9} {row['seconds']:>8.2f} "
              f"{row['requests_per_store']:>9.4f} {row['peak_mb']:>8.1f} {row['stores_per_second']:>9.1f} "
              f"{row['right']:>7}  {row.get('ratio_vs_custody', '')}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
