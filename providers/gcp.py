"""Google Cloud: Cloud Storage buckets, BigQuery datasets, and the databases and file stores read per project
through their own admin APIs (providers/gcp_copies.py). Read-only: only list/get/search calls.

Config (`providers.gcp`; at least one of projects, organization, folder):

    providers:
      gcp:
        projects: [acme-prod-eu, acme-analytics]   # project ids to scan
        organization: "123456789012"               # or organizations/123456789012: adds every ACTIVE
        folder: "345678901234"                     #   project under it (Resource Manager, folders walked)
        services: [storage, bigquery, spanner, firestore, cloudsql, bigtable, alloydb, filestore, redis]
                                                   # default: all
        asset_inventory: true                      # with a scope: every project's stores from Cloud Asset
                                                   #   Inventory's ListAssets (providers/gcp_assets.py); false:
                                                   #   one listing per project and service
        timeout: 30                                # seconds per HTTP request
        retry_seconds: 20                          # time budget for retrying 429/5xx answers; 0 = never
        workers: 8                                 # (project, service) targets scanned in parallel
        storage_endpoint: https://storage-psc.p.googleapis.com   # endpoint overrides: Private Service Connect,
        bigquery_endpoint: https://bigquery.europe-west3.rep.googleapis.com   # regional endpoints, emulators
        resource_manager_endpoint: https://...
        asset_endpoint: https://...
        spanner_endpoint: https://...              # and the admin APIs of providers/gcp_copies.py: spanner,
        firestore_endpoint: https://...            #   firestore, sqladmin, bigtableadmin, alloydb, file
        sqladmin_endpoint: https://...             #   (Filestore) and redis (Memorystore)
        bigtableadmin_endpoint: https://...
        alloydb_endpoint: https://...
        filestore_endpoint: https://...
        redis_endpoint: https://...
        kms_endpoint: https://...                  # Cloud KMS, for the stores' default keys (providers/gcp_keys.py)
        emulator: false                            # true: the overridden endpoints are emulators, called with
                                                   #   anonymous credentials (plain http:// is then accepted)

Credentials: application-default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata server) for
every call, an overridden endpoint included (Private Service Connect and regional endpoints are Google's own
and need them); anonymous credentials only with `emulator: true`, and for Cloud Storage when
`STORAGE_EMULATOR_HOST` gives its endpoint (the way google-cloud-storage honours it: used when no
`storage_endpoint` is set). Without `emulator: true` an endpoint must be https://, or http:// on a loopback
host, so real credentials never travel in clear text. Connection failures are not retried, so a dead
endpoint fails at once; each (project, service) outcome goes to the TargetLog (account = project id,
region `global`; an organization/folder-wide call has account `*` and the scope as its region, since a
scope is not an account with an owner) and one failure never stops the rest.

What each store reports:
* `gcs-bucket`, id `//storage.googleapis.com/projects/_/buckets/NAME` (the Cloud Asset Inventory full
  resource name). A region bucket gives its region; a configurable dual-region gives one location per
  `customPlacementConfig.dataLocations` entry; a predefined dual-region (`EUR4`) or multi-region (`EU`)
  gives its id in lower case (`eur4`, `eu`), which the catalog's `spans` expands — never one country.
* `bigquery-dataset`, id `//bigquery.googleapis.com/projects/P/datasets/D`, location lower-cased.
* the databases and file stores of providers/gcp_copies.py, id = their Cloud Asset Inventory full resource
  name (`//alloydb.googleapis.com/projects/P/locations/R/clusters/C`, ...), with every copy's region and role.

With an organization or folder scope (and `asset_inventory`, the default), the projects Cloud Asset Inventory
answers for are built from one paged ListAssets per scope instead of their per-project listings
(providers/gcp_assets.py), with the same builders (`bucket_store`, `dataset_store`, providers/gcp_copies.py).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import google.auth
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth.credentials import AnonymousCredentials, Credentials

from providers import gcp_assets, gcp_copies
from providers.base import Provider, TargetLog, is_loopback
from providers.engine import Target, run_target, run_targets
from providers.gcp_keys import KeyReader
from scanner.discovered import DiscoveredStore
from scanner.kinds import services_of
from scanner.yamlfile import Node

SERVICES = services_of("gcp")  # the config `services`, from the registry of store kinds (scanner/kinds.py)
CONFIG_KEYS = {
    "projects", "organization", "folder", "services", "timeout", "retry_seconds", "workers",
    "storage_endpoint", "bigquery_endpoint", "resource_manager_endpoint", "asset_endpoint", "emulator", "kms_endpoint",
    "asset_inventory",
    *(key for key, _ in gcp_copies.ENDPOINTS.values()),
}
READ_ONLY_SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"
GLOBAL = "global"  # TargetLog region of a project's listing: per project, not per region
ANY = "*"  # TargetLog account of an organization/folder-wide call; its region field names the scope

_PROJECT_ID = re.compile(r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_ZONE = re.compile(r"([a-z]+-[a-z]+\d+)-[a-z]")
_TRANSIENT = (
    gexc.TooManyRequests,
    gexc.InternalServerError,
    gexc.BadGateway,
    gexc.ServiceUnavailable,
    gexc.GatewayTimeout,
)


@dataclass(frozen=True)
class GcpSettings:
    projects: tuple[str, ...]
    organization: str | None = None  # organizations/N
    folder: str | None = None  # folders/N
    services: tuple[str, ...] = SERVICES
    timeout: int = 30
    retry_seconds: int = 20
    workers: int = 8
    storage_endpoint: str | None = None
    bigquery_endpoint: str | None = None
    resource_manager_endpoint: str | None = None
    asset_endpoint: str | None = None
    kms_endpoint: str | None = None
    emulator: bool = False  # the overridden endpoints are emulators: anonymous credentials
    database_endpoints: dict[str, str] = field(default_factory=dict)  # spanner, firestore, cloudsql, bigtable
    asset_inventory: bool = True  # with a scope: the stores from ListAssets (providers/gcp_assets.py)

    @property
    def scopes(self) -> list[str]:
        return [scope for scope in (self.organization, self.folder) if scope]


def parse_settings(section: Node) -> GcpSettings:
    """Validate the `providers.gcp` section; every problem is one InputError with file and line."""
    scope_needed = f"{section.name}: name at least one of 'projects', 'organization' or 'folder'"
    if section.value is None:
        raise section.error(scope_needed)
    section.mapping(CONFIG_KEYS)
    projects = tuple(dict.fromkeys(_project_id(item) for item in _str_items(section["projects"])))
    settings = GcpSettings(
        projects=projects,
        organization=_scope(section["organization"], "organizations"),
        folder=_scope(section["folder"], "folders"),
        services=tuple(dict.fromkeys(item.req_str(SERVICES) for item in _str_items(section["services"])))
        or SERVICES,
        timeout=section["timeout"].int(30, minimum=1),
        retry_seconds=section["retry_seconds"].int(20, minimum=0),
        workers=section["workers"].int(8, minimum=1),
        storage_endpoint=_endpoint(section["storage_endpoint"]),
        bigquery_endpoint=_endpoint(section["bigquery_endpoint"]),
        resource_manager_endpoint=_endpoint(section["resource_manager_endpoint"]),
        asset_endpoint=_endpoint(section["asset_endpoint"]),
        kms_endpoint=_endpoint(section["kms_endpoint"]),
        emulator=section["emulator"].bool(False),
        asset_inventory=section["asset_inventory"].bool(True),
        database_endpoints={service: url for service, (key, _) in gcp_copies.ENDPOINTS.items()
                            if (url := _endpoint(section[key]))},
    )
    if not settings.emulator:
        for key in sorted(key for key in CONFIG_KEYS if key.endswith("_endpoint")):
            _no_credentials_in_clear(section[key])
    if not settings.projects and not settings.scopes:
        raise section.error(scope_needed)
    return settings


def _str_items(node: Node) -> list[Node]:
    return [node] if isinstance(node.value, str) else list(node.items())


def _project_id(node: Node) -> str:
    text = node.req_str()
    if not _PROJECT_ID.fullmatch(text):
        raise node.error(
            f"{node.name}: '{text}' is not a project id (6-30 characters: lower-case letters, digits, hyphens; "
            "starts with a letter)"
        )
    return text


def _scope(node: Node, kind: str) -> str | None:
    text = node.str()
    if text is None:
        return None
    number = text.removeprefix(f"{kind}/")
    if not number.isdigit():
        raise node.error(f"{node.name}: expected a numeric id or '{kind}/NUMBER', got '{text}'")
    return f"{kind}/{number}"


def _no_credentials_in_clear(node: Node) -> None:
    """Real credentials go only to https:// or a loopback http:// endpoint."""
    url = node.str()
    host = (urlsplit(url).hostname or "") if url else ""
    if url and url.startswith("http://") and not is_loopback(host):
        raise node.error(f"{node.name}: plain http would send Google credentials in clear text to '{host}'; use "
                         "https, or set 'emulator: true' if this is an emulator (anonymous credentials)")


