"""Small read-only fakes of the Google Cloud REST APIs the GCP provider reads, for tests and the demo.

Why our own servers and not gcp-storage-emulator: the emulator drops `location`, `locationType`, `labels`
and `customPlacementConfig` on bucket insert, ignores `maxResults`/`pageToken` and shows every bucket to
every project (gcp-storage-emulator 2026.7, as checked here). Patching its insert handler would fix the first gap
only; the provider's correctness depends on all three, so these fakes implement exactly the read
endpoints the google-cloud clients call, with the real JSON shapes:

* `FakeGcsServer` — Cloud Storage JSON API: `GET /storage/v1/b?project=` (buckets.list, paginated by
  `maxResults`/`pageToken`, scoped to the project) and `GET /storage/v1/b/NAME` (buckets.get).
* `FakeBigQueryServer` — BigQuery v2: `GET /bigquery/v2/projects/P/datasets` (datasets.list, paginated)
  and `GET /bigquery/v2/projects/P/datasets/D` (datasets.get).
* `FakeResourceServer` — Resource Manager v3 `GET /v3/projects?parent=`, `GET /v3/folders?parent=`, as the REST
  transport of google-cloud-resource-manager sends them; and Cloud Asset v1 ListAssets
  `GET /v1/SCOPE/assets?assetTypes=&contentType=RESOURCE` over the stores the other fakes hold (their
  `inventory()`, attached with `add_inventory`), with the documented Asset shape: name, assetType,
  resource {version, discoveryDocumentUri, discoveryName, parent, data, location}, ancestors, updateTime.

Data is seeded in process (`add_bucket`, `add_dataset`, `add_project`, ...), never over HTTP, so every
HTTP request a scanner makes must be a read. Each server binds 127.0.0.1 on a free port, records every
request (`requests`), answers any non-GET with 405 and lists it in `violations`, can deny a project or
scope with a Google-style 403 (`deny`), can fail the next requests with a chosen status (`fail_next`),
and caps its page size (`page_size`) so tests can force pagination.

`DeadEndpoint` is a TCP listener that accepts and immediately drops every connection, counting them:
a test can prove the provider does not retry a dead endpoint.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

Query = dict[str, list[str]]
Response = tuple[int, dict[str, Any]]

MULTI_REGIONS = {"EU", "US", "ASIA"}
PREDEFINED_DUAL_REGIONS = {"ASIA1", "EUR4", "EUR5", "EUR7", "EUR8", "NAM4"}
_TIMESTAMP = "2026-01-15T09:30:00.000Z"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Query
    status: int
    auth_scheme: str = ""  # the Authorization header's scheme and token ("Bearer ya29..."); "" when none was sent


class ApiError(Exception):
    """Raised by a route to answer with a Google-style JSON error."""

    STATUS_NAMES: ClassVar[dict[int, str]] = {
        400: "INVALID_ARGUMENT",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
    }

    def __init__(self, code: int, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason

    def body(self) -> dict[str, Any]:
        status = self.STATUS_NAMES.get(self.code, "UNAVAILABLE" if self.code >= 500 else "UNKNOWN")
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
                "status": status,
            }
        }


def forbidden(what: str) -> ApiError:
    return ApiError(403, f"The caller does not have permission to access {what}", "forbidden")


def page(items: list[dict[str, Any]], query: Query, max_page: int, size_param: str) -> tuple[list[dict], str | None]:
    """Cut one page out of `items`: page size is min(request, server cap); the token is an opaque offset."""
    size = max_page
    if query.get(size_param):
        try:
            size = max(1, min(int(query[size_param][0]), max_page))
        except ValueError:
            raise ApiError(400, f"Invalid value for {size_param}") from None
    start = 0
    if query.get("pageToken") and query["pageToken"][0]:
        try:
            start = int(base64.urlsafe_b64decode(query["pageToken"][0].encode()).decode().removeprefix("offset:"))
        except ValueError:
            raise ApiError(400, "Invalid page token") from None
    end = start + size
    token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], token


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def _dispatch(self) -> None:
        self.server.fake.dispatch(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `requests` instead of stderr."""

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeApiServer


Route = tuple[re.Pattern[str], Callable[[re.Match[str], Query], dict[str, Any]]]
# a store as Cloud Asset Inventory holds it: (project id, asset type, asset name, resource.data, location)
InventoryItem = tuple[str, str, str, dict[str, Any], str]


class FakeApiServer:
    """Mechanics shared by the fakes: start/stop, request log, denials, injected failures, routing."""

    name = "fake"

    def __init__(self, page_size: int = 1000):
        self.page_size = page_size
        self.requests: list[RecordedRequest] = []
        self.denied: set[str] = set()
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeApiServer:
        server = _HttpServer(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.name}-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{self.name} server not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------------------
    def deny(self, *names: str) -> None:
        """Answer 403 for these projects (id or number) or scopes (organizations/N, folders/N)."""
        self.denied.update(names)

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests with `status` (e.g. 503 to exercise retries)."""
        with self._lock:
            self._failures.extend([status] * count)

    @property
    def violations(self) -> list[RecordedRequest]:
        """Every request that was not a read."""
        return [request for request in self.requests if request.method != "GET"]

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    # -- request handling ----------------------------------------------------------------------
    def routes(self) -> list[Route]:
        raise NotImplementedError

    def dispatch(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        status, body = self._respond(handler.command, path, query)
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, path, query, status,
                                                 handler.headers.get("Authorization") or ""))
        handler.reply(status, body)

    def _respond(self, method: str, path: str, query: Query) -> Response:
        try:
            if method != "GET":
                raise ApiError(405, f"{method} is not allowed: this fake API is read-only", "methodNotAllowed")
            with self._lock:
                injected = self._failures.pop(0) if self._failures else None
            if injected:
                raise ApiError(injected, "injected failure", "backendError")
            for pattern, route in self.routes():
                match = pattern.fullmatch(path)
                if match:
                    return 200, route(match, query)
            raise ApiError(404, f"No such resource: {path}", "notFound")
        except ApiError as exc:
            return exc.code, exc.body()

    def check_allowed(self, *names: str) -> None:
        for name in names:
            if name in self.denied:
                raise forbidden(name)


# ---------------------------------------------------------------------------------------------
# Cloud Storage
# ---------------------------------------------------------------------------------------------


@dataclass
class _Project:
    id: str
    number: str


class FakeGcsServer(FakeApiServer):
    """Cloud Storage JSON API, bucket read endpoints only."""

    name = "gcs"

    def __init__(self, page_size: int = 1000):
        super().__init__(page_size)
        self.buckets: dict[str, dict[str, Any]] = {}
        self._bucket_project: dict[str, str] = {}
        self.projects: dict[str, _Project] = {}

    def inventory(self) -> list[InventoryItem]:
        """Every bucket as Cloud Asset Inventory holds it (asset name //storage.googleapis.com/NAME)."""
        return [(self._bucket_project[name], "storage.googleapis.com/Bucket", f"//storage.googleapis.com/{name}",
                 bucket, bucket["location"].lower()) for name, bucket in sorted(self.buckets.items())]

    def add_project(self, project_id: str, number: str | int | None = None) -> None:
        number = str(number or 100000000000 + len(self.projects) + 1)
        self.projects[project_id] = _Project(project_id, number)

    def add_bucket(
        self,
        project: str,
        name: str,
        location: str,
        location_type: str | None = None,
        labels: dict[str, str] | None = None,
        data_locations: list[str] | None = None,
        storage_class: str = "STANDARD",
        kms_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a bucket as the real API reports it (location upper-case; locationType derived if not given)."""
        if name in self.buckets:
            raise ValueError(f"bucket {name} exists")
        if project not in self.projects:
            self.add_project(project)
        location = location.upper()
        resource: dict[str, Any] = {
            "kind": "storage#bucket",
            "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}",
            "id": name,
            "name": name,
            "projectNumber": self.projects[project].number,
            "metageneration": "1",
            "location": location,
            "locationType": location_type or _location_type(location, data_locations),
            "storageClass": storage_class,
            "etag": "CAE=",
            "timeCreated": _TIMESTAMP,
            "updated": _TIMESTAMP,
        }
        if labels:
            resource["labels"] = dict(labels)
        if data_locations:
            resource["customPlacementConfig"] = {"dataLocations": [loc.upper() for loc in data_locations]}
        if kms_key:  # Bucket resource: encryption.defaultKmsKeyName, a Cloud KMS key name
            resource["encryption"] = {"defaultKmsKeyName": kms_key}
        self.buckets[name] = resource
        self._bucket_project[name] = project
        return resource

    def routes(self) -> list[Route]:
        return [
            (re.compile(r"/storage/v1/b"), self._list_buckets),
            (re.compile(r"/storage/v1/b/([^/]+)"), self._get_bucket),
        ]

    def _project_id(self, ref: str) -> str | None:
        for project in self.projects.values():
            if ref in (project.id, project.number):
                return project.id
        return None

    def _list_buckets(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        if not query.get("project") or not query["project"][0]:
            raise ApiError(400, "Required parameter: project", "required")
        ref = query["project"][0]
        project = self._project_id(ref)
        self.check_allowed(ref, *([project] if project else []))
        names = sorted(name for name, owner in self._bucket_project.items() if owner == project)
        items, token = page([self.buckets[name] for name in names], query, self.page_size, "maxResults")
        body: dict[str, Any] = {"kind": "storage#buckets", "items": items}
        if token:
            body["nextPageToken"] = token
        return body

    def _get_bucket(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        name = match.group(1)
        if name not in self.buckets:
            raise ApiError(404, f"The specified bucket does not exist: {name}", "notFound")
        self.check_allowed(self._bucket_project[name])
        return self.buckets[name]


def _location_type(location: str, data_locations: list[str] | None) -> str:
    if data_locations or location in PREDEFINED_DUAL_REGIONS:
        return "dual-region"
    if location in MULTI_REGIONS:
        return "multi-region"
    if re.fullmatch(r"[A-Z]+-[A-Z]+\d+-[A-Z]", location):
        return "zone"
    return "region"


# ---------------------------------------------------------------------------------------------
# BigQuery
# ---------------------------------------------------------------------------------------------


class FakeBigQueryServer(FakeApiServer):
    """BigQuery v2 REST, dataset read endpoints only."""

    name = "bigquery"

    def __init__(self, page_size: int = 1000):
        super().__init__(page_size)
        self.datasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.list_includes_location = True  # False: omit `location` from datasets.list items (exercises a fallback)

    def inventory(self) -> list[InventoryItem]:
        """Every dataset as Cloud Asset Inventory holds it (the Dataset resource, as datasets.get gives it)."""
        return [(project, "bigquery.googleapis.com/Dataset",
                 f"//bigquery.googleapis.com/projects/{project}/datasets/{dataset}", doc, doc["location"].lower())
                for (project, dataset), doc in sorted(self.datasets.items())]

    def add_dataset(
        self, project: str, dataset_id: str, location: str, labels: dict[str, str] | None = None,
        kms_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a dataset; multi-regions are upper-case (`EU`), regions lower-case, as BigQuery reports them."""
        location = location.upper() if location.upper() in MULTI_REGIONS else location.lower()
        resource: dict[str, Any] = {
            "kind": "bigquery#dataset",
            "id": f"{project}:{dataset_id}",
            "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{project}/datasets/{dataset_id}",
            "datasetReference": {"projectId": project, "datasetId": dataset_id},
            "location": location,
            "labels": dict(labels or {}),
            "etag": "ZmFrZQ==",
            "creationTime": "1768469400000",
            "lastModifiedTime": "1768469400000",
            "type": "DEFAULT",
        }
        if kms_key:  # Dataset resource: defaultEncryptionConfiguration.kmsKeyName (datasets.get only, not the list)
            resource["defaultEncryptionConfiguration"] = {"kmsKeyName": kms_key}
        self.datasets[(project, dataset_id)] = resource
        return resource

    def routes(self) -> list[Route]:
        return [
            (re.compile(r"/bigquery/v2/projects/([^/]+)/datasets"), self._list_datasets),
            (re.compile(r"/bigquery/v2/projects/([^/]+)/datasets/([^/]+)"), self._get_dataset),
        ]

    def _list_datasets(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        project = match.group(1)
        self.check_allowed(project)
        found = [self.datasets[key] for key in sorted(self.datasets) if key[0] == project]
        keys = ("kind", "id", "datasetReference", "labels", *(("location",) if self.list_includes_location else ()))
        listed = [{key: item[key] for key in keys} for item in found]
        items, token = page(listed, query, self.page_size, "maxResults")
        body: dict[str, Any] = {"kind": "bigquery#datasetList", "etag": "ZmFrZQ=="}
        if items:
            body["datasets"] = items
        if token:
            body["nextPageToken"] = token
        return body

    def _get_dataset(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        project, dataset_id = match.group(1), match.group(2)
        self.check_allowed(project)
        if (project, dataset_id) not in self.datasets:
            raise ApiError(404, f"Not found: Dataset {project}:{dataset_id}", "notFound")
        return self.datasets[(project, dataset_id)]


# ---------------------------------------------------------------------------------------------
# Resource Manager v3 + Cloud Asset v1
# ---------------------------------------------------------------------------------------------


@dataclass
class _Node:
    name: str  # organizations/N, folders/N or projects/N
    parent: str | None
    body: dict[str, Any] = field(default_factory=dict)


class FakeResourceServer(FakeApiServer):
    """Resource Manager v3 (projects and folders list) and Cloud Asset v1 ListAssets."""

    name = "resources"

    def __init__(self, page_size: int = 1000):
        super().__init__(page_size)
        self.nodes: dict[str, _Node] = {}
        self.inventories: list[Callable[[], list[InventoryItem]]] = []  # ListAssets' sources (add_inventory)
        self.assets_off = False  # True: ListAssets answers 403 SERVICE_DISABLED (the Cloud Asset API is off)
        self.hidden_from_assets: set[str] = set()  # project ids ListAssets does not answer for

    def add_organization(self, number: str | int) -> str:
        name = f"organizations/{number}"
        self.nodes[name] = _Node(name, None, {"name": name, "state": "ACTIVE"})
        return name

    def add_folder(self, number: str | int, parent: str, display_name: str = "") -> str:
        name = f"folders/{number}"
        body = {"name": name, "parent": parent, "displayName": display_name or name, "state": "ACTIVE"}
        self.nodes[name] = _Node(name, parent, body)
        return name

    def add_project(self, project_id: str, number: str | int, parent: str, state: str = "ACTIVE") -> str:
        name = f"projects/{number}"
        body = {
            "name": name,
            "parent": parent,
            "projectId": project_id,
            "state": state,
            "displayName": project_id,
            "createTime": _TIMESTAMP,
        }
        self.nodes[name] = _Node(name, parent, body)
        return name

    def routes(self) -> list[Route]:
        return [
            (re.compile(r"/v3/projects"), self._list_projects),
            (re.compile(r"/v3/folders"), self._list_folders),
            (re.compile(r"/v1/((?:organizations|folders|projects)/[^/:]+)/assets"), self._list_assets),
        ]

    # -- ListAssets ----------------------------------------------------------------------------
    def add_inventory(self, source: Callable[[], list[InventoryItem]]) -> None:
        """A fake whose stores ListAssets lists (its `inventory()`), read at each request."""
        self.inventories.append(source)

    def _ancestors(self, name: str) -> list[str]:
        chain: list[str] = []
        current: str | None = name
        while current:
            chain.append(current)
            node = self.nodes.get(current)
            current = node.parent if node else None
        return chain

    def _asset(self, name: str, asset_type: str, project: str, data: dict[str, Any], location: str
               ) -> dict[str, Any]:
        service, discovery = asset_type.split("/")
        return {"name": name, "assetType": asset_type, "updateTime": _TIMESTAMP, "ancestors": self._ancestors(project),
                "resource": {"version": "v1", "discoveryName": discovery, "data": data, "location": location,
                             "discoveryDocumentUri": f"https://{service}/$discovery/rest",
                             "parent": f"//cloudresourcemanager.googleapis.com/{project}"}}

    def _inventory(self) -> list[dict[str, Any]]:
        by_id = {node.body["projectId"]: node.name for node in self.nodes.values() if "projectId" in node.body}
        found = []
        for node in self.nodes.values():
            if node.name.startswith("projects/") and node.body["projectId"] not in self.hidden_from_assets:
                data = {"projectNumber": node.name.removeprefix("projects/"), "projectId": node.body["projectId"],
                        "lifecycleState": "ACTIVE" if node.body["state"] == "ACTIVE" else node.body["state"],
                        "name": node.body["displayName"], "createTime": _TIMESTAMP,
                        "parent": {"type": node.parent.split("/")[0][:-1], "id": node.parent.split("/")[1]}
                        if node.parent else {}}
                found.append(self._asset(f"//cloudresourcemanager.googleapis.com/{node.name}",
                                         "cloudresourcemanager.googleapis.com/Project", node.name, data, "global"))
        for source in self.inventories:
            for project_id, asset_type, name, data, location in source():
                if project_id in by_id and project_id not in self.hidden_from_assets:
                    found.append(self._asset(name, asset_type, by_id[project_id], data, location))
        return found

    def _list_assets(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        scope = match.group(1)
        if self.assets_off:
            raise ApiError(403, "Cloud Asset API has not been used in this project before or it is disabled.",
                           "SERVICE_DISABLED")
        self.check_allowed(scope)
        if scope not in self.nodes:
            raise forbidden(scope)
        if (query.get("contentType") or [""])[0] != "RESOURCE":
            raise ApiError(400, "Only contentType RESOURCE is implemented by this fake", "badRequest")
        types = set(query.get("assetTypes", []))
        found = [asset for asset in self._inventory()
                 if scope in asset["ancestors"] and (not types or asset["assetType"] in types)]
        items, token = page(found, query, self.page_size, "pageSize")
        return {"readTime": _TIMESTAMP, "assets": items, **({"nextPageToken": token} if token else {})}

    def _children(self, query: Query, kind: str) -> list[dict[str, Any]]:
        parent = (query.get("parent") or [""])[0]
        if not parent:
            raise ApiError(400, "parent is required", "required")
        self.check_allowed(parent)
        if parent not in self.nodes:
            raise forbidden(parent)  # Resource Manager answers 403 for parents the caller cannot see
        return [node.body for node in self.nodes.values() if node.parent == parent and node.name.startswith(kind)]

    def _list_projects(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        items, token = page(self._children(query, "projects/"), query, self.page_size, "pageSize")
        return {"projects": items, **({"nextPageToken": token} if token else {})}

    def _list_folders(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        items, token = page(self._children(query, "folders/"), query, self.page_size, "pageSize")
        return {"folders": items, **({"nextPageToken": token} if token else {})}


# ---------------------------------------------------------------------------------------------
# Cloud KMS v1
# ---------------------------------------------------------------------------------------------


class FakeKmsServer(FakeApiServer):
    """Cloud KMS v1 REST, read endpoints the provider uses: `GET /v1/projects/P/locations/L/keyRings/R/cryptoKeys/K`
    (cryptoKeys.get: a CryptoKey with its `primary` CryptoKeyVersion's `protectionLevel` SOFTWARE | HSM | EXTERNAL |
    EXTERNAL_VPC and, for Cloud EKM, `externalProtectionLevelOptions`) and `GET /v1/projects/P/locations/L/
    ekmConnections/C` (ekmConnections.get: `serviceResolvers[].hostname` of the external key manager)."""

    name = "kms"

    def __init__(self, page_size: int = 1000):
        super().__init__(page_size)
        self.keys: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}

    def add_key(self, name: str, protection_level: str, external_key_uri: str | None = None,
                ekm_connection: str | None = None) -> dict[str, Any]:
        """A symmetric key `projects/P/locations/L/keyRings/R/cryptoKeys/K` whose primary version has the level."""
        primary: dict[str, Any] = {
            "name": f"{name}/cryptoKeyVersions/1", "state": "ENABLED", "protectionLevel": protection_level,
            "algorithm": "EXTERNAL_SYMMETRIC_ENCRYPTION" if protection_level.startswith("EXTERNAL")
            else "GOOGLE_SYMMETRIC_ENCRYPTION", "createTime": _TIMESTAMP, "generateTime": _TIMESTAMP,
        }
        if external_key_uri:
            primary["externalProtectionLevelOptions"] = {"externalKeyUri": external_key_uri}
        elif ekm_connection:
            primary["externalProtectionLevelOptions"] = {"ekmConnectionKeyPath": "v0/keys/" + name.rsplit("/")[-1]}
        key: dict[str, Any] = {
            "name": name, "primary": primary, "purpose": "ENCRYPT_DECRYPT", "createTime": _TIMESTAMP,
            "versionTemplate": {"protectionLevel": protection_level, "algorithm": primary["algorithm"]},
            "destroyScheduledDuration": "2592000s",
        }
        if ekm_connection:
            key["cryptoKeyBackend"] = ekm_connection
        self.keys[name] = key
        return key

    def add_ekm_connection(self, name: str, hostname: str) -> dict[str, Any]:
        """An EKM connection `projects/P/locations/L/ekmConnections/C` to a key manager at `hostname`."""
        connection = {"name": name, "createTime": _TIMESTAMP, "keyManagementMode": "MANUAL", "serviceResolvers": [
            {"serviceDirectoryService": f"{name}/services/ekm", "hostname": hostname,
             "serverCertificates": [{"rawDer": "ZmFrZQ==", "parsed": True}]}]}
        self.connections[name] = connection
        return connection

    def routes(self) -> list[Route]:
        return [
            (re.compile(r"/v1/(projects/([^/]+)/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+)"), self._get_key),
            (re.compile(r"/v1/(projects/([^/]+)/locations/[^/]+/ekmConnections/[^/]+)"), self._get_connection),
        ]

    def _get_key(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        return self._get(self.keys, match, "CryptoKey")

    def _get_connection(self, match: re.Match[str], query: Query) -> dict[str, Any]:
        return self._get(self.connections, match, "EkmConnection")

    def _get(self, items: dict[str, dict[str, Any]], match: re.Match[str], what: str) -> dict[str, Any]:
        self.check_allowed(match.group(2))
        if match.group(1) not in items:
            raise ApiError(404, f"{what} {match.group(1)} not found.", "notFound")
        return items[match.group(1)]


# ---------------------------------------------------------------------------------------------
# A dead endpoint
# ---------------------------------------------------------------------------------------------


class DeadEndpoint:
    """Accepts TCP connections on 127.0.0.1 and drops them at once; counts how many arrived."""

    def __init__(self) -> None:
        self.connections = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dead-endpoint", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def start(self) -> DeadEndpoint:
        self._socket.listen(16)
        self._socket.settimeout(0.1)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()
