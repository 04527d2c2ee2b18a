"""OpenSearch Service domains (scanner/kinds.py `opensearch-domain`): found (ListDomainNames, then DescribeDomains,
a POST that only reads), a leader's cross-cluster replication followers located as replicas in the right countries,
a follower abroad turns a passing domain into a failing one, connections that cannot be read make the region's
target not scanned, and the provider's read-only guard lets those POSTs through while it refuses writes."""

from __future__ import annotations

import boto3
import pytest

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_opensearch_replication
from demo.moto_server import MotoServer
from providers.aws import AwsProvider, ReadOnlyViolation
from tests.fault_proxy import DENIED_JSON, operation_name
from tests.fixtures_aws import control_reach, places, scan_kinds, scan_kinds_denying

REGIONS = ["eu-central-1", "eu-west-1", "sa-east-1"]


def test_opensearch_followers_are_replicas_and_a_follower_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    [eu, eu_follower] = seed_opensearch_replication(clients, MANAGEMENT_ACCOUNT_ID, "hr-search", "eu-central-1",
                                                    "eu-west-1")
    [br, _] = seed_opensearch_replication(clients, MANAGEMENT_ACCOUNT_ID, "crm-search", "eu-central-1", "sa-east-1")
    [lone] = seed_opensearch_replication(clients, MANAGEMENT_ACCOUNT_ID, "logs-search", "eu-west-1", None)

    result, stores = scan_kinds(tmp_path, ["opensearch"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {(r, "opensearch", "ok") for r in REGIONS}
    hr, crm = stores["hr-search"], stores["crm-search"]
    assert (hr.kind, hr.id, crm.id, stores["logs-search"].id) == ("opensearch-domain", eu.id, br.id, lone.id)
    assert hr.tags["data-class"] == "personal"
    assert places(hr) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "replica", "IE")}
    assert places(crm) == {("eu-central-1", "primary", "DE"), ("sa-east-1", "replica", "BR")}
    assert places(stores["logs-search"]) == {("eu-west-1", "primary", "IE")}
    [learned] = [loc.learned_from for loc in crm.locations if loc.role == "replica"]
    assert learned.startswith("DescribeInboundConnections.LocalDomainInfo") and "crm-search-follower" in learned
    # a follower: its own region, and its leader's region, where the indices it follows are written
    follower = stores["hr-search-follower"]
    assert follower.id == eu_follower.id
    assert places(follower) == {("eu-west-1", "primary", "IE"), ("eu-central-1", "primary", "DE")}
    assert places(stores["crm-search-follower"]) == {("sa-east-1", "primary", "BR"), ("eu-central-1", "primary", "DE")}

    _, stores = scan_kinds(tmp_path, ["opensearch"], REGIONS, waive=control_reach(hr))
    hr, crm = stores["hr-search"], stores["crm-search"]
    assert hr.status == "pass", hr.findings
    assert crm.status == "fail" and {f.jurisdiction for f in crm.findings if not f.waiver} == {"BR"}


def test_opensearch_connections_denied_is_a_target_not_scanned(tmp_path, moto_patched: MotoServer, aws_env):
    """Denied DescribeInboundConnections (recorded by the proxy as the read it is, though sent as a POST): the
    region's OpenSearch target is denied, never "no domains"."""
    seed_opensearch_replication(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "crm-search", "eu-central-1",
                                "sa-east-1")
    result, stores, calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["opensearch"], ["eu-central-1", "sa-east-1"],
        lambda r: operation_name(r) == "es:DescribeInboundConnections", DENIED_JSON)
    assert result.status == "failed"
    assert {t.region: t.status for t in result.targets if t.service == "opensearch"} == {
        "eu-central-1": "denied", "sa-east-1": "denied"}
    assert "crm-search" not in stores
    assert {"es:ListDomainNames", "es:DescribeDomains", "es:DescribeOutboundConnections"} <= set(calls)


def test_the_read_only_guard_lets_describe_domains_post_and_refuses_writes(moto_patched: MotoServer, aws_env):
    """Every client the provider makes refuses a call that is not a read, by its name: DescribeDomains (a POST) and
    the connection searches pass, CreateDomain never reaches the server."""
    aws_env(moto_patched)
    seed_opensearch_replication(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "hr-search", "eu-central-1", None)
    opensearch = AwsProvider().new_client(boto3.Session(), "opensearch", "eu-central-1")
    moto_patched.clear_log()
    [domain] = opensearch.describe_domains(DomainNames=["hr-search"])["DomainStatusList"]
    assert domain["DomainName"] == "hr-search" and opensearch.describe_inbound_connections()["Connections"] == []
    with pytest.raises(ReadOnlyViolation, match="opensearch:CreateDomain"):
        opensearch.create_domain(DomainName="written")
    assert [method for method, _, _ in moto_patched.request_log()] == ["POST", "POST"]  # the two reads, nothing else
