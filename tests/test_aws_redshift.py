"""Redshift clusters (scanner/kinds.py `redshift-cluster`): found, cross-region snapshot copy located as a backup in
the destination's country, and a snapshot copy abroad turns a passing cluster into a failing one."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_redshift_snapshot_copy
from demo.moto_server import MotoServer
from tests.fixtures_aws import control_reach, places, scan_kinds

REGIONS = ["eu-central-1", "eu-west-1"]


def test_redshift_snapshot_copies_are_backups_and_a_copy_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    eu = seed_redshift_snapshot_copy(clients, MANAGEMENT_ACCOUNT_ID, "finance-dwh", "eu-central-1", "eu-west-1", {})
    br = seed_redshift_snapshot_copy(clients, MANAGEMENT_ACCOUNT_ID, "sales-dwh", "eu-west-1", "sa-east-1", {})
    clients("redshift", "eu-central-1").create_cluster(
        ClusterIdentifier="scratch-dwh", NodeType="ra3.xlplus", MasterUsername="a", MasterUserPassword="Not-real-1x")

    result, stores = scan_kinds(tmp_path, ["redshift"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {
        ("eu-central-1", "redshift", "ok"), ("eu-west-1", "redshift", "ok")}
    finance, sales, scratch = stores["finance-dwh"], stores["sales-dwh"], stores["scratch-dwh"]
    assert (finance.kind, finance.id, sales.id) == ("redshift-cluster", eu.id, br.id)
    assert places(finance) == {("eu-central-1", "primary", "DE"), ("eu-west-1", "backup", "IE")}
    assert places(sales) == {("eu-west-1", "primary", "IE"), ("sa-east-1", "backup", "BR")}
    assert places(scratch) == {("eu-central-1", "primary", "DE")}  # no snapshot copy: no second location
    assert {loc.learned_from for loc in sales.locations if loc.role == "backup"} == {
        "DescribeClusters.ClusterSnapshotCopyStatus.DestinationRegion"}

    # with what reaches the EU-only cluster through AWS's control waived, it passes, and the snapshot copies in
    # Brazil alone make the other one fail
    _, stores = scan_kinds(tmp_path, ["redshift"], REGIONS, waive=control_reach(finance))
    finance, sales = stores["finance-dwh"], stores["sales-dwh"]
    assert finance.status == "pass", finance.findings
    assert sales.status == "fail" and {f.jurisdiction for f in sales.findings if not f.waiver} == {"BR"}
