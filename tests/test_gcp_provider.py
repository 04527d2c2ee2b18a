"""GCP provider against local fakes: the real google-cloud clients talk HTTP to demo.gcs_server."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from demo.gcp_estate import APAC_PROJECT, BUCKETS, CUSTODY_BUCKETS, EU_PROJECT, ORGANIZATION, GcpEstate
from policies.catalog_loader import load_catalog
from providers import provider_class
from providers.base import TargetLog
from providers.gcp import GcpProvider, bucket_locations, region_of
from scanner.catalog import Catalog
from scanner.discovered import DiscoveredStore
from scanner.errors import InputError
from scanner.model import TargetResult
from scanner.yamlfile import read_yaml

EU_BUCKETS = sum(1 for bucket in [*BUCKETS, *CUSTODY_BUCKETS] if bucket.project == EU_PROJECT)

BUCKET = "//storage.googleapis.com/projects/_/buckets/{}"


def scan(section_node) -> tuple[dict[str, DiscoveredStore], TargetLog]:
    log = TargetLog()
    stores = list(GcpProvider.from_config(section_node).discover(log))
    by_id = {store.id: store for store in stores}
    assert len(by_id) == len(stores), "a store was reported twice"
    return by_id, log


def outcome(log: TargetLog, account: str, service: str) -> TargetResult:
    matches = [r for r in log.results if r.account == account and r.service == service]
    assert len(matches) == 1, f"expected one outcome for {account}/{service}, got {matches}"
    return matches[0]


def scope_outcome(log: TargetLog, scope: str, service: str) -> TargetResult:
    """An organization/folder-wide call: account '*', the scope in the region field."""
    matches = [r for r in log.results if (r.account, r.region, r.service) == ("*", scope, service)]
    assert len(matches) == 1, f"expected one outcome for {scope}/{service}, got {matches}"
    return matches[0]


def regions(store: DiscoveredStore) -> list[str]:
    return [location.region for location in store.locations]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# --- inventory ------------------------------------------------------------------------------------


def test_registry_names_the_gcp_provider():
    assert provider_class("gcp") is GcpProvider


def test_every_seeded_store_is_found_with_its_locations_roles_and_labels(gcp_estate: GcpEstate, gcp_section):
    stores, log = scan(gcp_section(gcp_estate.config_section()))
    assert set(stores) == set(gcp_estate.manifest)
    for store_id, expected in gcp_estate.manifest.items():
        store = stores[store_id]
        assert (store.provider, store.account, store.kind, store.name) == ("gcp", expected.account, expected.kind,
                                                                           expected.name)
        assert store.region == expected.region
        assert [(loc.region, loc.role) for loc in store.locations] == list(expected.locations), store_id
        assert store.tags == expected.tags
    assert all(result.status == "ok" for result in log.results), log.results


def test_multi_and_predefined_dual_regions_are_reported_as_their_id(gcp_estate, gcp_section):
    stores, _ = scan(gcp_section(gcp_estate.config_section()))
    eu = stores[BUCKET.format("nw-analytics-eu")]
    assert regions(eu) == ["eu"]
    assert "locationType=multi-region" in eu.locations[0].learned_from
    assert regions(stores[BUCKET.format("nw-backups-eur4")]) == ["eur4"]
    assert regions(stores[BUCKET.format("hb-archive-asia1")]) == ["asia1"]
    assert regions(stores[f"//bigquery.googleapis.com/projects/{EU_PROJECT}/datasets/crm_eu"]) == ["eu"]


def test_configurable_dual_region_gives_each_data_location(gcp_estate, gcp_section):
    stores, _ = scan(gcp_section(gcp_estate.config_section()))
    custom = stores[BUCKET.format("nw-dr-custom")]
    assert regions(custom) == ["europe-west1", "europe-west3"]
    assert {loc.role for loc in custom.locations} == {"primary"}
    assert all("dataLocations" in loc.learned_from for loc in custom.locations)
    assert "eu" not in regions(custom)


def test_single_regions_and_hong_kong(gcp_estate, gcp_section):
    stores, _ = scan(gcp_section(gcp_estate.config_section()))
    assert regions(stores[BUCKET.format("nw-customer-records")]) == ["europe-west3"]
    assert regions(stores[BUCKET.format("nw-web-assets")]) == ["us-central1"]
    assert regions(stores[BUCKET.format("hb-trade-docs")]) == ["asia-east2"]
    assert stores[BUCKET.format("nw-customer-records")].tags == {"data-class": "personal", "team": "crm"}


def test_memorystore_and_filestore_are_read_per_project_with_their_copies(gcp_estate, gcp_section):
    stores, log = scan(gcp_section(gcp_estate.config_section(asset_inventory=False)))
    redis = stores[f"//redis.googleapis.com/projects/{EU_PROJECT}/locations/europe-west3/instances/sessions"]
    assert (redis.kind, redis.account, regions(redis)) == ("memorystore-redis-instance", EU_PROJECT, ["europe-west3"])
    share = stores[f"//file.googleapis.com/projects/{APAC_PROJECT}/locations/asia-northeast1-b/instances/ticks-share"]
    assert (share.region, share.unknowns) == ("asia-northeast1", [])  # zone asia-northeast1-b reduced to its region
    assert [(loc.region, loc.role) for loc in share.locations] == [("asia-northeast1", "primary"),
                                                                   ("asia-east2", "backup")]
    assert outcome(log, APAC_PROJECT, "filestore").stores == 1
    assert outcome(log, EU_PROJECT, "redis").stores == 2  # an instance and a cluster
    assert not [r for r in gcp_estate.resources.requests if r.path.endswith("/assets")]


def test_organization_walk_finds_projects_in_folders_and_skips_deleted(gcp_estate, gcp_section):
    _, log = scan(gcp_section(gcp_estate.config_section()))
    accounts = {r.account for r in log.results if r.service == "storage"}
    assert accounts == {EU_PROJECT, APAC_PROJECT}  # EU project sits in a folder; the sandbox is DELETE_REQUESTED
    assert scope_outcome(log, ORGANIZATION, "resourcemanager").status == "ok"
    assert outcome(log, EU_PROJECT, "storage").stores == EU_BUCKETS
    assert outcome(log, APAC_PROJECT, "bigquery").stores == 1


def test_explicit_projects_need_no_resource_manager_or_asset_calls(gcp_estate, gcp_section):
    stores, log = scan(gcp_section(gcp_estate.config_section(use_organization=False)))
    assert gcp_estate.resources.requests == []
    # the databases are read per project: no organization scope needed for them
    assert {store.kind for store in stores.values()} == {
        "gcs-bucket", "bigquery-dataset", "spanner-instance", "firestore-database", "cloudsql-instance",
        "bigtable-instance", "alloydb-cluster", "filestore-instance", "memorystore-redis-instance",
        "memorystore-redis-cluster"}
    assert {r.service for r in log.results} == {"storage", "bigquery", "spanner", "firestore", "cloudsql", "bigtable",
                                                "alloydb", "filestore", "redis"}


def test_pagination_sees_every_bucket_and_dataset(gcp_estate, gcp_section):
    for index in range(23):
        gcp_estate.gcs.add_bucket(APAC_PROJECT, f"hb-bulk-{index:02d}", "ASIA-SOUTHEAST1")
    for index in range(5):
        gcp_estate.bigquery.add_dataset(APAC_PROJECT, f"bulk_{index}", "asia-southeast1")
    stores, log = scan(gcp_section(gcp_estate.config_section(use_organization=False)))
    assert {f"hb-bulk-{index:02d}" for index in range(23)} <= {s.name for s in stores.values()}
    assert outcome(log, APAC_PROJECT, "storage").stores == 25
    assert outcome(log, APAC_PROJECT, "bigquery").stores == 6
    bucket_pages = [r for r in gcp_estate.gcs.requests if r.query.get("project") == [APAC_PROJECT]]
    assert len(bucket_pages) == 13  # 25 buckets at 2 a page: the client followed every nextPageToken
    assert sum("pageToken" in r.query for r in bucket_pages) == 12


def test_dataset_location_missing_from_list_is_read_from_the_dataset(gcp_estate, gcp_section):
    gcp_estate.bigquery.list_includes_location = False
    stores, _ = scan(gcp_section(gcp_estate.config_section(use_organization=False)))
    assert regions(stores[f"//bigquery.googleapis.com/projects/{APAC_PROJECT}/datasets/shipments"]) == [
        "asia-northeast1"
    ]
    assert f"/bigquery/v2/projects/{APAC_PROJECT}/datasets/shipments" in gcp_estate.bigquery.paths()


# --- failures -------------------------------------------------------------------------------------


def test_denied_project_is_recorded_and_the_others_are_inventoried(gcp_estate, gcp_section):
    gcp_estate.gcs.deny(APAC_PROJECT)
    gcp_estate.bigquery.deny(APAC_PROJECT)
    stores, log = scan(gcp_section(gcp_estate.config_section(asset_inventory=False)))
    for service in ("storage", "bigquery"):
        denied = outcome(log, APAC_PROJECT, service)
        assert denied.status == "denied"
        assert "403" in (denied.error or "")
        assert outcome(log, EU_PROJECT, service).status == "ok"
    assert outcome(log, EU_PROJECT, "storage").stores == EU_BUCKETS
    assert not any(s.kind in ("gcs-bucket", "bigquery-dataset") and s.account == APAC_PROJECT for s in stores.values())
    assert BUCKET.format("nw-customer-records") in stores
    assert any(s.kind == "filestore-instance" for s in stores.values())  # its other services were still read


def test_denied_organization_is_recorded_and_listed_projects_still_scanned(gcp_estate, gcp_section):
    gcp_estate.resources.deny(ORGANIZATION)
    section = gcp_estate.config_section()
    section["projects"] = [EU_PROJECT]
    stores, log = scan(gcp_section(section))
    assert scope_outcome(log, ORGANIZATION, "resourcemanager").status == "denied"
    assert outcome(log, EU_PROJECT, "storage").stores == EU_BUCKETS
    assert BUCKET.format("nw-customer-records") in stores


def test_stopped_server_gives_recorded_errors_not_an_exception(gcp_estate, gcp_section):
    gcp_estate.gcs.stop()
    stores, log = scan(gcp_section(gcp_estate.config_section(asset_inventory=False)))
    for project in (EU_PROJECT, APAC_PROJECT):
        failed = outcome(log, project, "storage")
        assert failed.status == "error"
        assert failed.error
        assert outcome(log, project, "bigquery").status == "ok"
    assert not any(s.kind == "gcs-bucket" for s in stores.values())
    assert any(s.kind == "bigquery-dataset" for s in stores.values())


def test_every_server_stopped_still_returns(gcp_estate, gcp_section):
    section = gcp_estate.config_section(asset_inventory=False)
    gcp_estate.stop()
    stores, log = scan(gcp_section(section))
    assert stores == {}
    assert [(r.account, r.region, r.service, r.status) for r in log.results] == [
        ("*", ORGANIZATION, "resourcemanager", "error"),
    ]


def test_dead_endpoint_is_tried_once_per_project_despite_a_retry_budget(gcp_estate, gcp_section, dead_endpoint):
    section = gcp_estate.config_section(use_organization=False, retry_seconds=30)
    section["storage_endpoint"] = dead_endpoint.url
    _, log = scan(gcp_section(section))
    assert [outcome(log, p, "storage").status for p in (EU_PROJECT, APAC_PROJECT)] == ["error", "error"]
    assert dead_endpoint.connections == 2


def test_transient_503_is_retried_within_the_budget(gcp_estate, gcp_section):
    gcp_estate.gcs.fail_next(1, 503)
    _, log = scan(gcp_section(gcp_estate.config_section(use_organization=False, retry_seconds=10)))
    assert outcome(log, EU_PROJECT, "storage").status == "ok"
    assert outcome(log, APAC_PROJECT, "storage").status == "ok"
    assert [r.status for r in gcp_estate.gcs.requests].count(503) == 1


def test_no_retry_budget_gives_up_on_the_first_503(gcp_estate, gcp_section):
    gcp_estate.gcs.fail_next(1, 503)
    _, log = scan(gcp_section(gcp_estate.config_section(use_organization=False, retry_seconds=0)))
    statuses = sorted(outcome(log, p, "storage").status for p in (EU_PROJECT, APAC_PROJECT))
    assert statuses == ["error", "ok"]
    failed = next(r for r in log.results if r.service == "storage" and r.status == "error")
    assert "503" in (failed.error or "")


def test_missing_credentials_are_a_recorded_error(gcp_estate, gcp_section, monkeypatch, tmp_path):
    """Without an endpoint override the provider uses application-default credentials; none here."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    section = gcp_estate.config_section(use_organization=False)
    del section["bigquery_endpoint"]
    _, log = scan(gcp_section(section))
    failed = outcome(log, EU_PROJECT, "bigquery")
    assert (failed.status, "credentials" in (failed.error or "").lower()) == ("error", True)
    assert outcome(log, EU_PROJECT, "storage").status == "ok"


