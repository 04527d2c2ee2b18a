"""Policies and waivers: which stores a policy covers, what it accepts, when a waiver mutes a finding."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from policies.policy_loader import load_policies
from scanner.policy import Policy, Scope, Waiver
from tests.helpers import TODAY, bucket, catalog, config, judge

PERSONAL = Policy("eu-personal", ("EU",), Scope(tags={"data-class": "personal"}), severity="critical")


def waiver(expires: dt.date, **kw) -> Waiver:
    return Waiver(store=kw.pop("store", "arn:aws:s3:::b-*"), reason="migration", approver="dpo", expires=expires, **kw)


def test_policy_covers_only_matching_stores():
    tagged = judge(bucket(("us-east-1", "primary"), tags={"data-class": "personal"}), policies=[PERSONAL])
    untagged = judge(bucket(("us-east-1", "primary"), tags={"data-class": "public"}), policies=[PERSONAL])
    assert tagged.status == "fail" and {f.severity for f in tagged.findings} == {"critical"}
    assert untagged.status == "not_applicable" and untagged.findings == []


def test_scope_by_account_kind_and_provider():
    scope = Scope(accounts=("111111111111",), kinds=("s3-bucket",), providers=("aws",))
    store = judge(bucket(("eu-central-1", "primary")))
    assert scope.covers(store)
    assert not Scope(accounts=("222222222222",)).covers(store)
    assert not Scope(kinds=("dynamodb-table",)).covers(store)
    assert not Scope(providers=("gcp",)).covers(store)


def test_accept_lists_further_jurisdictions():
    accepting = Policy("eu-plus", ("EU",), Scope(), accept=("US", "GB", "AU"))
    store = judge(bucket(("eu-central-1", "primary")), policies=[accepting])
    assert store.status == "pass"
    assert {r.jurisdiction for r in store.reachable_by if r.effective} == {"DE", "EU", "GB", "US", "AU"}


def test_active_waiver_mutes_and_expired_waiver_fails_again():
    found = bucket(("eu-central-1", "primary"))
    muted = judge(found, waivers=[waiver(TODAY + dt.timedelta(days=1))])
    assert muted.status == "pass" and muted.findings and all(f.waiver for f in muted.findings)
    assert "waived" in muted.status_reason
    expired = judge(found, waivers=[waiver(TODAY - dt.timedelta(days=1))])
    assert expired.status == "fail"
    assert all(f.waiver["expired"] for f in expired.findings)


def test_waiver_for_one_jurisdiction_leaves_the_others_failing():
    us_only = waiver(TODAY + dt.timedelta(days=30), jurisdiction="US")
    store = judge(bucket(("eu-central-1", "primary")), waivers=[us_only])
    assert store.status == "fail"
    assert {f.jurisdiction for f in store.findings if f.waiver is None} == {"GB", "AU"}


def test_waiver_pattern_must_match_the_store():
    store = judge(bucket(("eu-central-1", "primary")), waivers=[waiver(TODAY + dt.timedelta(days=1), store="arn:x")])
    assert store.status == "fail" and not any(f.waiver for f in store.findings)


def test_fingerprint_is_stable_and_distinguishes_jurisdiction():
    one = judge(bucket(("eu-central-1", "primary")))
    two = judge(bucket(("eu-central-1", "primary")))
    assert [f.fingerprint for f in one.findings] == [f.fingerprint for f in two.findings]
    assert len({f.fingerprint for f in one.findings}) == len(one.findings) == 3  # US, GB, AU


def test_unknown_location_with_a_failing_reach_is_fail_not_not_evaluated():
    # known unacceptable reach outweighs what we do not know
    store = judge(bucket(("eu-central-1", "primary"), ("mars-north-1", "replica")), config(owner="eurobank"))
    assert store.status == "fail"
    assert any("mars-north-1" in unknown for unknown in store.unknowns)


def test_policy_file_loads_with_defaults_and_waivers(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text("""\
policies:
  - id: eu-personal
    applies_to: {tags: {data-class: personal}}
    accept: [CH]
waivers:
  - store: "arn:aws:s3:::legacy-*"
    jurisdiction: US
    reason: migration planned
    approver: dpo@example.com
    expires: 2027-03-31
""")
    policies, waivers = load_policies([str(path)], catalog(), ["EU"])
    assert [p.id for p in policies] == ["default-home-only", "eu-personal"]
    assert policies[1].home == ("EU",) and policies[1].accept == ("CH",) and policies[1].severity == "high"
    assert waivers[0].expires == dt.date(2027, 3, 31) and waivers[0].jurisdiction == "US"
    assert waivers[0].source == f"{path}:6"


def test_status_reason_names_the_strongest_reach_first():
    store = judge(bucket(("ap-east-1", "primary")), config(owner="eurobank"))
    assert store.status == "fail"
    worst = store.status_reason.split("worst: ", 1)[1]
    assert worst.startswith("Hong Kong can compel access (location, direct,")  # a copy on the soil first


def test_unreadable_tags_never_make_a_tag_scoped_policy_not_applicable():
    found = bucket(("eu-central-1", "primary"))
    found.unknowns.append("tags unreadable (AccessDenied): policy scope may be wrong")
    store = judge(found, config(owner="eurobank"), policies=[PERSONAL])
    assert store.status == "not_evaluated"
    assert "cannot tell whether policy eu-personal covers this store" in store.status_reason
    readable = judge(bucket(("eu-central-1", "primary")), config(owner="eurobank"), policies=[PERSONAL])
    assert readable.status == "not_applicable"