def _endpoint(node: Node) -> str | None:
    text = node.str()
    if text is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", text):
        raise node.error(f"{node.name}: expected an http:// or https:// URL, got '{text}'")
    return text.rstrip("/") if text else None


# ---------------------------------------------------------------------------------------------
# Locations
# ---------------------------------------------------------------------------------------------


def region_of(location: str) -> str:
    """Lower-case a GCP location id and reduce a zone (`europe-west3-b`) to its region."""
    location = location.strip().lower()
    zone = _ZONE.fullmatch(location)
    return zone.group(1) if zone else location


def bucket_locations(
    location: str | None, location_type: str | None, data_locations: Iterable[str] | None
) -> list[tuple[str, str]]:
    """(region id, learned_from) for every place a bucket's object data lives, as the bucket reports it."""
    placed = [region_of(loc) for loc in data_locations or () if loc]
    if placed:
        return [(region, "buckets.list customPlacementConfig.dataLocations") for region in placed]
    if not location:
        return []
    return [(region_of(location), f"buckets.list location (locationType={location_type or 'unreported'})")]


# ---------------------------------------------------------------------------------------------
# Provider
# ---------------------------------------------------------------------------------------------


class GcpProvider(Provider):
    name = "gcp"

    def __init__(self, settings: GcpSettings):
        self.settings = settings
        self._credentials: Credentials | None = None
        self._credentials_error: Exception | None = None
        self._credentials_lock = threading.Lock()
        self._project_numbers: dict[str, str] = {}  # project number -> id, from Resource Manager
        self.keys = self._key_reader()  # the Cloud KMS keys the stores name, each read once per scan

    @classmethod
    def from_config(cls, section: Node) -> GcpProvider:
        return cls(parse_settings(section))

    # -- orchestration -------------------------------------------------------------------------
    def units(self, log: TargetLog) -> list[str]:
        """The projects to scan: the configured ones and every project under the organization/folder scopes."""
        return self._projects(log)

    def discover_unit(self, unit: str, log: TargetLog) -> list[DiscoveredStore]:
        return self._scan_targets(log, self._tasks(unit))

    def discover(self, log: TargetLog) -> list[DiscoveredStore]:
        """Every project's targets, built from Cloud Asset Inventory's ListAssets where it answers for the
        project."""
        self.keys = self._key_reader()
        units = self.units(log)
        assets = gcp_assets.read(self, list(self.settings.services), log) \
            if self.settings.scopes and self.settings.asset_inventory else None
        return self._scan_targets(log, [task for unit in units for task in self._tasks(unit, assets)])

    def _scan_targets(self, log: TargetLog, tasks: list[tuple[str, str, str, Callable[[], list[Any]]]]
                      ) -> list[DiscoveredStore]:
        targets = [Target(self.name, *task) for task in tasks]
        return _unique(run_targets(targets, log, self.settings.workers, "gcp-scan"))

    def _projects(self, log: TargetLog) -> list[str]:
        """The configured projects, then every project found under the organization/folder scopes."""
        projects = list(self.settings.projects)
        for scope in self.settings.scopes:
            listing = Target(self.name, ANY, scope, "resourcemanager", lambda s=scope: self._projects_under(s),
                             counts_stores=False)
            for project in run_target(listing, log):
                if project not in projects:
                    projects.append(project)
        return projects

    def _tasks(self, unit: str, assets: gcp_assets.AssetInventory | None = None
               ) -> list[tuple[str, str, str, Callable[[], list[Any]]]]:
        """(account, region, service, fetch) for every target of one project. A project Cloud Asset Inventory
        answered for is built from its assets, else listed per project and service."""
        readers: dict[str, Callable[[], list[Any]]] = {
            "storage": lambda: self._buckets(unit), "bigquery": lambda: self._datasets(unit),
            **{service: partial(self._read_databases, reader, service, unit)
               for service, reader in gcp_copies.READERS.items()},
        }
        if assets is not None and assets.covers(unit):
            readers.update({service: partial(kind.build, self, unit, assets.of(unit, kind))
                            for service, kind in gcp_assets.BY_SERVICE.items()})
        return [(unit, GLOBAL, service, reader) for service, reader in readers.items()
                if service in self.settings.services]

    def _key_reader(self) -> KeyReader:
        endpoint = self.settings.kms_endpoint
        return KeyReader(lambda: self._credentials_for(endpoint), endpoint, self.settings.timeout)
    def _read_databases(self, reader: Callable[[gcp_copies.GoogleJson, str], list[Any]], service: str,
                        project: str) -> list[Any]:
        """One project's databases of one admin API (providers/gcp_copies.py), with the provider's credentials."""
        return reader(self.database_api(service), project)

    def database_api(self, service: str) -> gcp_copies.GoogleJson:
        """A database admin API (spanner, firestore, cloudsql, bigtable) as JSON, with the provider's credentials."""
        endpoint = self.settings.database_endpoints.get(service)
        return gcp_copies.GoogleJson(self._credentials_for(endpoint), endpoint or gcp_copies.ENDPOINTS[service][1],
                                     self.settings.timeout)

    def asset_api(self) -> gcp_copies.GoogleJson:
        """Cloud Asset Inventory's REST API as JSON (ListAssets), with the provider's credentials."""
        endpoint = self.settings.asset_endpoint
        return gcp_copies.GoogleJson(self._credentials_for(endpoint), endpoint or gcp_assets.ASSET_API,
                                     self.settings.timeout)

    def project_id(self, number: str) -> str:
        """The id of a project Resource Manager listed under a scope, by number; "" if it was not listed."""
        return self._project_numbers.get(number, "")

    # -- clients -------------------------------------------------------------------------------
    def _credentials_for(self, endpoint: str | None, emulator: bool | None = None) -> Credentials:
        """Anonymous for an overridden endpoint that is an emulator (`emulator: true`, or `emulator` given);
        application-default credentials (looked up once) otherwise, an overridden endpoint included."""
        if endpoint and (self.settings.emulator if emulator is None else emulator):
            return AnonymousCredentials()
        with self._credentials_lock:
            if self._credentials is None and self._credentials_error is None:
                try:
                    self._credentials, _ = google.auth.default(scopes=[READ_ONLY_SCOPE])
                except Exception as exc:  # DefaultCredentialsError, RefreshError, metadata timeouts
                    self._credentials_error = exc
            if self._credentials_error is not None:
                raise self._credentials_error
            assert self._credentials is not None
            return self._credentials

    def _client_options(self, endpoint: str | None) -> dict[str, str] | None:
        return {"api_endpoint": endpoint} if endpoint else None

    def _retry(self) -> Retry | None:
        """Retry only answers that say 'try again' (429, 5xx), within the configured budget."""
        if self.settings.retry_seconds == 0:
            return None
        return Retry(
            predicate=if_exception_type(*_TRANSIENT),
            initial=0.5,
            maximum=5.0,
            multiplier=2.0,
            timeout=self.settings.retry_seconds,
        )

    def _storage_endpoint(self) -> str | None:
        endpoint = self.settings.storage_endpoint or os.environ.get("STORAGE_EMULATOR_HOST") or None
        if endpoint and "://" not in endpoint:
            endpoint = f"http://{endpoint}"
        return endpoint

    # -- Resource Manager ----------------------------------------------------------------------
    def _projects_under(self, scope: str) -> list[str]:
        """Every ACTIVE project under an organization or folder, walking sub-folders."""
        from google.cloud import resourcemanager_v3

        endpoint = self.settings.resource_manager_endpoint
        options = {"credentials": self._credentials_for(endpoint), "transport": "rest"}
        options["client_options"] = self._client_options(endpoint)
        projects_client = resourcemanager_v3.ProjectsClient(**options)
        folders_client = resourcemanager_v3.FoldersClient(**options)
        call = {"retry": self._retry(), "timeout": self.settings.timeout}
        found: list[str] = []
        pending, seen = [scope], {scope}
        while pending:
            parent = pending.pop(0)
            for project in projects_client.list_projects(request={"parent": parent}, **call):
                if project.state == resourcemanager_v3.Project.State.ACTIVE:
                    found.append(project.project_id)
                    self._project_numbers[project.name.removeprefix("projects/")] = project.project_id
            for folder in folders_client.list_folders(request={"parent": parent}, **call):
                if folder.state == resourcemanager_v3.Folder.State.ACTIVE and folder.name not in seen:
                    seen.add(folder.name)
                    pending.append(folder.name)
        return found

    # -- Cloud Storage -------------------------------------------------------------------------
    def _buckets(self, project: str) -> list[DiscoveredStore]:
        from google.cloud import storage

        endpoint = self._storage_endpoint()
        from_env = not self.settings.storage_endpoint and bool(endpoint)  # STORAGE_EMULATOR_HOST: an emulator
        client = storage.Client(
            project=project,
            credentials=self._credentials_for(endpoint, self.settings.emulator or from_env),
            client_options=self._client_options(endpoint),
        )
        buckets = client.list_buckets(project=project, retry=self._retry(), timeout=self.settings.timeout)
        return [self.bucket_store(project, bucket._properties) for bucket in buckets]

    def bucket_store(self, project: str, bucket: dict[str, Any], source: str = "buckets.list") -> DiscoveredStore:
        """A bucket from its Cloud Storage JSON (buckets.list item, or a Cloud Asset Inventory asset's data)."""
        location = bucket.get("location")
        store = DiscoveredStore(
            id=f"//storage.googleapis.com/projects/_/buckets/{bucket['name']}",
            provider=self.name,
            account=project,
            kind="gcs-bucket",
            name=bucket["name"],
            region=region_of(location) if location else "unknown",
            tags=dict(bucket.get("labels") or {}),
        )
        placed = (bucket.get("customPlacementConfig") or {}).get("dataLocations")
        for region, learned_from in bucket_locations(location, bucket.get("locationType"), placed):
            store.add_location(region, "primary", learned_from.replace("buckets.list", source))
        if not store.locations:
            store.unknowns.append(f"location: {source} returned no location for this bucket")
        kms_key = (bucket.get("encryption") or {}).get("defaultKmsKeyName")
        store.encryption = self.keys.facts(kms_key, f"{source} encryption.defaultKmsKeyName")
        return store

    # -- BigQuery ------------------------------------------------------------------------------
    def _datasets(self, project: str) -> list[DiscoveredStore]:
        from google.cloud import bigquery

        endpoint = self.settings.bigquery_endpoint
        client = bigquery.Client(
            project=project,
            credentials=self._credentials_for(endpoint),
            client_options=self._client_options(endpoint),
        )
        call = {"retry": self._retry(), "timeout": self.settings.timeout}
        stores = []
        for item in client.list_datasets(project=project, include_all=True, **call):
            # datasets.list gives no default encryption key: datasets.get per dataset (which gives the location too)
            dataset = client.get_dataset(item.reference, **call)
            stores.append(self.dataset_store(project, {**dataset._properties, **item._properties,
                                                       "location": item._properties.get("location")
                                                       or dataset.location}))
        return stores

    def dataset_store(self, project: str, dataset: dict[str, Any], source: str = "datasets.list") -> DiscoveredStore:
        """A dataset from its BigQuery JSON (datasets.list item merged with datasets.get, or an asset's data)."""
        dataset_id = dataset["datasetReference"]["datasetId"]
        location = dataset.get("location")
        store = DiscoveredStore(
            id=f"//bigquery.googleapis.com/projects/{project}/datasets/{dataset_id}",
            provider=self.name,
            account=project,
            kind="bigquery-dataset",
            name=dataset_id,
            region=region_of(location) if location else "unknown",
            tags=dict(dataset.get("labels") or {}),
        )
        if location:
            store.add_location(region_of(location), "primary", f"{source} location")
        else:
            store.unknowns.append("location: BigQuery returned no location for this dataset")
        kms_key = (dataset.get("defaultEncryptionConfiguration") or {}).get("kmsKeyName")
        detail = "datasets.get" if source == "datasets.list" else source
        store.encryption = self.keys.facts(kms_key, f"{detail} defaultEncryptionConfiguration.kmsKeyName")
        return store


def _unique(stores: Iterable[DiscoveredStore]) -> list[DiscoveredStore]:
    seen: dict[str, DiscoveredStore] = {}
    for store in stores:
        seen.setdefault(store.id, store)
    return list(seen.values())
