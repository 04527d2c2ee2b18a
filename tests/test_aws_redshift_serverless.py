"""Redshift Serverless namespaces (scanner/kinds.py `redshift-serverless-namespace`): found with their tags, each
snapshot copy configuration located as a backup in the destination's country, a copy abroad turns a passing
namespace into a failing one, and a denied listing leaves the region's target not scanned (never "no stores")."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_redshift_serverless_copy
from demo.moto_server import MotoServer
from tests.fault_proxy import DENIED_JSON, FaultProxy, operation_name
from tests.fixtures_aws import control_reach, places, scan_kinds

REGIONS = ["eu-central-1", "eu-west-1"]
COPY_FIELD = "ListSnapshotCopyConfigurations.snapshotCopyConfigurations.destinationRegion"


def test_snapshot_copy_configurations_are_backups_and_a_copy_abroad_fails(tmp_path, moto_patched: MotoServer,
                                                                          aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    eu = seed_redshift_serverless_copy(clients, MANAGEMENT_ACCOUNT_ID, "finance", "eu-central-1", "eu-west-1",
                                       {"env": "prod"})
    br = seed_redshift_serverless_copy(clients, MANAGEMENT_ACCOUNT_ID, "sales", "eu-west-1", "sa-east-1", {})
    seed_redshift_serverless_copy(clients, MANAGEMENT_ACCOUNT_ID, "scratch", "eu-central-1", None, {})

    result, stores = scan_kinds(tmp_path, ["redshift-serverless"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {
        ("eu-central-1", "redshift-serverless", "ok"), ("eu-west-1", "redshift-serverless", "ok")}
    finance, sales, scratch = stores["finance"], stores["sales"], stores["scratch"]
    assert (finance.kind, finance.id, sales.id) == ("redshift-serverless-namespace", eu.id, br.id)
    assert finance.tags == {"env": "prod"}
    assert places(finance) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "backup", "IE")}
    assert places(sales) == {("eu-west-1", "primary", "IE"), ("sa-east-1", "backup", "BR")}
    assert places(scratch) == {("eu-central-1", "primary", "DE")}  # no copy configuration: no second location
    assert {loc.learned_from for loc in sales.locations if loc.role == "backup"} == {COPY_FIELD}

    # with what reaches the EU-only namespace through AWS's control waived, it passes, and the snapshot copies in
    # Brazil alone make the other one fail
    _, stores = scan_kinds(tmp_path, ["redshift-serverless"], REGIONS, waive=control_reach(finance))
    finance, sales = stores["finance"], stores["sales"]
    assert finance.status == "pass", finance.findings
    assert sales.status == "fail" and {f.jurisdiction for f in sales.findings if not f.waiver} == {"BR"}


def test_a_denied_listing_is_not_scanned_and_the_copies_are_read_once_per_region(tmp_path, moto_patched: MotoServer,
                                                                                   aws_env):
    clients = Clients(moto_patched.url)
    seed_redshift_serverless_copy(clients, MANAGEMENT_ACCOUNT_ID, "finance", "eu-central-1", "eu-west-1", {})
    seed_redshift_serverless_copy(clients, MANAGEMENT_ACCOUNT_ID, "people", "eu-central-1", "us-east-1", {})
    seed_redshift_serverless_copy(clients, MANAGEMENT_ACCOUNT_ID, "sales", "eu-west-1", "sa-east-1", {})
    proxy = FaultProxy(moto_patched.url).start()
    proxy.deny(lambda r: operation_name(r) == "redshift-serverless:ListNamespaces" and r.region == "eu-west-1",
               DENIED_JSON)
    try:
        aws_env(proxy.url)
        result, stores = scan_kinds(tmp_path, ["redshift-serverless"], REGIONS)
    finally:
        proxy.stop()
    assert result.status == "partial"
    assert {(t.region, t.status) for t in result.targets} == {("eu-central-1", "ok"), ("eu-west-1", "denied")}
    assert "sales" not in stores
    assert places(stores["people"]) == {("eu-central-1", "primary", "DE"), ("us-east-1", "backup", "US")}
    calls = [op for op in proxy.operations if op.startswith("redshift-serverless:")]
    # one listing of the copy configurations for the region's two namespaces; none where the listing was denied
    assert calls.count("redshift-serverless:ListSnapshotCopyConfigurations") == 1
    assert calls.count("redshift-serverless:ListTagsForResource") == 2


def test_who_holds_the_namespace_keys(tmp_path, moto_patched: MotoServer, aws_env):
    """The default key is AWS's own (the provider's rung); a customer managed key is described once, in its region."""
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    key = clients("kms", "eu-central-1").create_key(Description="finance dwh")["KeyMetadata"]["Arn"]
    serverless = clients("redshift-serverless", "eu-central-1")
    serverless.create_namespace(namespaceName="finance", kmsKeyId=key)
    serverless.create_namespace(namespaceName="scratch")

    result, stores = scan_kinds(tmp_path, ["redshift-serverless"], ["eu-central-1"])

    assert result.status == "complete"
    finance, scratch = stores["finance"].encryption, stores["scratch"].encryption
    assert (finance.custody, finance.key, finance.key_region) == (
        "customer_managed_in_provider_kms", key, "eu-central-1")
    assert finance.learned_from.startswith("ListNamespaces.kmsKeyId; kms:DescribeKey")
    assert (scratch.custody, scratch.key) == ("provider_managed", None)
    assert scratch.learned_from == "ListNamespaces.kmsKeyId (AWS_OWNED_KMS_KEY)"


def test_a_region_without_redshift_serverless_is_not_called(tmp_path, moto_patched: MotoServer, aws_env):
    """me-south-1: botocore's endpoint data offers no Redshift Serverless there, so no namespace can be there: the
    region is read as empty (ok) without a call, where a call to real AWS would fail on a missing endpoint."""
    seed_redshift_serverless_copy(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "finance", "eu-central-1",
                                  "eu-west-1", {})
    proxy = FaultProxy(moto_patched.url).start()
    # any call there would be answered as AWS cannot answer it, and show as a target not scanned
    proxy.deny(lambda r: r.service == "redshift-serverless" and r.region == "me-south-1", DENIED_JSON)
    try:
        aws_env(proxy.url)
        result, stores = scan_kinds(tmp_path, ["redshift-serverless"], ["eu-central-1", "me-south-1"])
    finally:
        proxy.stop()
    assert result.status == "complete" and set(stores) == {"finance"}
    assert {(t.region, t.status) for t in result.targets} == {("eu-central-1", "ok"), ("me-south-1", "ok")}
    assert proxy.faults_sent == 0
