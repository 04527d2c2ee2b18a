"""One scan, three clouds (issue 3, items 4 and 6), end to end through `agent.py scan`.

AWS runs on moto, Azure on `demo.arm_server.ArmServer`, Google Cloud on the fakes of `demo.gcs_server`, all on
127.0.0.1, seeded with the demo estates, and the real SDK clients talk to them over HTTP. What is proven:

* one `agent.py scan` covers every configured provider, with a per-subscription and per-project status;
* every copy is found as a country and a city, every operator chain ends at the hyperscaler's parent, and each
  store's verdict is the one its facts and the policies imply (computed here from the facts, not read back);
* credentials missing for a cloud means that cloud is "not scanned" — never clean — and the others are scanned;
* a subscription answering 403 and a project whose API never answers are recorded, the rest is scanned, and the
  state store neither marks a store gone nor resolves a finding because of them;
* exit codes 0 (complete or partial), 1 (--fail-on-findings with failing stores) and 3 (nothing scanned).

Every scan is an `agent.py` subprocess with a clean environment: no cloud credentials, config files or metadata
servers of this machine, managed identity and the GCE metadata server pointed at loopback, and a `sitecustomize`
guard that refuses (and records) every connection or DNS lookup for anything but a loopback address. Each test
asserts that record is empty: nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from demo.arm_server import ArmServer
from demo.azure_estate import SUB_BR, SUB_EU, SUB_US, SUBSCRIPTIONS, AzureEstate, seed_estate
from demo.gcp_estate import (
    APAC_PROJECT,
    EU_PROJECT,
    GCP_OWNERS,
    ORGANIZATION,
    GcpEstate,
    gcp_accounts,
    gcp_config_section,
    seed_gcp_estate,
    seed_kms_keys,
    start_gcp_estate,
)
from demo.gcs_server import DeadEndpoint, FakeBigQueryServer, FakeGcsServer, FakeKmsServer, FakeResourceServer
from providers.azure import SERVICES as AZURE_SERVICES
from providers.azure import AzureProvider, AzureSettings
from providers.base import TargetLog
from scanner.kinds import PAIR_INFERRED, kinds_of
from state.store import StateStore
from tests.fixtures_aws import SeededMoto

ROOT = Path(__file__).parent.parent
AGENT = ROOT / "agent.py"
AWS_REGIONS = ["eu-central-1", "eu-west-1", "us-east-1", "us-west-2"]  # every seeded non-S3 AWS store is in these
GCP_PAGE_SIZE = 2  # every Google listing crosses page boundaries

# -- the policy and the facts the expectations are computed from ------------------------------------------------------

# Home: the jurisdictions that reach every store of the three hyperscalers whatever its region — the US by control
# (each operator's ultimate parent is a US company), the EU, GB, AU, CA and IN through the services the operators
# offer there. With this home the built-in policy fails exactly the stores with a copy on other soil, and the
# personal-data policy below fails every personal store (the US reaches it and is not EU or CH).
HOME = ["EU", "US", "GB", "AU", "CA", "IN"]
POLICY = {"policies": [{
    "id": "personal-data-eu", "applies_to": {"tags": {"data-class": "personal"}}, "home": ["EU"], "accept": ["CH"],
    "severity": "critical",
}]}
EU_MEMBERS = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT", "LV", "LT", "LU", "MT", "NL",
    "PL", "PT", "RO", "SK", "SI", "ES", "SE", "HU",
}
COMPANIES = [
    {"id": "acme-inc", "name": "Acme Inc.", "country": "US"},
    {"id": "acme-europe", "name": "Acme Europe GmbH", "country": "DE", "parent": "acme-inc"},
    {"id": "acme-japan", "name": "Acme Japan K.K.", "country": "JP", "parent": "acme-inc"},
    {"id": "acme-brasil", "name": "Acme Brasil Ltda.", "country": "BR", "parent": "acme-inc"},
    *GCP_OWNERS,
]
# Where each seeded region is, as the providers publish it (the catalog is the code under test, so not used here).
REGION_COUNTRY = {
    # AWS
    "us-east-1": "US", "us-west-2": "US", "eu-west-1": "IE", "eu-central-1": "DE", "ap-northeast-1": "JP",
    "ap-southeast-2": "AU", "ap-east-1": "HK", "sa-east-1": "BR", "af-south-1": "ZA", "ca-central-1": "CA",
    # Azure
    "northeurope": "IE", "westeurope": "NL", "germanywestcentral": "DE", "swedencentral": "SE",
    "switzerlandnorth": "CH", "brazilsouth": "BR", "southcentralus": "US", "eastus": "US",
    "germanynorth": "DE", "francecentral": "FR", "westus": "US",
    # Google Cloud
    "europe-west3": "DE", "us-central1": "US", "europe-west1": "BE", "europe-north1": "FI", "europe-west4": "NL",
    "asia-east2": "HK", "asia-northeast1": "JP", "asia-northeast2": "JP", "us-central2": "US", "us-east1": "US",
    "asia-east1": "TW",
}
# Google's predefined dual-regions (published members); the EU multi-region's members are not published.
GCP_DUAL_REGIONS = {"eur4": {"europe-north1", "europe-west4"}, "asia1": {"asia-northeast1", "asia-northeast2"},
                    "eur3": {"europe-west1", "europe-west4", "europe-north1"}}  # eur3: Firestore's multi-region
GCP_PROJECT_SERVICES = [k.service for k in kinds_of("gcp") if k.scope == "global"]  # read per project
AZURE_KINDS = {service: {k.kind for k in kinds_of("azure") if k.service == service} for service in AZURE_SERVICES}
OPERATOR_PARENT = {"aws": "Amazon.com, Inc.", "azure": "Microsoft Corporation", "gcp": "Alphabet Inc."}

# -- the loopback guard ---------------------------------------------------------------------------------------------

GUARD = '''"""Loaded by every agent.py subprocess of tests/test_three_clouds.py: refuse, and record in $EGRESS_LOG, any
connection or name lookup for anything but a loopback address."""
import ipaddress
import os
import socket

_LOG = os.environ.get("EGRESS_LOG")


def _loopback(host):
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _record(what):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(what + "\\n")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _record(f"connect {address!r}")
        raise OSError(101, f"refused by the test's loopback guard: {address!r}")
    return _connect(self, address)


def connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _record(f"connect_ex {address!r}")
        return 101
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _record(f"getaddrinfo {host!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"refused by the test's loopback guard: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''


@dataclass(frozen=True)
class Sandbox:
    """Where the subprocesses run: the guard, an empty HOME and PATH, and a loopback port nobody listens on."""

    root: Path
    closed_port: int

    def environment(self, egress_log: Path) -> dict[str, str]:
        closed = f"127.0.0.1:{self.closed_port}"
        home = self.root / "home"
        return {
            "PATH": str(self.root / "bin"),  # empty: no az, pwsh, azd or gcloud, whatever this host has installed
            "HOME": str(home),  # no ~/.azure, ~/.aws, ~/.config/gcloud
            "PYTHONPATH": str(self.root / "guard"),
            "EGRESS_LOG": str(egress_log),
            # AWS: the test keys, no config files, no instance metadata
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(home / "no-aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-creds"),
            "AWS_EC2_METADATA_DISABLED": "true",
            # Google: no ADC file, no gcloud config; google-auth 2.x skips the metadata server only for the exact
            # value "true", and would find it at GCE_METADATA_HOST/IP: a closed loopback port
            "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "true",
            "GCE_METADATA_HOST": closed, "GCE_METADATA_IP": closed,
            # Azure: managed identity's IMDS endpoint on a closed loopback port (azure-identity reads this host
            # instead of 169.254.169.254); AZURE_ACCESS_TOKEN is set per test
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://{closed}",
        }


@dataclass
class AgentRun:
    returncode: int
    stderr: str
    report: dict[str, Any]
    egress: list[str]

    @property
    def scan(self) -> dict[str, Any]:
        return self.report["scan"]

    @property
    def stores(self) -> dict[str, dict[str, Any]]:
        return {store["id"]: store for store in self.report["stores"]}

    def targets(self, provider: str) -> dict[tuple[str, str, str], dict[str, Any]]:
        """(account, region, service) -> target, for one provider; each key must occur once."""
        found = [t for t in self.scan["targets"] if t["provider"] == provider]
        keyed = {(t["account"], t["region"], t["service"]): t for t in found}
        assert len(keyed) == len(found), f"duplicate {provider} targets"
        return keyed


def run_agent(sandbox: Sandbox, name: str, config: dict[str, Any], env: dict[str, str], state: Path | None = None,
              fail_on_findings: bool = False) -> AgentRun:
    """`agent.py scan --config C --format json --output F [--state S | --no-state]` in a clean environment."""
    work = sandbox.root / name
    work.mkdir(exist_ok=True)
    config_path = work / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    output, egress_log = work / "report.json", work / "egress.log"
    output.unlink(missing_ok=True)
    command = [sys.executable, str(AGENT), "scan", "--config", str(config_path), "--format", "json",
               "--output", str(output), *(["--state", str(state)] if state else ["--no-state"]),
               *(["--fail-on-findings"] if fail_on_findings else [])]
    result = subprocess.run(command, env={**sandbox.environment(egress_log), **env}, cwd=work,
                            capture_output=True, text=True, timeout=300)
    assert output.exists(), f"no report (exit {result.returncode}):\n{result.stderr[-3000:]}"
    egress = egress_log.read_text(encoding="utf-8").splitlines() if egress_log.exists() else []
    return AgentRun(result.returncode, result.stderr, json.loads(output.read_text(encoding="utf-8")), egress)


# -- the estate -------------------------------------------------------------------------------------------------------

@dataclass
class Estate:
    aws: SeededMoto
    arm: ArmServer
    azure: AzureEstate
    gcp: GcpEstate

    @property
    def aws_ids(self) -> set[str]:
        return {store.id for store in self.aws.estate.manifest}

    @property
    def sandbox_account(self) -> str:
        return self.aws.estate.member_account_ids["sandbox"]

    def accounts(self) -> dict[str, dict[str, str]]:
        """Owners of every account, subscription and project, except the AWS sandbox account (a coverage gap)."""
        members = self.aws.estate.member_account_ids
        return {
            self.aws.estate.management_account_id: {"owner": "acme-inc"},
            members["acme-prod-eu"]: {"owner": "acme-europe"},
            members["acme-analytics-jp"]: {"owner": "acme-japan"},
            **self.azure.accounts(),
            **gcp_accounts(),
        }

    def config(self, sandbox: Sandbox, aws: dict | None = None, azure: dict | None = None,
               gcp: dict | None = None) -> dict[str, Any]:
        providers = {name: section for name, section in (("aws", aws), ("azure", azure), ("gcp", gcp)) if section}
        return {"home": HOME, "policies": [str(sandbox.root / "policy.yaml")], "companies": COMPANIES,
                "accounts": self.accounts(), "providers": providers}

    def env(self, **extra: str) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.aws.server.url, "AZURE_ACCESS_TOKEN": self.azure.token, **extra}


def aws_section() -> dict[str, Any]:
    return {"organization": True, "regions": AWS_REGIONS, "max_attempts": 2}


def gcp_section(gcp: GcpEstate, **overrides: Any) -> dict[str, Any]:
    """The organization (both projects, the asset search) and the projects named, so each has its own targets."""
    return {**gcp_config_section(gcp), "projects": list(gcp.project_ids), **overrides}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("three-clouds")
    (root / "guard").mkdir()
    (root / "guard" / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    (root / "home").mkdir()
    (root / "bin").mkdir()
    (root / "policy.yaml").write_text(yaml.safe_dump(POLICY, sort_keys=False), encoding="utf-8")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound and never listening: every connection is refused
    try:
        yield Sandbox(root, closed.getsockname()[1])
    finally:
        closed.close()


@pytest.fixture(scope="module")
def estate(moto_estate: SeededMoto) -> Iterator[Estate]:
    """The three demo estates, shared by the tests that do not change them."""
    arm = ArmServer().start()
    gcp = start_gcp_estate(page_size=GCP_PAGE_SIZE)
    try:
        yield Estate(moto_estate, arm, seed_estate(arm), gcp)
    finally:
        gcp.stop()
        arm.stop()


# -- 1. one scan, three clouds ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def full_scan(sandbox: Sandbox, estate: Estate) -> AgentRun:
    config = estate.config(sandbox, aws_section(), estate.azure.provider_section(), gcp_section(estate.gcp))
    run = run_agent(sandbox, "full", config, estate.env(), state=sandbox.root / "full.db")
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def test_one_scan_covers_every_provider_with_per_subscription_and_per_project_status(full_scan, estate):
    assert full_scan.egress == []
    assert full_scan.scan["status"] == "complete"
    stores = full_scan.stores
    assert {store["provider"] for store in stores.values()} == {"aws", "azure", "gcp"}
    assert {i for i, s in stores.items() if s["provider"] == "aws"} == estate.aws_ids
    assert {i for i, s in stores.items() if s["provider"] == "azure"} == set(estate.azure.stores)
    assert {i for i, s in stores.items() if s["provider"] == "gcp"} == set(estate.gcp.manifest)
    assert full_scan.scan["counts"]["stores"] == len(stores) == len(full_scan.report["stores"])

    azure = full_scan.targets("azure")
    assert set(azure) == {(sub, "*", service) for sub in SUBSCRIPTIONS for service in AZURE_SERVICES}
    for (sub, _, service), target in azure.items():
        expected = sum(1 for s in estate.azure.stores.values()
                       if s.subscription == sub and s.kind in AZURE_KINDS[service])
        assert (target["status"], target["stores"]) == ("ok", expected), (sub, service)

    gcp = full_scan.targets("gcp")
    for project in estate.gcp.project_ids:
        buckets = sum(1 for s in estate.gcp.manifest.values() if s.account == project and s.kind == "gcs-bucket")
        datasets = sum(1 for s in estate.gcp.manifest.values() if s.account == project and s.kind == "bigquery-dataset")
        assert (gcp[(project, "global", "storage")]["status"], gcp[(project, "global", "storage")]["stores"]) == (
            "ok", buckets)
        assert (gcp[(project, "global", "bigquery")]["status"], gcp[(project, "global", "bigquery")]["stores"]) == (
            "ok", datasets)
        for service in GCP_PROJECT_SERVICES:  # the databases and file stores, each read per project
            assert gcp[(project, "global", service)]["status"] == "ok", (project, service)

    aws = full_scan.targets("aws")
    for account in estate.aws.estate.account_ids:
        assert aws[(account, "global", "s3")]["status"] == "ok"
        assert {region for (acct, region, service) in aws if acct == account and service == "dynamodb"} == set(
            AWS_REGIONS)
    assert all(t["status"] == "ok" for t in full_scan.scan["targets"])
    # the only gap: the AWS account whose owner the config does not declare
    assert full_scan.scan["coverage_gaps"] == [
        f"aws account {estate.sandbox_account}: no owner declared (add it under 'accounts' in the config)"]
    # and every emulator saw reads only
    assert estate.arm.methods() == {"GET"}
    assert all(server.violations == [] for server in estate.gcp.servers())


def test_azure_geo_copies_abroad_are_located_and_reach_follows_them(full_scan):
    stores = {s["name"]: s for s in full_scan.report["stores"] if s["provider"] == "azure"}
    docs = stores["acmebrdocs"]  # RA-GRS in Brazil: the secondary is in Texas
    assert {(loc["region"], loc["role"], loc["country"], loc["city"], loc["learned_from"])
            for loc in docs["locations"]} == {
        ("brazilsouth", "primary", "BR", "Sao Paulo State", "StorageAccount.primaryLocation"),
        ("southcentralus", "replica", "US", "Texas", "StorageAccount.secondaryLocation"),
    }
    reach = {r["jurisdiction"]: r for r in docs["reachable_by"]}
    assert {"BR", "US"} <= set(reach)
    us_grounds = {(g["basis"], g["law"]) for g in reach["US"]["grounds"]}
    assert ("location", "territorial") in us_grounds  # the Texas copy, besides Microsoft's control
    assert ("control", "us-cloud-act") in us_grounds
    assert any("southcentralus" in hop and "Texas" in hop for g in reach["US"]["grounds"] for hop in g["path"])
    assert reach["BR"]["basis"] == "location"

    cosmos = stores["acme-eu-profiles"]  # seeded in West Europe (priority 0) and Switzerland North (priority 1)
    assert {(loc["region"], loc["role"], loc["country"]) for loc in cosmos["locations"]} == {
        ("westeurope", "primary", "NL"), ("switzerlandnorth", "replica", "CH"), ("northeurope", "backup", "IE")}
    assert {loc["learned_from"] for loc in cosmos["locations"] if loc["role"] != "backup"} == {
        "DatabaseAccount.locations.locationName"}
    # geo-redundant backups: West Europe's pair, inferred from the catalog
    assert next(loc["learned_from"] for loc in cosmos["locations"] if loc["role"] == "backup").startswith(
        PAIR_INFERRED)
    cosmos_reach = {r["jurisdiction"]: r["basis"] for r in cosmos["reachable_by"]}
    assert (cosmos_reach["NL"], cosmos_reach["CH"], cosmos_reach["IE"]) == ("location", "location", "location")


def test_gcp_multi_and_dual_regions_expand_and_hong_kong_is_reached_by_china(full_scan):
    stores = {s["name"]: s for s in full_scan.report["stores"] if s["provider"] == "gcp"}
    for name in ("nw-analytics-eu", "crm_eu"):  # the EU multi-region: a bucket and a dataset
        places = stores[name]["locations"]
        countries = {loc["country"] for loc in places}
        assert len(countries) > 1 and countries <= EU_MEMBERS, (name, countries)
        assert all(loc["region"].startswith("europe-") and loc["region"] != "eu" for loc in places)
        assert all(loc["city"] for loc in places)
        assert {r["jurisdiction"] for r in stores[name]["reachable_by"]} >= countries  # every soil reaches it
    custom = stores["nw-dr-custom"]  # a configurable dual-region: Belgium and Germany
    assert {(loc["region"], loc["country"]) for loc in custom["locations"]} == {
        ("europe-west1", "BE"), ("europe-west3", "DE")}
    # the organization's projects are read from Cloud Asset Inventory's ListAssets (the bucket's own JSON)
    assert {loc["learned_from"] for loc in custom["locations"]} == {
        "cloudasset.assets.list customPlacementConfig.dataLocations"}
    eur4 = stores["nw-backups-eur4"]  # the predefined dual-region EUR4: Finland and the Netherlands
    assert {(loc["region"], loc["country"]) for loc in eur4["locations"]} == {
        ("europe-north1", "FI"), ("europe-west4", "NL")}

    hk = stores["hb-trade-docs"]
    assert [(loc["region"], loc["country"], loc["city"]) for loc in hk["locations"]] == [
        ("asia-east2", "HK", "Hong Kong")]
    reach = {r["jurisdiction"]: r for r in hk["reachable_by"]}
    # Hong Kong is its own jurisdiction: the Art. 43 powers are the HKSAR Police's (L.N. 139 of 2020)
    assert "hk-nsl-art43" in {g["law"] for g in reach["HK"]["grounds"]}
    assert reach["HK"]["basis"] == "location" and "Hong Kong" in reach["HK"]["path_text"]
    assert "CN" not in reach  # no PRC organization in any chain


def test_every_operator_chain_ends_at_the_hyperscalers_parent_and_owners_are_declared(full_scan, estate):
    owners = {account: entry["owner"] for account, entry in estate.accounts().items()}
    companies = {company["id"]: company for company in COMPANIES}
    for store in full_scan.report["stores"]:
        assert store["operator"], store["id"]
        assert store["operator"][-1]["name"] == OPERATOR_PARENT[store["provider"]], store["id"]
        assert all(loc["operator"] for loc in store["locations"]), store["id"]
        owner = owners.get(store["account"])
        if owner is None:  # the AWS sandbox account
            assert store["owner"] == [] and any("owner of account" in u for u in store["unknowns"])
            continue
        chain = [owner]
        while companies[chain[-1]].get("parent"):
            chain.append(companies[chain[-1]]["parent"])
        assert [entity["name"] for entity in store["owner"]] == [companies[c]["name"] for c in chain], store["id"]


def seeded_unknowns(store: dict[str, Any], estate: Estate) -> bool:
    """Whether the seeded facts leave something unknown about this store."""
    if store["provider"] == "azure":  # a GZRS account without secondaryLocation, geo-redundant backups
        return estate.azure.stores[store["id"]].has_unknowns
    if store["provider"] == "gcp":  # every seeded GCP store's copies are read from its own API
        return False
    return store["account"] == estate.sandbox_account  # no owner declared


def expected_locations(store: dict[str, Any], estate: Estate) -> tuple[set[str], set[str]] | None:
    """(regions the store must report, regions it may report) from the seed; None for the EU multi-region, whose
    members Google does not publish. An AWS copy may or may not name its primary's regions (an S3 replication
    destination cannot know its source; an RDS read replica does): tests/test_aws_provider.py pins that down."""
    if store["provider"] == "azure":
        regions = set(estate.azure.stores[store["id"]].locations)
        return regions, regions
    if store["provider"] == "gcp":
        regions = set()
        for region, _ in estate.gcp.manifest[store["id"]].locations:
            if region == "eu":
                return None
            regions |= GCP_DUAL_REGIONS.get(region, {region})
        return regions, regions
    seeded = next(s for s in estate.aws.estate.manifest if s.id == store["id"])
    primary = next((s for s in estate.aws.estate.manifest if s.id == seeded.replica_of), seeded)
    keys = set(seeded.key_regions)  # a multi-region key's replicas: key material, a location of its own
    return {seeded.region, *seeded.replica_regions, *keys}, {primary.region, *primary.replica_regions, seeded.region,
                                                              *keys}


def expected_status(store: dict[str, Any], unknowns: bool) -> str:
    """The verdict the two policies imply. A copy on soil outside HOME is reached by that country's territorial law
    (and Hong Kong soil by China's, HK NSL Art. 43), which the built-in policy does not accept; every personal store
    is reached by the US, which the personal-data policy does not accept; an owner's home state outside HOME reaches
    its records (a Japanese owner's bucket in Sydney: Japan, CCP Art. 218). Otherwise an unknown makes the store
    not_evaluated, else it passes."""
    countries = {loc["country"] for loc in store["locations"]} | {entity["country"] for entity in store["owner"]}
    abroad = {c for c in countries if c not in HOME and c not in EU_MEMBERS}
    if abroad or store["tags"].get("data-class") == "personal":
        return "fail"
    return "not_evaluated" if unknowns else "pass"


def test_each_verdict_is_the_one_the_facts_and_policies_imply(full_scan, estate):
    expected: dict[str, str] = {}
    for store in full_scan.report["stores"]:
        where = expected_locations(store, estate)
        if where is not None:
            required, allowed = where
            assert required <= {loc["region"] for loc in store["locations"]} <= allowed, store["id"]
        for loc in store["locations"]:
            assert loc["country"] == REGION_COUNTRY.get(loc["region"], loc["country"]), (store["id"], loc)
            assert loc["region"] in REGION_COUNTRY or (where is None and loc["country"] in EU_MEMBERS), loc
        if store["provider"] != "aws":  # AWS tags: see test_aws_provider (a DynamoDB replica has none of its own)
            seeded = (estate.azure.stores[store["id"]].tags if store["provider"] == "azure"
                      else estate.gcp.manifest[store["id"]].tags)
            assert store["tags"] == seeded, store["id"]
        unknowns = seeded_unknowns(store, estate)
        assert bool(store["unknowns"]) == unknowns, (store["id"], store["unknowns"])
        # the premises of expected_status: every soil and the US (by control) reach the store; beyond HOME, only
        # the owners' home states (their records laws) and routes that are not effective
        countries = {loc["country"] for loc in store["locations"]}
        reach = {r["jurisdiction"]: r for r in store["reachable_by"]}
        assert countries <= set(reach), store["id"]
        assert "control" in {g["basis"] for g in reach["US"]["grounds"]}, store["id"]
        owner_states = {entity["country"] for entity in store["owner"]}
        effective = {code for code, r in reach.items() if r["effective"]}
        assert effective <= {*HOME, *countries, *owner_states}, (store["id"], effective)
        expected[store["id"]] = expected_status(store, unknowns)
        assert store["status"] == expected[store["id"]], (store["id"], store["status"], store["status_reason"])
        assert bool(store["findings"]) == (store["status"] == "fail"), store["id"]
    assert set(Counter(expected.values())) == {"pass", "fail", "not_evaluated"}  # the estate shows all three
    counts = full_scan.scan["counts"]
    assert {k: counts[k] for k in ("pass", "fail", "not_evaluated")} == {
        k: list(expected.values()).count(k) for k in ("pass", "fail", "not_evaluated")}


# -- 2. credentials missing ---------------------------------------------------------------------------------------

@pytest.fixture
def managed_identity() -> Iterator[DeadEndpoint]:
    """Where managed identity is sent: a loopback listener that drops every connection and counts them."""
    endpoint = DeadEndpoint().start()
    try:
        yield endpoint
    finally:
        endpoint.stop()


def test_missing_azure_and_gcp_credentials_mean_not_scanned_and_aws_is_still_scanned(
        sandbox, estate, full_scan, managed_identity):
    """Azure: no AZURE_ACCESS_TOKEN, so DefaultAzureCredential, with managed identity on a loopback port that never
    answers, no az/pwsh/azd on PATH, no ~/.azure. Google Cloud: the real Google endpoints (not `emulator: true`, with
    which the provider uses anonymous credentials, so credentials cannot be missing) and no application-default
    credentials: google.auth.default() fails before any client exists, so no request is built at all.
    The state store already holds the complete scan of the same estate (test 1's)."""
    requests_before = len(estate.arm.requests)
    state = sandbox.root / "no-credentials.db"
    shutil.copyfile(sandbox.root / "full.db", state)
    with StateStore(str(state)) as db:
        open_before = {row["fingerprint"] for row in db.open_findings()}
    gcp = {"projects": list(estate.gcp.project_ids), "organization": ORGANIZATION, "timeout": 5, "retry_seconds": 0}
    config = estate.config(sandbox, aws_section(), estate.azure.provider_section(), gcp)
    env = {"AWS_ENDPOINT_URL": estate.aws.server.url, "AZURE_POD_IDENTITY_AUTHORITY_HOST": managed_identity.url}
    run = run_agent(sandbox, "no-credentials", config, env, state=state)

    assert run.egress == []
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.scan["status"] == "partial"
    azure = run.targets("azure")
    assert set(azure) == {(sub, "*", service) for sub in SUBSCRIPTIONS for service in AZURE_SERVICES}
    for target in azure.values():
        assert target["status"] == "error" and target["stores"] == 0
        assert target["error"].startswith("no usable Azure credential: DefaultAzureCredential failed"), target
    assert len(estate.arm.requests) == requests_before  # no request went out without a token
    assert managed_identity.connections > 0  # the chain did ask managed identity — on loopback

    gcp = run.targets("gcp")
    assert set(gcp) == {(project, "global", service) for project in estate.gcp.project_ids
                        for service in GCP_PROJECT_SERVICES} | {("*", ORGANIZATION, "resourcemanager"),
                                                                   ("*", ORGANIZATION, "cloudasset.assets.list")}
    bulk = gcp.pop(("*", ORGANIZATION, "cloudasset.assets.list"))  # its failure only sends every project per project
    assert bulk["status"] == "ok" and "fallback per project" in bulk["error"], bulk
    for target in gcp.values():
        assert target["status"] == "error" and "default credentials were not found" in target["error"].lower(), target

    stores = run.stores
    assert {s["provider"] for s in stores.values()} == {"aws"}  # nothing of Azure or GCP, so nothing of theirs passes
    assert set(stores) == estate.aws_ids
    assert all(t["status"] == "ok" for t in run.targets("aws").values())
    gaps = run.scan["coverage_gaps"]
    for account in [*SUBSCRIPTIONS, *estate.gcp.project_ids]:
        assert any(f" {account}/" in gap and ": not scanned (error: " in gap for gap in gaps), account
    # what was known of Azure and Google Cloud is kept as it was: not seen is not gone, not fixed
    with StateStore(str(state)) as db:
        assert {row["fingerprint"] for row in db.open_findings()} == open_before
        for store_id, store in full_scan.stores.items():
            history = db.store_history(store_id)
            assert history is not None and history["gone_at"] is None, store_id
            if store["provider"] != "aws":
                assert history["last_scan_id"] == full_scan.scan["id"], store_id


class NoCredential:
    """An Azure credential with nothing to give, counting how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        raise ClientAuthenticationError(message="no credential on this host")


class CountingToken:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)


def test_an_azure_credential_is_asked_once_per_scan_not_once_per_subscription_and_service(estate):
    settings = AzureSettings(arm_endpoint=estate.arm.url, subscriptions=tuple(SUBSCRIPTIONS), retries=0, timeout=10)
    missing = NoCredential()
    provider = AzureProvider(settings, credential=missing)
    log = TargetLog()
    assert list(provider.discover(log)) == []
    assert len(log.results) == len(SUBSCRIPTIONS) * len(AZURE_SERVICES)
    assert all(r.status == "error" and "no credential on this host" in (r.error or "") for r in log.results)
    assert missing.calls == 1  # DefaultAzureCredential's chain (managed identity, CLIs) runs once, not 15 times
    list(provider.discover(TargetLog()))
    assert missing.calls == 2  # a failure is remembered for one scan, not for ever

    working = CountingToken(estate.azure.token)
    log = TargetLog()
    stores = list(AzureProvider(settings, credential=working).discover(log))
    assert {s.id for s in stores} == set(estate.azure.stores)
    assert working.calls == 1  # one token shared by every client of the scan


# -- 3. faults: a 403 subscription, a project that never answers -----------------------------------------------------

STALL_CAP_S = 60  # a stalled request is released at teardown at the latest


class StallingGcsServer(FakeGcsServer):
    """The Cloud Storage fake, except that buckets.list for a project in `stalled` is accepted and never answered."""

    def __init__(self, page_size: int) -> None:
        super().__init__(page_size)
        self.stalled: set[str] = set()
        self.stalls = 0
        self.release = threading.Event()

    def _list_buckets(self, match: Any, query: dict[str, list[str]]) -> dict[str, Any]:
        if (query.get("project") or [""])[0] in self.stalled:
            self.stalls += 1
            self.release.wait(STALL_CAP_S)
        return super()._list_buckets(match, query)

    def dispatch(self, handler: Any) -> None:
        with contextlib.suppress(OSError):  # the client gave up on the stalled request and closed its socket
            super().dispatch(handler)


@pytest.fixture
def faulty() -> Iterator[tuple[ArmServer, AzureEstate, StallingGcsServer, GcpEstate]]:
    """Azure and Google Cloud estates of this test's own, so faults can be switched on between two scans."""
    arm = ArmServer().start()
    gcs = StallingGcsServer(GCP_PAGE_SIZE).start()
    bigquery, resources = FakeBigQueryServer(GCP_PAGE_SIZE).start(), FakeResourceServer(GCP_PAGE_SIZE).start()
    kms = FakeKmsServer(GCP_PAGE_SIZE).start()
    seed_kms_keys(kms)
    gcp = GcpEstate(gcs, bigquery, resources, seed_gcp_estate(gcs, bigquery, resources), kms)
    try:
        yield arm, seed_estate(arm), gcs, gcp
    finally:
        gcs.release.set()
        gcp.stop()
        arm.stop()


def test_403_subscription_and_timed_out_project_are_recorded_the_rest_scanned_and_nothing_stored_is_lost(
        sandbox, estate, faulty):
    arm, azure, gcs, gcp = faulty
    faulty_estate = Estate(estate.aws, arm, azure, gcp)
    config = faulty_estate.config(sandbox, aws_section(), azure.provider_section(),
                                  gcp_section(gcp, timeout=2, asset_inventory=False))  # per project: gcs stalls
    state = sandbox.root / "faults.db"
    env = faulty_estate.env()

    first = run_agent(sandbox, "faults-before", config, env, state=state)
    assert (first.returncode, first.scan["status"], first.egress) == (0, "complete", [])
    with StateStore(str(state)) as db:
        open_before = {row["fingerprint"] for row in db.open_findings()}
    assert open_before

    arm.deny(SUB_BR)
    gcs.stalled.add(APAC_PROJECT)
    second = run_agent(sandbox, "faults-after", config, env, state=state)
    assert second.egress == []
    assert second.returncode == 0, second.stderr[-3000:]  # a partial scan is a scan that ran
    assert second.scan["status"] == "partial"
    assert gcs.stalls >= 1  # the request arrived and was held: a timeout, not a refusal

    not_ok = {(t["provider"], t["account"], t["region"], t["service"]): t
              for t in second.scan["targets"] if t["status"] != "ok"}
    expected = {("azure", SUB_BR, "*", service) for service in AZURE_SERVICES} | {
        ("gcp", APAC_PROJECT, "global", "storage")}
    assert set(not_ok) == expected
    for key, target in not_ok.items():
        if key[0] == "azure":
            assert target["status"] == "denied" and "AuthorizationFailed" in target["error"], target
        else:
            assert target["status"] == "error" and "timed out" in target["error"].lower(), target
    # the rest was scanned: the other subscriptions, the project's BigQuery, the other project, AWS
    azure_ok = second.targets("azure")
    assert all(azure_ok[(sub, "*", s)]["status"] == "ok" for sub in (SUB_EU, SUB_US) for s in AZURE_SERVICES)
    assert second.targets("gcp")[(APAC_PROJECT, "global", "bigquery")]["status"] == "ok"
    assert second.targets("gcp")[(EU_PROJECT, "global", "storage")]["status"] == "ok"
    lost = {i for i, s in first.stores.items() if (s["provider"], s["account"]) == ("azure", SUB_BR)
            or (s["provider"], s["account"], s["kind"]) == ("gcp", APAC_PROJECT, "gcs-bucket")}
    assert {first.stores[i]["name"] for i in lost} == {"acmebrdocs", "acme-br-sql/orders", "rsv-br-vms",
                                                       "hb-trade-docs", "hb-archive-asia1"}
    assert set(second.stores) == set(first.stores) - lost
    gaps = "\n".join(second.scan["coverage_gaps"])
    assert f"azure {SUB_BR}/storage: not scanned (denied:" in gaps
    assert f"gcp {APAC_PROJECT}/global/storage: not scanned (error:" in gaps

    with StateStore(str(state)) as db:
        assert [scan["status"] for scan in db.scans(limit=2)] == ["partial", "complete"]
        assert {row["fingerprint"] for row in db.open_findings()} == open_before  # nothing resolved
        for store_id in first.stores:
            history = db.store_history(store_id)
            assert history is not None and history["gone_at"] is None, store_id  # nothing gone
            kinds = {event["kind"] for event in history["events"]}
            assert not kinds & {"store_gone", "finding_resolved"}, (store_id, kinds)
        for store_id in lost:  # what could not be read keeps its last complete sighting and its open findings
            history = db.store_history(store_id)
            assert history["last_scan_id"] == first.scan["id"], store_id
            assert history["findings"] and all(f["resolved_at"] is None for f in history["findings"]), store_id


# -- 4. exit codes --------------------------------------------------------------------------------------------------

def test_exit_3_when_nothing_at_all_could_be_scanned(sandbox, estate, dead_endpoint):
    dead = dead_endpoint.url
    config = estate.config(
        sandbox,
        aws={"regions": ["us-east-1"], "max_attempts": 1},
        azure={"arm_endpoint": dead, "subscriptions": [SUB_EU], "retries": 0, "timeout": 5},
        gcp={"projects": [EU_PROJECT], "storage_endpoint": dead, "bigquery_endpoint": dead, "emulator": True,
             "timeout": 5, "retry_seconds": 0},
    )
    run = run_agent(sandbox, "nothing", config, {"AWS_ENDPOINT_URL": dead, "AZURE_ACCESS_TOKEN": "any"})
    assert run.egress == []
    assert run.returncode == 3, run.stderr[-3000:]
    assert run.scan["status"] == "failed"
    assert run.report["stores"] == []
    assert run.scan["targets"] and all(t["status"] == "error" for t in run.scan["targets"])
    assert {t["provider"] for t in run.scan["targets"]} == {"aws", "azure", "gcp"}
    assert dead_endpoint.connections >= 3  # each provider did try


def test_fail_on_findings_exits_1_only_when_a_store_fails_and_a_partial_scan_exits_0(sandbox, estate):
    def azure_only(name: str, subscriptions: list[str], services: list[str], flag: bool) -> AgentRun:
        section = {**estate.azure.provider_section(), "subscriptions": subscriptions, "services": services}
        run = run_agent(sandbox, name, estate.config(sandbox, azure=section), estate.env(), fail_on_findings=flag)
        assert run.egress == []
        return run

    # disks and their snapshots in Frankfurt, owned by Acme Europe: nothing outside HOME reaches them
    passing = azure_only("all-pass", [SUB_EU], ["disks", "snapshots"], flag=True)
    assert [s["status"] for s in passing.report["stores"]] == ["pass"] * len(passing.report["stores"]) != []
    assert (passing.scan["status"], passing.returncode) == ("complete", 0)

    # the Brazilian RA-GRS account fails (Brazilian and US soil, personal data)
    failing = azure_only("one-fails", [SUB_BR], ["storage"], flag=True)
    assert [s["status"] for s in failing.report["stores"]] == ["fail"]
    assert (failing.scan["status"], failing.returncode) == ("complete", 1)

    # a subscription the server does not know makes the scan partial: findings still give 1, and 0 without the flag
    unknown_sub = "5c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1eff"
    for flag, code in ((True, 1), (False, 0)):
        partial = azure_only(f"partial-{flag}", [SUB_BR, unknown_sub], ["storage"], flag=flag)
        assert partial.scan["status"] == "partial"
        assert [t["status"] for t in partial.scan["targets"] if t["account"] == unknown_sub] == ["error"]
        assert [s["status"] for s in partial.report["stores"]] == ["fail"]
        assert partial.returncode == code, (flag, partial.stderr[-2000:])
