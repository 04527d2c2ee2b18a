"""ElastiCache replication groups and MemoryDB clusters (scanner/kinds.py `elasticache-replication-group`,
`memorydb-cluster`): found, the members of their global datastores and multi-region clusters located with the right
roles and countries, a member abroad turns a passing store into a failing one, and a read that fails makes the
region's target not scanned, never "no stores"."""

from __future__ import annotations

from demo.aws_estate import MANAGEMENT_ACCOUNT_ID, Clients, seed_elasticache_global, seed_memorydb_multi_region
from demo.moto_server import MotoServer
from tests.fault_proxy import DENIED, Fault, operation_name
from tests.fixtures_aws import control_reach, places, scan_kinds, scan_kinds_denying

REGIONS = ["eu-central-1", "eu-west-1", "sa-east-1"]
FRANKFURT, IRELAND, SAO_PAULO = ("eu-central-1", "primary", "DE"), ("eu-west-1", "replica", "IE"), (
    "sa-east-1", "replica", "BR")


def test_elasticache_global_datastores_and_a_member_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    [eu, eu_dr] = seed_elasticache_global(clients, MANAGEMENT_ACCOUNT_ID, "payroll-cache", "eu-central-1", "eu-west-1")
    [br, br_dr] = seed_elasticache_global(clients, MANAGEMENT_ACCOUNT_ID, "orders-cache", "eu-central-1", "sa-east-1")
    clients("elasticache", "eu-west-1").create_replication_group(
        ReplicationGroupId="scratch-cache", ReplicationGroupDescription="no global datastore", Engine="redis",
        CacheNodeType="cache.t3.micro", NumCacheClusters=1)

    result, stores = scan_kinds(tmp_path, ["elasticache"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {(r, "elasticache", "ok") for r in REGIONS}
    payroll, orders = stores["payroll-cache"], stores["orders-cache"]
    assert (payroll.kind, payroll.id, orders.id) == ("elasticache-replication-group", eu.id, br.id)
    assert payroll.tags["data-class"] == "personal"
    assert places(payroll) == {FRANKFURT, IRELAND}
    assert places(orders) == {FRANKFURT, SAO_PAULO}
    # the secondary members: the primary member's region is their primary, their own a replica
    assert stores["payroll-cache-dr"].id == eu_dr.id and places(stores["payroll-cache-dr"]) == {FRANKFURT, IRELAND}
    assert stores["orders-cache-dr"].id == br_dr.id and places(stores["orders-cache-dr"]) == {FRANKFURT, SAO_PAULO}
    assert places(stores["scratch-cache"]) == {("eu-west-1", "primary", "IE")}
    assert {loc.learned_from for loc in orders.locations if loc.role == "replica"} == {
        "DescribeGlobalReplicationGroups.Members.ReplicationGroupRegion (Role SECONDARY)"}

    _, stores = scan_kinds(tmp_path, ["elasticache"], REGIONS, waive=control_reach(payroll))
    payroll, orders = stores["payroll-cache"], stores["orders-cache"]
    assert payroll.status == "pass", payroll.findings
    assert orders.status == "fail" and {f.jurisdiction for f in orders.findings if not f.waiver} == {"BR"}


def test_elasticache_global_datastores_denied_is_a_target_not_scanned(tmp_path, moto_patched: MotoServer, aws_env):
    seed_elasticache_global(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "orders-cache", "eu-central-1",
                            "sa-east-1")
    result, stores, _calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["elasticache"], ["eu-central-1", "sa-east-1"],
        lambda r: operation_name(r) == "elasticache:DescribeGlobalReplicationGroups", DENIED)
    assert result.status == "failed"  # the only kind asked for could not be read: never "no stores"
    assert {t.region: t.status for t in result.targets if t.service == "elasticache"} == {
        "eu-central-1": "denied", "sa-east-1": "denied"}
    assert "orders-cache" not in stores and "orders-cache-dr" not in stores


def test_memorydb_multi_region_clusters_and_a_member_abroad_fails(tmp_path, moto_patched: MotoServer, aws_env):
    aws_env(moto_patched)
    clients = Clients(moto_patched.url)
    eu = seed_memorydb_multi_region(clients, MANAGEMENT_ACCOUNT_ID, "carts", "eu-central-1", "eu-west-1")
    br = seed_memorydb_multi_region(clients, MANAGEMENT_ACCOUNT_ID, "orders", "eu-central-1", "sa-east-1")
    clients("memorydb", "eu-west-1").create_cluster(ClusterName="scratch", NodeType="db.t4g.small",
                                                    ACLName="open-access")

    result, stores = scan_kinds(tmp_path, ["memorydb"], REGIONS)

    assert result.status == "complete"
    assert {(t.region, t.service, t.status) for t in result.targets} == {(r, "memorydb", "ok") for r in REGIONS}
    assert {stores[s.name].id for s in eu + br} == {s.id for s in eu + br}
    # active-active: every member's region is a primary, on every member
    for member in ("carts-eu-central-1", "carts-eu-west-1"):
        assert stores[member].kind == "memorydb-cluster"
        assert places(stores[member]) == {FRANKFURT, ("eu-west-1", "primary", "IE")}
    for member in ("orders-eu-central-1", "orders-sa-east-1"):
        assert places(stores[member]) == {FRANKFURT, ("sa-east-1", "primary", "BR")}
    assert places(stores["scratch"]) == {("eu-west-1", "primary", "IE")}
    assert stores["carts-eu-west-1"].tags["data-class"] == "personal"

    carts = stores["carts-eu-central-1"]
    _, stores = scan_kinds(tmp_path, ["memorydb"], REGIONS, waive=control_reach(carts))
    assert stores["carts-eu-central-1"].status == "pass", stores["carts-eu-central-1"].findings
    orders = stores["orders-eu-central-1"]
    assert orders.status == "fail" and {f.jurisdiction for f in orders.findings if not f.waiver} == {"BR"}


def test_memorydb_multi_region_unreadable_is_a_target_not_scanned(tmp_path, moto_patched: MotoServer, aws_env):
    """DescribeMultiRegionClusters fails (MemoryDB speaks CBOR: an unparseable 500 answer): the target is an error."""
    seed_memorydb_multi_region(Clients(moto_patched.url), MANAGEMENT_ACCOUNT_ID, "orders", "eu-central-1",
                               "sa-east-1")
    result, stores, _calls = scan_kinds_denying(
        moto_patched.url, aws_env, tmp_path, ["memorydb"], ["eu-central-1", "sa-east-1"],
        lambda r: operation_name(r) == "memorydb:DescribeMultiRegionClusters", Fault(500, "InternalFailure"))
    assert result.status == "failed"
    assert {t.region: t.status for t in result.targets if t.service == "memorydb"} == {
        "eu-central-1": "error", "sa-east-1": "error"}
    assert not {"orders-eu-central-1", "orders-sa-east-1"} & set(stores)