def test_storage_emulator_host_is_honoured(gcp_estate, gcp_section, monkeypatch):
    section = gcp_estate.config_section(use_organization=False)
    del section["storage_endpoint"]
    for value in (gcp_estate.gcs.url, gcp_estate.gcs.url.removeprefix("http://")):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", value)
        stores, log = scan(gcp_section(section))
        assert outcome(log, EU_PROJECT, "storage").stores == EU_BUCKETS, value
        assert BUCKET.format("hb-trade-docs") in stores


class TokenEndpoint:
    """A local OAuth 2.0 token endpoint: answers a refresh-token grant with one access token, counts grants."""

    def __init__(self) -> None:
        self.token = f"ya29.custody-test-{secrets.token_hex(6)}"
        self.grants = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.grants += 1
                body = json.dumps({"access_token": endpoint.token, "expires_in": 3600, "token_type": "Bearer"})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def user_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    """Application-default credentials of a service account whose token_uri is a local TokenEndpoint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    endpoint = TokenEndpoint()
    path = tmp_path / "adc.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": EU_PROJECT, "private_key_id": "k1",
                                "private_key": key.decode(), "client_email": "custody@test.iam.gserviceaccount.com",
                                "client_id": "1", "token_uri": endpoint.url}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    try:
        yield endpoint
    finally:
        endpoint.stop()


def test_an_overridden_endpoint_keeps_the_real_credentials(gcp_estate, gcp_section, user_credentials):
    """Private Service Connect and regional endpoints are Google's: the override changes where, not who."""
    section = {**gcp_estate.config_section(use_organization=False), "emulator": False}
    _, log = scan(gcp_section(section))
    assert outcome(log, EU_PROJECT, "storage").stores == EU_BUCKETS
    assert user_credentials.grants >= 1  # the token came from the credentials, not from nowhere
    sent = {r.auth_scheme for server in (gcp_estate.gcs, gcp_estate.bigquery) for r in server.requests}
    assert sent == {f"Bearer {user_credentials.token}"}


