"""Azure: storage accounts, Cosmos DB accounts, SQL databases, managed disks and snapshots, backup vaults and
PostgreSQL/MySQL flexible servers (the last two read by providers/azure_copies.py), SQL managed instances
(providers/azure_sql.py) and Azure Cache for Redis (providers/azure_cache.py) — read-only.

Config section `providers.azure` (every key optional):

    cloud: AzureCloud                 # AzureCloud | AzureUSGovernment | AzureChinaCloud | a partner_clouds name
    arm_endpoint: null                # override the cloud's ARM endpoint, e.g. http://127.0.0.1:8900 (an emulator)
    subscriptions: []                 # subscription ids; default: every subscription the credential can see
    services: [storage, cosmosdb, sql, disks, snapshots, backup, postgresql, mysql, sqlmi, redis]
    retries: 2                        # HTTP retries per call (0 in tests, so a dead endpoint fails at once)
    timeout: 30                       # seconds to connect and to read, per HTTP call
    max_workers: 4                    # concurrent (subscription, service) inventories
    resource_graph: false             # true: list every subscription's stores in one Resource Graph query
    management_groups: []             #   scoped to these management group ids (default: the subscriptions)
    partner_clouds:                   # Azure technology run by another operator (Bleu, Delos, ...)
      AzureBleuCloud:
        arm_endpoint: https://management.partner.example   # required: the partner's ARM endpoint
        operator: bleu                # required: catalog entity id of the operator
        regions: {bleufrancecentral: FR, bleufrancesouth: FR}   # location name -> ISO country
        authority: login.partner.example   # optional: Entra ID host for DefaultAzureCredential
        audience: https://management.partner.example   # optional: token audience (default arm_endpoint)

Credentials: when `AZURE_ACCESS_TOKEN` is set its value is sent as the bearer token (useful for
emulators and short-lived CI tokens); otherwise azure-identity's DefaultAzureCredential with the
cloud's authority. Every client of a scan shares one `ScanCredential`: a token is fetched once per scope, and a
credential that fails (no credential on this host) fails every target of the scan at once instead of running
DefaultAzureCredential's chain again for each. Plain `http://` endpoints are accepted for loopback hosts only.
Tokens are never logged: azure-core's logging policy redacts the Authorization header and errors carry
only status, ARM error code and message.

Where a copy lives: a storage account's primaryLocation (else location) and, when ARM reports
it, secondaryLocation (GRS, RA-GRS, GZRS, RA-GZRS); when ARM reports only statusOfSecondary, the catalog's
pair of the region (said to be inferred from the pair); a geo-redundant SKU with neither is recorded as an
unknown. Object replication policies: the destination account's region, as a replica of the source. Cosmos DB:
every entry of `locations` (failover priority 0 is the primary; with enableMultipleWriteLocations every write
location is a primary). Geo-redundant backup vaults and flexible servers' geo-redundant backups: the catalog's
pair (see providers/azure_copies.py; `use_catalog` gives the pairs). SQL: each database's location,
the partnerLocation of its replication links and its failover groups' partner servers. Disks and snapshots: their
location. SQL databases', managed instances' and Cosmos DB's geo-redundant (Geo, GeoZone) backups go to the paired
region, which the API does not name: placed in the catalog's pair, said to be inferred; a backup redundancy ARM
does not report is an unknown. Location names are normalised to ARM's lower-case form ("West Europe" ->
"westeurope"), since Cosmos DB reports display names.

Partner clouds: their location names can collide with public ones (a partner may call a
region `francecentral`), so stores in a partner cloud carry region ids namespaced by the cloud
name, e.g. `AzureBleuCloud/bleufrancecentral`. `AzureProvider.catalog_regions(catalog)`
returns catalog `Region`s for the declared `regions` (country and operator from the config);
the scanner adds them to the catalog before resolving locations. Until it does, such regions
resolve to "unknown", never to Microsoft's public region of the same name.

Each (subscription, service) outcome goes to the TargetLog with region "*" (ARM lists are
subscription-wide); 401/403 and AuthorizationFailed are recorded as denied.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import AzureError, ClientAuthenticationError
from azure.core.pipeline import PipelineRequest, policies
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

from providers import azure_cache, azure_copies, azure_graph, azure_sql
from providers.azure_keys import KeyReader, enum_text
from providers.base import Provider, TargetLog, is_loopback
from providers.engine import PartialInventory, Target, run_target, run_targets
from providers.errors import describe_error
from scanner.catalog import Catalog, Region, is_country
from scanner.discovered import DiscoveredStore
from scanner.errors import InputError
from scanner.kinds import services_of
from scanner.model import Role
from scanner.yamlfile import Node

NAME = "azure"
TOKEN_ENV = "AZURE_ACCESS_TOKEN"
SERVICES = services_of(NAME)  # the config `services`, from the registry of store kinds (scanner/kinds.py)
GEO_SKUS = {"GRS", "RAGRS", "GZRS", "RAGZRS"}
SECONDARY_ROLES = {"secondary", "nonreadablesecondary", "copy"}
MANAGEMENT_GROUP_ID = re.compile(r"^[A-Za-z0-9_().-]{1,90}$")
SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ANY_REGION = "*"  # ARM lists are subscription-wide, not per region


@dataclass(frozen=True)
class CloudProfile:
    name: str
    arm_endpoint: str
    audience: str  # token scope is f"{audience}/.default"
    authority: str | None = None  # Entra ID host; None: azure-identity's default


BUILTIN_CLOUDS: dict[str, CloudProfile] = {
    "AzureCloud": CloudProfile(
        "AzureCloud", "https://management.azure.com", "https://management.azure.com", "login.microsoftonline.com"),
    "AzureUSGovernment": CloudProfile(
        "AzureUSGovernment", "https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net",
        "login.microsoftonline.us"),
    "AzureChinaCloud": CloudProfile(
        "AzureChinaCloud", "https://management.chinacloudapi.cn", "https://management.chinacloudapi.cn",
        "login.chinacloudapi.cn"),
}


@dataclass(frozen=True)
class PartnerCloud:
    """An Azure-technology cloud run by another operator, as declared in the config."""

    name: str
    arm_endpoint: str
    operator: str
    regions: Mapping[str, str]  # location name -> ISO country
    audience: str
    authority: str | None = None
    file: str | None = None
    line: int | None = None

    def profile(self) -> CloudProfile:
        return CloudProfile(self.name, self.arm_endpoint, self.audience, self.authority)


@dataclass(frozen=True)
class AzureSettings:
    cloud: str = "AzureCloud"
    arm_endpoint: str | None = None
    subscriptions: tuple[str, ...] = ()
    services: tuple[str, ...] = SERVICES
    retries: int = 2
    timeout: int = 30
    max_workers: int = 4
    partner_clouds: Mapping[str, PartnerCloud] = field(default_factory=dict)
    resource_graph: bool = False  # list the stores in bulk (providers/azure_graph.py), per subscription as fallback
    management_groups: tuple[str, ...] = ()  # the graph's scope, instead of the subscriptions

    @property
    def partner(self) -> PartnerCloud | None:
        return self.partner_clouds.get(self.cloud)

    @property
    def profile(self) -> CloudProfile:
        return self.partner.profile() if self.partner else BUILTIN_CLOUDS[self.cloud]

    @property
    def endpoint(self) -> str:
        return (self.arm_endpoint or self.profile.arm_endpoint).rstrip("/")


# -- credentials and HTTP pipeline ------------------------------------------------------------------
class StaticTokenCredential:
    """A credential that hands out one bearer token (from AZURE_ACCESS_TOKEN)."""

    def __init__(self, token: str, lifetime_s: int = 3600):
        self._token = token
        self._lifetime_s = lifetime_s

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime_s)

    def __repr__(self) -> str:
        return "StaticTokenCredential(<redacted>)"


class ScanCredential:
    """The credential every client of one scan shares: each scope's token is fetched once (and again only within
    five minutes of its expiry), and a failure to get one is remembered for the rest of the scan.

    Each (subscription, service) inventory builds its own client and auth policy; without this, every one of them ran
    DefaultAzureCredential's whole chain again (a managed-identity request with its retries, the Azure CLI,
    PowerShell, azd), so a host with no Azure credential paid that chain, and logged its warning, once per target.
    A claims challenge or a request for another tenant always goes to the underlying credential."""

    def __init__(self, inner: TokenCredential):
        self._inner = inner
        self._lock = threading.Lock()
        self._tokens: dict[tuple[Any, ...], AccessToken] = {}
        self._failure: str | None = None

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  **kwargs: Any) -> AccessToken:
        if claims or tenant_id:
            return self._inner.get_token(*scopes, claims=claims, tenant_id=tenant_id, **kwargs)
        key = (scopes, tuple(sorted(kwargs.items())))
        with self._lock:
            if self._failure is not None:
                raise ClientAuthenticationError(message=self._failure)
            token = self._tokens.get(key)
            if token is None or token.expires_on - 300 < time.time():
                try:
                    token = self._inner.get_token(*scopes, **kwargs)
                except ClientAuthenticationError as exc:
                    self._failure = exc.message or str(exc)
                    raise
                self._tokens[key] = token
            return token

    def __repr__(self) -> str:
        return f"ScanCredential({self._inner!r})"


class ReadOnlyViolation(AzureError):
    """Raised before sending any request that is not a GET."""


# The one POST Custody sends: a Resource Graph query, which reads (Microsoft.ResourceGraph/resources/read)
READ_POSTS = ("/providers/microsoft.resourcegraph/resources",)


class ReadOnlyPolicy(policies.SansIOHTTPPolicy):
    """Refuse every HTTP method but GET (and a Resource Graph query's POST), whatever an SDK operation tries."""

    def on_request(self, request: PipelineRequest) -> None:
        method = request.http_request.method.upper()
        path = urlsplit(request.http_request.url).path.rstrip("/").lower()
        if method != "GET" and not (method == "POST" and path in READ_POSTS):
            raise ReadOnlyViolation(f"refusing {method} {request.http_request.url}: Custody is read-only")


class PlainHttpBearerPolicy(policies.SansIOHTTPPolicy):
    """Bearer auth for a loopback http:// endpoint, which azure-core's bearer policy refuses."""

    def __init__(self, credential: TokenCredential, *scopes: str):
        super().__init__()
        self._credential = credential
        self._scopes = scopes
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def on_request(self, request: PipelineRequest) -> None:
        with self._lock:
            if self._token is None or self._token.expires_on - 300 < time.time():
                self._token = self._credential.get_token(*self._scopes)
            token = self._token.token
        request.http_request.headers["Authorization"] = f"Bearer {token}"


# -- the provider -------------------------------------------------------------------------------------
class AzureProvider(Provider):
    name = NAME

    def __init__(self, settings: AzureSettings | None = None, credential: TokenCredential | None = None):
        self.settings = settings or AzureSettings()
        self._credential = credential
        self._scan_credential: ScanCredential | None = None
        self._credential_lock = threading.Lock()
        self.keys = KeyReader(self._client, self.region)  # who holds the stores' keys (providers/azure_keys.py)
        self._pairs: dict[str, str] = {}  # region -> its pair, from the catalog (`use_catalog`)

    # -- config ----------------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, section: Node) -> AzureProvider:
        section.mapping({
            "cloud", "arm_endpoint", "subscriptions", "services", "retries", "timeout", "max_workers",
            "partner_clouds", "resource_graph", "management_groups",
        })
        partners = {name: _partner_cloud(name, node) for name, node in section["partner_clouds"].entries()}
        cloud = section["cloud"].str("AzureCloud", choices=(*BUILTIN_CLOUDS, *partners)) or "AzureCloud"
        services = tuple(section["services"].str_list()) or SERVICES
        for service in services:
            if service not in SERVICES:
                expected = ", ".join(SERVICES)
                raise section["services"].error(
                    f"{section['services'].name}: unknown service '{service}' (expected some of: {expected})")
        subs_node = section["subscriptions"]
        items = [subs_node] if isinstance(subs_node.value, str) else list(subs_node.items())
        subscriptions = tuple(_subscription_id(item) for item in items)
        resource_graph = section["resource_graph"].bool(False)
        groups_node = section["management_groups"]
        groups = [groups_node] if isinstance(groups_node.value, str) else list(groups_node.items())
        if groups and not resource_graph:
            raise groups_node.error(f"{groups_node.name}: management groups scope the Resource Graph query; "
                                    "set resource_graph: true")
        return cls(AzureSettings(
            cloud=cloud,
            arm_endpoint=_endpoint(section["arm_endpoint"]) if section["arm_endpoint"].value is not None else None,
            subscriptions=subscriptions,
            services=services,
            retries=section["retries"].int(2),
            timeout=section["timeout"].int(30, minimum=1),
            max_workers=section["max_workers"].int(4, minimum=1),
            partner_clouds=partners,
            resource_graph=resource_graph,
            management_groups=tuple(_management_group(item) for item in groups),
        ))

    def catalog_regions(self, catalog: Catalog) -> list[Region]:
        """Catalog entries for the regions of the declared partner clouds (ids `<cloud>/<location>`)."""
        regions: list[Region] = []
        for cloud in self.settings.partner_clouds.values():
            if cloud.operator not in catalog.entities:
                problem = (f"providers.azure.partner_clouds.{cloud.name}.operator: unknown entity "
                           f"'{cloud.operator}' (expected a catalog entity id such as bleu)")
                raise InputError(problem, cloud.file, cloud.line)
            where = f"{cloud.file}:{cloud.line}" if cloud.file else "the config"
            for location, country in cloud.regions.items():
                regions.append(Region(
                    provider=NAME, id=f"{cloud.name}/{location}", name=f"{cloud.name} {location}", country=country,
                    city=None, partition=cloud.name, operator=cloud.operator,
                    source=f"declared in {where} (providers.azure.partner_clouds.{cloud.name}.regions)",
                ))
        return regions

    def use_catalog(self, catalog: Catalog) -> None:
        """Remember the catalog's region pairs: geo-redundant copies that name no region are placed there."""
        self._pairs = {region.id: region.pair for (cloud, _), region in catalog.regions.items()
                       if cloud == NAME and region.pair}

    def pair_of(self, region: str) -> str | None:
        """The catalog's pair of a region (public and sovereign Azure); None in a partner cloud or without one."""
        return None if self.settings.partner else self._pairs.get(region)

    # -- plumbing ----------------------------------------------------------------------------------------
    def credential(self) -> TokenCredential:
        """The current scan's `ScanCredential` around `base_credential()`; `discover()` starts a new one."""
        with self._credential_lock:
            if self._scan_credential is None:
                self._scan_credential = ScanCredential(self._base_credential())
            return self._scan_credential

    def _base_credential(self) -> TokenCredential:
        """AZURE_ACCESS_TOKEN as a static bearer token if set, else DefaultAzureCredential for the cloud
        (called with `_credential_lock` held)."""
        if self._credential is None:
            token = os.environ.get(TOKEN_ENV)
            if token:
                self._credential = StaticTokenCredential(token)
            else:
                from azure.identity import DefaultAzureCredential

                authority = self.settings.profile.authority
                self._credential = DefaultAzureCredential(authority=authority) if authority \
                    else DefaultAzureCredential()
        return self._credential

    def _policies(self) -> list[Any]:
        """azure-mgmt's default pipeline, minus provider auto-registration (a POST), plus a read-only guard."""
        scope = f"{self.settings.profile.audience.rstrip('/')}/.default"
        endpoint = urlsplit(self.settings.endpoint)
        if endpoint.scheme == "http":
            auth: Any = PlainHttpBearerPolicy(self.credential(), scope)
        else:
            auth = ARMChallengeAuthenticationPolicy(self.credential(), scope)
        return [
            ReadOnlyPolicy(),
            policies.RequestIdPolicy(),
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(sdk_moniker="custody-scanner"),
            policies.ProxyPolicy(),
            policies.ContentDecodePolicy(),
            policies.RedirectPolicy(),
            policies.RetryPolicy(retry_total=self.settings.retries, retry_backoff_factor=0.5, retry_backoff_max=8),
            auth,
            policies.CustomHookPolicy(),
            policies.DistributedTracingPolicy(),
            policies.SensitiveHeaderCleanupPolicy(),
            ARMHttpLoggingPolicy(),
        ]

    def _client(self, client_class: type, *args: str) -> Any:
        return client_class(
            self.credential(), *args, base_url=self.settings.endpoint, policies=self._policies(),
            connection_timeout=self.settings.timeout, read_timeout=self.settings.timeout,
        )

    def sdk_client(self, client_class: type, *args: str) -> Any:
        """An azure-mgmt client with the scan's credential and the read-only pipeline."""
        return self._client(client_class, *args)

    def arm_json(self) -> azure_copies.ArmJson:
        """ARM collections as JSON, through the same read-only pipeline as the SDK clients."""
        from azure.mgmt.core import ARMPipelineClient

        return azure_copies.ArmJson(ARMPipelineClient(
            base_url=self.settings.endpoint, policies=self._policies(),
            connection_timeout=self.settings.timeout, read_timeout=self.settings.timeout))

    def region(self, location: str | None) -> str:
        """ARM's lower-case location name; namespaced by cloud name in a partner cloud."""
        name = normalise_location(location)
        return f"{self.settings.cloud}/{name}" if self.settings.partner else name

    # -- discovery ---------------------------------------------------------------------------------------
    def units(self, log: TargetLog) -> list[str]:
        """The subscription ids to scan: the configured ones, else every one the identity can see."""
        return self._subscriptions(log)

    def discover_unit(self, unit: str, log: TargetLog) -> list[DiscoveredStore]:
        return [store for target in self._targets(unit) for store in run_target(target, log)]

    def discover(self, log: TargetLog) -> list[DiscoveredStore]:
        self.keys = KeyReader(self._client, self.region)  # key reads are remembered per scan
        with self._credential_lock:  # tokens and credential failures are remembered per scan, not for ever
            self._scan_credential = None
        subscriptions = self.units(log)
        graph = azure_graph.read(self, subscriptions, log) if self.settings.resource_graph and subscriptions \
            else None
        targets = [target for sub in subscriptions for target in self._targets(sub, graph)]
        return run_targets(targets, log, self.settings.max_workers, "azure")

    def _targets(self, sub: str, graph: azure_graph.GraphInventory | None = None) -> list[Target]:
        """One target per configured service of a subscription (ARM lists are subscription-wide): built from the
        Resource Graph's rows where the graph answered for the subscription (for the services it has a builder for),
        else listed per subscription."""
        readers = self._services()
        if graph is not None and graph.covers(sub):
            readers.update({service: partial(builder, self, graph=graph) for service, builder in
                            azure_graph.BUILDERS.items()})
        return [Target(NAME, sub, ANY_REGION, service, partial(self._read, readers[service], sub))
                for service in self.settings.services]

    def _read(self, reader: Callable[[str], list[DiscoveredStore]], sub: str) -> list[DiscoveredStore]:
        try:
            stores = reader(sub)
        except PartialInventory as incomplete:
            incomplete.stores = [self._check_partner_regions(store) for store in incomplete.stores]
            raise
        return [self._check_partner_regions(store) for store in stores]

    def _services(self) -> dict[str, Callable[[str], list[DiscoveredStore]]]:
        return {"storage": self._storage, "cosmosdb": self._cosmosdb, "sql": self._sql,
                "disks": self._disks, "snapshots": self._snapshots,
                "backup": partial(azure_copies.backup, self),
                "postgresql": partial(azure_copies.flexible_servers, self, engine="PostgreSQL"),
                "mysql": partial(azure_copies.flexible_servers, self, engine="MySQL"),
                "sqlmi": partial(azure_sql.managed_instances, self), "redis": partial(azure_cache.redis, self)}

    def _subscriptions(self, log: TargetLog) -> list[str]:
        if self.settings.subscriptions:
            return list(self.settings.subscriptions)
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        def listing() -> list[str]:
            return [sub.subscription_id for sub in self._client(SubscriptionClient).subscriptions.list()]

        found = run_target(Target(NAME, "*", ANY_REGION, "subscriptions", listing, counts_stores=False), log)
        return [sub for sub in found if sub]

    def _check_partner_regions(self, store: DiscoveredStore) -> DiscoveredStore:
        partner = self.settings.partner
        if partner:
            for loc in store.locations:
                location = loc.region.split("/", 1)[1]
                if location not in partner.regions:
                    store.unknowns.append(f"region '{location}' of partner cloud {partner.name} is not declared under "
                                          f"providers.azure.partner_clouds.{partner.name}.regions")
        return store

    def _new_store(self, sub: str, kind: str, resource: Any, name: str | None = None) -> DiscoveredStore:
        return DiscoveredStore(
            id=resource.id, provider=NAME, account=sub, kind=kind, name=name or resource.name,
            region=self.region(resource.location), tags=dict(resource.tags or {}),
        )

    # -- storage accounts ------------------------------------------------------------------------------
    def _storage(self, sub: str) -> list[DiscoveredStore]:
        from azure.mgmt.storage import StorageManagementClient

        return self.storage_stores(sub, list(self._client(StorageManagementClient, sub).storage_accounts.list()))

    def storage_stores(self, sub: str, accounts: list[Any]) -> list[DiscoveredStore]:
        """The subscription's storage accounts (SDK models), with their object replication destinations."""
        from azure.mgmt.storage import StorageManagementClient

        stores = [self.storage_store(sub, account) for account in accounts]
        if accounts:
            client = self._client(StorageManagementClient, sub)
            azure_copies.raise_partial(stores, azure_copies.add_object_replication(self, client, accounts, stores))
        return stores

    def storage_store(self, sub: str, account: Any) -> DiscoveredStore:
        store = self._new_store(sub, "azure-storage-account", account)
        props = account.properties
        primary = props.primary_location if props and props.primary_location else None
        store.add_location(self.region(primary or account.location), "primary",
                           "StorageAccount.primaryLocation" if primary else "StorageAccount.location")
        secondary = props.secondary_location if props else None
        status = enum_text(props.status_of_secondary) if props else ""
        if secondary:
            store.add_location(self.region(secondary), "replica", "StorageAccount.secondaryLocation")
        elif status:
            azure_copies.add_pair_copy(self, store, "replica", f"StorageAccount.statusOfSecondary {status} "
                                                               "(ARM reported no secondaryLocation)")
        sku = enum_text(account.sku.name) if account.sku else ""
        redundancy = sku.split("_")[-1].upper()
        if redundancy in GEO_SKUS and not secondary and not status:
            store.unknowns.append(f"SKU {sku} is geo-redundant but ARM reported no secondaryLocation; "
                                  "the secondary region is not assumed from the region pair")
        store.encryption = self.keys.storage(sub, props)
        return store

    # -- Cosmos DB -------------------------------------------------------------------------------------
    def _cosmosdb(self, sub: str) -> list[DiscoveredStore]:
        from azure.mgmt.cosmosdb import CosmosDBManagementClient

        client = self._client(CosmosDBManagementClient, sub)
        return [self.cosmos_store(sub, account) for account in client.database_accounts.list()]

    def cosmos_store(self, sub: str, account: Any) -> DiscoveredStore:
        store = self._new_store(sub, "azure-cosmosdb-account", account)
        props = account.properties
        locations = sorted(props.locations or [], key=lambda loc: loc.failover_priority or 0) if props else []
        writers = {normalise_location(loc.location_name) for loc in (props.write_locations or [])} \
            if props and props.enable_multiple_write_locations else set()
        for loc in locations:
            if normalise_location(loc.location_name) in writers:
                store.add_location(self.region(loc.location_name), "primary",
                                   "DatabaseAccount.writeLocations (enableMultipleWriteLocations)")
                continue
            role: Role = "primary" if (loc.failover_priority or 0) == 0 else "replica"
            store.add_location(self.region(loc.location_name), role, "DatabaseAccount.locations.locationName")
        if not locations:
            store.add_location(store.region, "primary", "DatabaseAccount.location")
            store.unknowns.append("Cosmos DB reported no locations for the account; only its home location is known")
        backup = getattr(props, "backup_policy", None) if props else None
        periodic = getattr(backup, "periodic_mode_properties", None)
        azure_copies.add_cosmos_backups(self, store, enum_text(getattr(backup, "type", None)),
                                        enum_text(getattr(periodic, "backup_storage_redundancy", None)))
        store.encryption = self.keys.cosmos(sub, props)
        return store

    # -- SQL -------------------------------------------------------------------------------------------
    def _sql(self, sub: str) -> list[DiscoveredStore]:
        from azure.mgmt.sql import SqlManagementClient

        return self.sql_stores(sub, list(self._client(SqlManagementClient, sub).servers.list()))

    def sql_stores(self, sub: str, servers: list[Any]) -> list[DiscoveredStore]:
        """The user databases of the subscription's SQL servers (SDK models), each server's read once."""
        from azure.mgmt.sql import SqlManagementClient

        client = self._client(SqlManagementClient, sub) if servers else None
        stores: list[DiscoveredStore] = []
        errors: list[tuple[str, bool]] = []
        for server in servers:
            stores.extend(self._sql_server(client, sub, server, errors))
        if errors:
            raise PartialInventory(stores, "; ".join(text for text, _ in errors), all(d for _, d in errors))
        return stores

    def _sql_server(self, client: Any, sub: str, server: Any, errors: list[tuple[str, bool]]) -> list[DiscoveredStore]:
        """One server's user databases; a failed call is appended to `errors` and the rest carries on."""
        group = resource_group(server.id)
        try:
            databases = [db for db in client.databases.list_by_server(group, server.name) if not is_system_database(db)]
        except Exception as exc:
            error, denied = describe_error(exc)
            errors.append((f"server {server.name}: {error}", denied))
            return []
        links_error = None
        try:
            links = links_by_database(client.replication_links.list_by_server(group, server.name))
        except Exception as exc:
            links, (links_error, denied) = {}, describe_error(exc)
            errors.append((f"server {server.name} replication links: {links_error}", denied))
        stores = [self.sql_store(sub, server.name, db, links.get(db.name.lower(), [])) for db in databases]
        if stores:
            custody = self.keys.sql(sub, client, group, server.name)
            for store in stores:
                store.encryption = custody
        if links_error:
            for store in stores:
                store.unknowns.append(f"geo-replication links could not be read: {links_error}")
        errors.extend(azure_sql.add_server_failover_groups(self, server.id, stores))
        return stores

    def sql_store(self, sub: str, server: str, database: Any, links: list[Any]) -> DiscoveredStore:
        store = self._new_store(sub, "azure-sql-database", database, name=f"{server}/{database.name}")
        own_roles = {enum_text(link.properties.role).lower() for link in links if link.properties}
        own: Role = "replica" if own_roles & SECONDARY_ROLES else "primary"
        store.add_location(store.region, own, "Database.location")
        for link in links:
            props = link.properties
            if not props or not props.partner_location:
                continue
            partner_role = enum_text(props.partner_role).lower()
            role: Role = "primary" if partner_role in {"primary", "source"} else "replica"
            store.add_location(self.region(props.partner_location), role, "ReplicationLink.partnerLocation")
        settings = database.properties
        redundancy = enum_text(getattr(settings, "current_backup_storage_redundancy", None)
                               or getattr(settings, "requested_backup_storage_redundancy", None))
        azure_copies.add_geo_backup(self, store, redundancy, "Database.currentBackupStorageRedundancy")
        return store

    # -- disks and snapshots ---------------------------------------------------------------------------
    def _disks(self, sub: str) -> list[DiscoveredStore]:
        from azure.mgmt.compute import ComputeManagementClient

        client = self._client(ComputeManagementClient, sub)
        return [self.located(sub, "azure-managed-disk", disk, "Disk.location") for disk in client.disks.list()]

    def _snapshots(self, sub: str) -> list[DiscoveredStore]:
        from azure.mgmt.compute import ComputeManagementClient

        client = self._client(ComputeManagementClient, sub)
        return [self.located(sub, "azure-snapshot", snap, "Snapshot.location") for snap in client.snapshots.list()]

    def located(self, sub: str, kind: str, resource: Any, learned_from: str) -> DiscoveredStore:
        store = self._new_store(sub, kind, resource)
        store.add_location(store.region, "primary", learned_from)
        store.encryption = self.keys.disk(sub, resource, learned_from.split(".")[0])
        return store


# -- helpers ------------------------------------------------------------------------------------------
def normalise_location(location: str | None) -> str:
    """ARM location name: "West Europe" and "westeurope" both give "westeurope"."""
    return "".join((location or "").split()).lower()


def resource_group(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [part.lower() for part in parts]
    return parts[lowered.index("resourcegroups") + 1]


def links_by_database(links: Any) -> dict[str, list[Any]]:
    """Group a server's replication links by the database they belong to (from each link's id)."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    for link in links:
        parts = link.id.split("/")
        lowered = [part.lower() for part in parts]
        if "databases" in lowered:
            grouped[parts[lowered.index("databases") + 1].lower()].append(link)
    return grouped


def is_system_database(database: Any) -> bool:
    return database.name.lower() == "master" or "system" in enum_text(getattr(database, "kind", None)).lower()


def _subscription_id(node: Node) -> str:
    value = node.req_str()
    if not SUBSCRIPTION_ID.match(value):
        raise node.error(f"{node.name}: '{value}' is not a subscription id (expected a GUID)")
    return value


def _management_group(node: Node) -> str:
    value = node.req_str()
    if not MANAGEMENT_GROUP_ID.match(value):
        raise node.error(f"{node.name}: '{value}' is not a management group id (1-90 letters, digits, '-', '_', "
                         "'.', '(' or ')')")
    return value


def _endpoint(node: Node) -> str:
    url = node.req_str()
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise node.error(f"{node.name}: '{url}' is not an http(s) URL")
    if parsed.scheme == "http" and not is_loopback(parsed.hostname):
        raise node.error(f"{node.name}: plain http is only allowed for loopback hosts (127.0.0.1, localhost); "
                         f"use https for '{parsed.hostname}'")
    return url.rstrip("/")


def _partner_cloud(name: str, node: Node) -> PartnerCloud:
    node.mapping({"arm_endpoint", "operator", "regions", "authority", "audience"}, {"arm_endpoint", "operator"})
    if name in BUILTIN_CLOUDS:
        raise node.error(f"{node.name}: '{name}' is a built-in Azure cloud, not a partner cloud")
    regions: dict[str, str] = {}
    for location, country_node in node["regions"].entries():
        country = country_node.req_str()
        if not is_country(country):
            raise country_node.error(f"{country_node.name}: '{country}' is not an ISO 3166-1 alpha-2 country code")
        regions[normalise_location(location)] = country
    endpoint = _endpoint(node["arm_endpoint"])
    audience = _endpoint(node["audience"]) if node["audience"].value is not None else endpoint
    return PartnerCloud(
        name=name, arm_endpoint=endpoint, operator=node["operator"].req_str(), regions=regions, audience=audience,
        authority=node["authority"].str(), file=node["operator"].file, line=node["operator"].line,
    )

