"""The control test on a table of cases whose answers come from the legal facts, not the code."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.helpers import bucket, config, judge, reach_of


def grounds(store, jurisdiction: str) -> set[tuple[str, str]]:
    reach = reach_of(store, jurisdiction)
    return {(g["basis"], g["law"]) for g in reach.grounds} if reach else set()


def test_eu_region_of_us_parented_operator_is_reached_by_us_through_the_parent():
    store = judge(bucket(("eu-central-1", "primary")), config(owner="eurobank"))  # owner: German, no parent
    assert [(loc.country, loc.city) for loc in store.locations] == [("DE", "Frankfurt")]
    assert [e.name for e in store.operator] == ["Amazon Web Services EMEA SARL", "Amazon.com, Inc."]
    us = reach_of(store, "US")
    assert us.basis == "control" and us.law == "us-cloud-act"
    assert us.path == ["s3-bucket b-eu-central-1", "Amazon Web Services EMEA SARL (LU)", "Amazon.com, Inc. (US)",
                       "18 U.S.C. § 2713"]
    assert ("location", "territorial") in grounds(store, "DE")
    assert store.status == "fail"
    assert {f.jurisdiction for f in store.findings} == {"US", "GB"}  # DE and EU are home for an EU policy


def test_account_country_picks_the_contracting_entity_not_the_region():
    us_account = judge(bucket(("eu-central-1", "primary")), config(owner="acme-inc"))
    assert us_account.operator[0].name == "Amazon Web Services, Inc."
    emea_in_virginia = judge(bucket(("us-east-1", "primary")), config(owner="eurobank"))
    assert emea_in_virginia.operator[0].name == "Amazon Web Services EMEA SARL"


def test_sovereign_cloud_partition_is_still_within_us_control():
    store = judge(bucket(("eusc-de-east-1", "primary")), config(owner="eurobank"))
    assert store.locations[0].partition == "aws-eusc" and store.locations[0].country == "DE"
    assert store.operator[0].name == "AWS European Sovereign Cloud GmbH"
    assert store.operator[-1].name == "Amazon.com, Inc."
    us = reach_of(store, "US")
    assert us.basis == "control"
    # the path stops at the first US entity: the reported sole shareholder, a Delaware company
    assert us.path[1:] == ["AWS European Sovereign Cloud GmbH (DE)", "A100 ROW, Inc. (US)", "18 U.S.C. § 2713"]


def test_china_region_is_run_by_a_chinese_operator_not_amazon():
    store = judge(bucket(("cn-north-1", "primary")), config(owner="eurobank"))
    assert [e.name for e in store.operator] == ["Beijing Sinnet Technology Co., Ltd."]
    assert {("all_organizations", "cn-nil-art7"), ("location", "cn-dsl"), ("location", "territorial")} <= grounds(
        store, "CN")
    assert reach_of(store, "US") is None  # no US entity in either chain
    assert reach_of(store, "CN").basis == "all_organizations"


def test_ningxia_has_its_own_operator():
    store = judge(bucket(("cn-northwest-1", "primary")), config(owner="eurobank"))
    assert store.operator[0].name == "Ningxia Western Cloud Data Technology Co., Ltd."


def test_replica_in_another_country_brings_that_country_in():
    store = judge(bucket(("eu-central-1", "primary"), ("ap-northeast-1", "replica")), config(owner="eurobank"))
    jp = reach_of(store, "JP")
    assert jp.basis == "location"
    assert jp.path[1] == "replica copy in ap-northeast-1 (Tokyo, Japan)"
    assert any(f.jurisdiction == "JP" for f in store.findings)


def test_us_parented_customer_in_eu_region_is_reached_through_the_owner_chain():
    store = judge(bucket(("cn-north-1", "primary")), config(owner="acme-europe"))  # operator chain has no US entity
    assert [e.name for e in store.owner] == ["Acme Europe GmbH", "Acme Inc."]
    us = reach_of(store, "US")
    assert us.basis == "control"
    assert us.path == ["s3-bucket b-cn-north-1", "Acme Europe GmbH (DE)", "Acme Inc. (US)", "18 U.S.C. § 2713"]


def test_hong_kong_is_its_own_country_but_within_prc_law():
    store = judge(bucket(("ap-east-1", "primary")), config(owner="eurobank"))
    assert store.locations[0].country == "HK"
    assert ("location", "cn-hk-nsl-art43") in grounds(store, "CN")
    assert ("location", "territorial") in grounds(store, "HK")


def test_uk_reaches_us_controlled_data_through_the_overseas_production_order_act():
    store = judge(bucket(("eu-central-1", "primary")), config(owner="eurobank"))
    assert ("control", "gb-copo-2019") in grounds(store, "GB")
    assert ("offering_services", "gb-ipa-2016") in grounds(store, "GB")


@pytest.mark.parametrize(("today", "expected"), [(dt.date(2026, 8, 17), False), (dt.date(2026, 8, 18), True)])
def test_e_evidence_applies_only_from_18_august_2026(today, expected):
    store = judge(bucket(("us-east-1", "primary")), config(owner="eurobank"), today=today)
    assert (("establishment", "eu-e-evidence") in grounds(store, "EU")) is expected


def test_region_missing_from_catalog_is_not_evaluated_never_pass():
    store = judge(bucket(("mars-north-1", "primary")), config(owner="acme-inc"), home=("US", "GB"))
    assert store.findings == []  # the one chain we know (the owner's) is within home
    assert store.locations[0].country == "unknown"
    assert store.status == "not_evaluated"
    assert "mars-north-1 is not in the catalog" in store.status_reason


# AWS, Inc. offers its services in these, so their service-offering laws reach its stores too
AWS_INC_REACH = ("US", "GB", "EU", "AU", "CA", "IN")


def test_undeclared_owner_blocks_a_pass():
    store = judge(bucket(("us-east-1", "primary"), account="999999999999"), config(owner=None), home=AWS_INC_REACH)
    assert store.findings == []
    assert store.status == "not_evaluated"
    assert "owner of account 999999999999 not declared" in store.status_reason


def test_store_reached_only_by_home_passes():
    store = judge(bucket(("us-east-1", "primary")), config(owner="acme-inc"), home=AWS_INC_REACH)
    assert {r.jurisdiction for r in store.reachable_by} == set(AWS_INC_REACH)
    assert store.status == "pass"