def test_anonymous_credentials_only_when_told_it_is_an_emulator(gcp_estate, gcp_section, user_credentials):
    _, log = scan(gcp_section(gcp_estate.config_section(use_organization=False)))  # emulator: true
    assert outcome(log, EU_PROJECT, "storage").stores == EU_BUCKETS
    assert user_credentials.grants == 0
    assert {r.auth_scheme for r in gcp_estate.gcs.requests} == {""}


def test_real_credentials_never_go_to_a_plain_http_host(gcp_section):
    section = {"projects": ["good-project-1"], "storage_endpoint": "http://storage.example.internal"}
    with pytest.raises(InputError, match="storage_endpoint: plain http would send Google credentials in clear text"):
        GcpProvider.from_config(gcp_section(section))
    emulator = GcpProvider.from_config(gcp_section({**section, "emulator": True}))
    assert emulator.settings.emulator


# --- read-only ------------------------------------------------------------------------------------

READ_PATHS = [
    r"/storage/v1/b",
    r"/storage/v1/b/[^/]+",
    r"/bigquery/v2/projects/[^/]+/datasets(/[^/]+)?",
    r"/v3/(projects|folders)",
    r"/v1/(organizations|folders)/\d+/assets",
    r"/v1/projects/[^/]+/locations/[^/]+/(keyRings/[^/]+/cryptoKeys|ekmConnections)/[^/]+",  # Cloud KMS gets
    r"/v1/projects/[^/]+/(instances|instanceConfigs/[^/]+|databases)",
    r"/sql/v1beta4/projects/[^/]+/instances",
    r"/v2/projects/[^/]+/instances(/-/clusters)?",
    r"/(alloydb|file|redis)\.googleapis\.com/v1/projects/[^/]+/locations/-/(clusters|instances|backups)",
]


