"""Azure Resource Graph (providers/azure_graph.py) against the ARM look-alike's query endpoint (demo/resource_graph.py).

The bulk path and the per-subscription path scan the same demo estate and must give the same stores, copies, unknowns
and key custody; a subscription the graph does not answer for, and a failed graph query, fall back per subscription
without losing a store; the config is validated with one-line errors.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from demo.arm_server import ArmServer
from demo.azure_estate import SUB_BR, SUB_EU, SUB_US, AzureEstate
from policies.catalog_loader import load_catalog
from providers.azure import AzureProvider
from providers.azure_graph import TARGET
from providers.base import TargetLog
from scanner.discovered import DiscoveredStore
from scanner.errors import InputError
from scanner.yamlfile import Node

SectionFactory = Callable[[dict[str, Any]], Node]
CATALOG = load_catalog()
GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"


def scan(estate: AzureEstate, azure_section: SectionFactory, **overrides: Any) -> tuple[list[DiscoveredStore],
                                                                                          TargetLog]:
    provider = AzureProvider.from_config(azure_section({**estate.provider_section(), **overrides}))
    provider.use_catalog(CATALOG)
    log = TargetLog()
    return list(provider.discover(log)), log


def fingerprint(stores: list[DiscoveredStore]) -> dict[str, tuple[Any, ...]]:
    """Everything a store reports, by id: identity, tags, every copy with its role and source, unknowns, keys."""
    return {store.id: (store.kind, store.account, store.name, store.region, tuple(sorted(store.tags.items())),
                       tuple((loc.region, loc.role, loc.learned_from) for loc in store.locations),
                       tuple(sorted(store.unknowns)), store.encryption) for store in stores}


def graph_requests(server: ArmServer) -> list[str]:
    return [path for method, path in server.requests if method == "POST"]


def listings(server: ArmServer, sub: str) -> list[str]:
    """The per-subscription listings (`/subscriptions/S/providers/NS/type`) the scan made for one subscription."""
    prefix = f"/subscriptions/{sub}/providers/".lower()
    return [path for _, path in server.requests if path.lower().startswith(prefix)]


def test_bulk_and_per_subscription_paths_give_the_same_stores(azure_estate: AzureEstate, arm_server: ArmServer,
                                                              azure_section: SectionFactory) -> None:
    per_subscription, _ = scan(azure_estate, azure_section)
    requests_per_subscription = len(arm_server.requests)
    arm_server.requests.clear()

    bulk, log = scan(azure_estate, azure_section, resource_graph=True)

    assert fingerprint(bulk) == fingerprint(per_subscription)
    assert set(fingerprint(bulk)) == set(azure_estate.stores)
    # the graph answered for every subscription: no per-subscription listing of any kind
    for sub in (SUB_EU, SUB_BR, SUB_US):
        assert listings(arm_server, sub) == [], sub
    assert graph_requests(arm_server), "the bulk scan sent no Resource Graph query"
    assert len(arm_server.requests) < requests_per_subscription
    graph_target = [t for t in log.results if t.service == TARGET]
    assert [(t.status, t.error) for t in graph_target] == [("ok", None)]
    assert all(t.status == "ok" for t in log.results)


def test_graph_pages_are_followed_with_the_skip_token(azure_estate: AzureEstate, arm_server: ArmServer,
                                                      azure_section: SectionFactory) -> None:
    bulk, _ = scan(azure_estate, azure_section, resource_graph=True)  # the server pages 2 rows at a time

    assert set(fingerprint(bulk)) == set(azure_estate.stores)
    assert len(graph_requests(arm_server)) > len(azure_estate.stores) // 2
    assert all("microsoft.resources/subscriptions" in q or q.startswith("Resources |")
               for q in arm_server.graph.queries)


def test_a_subscription_the_graph_misses_is_read_per_subscription(azure_estate: AzureEstate, arm_server: ArmServer,
                                                                  azure_section: SectionFactory) -> None:
    expected, _ = scan(azure_estate, azure_section)
    arm_server.requests.clear()
    arm_server.graph.hide(SUB_BR)

    bulk, log = scan(azure_estate, azure_section, resource_graph=True)

    assert fingerprint(bulk) == fingerprint(expected)
    assert listings(arm_server, SUB_BR), "the subscription the graph missed was not listed per subscription"
    assert listings(arm_server, SUB_EU) == []
    note = next(t for t in log.results if t.service == TARGET).error or ""
    assert SUB_BR in note and "fallback per subscription" in note


def test_a_failed_graph_query_falls_back_without_losing_stores(azure_estate: AzureEstate, arm_server: ArmServer,
                                                               azure_section: SectionFactory) -> None:
    expected, _ = scan(azure_estate, azure_section)
    arm_server.deny_path("microsoft.resourcegraph")
    arm_server.requests.clear()

    bulk, log = scan(azure_estate, azure_section, resource_graph=True)

    assert fingerprint(bulk) == fingerprint(expected)
    graph_target = next(t for t in log.results if t.service == TARGET)
    assert graph_target.status == "ok" and "Resource Graph failed" in (graph_target.error or "")
    assert "AuthorizationFailed" in (graph_target.error or "")
    assert all(listings(arm_server, sub) for sub in (SUB_EU, SUB_BR, SUB_US))


def test_a_truncated_graph_answer_is_not_taken_as_the_whole_inventory(
        azure_estate: AzureEstate, arm_server: ArmServer, azure_section: SectionFactory) -> None:
    expected, _ = scan(azure_estate, azure_section)
    arm_server.graph.truncate = True  # resultTruncated "true", no $skipToken: the rows are only a part

    bulk, log = scan(azure_estate, azure_section, resource_graph=True)

    assert fingerprint(bulk) == fingerprint(expected)
    assert "truncated" in (next(t for t in log.results if t.service == TARGET).error or "")


def test_a_denied_subscription_stays_denied_not_empty(azure_estate: AzureEstate, arm_server: ArmServer,
                                                      azure_section: SectionFactory) -> None:
    """The graph leaves out a subscription the caller cannot read; its per-subscription reads are then denied and
    recorded so, never taken as a subscription without stores."""
    arm_server.deny(SUB_US)

    bulk, log = scan(azure_estate, azure_section, resource_graph=True)

    assert not [store for store in bulk if store.account == SUB_US]
    denied = {t.service for t in log.results if t.account == SUB_US and t.status == "denied"}
    assert denied == set(AzureProvider.from_config(azure_section(azure_estate.provider_section())).settings.services)
    assert {store.account for store in bulk} == {SUB_EU, SUB_BR}


def test_management_groups_scope_the_query(azure_estate: AzureEstate, arm_server: ArmServer,
                                           azure_section: SectionFactory) -> None:
    expected, _ = scan(azure_estate, azure_section)
    arm_server.graph.add_management_group("acme-europe", [SUB_EU, SUB_BR])
    arm_server.requests.clear()

    bulk, _ = scan(azure_estate, azure_section, resource_graph=True, management_groups=["acme-europe"])

    assert fingerprint(bulk) == fingerprint(expected)
    assert listings(arm_server, SUB_US) and not listings(arm_server, SUB_EU)  # outside the group: per subscription


def test_the_query_endpoint_answers_the_documented_shape(azure_estate: AzureEstate, arm_server: ArmServer) -> None:
    def post(body: dict[str, Any], version: str = "2022-10-01") -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(f"{arm_server.url}/providers/Microsoft.ResourceGraph/resources"
                                         f"?api-version={version}", data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {arm_server.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    query = "Resources | where type =~ 'Microsoft.Storage/storageAccounts' | project id, name, type, location"
    status, first = post({"subscriptions": [SUB_EU, SUB_BR, SUB_US], "query": query,
                          "options": {"$top": 1000, "resultFormat": "objectArray"}})
    assert status == 200 and first["count"] == len(first["data"]) == 2 and first["resultTruncated"] == "false"
    assert set(first["data"][0]) == {"id", "name", "type", "location"}
    assert first["data"][0]["type"] == "microsoft.storage/storageaccounts"
    status, second = post({"subscriptions": [SUB_EU, SUB_BR, SUB_US], "query": query,
                           "options": {"$top": 1000, "$skipToken": first["$skipToken"]}})
    accounts = [s for s in azure_estate.stores.values() if s.kind == "azure-storage-account"]
    assert status == 200 and second["totalRecords"] == first["totalRecords"] == len(accounts)
    assert post({"query": "Resources | summarize count()"})[0] == 400
    assert post({"query": query, "options": {"$top": 5000}})[0] == 400
    assert post({"query": query}, version="2019-04-01")[0] == 400


@pytest.mark.parametrize(("section", "expected"), [
    ({"resource_graph": "yes"}, "resource_graph"),
    ({"management_groups": ["acme-europe"]}, "set resource_graph: true"),
    ({"resource_graph": True, "management_groups": ["acme europe!"]}, "is not a management group id"),
])
def test_bad_graph_config_is_one_line_naming_the_key(azure_section: SectionFactory, section: dict[str, Any],
                                                     expected: str) -> None:
    with pytest.raises(InputError) as caught:
        AzureProvider.from_config(azure_section(section))
    message = str(caught.value)
    assert expected in message and "\n" not in message and "custody.yaml" in message


def test_the_graph_query_is_the_only_post_the_read_only_guard_lets_through(
        azure_estate: AzureEstate, arm_server: ArmServer, azure_section: SectionFactory) -> None:
    from azure.mgmt.storage import StorageManagementClient

    from providers.azure import ReadOnlyViolation

    provider = AzureProvider.from_config(azure_section({**azure_estate.provider_section(), "resource_graph": True}))
    client = provider.sdk_client(StorageManagementClient, SUB_EU)
    with pytest.raises(ReadOnlyViolation):  # listKeys is a POST too, and would read secrets
        client.storage_accounts.list_keys("rg-prod-eu", "acmeeulogs")
    assert arm_server.requests == []
    scan(azure_estate, azure_section, resource_graph=True)
    assert {path.split("?")[0].lower() for method, path in arm_server.requests if method != "GET"} == {GRAPH_PATH}
