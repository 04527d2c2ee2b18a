"""Cloud Asset Inventory's ListAssets at organization scope (providers/gcp_assets.py) against the fake in
demo/gcs_server.py, which lists the stores the Cloud Storage, BigQuery and database fakes hold.

The bulk path and the per-project path scan the same demo estate and must give the same stores, copies, unknowns and
key custody; a project the inventory does not answer for, and ListAssets off, fall back per project without losing a
store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests

from demo.gcp_estate import APAC_PROJECT, EU_PROJECT, ORGANIZATION, GcpEstate
from providers.base import TargetLog
from providers.gcp import GcpProvider
from providers.gcp_assets import BUILDERS, PROJECT_TYPE, TARGET
from providers.gcp_assets import read as read_assets
from scanner.discovered import DiscoveredStore
from scanner.errors import InputError
from scanner.yamlfile import Node


def scan(gcp_section: Callable[..., Node], section: dict[str, Any]) -> tuple[list[DiscoveredStore], TargetLog]:
    log = TargetLog()
    return list(GcpProvider.from_config(gcp_section(section)).discover(log)), log


def fingerprint(stores: list[DiscoveredStore]) -> dict[str, tuple[Any, ...]]:
    """What a store reports, by id: identity, labels, every copy and its role, unknowns, who holds the keys."""
    def keys(store: DiscoveredStore) -> tuple[Any, ...] | None:
        facts = store.encryption
        return None if facts is None else (facts.custody, facts.key, facts.key_region, facts.key_store, facts.reason)

    return {store.id: (store.kind, store.account, store.name, store.region, tuple(sorted(store.tags.items())),
                       tuple((loc.region, loc.role) for loc in store.locations), tuple(sorted(store.unknowns)),
                       keys(store)) for store in stores}


def listings(estate: GcpEstate) -> list[str]:
    """The per-project listings the scan made (buckets, datasets, database instances): what ListAssets replaces."""
    per_project = re.compile(r"/storage/v1/b|/bigquery/v2/projects/[^/]+/datasets(/[^/]+)?|/v1/projects/[^/]+/"
                             r"(instances|databases)|/sql/v1beta4/projects/[^/]+/instances|/v2/projects/[^/]+/.*")
    return [f"{server.name} {r.path} {r.query.get('project', [''])[0]}" for server in estate.servers()
            for r in server.requests if per_project.fullmatch(r.path)]


def clear(estate: GcpEstate) -> None:
    for server in estate.servers():
        server.requests.clear()


def test_bulk_and_per_project_paths_give_the_same_stores(gcp_estate: GcpEstate, gcp_section) -> None:
    per_project, _ = scan(gcp_section, gcp_estate.config_section(asset_inventory=False))
    calls_per_project = sum(len(server.requests) for server in gcp_estate.servers())
    clear(gcp_estate)

    bulk, log = scan(gcp_section, gcp_estate.config_section())

    assert fingerprint(bulk) == fingerprint(per_project)
    assert set(fingerprint(bulk)) == set(gcp_estate.manifest)
    assert listings(gcp_estate) == []  # no per-project listing: every kind came from ListAssets
    assert sum(len(server.requests) for server in gcp_estate.servers()) < calls_per_project
    config_reads = [r.path for r in gcp_estate.databases.requests]
    assert config_reads and all("/instanceConfigs/" in path for path in config_reads)  # Spanner replicas, once each
    bucket = next(s for s in bulk if s.name == "nw-customer-records")
    assert bucket.locations[0].learned_from.startswith("cloudasset.assets.list")
    target = next(t for t in log.results if t.service == TARGET)
    assert (target.account, target.region, target.status, target.error) == ("*", ORGANIZATION, "ok", None)
    assert all(t.status == "ok" for t in log.results)


def test_list_assets_pages_are_followed(gcp_estate: GcpEstate, gcp_section) -> None:
    bulk, _ = scan(gcp_section, gcp_estate.config_section())  # the fakes page 2 items at a time

    pages = [r for r in gcp_estate.resources.requests if r.path.endswith("/assets")]
    assert len(pages) > 10 and len({(r.query.get("pageToken") or [""])[0] for r in pages}) == len(pages)
    assert {s.kind for s in bulk} == {m.kind for m in gcp_estate.manifest.values()}
    first = pages[0].query
    assert first["contentType"] == ["RESOURCE"] and int(first["pageSize"][0]) <= 1000
    assert set(first["assetTypes"]) == {PROJECT_TYPE, *BUILDERS}


def test_a_project_the_inventory_misses_is_read_per_project(gcp_estate: GcpEstate, gcp_section) -> None:
    expected, _ = scan(gcp_section, gcp_estate.config_section(asset_inventory=False))
    clear(gcp_estate)
    gcp_estate.resources.hidden_from_assets.add(APAC_PROJECT)

    bulk, _ = scan(gcp_section, gcp_estate.config_section())

    assert fingerprint(bulk) == fingerprint(expected)
    listed = listings(gcp_estate)
    assert any(APAC_PROJECT in call for call in listed)
    assert not any(EU_PROJECT in call for call in listed)


def test_asset_api_off_falls_back_per_project_without_losing_stores(gcp_estate: GcpEstate, gcp_section) -> None:
    expected, _ = scan(gcp_section, gcp_estate.config_section(asset_inventory=False))
    gcp_estate.resources.assets_off = True

    bulk, log = scan(gcp_section, gcp_estate.config_section())

    assert fingerprint(bulk) == fingerprint(expected)
    target = next(t for t in log.results if t.service == TARGET)
    assert target.status == "ok" and "fallback per project" in (target.error or "") and "403" in (target.error or "")
    assert all(t.status == "ok" for t in log.results)


def test_a_denied_service_in_a_missed_project_stays_denied(gcp_estate: GcpEstate, gcp_section) -> None:
    """A project the inventory misses is read per project: a denial there is recorded, never taken as no stores."""
    gcp_estate.resources.hidden_from_assets.add(APAC_PROJECT)
    gcp_estate.gcs.deny(APAC_PROJECT)

    bulk, log = scan(gcp_section, gcp_estate.config_section())

    denied = [t for t in log.results if t.account == APAC_PROJECT and t.service == "storage"]
    assert [t.status for t in denied] == ["denied"]
    assert not [s for s in bulk if s.kind == "gcs-bucket" and s.account == APAC_PROJECT]
    assert [s for s in bulk if s.kind == "gcs-bucket" and s.account == EU_PROJECT]


def test_list_assets_answers_the_documented_shape(gcp_estate: GcpEstate) -> None:
    url = f"{gcp_estate.resources.url}/v1/{ORGANIZATION}/assets"
    body = requests.get(url, params={"assetTypes": "storage.googleapis.com/Bucket", "contentType": "RESOURCE",
                                     "pageSize": "1000"}, timeout=10).json()
    asset = body["assets"][0]
    assert set(asset) == {"name", "assetType", "resource", "ancestors", "updateTime"}
    assert re.fullmatch(r"//storage\.googleapis\.com/[a-z0-9-]+", asset["name"])
    assert asset["ancestors"][0].startswith("projects/") and asset["ancestors"][-1] == ORGANIZATION
    assert asset["resource"]["data"]["name"] == asset["name"].rsplit("/", 1)[-1]
    assert asset["resource"]["parent"] == f"//cloudresourcemanager.googleapis.com/{asset['ancestors'][0]}"
    assert requests.get(url, params={"contentType": "IAM_POLICY"}, timeout=10).status_code == 400


def test_bad_asset_inventory_setting_is_one_line(gcp_section) -> None:
    with pytest.raises(InputError) as caught:
        GcpProvider.from_config(gcp_section({"organization": "123", "asset_inventory": "sometimes"}))
    assert "asset_inventory" in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_inside_the_organization_adds_no_duplicates(gcp_estate: GcpEstate, gcp_section) -> None:
    from demo.gcp_estate import EU_FOLDER

    expected, _ = scan(gcp_section, gcp_estate.config_section(asset_inventory=False))

    bulk, log = scan(gcp_section, {**gcp_estate.config_section(), "folder": EU_FOLDER})

    assert len(bulk) == len({store.id for store in bulk})
    assert fingerprint(bulk) == fingerprint(expected)
    assert {t.region for t in log.results if t.service == TARGET} == {ORGANIZATION, EU_FOLDER}
    provider = GcpProvider.from_config(gcp_section({**gcp_estate.config_section(), "folder": EU_FOLDER}))
    provider.units(TargetLog())  # Resource Manager: the projects and their numbers
    inventory = read_assets(provider, ["storage"], TargetLog())
    buckets = [name for name, project in gcp_estate.gcs._bucket_project.items() if project == EU_PROJECT]
    assert len(inventory.items[EU_PROJECT]["storage.googleapis.com/Bucket"]) == len(buckets)  # each asset once