def test_the_provider_only_reads(gcp_estate, gcp_section):
    gcp_estate.bigquery.list_includes_location = False  # also exercise datasets.get
    scan(gcp_section(gcp_estate.config_section(asset_inventory=False)))
    for server in gcp_estate.servers():
        assert server.requests, f"{server.name} saw no request"
        assert server.violations == []
        for request in server.requests:
            assert request.method == "GET"
            assert any(re.fullmatch(pattern, request.path) for pattern in READ_PATHS), request.path


def test_the_fake_would_catch_a_write(gcp_estate: GcpEstate):
    """The read-only check above is meaningful: a mutating call is refused and recorded."""
    client = storage.Client(project=EU_PROJECT, credentials=AnonymousCredentials(),
                            client_options={"api_endpoint": gcp_estate.gcs.url})
    with pytest.raises(Exception, match="405"):
        client.create_bucket("should-not-exist", retry=None)
    assert [(v.method, v.path, v.status) for v in gcp_estate.gcs.violations] == [("POST", "/storage/v1/b", 405)]


# --- config ---------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custody.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("    projects: [good-project-1]\n    regions: [x]\n", 4, "unknown key 'regions'"),
        ("    projects:\n      - good-project-1\n      - Bad_Project\n", 5, "not a project id"),
        ("    organization: acme\n", 3, "numeric id"),
        ("    projects: [good-project-1]\n    storage_endpoint: localhost:9000\n", 4, "http:// or https://"),
        ("    projects: [good-project-1]\n    services: [storage, gke]\n", 4, "is not one of"),
        ("    projects: [good-project-1]\n    timeout: 0\n", 4, "whole number >= 1"),
        ("    timeout: 5\n", 3, "at least one of 'projects', 'organization' or 'folder'"),
    ],
)
def test_bad_config_is_one_input_error_with_file_and_line(tmp_path, body, line, message):
    path = write(tmp_path, "providers:\n  gcp:\n" + body)
    with pytest.raises(InputError) as caught:
        GcpProvider.from_config(read_yaml(path)["providers"]["gcp"])
    assert caught.value.file == str(path)
    assert caught.value.line == line
    assert message in caught.value.problem
    assert "\n" not in str(caught.value)


