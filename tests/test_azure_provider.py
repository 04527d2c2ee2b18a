"""The Azure provider against a local ARM look-alike: real azure-mgmt clients, real HTTP.

Nothing here mocks the SDK: each test runs `AzureProvider.discover` whose clients send HTTP
requests to `demo.arm_server.ArmServer` on 127.0.0.1, and checks what came back.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from demo.arm_server import ArmServer
from demo.azure_estate import SUB_BR, SUB_EU, SUB_US, SUBSCRIPTIONS, AzureEstate
from policies.catalog_loader import load_catalog
from providers.azure import SERVICES, AzureProvider, ReadOnlyViolation
from providers.base import TargetLog
from scanner.catalog import is_country
from scanner.discovered import DiscoveredStore
from scanner.errors import InputError
from scanner.kinds import PAIR_INFERRED
from scanner.yamlfile import Node, read_yaml

SectionFactory = Callable[[dict[str, Any]], Node]
CATALOG = load_catalog()


def run(provider: AzureProvider) -> tuple[dict[str, DiscoveredStore], TargetLog]:
    log = TargetLog()
    stores = {store.id: store for store in provider.discover(log)}
    return stores, log


def provider_for(estate: AzureEstate, azure_section: SectionFactory, **overrides: Any) -> AzureProvider:
    provider = AzureProvider.from_config(azure_section({**estate.provider_section(), **overrides}))
    provider.use_catalog(CATALOG)  # as runtime.scan.build_providers does: geo copies go to the catalog's pair
    return provider


def roles(store: DiscoveredStore) -> dict[str, str]:
    return {loc.region: loc.role for loc in store.locations}


def by_name(stores: dict[str, DiscoveredStore], name: str) -> DiscoveredStore:
    return next(store for store in stores.values() if store.name == name)


# -- inventory ----------------------------------------------------------------------------------------
def test_inventory_matches_the_seeded_estate(azure_estate: AzureEstate, azure_section: SectionFactory) -> None:
    stores, _ = run(provider_for(azure_estate, azure_section))

    assert set(stores) == set(azure_estate.stores)
    for store_id, expected in azure_estate.stores.items():
        store = stores[store_id]
        assert store.provider == "azure"
        assert (store.kind, store.account, store.name, store.region) == \
            (expected.kind, expected.subscription, expected.name, expected.region), store_id
        assert roles(store) == expected.locations, store_id
        assert store.tags == expected.tags, store_id
        assert bool(store.unknowns) == expected.has_unknowns, (store_id, store.unknowns)


def test_brazil_ra_grs_copy_is_in_texas(azure_estate: AzureEstate, azure_section: SectionFactory) -> None:
    stores, _ = run(provider_for(azure_estate, azure_section))
    catalog = load_catalog()

    account = by_name(stores, "acmebrdocs")
    replica = next(loc for loc in account.locations if loc.role == "replica")
    assert (replica.region, replica.learned_from) == ("southcentralus", "StorageAccount.secondaryLocation")
    region = catalog.region("azure", replica.region)
    assert region is not None and (region.country, region.city) == ("US", "Texas")
    assert account.tags == {"data-class": "personal", "lgpd": "true"}
    assert account.id.endswith("/resourceGroups/rg-prod-br/providers/Microsoft.Storage/storageAccounts/acmebrdocs")


def test_geo_sku_without_secondary_is_an_unknown_not_a_guess(azure_estate: AzureEstate,
                                                             azure_section: SectionFactory) -> None:
    stores, _ = run(provider_for(azure_estate, azure_section))

    account = by_name(stores, "acmeeubackup")
    assert roles(account) == {"swedencentral": "primary"}  # not swedencentral's pair, swedensouth
    assert len(account.unknowns) == 1 and "Standard_GZRS" in account.unknowns[0]
    assert "secondaryLocation" in account.unknowns[0]
    assert by_name(stores, "acmeeulogs").unknowns == []  # LRS: nothing missing


def test_cosmos_display_names_become_region_ids(azure_estate: AzureEstate, azure_section: SectionFactory) -> None:
    stores, _ = run(provider_for(azure_estate, azure_section))
    catalog = load_catalog()

    account = by_name(stores, "acme-eu-profiles")
    assert account.region == "westeurope"
    assert roles(account) == {"westeurope": "primary", "switzerlandnorth": "replica", "northeurope": "backup"}
    assert {catalog.region("azure", loc.region).country for loc in account.locations} == {"NL", "CH", "IE"}
    assert all(loc.learned_from == "DatabaseAccount.locations.locationName" for loc in account.locations
               if loc.role != "backup")


def test_sql_geo_replica_is_seen_from_both_sides(azure_estate: AzureEstate, azure_section: SectionFactory) -> None:
    stores, _ = run(provider_for(azure_estate, azure_section))

    primary = by_name(stores, "acme-br-sql/orders")
    secondary = by_name(stores, "acme-us-sql-dr/orders")
    assert roles(primary) == {"brazilsouth": "primary", "eastus": "replica"}
    assert roles(secondary) == {"eastus": "replica", "brazilsouth": "primary", "westus": "backup"}
    assert (primary.account, secondary.account) == (SUB_BR, SUB_US)
    assert not any(store.name.endswith("/master") for store in stores.values())
    # geo-redundant backups: in East US's pair, inferred from the catalog
    assert next(loc for loc in secondary.locations if loc.region == "westus").learned_from.startswith(PAIR_INFERRED)
    assert secondary.unknowns == []


def test_every_subscription_and_service_is_logged_ok(azure_estate: AzureEstate,
                                                      azure_section: SectionFactory) -> None:
    stores, log = run(provider_for(azure_estate, azure_section))

    outcomes = {(r.account, r.service): (r.status, r.stores) for r in log.results}
    assert set(outcomes) == {(sub, service) for sub in SUBSCRIPTIONS for service in SERVICES}
    assert all(status == "ok" for status, _ in outcomes.values())
    eu_accounts = [s for s in azure_estate.stores.values()
                   if s.subscription == SUB_EU and s.kind == "azure-storage-account"]
    assert outcomes[(SUB_EU, "storage")] == ("ok", len(eu_accounts)) and len(eu_accounts) >= 3
    assert sum(count for _, count in outcomes.values()) == len(stores)
    assert {r.region for r in log.results} == {"*"}


def test_next_link_pages_are_followed(azure_estate: AzureEstate, azure_section: SectionFactory,
                                      arm_server: ArmServer) -> None:
    stores, _ = run(provider_for(azure_estate, azure_section))

    eu_accounts = [s for s in stores.values() if s.account == SUB_EU and s.kind == "azure-storage-account"]
    seeded = [s for s in azure_estate.stores.values() if s.subscription == SUB_EU and s.kind == "azure-storage-account"]
    assert len(eu_accounts) == len(seeded) > arm_server.page_size
    assert any("$skiptoken=2" in path and "storageAccounts" in path for _, path in arm_server.requests)


def test_subscriptions_are_listed_when_not_configured(azure_estate: AzureEstate,
                                                      azure_section: SectionFactory) -> None:
    section = {key: value for key, value in azure_estate.provider_section().items() if key != "subscriptions"}
    stores, log = run(AzureProvider.from_config(azure_section(section)))

    assert {store.account for store in stores.values()} == set(SUBSCRIPTIONS)
    listing = [r for r in log.results if r.service == "subscriptions"]
    assert [(r.account, r.status) for r in listing] == [("*", "ok")]


# -- failures -----------------------------------------------------------------------------------------
def test_denied_subscription_is_recorded_and_the_others_are_inventoried(
        azure_estate: AzureEstate, azure_section: SectionFactory, arm_server: ArmServer) -> None:
    arm_server.deny(SUB_BR)
    stores, log = run(provider_for(azure_estate, azure_section))

    denied = [r for r in log.results if r.account == SUB_BR]
    assert len(denied) == len(SERVICES)
    assert all(r.status == "denied" and "AuthorizationFailed" in (r.error or "") for r in denied)
    assert all(r.status == "ok" for r in log.results if r.account != SUB_BR)
    assert {store.account for store in stores.values()} == {SUB_EU, SUB_US}
    assert by_name(stores, "acme-us-sql-dr/orders").locations  # the US side of the BR replica is still seen


def test_unreadable_replication_links_keep_the_databases_with_an_unknown(
        azure_estate: AzureEstate, azure_section: SectionFactory, arm_server: ArmServer) -> None:
    arm_server.deny_path("/replicationLinks")
    stores, log = run(provider_for(azure_estate, azure_section))

    primary = by_name(stores, "acme-br-sql/orders")
    # the failover group still names the partner server's region; the links' failure stays an unknown
    assert roles(primary) == {"brazilsouth": "primary", "eastus": "replica"}
    assert primary.locations[1].learned_from == "FailoverGroup.properties.partnerServers.location"
    assert any("geo-replication links could not be read" in text for text in primary.unknowns)
    sql = {r.account: r for r in log.results if r.service == "sql"}
    assert (sql[SUB_BR].status, sql[SUB_US].status, sql[SUB_EU].status) == ("denied", "denied", "ok")
    assert "acme-br-sql replication links" in (sql[SUB_BR].error or "")
    assert by_name(stores, "acmebrdocs").locations  # other services unaffected


def test_stopped_server_gives_recorded_errors_not_exceptions(azure_estate: AzureEstate,
                                                              azure_section: SectionFactory,
                                                              arm_server: ArmServer) -> None:
    provider = provider_for(azure_estate, azure_section)
    listing = AzureProvider.from_config(azure_section(
        {key: value for key, value in azure_estate.provider_section().items() if key != "subscriptions"}))
    arm_server.stop()

    stores, log = run(provider)
    assert stores == {}
    assert len(log.results) == len(SUBSCRIPTIONS) * len(SERVICES)
    assert all(r.status == "error" and "cannot reach the ARM endpoint" in (r.error or "") for r in log.results)

    stores, log = run(listing)
    assert stores == {}
    assert [(r.service, r.status) for r in log.results] == [("subscriptions", "error")]


def test_wrong_token_is_denied_and_never_logged(azure_estate: AzureEstate, azure_section: SectionFactory,
                                                monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    secret = "not-the-servers-token-9f8e7d"
    monkeypatch.setenv("AZURE_ACCESS_TOKEN", secret)
    caplog.set_level(logging.DEBUG)
    stores, log = run(provider_for(azure_estate, azure_section))

    assert stores == {}
    assert log.results and all(r.status == "denied" and "HTTP 401" in (r.error or "") for r in log.results)
    assert secret not in caplog.text
    assert all(secret not in (r.error or "") for r in log.results)


# -- read-only ----------------------------------------------------------------------------------------
def test_provider_only_sends_gets(azure_estate: AzureEstate, azure_section: SectionFactory,
                                  arm_server: ArmServer) -> None:
    run(provider_for(azure_estate, azure_section))

    assert len(arm_server.requests) >= len(SUBSCRIPTIONS) * len(SERVICES)
    assert arm_server.methods() == {"GET"}


def test_read_only_guard_stops_a_mutating_sdk_call_before_it_is_sent(
        azure_estate: AzureEstate, azure_section: SectionFactory, arm_server: ArmServer) -> None:
    from azure.mgmt.storage import StorageManagementClient

    client = provider_for(azure_estate, azure_section)._client(StorageManagementClient, SUB_EU)
    with pytest.raises(ReadOnlyViolation):
        client.storage_accounts.delete("rg-prod-eu", "acmeeulogs")
    assert arm_server.methods() == set()


def test_server_rejects_writes_and_remembers_them(arm_server: ArmServer) -> None:
    request = urllib.request.Request(f"{arm_server.url}/subscriptions/x?api-version=1", data=b"{}", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 405
    assert arm_server.requests == [("PUT", "/subscriptions/x?api-version=1")]


# -- config -------------------------------------------------------------------------------------------
def test_unknown_config_key_names_file_and_line(azure_config_file: Callable[[str], Any]) -> None:
    path = azure_config_file("providers:\n  azure:\n    cloud: AzureCloud\n    regoins: [westeurope]\n")
    with pytest.raises(InputError) as info:
        AzureProvider.from_config(read_yaml(path)["providers"]["azure"])
    assert (info.value.file, info.value.line) == (str(path), 4)
    assert "unknown key 'regoins'" in str(info.value) and str(info.value).startswith(f"{path}:4: ")


@pytest.mark.parametrize(("yaml_text", "line", "fragment"), [
    ("    cloud: AzurePublic\n", 3, "'AzurePublic' is not one of"),
    ("    arm_endpoint: http://arm.example.com\n", 3, "plain http is only allowed for loopback"),
    ("    subscriptions:\n      - not-a-subscription\n", 4, "is not a subscription id"),
    ("    services: [storage, blobs]\n", 3, "unknown service 'blobs'"),
    ("    partner_clouds:\n      Bleu:\n        arm_endpoint: https://arm.example.fr\n", 5,
     "missing required key 'operator'"),
    ("    partner_clouds:\n      Bleu:\n        arm_endpoint: https://arm.example.fr\n        operator: bleu\n"
     "        regions:\n          bleufrancecentral: France\n", 8, "not an ISO 3166-1 alpha-2"),
])
def test_bad_config_values_name_the_line(azure_config_file: Callable[[str], Any], yaml_text: str, line: int,
                                         fragment: str) -> None:
    path = azure_config_file("providers:\n  azure:\n" + yaml_text)
    with pytest.raises(InputError) as info:
        AzureProvider.from_config(read_yaml(path)["providers"]["azure"])
    assert (info.value.file, info.value.line) == (str(path), line)
    assert fragment in str(info.value)


def test_defaults_scan_the_public_cloud(azure_section: SectionFactory) -> None:
    provider = AzureProvider.from_config(azure_section({}))
    assert provider.settings.endpoint == "https://management.azure.com"
    assert provider.settings.services == SERVICES
    gov = AzureProvider.from_config(azure_section({"cloud": "AzureUSGovernment"}))
    assert gov.settings.endpoint == "https://management.usgovcloudapi.net"


# -- partner clouds -----------------------------------------------------------------------------------
def test_partner_cloud_regions_are_namespaced_and_resolved_from_the_config(
        arm_server: ArmServer, azure_section: SectionFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = "0b1e0000-0000-4000-8000-00000000000f"
    arm_server.add_subscription(sub, "bleu-tenant")
    arm_server.add_storage_account(sub, "rg", "bleudocs", "francecentral", "Standard_LRS")
    arm_server.add_storage_account(sub, "rg", "bleuother", "bleufrancesouth", "Standard_LRS")
    monkeypatch.setenv("AZURE_ACCESS_TOKEN", arm_server.token)
    provider = AzureProvider.from_config(azure_section({
        "cloud": "Bleu", "subscriptions": [sub], "retries": 0,
        "partner_clouds": {"Bleu": {"arm_endpoint": arm_server.url, "operator": "bleu",
                                    "regions": {"francecentral": "FR"}}},
    }))
    stores, _ = run(provider)
    catalog = load_catalog()
    for region in provider.catalog_regions(catalog):
        catalog.regions[(region.provider, region.id)] = region

    declared = by_name(stores, "bleudocs")
    assert declared.region == "Bleu/francecentral" and declared.unknowns == []
    resolved = catalog.region("azure", declared.region)
    assert (resolved.country, resolved.operator, resolved.partition) == ("FR", "bleu", "Bleu")
    assert catalog.region("azure", "francecentral").operator == "microsoft-corporation"  # untouched
    undeclared = by_name(stores, "bleuother")
    assert undeclared.region == "Bleu/bleufrancesouth"
    assert catalog.region("azure", undeclared.region) is None
    assert any("not declared" in text for text in undeclared.unknowns)


def test_partner_cloud_with_unknown_operator_is_an_input_error(azure_section: SectionFactory) -> None:
    provider = AzureProvider.from_config(azure_section({
        "cloud": "Sov", "partner_clouds": {"Sov": {"arm_endpoint": "https://arm.example.fr", "operator": "nobody"}},
    }))
    with pytest.raises(InputError) as info:
        provider.catalog_regions(load_catalog())
    assert "unknown entity 'nobody'" in str(info.value) and info.value.line is not None


# -- catalog ------------------------------------------------------------------------------------------
def test_catalog_azure_regions_are_complete_and_consistent() -> None:
    catalog = load_catalog()
    azure = {region_id: region for (provider, region_id), region in catalog.regions.items() if provider == "azure"}

    assert len(azure) > 70
    assert all(region.country and is_country(region.country) for region in azure.values())
    assert all(region.source for region in azure.values())
    assert all(region.pair in azure for region in azure.values() if region.pair)
    assert azure["brazilsouth"].pair == "southcentralus" and azure["southcentralus"].country == "US"
    assert azure["southcentralus"].pair == "northcentralus"  # one-way: not back to Brazil
    assert (azure["westus3"].pair, azure["eastus"].pair) == ("eastus", "westus")
    assert azure["eastasia"].country == "HK" and azure["southeastasia"].country == "SG"
    assert (azure["northeurope"].country, azure["westeurope"].country) == ("IE", "NL")
    for unpaired in ("polandcentral", "italynorth", "spaincentral", "israelcentral", "qatarcentral", "mexicocentral"):
        assert azure[unpaired].pair is None, unpaired
    assert azure["westeurope"].city is None  # physicalLocation "Netherlands" is a country, not a city


def test_catalog_azure_partitions_and_operators() -> None:
    catalog = load_catalog()
    azure = [region for (provider, _), region in catalog.regions.items() if provider == "azure"]

    by_partition: dict[str, set[str | None]] = {}
    for region in azure:
        by_partition.setdefault(region.partition, set()).add(region.operator)
    assert by_partition["AzureCloud"] == {"microsoft-corporation"}
    assert by_partition["AzureUSGovernment"] == {"microsoft-corporation"}
    assert by_partition["AzureChinaCloud"] == {"shanghai-blue-cloud"}
    assert {r.id for r in azure if r.partition == "AzureChinaCloud"} == {
        "chinaeast", "chinaeast2", "chinaeast3", "chinanorth", "chinanorth2", "chinanorth3"}
    assert {r.id for r in azure if r.partition == "AzureUSGovernment"} >= {
        "usgovvirginia", "usgovtexas", "usgovarizona", "usdodeast", "usdodcentral"}
    assert catalog.region("azure", "usgovarizona").pair == "usgovtexas"
