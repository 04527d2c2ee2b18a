"""Aurora global databases (scanner/kinds.py `rds-cluster`, DescribeGlobalClusters): every member cluster names
the writer's region as primary and the secondaries' regions as replicas, in the right countries; a secondary abroad
turns a passing database into a failing one."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_aurora_global
from demo.moto_server import MotoServer
from tests.fixtures_aws import control_reach, places, scan_kinds

REGIONS = ["eu-central-1", "eu-west-1", "sa-east-1"]


def test_global_database_members_and_a_secondary_abroad(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    eu_writer, eu_secondary = seed_aurora_global(clients, MANAGEMENT_ACCOUNT_ID, "ledger", "eu-central-1",
                                                 "eu-west-1", {})
    br_writer, br_secondary = seed_aurora_global(clients, MANAGEMENT_ACCOUNT_ID, "payments", "eu-west-1",
                                                 "sa-east-1", {})
    clients("rds", "eu-central-1").create_db_cluster(  # not in a global database: one location
        DBClusterIdentifier="scratch", Engine="aurora-postgresql", MasterUsername="a", MasterUserPassword="Not-real-1x")

    result, stores = scan_kinds(tmp_path, ["rds"], REGIONS)

    assert result.status == "complete"
    assert {(s.kind, s.id) for s in stores.values() if s.name != "scratch"} == {
        ("rds-cluster", seeded.id) for seeded in (eu_writer, eu_secondary, br_writer, br_secondary)}
    ledger = {("eu-central-1", "primary", "DE"), ("eu-west-1", "replica", "IE")}
    payments = {("eu-west-1", "primary", "IE"), ("sa-east-1", "replica", "BR")}
    assert places(stores[eu_writer.name]) == places(stores[eu_secondary.name]) == ledger
    assert places(stores[br_writer.name]) == places(stores[br_secondary.name]) == payments
    assert places(stores["scratch"]) == {("eu-central-1", "primary", "DE")}
    assert {loc.learned_from for loc in stores[br_secondary.name].locations} == {
        "DescribeGlobalClusters.GlobalClusterMembers.IsWriter", "DescribeGlobalClusters.GlobalClusterMembers"}

    # with what reaches the EU-only database through AWS's control waived, it passes, and the secondary in
    # Brazil alone makes the other one fail
    _, stores = scan_kinds(tmp_path, ["rds"], REGIONS, waive=control_reach(stores[eu_writer.name]))
    assert stores[eu_writer.name].status == "pass", stores[eu_writer.name].findings
    writer = stores[br_writer.name]
    assert writer.status == "fail" and {f.jurisdiction for f in writer.findings if not f.waiver} == {"BR"}


def test_neptune_global_database_is_read_through_the_same_calls(tmp_path, moto_patched: MotoServer, aws_env):
    """Neptune (like DocumentDB) runs on the RDS control plane: DescribeDBClusters lists its clusters and
    DescribeGlobalClusters its global databases, so the rds-cluster reader finds every member's region."""
    aws_env(moto_patched)
    writer, secondary = seed_aurora_global(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "graph", "eu-central-1",
                                           "sa-east-1", {}, engine="neptune")

    result, stores = scan_kinds(tmp_path, ["rds"], REGIONS)

    assert result.status == "complete"
    graph = {("eu-central-1", "primary", "DE"), ("sa-east-1", "replica", "BR")}
    assert places(stores[writer.name]) == places(stores[secondary.name]) == graph
    assert stores[secondary.name].kind == "rds-cluster"


def test_documentdb_global_cluster_finds_primary_and_secondary_regions(tmp_path, moto_patched: MotoServer,
                                                                       aws_env):
    """DocumentDB global clusters (engine docdb) are read by the same RDS calls: the writer's region is primary, the
    secondary's a replica, on both members; a secondary in Brazil fails the EU policy."""
    aws_env(moto_patched)
    writer, secondary = seed_aurora_global(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "docs", "eu-central-1",
                                           "sa-east-1", {}, engine="docdb")

    result, stores = scan_kinds(tmp_path, ["rds"], REGIONS)

    assert result.status == "complete"
    docs = {("eu-central-1", "primary", "DE"), ("sa-east-1", "replica", "BR")}
    assert places(stores[writer.name]) == places(stores[secondary.name]) == docs
    assert {loc.learned_from for loc in stores[secondary.name].locations} == {
        "DescribeGlobalClusters.GlobalClusterMembers.IsWriter", "DescribeGlobalClusters.GlobalClusterMembers"}
    assert stores[writer.name].status == "fail"
    assert {f.jurisdiction for f in stores[writer.name].findings if not f.waiver} >= {"BR"}