def test_empty_section_asks_for_a_scope(tmp_path):
    path = write(tmp_path, "providers:\n  gcp:\n")
    with pytest.raises(InputError, match="at least one of"):
        GcpProvider.from_config(read_yaml(path)["providers"]["gcp"])


def test_good_config_is_normalised(tmp_path):
    path = write(
        tmp_path,
        "providers:\n  gcp:\n    projects: [a-project, a-project, example.com:legacy-one]\n"
        "    organization: 1029384756\n    folder: folders/3001\n    services: bigquery\n",
    )
    settings = GcpProvider.from_config(read_yaml(path)["providers"]["gcp"]).settings
    assert settings.projects == ("a-project", "example.com:legacy-one")
    assert settings.scopes == ["organizations/1029384756", "folders/3001"]
    assert settings.services == ("bigquery",)


# --- location helpers -----------------------------------------------------------------------------


def test_location_helpers():
    assert region_of("EUROPE-WEST3") == "europe-west3"
    assert region_of("US-CENTRAL1-A") == "us-central1"
    assert region_of("EU") == "eu"
    assert bucket_locations("EU", "dual-region", ["EUROPE-WEST1", "EUROPE-WEST4"]) == [
        ("europe-west1", "buckets.list customPlacementConfig.dataLocations"),
        ("europe-west4", "buckets.list customPlacementConfig.dataLocations"),
    ]
    assert [r for r, _ in bucket_locations("NAM4", "dual-region", None)] == ["nam4"]
    assert bucket_locations(None, None, None) == []


def test_bucket_without_location_is_an_unknown_not_a_guess(gcp_estate, gcp_section):
    gcp_estate.gcs.buckets["nw-web-assets"].pop("location")
    stores, _ = scan(gcp_section(gcp_estate.config_section(use_organization=False)))
    store = stores[BUCKET.format("nw-web-assets")]
    assert store.locations == []
    assert any(note.startswith("location:") for note in store.unknowns)


# --- catalog --------------------------------------------------------------------------------------


def gcp_regions(catalog: Catalog):
    """Google's own regions (S3NS's partner universe is another operator's: see test_control)."""
    return {region_id: region for (provider, region_id), region in catalog.regions.items()
            if provider == "gcp" and region.partition == "gcp"}


def test_every_gcp_region_has_a_country_partition_operator_and_source(catalog):
    regions_ = gcp_regions(catalog)
    singles = [region for region in regions_.values() if not region.spans]
    assert len(singles) >= 43
    for region in singles:
        assert region.country and len(region.country) == 2, region.id
        assert (region.partition, region.operator) == ("gcp", "google-llc"), region.id
        assert region.source
    assert regions_["asia-east1"].country == "TW"
    assert regions_["asia-east1"].city == "Changhua County"
    assert regions_["asia-east2"].country == "HK"
    assert regions_["europe-west3"].city == "Frankfurt"


def test_every_span_resolves_to_known_single_regions(catalog):
    regions_ = gcp_regions(catalog)
    multis = {rid: r for rid, r in regions_.items() if r.spans}
    assert {"eu", "us", "asia", "asia1", "eur4", "eur5", "eur7", "eur8", "nam4"} <= set(multis)
    for region in multis.values():
        assert region.country is None, region.id  # a multi-region never maps to one country
        assert len(region.spans) >= 2, region.id
        for member in region.spans:
            assert member in regions_ and not regions_[member].spans and regions_[member].country, (region.id, member)


def test_eu_spans_only_eu_member_countries_and_every_eu_region(catalog):
    regions_ = gcp_regions(catalog)
    eu_members = catalog.unions["EU"].members
    spans = set(regions_["eu"].spans)
    assert {regions_[member].country for member in spans} <= eu_members
    assert not spans & {"europe-west2", "europe-west6"}
    in_eu = {rid for rid, r in regions_.items() if not r.spans and r.country in eu_members}
    assert spans == in_eu
    assert regions_["eu"].unverified


def test_dual_regions_that_leave_the_eu_are_visible(catalog):
    regions_ = gcp_regions(catalog)
    countries = {rid: {regions_[m].country for m in regions_[rid].spans} for rid in ("eur4", "eur5", "eur7", "eur8")}
    assert countries == {"eur4": {"FI", "NL"}, "eur5": {"BE", "GB"}, "eur7": {"GB", "DE"}, "eur8": {"DE", "CH"}}
    assert {regions_[m].country for m in regions_["asia1"].spans} == {"JP"}
    asia = {regions_[m].country for m in regions_["asia"].spans}
    assert "HK" not in asia and "ID" not in asia and len(asia) > 1


def test_every_location_of_the_demo_estate_is_in_the_catalog(gcp_estate, catalog):
    for expected in gcp_estate.manifest.values():
        for region_id, _ in expected.locations:
            region = catalog.region("gcp", region_id)
            assert region is not None and (region.country or region.spans), region_id


def test_tagging_turns_the_estate_into_countries_and_google_operators(gcp_estate, gcp_section, catalog):
    """Through the scanner's tagging: multi-regions expand to member countries, never to one."""
    from scanner.config import Account, Config
    from scanner.tagging import tag

    stores, _ = scan(gcp_section(gcp_estate.config_section()))
    accounts = {EU_PROJECT: Account(EU_PROJECT, None, "DE"), APAC_PROJECT: Account(APAC_PROJECT, None, "HK")}
    config = Config(accounts=accounts)
    tagged = {store_id: tag(found, catalog, config).store for store_id, found in stores.items()}
    countries = {store_id: {loc.country for loc in store.locations} for store_id, store in tagged.items()}
    eu_bucket = BUCKET.format("nw-analytics-eu")
    assert len(countries[eu_bucket]) > 1 and countries[eu_bucket] <= catalog.unions["EU"].members
    assert countries[BUCKET.format("nw-dr-custom")] == {"BE", "DE"}
    assert countries[BUCKET.format("hb-trade-docs")] == {"HK"}
    assert countries[BUCKET.format("hb-archive-asia1")] == {"JP"}
    for store in tagged.values():
        assert not any("not in the catalog" in note for note in store.unknowns), store.id
        assert store.operator and store.operator[-1].id == "alphabet-inc"
    assert tagged[eu_bucket].operator[0].id == "google-llc"  # Google LLC runs the region
    assert tagged[eu_bucket].contracting_party[0].id == "google-cloud-emea"  # a DE account contracts in EMEA
    assert tagged[BUCKET.format("hb-trade-docs")].contracting_party[0].id == "google-llc"
